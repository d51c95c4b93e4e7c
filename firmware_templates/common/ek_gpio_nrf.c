/*
 * edgekit firmware core: energy GPIO on nRF52 (P0/P1): DIRSET at init, OUTSET/OUTCLR edges.
 */
#include "ek_gpio.h"

#if EK_GPIO_MMIO && EK_GPIO_KIND == EK_GPIO_KIND_NRF

#include "ek_regs.h"

void ek_gpio_init(void) {
    ek_gpio_pin_idle(); /* OUTSET/OUTCLR: the idle level before it becomes an output */
    EK_REG32(EK_GPIO_NRF_DIRSET) = 1u << EK_GPIO_PIN;
}

#else
typedef int ek_gpio_nrf_unused; /* ISO C wants at least one declaration */
#endif
