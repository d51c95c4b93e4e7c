/*
 * edgekit AOT runtime: RESIZE_NEAREST_NEIGHBOR (any element size) and int8 RESIZE_BILINEAR on NHWC
 * tensors, TFLM reference semantics (reference_ops::ResizeNearestNeighbor, ResizeBilinearInteger).
 *
 * The generator computes the source rows and columns (TFLM's float / 10-bit fixed-point arithmetic,
 * align_corners, half_pixel_centers) into tables; the kernels only move and blend pixels.
 * Nearest: ys[out_h], xs[out_w] are input row / column indices.
 * Bilinear: ys[3 * out_h] = {y0, y1, fy} per output row, xs likewise, fy the 10-bit fraction
 * input_y - 1024 * y0; out = (sum of the four pixels weighted (1024 - f) / f) / 2^20 rounded like
 * TFLM (EK_SINGLE_ROUNDING selects its single-rounding variant).
 */
#ifndef EK_RESIZE_H
#define EK_RESIZE_H

#include "ek_common.h"

typedef struct {
    int32_t batch, in_h, in_w, out_h, out_w;
    int32_t depth;        /* channels */
    int32_t elem_size;    /* bytes per channel value (nearest only; bilinear is int8) */
} ek_resize_params_t;

void ek_resize_nearest(const ek_resize_params_t *p, const int32_t *ys, const int32_t *xs, const void *input,
                       void *output);
void ek_resize_bilinear_s8(const ek_resize_params_t *p, const int32_t *ys, const int32_t *xs, const int8_t *input,
                           int8_t *output);

#endif /* EK_RESIZE_H */
