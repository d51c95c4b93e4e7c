/*
 * edgekit AOT runtime: integer UNIDIRECTIONAL_SEQUENCE_LSTM (see ek_lstm.h) and TFLM's int16 sigmoid / tanh.
 */
#include "ek_lstm.h"

#include "ek_dot.h"
#include "ek_simd.h"

/* sigmoid(i / 24) in unsigned 0.16 for i = 0..255: the same values as TFLM's LUT (bit-exactness needs them) */
static const uint16_t ek_sigmoid_lut[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535
};

/* The input rescaling both functions share (TFLM: input_multiplier 0 means 3 << input_left_shift, no shift). */
typedef struct {
    int32_t mult, shift, round;
} ek_lut16_scale;

static ek_lut16_scale ek_lut16_input_scale(int32_t mult, int32_t left_shift) {
    ek_lut16_scale s;
    if (mult == 0) {
        mult = 3 << left_shift;
        left_shift = 0;
    }
    s.mult = mult;
    s.shift = left_shift;
    s.round = left_shift > 0 ? (1 << (left_shift - 1)) : 0;
    return s;
}

/* |x| through ek_sigmoid_lut: entry |x| >> frac, interpolated on the low frac bits; past the table: saturated. */
EK_INLINE uint32_t ek_lut16_interp(uint32_t ax, int32_t frac, uint32_t saturated) {
    const uint32_t hi = ax >> frac;
    uint32_t a, b;
    if (hi >= 255u) {
        return saturated;
    }
    a = ek_sigmoid_lut[hi];
    b = ek_sigmoid_lut[hi + 1];
    return (a << frac) + (ax & ((1u << frac) - 1u)) * (b - a);
}

void ek_sigmoid_s16(int32_t mult, int32_t left_shift, const int16_t *in, int16_t *out, int32_t n) {
    const ek_lut16_scale s = ek_lut16_input_scale(mult, left_shift);
    int32_t i;
    for (i = 0; i < n; i++) {
        const int32_t x = (in[i] * s.mult + s.round) >> s.shift;
        uint32_t r = ek_lut16_interp((uint32_t)(x < 0 ? -x : x), 9, 0x7FFFu << 10);
        r = x >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
        out[i] = (int16_t)(r >> 10);
    }
}

void ek_tanh_s16(int32_t mult, int32_t left_shift, const int16_t *in, int16_t *out, int32_t n) {
    const ek_lut16_scale s = ek_lut16_input_scale(mult, left_shift);
    int32_t i;
    for (i = 0; i < n; i++) {
        const int32_t x = (in[i] * s.mult + s.round) >> s.shift;
        int32_t r = (int32_t)ek_lut16_interp((uint32_t)(x < 0 ? -x : x), 8, 0xFFFFu << 8);
        r = x >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        out[i] = (int16_t)(r >> 8);
    }
}

/* rows x depth int8 FC of one input row to int16 (output zero point 0, saturated); bias: the folded offsets */
static void ek_lstm_fc(const int8_t *x, int32_t depth, const int8_t *w, const int32_t *bias, int32_t mult,
                       int32_t shift, int16_t *out, int32_t rows) {
    int32_t r = 0, k;
    for (; r + 2 <= rows; r += 2) {  /* two rows share each widened group of 4 inputs */
        const int8_t *w0 = w + (size_t)r * (size_t)depth, *w1 = w0 + depth;
        int32_t a0 = bias[r], a1 = bias[r + 1];
        for (k = 0; k + 4 <= depth; k += 4) {
            const uint32_t xv = ek_ld32(x + k), xe = ek_sxtb16(xv), xo = ek_sxtb16_ror8(xv);
            const uint32_t v0 = ek_ld32(w0 + k), v1 = ek_ld32(w1 + k);
            a0 = ek_smlad(ek_sxtb16(v0), xe, a0);
            a0 = ek_smlad(ek_sxtb16_ror8(v0), xo, a0);
            a1 = ek_smlad(ek_sxtb16(v1), xe, a1);
            a1 = ek_smlad(ek_sxtb16_ror8(v1), xo, a1);
        }
        for (; k < depth; k++) {
            a0 = (int32_t)((uint32_t)a0 + (uint32_t)(w0[k] * x[k]));
            a1 = (int32_t)((uint32_t)a1 + (uint32_t)(w1[k] * x[k]));
        }
        out[r] = ek_sat_i16(ek_mbqm(a0, mult, shift));
        out[r + 1] = ek_sat_i16(ek_mbqm(a1, mult, shift));
    }
    for (; r < rows; r++) {
        const int8_t *wr = w + (size_t)r * (size_t)depth;
        int32_t acc = bias[r];
        for (k = 0; k < depth; k++) {
            acc = (int32_t)((uint32_t)acc + (uint32_t)(wr[k] * x[k]));
        }
        out[r] = ek_sat_i16(ek_mbqm(acc, mult, shift));
    }
}

/* 16x8: int16 input row (zero point 0), int64 accumulation and bias (ek_dot.h), TFLM's 64-bit requantization */
static void ek_lstm_fc16(const int16_t *x, int32_t depth, const int8_t *w, const int64_t *bias, int32_t mult,
                         int32_t shift, int16_t *out, int32_t rows) {
    int32_t r;
    for (r = 0; r < rows; r++) {
        const int64_t acc = (bias != NULL ? bias[r] : 0) + ek_dot_s16x8(x, w + (size_t)r * (size_t)depth, depth);
        out[r] = ek_sat_i16(ek_mbqm64(acc, mult, shift));
    }
}

