/* edgekit AOT runtime: TFLM signal-library audio front-end ops (see ek_signal.h). */
#include "ek_signal.h"

/* bits needed for x; 32 for x == 0 (as TFLM's __builtin_clz-based helper returns) */
static int32_t msb32(uint32_t x) {
    int32_t n = 0;
    if (x == 0u) return 32;
    while (x) { x >>= 1; ++n; }
    return n;
}

static int32_t msb64(uint64_t x) {
    int32_t n = 0;
    if (x == 0u) return 64;
    while (x) { x >>= 1; ++n; }
    return n;
}

void ek_signal_window(const int16_t *input, const int16_t *window, int32_t size, int32_t window_size, int32_t shift,
                      int16_t *output) {
    for (int32_t base = 0; base < size; base += window_size) {
        for (int32_t i = 0; i < window_size; ++i) {
            int32_t v = ((int32_t)input[base + i] * window[i]) >> shift;
            output[base + i] = (int16_t)(v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : v);
        }
    }
}

int32_t ek_signal_fft_auto_scale(const int16_t *input, int32_t size, int16_t *output) {
    int16_t max = 0; /* -(-32768) stored back in int16 stays -32768, as in TFLM */
    for (int32_t i = 0; i < size; ++i) {
        int32_t v = input[i];
        if (v > max) max = (int16_t)v;
        else if (-v > max) max = (int16_t)(-v);
    }
    int32_t bits = 16 - msb32((uint32_t)(int32_t)max) - 1;
    if (bits < 0) bits = 0;
    for (int32_t i = 0; i < size; ++i) output[i] = (int16_t)((int32_t)input[i] * (1 << bits));
    return bits;
}

/* ---- fixed-point complex FFT: Q15 products rounded, each stage scaled by 1 / radix ---------------------------- */
static int16_t q15_round(int32_t x) { return (int16_t)((x + (1 << 14)) >> 15); }
static int16_t q15_mul(int16_t a, int16_t b) { return q15_round((int32_t)a * b); }

static void cdiv(int16_t *c, int32_t radix) {
    int16_t k = (int16_t)(32767 / radix);
    c[0] = q15_mul(c[0], k);
    c[1] = q15_mul(c[1], k);
}

static void cmul(int16_t *m, const int16_t *a, const int16_t *b) {
    int16_t re = q15_round((int32_t)a[0] * b[0] - (int32_t)a[1] * b[1]);
    int16_t im = q15_round((int32_t)a[0] * b[1] + (int32_t)a[1] * b[0]);
    m[0] = re;
    m[1] = im;
}

static void radix2(int16_t *out, int32_t stride, const int16_t *tw, int32_t m) {
    for (int32_t k = 0; k < m; ++k) {
        int16_t *a = out + 2 * k, *b = out + 2 * (k + m), t[2];
        cdiv(a, 2);
        cdiv(b, 2);
        cmul(t, b, tw + 2 * k * stride);
        b[0] = (int16_t)(a[0] - t[0]);
        b[1] = (int16_t)(a[1] - t[1]);
        a[0] = (int16_t)(a[0] + t[0]);
        a[1] = (int16_t)(a[1] + t[1]);
    }
}

