/*
 * edgekit firmware core: main loop. Bytes from the host go to the protocol one at a time;
 * while none is waiting, the protocol gets a chance to time out a stalled binary upload.
 */
#include <stdint.h>

#include "ek_config.h"
#include "ek_port.h"
#include "ek_protocol.h"

static ek_proto_t proto;

/* The board this image was built for, kept in a non-loaded ELF section (no flash cost) so that
 * `edgekit flash` can refuse an image built for another board. */
__attribute__((section(".edgekit_board"), used)) static const char ek_board_id[] = EK_BOARD_ID;

int main(void) {
    ek_port_init();
    ek_proto_init(&proto);
    ek_proto_boot(&proto);
    uint32_t idle = 0;
    for (;;) {
        int c = ek_port_getc();
        if (c >= 0) {
            ek_proto_feed(&proto, (uint8_t)c);
            idle = 0;
        } else if (++idle % 1024u == 0) {
            ek_proto_poll(&proto); /* reads the timer: not on every empty poll (slow MMIO under QEMU) */
        }
    }
}
