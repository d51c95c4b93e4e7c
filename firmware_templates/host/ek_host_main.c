/*
 * edgekit firmware core: host main. Feeds stdin to the protocol byte by byte until end of input
 * (for tests and as the model of a fuzzing harness).
 */
#include <stdio.h>

#include "ek_port.h"
#include "ek_protocol.h"

static ek_proto_t proto;

int main(void) {
    ek_port_init();
    ek_proto_init(&proto);
    ek_proto_boot(&proto);
    for (;;) {
        int c = ek_port_getc();
        if (c < 0) {
            break;
        }
        ek_proto_feed(&proto, (uint8_t)c);
    }
    /* End of input: let the device-side timeout end an unfinished binary upload (the host port's
     * fake timer advances 1 ms per reading). */
    for (int i = 0; i < 4000; i++) {
        ek_proto_poll(&proto);
    }
    fflush(stdout);
    return 0;
}
