/* edgekit AOT runtime: float32 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and pools (see ek_float.h).
 *
 * Every output is summed exactly as TFLM's reference kernels sum it (conv: filter row, column, input channel;
 * depthwise: filter row, column; FC: depth; each product rounded, then added to an accumulator that starts at 0,
 * then + bias): only the number of outputs computed per pass changes. Taps in the padding are skipped (TFLM skips
 * them too), so a window is the tap range [ky0, ky1) x [kx0, kx1) from ek_tap_start / ek_tap_end.
 *
 * Scalar FPU / soft-float: 4 output channels of 2 neighbouring pixels per pass (conv, depthwise; the pixels share
 * each weight load, where their windows have the same columns), FC 4 units; a conv filter row contiguous in input
 * and filter (no groups, no dilation) is one run instead of a loop per tap. Helium with floating point (MVE-F:
 * Cortex-M55 / M85, -mfloat-abi=hard): the 4 lanes of a vector are 4 output channels (conv, FC: filter rows read by
 * a gather load, 8 channels x 2 pixels per pass; depthwise, pools: consecutive channels), each lane one output's
 * running sum, VMUL then VADD (never VFMA); the last 1-3 channels run in scalar code. The lane results equal the
 * scalar ones bit for bit, as long as no product or sum is subnormal and none is NaN: MVE floating-point
 * instructions run with the standard FPSCR value (flush-to-zero, default NaN; QEMU models it so, checked with an FC
 * of 1e-20 x 1e-20 products), where the scalar FPU and TFLM's host interpreter keep subnormals and NaN payloads.
 */
#include "ek_common.h"
#include "ek_float.h"

#include <math.h>

/* Never a fused multiply-add, whatever the build's C dialect: GNU modes (-std=gnu11, the default of PlatformIO /
 * Arduino and of a bare gcc) contract a * b + c into VFMA (one rounding instead of two), which breaks bit-exactness. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2) && defined(__GNUC__) && defined(__thumb2__)
#include <arm_mve.h>
#define EK_F32_MVE 1
#else
#define EK_F32_MVE 0
#endif

static float ek_f32_clamp(float x, float lo, float hi) {
    x = x < lo ? lo : x;
    return hi < x ? hi : x;
}

static float ek_f32_finish(float total, const float *bias, int32_t oc, float lo, float hi) {
    return ek_f32_clamp(total + (bias != NULL ? bias[oc] : 0.0f), lo, hi);
}

/* dst[0..3] = the finished sums of output channels oc .. oc + 3. */
static void ek_f32_finish4(float *dst, float t0, float t1, float t2, float t3, const float *bias, int32_t oc,
                           float lo, float hi) {
    dst[0] = ek_f32_finish(t0, bias, oc, lo, hi);
    dst[1] = ek_f32_finish(t1, bias, oc + 1, lo, hi);
    dst[2] = ek_f32_finish(t2, bias, oc + 2, lo, hi);
    dst[3] = ek_f32_finish(t3, bias, oc + 3, lo, hi);
}

#if EK_F32_MVE
/* x < lo ? lo : x, then hi < x ? hi : x, lane by lane (compare + select keeps a NaN as it is, as ek_f32_clamp). */
static float32x4_t ek_f32_mve_clamp(float32x4_t x, float lo, float hi) {
    const float32x4_t vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
    x = vpselq_f32(vlo, x, vcmpltq_f32(x, vlo));
    return vpselq_f32(vhi, x, vcmpltq_f32(vhi, x));
}

/* out[0..3] = clamp(acc + bias[0..3]) lane by lane, as ek_f32_finish (+ 0.0f without a bias, as TFLM). */
static void ek_f32_mve_finish(float *out, float32x4_t acc, const float *bias, float lo, float hi) {
    acc = vaddq_f32(acc, bias != NULL ? vld1q_f32(bias) : vdupq_n_f32(0.0f));
    vst1q_f32(out, ek_f32_mve_clamp(acc, lo, hi));
}

