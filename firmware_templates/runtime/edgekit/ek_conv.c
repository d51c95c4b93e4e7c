/* edgekit AOT runtime: int8 convolutions, reference and im2col (with the MVE matrix kernel on MVE cores); see
 * ek_conv.h. Depthwise convolutions are in ek_depthwise.c (scalar / DSP) and ek_depthwise_mve.c (MVE).
 * Parameters are copied into locals first: stores through int8_t pointers may alias anything, so
 * the compiler would otherwise reload every field after each output byte. */
#include "ek_conv.h"

#include "ek_matmul.h"
#include "ek_simd.h"

void ek_conv2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                  const int32_t *bias, int8_t *output) {
    const int32_t batches = p->batches, in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w, out_c = p->out_c;
    const int32_t k_h = p->k_h, k_w = p->k_w, k_c = p->k_c;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, dil_h = p->dil_h, dil_w = p->dil_w;
    const int32_t pad_h = p->pad_h, pad_w = p->pad_w;
    const int32_t in_offset = p->in_offset, out_offset = p->out_offset;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int32_t *out_mult = p->out_mult;
    const int8_t *out_shift = p->out_shift;
    const int32_t groups = in_c / k_c;
    const int32_t per_group = out_c / groups;
    const size_t filter_size = (size_t)k_h * k_w * k_c;
    int32_t b, oy, ox, g, oc, ky, kx, ic;
    for (b = 0; b < batches; b++) {
        const int8_t *in_b = input + (size_t)b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * stride_h - pad_h;
            const int32_t ky0 = ek_tap_start(iy0, dil_h);
            const int32_t ky1 = ek_tap_end(iy0, dil_h, in_h, k_h);
            for (ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * stride_w - pad_w;
                const int32_t kx0 = ek_tap_start(ix0, dil_w);
                const int32_t kx1 = ek_tap_end(ix0, dil_w, in_w, k_w);
                int8_t *out = output + (((size_t)b * out_h + oy) * out_w + ox) * out_c;
                for (g = 0; g < groups; g++) {
                    for (oc = g * per_group; oc < (g + 1) * per_group; oc++) {
                        const int8_t *f_oc = filter + (size_t)oc * filter_size;
                        int32_t acc = 0;
                        for (ky = ky0; ky < ky1; ky++) {
                            const int32_t iy = iy0 + ky * dil_h;
                            for (kx = kx0; kx < kx1; kx++) {
                                const int32_t ix = ix0 + kx * dil_w;
                                const int8_t *ip = in_b + ((size_t)iy * in_w + ix) * in_c + (size_t)g * k_c;
                                const int8_t *fp = f_oc + ((size_t)ky * k_w + kx) * k_c;
                                for (ic = 0; ic < k_c; ic++) {
                                    acc += (int32_t)fp[ic] * ((int32_t)ip[ic] + in_offset);
                                }
                            }
                        }
                        if (bias != NULL) {
                            acc += bias[oc];
                        }
                        acc = ek_mbqm(acc, out_mult[oc], out_shift[oc]) + out_offset;
                        out[oc] = (int8_t)ek_clamp_i32(acc, act_min, act_max);
                    }
                }
            }
        }
    }
}


/* im2col patch of output pixel (oy, ox) of batch image in_b: k_h x k_w x in_c int8, taps in the padding set to
 * the input zero point (so that value + in_offset == 0: TFLM skips those taps). */
/* Patch rows are often short (a few bytes for 3-channel inputs): inline word moves instead of a library call. */
EK_INLINE void copy_bytes(int8_t *dst, const int8_t *src, size_t n) {
    size_t k = 0;
#if EK_HAVE_MVE
    for (k = n >> 4; k > 0; k--, src += 16, dst += 16) { /* 16 bytes per load / store, a predicated tail */
        vstrbq_s8(dst, vldrbq_s8(src));
    }
    if (n & 15) {
        const mve_pred16_t pr = vctp8q((uint32_t)(n & 15));
        vstrbq_p_s8(dst, vldrbq_z_s8(src, pr), pr);
    }
    return;
#endif
    if (n >= 32) {
        memcpy(dst, src, n);
        return;
    }
    for (; k + 4 <= n; k += 4) {
        ek_st32(dst + k, ek_ld32(src + k));
    }
    for (; k < n; k++) {
        dst[k] = src[k];
    }
}

