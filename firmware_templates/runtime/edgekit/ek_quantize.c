/* edgekit AOT runtime: QUANTIZE / DEQUANTIZE (see ek_quantize.h). */
#include "ek_quantize.h"

#include "ek_common.h"

/* round(x / scale) as an int32, x / scale clamped to +-65536 first (beyond every 16-bit result). */
static int32_t ek_round_div(float x, float scale) {
    float q = x / scale;
    int32_t t;
    float r;
    if (!(q >= -65536.0f)) {
        q = -65536.0f; /* also NaN */
    } else if (q > 65536.0f) {
        q = 65536.0f;
    }
    t = (int32_t)q;      /* truncation toward zero */
    r = q - (float)t;    /* exact: |q| < 2^24 */
    if (r >= 0.5f) {
        t++;
    } else if (r <= -0.5f) {
        t--;
    }
    return t;
}

void ek_quantize_f32_s8(const float *in, int8_t *out, size_t n, float scale, int32_t zero_point) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = ek_sat_i8(ek_round_div(in[i], scale) + zero_point);
    }
}

void ek_quantize_f32_s16(const float *in, int16_t *out, size_t n, float scale, int32_t zero_point) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = ek_sat_i16(ek_round_div(in[i], scale) + zero_point);
    }
}

void ek_dequantize_s8_f32(const int8_t *in, float *out, size_t n, float scale, int32_t zero_point) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = (float)((int32_t)in[i] - zero_point) * scale;
    }
}

void ek_dequantize_u8_f32(const uint8_t *in, float *out, size_t n, float scale, int32_t zero_point) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = (float)((int32_t)in[i] - zero_point) * scale;
    }
}

void ek_dequantize_s16_f32(const int16_t *in, float *out, size_t n, float scale, int32_t zero_point) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = (float)((int32_t)in[i] - zero_point) * scale;
    }
}

void ek_requantize_s16_s8(const int16_t *in, int8_t *out, size_t n, int32_t multiplier, int32_t shift,
                          int32_t input_zp, int32_t output_zp) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = ek_sat_i8(ek_mbqm((int32_t)in[i] - input_zp, multiplier, (int)shift) + output_zp);
    }
}

void ek_requantize_s8_s16(const int8_t *in, int16_t *out, size_t n, int32_t multiplier, int32_t shift,
                          int32_t input_zp, int32_t output_zp) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = ek_sat_i16(ek_mbqm((int32_t)in[i] - input_zp, multiplier, (int)shift) + output_zp);
    }
}

void ek_requantize_s16_s16(const int16_t *in, int16_t *out, size_t n, int32_t multiplier, int32_t shift,
                           int32_t input_zp, int32_t output_zp) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = ek_sat_i16(ek_mbqm((int32_t)in[i] - input_zp, multiplier, (int)shift) + output_zp);
    }
}

void ek_requantize_s8_s32(const int8_t *in, int32_t *out, size_t n, int32_t multiplier, int32_t shift,
                          int32_t input_zp, int32_t output_zp) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = (int32_t)((uint32_t)ek_mbqm((int32_t)in[i] - input_zp, multiplier, (int)shift) + (uint32_t)output_zp);
    }
}

void ek_requantize_s16_s32(const int16_t *in, int32_t *out, size_t n, int32_t multiplier, int32_t shift,
                           int32_t input_zp, int32_t output_zp) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = (int32_t)((uint32_t)ek_mbqm((int32_t)in[i] - input_zp, multiplier, (int)shift) + (uint32_t)output_zp);
    }
}

/* int32 -> int8 / int16 (TFLM Requantize: the zero point subtracted in int32). */
void ek_requantize_s32_s8(const int32_t *in, int8_t *out, size_t n, int32_t multiplier, int32_t shift,
                          int32_t input_zp, int32_t output_zp) {
    size_t i;
    for (i = 0; i < n; i++) {
        const int32_t x = (int32_t)((uint32_t)in[i] - (uint32_t)input_zp);
        out[i] = ek_sat_i8(ek_mbqm(x, multiplier, (int)shift) + output_zp);
    }
}

void ek_requantize_s32_s16(const int32_t *in, int16_t *out, size_t n, int32_t multiplier, int32_t shift,
                           int32_t input_zp, int32_t output_zp) {
    size_t i;
    for (i = 0; i < n; i++) {
        const int32_t x = (int32_t)((uint32_t)in[i] - (uint32_t)input_zp);
        out[i] = ek_sat_i16(ek_mbqm(x, multiplier, (int)shift) + output_zp);
    }
}