/* Offsets (in floats) of 4 rows `stride` floats apart, for a gather load (VLDRW.U32 Qd, [Rbase, Qoffs, UXTW #2]). */
static uint32x4_t ek_f32_mve_rows(size_t stride) {
    return vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)stride);
}
#endif

/* The taps of one output pixel that lie inside the input: rows [ky0, ky1), columns [kx0, kx1) of the filter,
 * input row y0 + dil_h * ky, column x0 + dil_w * kx. */
typedef struct {
    int32_t y0, x0, ky0, ky1, kx0, kx1;
    int32_t kx_step, run; /* CONV_2D: taps kx0, kx0 + kx_step, ... each a run of `run` input channels (one run over
                           * the whole row when it is contiguous in input and filter: no groups, no dilation) */
} ek_f32_window;

/* Writes the out_c outputs of `npix` output pixels side by side (the second one stride_w columns right of the
 * first, with the same window: only asked for when the pixel function takes pairs). */
typedef void (*ek_f32_pixel_fn)(const ek_f32_conv_params *p, const float *in_b, const float *filter,
                                const float *bias, float *out, const ek_f32_window *win, int32_t npix);

/* The loop CONV_2D and DEPTHWISE_CONV_2D share: every output pixel with its window, two at a time when `pairs` and
 * both windows have the same columns (not at a border). */
static void ek_f32_conv_walk(const ek_f32_conv_params *p, const float *in, const float *filter, const float *bias,
                             float *out, ek_f32_pixel_fn pixel, int pairs) {
    const int row = p->dil_w == 1 && p->filter_in_c == p->in_c;
    int32_t b, oy, ox, npix;
    ek_f32_window win;
    for (b = 0; b < p->batches; b++) {
        const float *in_b = in + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            win.y0 = oy * p->stride_h - p->pad_h;
            win.ky0 = ek_tap_start(win.y0, p->dil_h);
            win.ky1 = ek_tap_end(win.y0, p->dil_h, p->in_h, p->k_h);
            for (ox = 0; ox < p->out_w; ox += npix) {
                win.x0 = ox * p->stride_w - p->pad_w;
                win.kx0 = ek_tap_start(win.x0, p->dil_w);
                win.kx1 = ek_tap_end(win.x0, p->dil_w, p->in_w, p->k_w);
                win.kx_step = row && win.kx1 > win.kx0 ? win.kx1 - win.kx0 : 1;
                win.run = win.kx_step * p->filter_in_c;
                npix = 1;
                if (pairs && ox + 1 < p->out_w && win.kx0 == ek_tap_start(win.x0 + p->stride_w, p->dil_w) &&
                    win.kx1 == ek_tap_end(win.x0 + p->stride_w, p->dil_w, p->in_w, p->k_w)) {
                    npix = 2;
                }
                pixel(p, in_b, filter, bias, out, &win, npix);
                out += (size_t)npix * p->out_c;
            }
        }
    }
}

/* The input pixel under tap (ky, kx). */
static const float *ek_f32_tap(const ek_f32_conv_params *p, const float *in_b, const ek_f32_window *win, int32_t ky,
                               int32_t kx) {
    return in_b + ((size_t)(win->y0 + p->dil_h * ky) * p->in_w + (size_t)(win->x0 + p->dil_w * kx)) * p->in_c;
}

/* One CONV_2D sum: filter row wo (fstride floats) over the window of the pixel whose group's input is in_g. */
static float ek_f32_conv_one(const ek_f32_conv_params *p, const float *in_g, const float *wo,
                             const ek_f32_window *win) {
    const int32_t n = p->filter_in_c;
    float total = 0.0f;
    int32_t ky, kx, ic;
    for (ky = win->ky0; ky < win->ky1; ky++) {
        for (kx = win->kx0; kx < win->kx1; kx += win->kx_step) {
            const float *src = ek_f32_tap(p, in_g, win, ky, kx);
            const float *w = wo + ((size_t)ky * p->k_w + kx) * n;
            for (ic = 0; ic < win->run; ic++) {
                const float prod = src[ic] * w[ic];
                total += prod;
            }
        }
    }
    return total;
}