EK_INLINE void fill_bytes(int8_t *dst, uint32_t word, size_t n) {
    size_t k = 0;
#if EK_HAVE_MVE
    const int8x16_t v = vdupq_n_s8((int8_t)word);
    for (; k + 16 <= n; k += 16) {
        vstrbq_s8(dst + k, v);
    }
    if (k < n) {
        vstrbq_p_s8(dst + k, v, vctp8q((uint32_t)(n - k)));
    }
    return;
#endif
    for (; k + 4 <= n; k += 4) {
        ek_st32(dst + k, word);
    }
    for (; k < n; k++) {
        dst[k] = (int8_t)word;
    }
}

static void gather_patch(const ek_conv_params_t *p, const int8_t *in_b, int32_t oy, int32_t ox, int8_t *patch) {
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, k_h = p->k_h, k_w = p->k_w;
    const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
    const int32_t kx0 = ek_tap_start(ix0, 1), kx1 = ek_tap_end(ix0, 1, in_w, k_w);
    const uint32_t zp4 = ((uint32_t)(uint8_t)(int8_t)-p->in_offset) * 0x01010101u;
    const size_t row = (size_t)k_w * in_c;
    int32_t ky;
    for (ky = 0; ky < k_h; ky++) {
        const int32_t iy = iy0 + ky;
        int8_t *dst = patch + (size_t)ky * row;
        if (iy < 0 || iy >= in_h || kx1 <= kx0) {
            fill_bytes(dst, zp4, row);
            continue;
        }
        if (kx0 > 0) {
            fill_bytes(dst, zp4, (size_t)kx0 * in_c);
        }
        copy_bytes(dst + (size_t)kx0 * in_c, in_b + ((size_t)iy * in_w + ix0 + kx0) * in_c,
                   (size_t)(kx1 - kx0) * in_c);
        if (kx1 < k_w) {
            fill_bytes(dst + (size_t)kx1 * in_c, zp4, (size_t)(k_w - kx1) * in_c);
        }
    }
}

/* The im2col loop of ek_conv2d_s8_im2col (w16 0: filter8) and ek_conv2d_s8_im2col_w16 (w16 1: filter16): inlined
 * into each with w16 a constant, so a model links only the matrix kernel it uses. */
EK_INLINE void im2col_run(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter8,
                          const int16_t *filter16, const int32_t *bias, int8_t *output, void *scratch, const int w16) {
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c;
    const int32_t out_h = p->out_h, out_w = p->out_w, out_c = p->out_c;
    const int32_t stride_h = p->stride_h, stride_w = p->stride_w, in_offset = p->in_offset;
    const int32_t depth = p->k_h * p->k_w * in_c, depth4 = (depth + 3) & ~3;
    const int32_t per_image = out_h * out_w, total = p->batches * per_image;
    const int direct = p->k_h == 1 && p->k_w == 1 && p->pad_h == 0 && p->pad_w == 0;
    int16_t *cols = (int16_t *)scratch;
    int8_t *patch = (int8_t *)(cols + 2 * depth4);
    ek_matmul_t q;
    int32_t i;
    q.depth = depth4;
    q.rows = out_c;
    q.out_offset = p->out_offset;
    q.act_min = p->act_min;
    q.act_max = p->act_max;
    q.mult_stride = 1;
    q.out_mult = p->out_mult;
    q.out_shift = p->out_shift;
    for (i = 0; i < total; i += 2) {
        const int32_t n = total - i >= 2 ? 2 : 1;
        int32_t j;
        for (j = 0; j < n; j++) {
            const int32_t b = (i + j) / per_image, pix = (i + j) - b * per_image;
            const int32_t oy = pix / out_w, ox = pix - oy * out_w;
            const int8_t *in_b = input + (size_t)b * in_h * in_w * in_c;
            const int8_t *src;
            if (direct) {
                src = in_b + ((size_t)oy * stride_h * in_w + (size_t)ox * stride_w) * in_c;
            } else {
                gather_patch(p, in_b, oy, ox, patch);
                src = patch;
            }
            ek_widen_s8_reordered(src, cols + 2 * j, depth, in_offset, 4 * n, 2 * n);
        }
        if (w16) {
            ek_matmul_s8w16(&q, cols, n, filter16, bias /* the rq words */, output + (size_t)i * out_c,
                            output + (size_t)(i + n - 1) * out_c);
        } else {
            ek_matmul_s8(&q, cols, n, filter8, bias, output + (size_t)i * out_c,
                         output + (size_t)(i + n - 1) * out_c);
        }
    }
}

