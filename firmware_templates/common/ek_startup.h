/*
 * edgekit firmware core: what the startup code offers the rest of the firmware.
 */
#ifndef EK_STARTUP_H
#define EK_STARTUP_H

#include <stddef.h>
#include <stdint.h>

#define EK_STACK_PAINT 0xEC57ACC5u  /* fill pattern of the unused stack */
#define EK_GUARD_VALUE 0xEC6A4D00u  /* guard words around the arena (and the input buffer) */
#define EK_GUARD_WORDS 4            /* 16 bytes of guard on each side (see linker.ld) */
#define EK_FAULT_EXIT_CODE 3        /* exit status after a fault (semihosting builds) */

/* Stack high-water mark: bytes ever used, bytes reserved (.stack in linker.ld). */
void ek_stack_usage(size_t *used, size_t *reserved);

/* Arena guard words: 0 intact, 1 low guard overwritten, 2 high guard overwritten, -1 no arena section. */
int ek_arena_guard_check(void);

#endif /* EK_STARTUP_H */