/* CONV_2D, 4 output channels [oc, oc + 4) of 2 pixels: each weight loaded once for both pixels. */
static void ek_f32_conv_pair4(const ek_f32_conv_params *p, const float *in_g, const float *filter, const float *bias,
                              float *out, const ek_f32_window *win, int32_t oc) {
    const int32_t n = p->filter_in_c;
    const size_t fstride = (size_t)p->k_h * p->k_w * n, step = (size_t)p->stride_w * p->in_c;
    const float *wo = filter + (size_t)oc * fstride;
    float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, b0 = 0.0f, b1 = 0.0f, b2 = 0.0f, b3 = 0.0f;
    int32_t ky, kx, ic;
    for (ky = win->ky0; ky < win->ky1; ky++) {
        for (kx = win->kx0; kx < win->kx1; kx += win->kx_step) {
            const float *src = ek_f32_tap(p, in_g, win, ky, kx);
            const float *w0 = wo + ((size_t)ky * p->k_w + kx) * n;
            for (ic = 0; ic < win->run; ic++) {
                const float x = src[ic], y = src[step + ic];
                const float w_0 = w0[ic], w_1 = w0[fstride + ic], w_2 = w0[2 * fstride + ic];
                const float w_3 = w0[3 * fstride + ic];
                const float p0 = x * w_0, p1 = x * w_1, p2 = x * w_2, p3 = x * w_3;
                const float q0 = y * w_0, q1 = y * w_1, q2 = y * w_2, q3 = y * w_3;
                a0 += p0;
                a1 += p1;
                a2 += p2;
                a3 += p3;
                b0 += q0;
                b1 += q1;
                b2 += q2;
                b3 += q3;
            }
        }
    }
    ek_f32_finish4(out + oc, a0, a1, a2, a3, bias, oc, p->act_min, p->act_max);
    out += p->out_c;
    ek_f32_finish4(out + oc, b0, b1, b2, b3, bias, oc, p->act_min, p->act_max);
}

/* CONV_2D, one output pixel or two (npix): per group, output channels [oc, oc1) reading input
 * channels from in_g. */
