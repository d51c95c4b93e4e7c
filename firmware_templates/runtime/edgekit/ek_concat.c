/* edgekit AOT runtime: CONCATENATION (see ek_concat.h). */
#include "ek_concat.h"

void ek_concat(const void *const *inputs, const uint32_t *block_bytes, int32_t num_inputs, uint32_t outer,
               void *output) {
    uint8_t *out = (uint8_t *)output;
    uint32_t o;
    int32_t i;
    for (o = 0; o < outer; o++) {
        for (i = 0; i < num_inputs; i++) {
            const uint8_t *src = (const uint8_t *)inputs[i] + (size_t)o * block_bytes[i];
            memcpy(out, src, block_bytes[i]);
            out += block_bytes[i];
        }
    }
}
