/*
 * edgekit firmware main loop for ESP-IDF: the same loop as the firmware core's ek_main.c, as app_main,
 * waiting up to one RTOS tick when idle (so the idle task and its watchdog run).
 */
#include <stdint.h>

#include "ek_port.h"
#include "ek_protocol.h"

void ek_port_wait(void);

static ek_proto_t proto;

void app_main(void) {
    ek_port_init();
    ek_proto_init(&proto);
    ek_proto_boot(&proto);
    for (;;) {
        int c = ek_port_getc();
        if (c >= 0) {
            ek_proto_feed(&proto, (uint8_t)c);
        } else {
            ek_proto_poll(&proto);
            (void)ek_port_ticks();  /* keeps the 64-bit extension of CCOUNT fresh */
            ek_port_wait();
        }
    }
}