static void ek_f32_conv_pixel(const ek_f32_conv_params *p, const float *in_b, const float *filter, const float *bias,
                              float *out, const ek_f32_window *win, int32_t npix) {
    const int32_t n = p->filter_in_c, per_group = p->out_c / (p->in_c / n);
    const size_t fstride = (size_t)p->k_h * p->k_w * n, step = (size_t)p->stride_w * p->in_c;
    int32_t oc = 0, ky, kx, ic, k;
#if EK_F32_MVE
    const uint32x4_t rows = ek_f32_mve_rows(fstride), rows_hi = vaddq_n_u32(rows, (uint32_t)(4 * fstride));
#endif
    while (oc < p->out_c) {
        const float *in_g = in_b + (size_t)(oc / per_group) * n;
        const int32_t oc1 = oc + per_group;
#if EK_F32_MVE
        for (; oc + 8 <= oc1 && npix == 2; oc += 8) { /* 8 output channels x 2 pixels: 4 vector sums */
            const float *wo = filter + (size_t)oc * fstride;
            float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, b0 = a0, b1 = a0;
            for (ky = win->ky0; ky < win->ky1; ky++) {
                for (kx = win->kx0; kx < win->kx1; kx += win->kx_step) {
                    const float *src = ek_f32_tap(p, in_g, win, ky, kx);
                    const float *w0 = wo + ((size_t)ky * p->k_w + kx) * n;
                    for (ic = 0; ic < win->run; ic++) {
                        const float x = src[ic], y = src[step + ic];
                        const float32x4_t w_lo = vldrwq_gather_shifted_offset_f32(w0 + ic, rows);
                        const float32x4_t w_hi = vldrwq_gather_shifted_offset_f32(w0 + ic, rows_hi);
                        a0 = vaddq_f32(a0, vmulq_n_f32(w_lo, x));
                        a1 = vaddq_f32(a1, vmulq_n_f32(w_hi, x));
                        b0 = vaddq_f32(b0, vmulq_n_f32(w_lo, y));
                        b1 = vaddq_f32(b1, vmulq_n_f32(w_hi, y));
                    }
                }
            }
            ek_f32_mve_finish(out + oc, a0, bias != NULL ? bias + oc : NULL, p->act_min, p->act_max);
            ek_f32_mve_finish(out + oc + 4, a1, bias != NULL ? bias + oc + 4 : NULL, p->act_min, p->act_max);
            ek_f32_mve_finish(out + p->out_c + oc, b0, bias != NULL ? bias + oc : NULL, p->act_min, p->act_max);
            ek_f32_mve_finish(out + p->out_c + oc + 4, b1, bias != NULL ? bias + oc + 4 : NULL, p->act_min,
                              p->act_max);
        }
        for (; oc + 4 <= oc1 && npix == 2; oc += 4) { /* 4 output channels x 2 pixels */
            const float *wo = filter + (size_t)oc * fstride;
            float32x4_t a0 = vdupq_n_f32(0.0f), b0 = a0;
            for (ky = win->ky0; ky < win->ky1; ky++) {
                for (kx = win->kx0; kx < win->kx1; kx += win->kx_step) {
                    const float *src = ek_f32_tap(p, in_g, win, ky, kx);
                    const float *w0 = wo + ((size_t)ky * p->k_w + kx) * n;
                    for (ic = 0; ic < win->run; ic++) {
                        const float32x4_t w = vldrwq_gather_shifted_offset_f32(w0 + ic, rows);
                        a0 = vaddq_f32(a0, vmulq_n_f32(w, src[ic]));
                        b0 = vaddq_f32(b0, vmulq_n_f32(w, src[step + ic]));
                    }
                }
            }
            ek_f32_mve_finish(out + oc, a0, bias != NULL ? bias + oc : NULL, p->act_min, p->act_max);
            ek_f32_mve_finish(out + p->out_c + oc, b0, bias != NULL ? bias + oc : NULL, p->act_min, p->act_max);
        }
        for (; oc + 8 <= oc1; oc += 8) { /* two vectors: 8 output channels share each input value */
            const float *wo = filter + (size_t)oc * fstride;
            float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
            for (ky = win->ky0; ky < win->ky1; ky++) {
                for (kx = win->kx0; kx < win->kx1; kx += win->kx_step) {
                    const float *src = ek_f32_tap(p, in_g, win, ky, kx);
                    const float *w0 = wo + ((size_t)ky * p->k_w + kx) * n;
                    for (ic = 0; ic < win->run; ic++) {
                        const float x = src[ic];
                        const float32x4_t w_lo = vldrwq_gather_shifted_offset_f32(w0 + ic, rows);
                        const float32x4_t w_hi = vldrwq_gather_shifted_offset_f32(w0 + ic, rows_hi);
                        acc0 = vaddq_f32(acc0, vmulq_n_f32(w_lo, x));
                        acc1 = vaddq_f32(acc1, vmulq_n_f32(w_hi, x));
                    }
                }
            }
            ek_f32_mve_finish(out + oc, acc0, bias != NULL ? bias + oc : NULL, p->act_min, p->act_max);
            ek_f32_mve_finish(out + oc + 4, acc1, bias != NULL ? bias + oc + 4 : NULL, p->act_min, p->act_max);
        }
        for (; oc + 4 <= oc1; oc += 4) { /* lanes: 4 output channels, weights gathered from their 4 filter rows */
            const float *wo = filter + (size_t)oc * fstride;
            float32x4_t acc = vdupq_n_f32(0.0f);
            for (ky = win->ky0; ky < win->ky1; ky++) {
                for (kx = win->kx0; kx < win->kx1; kx += win->kx_step) {
                    const float *src = ek_f32_tap(p, in_g, win, ky, kx);
                    const float *w0 = wo + ((size_t)ky * p->k_w + kx) * n;
                    for (ic = 0; ic < win->run; ic++) {
                        const float32x4_t w = vldrwq_gather_shifted_offset_f32(w0 + ic, rows);
                        acc = vaddq_f32(acc, vmulq_n_f32(w, src[ic]));
                    }
                }
            }
            ek_f32_mve_finish(out + oc, acc, bias != NULL ? bias + oc : NULL, p->act_min, p->act_max);
        }
#endif
        for (; oc + 4 <= oc1 && npix == 2; oc += 4) {
            ek_f32_conv_pair4(p, in_g, filter, bias, out, win, oc);
        }
        for (; oc + 4 <= oc1; oc += 4) { /* 4 output channels share each input value */
            const float *wo = filter + (size_t)oc * fstride;
            float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
            for (ky = win->ky0; ky < win->ky1; ky++) {
                for (kx = win->kx0; kx < win->kx1; kx += win->kx_step) {
                    const float *src = ek_f32_tap(p, in_g, win, ky, kx);
                    const float *w0 = wo + ((size_t)ky * p->k_w + kx) * n;
                    for (ic = 0; ic < win->run; ic++) {
                        const float x = src[ic];
                        const float p0 = x * w0[ic], p1 = x * w0[fstride + ic];
                        const float p2 = x * w0[2 * fstride + ic], p3 = x * w0[3 * fstride + ic];
                        t0 += p0;
                        t1 += p1;
                        t2 += p2;
                        t3 += p3;
                    }
                }
            }
            ek_f32_finish4(out + oc, t0, t1, t2, t3, bias, oc, p->act_min, p->act_max);
        }
        for (; oc < oc1; oc++) {
            for (k = 0; k < npix; k++) {
                const float total = ek_f32_conv_one(p, in_g + k * step, filter + (size_t)oc * fstride, win);
                out[(size_t)k * p->out_c + oc] = ek_f32_finish(total, bias, oc, p->act_min, p->act_max);
            }
        }
    }
}