/* one gate for nb rows: out = act(sat16(FC(x) + FC(h))); x / h are int8 or (p->wide) int16 rows */
static void ek_lstm_gate(const ek_lstm_params_t *p, int g, int32_t nb, const void *x, const void *h,
                         int16_t *out, int16_t *tmp, int32_t act) {
    const int32_t S = p->n_state, n = nb * p->n_state;
    int32_t b, i;
    for (b = 0; b < nb; b++) {
        const size_t xo = (size_t)b * (size_t)p->n_input, ho = (size_t)b * (size_t)S;
        if (p->wide) {
            ek_lstm_fc16((const int16_t *)x + xo, p->n_input, p->w_in[g], p->bias64[g], p->in_mult[g],
                         p->in_shift[g], out + ho, S);
            ek_lstm_fc16((const int16_t *)h + ho, S, p->w_rec[g], NULL, p->rec_mult[g], p->rec_shift[g], tmp + ho, S);
        } else {
            ek_lstm_fc((const int8_t *)x + xo, p->n_input, p->w_in[g], p->in_bias[g], p->in_mult[g],
                       p->in_shift[g], out + ho, S);
            ek_lstm_fc((const int8_t *)h + ho, S, p->w_rec[g], p->rec_bias[g], p->rec_mult[g], p->rec_shift[g],
                       tmp + ho, S);
        }
    }
    for (i = 0; i < n; i++) {
        out[i] = ek_sat_i16(out[i] + tmp[i]);
    }
    if (act == EK_LSTM_TANH) {
        ek_tanh_s16(0, 0, out, out, n);  /* gate pre-activations are Q3.12: TFLM's power -12, no shift */
    } else {
        ek_sigmoid_s16(0, 0, out, out, n);
    }
}

static void ek_lstm_step(const ek_lstm_params_t *p, int32_t nb, const void *x, void *h, int16_t *c, void *y,
                         int16_t *scratch) {
    const int32_t n = nb * p->n_state;
    int16_t *fg = scratch, *ig = scratch + n, *cg = scratch + 2 * n, *tmp = scratch + 3 * n;
    int32_t i;
    ek_lstm_gate(p, EK_LSTM_FORGET, nb, x, h, fg, tmp, EK_LSTM_SIGMOID);
    ek_lstm_gate(p, EK_LSTM_INPUT, nb, x, h, ig, tmp, EK_LSTM_SIGMOID);
    ek_lstm_gate(p, EK_LSTM_CELL, nb, x, h, cg, tmp, p->cell_act);
    for (i = 0; i < n; i++) {
        const int32_t kept = ek_sat_i16(ek_mbqm(fg[i] * c[i], p->fc_mult, p->fc_shift));
        const int32_t added = ek_sat_i16(ek_mbqm(ig[i] * cg[i], p->ic_mult, p->ic_shift));
        int32_t v = ek_sat_i16(kept + added);
        if (p->cell_clip > 0) {
            v = ek_clamp_i32(v, -p->cell_clip, p->cell_clip);
        }
        c[i] = (int16_t)v;
    }
    /* output gate from the old hidden state, into ig (free now) */
    ek_lstm_gate(p, EK_LSTM_OUTPUT, nb, x, h, ig, tmp, EK_LSTM_SIGMOID);
    ek_tanh_s16(p->tanh_mult, p->tanh_shift, c, fg, n);
    for (i = 0; i < n; i++) {
        const int32_t v = ek_mbqm(fg[i] * ig[i], p->oh_mult, p->oh_shift) + p->hid_zp;
        if (p->wide) {
            ((int16_t *)h)[i] = ek_sat_i16(v);
        } else {
            ((int8_t *)h)[i] = ek_sat_i8(v);
        }
    }
    memcpy(y, h, (size_t)n * (p->wide ? 2u : 1u));
}

static void ek_lstm_run(const ek_lstm_params_t *p, const uint8_t *input, uint8_t *hidden, int16_t *cell,
                        uint8_t *output, int16_t *scratch) {
    const size_t es = p->wide ? 2u : 1u, in_step = (size_t)p->n_input * es, out_step = (size_t)p->n_state * es;
    int32_t b, t;
    if (p->time_major) {
        for (t = 0; t < p->steps; t++) {
            ek_lstm_step(p, p->batches, input + (size_t)t * (size_t)p->batches * in_step, hidden, cell,
                         output + (size_t)t * (size_t)p->batches * out_step, scratch);
        }
        return;
    }
    for (b = 0; b < p->batches; b++) {
        for (t = 0; t < p->steps; t++) {
            const size_t row = (size_t)b * (size_t)p->steps + (size_t)t;
            ek_lstm_step(p, 1, input + row * in_step, hidden + (size_t)b * out_step,
                         cell + (size_t)b * (size_t)p->n_state, output + row * out_step, scratch);
        }
    }
}

void ek_lstm_s8(const ek_lstm_params_t *p, const int8_t *input, int8_t *hidden, int16_t *cell, int8_t *output,
                int16_t *scratch) {
    ek_lstm_run(p, (const uint8_t *)input, (uint8_t *)hidden, cell, (uint8_t *)output, scratch);
}

void ek_lstm_s16(const ek_lstm_params_t *p, const int16_t *input, int16_t *hidden, int16_t *cell, int16_t *output,
                 int16_t *scratch) {
    ek_lstm_run(p, (const uint8_t *)input, (uint8_t *)hidden, cell, (uint8_t *)output, scratch);
}
