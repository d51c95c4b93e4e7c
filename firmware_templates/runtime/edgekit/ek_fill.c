/* edgekit AOT runtime: FILL (see ek_fill.h). */
#include "ek_fill.h"

void ek_fill_value(void *output, const void *value, size_t count, int32_t elem_size) {
    uint8_t *out = (uint8_t *)output;
    const size_t es = (size_t)elem_size;
    size_t done;
    if (count == 0) {
        return;
    }
    if (es == 1) {
        memset(out, *(const uint8_t *)value, count);
        return;
    }
    memcpy(out, value, es);
    /* double the filled prefix until the output is full */
    for (done = 1; done < count;) {
        const size_t n = done <= count - done ? done : count - done;
        memcpy(out + done * es, out, n * es);
        done += n;
    }
}
