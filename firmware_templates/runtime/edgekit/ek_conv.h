/*
 * edgekit AOT runtime: int8 convolutions (CONV_2D incl. grouped, DEPTHWISE_CONV_2D).
 * Semantics of TFLM's reference per-channel kernels: int32 accumulation of
 * filter * (input + in_offset), optional int32 bias, per-channel requantization with
 * ek_mbqm, output offset, clamp to [act_min, act_max]. Taps that fall in the padding are skipped.
 * Layouts: input/output NHWC; CONV_2D filter [out_c][k_h][k_w][k_c]; depthwise filter [1][k_h][k_w][out_c].
 */
#ifndef EK_CONV_H
#define EK_CONV_H

#include "ek_common.h"
#include "ek_elementwise.h"
#include "ek_matmul.h"

/* Field types of ek_conv_params_t: on MVE cores (Cortex-M55/M85) the sizes are uint16 (16-bit LDRH encodings) and the
 * signed fields int16, so each struct takes 60 bytes of rodata instead of 100 (the generator checks that the values
 * fit); elsewhere int32. Every use promotes them to int. */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
typedef uint16_t ek_conv_dim_t;
typedef int16_t ek_conv_off_t;
#else
typedef int32_t ek_conv_dim_t;
typedef int32_t ek_conv_off_t;
#endif

typedef struct {
    ek_conv_dim_t batches;
    ek_conv_dim_t in_h, in_w, in_c;
    ek_conv_dim_t out_h, out_w, out_c;
    ek_conv_dim_t k_h, k_w, k_c;    /* k_c = in_c / groups (CONV_2D); 1 for depthwise */
    ek_conv_dim_t stride_h, stride_w;
    ek_conv_dim_t dil_h, dil_w;
    ek_conv_off_t pad_h, pad_w;     /* padding before the first row / column (a fused block's may be < 0) */
    ek_conv_dim_t depth_multiplier; /* depthwise only */
    ek_conv_off_t in_offset;        /* -input zero point */
    ek_conv_off_t out_offset;       /* output zero point */
    ek_conv_off_t act_min, act_max;
    const int32_t *out_mult;        /* per output channel, Q31 */
    const int8_t *out_shift;        /* per output channel, >0 = left */
    /* depthwise, depth_multiplier 1, channels % 4 == 0 (else NULL): per channel, bias + in_offset * (sum of
     * the channel's k_h * k_w filter taps), modulo 2^32: the accumulator start of pixels whose window lies
     * entirely inside the input, which then need no per-tap offset. */
    const int32_t *dw_bias_full;
    /* ek_depthwise_conv2d_s8_packed only (else NULL): per group of 4 channels, 16 int32 words:
     * [dw_bias_full x4][out_mult x4][round x4][rshift x4] with rshift = -out_shift - 1 and
     * round = 1 << (rshift - 1); every out_shift must be <= -2 (the generator checks). */
    const int32_t *dw_rq;
} ek_conv_params_t;

void ek_conv2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                  const int32_t *bias, int8_t *output);

/* CONV_2D without groups or dilation through im2col + ek_matmul_s8 (SMLAD on DSP cores). filter: the
 * ek_matmul_s8 layout of the [out_c][k_h * k_w * k_c] filter (depth zero-padded to a multiple of 4).
 * scratch: EK_CONV_IM2COL_SCRATCH bytes, 4-byte aligned. Same results as ek_conv2d_s8. */
void ek_conv2d_s8_im2col(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                         const int32_t *bias, int8_t *output, void *scratch);

/* ek_conv2d_s8_im2col with the filter pre-widened to int16 (DSP cores) through ek_matmul_s8w16: filter and rq in
 * that kernel's layouts (ek_matmul.h) of the [out_c][k_h * k_w * k_c] filter, the bias and the requantization
 * (every out_shift <= -2; p->out_mult / out_shift unused). Same scratch, same results. */
void ek_conv2d_s8_im2col_w16(const ek_conv_params_t *p, const int8_t *input, const int16_t *filter,
                             const int32_t *rq, int8_t *output, void *scratch);

/* Scratch bytes of ek_conv2d_s8_im2col: two interleaved int16 columns of depth4 = k_h*k_w*k_c rounded up to 4,
 * plus an int8 patch of depth4 unless the conv is 1x1 unpadded. */
#define EK_CONV_IM2COL_SCRATCH(k_elems, direct) \
    (4u * (((unsigned)(k_elems) + 3u) & ~3u) + ((direct) ? 0u : (((unsigned)(k_elems) + 3u) & ~3u)))

