/*
 * edgekit firmware core: which clock runs (ek_clock.h). The set-up itself is the board's ek_clock_<family>.c.
 */
#include "ek_clock.h"

#include "ek_config.h"

static const char *state = "reset";
static uint32_t core_hz = EK_CORE_CLOCK_HZ;
static uint32_t uart_hz = EK_UART_CLOCK_HZ;

void ek_clock_init(void) {
    const char *failed = 0;
    if (ek_clock_setup(&failed)) {
#if EK_CLOCK
        state = "pll";
        core_hz = EK_CLOCK_CORE_HZ;
        uart_hz = EK_CLOCK_UART_HZ;
#endif
    } else if (failed) {
        state = failed; /* back at the reset clock: core_hz and uart_hz keep their reset values */
    }
}

uint32_t ek_clock_core_hz(void) {
    return core_hz;
}

uint32_t ek_clock_uart_hz(void) {
    return uart_hz;
}

const char *ek_clock_state(void) {
    return state;
}
