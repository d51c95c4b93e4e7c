/* edgekit AOT runtime: ARG_MAX / ARG_MIN, CUMSUM (see ek_scan.h). */
#include "ek_scan.h"

#include "ek_common.h"

static void ek_store_index(void *out, int32_t k, int32_t index, int32_t out_bytes) {
    if (out_bytes == 8) {
        ((int64_t *)out)[k] = index;
    } else {
        ((int32_t *)out)[k] = index;
    }
}

#define EK_ARGMINMAX_BODY(T)                                                                     \
    int32_t o, i, a;                                                                             \
    for (o = 0; o < outer; o++) {                                                                \
        for (i = 0; i < inner; i++) {                                                            \
            const T *x = in + (size_t)o * (size_t)axis_size * (size_t)inner + (size_t)i;         \
            T best = x[0];                                                                       \
            int32_t best_index = 0;                                                              \
            for (a = 1; a < axis_size; a++) {                                                    \
                const T v = x[(size_t)a * (size_t)inner];                                        \
                if (is_max ? v > best : v < best) {                                              \
                    best = v;                                                                    \
                    best_index = a;                                                              \
                }                                                                                \
            }                                                                                    \
            ek_store_index(out, o * inner + i, best_index, out_bytes);                           \
        }                                                                                        \
    }

void ek_argminmax_s8(const int8_t *in, void *out, int32_t outer, int32_t axis_size, int32_t inner, int32_t is_max,
                     int32_t out_bytes) {
    EK_ARGMINMAX_BODY(int8_t)
}

void ek_cumsum_s8(const int8_t *in, int8_t *out, int32_t outer, int32_t axis_size, int32_t inner,
                  const ek_cumsum_params *p) {
    int32_t o, i, a;
    const int32_t start = ek_mbqm_smaller_than_one((int32_t)((uint32_t)p->input_offset << 20), p->input_multiplier,
                                                   p->input_shift);
    for (o = 0; o < outer; o++) {
        for (i = 0; i < inner; i++) {
            const size_t base = (size_t)o * (size_t)axis_size * (size_t)inner + (size_t)i;
            uint32_t acc = (uint32_t)start;
            for (a = 0; a < axis_size; a++) {
                const size_t at = base + (size_t)(p->reverse ? axis_size - 1 - a : a) * (size_t)inner;
                const int32_t y = (int32_t)((uint32_t)(p->input_offset + in[at]) << 20);
                const int32_t scaled = ek_mbqm_pos(y, p->input_multiplier, p->input_shift); /* multiplier >= 0 */
                int32_t sum;
                if (p->exclusive) {
                    sum = (int32_t)acc;
                    acc += (uint32_t)scaled;
                } else {
                    acc += (uint32_t)scaled;
                    sum = (int32_t)acc;
                }
                out[at] = ek_sat_i8(ek_mbqm_pos(sum, p->output_multiplier, p->output_shift) +
                                    p->output_offset);
            }
        }
    }
}