void ek_conv2d_s8_im2col(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                         const int32_t *bias, int8_t *output, void *scratch) {
    im2col_run(p, input, filter, NULL, bias, output, scratch, 0);
}

void ek_conv2d_s8_im2col_w16(const ek_conv_params_t *p, const int8_t *input, const int16_t *filter,
                             const int32_t *rq, int8_t *output, void *scratch) {
    im2col_run(p, input, NULL, filter, rq, output, scratch, 1);
}

/* ---- ek_conv2d_s8_mve_*: one entry per code path, chosen by the generator from the layer's geometry (ek_conv.h),
 * so that a model links only the paths its layers take. They read the 16-bit ek_conv_geo_t g and the generated
 * matrix kernel parameters q of their ek_conv_mve_t. */

/* gather_patch for the MVE entries, over their geometry (the im2col path keeps its own): the k_h x k_w x in_c window
 * at input row iy0, column ix0 of image in_b into patch, taps outside the in_h x in_w image set to the input zero
 * point (-in_offset). Its scalar arguments (not g's 16-bit fields) make the fewest instructions. */
EK_INLINE void gather_window(const int8_t *in_b, int32_t iy0, int32_t ix0, int32_t in_h, int32_t in_w, int32_t in_c,
                             int32_t k_h, int32_t k_w, int32_t in_offset, int8_t *patch) {
    const int32_t kx0 = ek_tap_start(ix0, 1), kx1 = ek_tap_end(ix0, 1, in_w, k_w);
    const uint32_t zp4 = ((uint32_t)(uint8_t)(int8_t)-in_offset) * 0x01010101u;
    const size_t row = (size_t)k_w * in_c;
    int32_t ky;
    for (ky = 0; ky < k_h; ky++) {
        const int32_t iy = iy0 + ky;
        int8_t *dst = patch + (size_t)ky * row;
        if (iy < 0 || iy >= in_h || kx1 <= kx0) {
            fill_bytes(dst, zp4, row);
            continue;
        }
        if (kx0 > 0) {
            fill_bytes(dst, zp4, (size_t)kx0 * in_c);
        }
        copy_bytes(dst + (size_t)kx0 * in_c, in_b + ((size_t)iy * in_w + ix0 + kx0) * in_c,
                   (size_t)(kx1 - kx0) * in_c);
        if (kx1 < k_w) {
            fill_bytes(dst + (size_t)kx1 * in_c, zp4, (size_t)(k_w - kx1) * in_c);
        }
    }
}

static void mve_gather(const ek_conv_geo_t *g, const int8_t *in_b, int32_t oy, int32_t ox, int8_t *patch) {
    gather_window(in_b, oy * g->stride_h - g->pad_h, ox * g->stride_w - g->pad_w, g->in_h, g->in_w, g->in_c, g->k_h,
                  g->k_w, g->in_offset, patch);
}

/* The k_h rows of k_w * in_c bytes of a window inside the input (at win) into patch, one after the other: one
 * predicated 16-byte move per row of at most 16 bytes, no padding checks. */
EK_INLINE void copy_window(const ek_conv_geo_t *g, const int8_t *win, int8_t *patch) {
    const int32_t k_h = g->k_h, run = g->k_w * g->in_c, in_row = g->in_w * g->in_c;
    int32_t ky;
#if EK_HAVE_MVE
    if (run <= 16) {
        const mve_pred16_t pr = vctp8q((uint32_t)run);
        for (ky = 0; ky < k_h; ky++) {
            vstrbq_p_s8(patch + (size_t)ky * run, vldrbq_z_s8(win + (size_t)ky * in_row, pr), pr);
        }
        return;
    }
#endif
    for (ky = 0; ky < k_h; ky++) {
        copy_bytes(patch + (size_t)ky * run, win + (size_t)ky * in_row, (size_t)run);
    }
}

/* The im2col patch of output pixel (oy, ox): a window inside the input (rows_inside: its k_h rows lie inside)
 * copied row by row, else gathered with the padding. */
