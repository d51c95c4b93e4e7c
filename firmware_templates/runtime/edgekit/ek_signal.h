/*
 * edgekit AOT runtime: the audio front-end ops of TFLM's signal library (custom ops Signal*), integer math as
 * TFLM's kernels compute it, so results match the TFLM interpreter bit for bit.
 *
 * - window: out = sat16((x * w) >> shift), the window repeated over the input.
 * - fft_auto_scale: shift the frame left so its largest magnitude uses 15 bits; returns the shift.
 * - rfft_s16: fixed-point (Q15) real FFT of fft_length = 2 * n points via an n-point complex FFT (mixed radix 4/2,
 *   each butterfly stage divides by its radix with rounding) plus the real-split post-processing; the twiddles
 *   (round(32767 * cos/sin)) come from the generator. Output n + 1 complex int16 values.
 * - energy: re^2 + im^2 for bins start..end-1 (the others are left untouched, as in TFLM).
 * - filter_bank: triangular weighted sums of the energies into uint64 channels.
 * - filter_bank_sqrt: integer square root (rounded) >> scale bits.
 * - spectral_subtraction: per-channel noise estimate (state kept across invocations) subtracted with a floor.
 * - pcan: per-channel automatic gain control with a gain table.
 * - filter_bank_log: fixed-point natural log * output_scale, saturated to int16.
 * - delay, framer, stacker: sample FIFOs kept across invocations (state arrays owned by the generated code, zero at
 *   start); framer / stacker set *valid to 0 when no full frame / stack is buffered yet (the output is then left
 *   untouched, as TFLM leaves it).
 */
#ifndef EK_SIGNAL_H
#define EK_SIGNAL_H

#include "ek_common.h"

void ek_signal_window(const int16_t *input, const int16_t *window, int32_t size, int32_t window_size, int32_t shift,
                      int16_t *output);
int32_t ek_signal_fft_auto_scale(const int16_t *input, int32_t size, int16_t *output);

typedef struct {
    int32_t n;                     /* complex FFT length = fft_length / 2 */
    int32_t n_factors;
    int32_t factors[32];           /* (radix, remaining length) pairs */
    const int16_t *twiddles;       /* n (re, im) pairs */
    const int16_t *super_twiddles; /* n / 2 (re, im) pairs */
    int32_t inverse;               /* 1: the inverse transform's twiddles and butterflies (irfft) */
} ek_rfft_s16_t;

/* input: fft_length int16 (zero-padded by the caller); output: n + 1 (re, im); scratch: n (re, im) int16 */
void ek_signal_rfft_s16(const ek_rfft_s16_t *p, const int16_t *input, int16_t *output, int16_t *scratch);
typedef struct {
    int32_t n, n_factors;
    int32_t factors[32];
    const int32_t *twiddles;       /* Q31, n (re, im) pairs */
    const int32_t *super_twiddles; /* Q31, n / 2 (re, im) pairs */
    int32_t inverse;
} ek_rfft_s32_t;

/* the int32 (Q31) transform (ek_signal_fft32.c): input fft_length int32, output n + 1 (re, im), scratch n (re, im) */
void ek_signal_rfft_s32(const ek_rfft_s32_t *p, const int32_t *input, int32_t *output, int32_t *scratch);
/* inverse: input n + 1 (re, im), output 2 * n int32, scratch n (re, im) */
void ek_signal_irfft_s32(const ek_rfft_s32_t *p, const int32_t *input, int32_t *output, int32_t *scratch);

/* inverse: input n + 1 (re, im); output 2 * n int16; scratch: n (re, im) int16 */
void ek_signal_irfft_s16(const ek_rfft_s16_t *p, const int16_t *input, int16_t *output, int16_t *scratch);
/* rows of n_frames frames of frame_size added into a frame_size state per row, frame_step samples out per frame */
void ek_signal_overlap_add_s16(const int16_t *input, int16_t *output, int32_t rows, int32_t n_frames,
                               int32_t frame_size, int32_t frame_step, int16_t *state);
void ek_signal_overlap_add_f32(const float *input, float *output, int32_t rows, int32_t n_frames,
                               int32_t frame_size, int32_t frame_step, float *state);
void ek_signal_energy(const int16_t *input, int32_t start, int32_t end, uint32_t *output);

typedef struct {
    int32_t num_channels;
    const int16_t *weights, *unweights, *freq_starts, *weight_starts, *widths;
} ek_filter_bank_t;

/* output: num_channels values; work: num_channels + 1 uint64 */
void ek_signal_filter_bank(const ek_filter_bank_t *p, const uint32_t *input, uint64_t *work, uint64_t *output);
void ek_signal_filter_bank_sqrt(const uint64_t *input, int32_t n, int32_t scale_bits, uint32_t *output);

typedef struct {
    int32_t num_channels, smoothing, one_minus_smoothing, alternate_smoothing, alternate_one_minus_smoothing;
    int32_t smoothing_bits, spectral_subtraction_bits, min_signal_remaining, clamping;
} ek_spectral_subtraction_t;

void ek_signal_spectral_subtraction(const ek_spectral_subtraction_t *p, const uint32_t *input, uint32_t *output,
                                    uint32_t *noise_state, uint32_t *noise_out);
void ek_signal_pcan(const uint32_t *input, const uint32_t *noise, const int16_t *gain_lut, int32_t snr_shift,
                    int32_t n, uint32_t *output);
void ek_signal_filter_bank_log(const uint32_t *input, int32_t n, int32_t output_scale, int32_t correction_bits,
                               int16_t *output);

/* state: rows * (delay + frame) int16 */
void ek_signal_delay(const int16_t *input, int16_t *output, int32_t rows, int32_t frame, int32_t delay,
                     int16_t *state);

typedef struct {
    int32_t rows, n_frames, frame_size, frame_step, fifo_size;
} ek_framer_t;

/* fifo: rows * fifo_size int16; counts: rows samples buffered (start: frame_size - frame_step with prefill, or 0) */
void ek_signal_framer(const ek_framer_t *p, const int16_t *input, int16_t *output, uint8_t *valid, int16_t *fifo,
                      int32_t *counts);

typedef struct {
    int32_t channels, left_context, buffer_size, step_size;
} ek_stacker_t;

/* fifo: buffer_size + channels * (left_context + 1) int16; *count and *started are 0 at start */
void ek_signal_stacker(const ek_stacker_t *p, const int16_t *input, int16_t *output, uint8_t *valid, int16_t *fifo,
                       int32_t *count, int32_t *started);

#endif /* EK_SIGNAL_H */
