/*
 * edgekit firmware core: Arm semihosting exit (see ek_semihost.h).
 */
#include "ek_semihost.h"

#include <stdint.h>

#if EK_SEMIHOSTING

#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

void ek_semihost_exit(int code) {
    volatile uint32_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    register uint32_t r0 __asm__("r0") = SYS_EXIT_EXTENDED;
    register uint32_t r1 __asm__("r1") = (uint32_t)(uintptr_t)block;
    __asm__ __volatile__("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
    }
}

#else
typedef int ek_semihost_unused; /* ISO C forbids an empty translation unit */
#endif
