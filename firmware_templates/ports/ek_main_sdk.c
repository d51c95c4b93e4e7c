/*
 * edgekit firmware main loop for SDK builds (Pico SDK, Zephyr): the firmware core's ek_main.c loop,
 * without its .edgekit_board ELF section, which only edgekit's own linker script places.
 */
#include <stdint.h>

#include "ek_port.h"
#include "ek_protocol.h"

static ek_proto_t proto;

int main(void) {
    ek_port_init();
    ek_proto_init(&proto);
    ek_proto_boot(&proto);
    for (;;) {
        int c = ek_port_getc();
        if (c >= 0) {
            ek_proto_feed(&proto, (uint8_t)c);
        } else {
            ek_proto_poll(&proto);
        }
    }
}
