/* edgekit AOT runtime: float32 elementwise ops, SOFTMAX, ADD_N and reductions (see ek_float.h). */
#include "ek_float.h"

#include <math.h>

static float ek_f32_clamp2(float x, float lo, float hi) {
    x = x < lo ? lo : x;
    return hi < x ? hi : x;
}

/* TFLM's FloorMod: the truncated remainder moved to the divisor's sign */
static float ek_f32_floor_mod(float a, float b) {
    const float r = fmodf(a, b);
    return (r != 0.0f && ((b < 0.0f) != (r < 0.0f))) ? r + b : r;
}

static float ek_f32_apply2(int32_t op, float a, float b) {
    float d;
    switch (op) {
    case EK_F32_ADD: return a + b;
    case EK_F32_SUB: return a - b;
    case EK_F32_MUL: return a * b;
    case EK_F32_DIV: return a / b;
    case EK_F32_MAXIMUM: return a > b ? a : b;
    case EK_F32_MINIMUM: return a < b ? a : b;
    case EK_F32_SQUARED_DIFFERENCE: d = a - b; return d * d;
    case EK_F32_FLOOR_DIV: return (float)floor((double)a / (double)b); /* TFLM divides in double */
    case EK_F32_FLOOR_MOD: return ek_f32_floor_mod(a, b);
    case EK_F32_PRELU: return a >= 0.0f ? a : a * b;
    default: return a;
    }
}

void ek_f32_binary(int32_t op, const float *in1, const float *in2, float *out, const ek_nshape *shape,
                   float act_min, float act_max) {
    int32_t idx[EK_NSHAPE_MAX_DIMS] = {0};
    const int32_t nd = shape->ndims;
    const int32_t inner = shape->dims[nd - 1];
    const int32_t s1 = shape->stride[0][nd - 1], s2 = shape->stride[1][nd - 1];
    int32_t off1 = 0, off2 = 0, i, d;
    for (;;) {
        for (i = 0; i < inner; i++) {
            *out++ = ek_f32_clamp2(ek_f32_apply2(op, in1[off1 + i * s1], in2[off2 + i * s2]), act_min, act_max);
        }
        for (d = nd - 2; d >= 0; d--) {  /* the next row of the outer dimensions */
            idx[d]++;
            off1 += shape->stride[0][d];
            off2 += shape->stride[1][d];
            if (idx[d] < shape->dims[d]) {
                break;
            }
            off1 -= shape->stride[0][d] * shape->dims[d];
            off2 -= shape->stride[1][d] * shape->dims[d];
            idx[d] = 0;
        }
        if (d < 0) {
            return;
        }
    }
}

/* TFLM's RoundToNearest: half to even */
static float ek_f32_round(float v) {
    const float f = floorf(v);
    const float diff = v - f;
    if (diff < 0.5f || (diff == 0.5f && ((int32_t)f % 2) == 0)) {
        return f;
    }
    return f + 1.0f;
}

/* TFLM's float Logistic (reference_ops::Logistic): saturates above 16.619..., exp(x) below -9 */
static float ek_f32_logistic(float v) {
    if (v > 16.619047164916992188f) {
        return 1.0f;
    }
    if (v < -9.0f) {
        return expf(v);
    }
    return 1.0f / (1.0f + expf(-v));
}

/* TFLM's float HardSwish: in * min(6, max(0, in + 3)) / 6 */
static float ek_f32_hard_swish(float x) {
    float m = 0.0f < x + 3.0f ? x + 3.0f : 0.0f;
    m = m < 6.0f ? m : 6.0f;
    return x * m / 6.0f;
}

#define EK_F32_MAP(expr)                                                                                           \
    for (i = 0; i < n; i++) {                                                                                      \
        const float x = in[i];                                                                                     \
        out[i] = (expr);                                                                                           \
    }                                                                                                              \
    break

