/*
 * edgekit firmware core: the USART/LPUART of STM32L4/L4+/G4/H7 (and F7/L0/G0/WB: the same register map).
 * Polled, no interrupts, FIFO mode off. Registers: CR1 0x00, CR2 0x04, CR3 0x08, BRR 0x0C, ISR 0x1C,
 * ICR 0x20, RDR 0x24, TDR 0x28 (reference manuals RM0432 / RM0455 / RM0440, USART and LPUART chapters).
 *
 * Baud divider from the kernel clock that really runs, at run time (ek_clock_uart_hz(): the reset clock, or the
 * PLL's bus clock once a clock module has switched to it):
 * USART, 16x oversampling: BRR = f_ck / baud; LPUART (EK_UART_LPUART): BRR = 256 * f_ck / baud, which must
 * lie in 0x300..0xFFFFF (f_ck between 3x and 4096x the baud rate). 32-bit arithmetic only (no 64-bit division
 * helper): 256 * f_ck / baud = 256 * q + 256 * r / baud with f_ck = q * baud + r.
 */
#include "ek_uart.h"

#include "ek_clock.h"
#include "ek_config.h"
#include "ek_hw.h"
#include "ek_regs.h"
#include "ek_stm32_gpio.h"

#define CR1 (EK_UART_BASE + 0x00u)
#define CR2 (EK_UART_BASE + 0x04u)
#define CR3 (EK_UART_BASE + 0x08u)
#define BRR (EK_UART_BASE + 0x0Cu)
#define ISR (EK_UART_BASE + 0x1Cu)
#define ICR (EK_UART_BASE + 0x20u)
#define RDR (EK_UART_BASE + 0x24u)
#define TDR (EK_UART_BASE + 0x28u)

#define CR1_UE (1u << 0)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR3_OVRDIS (1u << 12) /* an overrun keeps receiving instead of blocking RXNE until cleared */
#define ISR_ERRORS 0x0Fu      /* PE, FE, NE, ORE */
#define ISR_RXNE (1u << 5)
#define ISR_TXE (1u << 7)
#define ISR_TEACK (1u << 21)
#define ISR_REACK (1u << 22)

#if EK_UART_LPUART
#define DIVIDER(clk) ((clk) / EK_UART_BAUD * 256u + ((clk) % EK_UART_BAUD * 256u + EK_UART_BAUD / 2u) / EK_UART_BAUD)
#define DIVIDER_MIN 0x300u
#else
#define DIVIDER(clk) (((clk) + EK_UART_BAUD / 2u) / EK_UART_BAUD)
#define DIVIDER_MIN 16u
#endif

static int tx_stuck; /* TXE never came: stop waiting for it (no clock, or a block QEMU does not model) */

void ek_uart_init(void) {
    ek_hw_enable_bits();
#if EK_UART_PINS
    ek_stm32_pin_af(EK_UART_TX_GPIO, EK_UART_TX_PIN, EK_UART_TX_AF, 0);
    ek_stm32_pin_af(EK_UART_RX_GPIO, EK_UART_RX_PIN, EK_UART_RX_AF, 1); /* idle high if nothing drives RX */
#endif
    uint32_t clk = ek_clock_uart_hz();
    uint32_t div = DIVIDER(clk);
    EK_REG32(CR1) = 0; /* BRR and CR2/CR3 are written with the UART disabled */
    EK_REG32(BRR) = div < DIVIDER_MIN ? DIVIDER_MIN : div;
    EK_REG32(CR2) = 0;
    EK_REG32(CR3) = CR3_OVRDIS;
    EK_REG32(CR1) = CR1_UE | CR1_TE | CR1_RE;
    tx_stuck = !ek_hw_wait(ISR, ISR_TEACK | ISR_REACK, ISR_TEACK | ISR_REACK, EK_HW_SPIN_LIMIT);
}

void ek_uart_putc(uint8_t c) {
    if (!tx_stuck && !ek_hw_wait(ISR, ISR_TXE, ISR_TXE, EK_HW_SPIN_LIMIT)) {
        tx_stuck = 1;
    }
    EK_REG32(TDR) = c;
}

int ek_uart_getc(void) {
    uint32_t isr = EK_REG32(ISR);
    if (isr & ISR_ERRORS) {
        EK_REG32(ICR) = ISR_ERRORS; /* PECF, FECF, NECF, ORECF sit at the same bit positions */
    }
    if (isr & ISR_RXNE) {
        return (int)(EK_REG32(RDR) & 0xFFu);
    }
    return -1;
}
