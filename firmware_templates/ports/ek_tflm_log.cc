/*
 * edgekit: TFLM's DebugLog() for bare-metal builds (replaces tensorflow/lite/micro/debug_log.cc, which
 * writes to stderr). A TFLM message becomes one protocol error line, "e-[tflm: <message>]", on the UART.
 * With TF_LITE_STRIP_ERROR_STRINGS defined, TFLM logs nothing and this file compiles to nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "tensorflow/lite/micro/debug_log.h"

extern "C" {
#include "ek_port.h"
}

#ifndef TF_LITE_STRIP_ERROR_STRINGS

namespace {
char line[160];
size_t line_len = 0;

void flush_line() {
    if (line_len == 0) {
        return;
    }
    ek_port_write("e-[tflm: ", 9);
    ek_port_write(line, line_len);
    ek_port_write("]\r\n", 3);
    line_len = 0;
}
}  // namespace

extern "C" void DebugLog(const char *format, va_list args) {
    char buf[sizeof line];
    int n = vsnprintf(buf, sizeof buf, format, args);
    if (n < 0) {
        return;
    }
    size_t len = static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (c == '\n') {
            flush_line();
        } else if (c != '\r' && line_len < sizeof line) {
            line[line_len++] = (c == '[' || c == ']') ? '\'' : c;
        }
    }
}

extern "C" int DebugVsnprintf(char *buffer, size_t buf_size, const char *format, va_list vlist) {
    return vsnprintf(buffer, buf_size, format, vlist);
}

#endif
