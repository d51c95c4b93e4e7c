/*
 * edgekit firmware core: put an STM32 pin in an alternate function (the GPIO block of STM32F2/F4/F7/L4/L4+/
 * G4/H7: MODER 0x00, OSPEEDR 0x08, PUPDR 0x0C, AFRL 0x20, AFRH 0x24). Not for STM32F1, whose GPIO differs.
 */
#ifndef EK_STM32_GPIO_H
#define EK_STM32_GPIO_H

#include <stdint.h>

#include "ek_regs.h"

static inline void ek_stm32_pin_af(uint32_t gpio, uint32_t pin, uint32_t af, int pull_up) {
    uint32_t afr = gpio + 0x20u + (pin / 8u) * 4u;
    uint32_t shift4 = (pin % 8u) * 4u;
    uint32_t shift2 = pin * 2u;
    EK_REG32(afr) = (EK_REG32(afr) & ~(0xFu << shift4)) | (af << shift4); /* function first, then the mode */
    EK_REG32(gpio + 0x08u) = (EK_REG32(gpio + 0x08u) & ~(3u << shift2)) | (1u << shift2); /* medium speed */
    EK_REG32(gpio + 0x0Cu) = (EK_REG32(gpio + 0x0Cu) & ~(3u << shift2)) | ((pull_up ? 1u : 0u) << shift2);
    EK_REG32(gpio + 0x00u) = (EK_REG32(gpio + 0x00u) & ~(3u << shift2)) | (2u << shift2); /* alternate */
}

#endif /* EK_STM32_GPIO_H */
