/*
 * edgekit AOT runtime: FILL (every element of the output set to one value of elem_size bytes, copied as
 * it is, as TFLM does) and ZEROS_LIKE (all-zero bytes; for int8 that is the value 0, not the zero point).
 */
#ifndef EK_FILL_H
#define EK_FILL_H

#include "ek_common.h"

void ek_fill_value(void *output, const void *value, size_t count, int32_t elem_size);

#endif /* EK_FILL_H */