static void mve_patch(const ek_conv_geo_t *g, const int8_t *in_b, int32_t oy, int32_t ox, int rows_inside,
                      int8_t *patch) {
    const int32_t ix0 = ox * g->stride_w - g->pad_w;
    if (rows_inside && ix0 >= 0 && ix0 + g->k_w <= g->in_w) {
        copy_window(g, in_b + (size_t)(oy * g->stride_h - g->pad_h) * g->in_w * g->in_c + (size_t)ix0 * g->in_c,
                    patch);
    } else {
        mve_gather(g, in_b, oy, ox, patch);
    }
}

/* An im2col patch for the segmented pixel loop into a slot whose signature sig (1 + kx0 + 256 * kx1 of the last
 * patch gathered there with all its rows inside, else 0) tells whether its padding columns already hold the input
 * zero point: then only the taps inside are copied, row by row (the left / right border pixels of inner rows land
 * in the same slot row after row). */
static void slot_patch(const ek_conv_geo_t *g, const int8_t *in_b, int32_t oy, int32_t ox, int rows_inside,
                       int8_t *slot, int32_t *sig) {
    const int32_t in_c = g->in_c, ix0 = ox * g->stride_w - g->pad_w;
    const int32_t kx0 = ek_tap_start(ix0, 1), kx1 = ek_tap_end(ix0, 1, g->in_w, g->k_w);
    const int32_t s = rows_inside ? 1 + kx0 + 256 * kx1 : 0;
    if (s != 0 && s == *sig) {
        const int32_t run = g->k_w * in_c, in_row = g->in_w * in_c;
        const int8_t *src = in_b + (size_t)(oy * g->stride_h - g->pad_h) * in_row + (size_t)(ix0 + kx0) * in_c;
        int32_t ky;
        for (ky = 0, slot += (size_t)kx0 * in_c; ky < g->k_h; ky++, slot += run, src += in_row) {
            copy_bytes(slot, src, (size_t)(kx1 - kx0) * in_c);
        }
    } else {
        mve_gather(g, in_b, oy, ox, slot);
        *sig = s;
    }
}

/* The image of the windowed entries: the input itself, or (padded) a copy into `buf` of the image padded with the
 * input zero point (the patch of one image-sized window), *gi then the copy's geometry (in gp). */
EK_INLINE const int8_t *mve_image(const ek_conv_geo_t *g, const int8_t *input, const int padded, int8_t *buf,
                                  ek_conv_geo_t *gp, const ek_conv_geo_t **gi) {
    *gi = g;
    if (padded) {
        *gp = *g;
        gp->k_h = (g->out_h - 1) * g->stride_h + g->k_h;
        gp->k_w = (g->out_w - 1) * g->stride_w + g->k_w;
        mve_gather(gp, input, 0, 0, buf);
        gp->in_h = gp->k_h;
        gp->in_w = gp->k_w;
        gp->k_h = g->k_h;
        gp->k_w = g->k_w;
        gp->pad_h = 0;
        gp->pad_w = 0;
        *gi = gp;
        return buf;
    }
    return input;
}

void ek_conv2d_s8_mve_1x1(const ek_mve_mm_t *q, const int8_t *input, int8_t *output, int32_t pixels) {
    const int32_t in_c = q->depth, out_c = q->rows;
    if (pixels >= 2) { /* contiguous pixels: all pairs in one call */
        ek_matmul_mve_s8_x2n(q, input, input + in_c, 0, output, output + out_c, pixels >> 1, 2 * in_c, 2 * out_c);
    }
    if (pixels & 1) {
        ek_matmul_mve_s8(q, input + (size_t)(pixels - 1) * in_c, 0, output + (size_t)(pixels - 1) * out_c);
    }
}