static void radix4(int16_t *out, int32_t stride, const int16_t *tw, int32_t m, int32_t inverse) {
    for (int32_t k = 0; k < m; ++k) {
        int16_t *f0 = out + 2 * k, *f1 = f0 + 2 * m, *f2 = f0 + 4 * m, *f3 = f0 + 6 * m;
        int16_t s0[2], s1[2], s2[2], s3[2], s4[2], s5[2];
        cdiv(f0, 4);
        cdiv(f1, 4);
        cdiv(f2, 4);
        cdiv(f3, 4);
        cmul(s0, f1, tw + 2 * k * stride);
        cmul(s1, f2, tw + 4 * k * stride);
        cmul(s2, f3, tw + 6 * k * stride);
        s5[0] = (int16_t)(f0[0] - s1[0]);
        s5[1] = (int16_t)(f0[1] - s1[1]);
        f0[0] = (int16_t)(f0[0] + s1[0]);
        f0[1] = (int16_t)(f0[1] + s1[1]);
        s3[0] = (int16_t)(s0[0] + s2[0]);
        s3[1] = (int16_t)(s0[1] + s2[1]);
        s4[0] = (int16_t)(s0[0] - s2[0]);
        s4[1] = (int16_t)(s0[1] - s2[1]);
        f2[0] = (int16_t)(f0[0] - s3[0]);
        f2[1] = (int16_t)(f0[1] - s3[1]);
        f0[0] = (int16_t)(f0[0] + s3[0]);
        f0[1] = (int16_t)(f0[1] + s3[1]);
        if (inverse) {
            f1[0] = (int16_t)(s5[0] - s4[1]);
            f1[1] = (int16_t)(s5[1] + s4[0]);
            f3[0] = (int16_t)(s5[0] + s4[1]);
            f3[1] = (int16_t)(s5[1] - s4[0]);
        } else {
            f1[0] = (int16_t)(s5[0] + s4[1]);
            f1[1] = (int16_t)(s5[1] - s4[0]);
            f3[0] = (int16_t)(s5[0] - s4[1]);
            f3[1] = (int16_t)(s5[1] + s4[0]);
        }
    }
}

/* decimation in time: gather the inputs of each sub-transform recursively, then combine with one radix stage */
static void fft_stage(const ek_rfft_s16_t *p, int16_t *out, const int16_t *in, int32_t stride, const int32_t *factors) {
    int32_t radix = factors[0], m = factors[1];
    if (m == 1) {
        for (int32_t j = 0; j < radix; ++j) {
            out[2 * j] = in[2 * j * stride];
            out[2 * j + 1] = in[2 * j * stride + 1];
        }
    } else {
        for (int32_t j = 0; j < radix; ++j) fft_stage(p, out + 2 * j * m, in + 2 * j * stride, stride * radix, factors + 2);
    }
    if (radix == 4) radix4(out, stride, p->twiddles, m, p->inverse);
    else radix2(out, stride, p->twiddles, m);
}

void ek_signal_rfft_s16(const ek_rfft_s16_t *p, const int16_t *input, int16_t *output, int16_t *scratch) {
    const int32_t n = p->n;
    fft_stage(p, scratch, input, 1, p->factors);
    int16_t dc[2] = {scratch[0], scratch[1]};
    cdiv(dc, 2);
    output[0] = (int16_t)(dc[0] + dc[1]);
    output[1] = 0;
    output[2 * n] = (int16_t)(dc[0] - dc[1]);
    output[2 * n + 1] = 0;
    for (int32_t k = 1; k <= n / 2; ++k) {
        int16_t fk[2] = {scratch[2 * k], scratch[2 * k + 1]};
        int16_t fnk[2] = {scratch[2 * (n - k)], (int16_t)(-scratch[2 * (n - k) + 1])};
        int16_t f1[2], f2[2], tw[2];
        cdiv(fk, 2);
        cdiv(fnk, 2);
        f1[0] = (int16_t)(fk[0] + fnk[0]);
        f1[1] = (int16_t)(fk[1] + fnk[1]);
        f2[0] = (int16_t)(fk[0] - fnk[0]);
        f2[1] = (int16_t)(fk[1] - fnk[1]);
        cmul(tw, f2, p->super_twiddles + 2 * (k - 1));
        output[2 * k] = (int16_t)((f1[0] + tw[0]) >> 1);
        output[2 * k + 1] = (int16_t)((f1[1] + tw[1]) >> 1);
        output[2 * (n - k)] = (int16_t)((f1[0] - tw[0]) >> 1);
        output[2 * (n - k) + 1] = (int16_t)((tw[1] - f1[1]) >> 1);
    }
}

