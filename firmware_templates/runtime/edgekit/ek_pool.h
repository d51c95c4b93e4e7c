/*
 * edgekit AOT runtime: int8 AVERAGE_POOL_2D and MAX_POOL_2D (TFLM reference semantics).
 * Windows are clipped to the input (padding is never counted); the average rounds half away
 * from zero; input and output share scale and zero point.
 */
#ifndef EK_POOL_H
#define EK_POOL_H

#include "ek_common.h"

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;
    int32_t act_min, act_max;
} ek_pool_params_t;

/* Returns EK_ERR_EMPTY_WINDOW (like TFLM) when a window has no input element. */
int ek_avgpool_s8(const ek_pool_params_t *p, const int8_t *input, int8_t *output);
/* AVERAGE_POOL_2D over each whole image (k_h == in_h, k_w == in_w, no padding: one output pixel of `channels`
 * per image of `pixels` = in_h * in_w), without the window arithmetic of ek_avgpool_s8 (the generator's choice on
 * MVE cores, where pixels must be <= 255: int16 vector sums). Same results. */
void ek_avgpool_s8_global(const int8_t *input, int8_t *output, int32_t batches, int32_t pixels, int32_t channels,
                          int32_t act_min, int32_t act_max);

void ek_maxpool_s8(const ek_pool_params_t *p, const int8_t *input, int8_t *output);

#endif /* EK_POOL_H */
