/*
 * edgekit AOT runtime: QUANTIZE and DEQUANTIZE (TFLM reference semantics).
 *
 * float -> int8/int16: q = zero_point + round(x / scale), the division in float32 and the
 * rounding half away from zero as TFLM's AffineQuantize; saturated to the output type.
 * (TFLM on x86 maps |x / scale| >= 2^31 and NaN to the type minimum; we saturate +huge to the
 * maximum and map NaN to the minimum.)
 * int8/int16/uint8 -> float: (float)(x - zero_point) * scale, which equals TFLM's double
 * product rounded to float because both factors and their product are exact in double.
 * int16 <-> int8 and int16 -> int16 requantization: mbqm(x - in_zp) + out_zp, saturated.
 * 8-bit -> 8-bit requantization (int8/uint8) is a 256-byte table: ek_lut8 in ek_activations.h.
 */
#ifndef EK_QUANTIZE_H
#define EK_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

void ek_quantize_f32_s8(const float *in, int8_t *out, size_t n, float scale, int32_t zero_point);
void ek_quantize_f32_s16(const float *in, int16_t *out, size_t n, float scale, int32_t zero_point);

void ek_dequantize_s8_f32(const int8_t *in, float *out, size_t n, float scale, int32_t zero_point);
void ek_dequantize_u8_f32(const uint8_t *in, float *out, size_t n, float scale, int32_t zero_point);
void ek_dequantize_s16_f32(const int16_t *in, float *out, size_t n, float scale, int32_t zero_point);

void ek_requantize_s16_s8(const int16_t *in, int8_t *out, size_t n, int32_t multiplier, int32_t shift,
                          int32_t input_zp, int32_t output_zp);
void ek_requantize_s8_s16(const int8_t *in, int16_t *out, size_t n, int32_t multiplier, int32_t shift,
                          int32_t input_zp, int32_t output_zp);
void ek_requantize_s16_s16(const int16_t *in, int16_t *out, size_t n, int32_t multiplier, int32_t shift,
                           int32_t input_zp, int32_t output_zp);
/* to int32 (TFLM's Requantize: no saturation left to do; the zero point is added modulo 2^32) */
void ek_requantize_s8_s32(const int8_t *in, int32_t *out, size_t n, int32_t multiplier, int32_t shift,
                          int32_t input_zp, int32_t output_zp);
void ek_requantize_s16_s32(const int16_t *in, int32_t *out, size_t n, int32_t multiplier, int32_t shift,
                           int32_t input_zp, int32_t output_zp);

/* int32 -> int8 / int16 (TFLM Requantize: the input zero point subtracted in int32). */
void ek_requantize_s32_s8(const int32_t *in, int8_t *out, size_t n, int32_t multiplier, int32_t shift,
                          int32_t input_zp, int32_t output_zp);
void ek_requantize_s32_s16(const int32_t *in, int16_t *out, size_t n, int32_t multiplier, int32_t shift,
                           int32_t input_zp, int32_t output_zp);

#endif /* EK_QUANTIZE_H */
