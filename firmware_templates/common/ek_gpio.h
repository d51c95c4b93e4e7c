/*
 * edgekit firmware core: the energy GPIO (docs/hardware.md, "Energy GPIO").
 *
 * The board profile's firmware.gpio_energy_pin ("<family>:<pin>[:mlperf]", edgekit/gpio.py) becomes EK_GPIO_*
 * in ek_config.h:
 *   EK_GPIO_ENERGY      1 when a pin is configured (else everything here compiles to nothing)
 *   EK_GPIO_KIND        EK_GPIO_KIND_STM32 / _NRF / _FPGAIO: which ek_gpio_<kind>.c provides ek_gpio_init()
 *   EK_GPIO_HIGH_ADDR / EK_GPIO_HIGH_VALUE, EK_GPIO_LOW_ADDR / EK_GPIO_LOW_VALUE: the one 32-bit store that
 *                       drives the pin high / low (a set/reset register where the hardware has one)
 *   EK_GPIO_TIMESTAMP   0: edgekit levels - the pin idles low and is high exactly while each timed inference
 *                          runs (ek_gpio_energy_high/low around ek_model_invoke);
 *                       1: MLPerf Tiny energy-mode timestamps - the pin idles high and is pulsed low for
 *                          EK_GPIO_PULSE_US at the start and at the end of the timed loop (ek_gpio_timestamp).
 * With EK_GPIO_ENERGY but no EK_GPIO_HIGH_ADDR, or in a hosted build (not bare-metal Arm), the port provides
 * ek_gpio_init / ek_gpio_pin_high / ek_gpio_pin_low (the host port logs the edges to stderr with EK_GPIO_LOG=1).
 */
#ifndef EK_GPIO_H
#define EK_GPIO_H

#include <stdint.h>

#include "ek_config.h"

#ifndef EK_GPIO_ENERGY
#define EK_GPIO_ENERGY 0
#endif
#ifndef EK_GPIO_TIMESTAMP
#define EK_GPIO_TIMESTAMP 0
#endif
#ifndef EK_GPIO_PULSE_US
#define EK_GPIO_PULSE_US 100u
#endif

#define EK_GPIO_KIND_STM32 1
#define EK_GPIO_KIND_NRF 2
#define EK_GPIO_KIND_FPGAIO 3

#if EK_GPIO_ENERGY && defined(EK_GPIO_HIGH_ADDR) && defined(__arm__) && !defined(__linux__)
#define EK_GPIO_MMIO 1 /* bare metal: the edges are single stores, inlined */
#else
#define EK_GPIO_MMIO 0
#endif

#if !EK_GPIO_ENERGY

#define ek_gpio_init() ((void)0)

#else

/* Configure the pin as an output at its idle level (low; high for MLPerf timestamps). */
void ek_gpio_init(void);

#if EK_GPIO_MMIO
static inline void ek_gpio_pin_high(void) {
    *(volatile uint32_t *)(uintptr_t)(EK_GPIO_HIGH_ADDR) = (uint32_t)(EK_GPIO_HIGH_VALUE);
}

static inline void ek_gpio_pin_low(void) {
    *(volatile uint32_t *)(uintptr_t)(EK_GPIO_LOW_ADDR) = (uint32_t)(EK_GPIO_LOW_VALUE);
}

/* the idle level, for ek_gpio_init() */
static inline void ek_gpio_pin_idle(void) {
#if EK_GPIO_TIMESTAMP
    ek_gpio_pin_high();
#else
    ek_gpio_pin_low();
#endif
}
#else
void ek_gpio_pin_high(void);
void ek_gpio_pin_low(void);
#endif

#endif /* EK_GPIO_ENERGY */

/* What the protocol calls: one store each around every timed inference (levels), or a pulse at the start and
 * at the end of the timed loop (timestamps); each pair compiles to nothing in the other convention. */
#if EK_GPIO_ENERGY && !EK_GPIO_TIMESTAMP
#define ek_gpio_energy_high() ek_gpio_pin_high()
#define ek_gpio_energy_low() ek_gpio_pin_low()
#else
#define ek_gpio_energy_high() ((void)0)
#define ek_gpio_energy_low() ((void)0)
#endif

#endif /* EK_GPIO_H */
