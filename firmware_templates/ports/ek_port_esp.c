/*
 * edgekit firmware port for ESP-IDF (ek_port.h). The protocol runs on the USB-Serial-JTAG port
 * (EK_ESP_USB_SERIAL_JTAG=1, the ESP32-S3's native USB) or on UART0; the IDF console and TFLM's log
 * stay on the other one. Timing: the Xtensa CCOUNT cycle counter, extended to 64 bits in software
 * (ek_port_ticks() must run once per 2^32 cycles, 17.9 s at 240 MHz: the main loop calls it).
 */
#include <stdint.h>

#include "esp_cpu.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#include "ek_config.h"
#include "ek_port.h"

#if EK_ESP_USB_SERIAL_JTAG
#include "driver/usb_serial_jtag.h"
#else
#include "driver/uart.h"
#endif

static int pending = -1;  /* a byte read by ek_port_wait() */
static uint32_t cc_high, cc_last;

void ek_port_init(void) {
#if EK_ESP_USB_SERIAL_JTAG
    usb_serial_jtag_driver_config_t cfg = USB_SERIAL_JTAG_DRIVER_CONFIG_DEFAULT();
    cfg.rx_buffer_size = 1024;
    cfg.tx_buffer_size = 1024;
    ESP_ERROR_CHECK(usb_serial_jtag_driver_install(&cfg));
#else
    uart_config_t cfg = {
        .baud_rate = EK_UART_BAUD, .data_bits = UART_DATA_8_BITS, .parity = UART_PARITY_DISABLE,
        .stop_bits = UART_STOP_BITS_1, .flow_ctrl = UART_HW_FLOWCTRL_DISABLE, .source_clk = UART_SCLK_DEFAULT,
    };
    ESP_ERROR_CHECK(uart_driver_install(UART_NUM_0, 1024, 1024, 0, NULL, 0));
    ESP_ERROR_CHECK(uart_param_config(UART_NUM_0, &cfg));
#endif
    cc_last = esp_cpu_get_cycle_count();
}

static int read_byte(TickType_t wait) {
    uint8_t c;
#if EK_ESP_USB_SERIAL_JTAG
    int n = usb_serial_jtag_read_bytes(&c, 1, wait);
#else
    int n = uart_read_bytes(UART_NUM_0, &c, 1, wait);
#endif
    return n == 1 ? c : -1;
}

int ek_port_getc(void) {
    if (pending >= 0) {
        int c = pending;
        pending = -1;
        return c;
    }
    return read_byte(0);
}

/* Called by the main loop when no byte is waiting: blocks at most one tick so the idle task runs. */
void ek_port_wait(void) {
    if (pending < 0) {
        pending = read_byte(1);
    }
}

void ek_port_write(const char *buf, size_t n) {
#if EK_ESP_USB_SERIAL_JTAG
    usb_serial_jtag_write_bytes(buf, n, portMAX_DELAY);
#else
    uart_write_bytes(UART_NUM_0, buf, n);
#endif
}

uint64_t ek_port_ticks(void) {
    static portMUX_TYPE lock = portMUX_INITIALIZER_UNLOCKED;
    portENTER_CRITICAL(&lock);
    uint32_t now = esp_cpu_get_cycle_count();
    if (now < cc_last) {
        cc_high++;
    }
    cc_last = now;
    uint64_t t = ((uint64_t)cc_high << 32) | now;
    portEXIT_CRITICAL(&lock);
    return t;
}

uint32_t ek_port_core_hz(const char **state) {
    *state = "sdk";
    return 0; /* the SDK (or the host) owns the clock: the harness uses the board profile's figure */
}

uint32_t ek_port_tick_hz(void) {
    return EK_CORE_CLOCK_HZ;
}

const char *ek_port_timer_kind(void) {
    return "ccount";
}

/* CCOUNT runs free: nothing to align. */
void ek_port_timer_rephase(void) {
}

void ek_port_stack(size_t *used, size_t *reserved) {
    *reserved = CONFIG_ESP_MAIN_TASK_STACK_SIZE;
    *used = *reserved - (size_t)uxTaskGetStackHighWaterMark(NULL) * sizeof(StackType_t);
}

int ek_port_arena_guard(void) {
    return -1;
}

int ek_port_exit(int code) {
    (void)code;
    return -1;
}
