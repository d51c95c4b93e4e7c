/* edgekit AOT runtime: int8 FULLY_CONNECTED (see ek_fully_connected.h). */
#include "ek_fully_connected.h"

#include "ek_matmul.h"
#include "ek_simd.h"

void ek_fully_connected_s8(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, int8_t *output) {
    /* locals: int8_t stores may alias the parameter struct */
    const int32_t batches = p->batches, depth = p->accum_depth, out_depth = p->out_depth;
    const int32_t in_offset = p->in_offset, filter_offset = p->filter_offset, out_offset = p->out_offset;
    const int32_t act_min = p->act_min, act_max = p->act_max, per_channel = p->per_channel;
    const int32_t *out_mult = p->out_mult;
    const int8_t *out_shift = p->out_shift;
    int32_t b, oc, d;
    for (b = 0; b < batches; b++) {
        const int8_t *in = input + (size_t)b * depth;
        int8_t *out = output + (size_t)b * out_depth;
        for (oc = 0; oc < out_depth; oc++) {
            const int8_t *f = filter + (size_t)oc * depth;
            const int32_t ch = per_channel ? oc : 0;
            int32_t acc = 0;
            if (filter_offset == 0) {
                for (d = 0; d < depth; d++) {
                    acc += (int32_t)f[d] * ((int32_t)in[d] + in_offset);
                }
            } else {
                for (d = 0; d < depth; d++) {
                    acc += ((int32_t)f[d] + filter_offset) * ((int32_t)in[d] + in_offset);
                }
            }
            if (bias != NULL) {
                acc += bias[oc];
            }
            acc = ek_mbqm(acc, out_mult[ch], out_shift[ch]) + out_offset;
            out[oc] = (int8_t)ek_clamp_i32(acc, act_min, act_max);
        }
    }
}

void ek_fully_connected_s8_mat(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output, void *scratch) {
    const int32_t batches = p->batches, depth = p->accum_depth, out_depth = p->out_depth;
    int16_t *cols = (int16_t *)scratch;
    ek_matmul_t q;
    int32_t b;
    q.depth = (depth + 3) & ~3;
    q.rows = out_depth;
    q.out_offset = p->out_offset;
    q.act_min = p->act_min;
    q.act_max = p->act_max;
    q.mult_stride = p->per_channel ? 1 : 0;
    q.out_mult = p->out_mult;
    q.out_shift = p->out_shift;
    for (b = 0; b < batches; b += 2) {
        const int32_t n = batches - b >= 2 ? 2 : 1;
        int32_t j;
        for (j = 0; j < n; j++) {
            ek_widen_s8_reordered(input + (size_t)(b + j) * depth, cols + 2 * j, depth, p->in_offset, 4 * n,
                                  2 * n);
        }
        ek_matmul_s8(&q, cols, n, filter, bias, output + (size_t)b * out_depth,
                     output + (size_t)(b + n - 1) * out_depth);
    }
}
