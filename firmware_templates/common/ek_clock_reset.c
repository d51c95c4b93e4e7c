/*
 * edgekit firmware core: no clock module (the board profile has no firmware.clock): the core stays at the reset
 * clock, EK_CORE_CLOCK_HZ.
 */
#include "ek_clock.h"

int ek_clock_setup(const char **failed) {
    *failed = 0;
    return 0;
}