/* DEPTHWISE_CONV_2D, one output pixel: output channel oc reads input channel oc / depth_mult, filter column oc. */
static void ek_f32_depthwise_one(const ek_f32_conv_params *p, const float *in_b, const float *filter,
                                 const float *bias, float *out, const ek_f32_window *win) {
    const int32_t c = p->out_c, mult = p->depth_mult;
    int32_t oc = 0, ky, kx;
#if EK_F32_MVE
    for (; oc + 4 <= c; oc += 4) { /* lanes: 4 consecutive output channels */
        uint32x4_t from = vdupq_n_u32(0u);
        float32x4_t acc = vdupq_n_f32(0.0f);
        if (mult != 1) {
            const uint32_t ch[4] = {(uint32_t)(oc / mult), (uint32_t)((oc + 1) / mult), (uint32_t)((oc + 2) / mult),
                                    (uint32_t)((oc + 3) / mult)};
            from = vld1q_u32(ch);
        }
        for (ky = win->ky0; ky < win->ky1; ky++) {
            for (kx = win->kx0; kx < win->kx1; kx++) {
                const float *src = ek_f32_tap(p, in_b, win, ky, kx);
                const float32x4_t w = vld1q_f32(filter + ((size_t)ky * p->k_w + kx) * c + oc);
                const float32x4_t x = mult == 1 ? vld1q_f32(src + oc) : vldrwq_gather_shifted_offset_f32(src, from);
                acc = vaddq_f32(acc, vmulq_f32(x, w));
            }
        }
        ek_f32_mve_finish(out + oc, acc, bias != NULL ? bias + oc : NULL, p->act_min, p->act_max);
    }
#endif
    for (; oc + 4 <= c; oc += 4) { /* 4 output channels per pass, each sum in its registers */
        const int32_t i0 = oc / mult, i1 = (oc + 1) / mult, i2 = (oc + 2) / mult, i3 = (oc + 3) / mult;
        float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
        for (ky = win->ky0; ky < win->ky1; ky++) {
            for (kx = win->kx0; kx < win->kx1; kx++) {
                const float *src = ek_f32_tap(p, in_b, win, ky, kx);
                const float *w = filter + ((size_t)ky * p->k_w + kx) * c + oc;
                const float p0 = src[i0] * w[0], p1 = src[i1] * w[1], p2 = src[i2] * w[2], p3 = src[i3] * w[3];
                t0 += p0;
                t1 += p1;
                t2 += p2;
                t3 += p3;
            }
        }
        ek_f32_finish4(out + oc, t0, t1, t2, t3, bias, oc, p->act_min, p->act_max);
    }
    for (; oc < c; oc++) {
        const int32_t i = oc / mult;
        float total = 0.0f;
        for (ky = win->ky0; ky < win->ky1; ky++) {
            for (kx = win->kx0; kx < win->kx1; kx++) {
                const float prod = ek_f32_tap(p, in_b, win, ky, kx)[i] * filter[((size_t)ky * p->k_w + kx) * c + oc];
                total += prod;
            }
        }
        out[oc] = ek_f32_finish(total, bias, oc, p->act_min, p->act_max);
    }
}