/* Depthwise with multiplier 1, in_c % 4 == 0, k_h * k_w <= EK_DW_MAX_TAPS, dw_bias_full set and scratch (in_c
 * bytes): every pixel through a table of tap pointers (padding taps read a row of input zero points), the input
 * offset folded into dw_bias_full, and the filter REGROUPED as [in_c / 4][k_h * k_w][4] (the generator does it).
 * Otherwise (scratch NULL) exactly ek_depthwise_conv2d_s8 with the plain [1][k_h][k_w][out_c] filter. */
#define EK_DW_MAX_TAPS 64
void ek_depthwise_conv2d_s8_taps(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                 const int32_t *bias, int8_t *output, void *scratch);

/* The fast path of ek_depthwise_conv2d_s8_taps alone (its conditions must hold; bias is unused: it is folded into
 * dw_bias_full), so that a model using only it links no fallback kernel. */
void ek_depthwise_conv2d_s8_fast(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                 const int32_t *bias, int8_t *output, void *scratch);

/* Depthwise for DSP cores (Thumb-2 taps with SXTB16 + SMLABB/SMLATT, SSAT, SSUB8/SEL lane clamp; portable C with
 * the same results elsewhere): the conditions of the fast path of ek_depthwise_conv2d_s8_taps, every out_shift
 * <= -2, and dw_rq set. filter: int16 weights PACKED by the generator as [in_c / 4][k_h * k_w][w0, w2, w1, w3]
 * (the lanes SXTB16 / SXTB16 ROR 8 give for the input word; 4-byte aligned), so each tap of 4 channels is one
 * 8-byte weight load; bias, input offset and requantization constants come from dw_rq (bias and
 * out_mult / out_shift are unused). scratch: in_c bytes. Same results as ek_depthwise_conv2d_s8. */
void ek_depthwise_conv2d_s8_packed(const ek_conv_params_t *p, const int8_t *input, const int16_t *filter,
                                   const int32_t *bias, int8_t *output, void *scratch);

/* CONV_2D without groups or dilation for MVE cores (Cortex-M55/M85; portable C elsewhere, same results) through
 * ek_matmul_mve_s8, one entry per code path: the generator picks the entry from the layer's geometry and its scratch
 * layout (edgekit/codegen/aot/ops/conv_mve.py), so that a model links only the paths its layers take. Each entry but
 * _1x1 takes one generated ek_conv_mve_t: the matrix kernel's q (ek_matmul.h: rows = out_c, the output offset and
 * range; depth and segments: k_w * in_c in k_h segments when segmented, k_h > 1 and k_w * in_c a multiple of 16,
 * else k_h * k_w * in_c in one run, in_c for the 1x1 entries; filter and rq: the generator's ek_matmul_mve_s8
 * layouts of the [out_c][k_h][k_w * k_c] filter and of the folded bias, bias[oc] + in_offset * sum of the filter
 * row, mod 2^32, with the per-channel requantization), the geometry in 16 bits, the strides in 8 (ek_conv_geo_t;
 * the generator checks that the values fit) and the pair kernel; it computes one image (a layer over batches: one
 * call per image, the generator's loop). Patches are im2col windows (raw int8, padding taps set to the input
 * zero point) gathered into scratch (k_elems = k_h * k_w * in_c bytes each).
 *   _1x1           1x1, unpadded, stride 1: the `pixels` pixels of all images (contiguous) in pairs read in place, all
 *                  in one call, with the generator's q (depth in_c, rows out_c, its filter and rq); no scratch.
 *   _1x1_strided   1x1, unpadded, any stride: pairs of pixels read in place, also across rows; no scratch.
 *   _1x1_rows      _1x1_strided for an even out_w: each output row's pairs in one call.
 *   _inside        not segmented, every window inside the input (no padding before, the last window row and column
 *                  inside): pixels in pairs, each window copied into one of two patches (scratch 2 * k_elems).
 *   _inside_gather _inside for a window of at most 64 bytes spanning at most 256 input bytes (k_h - 1 rows of
 *                  in_w * in_c, then k_w * in_c): each patch through up to 4 MVE byte-offset gather loads.
 *   _padded, _padded_gather  not segmented: _inside and _inside_gather over a copy of the image padded with the input
 *                  zero point (hp = (out_h - 1) * stride_h + k_h rows of wp = (out_w - 1) * stride_w + k_w pixels)
 *                  after the two patches: scratch 2 * k_elems + hp * wp * in_c (the gather bound on the copy).
 *   _patches       not segmented, any padding: every pixel through a patch, two per pair kernel pass, also across
 *                  rows; scratch 2 * k_elems.
 *   _rows          segmented: windows inside the input read in place, row by row, in runs of pairs; the others
 *                  through patches, by the scratch layout g.layout (the generator grants what the arena has room for):
 *     EK_CONV_MVE_PATCH  k_elems bytes, one patch (border pixels alone);
 *     EK_CONV_MVE_PAIRS  2 * k_elems: two patches, the patch pixels two per ek_matmul_mve_s8_x2 pass;
 *     EK_CONV_MVE_PADDED as _padded: every window inside the padded copy.
 * x2 (the entries that pair patches or pixels in one run, else NULL): the pair kernel, ek_matmul_mve_s8_x2_d32 where
 * the run's depth (k_elems; in_c for _1x1_strided) is 17..32 and no channel has a left shift, else
 * ek_matmul_mve_s8_x2 (the generator's choice: the d32 kernel is linked only by the models that use it). q.x2rq:
 * ek_mve_x2_shl if an out_shift is > 0, else ek_mve_x2_nls (ek_matmul.h). */