void ek_conv2d_s8_mve_1x1_strided(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch) {
    const ek_conv_geo_t *g = &c->g;
    const ek_mve_mm_t *q = &c->q;
    const int32_t in_c = g->in_c, out_c = q->rows, out_w = g->out_w, pixels = g->out_h * out_w;
    const int32_t step = g->stride_w * in_c, row_step = g->stride_h * g->in_w * in_c;
    const ek_mve_x2_fn x2 = c->x2;
    const int8_t *row = input, *x = row, *x1;
    int32_t pix, ox;
    (void)scratch;
    for (pix = 0, ox = 0; pix + 2 <= pixels; pix += 2, output += 2 * out_c) { /* pixels in pairs, also across rows */
        if (++ox == out_w) {
            ox = 0;
            row += row_step;
            x1 = row;
        } else {
            x1 = x + step;
        }
        x2(q, x, x1, 0, output, output + out_c);
        if (++ox == out_w) {
            ox = 0;
            row += row_step;
            x = row;
        } else {
            x = x1 + step;
        }
    }
    if (pix < pixels) {
        ek_matmul_mve_s8(q, x, 0, output);
    }
}

void ek_conv2d_s8_mve_1x1_rows(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch) {
    const ek_conv_geo_t *g = &c->g;
    const ek_mve_mm_t *q = &c->q;
    const int32_t in_c = g->in_c, out_c = q->rows, out_w = g->out_w, step = g->stride_w * in_c;
    const int32_t row_step = g->stride_h * g->in_w * in_c;
    const int8_t *x = input;
    int32_t oy;
    (void)scratch;
    for (oy = 0; oy < g->out_h; oy++, x += row_step, output += out_w * out_c) { /* each row's pairs in one call */
        ek_matmul_mve_s8_x2n(q, x, x + step, 0, output, output + out_c, out_w >> 1, 2 * step, 2 * out_c);
    }
}

/* Every window of the image inside it: pixels in pairs, also across rows, each window copied into one of two
 * patch slots; with gather (a window of at most 64 bytes spanning at most 256, MVE) 16 bytes per gather load
 * through byte offsets. */
EK_INLINE void mve_inside(const ek_conv_geo_t *g, const ek_mve_mm_t *q, const int8_t *in_b, int8_t *out,
                          int8_t *patch, const int gather, ek_mve_x2_fn x2, ek_mve_x1_fn x1) {
    const int32_t in_c = g->in_c, out_w = g->out_w, out_c = q->rows, pixels = g->out_h * out_w;
    const int32_t run = g->k_w * in_c, in_row = g->in_w * in_c;
    const size_t k_elems = (size_t)g->k_h * run;
    const int8_t *row = in_b, *win = in_b;
    int32_t i, j, ox;
#if EK_HAVE_MVE
    uint8_t offs[64];
    uint8x16_t o0 = vdupq_n_u8(0), o1 = o0, o2 = o0, o3 = o0;
    mve_pred16_t p0 = 0, p1 = 0, p2 = 0, p3 = 0;
    if (gather) {
        for (i = 0, j = 0, ox = 0; i < (int32_t)sizeof offs; i++) { /* j: window row, ox: byte in the row */
            offs[i] = i < (int32_t)k_elems ? (uint8_t)(j * in_row + ox) : 0u;
            if (++ox == run) {
                ox = 0;
                j++;
            }
        }
        o0 = vldrbq_u8(offs);
        o1 = vldrbq_u8(offs + 16);
        o2 = vldrbq_u8(offs + 32);
        o3 = vldrbq_u8(offs + 48);
        p0 = vctp8q((uint32_t)k_elems);
        p1 = vctp8q(k_elems > 16 ? (uint32_t)k_elems - 16u : 0u);
        p2 = vctp8q(k_elems > 32 ? (uint32_t)k_elems - 32u : 0u);
        p3 = vctp8q(k_elems > 48 ? (uint32_t)k_elems - 48u : 0u);
    }
#endif
    for (i = 0, ox = 0, j = 0; i < pixels; i++) {
        int8_t *slot = patch + j * k_elems;
#if EK_HAVE_MVE
        if (gather) {
            vstrbq_p_s8(slot, vldrbq_gather_offset_s8(win, o0), p0);
            if (k_elems > 16) {
                vstrbq_p_s8(slot + 16, vldrbq_gather_offset_s8(win, o1), p1);
                if (k_elems > 32) {
                    vstrbq_p_s8(slot + 32, vldrbq_gather_offset_s8(win, o2), p2);
                    vstrbq_p_s8(slot + 48, vldrbq_gather_offset_s8(win, o3), p3);
                }
            }
        } else
#endif
        {
            copy_window(g, win, slot);
        }
        if (++ox == out_w) {
            ox = 0;
            row += g->stride_h * in_row;
            win = row;
        } else {
            win += g->stride_w * in_c;
        }
        if (j) {
            x2(q, patch, patch + k_elems, run, out, out + out_c);
            out += 2 * out_c;
        }
        j ^= 1;
    }
    if (j) {
        x1(q, patch, run, out);
    }
    (void)gather;
}