/* DEPTHWISE_CONV_2D, two output pixels (npix 2; one: ek_f32_depthwise_one), sharing each weight load. */
static void ek_f32_depthwise_pixel(const ek_f32_conv_params *p, const float *in_b, const float *filter,
                                   const float *bias, float *out, const ek_f32_window *win, int32_t npix) {
    const int32_t c = p->out_c, mult = p->depth_mult;
    const size_t step = (size_t)p->stride_w * p->in_c, out2 = (size_t)c;
    int32_t oc = 0, ky, kx;
    if (npix == 1) {
        ek_f32_depthwise_one(p, in_b, filter, bias, out, win);
        return;
    }
#if EK_F32_MVE
    for (; oc + 4 <= c; oc += 4) { /* lanes: 4 consecutive output channels; a second pixel's sums in b */
        uint32x4_t from = vdupq_n_u32(0u);
        float32x4_t a = vdupq_n_f32(0.0f), b = a;
        if (mult != 1) {
            const uint32_t ch[4] = {(uint32_t)(oc / mult), (uint32_t)((oc + 1) / mult), (uint32_t)((oc + 2) / mult),
                                    (uint32_t)((oc + 3) / mult)};
            from = vld1q_u32(ch);
        }
        for (ky = win->ky0; ky < win->ky1; ky++) {
            for (kx = win->kx0; kx < win->kx1; kx++) {
                const float *src = ek_f32_tap(p, in_b, win, ky, kx);
                const float32x4_t w = vld1q_f32(filter + ((size_t)ky * p->k_w + kx) * c + oc);
                if (mult == 1) {
                    a = vaddq_f32(a, vmulq_f32(vld1q_f32(src + oc), w));
                    b = vaddq_f32(b, vmulq_f32(vld1q_f32(src + step + oc), w));
                } else {
                    a = vaddq_f32(a, vmulq_f32(vldrwq_gather_shifted_offset_f32(src, from), w));
                    b = vaddq_f32(b, vmulq_f32(vldrwq_gather_shifted_offset_f32(src + step, from), w));
                }
            }
        }
        ek_f32_mve_finish(out + oc, a, bias != NULL ? bias + oc : NULL, p->act_min, p->act_max);
        ek_f32_mve_finish(out + out2 + oc, b, bias != NULL ? bias + oc : NULL, p->act_min, p->act_max);
    }
#endif
    for (; oc + 4 <= c; oc += 4) { /* 4 output channels x 2 pixels per pass, each sum in its registers */
        const int32_t i0 = oc / mult, i1 = (oc + 1) / mult, i2 = (oc + 2) / mult, i3 = (oc + 3) / mult;
        float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f, u0 = 0.0f, u1 = 0.0f, u2 = 0.0f, u3 = 0.0f;
        for (ky = win->ky0; ky < win->ky1; ky++) {
            for (kx = win->kx0; kx < win->kx1; kx++) {
                const float *src = ek_f32_tap(p, in_b, win, ky, kx), *src2 = src + step;
                const float *w = filter + ((size_t)ky * p->k_w + kx) * c + oc;
                const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
                const float p0 = src[i0] * w0, p1 = src[i1] * w1, p2 = src[i2] * w2, p3 = src[i3] * w3;
                const float q0 = src2[i0] * w0, q1 = src2[i1] * w1, q2 = src2[i2] * w2, q3 = src2[i3] * w3;
                t0 += p0;
                t1 += p1;
                t2 += p2;
                t3 += p3;
                u0 += q0;
                u1 += q1;
                u2 += q2;
                u3 += q3;
            }
        }
        ek_f32_finish4(out + oc, t0, t1, t2, t3, bias, oc, p->act_min, p->act_max);
        ek_f32_finish4(out + out2 + oc, u0, u1, u2, u3, bias, oc, p->act_min, p->act_max);
    }
    for (; oc < c; oc++) {
        const int32_t i = oc / mult;
        float t = 0.0f, u = 0.0f;
        for (ky = win->ky0; ky < win->ky1; ky++) {
            for (kx = win->kx0; kx < win->kx1; kx++) {
                const float *src = ek_f32_tap(p, in_b, win, ky, kx);
                const float w = filter[((size_t)ky * p->k_w + kx) * c + oc];
                const float p0 = src[i] * w, q0 = src[step + i] * w;
                t += p0;
                u += q0;
            }
        }
        out[oc] = ek_f32_finish(t, bias, oc, p->act_min, p->act_max);
        out[out2 + oc] = ek_f32_finish(u, bias, oc, p->act_min, p->act_max);
    }
}

