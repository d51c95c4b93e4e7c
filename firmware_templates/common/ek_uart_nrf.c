/*
 * edgekit firmware core: the UART of nRF51 / nRF52 without EasyDMA (board profile firmware.uart: nrf-uart).
 *
 * Why not UARTE: the plain UART moves one byte per register access with a 6-byte receive FIFO, so polling it
 * needs no DMA buffers in RAM and no ENDRX/STARTRX re-arming between bytes; its register map is the same on
 * nRF51 (UART0) and nRF52832/52840 (UART0, marked deprecated but present, sharing base 0x40002000 with UARTE0).
 * Registers (nRF52840 / nRF51 reference manuals, UART chapter): TASKS_STARTRX 0x000, TASKS_STARTTX 0x008,
 * EVENTS_RXDRDY 0x108, EVENTS_TXDRDY 0x11C, EVENTS_ERROR 0x124, ERRORSRC 0x480, ENABLE 0x500 (4 = UART),
 * PSELTXD 0x50C, PSELRXD 0x514, RXD 0x518, TXD 0x51C, BAUDRATE 0x524, CONFIG 0x56C.
 * The baud generator runs from the 16 MHz peripheral clock whatever EK_UART_CLOCK_HZ is: BAUDRATE =
 * round(baud * 2^32 / 16 MHz) to a multiple of 0x1000 (115200 -> 0x01D7E000, 9600 -> 0x00275000, the
 * values the reference manual lists). The crystal (HFXO) is started first: the RC oscillator's tolerance is
 * too loose for a UART at high baud rates. Pins: PSEL = port * 32 + pin; P0 GPIO at 0x50000000, P1 at
 * 0x50000300 (OUTSET 0x508, PIN_CNF[n] 0x700 + 4n).
 */
#include "ek_uart.h"

#include "ek_config.h"
#include "ek_hw.h"
#include "ek_regs.h"

#define TASKS_STARTRX (EK_UART_BASE + 0x000u)
#define TASKS_STARTTX (EK_UART_BASE + 0x008u)
#define EVENTS_RXDRDY (EK_UART_BASE + 0x108u)
#define EVENTS_TXDRDY (EK_UART_BASE + 0x11Cu)
#define EVENTS_ERROR  (EK_UART_BASE + 0x124u)
#define ERRORSRC      (EK_UART_BASE + 0x480u)
#define ENABLE        (EK_UART_BASE + 0x500u)
#define PSELTXD       (EK_UART_BASE + 0x50Cu)
#define PSELRXD       (EK_UART_BASE + 0x514u)
#define RXD           (EK_UART_BASE + 0x518u)
#define TXD           (EK_UART_BASE + 0x51Cu)
#define BAUDRATE      (EK_UART_BASE + 0x524u)
#define CONFIG        (EK_UART_BASE + 0x56Cu)

#define CLOCK_TASKS_HFCLKSTART 0x40000000u
#define CLOCK_EVENTS_HFCLKSTARTED 0x40000100u

#define ENABLE_UART 4u
#define BAUD_REG ((uint32_t)((((uint64_t)EK_UART_BAUD << 32) / 16000000u + 0x800u) & 0xFFFFF000u))

static int tx_stuck; /* TXDRDY never came: stop waiting for it */

#if EK_UART_PINS
static uint32_t gpio_port(uint32_t pin) {
    return pin < 32u ? 0x50000000u : 0x50000300u;
}

static void pin_config(uint32_t pin, int output) {
    uint32_t port = gpio_port(pin), bit = pin % 32u;
    if (output) {
        EK_REG32(port + 0x508u) = 1u << bit; /* OUTSET: idle high */
        EK_REG32(port + 0x700u + 4u * bit) = 3u; /* output, input buffer disconnected */
    } else {
        EK_REG32(port + 0x700u + 4u * bit) = 3u << 2; /* input, connected, pull-up */
    }
}
#endif

void ek_uart_init(void) {
    ek_hw_enable_bits();
    EK_REG32(CLOCK_EVENTS_HFCLKSTARTED) = 0;
    EK_REG32(CLOCK_TASKS_HFCLKSTART) = 1;
    (void)ek_hw_wait(CLOCK_EVENTS_HFCLKSTARTED, 1u, 1u, EK_HW_SPIN_LIMIT); /* runs on the RC oscillator if not */
    EK_REG32(ENABLE) = 0;
#if EK_UART_PINS
    pin_config(EK_UART_TX_PIN, 1);
    pin_config(EK_UART_RX_PIN, 0);
    EK_REG32(PSELTXD) = EK_UART_TX_PIN;
    EK_REG32(PSELRXD) = EK_UART_RX_PIN;
#endif
    EK_REG32(BAUDRATE) = BAUD_REG;
    EK_REG32(CONFIG) = 0; /* no flow control, no parity */
    EK_REG32(EVENTS_RXDRDY) = 0;
    EK_REG32(EVENTS_TXDRDY) = 0;
    EK_REG32(EVENTS_ERROR) = 0;
    EK_REG32(ENABLE) = ENABLE_UART;
    EK_REG32(TASKS_STARTTX) = 1;
    EK_REG32(TASKS_STARTRX) = 1;
    tx_stuck = 0;
}

void ek_uart_putc(uint8_t c) {
    EK_REG32(EVENTS_TXDRDY) = 0;
    EK_REG32(TXD) = c;
    if (!tx_stuck && !ek_hw_wait(EVENTS_TXDRDY, 1u, 1u, EK_HW_SPIN_LIMIT)) {
        tx_stuck = 1;
    }
}

int ek_uart_getc(void) {
    if (EK_REG32(EVENTS_ERROR)) {
        EK_REG32(ERRORSRC) = EK_REG32(ERRORSRC); /* write 1s to clear */
        EK_REG32(EVENTS_ERROR) = 0;
    }
    if (EK_REG32(EVENTS_RXDRDY)) {
        EK_REG32(EVENTS_RXDRDY) = 0; /* clear before reading RXD: the next FIFO byte raises it again */
        return (int)(EK_REG32(RXD) & 0xFFu);
    }
    return -1;
}