/* The windowed pixel loop over one image: segmented (rows_in_place) windows inside the input read in place in runs
 * of pairs, every other pixel through an im2col patch; with two patch slots (pairs) the patch pixels run two per
 * pass, also across output rows (the left and right border pixels of a row together, an odd pixel with the next
 * row's first). */
EK_INLINE void mve_windows(const ek_conv_geo_t *g, const ek_mve_mm_t *q, const int8_t *in_b, int8_t *out,
                           int8_t *patch, int pairs, const int rows_in_place, ek_mve_x2_fn x2, ek_mve_x1_fn x1) {
    const int32_t in_h = g->in_h, in_w = g->in_w, in_c = g->in_c, out_h = g->out_h, out_w = g->out_w;
    const int32_t out_c = q->rows, stride_h = g->stride_h, stride_w = g->stride_w, k_h = g->k_h, k_w = g->k_w;
    const int32_t run = k_w * in_c, in_row = in_w * in_c, pad_h = g->pad_h, pad_w = g->pad_w;
    const size_t k_elems = (size_t)k_h * run;
    int8_t *pending = NULL; /* a patch pixel's output waiting in slot 0 for a partner */
    int32_t sig[2] = {0, 0}; /* the slots' slot_patch signatures */
    int32_t oy, ox;
    for (oy = 0; oy < out_h; oy++) {
        const int32_t iy0 = oy * stride_h - pad_h;
        const int rows_inside = iy0 >= 0 && iy0 + k_h <= in_h;
        for (ox = 0; ox < out_w; ox++, out += out_c) {
            const int32_t ix0 = ox * stride_w - pad_w;
            if (rows_in_place && rows_inside && ix0 >= 0 && ox + 1 < out_w && ix0 + stride_w + k_w <= in_w) {
                /* pairs of windows inside the input, side by side, their rows read in place: all the pairs
                 * up to the right border in one call */
                const int8_t *win = in_b + (size_t)iy0 * in_row + (size_t)ix0 * in_c;
                const int32_t last = (in_w - k_w + pad_w) / stride_w; /* the last window inside */
                const int32_t n = ((last < out_w - 1 ? last : out_w - 1) - ox + 1) >> 1;
                ek_matmul_mve_s8_x2n(q, win, win + (size_t)stride_w * in_c, in_row, out, out + out_c, n,
                                     2 * stride_w * in_c, 2 * out_c);
                ox += 2 * n - 1;
                out += (size_t)(2 * n - 1) * out_c;
            } else if (rows_in_place && rows_inside && ix0 >= 0 && ix0 + k_w <= in_w && !pairs) {
                x1(q, in_b + (size_t)iy0 * in_row + (size_t)ix0 * in_c, in_row, out);
            } else if (pending != NULL) { /* the second patch of a pair */
                if (rows_in_place) {
                    slot_patch(g, in_b, oy, ox, rows_inside, patch + k_elems, &sig[1]);
                } else {
                    mve_patch(g, in_b, oy, ox, rows_inside, patch + k_elems);
                }
                x2(q, patch, patch + k_elems, run, pending, out);
                pending = NULL;
            } else {
                if (rows_in_place) {
                    slot_patch(g, in_b, oy, ox, rows_inside, patch, &sig[0]);
                } else {
                    mve_patch(g, in_b, oy, ox, rows_inside, patch);
                }
                if (pairs) {
                    pending = out;
                } else {
                    x1(q, patch, run, out);
                }
            }
        }
    }
    if (pending != NULL) {
        x1(q, patch, run, pending);
    }
}

/* What a windowed entry does (mve_conv's how): */
#define MVE_SEGMENTED 1u /* the pixel loop reads each window's rows in place (segments; else a gathered patch) */
#define MVE_PADDED 2u    /* the windows come from a zero-point-padded copy of the image, after the patch slots */
#define MVE_INSIDE 4u    /* the inside loop (every window inside the image); else the pixel loop */
#define MVE_GATHER 8u    /* the inside loop gathers each window with MVE gather loads */
#define MVE_PAIRS 16u    /* the pixel loop runs its patches in pairs (two patch slots) */