void ek_signal_irfft_s16(const ek_rfft_s16_t *p, const int16_t *input, int16_t *output, int16_t *scratch) {
    const int32_t n = p->n;
    scratch[0] = (int16_t)(input[0] + input[2 * n]);
    scratch[1] = (int16_t)(input[0] - input[2 * n]);
    cdiv(scratch, 2);
    for (int32_t k = 1; k <= n / 2; ++k) {
        int16_t fk[2] = {input[2 * k], input[2 * k + 1]};
        int16_t fnkc[2] = {input[2 * (n - k)], (int16_t)(-input[2 * (n - k) + 1])};
        int16_t fek[2], tmp[2], fok[2];
        cdiv(fk, 2);
        cdiv(fnkc, 2);
        fek[0] = (int16_t)(fk[0] + fnkc[0]);
        fek[1] = (int16_t)(fk[1] + fnkc[1]);
        tmp[0] = (int16_t)(fk[0] - fnkc[0]);
        tmp[1] = (int16_t)(fk[1] - fnkc[1]);
        cmul(fok, tmp, p->super_twiddles + 2 * (k - 1));
        scratch[2 * k] = (int16_t)(fek[0] + fok[0]);
        scratch[2 * k + 1] = (int16_t)(fek[1] + fok[1]);
        scratch[2 * (n - k)] = (int16_t)(fek[0] - fok[0]);
        scratch[2 * (n - k) + 1] = (int16_t)(-(int16_t)(fek[1] - fok[1]));
    }
    fft_stage(p, output, scratch, 1, p->factors);
}

void ek_signal_overlap_add_s16(const int16_t *input, int16_t *output, int32_t rows, int32_t n_frames,
                               int32_t frame_size, int32_t frame_step, int16_t *state) {
    for (int32_t r = 0; r < rows; ++r) {
        int16_t *buf = state + r * frame_size;
        for (int32_t f = 0; f < n_frames; ++f) {
            const int16_t *x = input + (r * n_frames + f) * frame_size;
            for (int32_t i = 0; i < frame_size; ++i) buf[i] = ek_sat_i16((int32_t)x[i] + buf[i]);
            memcpy(output + (r * n_frames + f) * frame_step, buf, sizeof(int16_t) * (size_t)frame_step);
            memmove(buf, buf + frame_step, sizeof(int16_t) * (size_t)(frame_size - frame_step));
            memset(buf + frame_size - frame_step, 0, sizeof(int16_t) * (size_t)frame_step);
        }
    }
}

void ek_signal_overlap_add_f32(const float *input, float *output, int32_t rows, int32_t n_frames,
                               int32_t frame_size, int32_t frame_step, float *state) {
    for (int32_t r = 0; r < rows; ++r) {
        float *buf = state + r * frame_size;
        for (int32_t f = 0; f < n_frames; ++f) {
            const float *x = input + (r * n_frames + f) * frame_size;
            for (int32_t i = 0; i < frame_size; ++i) buf[i] += x[i];
            memcpy(output + (r * n_frames + f) * frame_step, buf, sizeof(float) * (size_t)frame_step);
            memmove(buf, buf + frame_step, sizeof(float) * (size_t)(frame_size - frame_step));
            for (int32_t i = frame_size - frame_step; i < frame_size; ++i) buf[i] = 0.0f;
        }
    }
}

void ek_signal_energy(const int16_t *input, int32_t start, int32_t end, uint32_t *output) {
    for (int32_t i = start; i < end; ++i) {
        int32_t re = input[2 * i], im = input[2 * i + 1];
        output[i] = (uint32_t)(re * re) + (uint32_t)(im * im);
    }
}

void ek_signal_filter_bank(const ek_filter_bank_t *p, const uint32_t *input, uint64_t *work, uint64_t *output) {
    uint64_t acc = 0, unacc = 0;
    for (int32_t c = 0; c < p->num_channels + 1; ++c) {
        const int32_t f0 = p->freq_starts[c], w0 = p->weight_starts[c];
        for (int32_t j = 0; j < p->widths[c]; ++j) {
            acc += (uint64_t)(int64_t)p->weights[w0 + j] * input[f0 + j];
            unacc += (uint64_t)(int64_t)p->unweights[w0 + j] * input[f0 + j];
        }
        work[c] = acc;
        acc = unacc;
        unacc = 0;
    }
    memcpy(output, work + 1, sizeof(uint64_t) * (size_t)p->num_channels);
}

