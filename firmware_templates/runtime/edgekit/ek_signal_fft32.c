/* edgekit AOT runtime: the int32 (Q31) real FFT / inverse of TFLM's SignalRfft / SignalIrfft with T = int32 (see ek_signal.h): the int16
 * transform's structure with 64-bit products rounded to Q31 and twiddles round(2147483647 * cos/sin). */
#include "ek_signal.h"

static int32_t q31_round(int64_t x) { return (int32_t)((x + ((int64_t)1 << 30)) >> 31); }

static void cdiv32(int32_t *c, int32_t radix) {
    const int64_t k = 2147483647 / radix;
    c[0] = q31_round(c[0] * k);
    c[1] = q31_round(c[1] * k);
}

static void cmul32(int32_t *m, const int32_t *a, const int32_t *b) {
    const int32_t re = q31_round((int64_t)a[0] * b[0] - (int64_t)a[1] * b[1]);
    const int32_t im = q31_round((int64_t)a[0] * b[1] + (int64_t)a[1] * b[0]);
    m[0] = re;
    m[1] = im;
}

/* wrapping int32 add / subtract (the int32 FFT's sums do not overflow for scaled inputs; wrap, never trap) */
static int32_t add32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t sub32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

static void radix2_32(int32_t *out, int32_t stride, const int32_t *tw, int32_t m) {
    for (int32_t k = 0; k < m; ++k) {
        int32_t *a = out + 2 * k, *b = out + 2 * (k + m), t[2];
        cdiv32(a, 2);
        cdiv32(b, 2);
        cmul32(t, b, tw + 2 * k * stride);
        b[0] = sub32(a[0], t[0]);
        b[1] = sub32(a[1], t[1]);
        a[0] = add32(a[0], t[0]);
        a[1] = add32(a[1], t[1]);
    }
}

static void radix4_32(int32_t *out, int32_t stride, const int32_t *tw, int32_t m, int32_t inverse) {
    for (int32_t k = 0; k < m; ++k) {
        int32_t *f0 = out + 2 * k, *f1 = f0 + 2 * m, *f2 = f0 + 4 * m, *f3 = f0 + 6 * m;
        int32_t s0[2], s1[2], s2[2], s3[2], s4[2], s5[2];
        cdiv32(f0, 4);
        cdiv32(f1, 4);
        cdiv32(f2, 4);
        cdiv32(f3, 4);
        cmul32(s0, f1, tw + 2 * k * stride);
        cmul32(s1, f2, tw + 4 * k * stride);
        cmul32(s2, f3, tw + 6 * k * stride);
        s5[0] = sub32(f0[0], s1[0]);
        s5[1] = sub32(f0[1], s1[1]);
        f0[0] = add32(f0[0], s1[0]);
        f0[1] = add32(f0[1], s1[1]);
        s3[0] = add32(s0[0], s2[0]);
        s3[1] = add32(s0[1], s2[1]);
        s4[0] = sub32(s0[0], s2[0]);
        s4[1] = sub32(s0[1], s2[1]);
        f2[0] = sub32(f0[0], s3[0]);
        f2[1] = sub32(f0[1], s3[1]);
        f0[0] = add32(f0[0], s3[0]);
        f0[1] = add32(f0[1], s3[1]);
        if (inverse) {
            f1[0] = sub32(s5[0], s4[1]);
            f1[1] = add32(s5[1], s4[0]);
            f3[0] = add32(s5[0], s4[1]);
            f3[1] = sub32(s5[1], s4[0]);
        } else {
            f1[0] = add32(s5[0], s4[1]);
            f1[1] = sub32(s5[1], s4[0]);
            f3[0] = sub32(s5[0], s4[1]);
            f3[1] = add32(s5[1], s4[0]);
        }
    }
}

static void fft_stage32(const ek_rfft_s32_t *p, int32_t *out, const int32_t *in, int32_t stride,
                        const int32_t *factors) {
    const int32_t radix = factors[0], m = factors[1];
    if (m == 1) {
        for (int32_t j = 0; j < radix; ++j) {
            out[2 * j] = in[2 * j * stride];
            out[2 * j + 1] = in[2 * j * stride + 1];
        }
    } else {
        for (int32_t j = 0; j < radix; ++j) {
            fft_stage32(p, out + 2 * j * m, in + 2 * j * stride, stride * radix, factors + 2);
        }
    }
    if (radix == 4) radix4_32(out, stride, p->twiddles, m, p->inverse);
    else radix2_32(out, stride, p->twiddles, m);
}

void ek_signal_rfft_s32(const ek_rfft_s32_t *p, const int32_t *input, int32_t *output, int32_t *scratch) {
    const int32_t n = p->n;
    fft_stage32(p, scratch, input, 1, p->factors);
    int32_t dc[2] = {scratch[0], scratch[1]};
    cdiv32(dc, 2);
    output[0] = add32(dc[0], dc[1]);
    output[1] = 0;
    output[2 * n] = sub32(dc[0], dc[1]);
    output[2 * n + 1] = 0;
    for (int32_t k = 1; k <= n / 2; ++k) {
        int32_t fk[2] = {scratch[2 * k], scratch[2 * k + 1]};
        int32_t fnk[2] = {scratch[2 * (n - k)], sub32(0, scratch[2 * (n - k) + 1])};
        int32_t f1[2], f2[2], tw[2];
        cdiv32(fk, 2);
        cdiv32(fnk, 2);
        f1[0] = add32(fk[0], fnk[0]);
        f1[1] = add32(fk[1], fnk[1]);
        f2[0] = sub32(fk[0], fnk[0]);
        f2[1] = sub32(fk[1], fnk[1]);
        cmul32(tw, f2, p->super_twiddles + 2 * (k - 1));
        output[2 * k] = add32(f1[0], tw[0]) >> 1;
        output[2 * k + 1] = add32(f1[1], tw[1]) >> 1;
        output[2 * (n - k)] = sub32(f1[0], tw[0]) >> 1;
        output[2 * (n - k) + 1] = sub32(tw[1], f1[1]) >> 1;
    }
}

void ek_signal_irfft_s32(const ek_rfft_s32_t *p, const int32_t *input, int32_t *output, int32_t *scratch) {
    const int32_t n = p->n;
    scratch[0] = add32(input[0], input[2 * n]);
    scratch[1] = sub32(input[0], input[2 * n]);
    cdiv32(scratch, 2);
    for (int32_t k = 1; k <= n / 2; ++k) {
        int32_t fk[2] = {input[2 * k], input[2 * k + 1]};
        int32_t fnkc[2] = {input[2 * (n - k)], sub32(0, input[2 * (n - k) + 1])};
        int32_t fek[2], tmp[2], fok[2];
        cdiv32(fk, 2);
        cdiv32(fnkc, 2);
        fek[0] = add32(fk[0], fnkc[0]);
        fek[1] = add32(fk[1], fnkc[1]);
        tmp[0] = sub32(fk[0], fnkc[0]);
        tmp[1] = sub32(fk[1], fnkc[1]);
        cmul32(fok, tmp, p->super_twiddles + 2 * (k - 1));
        scratch[2 * k] = add32(fek[0], fok[0]);
        scratch[2 * k + 1] = add32(fek[1], fok[1]);
        scratch[2 * (n - k)] = sub32(fek[0], fok[0]);
        scratch[2 * (n - k) + 1] = sub32(0, sub32(fek[1], fok[1]));
    }
    fft_stage32(p, output, scratch, 1, p->factors);
}
