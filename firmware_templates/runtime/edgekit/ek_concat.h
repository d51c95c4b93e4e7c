/*
 * edgekit AOT runtime: CONCATENATION along any axis, for any element size (a pure copy; TFLM
 * requires equal scales and zero points for int8).
 */
#ifndef EK_CONCAT_H
#define EK_CONCAT_H

#include "ek_common.h"

/* outer = product of the output dims before the axis; block_bytes[i] = bytes of input i from the
 * axis on (its dims[axis:] product times the element size). */
void ek_concat(const void *const *inputs, const uint32_t *block_bytes, int32_t num_inputs, uint32_t outer,
               void *output);

#endif /* EK_CONCAT_H */