typedef struct {
    uint16_t in_h, in_w, in_c, out_h, out_w, k_h, k_w; /* unsigned: 16-bit LDRH / LDRB encodings */
    int16_t pad_h, pad_w;      /* padding before the first row / column (a fused block's may be < 0) */
    int16_t in_offset;         /* -input zero point */
    uint8_t stride_h, stride_w; /* 8 bits: 24 bytes in all */
    uint8_t layout;            /* _rows: EK_CONV_MVE_PATCH / _PAIRS / _PADDED */
} ek_conv_geo_t;
/* x1: the kernel of a lone column (an image's odd pixel, a border patch without a partner, the EK_CONV_MVE_PATCH
 * layout): ek_matmul_mve_s8 where the model links it anyway (the 1x1 entries' odd pixels, FULLY_CONNECTED over
 * batches), else ek_conv2d_s8_mve_x1_pair, the pair kernel on the column twice (q.x2rq set; the generator's choice). */
typedef void (*ek_mve_x1_fn)(const ek_mve_mm_t *q, const int8_t *x, int32_t seg_stride, int8_t *out);
typedef struct {
    ek_mve_mm_t q;
    ek_conv_geo_t g;
    ek_mve_x2_fn x2;
    ek_mve_x1_fn x1;
} ek_conv_mve_t;
/* Every entry but _1x1 (scratch unused by the 1x1 ones): what a fused CONV_2D + ADD block calls. */
typedef void (*ek_conv_mve_fn)(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch);
void ek_conv2d_s8_mve_x1_pair(const ek_mve_mm_t *q, const int8_t *x, int32_t seg_stride, int8_t *out);
void ek_conv2d_s8_mve_1x1(const ek_mve_mm_t *q, const int8_t *input, int8_t *output, int32_t pixels);
void ek_conv2d_s8_mve_1x1_strided(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch);
void ek_conv2d_s8_mve_1x1_rows(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch);
void ek_conv2d_s8_mve_inside(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch);
void ek_conv2d_s8_mve_inside_gather(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch);
void ek_conv2d_s8_mve_padded(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch);
void ek_conv2d_s8_mve_padded_gather(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch);
void ek_conv2d_s8_mve_patches(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch);
void ek_conv2d_s8_mve_rows(const ek_conv_mve_t *c, const int8_t *input, int8_t *output, void *scratch);
/* A CONV_2D fused with the ADD after it (edgekit/codegen/aot/fusion.py), one image: blocks of `rows` output rows of
 * conv (an entry above) into blk, each then added to the same rows of a in place, ek_add_s8_table_t(blk, a, a, ...,
 * pa) (ek_add_s8_table_n with ek_add_params in EK_SINGLE_ROUNDING builds; the generator orders pa's inputs so). A
 * block is the conv with out_h rows and pad_h - y * stride_h, or without top padding in_h - y * stride_h rows from
 * input row y * stride_h: the values of the unfused pair. */
#if EK_SINGLE_ROUNDING
typedef ek_add_params ek_conv_add_t;
#else
typedef ek_add_table_t ek_conv_add_t;
#endif
void ek_conv2d_s8_mve_add(const ek_conv_mve_t *c, ek_conv_mve_fn conv, const int8_t *input, int8_t *a,
                          void *scratch, int8_t *blk, int32_t rows, const ek_conv_add_t *pa);
#define EK_CONV_MVE_PATCH 0
#define EK_CONV_MVE_PAIRS 1
#define EK_CONV_MVE_PADDED 2

