/*
 * edgekit firmware core: energy GPIO on STM32 (L4, H7, F4): RCC clock enable, MODER output, BSRR edges.
 * Register offsets: GPIOx_MODER 0x00, GPIOx_OSPEEDR 0x08, GPIOx_BSRR 0x18 (the same on these series; BSRR is
 * written by ek_gpio.h).
 */
#include "ek_gpio.h"

#if EK_GPIO_MMIO && EK_GPIO_KIND == EK_GPIO_KIND_STM32

#include "ek_regs.h"

#define GPIO_MODER   EK_REG32(EK_GPIO_STM32_BASE + 0x00u)
#define GPIO_OSPEEDR EK_REG32(EK_GPIO_STM32_BASE + 0x08u)
#define RCC_ENR      EK_REG32(EK_GPIO_STM32_RCC_ENR)

void ek_gpio_init(void) {
    RCC_ENR |= EK_GPIO_STM32_RCC_BIT;
    (void)RCC_ENR; /* read back: the port is clocked before its first access */
    ek_gpio_pin_idle(); /* BSRR: the idle level before it becomes an output */
    GPIO_OSPEEDR = (GPIO_OSPEEDR & ~(3u << (2u * EK_GPIO_PIN))) | (1u << (2u * EK_GPIO_PIN)); /* medium speed */
    GPIO_MODER = (GPIO_MODER & ~(3u << (2u * EK_GPIO_PIN))) | (1u << (2u * EK_GPIO_PIN));       /* 01: output */
}

#else
typedef int ek_gpio_stm32_unused; /* ISO C wants at least one declaration */
#endif