void ek_f32_conv(const ek_f32_conv_params *p, const float *in, const float *filter, const float *bias, float *out) {
    ek_f32_conv_walk(p, in, filter, bias, out, ek_f32_conv_pixel, 1);
}

void ek_f32_depthwise(const ek_f32_conv_params *p, const float *in, const float *filter, const float *bias,
                      float *out) {
    ek_f32_conv_walk(p, in, filter, bias, out, ek_f32_depthwise_pixel, 1);
}

void ek_f32_fully_connected(const float *in, const float *weights, const float *bias, float *out, int32_t batches,
                            int32_t depth, int32_t units, float act_min, float act_max) {
    int32_t b, u, d;
#if EK_F32_MVE
    const uint32x4_t rows = ek_f32_mve_rows((size_t)depth), rows_hi = vaddq_n_u32(rows, (uint32_t)(4 * depth));
#endif
    for (b = 0; b < batches; b++) {
        const float *x = in + (size_t)b * depth;
        u = 0;
#if EK_F32_MVE
        for (; u + 8 <= units; u += 8) { /* two vectors: 8 units share each input value */
            const float *w0 = weights + (size_t)u * depth;
            float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
            for (d = 0; d < depth; d++) {
                const float v = x[d];
                acc0 = vaddq_f32(acc0, vmulq_n_f32(vldrwq_gather_shifted_offset_f32(w0 + d, rows), v));
                acc1 = vaddq_f32(acc1, vmulq_n_f32(vldrwq_gather_shifted_offset_f32(w0 + d, rows_hi), v));
            }
            ek_f32_mve_finish(out + u, acc0, bias != NULL ? bias + u : NULL, act_min, act_max);
            ek_f32_mve_finish(out + u + 4, acc1, bias != NULL ? bias + u + 4 : NULL, act_min, act_max);
        }
        for (; u + 4 <= units; u += 4) { /* lanes: 4 units, weights gathered from their 4 rows */
            const float *w0 = weights + (size_t)u * depth;
            float32x4_t acc = vdupq_n_f32(0.0f);
            for (d = 0; d < depth; d++) {
                const float32x4_t w = vldrwq_gather_shifted_offset_f32(w0 + d, rows);
                acc = vaddq_f32(acc, vmulq_n_f32(w, x[d]));
            }
            ek_f32_mve_finish(out + u, acc, bias != NULL ? bias + u : NULL, act_min, act_max);
        }
#endif
        for (; u + 4 <= units; u += 4) { /* four units at a time, each summed in TFLM's order */
            const float *w0 = weights + (size_t)u * depth;
            const float *w1 = w0 + depth, *w2 = w1 + depth, *w3 = w2 + depth;
            float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
            for (d = 0; d < depth; d++) {
                const float v = x[d];
                const float p0 = v * w0[d], p1 = v * w1[d], p2 = v * w2[d], p3 = v * w3[d];
                t0 += p0;
                t1 += p1;
                t2 += p2;
                t3 += p3;
            }
            ek_f32_finish4(out + u, t0, t1, t2, t3, bias, u, act_min, act_max);
        }
        for (; u < units; u++) {
            const float *w = weights + (size_t)u * depth;
            float total = 0.0f;
            for (d = 0; d < depth; d++) {
                const float prod = x[d] * w[d];
                total += prod;
            }
            out[u] = ek_f32_finish(total, bias, u, act_min, act_max);
        }
        out += units;
    }
}
/* Pools: per output pixel the window clipped to the input, then per channel (4 channels per vector with MVE) the
 * sum, sum of squares or maximum in the window's row-major order, as TFLM. */
