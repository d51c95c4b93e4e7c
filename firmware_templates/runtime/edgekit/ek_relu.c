/* edgekit AOT runtime: int8 ReLU family (see ek_relu.h). */
#include "ek_relu.h"

void ek_relu_s8(const int8_t *input, int8_t *output, uint32_t n, int32_t in_zp, int32_t out_zp,
                int32_t mult, int32_t shift, int32_t act_min, int32_t act_max) {
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int32_t v = out_zp + ek_mbqm((int32_t)input[i] - in_zp, mult, (int)shift);
        output[i] = (int8_t)ek_clamp_i32(v, act_min, act_max);
    }
}

void ek_clamp_s8(const int8_t *input, int8_t *output, uint32_t n, int8_t lower, int8_t upper) {
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int8_t v = input[i];
        output[i] = v > upper ? upper : (v < lower ? lower : v);
    }
}
