/*
 * edgekit firmware core: the USART of STM32F1/F2/F4 (the older register map, also QEMU's stm32f2xx-usart in the
 * netduino2 / netduinoplus2 / olimex-stm32-h405 machines). Polled, no interrupts.
 * Registers: SR 0x00, DR 0x04, BRR 0x08, CR1 0x0C, CR2 0x10, CR3 0x14 (RM0090 / RM0390, USART chapter).
 * SR: PE 0, FE 1, NF 2, ORE 3, RXNE 5, TC 6, TXE 7; CR1: RE 2, TE 3, UE 13 (OVER8 15 left 0: 16x oversampling).
 * BRR = f_ck / baud (mantissa and 4-bit fraction read together as one 16-bit number), computed at run time from
 * the clock that really runs (ek_clock_uart_hz()).
 * Pins: the GPIO of F2/F4 (ek_stm32_gpio.h); the F1's GPIO is different and not supported here.
 */
#include "ek_uart.h"

#include "ek_clock.h"
#include "ek_config.h"
#include "ek_hw.h"
#include "ek_regs.h"
#include "ek_stm32_gpio.h"

#define SR (EK_UART_BASE + 0x00u)
#define DR (EK_UART_BASE + 0x04u)
#define BRR (EK_UART_BASE + 0x08u)
#define CR1 (EK_UART_BASE + 0x0Cu)
#define CR2 (EK_UART_BASE + 0x10u)
#define CR3 (EK_UART_BASE + 0x14u)

#define SR_ERRORS 0x0Fu /* PE, FE, NF, ORE: cleared by reading SR then DR */
#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_UE (1u << 13)

#define DIVIDER(clk) (((clk) + EK_UART_BAUD / 2u) / EK_UART_BAUD)

static int tx_stuck; /* TXE never came: stop waiting for it */

void ek_uart_init(void) {
    ek_hw_enable_bits();
#if EK_UART_PINS
    ek_stm32_pin_af(EK_UART_TX_GPIO, EK_UART_TX_PIN, EK_UART_TX_AF, 0);
    ek_stm32_pin_af(EK_UART_RX_GPIO, EK_UART_RX_PIN, EK_UART_RX_AF, 1);
#endif
    uint32_t div = DIVIDER(ek_clock_uart_hz());
    EK_REG32(CR1) = 0;
    EK_REG32(BRR) = div < 16u ? 16u : div;
    EK_REG32(CR2) = 0;
    EK_REG32(CR3) = 0;
    EK_REG32(CR1) = CR1_UE | CR1_TE | CR1_RE;
    tx_stuck = 0;
}

void ek_uart_putc(uint8_t c) {
    if (!tx_stuck && !ek_hw_wait(SR, SR_TXE, SR_TXE, EK_HW_SPIN_LIMIT)) {
        tx_stuck = 1;
    }
    EK_REG32(DR) = c;
}

int ek_uart_getc(void) {
    uint32_t sr = EK_REG32(SR);
    if (sr & (SR_RXNE | SR_ERRORS)) {
        uint32_t data = EK_REG32(DR); /* this read also clears the error flags */
        if (sr & SR_RXNE) {
            return (int)(data & 0xFFu);
        }
    }
    return -1;
}