/* Depthwise for MVE cores (portable C elsewhere, same results): multiplier 1, in_c % 4 == 0, <= EK_DW_MAX_TAPS taps;
 * filter regrouped by the generator into blocks of 16 channels [tap][16], then blocks of 4 [tap][4]; dw_rq: per
 * group of 4 channels the EK_RQ_WORDS int32 of ek_matmul_mve_s8's rq (ek_matmul.h) with dw_bias_full as the
 * bias (bias, out_mult, out_shift and dw_bias_full are unused). scratch: in_c bytes. */
void ek_depthwise_conv2d_s8_mve(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                const int32_t *bias, int8_t *output, void *scratch);

/* ek_depthwise_conv2d_s8_mve for weights in [-127, 127] (TFLite's int8 weight range; the generator checks): filter
 * blocks of 16 channels, then one of 8 (if in_c & 8), then one of 4 (if in_c & 4), each [tap][width]. The 16- and
 * 8-channel blocks sum pairs of taps in int16 lanes (VMUL.I16), their rq groups permuted to channels {0,2,4,6},
 * {1,3,5,7}, {8,10,12,14}, {9,11,13,15} (16) and {0,2,4,6}, {1,3,5,7} (8). Same results. */
void ek_depthwise_conv2d_s8_mve_pairs(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                      const int32_t *bias, int8_t *output, void *scratch);
/* ek_depthwise_conv2d_s8_mve_pairs for layers whose out_shift are all <= 0 (the generator's choice): the requantization
 * skips the left shift (VSHL by 0) in the 16-channel blocks. Same results for such layers. */
void ek_depthwise_conv2d_s8_mve_pairs_nls(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                          const int32_t *bias, int8_t *output, void *scratch);
/* ek_depthwise_conv2d_s8_mve_pairs(_nls) for in_c == 8 (the generator's choice): a copy of the pixel loop without the
 * 16- and 4-channel blocks. Same results for such layers. */
void ek_depthwise_conv2d_s8_mve_pairs8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                       const int32_t *bias, int8_t *output, void *scratch);
void ek_depthwise_conv2d_s8_mve_pairs8_nls(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                           const int32_t *bias, int8_t *output, void *scratch);

/* ek_depthwise_conv2d_s8_mve_pairs for 9 taps (k_h * k_w == 9) and in_c % 16 == 0: one call per output row, the
 * filter in blocks of 16 channels [tap][16], each block's rq groups permuted to channels {0,4,8,12}, {2,6,10,14},
 * {1,5,9,13}, {3,7,11,15}; _nls: every out_shift <= -1 (no VSHL, a shorter rounding fix-up). scratch: in_c bytes.
 * Same results. Its parameters: the ek_conv_params_t fields it reads in 16 bits (40 bytes instead of 100; the
 * generator checks that they fit), dw_rq as for the pairs kernel. */
typedef struct {
    uint16_t batches, in_h, in_w, in_c, out_h, out_w, k_h, k_w; /* unsigned: 16-bit LDRH encodings */
    uint16_t stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int16_t in_offset, out_offset, act_min, act_max;
    const int32_t *dw_rq;
} ek_dw9_params_t;
void ek_depthwise_conv2d_s8_mve_t9(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                   int8_t *output, void *scratch);
void ek_depthwise_conv2d_s8_mve_t9_nls(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                       int8_t *output, void *scratch);
/* The same without the [act_min, act_max] clamp, for layers where it is the int8 range (the generator's choice). */
void ek_depthwise_conv2d_s8_mve_t9_nc(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                      int8_t *output, void *scratch);
void ek_depthwise_conv2d_s8_mve_t9_nls_nc(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                          int8_t *output, void *scratch);
/* The same for 8-channel layers (in_c == 8, stride_w 1, pad_w <= 1, out_w >= 4, the columns 1 .. out_w - 2 inside
 * horizontally): two neighbouring pixels as one 16-channel block, the filter [tap][16] and the 4 rq groups of the
 * 8 channels twice (t9 order of 16 channels mod 8). scratch: 16 bytes. Same results. */
void ek_depthwise_conv2d_s8_mve_t9x2(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                     int8_t *output, void *scratch);
void ek_depthwise_conv2d_s8_mve_t9x2_nls(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                         int8_t *output, void *scratch);
void ek_depthwise_conv2d_s8_mve_t9x2_nc(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                        int8_t *output, void *scratch);
void ek_depthwise_conv2d_s8_mve_t9x2_nls_nc(const ek_dw9_params_t *p, const int8_t *input, const int8_t *filter,
                                            int8_t *output, void *scratch);

void ek_depthwise_conv2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                            const int32_t *bias, int8_t *output);

#endif /* EK_CONV_H */
