/* edgekit AOT runtime: what the depthwise kernels share between ek_depthwise.c and ek_depthwise_mve.c. */
#ifndef EK_DEPTHWISE_INTERNAL_H
#define EK_DEPTHWISE_INTERNAL_H

#include <stdint.h>

#include "ek_conv.h"

/* `npix` output pixels along a row (see depthwise_pixels in ek_depthwise.c). */
typedef void (*ek_dw_pixels_fn)(const ek_conv_params_t *, uintptr_t, const intptr_t *, int32_t, const void *,
                                int8_t *, int32_t, intptr_t);

/* Depthwise, multiplier 1, ch % 4 == 0, k_h * k_w <= EK_DW_MAX_TAPS, with dw_bias_full: the walk over output
 * pixels that shares offset tables between runs of inner pixels, calling `pixels` for each run. */
void ek_depthwise_taps(const ek_conv_params_t *p, const int8_t *input, const void *filter, int8_t *output,
                       int8_t *zp_row, ek_dw_pixels_fn pixels);

#endif
