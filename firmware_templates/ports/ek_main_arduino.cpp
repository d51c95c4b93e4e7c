/*
 * edgekit firmware main for Arduino cores: the firmware core's main loop as setup() + loop().
 */
#include <Arduino.h>

extern "C" {
#include "ek_port.h"
#include "ek_protocol.h"
}

static ek_proto_t proto;

void setup() {
    ek_port_init();
    ek_proto_init(&proto);
    ek_proto_boot(&proto);
}

void loop() {
    int c;
    while ((c = ek_port_getc()) >= 0) {
        ek_proto_feed(&proto, static_cast<uint8_t>(c));
    }
    ek_proto_poll(&proto);
    (void)ek_port_ticks();  // keeps the 64-bit extension of the 32-bit counter fresh
}
