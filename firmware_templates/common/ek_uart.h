/*
 * edgekit firmware core: the UART driver interface.
 *
 * One file per UART kind implements it (ek_uart_<kind>.c, e.g. ek_uart_cmsdk.c); the board
 * profile's firmware.uart picks the file, firmware.uart_base and the clock come in through
 * ek_config.h (EK_UART_BASE, EK_UART_CLOCK_HZ, EK_UART_BAUD).
 */
#ifndef EK_UART_H
#define EK_UART_H

#include <stdint.h>

void ek_uart_init(void);          /* idempotent: the fault handler calls it again */
void ek_uart_putc(uint8_t c);     /* blocks while the transmitter is full */
int ek_uart_getc(void);           /* a received byte, or -1 when none is waiting */

#endif /* EK_UART_H */
