/* edgekit AOT runtime: int8 MEAN / SUM / REDUCE_MAX / REDUCE_MIN (see ek_reduce.h). */
#include "ek_reduce.h"

#include "ek_common.h"

/* Advance an odometer over dims (ek_reduce.h). */
int32_t ek_odometer_step(int32_t *idx, const int32_t *dims, const int32_t *strides, int32_t ndims, int *done) {
    int32_t d, delta = 0;
    for (d = ndims - 1; d >= 0; d--) {
        idx[d]++;
        delta += strides[d];
        if (idx[d] < dims[d]) {
            return delta;
        }
        delta -= strides[d] * dims[d];
        idx[d] = 0;
    }
    *done = 1;
    return delta;
}

/* Sum of the inner elements starting at in. */
static int32_t ek_inner_sum(const int8_t *in, const ek_reduce_shape *s) {
    int32_t idx[EK_REDUCE_MAX_DIMS] = {0};
    uint32_t sum = 0u; /* TFLM accumulates in int32 with expected wrap-around */
    int32_t off = 0;
    int done = 0;
    while (!done) {
        sum += (uint32_t)(int32_t)in[off];
        off += ek_odometer_step(idx, s->inner_dims, s->inner_strides, s->inner_ndims, &done);
    }
    return (int32_t)sum;
}

static int32_t ek_inner_minmax(const int8_t *in, const ek_reduce_shape *s, int is_max) {
    int32_t idx[EK_REDUCE_MAX_DIMS] = {0};
    int32_t best = is_max ? -128 : 127;
    int32_t off = 0;
    int done = 0;
    while (!done) {
        const int32_t v = in[off];
        if (is_max ? v > best : v < best) {
            best = v;
        }
        off += ek_odometer_step(idx, s->inner_dims, s->inner_strides, s->inner_ndims, &done);
    }
    return best;
}

void ek_reduce_sum_s8(const int8_t *in, int8_t *out, const ek_reduce_shape *s, const ek_reduce_params *p) {
    int32_t idx[EK_REDUCE_MAX_DIMS] = {0};
    int32_t off = 0;
    int done = 0;
    while (!done) {
        const int32_t shifted = (int32_t)((uint32_t)ek_inner_sum(in + off, s) - (uint32_t)p->zp_times_count);
        *out++ = ek_sat_i8(ek_mbqm(shifted, p->multiplier, p->shift) + p->output_zp);
        off += ek_odometer_step(idx, s->outer_dims, s->outer_strides, s->outer_ndims, &done);
    }
}

void ek_reduce_minmax_s8(const int8_t *in, int8_t *out, const ek_reduce_shape *s, int is_max) {
    int32_t idx[EK_REDUCE_MAX_DIMS] = {0};
    int32_t off = 0;
    int done = 0;
    while (!done) {
        *out++ = (int8_t)ek_inner_minmax(in + off, s, is_max);
        off += ek_odometer_step(idx, s->outer_dims, s->outer_strides, s->outer_ndims, &done);
    }
}
