/*
 * edgekit firmware core: Arm CMSDK APB UART (the UART of the MPS2/MPS3 FPGA images and QEMU's
 * mps2-* / mps3-* machines). Polled, no interrupts.
 */
#include "ek_uart.h"

#include "ek_config.h"
#include "ek_regs.h"

#define UART_DATA     EK_REG32(EK_UART_BASE + 0x00u)
#define UART_STATE    EK_REG32(EK_UART_BASE + 0x04u)
#define UART_CTRL     EK_REG32(EK_UART_BASE + 0x08u)
#define UART_BAUDDIV  EK_REG32(EK_UART_BASE + 0x10u)

#define STATE_TX_FULL (1u << 0)
#define STATE_RX_FULL (1u << 1)
#define CTRL_TX_EN    (1u << 0)
#define CTRL_RX_EN    (1u << 1)

void ek_uart_init(void) {
    uint32_t div = (uint32_t)(EK_UART_CLOCK_HZ / EK_UART_BAUD);
    if (div < 16u) {
        div = 16u; /* the smallest divider the CMSDK UART accepts */
    }
    UART_BAUDDIV = div;
    UART_CTRL = CTRL_TX_EN | CTRL_RX_EN;
}

void ek_uart_putc(uint8_t c) {
    while (UART_STATE & STATE_TX_FULL) {
    }
    UART_DATA = c;
}

int ek_uart_getc(void) {
    if (UART_STATE & STATE_RX_FULL) {
        return (int)(UART_DATA & 0xFFu);
    }
    return -1;
}
