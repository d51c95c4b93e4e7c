/*
 * edgekit firmware core: energy "GPIO" on the Arm MPS2/MPS3 FPGAIO LED register (QEMU mps2-* / mps3-*
 * machines), so emulated boards show the energy windows: qemu-system-arm -d trace:mps2_fpgaio_write.
 */
#include "ek_gpio.h"

#if EK_GPIO_MMIO && EK_GPIO_KIND == EK_GPIO_KIND_FPGAIO

void ek_gpio_init(void) {
    ek_gpio_pin_idle(); /* QEMU's LEDs come out of reset lit: start from the idle level */
}

#else
typedef int ek_gpio_fpgaio_unused; /* ISO C wants at least one declaration */
#endif