void ek_f32_unary(int32_t op, const float *in, float *out, size_t n, float param) {
    size_t i;
    switch (op) {
    case EK_F32_ABS: EK_F32_MAP(fabsf(x));
    case EK_F32_NEG: EK_F32_MAP(-x);
    case EK_F32_EXP: EK_F32_MAP(expf(x));
    case EK_F32_LOG: EK_F32_MAP(logf(x));
    case EK_F32_SQRT: EK_F32_MAP(sqrtf(x));
    case EK_F32_RSQRT: EK_F32_MAP(1.0f / sqrtf(x));
    case EK_F32_SQUARE: EK_F32_MAP(x * x);
    case EK_F32_SIN: EK_F32_MAP(sinf(x));
    case EK_F32_COS: EK_F32_MAP(cosf(x));
    case EK_F32_FLOOR: EK_F32_MAP(floorf(x));
    case EK_F32_CEIL: EK_F32_MAP(ceilf(x));
    case EK_F32_ROUND: EK_F32_MAP(ek_f32_round(x));
    case EK_F32_LOGISTIC: EK_F32_MAP(ek_f32_logistic(x));
    case EK_F32_TANH: EK_F32_MAP(tanhf(x));
    case EK_F32_RELU: EK_F32_MAP(x < 0.0f ? 0.0f : x);
    case EK_F32_RELU6: EK_F32_MAP(x > 6.0f ? 6.0f : (x < 0.0f ? 0.0f : x));
    case EK_F32_RELU_N1_TO_1: EK_F32_MAP(x > 1.0f ? 1.0f : (x < -1.0f ? -1.0f : x));
    case EK_F32_RELU_0_TO_1: EK_F32_MAP(x > 1.0f ? 1.0f : (x < 0.0f ? 0.0f : x));
    case EK_F32_ELU: EK_F32_MAP(x < 0.0f ? expm1f(x) : x);
    case EK_F32_HARD_SWISH: EK_F32_MAP(ek_f32_hard_swish(x));
    case EK_F32_LEAKY_RELU: EK_F32_MAP(x > 0.0f ? x : x * param);
    default: break;
    }
}

void ek_f32_softmax(const float *in, float *out, int32_t rows, int32_t depth, float beta) {
    int32_t r, c;
    for (r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * depth;
        float *y = out + (size_t)r * depth;
        float max = -3.40282347e+38f, sum = 0.0f;
        for (c = 0; c < depth; c++) {
            max = max < x[c] ? x[c] : max;
        }
        for (c = 0; c < depth; c++) {
            const float e = expf((x[c] - max) * beta);
            y[c] = e;
            sum += e;
        }
        for (c = 0; c < depth; c++) {
            y[c] = y[c] / sum;
        }
    }
}

void ek_f32_log_softmax(const float *in, float *out, int32_t rows, int32_t depth) {
    int32_t r, c;
    for (r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * depth;
        float *y = out + (size_t)r * depth;
        float max = -3.40282347e+38f, sum = 0.0f, log_sum;
        for (c = 0; c < depth; c++) {
            max = max < x[c] ? x[c] : max;
        }
        for (c = 0; c < depth; c++) {
            sum += expf(x[c] - max);
        }
        log_sum = logf(sum);
        for (c = 0; c < depth; c++) {
            y[c] = x[c] - max - log_sum;
        }
    }
}

void ek_f32_add_n(const float *const *in, int32_t num_inputs, float *out, size_t n) {
    size_t i;
    int32_t j;
    for (i = 0; i < n; i++) {
        float total = 0.0f;
        for (j = 0; j < num_inputs; j++) {
            total += in[j][i];
        }
        out[i] = total;
    }
}

void ek_f32_reduce(int32_t op, const float *in, float *out, const ek_reduce_shape *s) {
    int32_t oidx[EK_REDUCE_MAX_DIMS] = {0};
    int32_t off = 0, d, count = 1;
    int done = 0;
    for (d = 0; d < s->inner_ndims; d++) {
        count *= s->inner_dims[d];
    }
    while (!done) {
        int32_t iidx[EK_REDUCE_MAX_DIMS] = {0};
        int32_t ioff = 0;
        int idone = 0;
        float acc = op == EK_F32_REDUCE_MAX ? -3.40282347e+38f : (op == EK_F32_REDUCE_MIN ? 3.40282347e+38f : 0.0f);
        while (!idone) {
            const float v = in[off + ioff];
            if (op == EK_F32_REDUCE_MAX) {
                acc = v > acc ? v : acc;
            } else if (op == EK_F32_REDUCE_MIN) {
                acc = v < acc ? v : acc;
            } else {
                acc += v;
            }
            ioff += ek_odometer_step(iidx, s->inner_dims, s->inner_strides, s->inner_ndims, &idone);
        }
        *out++ = op == EK_F32_REDUCE_MEAN ? acc / (float)count : acc;
        off += ek_odometer_step(oidx, s->outer_dims, s->outer_strides, s->outer_ndims, &done);
    }
}