void ek_f32_pool(const ek_f32_pool_params *p, const float *in, float *out) {
    const int32_t ch = p->channels;
    int32_t b, oy, ox, c, ky, kx;
    for (b = 0; b < p->batches; b++) {
        const float *in_b = in + (size_t)b * p->in_h * p->in_w * ch;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            const int32_t ky0 = ek_tap_start(y0, 1), ky1 = ek_tap_end(y0, 1, p->in_h, p->k_h);
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                const int32_t kx0 = ek_tap_start(x0, 1), kx1 = ek_tap_end(x0, 1, p->in_w, p->k_w);
                const float count = (float)((ky1 - ky0) * (kx1 - kx0));
                const float *at = in_b + ((size_t)(y0 + ky0) * p->in_w + (size_t)(x0 + kx0)) * ch;
                const size_t row = (size_t)p->in_w * ch;
                c = 0;
#if EK_F32_MVE
                for (; c + 4 <= ch; c += 4) { /* lanes: 4 channels */
                    float32x4_t acc = vdupq_n_f32(p->kind == EK_F32_POOL_MAX ? -3.40282347e+38f : 0.0f);
                    for (ky = 0; ky < ky1 - ky0; ky++) {
                        const float *src = at + ky * row + c;
                        for (kx = 0; kx < kx1 - kx0; kx++, src += ch) {
                            const float32x4_t v = vld1q_f32(src);
                            if (p->kind == EK_F32_POOL_MAX) {
                                acc = vpselq_f32(v, acc, vcmpltq_f32(acc, v));
                            } else {
                                acc = vaddq_f32(acc, p->kind == EK_F32_POOL_L2 ? vmulq_f32(v, v) : v);
                            }
                        }
                    }
                    if (p->kind == EK_F32_POOL_MAX) {
                        vst1q_f32(out + c, ek_f32_mve_clamp(acc, p->act_min, p->act_max));
                    } else {
                        int32_t l;
                        vst1q_f32(out + c, acc);
                        for (l = 0; l < 4; l++) {
                            const float mean = out[c + l] / count;
                            out[c + l] = ek_f32_clamp(p->kind == EK_F32_POOL_L2 ? sqrtf(mean) : mean, p->act_min,
                                                      p->act_max);
                        }
                    }
                }
#endif
                for (; c < ch; c++) {
                    float acc = p->kind == EK_F32_POOL_MAX ? -3.40282347e+38f : 0.0f;
                    float result;
                    for (ky = 0; ky < ky1 - ky0; ky++) {
                        const float *src = at + ky * row + c;
                        for (kx = 0; kx < kx1 - kx0; kx++, src += ch) {
                            const float v = *src;
                            if (p->kind == EK_F32_POOL_MAX) {
                                acc = acc < v ? v : acc;
                            } else if (p->kind == EK_F32_POOL_L2) {
                                const float sq = v * v;
                                acc += sq;
                            } else {
                                acc += v;
                            }
                        }
                    }
                    if (p->kind == EK_F32_POOL_AVG) {
                        result = acc / count;
                    } else if (p->kind == EK_F32_POOL_L2) {
                        result = sqrtf(acc / count);
                    } else {
                        result = acc;
                    }
                    out[c] = ek_f32_clamp(result, p->act_min, p->act_max);
                }
                out += ch;
            }
        }
    }
}
