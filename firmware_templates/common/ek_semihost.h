/*
 * edgekit firmware core: Arm semihosting exit (emulation only).
 *
 * Compiled in only when the board profile sets firmware.semihosting: true (EK_SEMIHOSTING=1):
 * without a debugger or QEMU's -semihosting-config, the BKPT it executes would stop the core.
 */
#ifndef EK_SEMIHOST_H
#define EK_SEMIHOST_H

#include "ek_config.h"

#if EK_SEMIHOSTING
/* SYS_EXIT_EXTENDED: QEMU exits with the given status. Does not return. */
void ek_semihost_exit(int code) __attribute__((noreturn));
#endif

#endif /* EK_SEMIHOST_H */