static uint32_t isqrt_round(uint64_t num) {
    /* bit-by-bit integer square root, then rounded up when the remainder exceeds the root (TFLM's Sqrt32/64) */
    const int wide = (num >> 32) != 0;
    const int32_t top = wide ? 63 : 31;
    const uint64_t cap = wide ? 0xFFFFFFFFu : 0xFFFFu;
    uint64_t res = 0, bit;
    int32_t lead, iters;
    if (num == 0) return 0;
    lead = (wide ? 64 - msb64(num) : 32 - msb32((uint32_t)num)) | 1;
    bit = (uint64_t)1 << (top - lead);
    iters = (top - lead) / 2 + 1;
    while (iters--) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (num > res && res != cap) ++res;
    return wide ? (uint32_t)res : (uint32_t)(uint16_t)res;
}

void ek_signal_filter_bank_sqrt(const uint64_t *input, int32_t n, int32_t scale_bits, uint32_t *output) {
    for (int32_t i = 0; i < n; ++i) output[i] = isqrt_round(input[i]) >> scale_bits;
}

void ek_signal_spectral_subtraction(const ek_spectral_subtraction_t *p, const uint32_t *input, uint32_t *output,
                                    uint32_t *noise_state, uint32_t *noise_out) {
    for (int32_t i = 0; i < p->num_channels; ++i) {
        const uint32_t sm = (uint32_t)((i & 1) ? p->alternate_smoothing : p->smoothing);
        const uint32_t one_minus = (uint32_t)((i & 1) ? p->alternate_one_minus_smoothing : p->one_minus_smoothing);
        const uint32_t up = input[i] << p->smoothing_bits;
        uint32_t est;
        noise_state[i] = (uint32_t)(((uint64_t)up * sm + (uint64_t)noise_state[i] * one_minus)
                                    >> p->spectral_subtraction_bits);
        est = noise_state[i];
        if (est > up) {
            est = up;
            if (p->clamping) noise_state[i] = est;
        }
        const uint32_t floor_v = (uint32_t)(((uint64_t)input[i] * (uint32_t)p->min_signal_remaining)
                                            >> p->spectral_subtraction_bits);
        const uint32_t sub = (up - est) >> p->smoothing_bits;
        output[i] = sub > floor_v ? sub : floor_v;
    }
    memcpy(noise_out, noise_state, sizeof(uint32_t) * (size_t)p->num_channels);
}

#define EK_PCAN_SNR_BITS 12
#define EK_PCAN_OUTPUT_BITS 6

static int16_t pcan_gain(uint32_t x, const int16_t *lut) {
    if (x <= 2) return lut[x];
    const int32_t interval = msb32(x);
    lut += 4 * interval - 6;
    const int32_t frac = (int32_t)(int16_t)(((interval < 11) ? (x << (11 - interval)) : (x >> (interval - 11)))
                                            & 0x3FFu);
    int32_t r = ((int32_t)lut[2] * frac) >> 5;
    r = (int32_t)((uint32_t)r + ((uint32_t)lut[1] << 5));
    r = (int32_t)((uint32_t)r * (uint32_t)frac);
    r = (int32_t)((uint32_t)r + (1u << 14)) >> 15;
    r += lut[0];
    return (int16_t)r;
}

void ek_signal_pcan(const uint32_t *input, const uint32_t *noise, const int16_t *gain_lut, int32_t snr_shift,
                    int32_t n, uint32_t *output) {
    for (int32_t i = 0; i < n; ++i) {
        const uint32_t gain = (uint32_t)(int32_t)pcan_gain(noise[i], gain_lut);
        const uint32_t snr = (uint32_t)(((uint64_t)input[i] * gain) >> snr_shift);
        output[i] = snr < (2u << EK_PCAN_SNR_BITS)
            ? (snr * snr) >> (2 + 2 * EK_PCAN_SNR_BITS - EK_PCAN_OUTPUT_BITS)
            : (snr >> (EK_PCAN_SNR_BITS - EK_PCAN_OUTPUT_BITS)) - (1u << EK_PCAN_OUTPUT_BITS);
    }
}

/* log2 fraction correction, 128 segments of a Q16 fraction (a property of the fixed-point log TFLM uses) */
static const uint16_t ek_log_lut[130] = {
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944, 3087, 3224,
    3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864, 4934, 5001,
    5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622, 5631,
    5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332,
    5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264,
    4184, 4103, 4020, 3935, 3848, 3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549,
    2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142, 0, 0};

