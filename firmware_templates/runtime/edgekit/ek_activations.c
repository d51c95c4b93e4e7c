/* edgekit AOT runtime: elementwise 8-bit functions by table look-up (see ek_activations.h). */
#include "ek_activations.h"

void ek_lut8(const uint8_t *in, uint8_t *out, size_t n, const uint8_t table[256]) {
    size_t i = 0;
    /* unrolled by four; element i is read before it is written, so in == out is fine */
    for (; i + 4 <= n; i += 4) {
        const uint8_t a = table[in[i]];
        const uint8_t b = table[in[i + 1]];
        const uint8_t c = table[in[i + 2]];
        const uint8_t d = table[in[i + 3]];
        out[i] = a;
        out[i + 1] = b;
        out[i + 2] = c;
        out[i + 3] = d;
    }
    for (; i < n; i++) {
        out[i] = table[in[i]];
    }
}