/* The windowed entries (one image): mve_inside or mve_windows over the image or its padded copy, as ``how`` says
 * (MVE_* flags: constants in every entry but _rows, so each inlined copy keeps only its path). */
EK_INLINE void mve_conv(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch, const uint32_t how,
                        ek_mve_x2_fn x2) {
    const ek_conv_geo_t *g = &c->g, *gi;
    int8_t *patch = (int8_t *)scratch;
    ek_conv_geo_t gp; /* the padded image's geometry */
    const int8_t *in_b = mve_image(g, input, (how & MVE_PADDED) != 0, patch + 2 * (size_t)g->k_h * g->k_w * g->in_c,
                                   &gp, &gi);
    if (how & MVE_INSIDE) {
        mve_inside(gi, &c->q, in_b, output, patch, (how & MVE_GATHER) != 0, x2, c->x1);
    } else {
        mve_windows(gi, &c->q, in_b, output, patch, (how & MVE_PAIRS) != 0, (how & MVE_SEGMENTED) != 0, x2, c->x1);
    }
}

void ek_conv2d_s8_mve_inside(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch) {
    mve_conv(c, input, output, scratch, MVE_INSIDE | MVE_PAIRS, c->x2);
}

void ek_conv2d_s8_mve_inside_gather(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch) {
    mve_conv(c, input, output, scratch, MVE_INSIDE | MVE_GATHER | MVE_PAIRS, c->x2);
}

void ek_conv2d_s8_mve_padded(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch) {
    mve_conv(c, input, output, scratch, MVE_PADDED | MVE_INSIDE | MVE_PAIRS, c->x2);
}

void ek_conv2d_s8_mve_padded_gather(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch) {
    mve_conv(c, input, output, scratch, MVE_PADDED | MVE_INSIDE | MVE_GATHER | MVE_PAIRS, c->x2);
}

void ek_conv2d_s8_mve_patches(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch) {
    mve_conv(c, input, output, scratch, MVE_PAIRS, c->x2);
}

void ek_conv2d_s8_mve_rows(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch) {
    const int32_t layout = c->g.layout;
    const uint32_t how = MVE_SEGMENTED | (layout == EK_CONV_MVE_PADDED ? MVE_PADDED : 0u) |
                         (layout != EK_CONV_MVE_PATCH ? MVE_PAIRS : 0u);
    mve_conv(c, input, output, scratch, how, ek_matmul_mve_s8_x2);
}

void ek_conv2d_s8_mve_x1_pair(const ek_mve_mm_t *q, const int8_t *x, int32_t seg_stride, int8_t *out) {
    ek_matmul_mve_s8_x2(q, x, x, seg_stride, out, out);
}

void ek_conv2d_s8_mve_add(const ek_conv_mve_t *c, ek_conv_mve_fn conv, const int8_t *input, int8_t *a,
                          void *scratch, int8_t *blk, int32_t rows, const ek_conv_add_t *pa) {
    const int32_t out_h = c->g.out_h, stride_h = c->g.stride_h, row_bytes = c->g.out_w * c->q.rows;
    const size_t in_step = (size_t)stride_h * c->g.in_w * c->g.in_c;
    ek_conv_mve_t cb = *c; /* the block's parameters */
    int32_t y;
    for (y = 0; y < out_h; y += rows, a += (size_t)rows * row_bytes) {
        const int32_t n = out_h - y < rows ? out_h - y : rows;
        const int8_t *in = input;
        cb.g.out_h = (uint16_t)n;
        if (c->g.pad_h == 0) { /* no top padding: move the input down (keeps 1x1 convs on their direct path) */
            cb.g.in_h = (uint16_t)(c->g.in_h - y * stride_h);
            in += (size_t)y * in_step;
        } else {
            cb.g.pad_h = (int16_t)(c->g.pad_h - y * stride_h);
        }
        conv(&cb, in, blk, scratch);
#if EK_SINGLE_ROUNDING
        ek_add_s8_table_n(blk, a, a, n * row_bytes, pa);
#else
        ek_add_s8_table_t(blk, a, a, n * row_bytes, pa);
#endif
    }
}