static uint32_t log_scaled(uint32_t x, uint32_t out_scale) {
    const uint32_t ipart = (uint32_t)msb32(x) - 1u;
    int32_t frac = (int32_t)((int64_t)x - ((int64_t)1 << ipart));
    if (ipart < 16u) frac <<= 16u - ipart;
    else frac >>= ipart - 16u;
    const uint32_t seg = (uint32_t)frac >> 9;
    const int32_t c0 = ek_log_lut[seg], c1 = ek_log_lut[seg + 1];
    const int32_t rel = ((c1 - c0) * (frac - (int32_t)(512u * seg))) >> 16;
    const uint32_t fraction = (uint32_t)(frac + c0 + rel);
    const uint32_t log2v = (ipart << 16) + fraction;
    const uint32_t loge = (uint32_t)((UINT64_C(45426) * log2v + 32768u) >> 16);
    return (out_scale * loge + 32768u) >> 16;
}

void ek_signal_filter_bank_log(const uint32_t *input, int32_t n, int32_t output_scale, int32_t correction_bits,
                               int16_t *output) {
    for (int32_t i = 0; i < n; ++i) {
        const uint32_t scaled = input[i] << correction_bits;
        if (scaled > 1u) {
            const uint32_t v = log_scaled(scaled, (uint32_t)output_scale);
            output[i] = (int16_t)(v < 32767u ? v : 32767u);
        } else {
            output[i] = 0;
        }
    }
}

/* ---- sample FIFOs (oldest first) -------------------------------------------------------------------------------- */
static void fifo_push(int16_t *fifo, int32_t *count, const int16_t *values, int32_t n) {
    memmove(fifo + *count, values, sizeof(int16_t) * (size_t)n);
    *count += n;
}

static void fifo_drop(int16_t *fifo, int32_t *count, int32_t n) {
    memmove(fifo, fifo + n, sizeof(int16_t) * (size_t)(*count - n));
    *count -= n;
}

void ek_signal_delay(const int16_t *input, int16_t *output, int32_t rows, int32_t frame, int32_t delay,
                     int16_t *state) {
    for (int32_t r = 0; r < rows; ++r) {
        int16_t *s = state + r * (delay + frame);
        memmove(s + delay, input + r * frame, sizeof(int16_t) * (size_t)frame);
        memcpy(output + r * frame, s, sizeof(int16_t) * (size_t)frame);
        memmove(s, s + frame, sizeof(int16_t) * (size_t)delay);
    }
}

void ek_signal_framer(const ek_framer_t *p, const int16_t *input, int16_t *output, uint8_t *valid, int16_t *fifo,
                      int32_t *counts) {
    *valid = 1;
    for (int32_t r = 0; r < p->rows; ++r) {
        int16_t *f = fifo + r * p->fifo_size;
        for (int32_t k = 0; k < p->n_frames; ++k) {
            const int32_t idx = r * p->n_frames + k;
            fifo_push(f, &counts[r], input + idx * p->frame_step, p->frame_step);
            if (counts[r] >= p->frame_size) {
                memcpy(output + idx * p->frame_size, f, sizeof(int16_t) * (size_t)p->frame_size);
                fifo_drop(f, &counts[r], p->frame_step);
            } else {
                *valid = 0;
            }
        }
    }
}

void ek_signal_stacker(const ek_stacker_t *p, const int16_t *input, int16_t *output, uint8_t *valid, int16_t *fifo,
                       int32_t *count, int32_t *started) {
    fifo_push(fifo, count, input, p->channels);
    if (!*started) { /* the first frame stands in for the missing left context */
        for (int32_t i = 0; i < p->left_context; ++i) fifo_push(fifo, count, fifo + *count - p->channels, p->channels);
        *started = 1;
    }
    if (*count >= p->buffer_size) {
        memcpy(output, fifo, sizeof(int16_t) * (size_t)p->buffer_size);
        fifo_drop(fifo, count, p->step_size);
        *valid = 1;
    } else {
        *valid = 0;
    }
}
