/*
 * edgekit AOT runtime: elementwise 8-bit functions by table look-up.
 *
 * LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, RELU and RELU6 on int8 data (and 8-bit
 * requantization, see ek_quantize.h) map each input byte to one output byte. The code
 * generator evaluates TFLM's exact integer algorithm for all 256 inputs and emits the
 * results as a 256-byte table indexed by the input byte, so the kernel is one load per
 * element and gives TFLM's bytes by construction.
 */
#ifndef EK_ACTIVATIONS_H
#define EK_ACTIVATIONS_H

#include <stddef.h>
#include <stdint.h>

/* out[i] = table[in[i]] for i < n. in and out may be the same buffer. */
void ek_lut8(const uint8_t *in, uint8_t *out, size_t n, const uint8_t table[256]);

#endif /* EK_ACTIVATIONS_H */
