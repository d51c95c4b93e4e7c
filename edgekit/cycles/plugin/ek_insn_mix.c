/* ek_insn_mix: a QEMU TCG plugin that counts executed guest instructions by class (edgekit).
 *
 * The classes are decided offline: edgekit disassembles the firmware ELF with arm-none-eabi-objdump and
 * writes a table "ADDR CLASS WEIGHT FLAGS" per instruction (hex address, class 0..EK_MAX_CLASSES-1,
 * WEIGHT = registers moved by LDM/STM/PUSH/POP or beats of an MVE instruction, FLAGS bit 0 = may branch).
 * The plugin adds, per executed instruction, 1 to its class and WEIGHT to its class's weight (inline TCG
 * adds, no helper calls), counts taken / not-taken branches (the next translation block starts at the
 * fall-through address or not), counts data loads inside the flash range, and at every execution of a marker
 * address appends a snapshot of all counters to the output file (flushed at once, so a killed QEMU keeps it).
 *
 * Arguments (-plugin ek_insn_mix.so,table=F,marks=F,out=F,flash=LO-HI): all optional but out.
 *
 * The declarations below are written from QEMU 7.2's documented plugin API (include/qemu/qemu-plugin.h,
 * docs/devel/tcg-plugins.rst); QEMU checks qemu_plugin_version against its own (7.2: 1).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the QEMU plugin API subset used here (QEMU 7.2, API version 1) ---- */
#define EK_PLUGIN_EXPORT __attribute__((visibility("default")))
typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t; /* opaque here: not read */
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
                                          void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);

EK_PLUGIN_EXPORT int qemu_plugin_version = 1;

/* ---- counters ---- */
#define EK_MAX_CLASSES 32
enum { C_TOTAL, C_UNKNOWN, C_TAKEN, C_NOT_TAKEN, C_FLASH_LOADS, C_FIXED };
#define EK_NCOUNTERS (C_FIXED + 2 * EK_MAX_CLASSES)
static uint64_t counters[EK_NCOUNTERS]; /* fixed, then per class: count, weight */

typedef struct {
    uint32_t addr;
    uint8_t cls, flags;
    uint16_t weight;
} ek_entry;

static ek_entry *table;
static size_t table_n;
static uint32_t *marks;
static size_t marks_n;
static uint64_t flash_lo = 1, flash_hi = 0; /* empty range */
static FILE *out;
static uint64_t pending_fallthrough; /* 0: no branch pending; else its fall-through address + 1 */

static int cmp_entry(const void *a, const void *b) {
    uint32_t x = ((const ek_entry *)a)->addr, y = ((const ek_entry *)b)->addr;
    return x < y ? -1 : x > y;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static const ek_entry *lookup(uint32_t addr) {
    ek_entry key;
    key.addr = addr;
    return table_n ? bsearch(&key, table, table_n, sizeof *table, cmp_entry) : NULL;
}

static bool is_mark(uint32_t addr) {
    return marks_n && bsearch(&addr, marks, marks_n, sizeof *marks, cmp_u32) != NULL;
}

static void snapshot(unsigned int vcpu, void *udata) {
    (void)vcpu;
    if (!out) return;
    fprintf(out, "M %08" PRIx32, (uint32_t)(uintptr_t)udata);
    for (size_t i = 0; i < EK_NCOUNTERS; i++) fprintf(out, " %" PRIu64, counters[i]);
    fputc('\n', out);
    fflush(out);
}

static void on_branch(unsigned int vcpu, void *udata) {
    (void)vcpu;
    if (pending_fallthrough) counters[C_NOT_TAKEN]++; /* a second branch in one block: the first fell through */
    pending_fallthrough = (uint64_t)(uintptr_t)udata;
}

static void on_tb(unsigned int vcpu, void *udata) {
    (void)vcpu;
    if (!pending_fallthrough) return;
    if ((uint64_t)(uintptr_t)udata + 1 == pending_fallthrough) counters[C_NOT_TAKEN]++;
    else counters[C_TAKEN]++;
    pending_fallthrough = 0;
}

static void on_load(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata) {
    (void)vcpu; (void)udata;
    if (!qemu_plugin_mem_is_store(info) && vaddr >= flash_lo && vaddr <= flash_hi) counters[C_FLASH_LOADS]++;
}

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_tb, QEMU_PLUGIN_CB_NO_REGS,
                                         (void *)(uintptr_t)qemu_plugin_tb_vaddr(tb));
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint32_t pc = (uint32_t)qemu_plugin_insn_vaddr(insn);
        const ek_entry *e = lookup(pc);
        /* QEMU_PLUGIN_MEM_R alone never fired on Debian's 7.2 (checked): ask for both, skip stores in on_load */
        if (e && (e->flags & 2u) && flash_lo <= flash_hi)
            qemu_plugin_register_vcpu_mem_cb(insn, on_load, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, NULL);
        if (is_mark(pc))
            qemu_plugin_register_vcpu_insn_exec_cb(insn, snapshot, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)pc);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counters[C_TOTAL], 1);
        if (!e) {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counters[C_UNKNOWN], 1);
            continue;
        }
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                   &counters[C_FIXED + 2 * e->cls], 1);
        if (e->weight)
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                       &counters[C_FIXED + 2 * e->cls + 1], e->weight);
        if (e->flags & 1u) {
            uint64_t next = (uint64_t)pc + qemu_plugin_insn_size(insn) + 1;
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_branch, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)next);
        }
    }
}

static void at_exit(qemu_plugin_id_t id, void *udata) {
    (void)id; (void)udata;
    snapshot(0, (void *)(uintptr_t)0xFFFFFFFFu); /* the end of the run */
    if (out) fclose(out);
    out = NULL;
}

static int load_table(const char *path) {
    FILE *f = fopen(path, "r");
    size_t cap = 0;
    unsigned int addr, cls, weight, flags;
    if (!f) return -1;
    while (fscanf(f, "%x %u %u %u", &addr, &cls, &weight, &flags) == 4) {
        if (cls >= EK_MAX_CLASSES) continue;
        if (table_n == cap) {
            cap = cap ? 2 * cap : 4096;
            ek_entry *t = realloc(table, cap * sizeof *table);
            if (!t) { fclose(f); return -1; }
            table = t;
        }
        table[table_n].addr = addr;
        table[table_n].cls = (uint8_t)cls;
        table[table_n].weight = (uint16_t)weight;
        table[table_n].flags = (uint8_t)flags;
        table_n++;
    }
    fclose(f);
    qsort(table, table_n, sizeof *table, cmp_entry);
    return 0;
}

static int load_marks(const char *path) {
    FILE *f = fopen(path, "r");
    size_t cap = 0;
    unsigned int addr;
    if (!f) return -1;
    while (fscanf(f, "%x", &addr) == 1) {
        if (marks_n == cap) {
            cap = cap ? 2 * cap : 256;
            uint32_t *m = realloc(marks, cap * sizeof *marks);
            if (!m) { fclose(f); return -1; }
            marks = m;
        }
        marks[marks_n++] = addr & ~1u;
    }
    fclose(f);
    qsort(marks, marks_n, sizeof *marks, cmp_u32);
    return 0;
}

EK_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv);

EK_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    const char *out_path = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "table=", 6) == 0) {
            if (load_table(a + 6) != 0) { qemu_plugin_outs("ek_insn_mix: cannot read table\n"); return -1; }
        } else if (strncmp(a, "marks=", 6) == 0) {
            if (load_marks(a + 6) != 0) { qemu_plugin_outs("ek_insn_mix: cannot read marks\n"); return -1; }
        } else if (strncmp(a, "out=", 4) == 0) {
            out_path = a + 4;
        } else if (strncmp(a, "flash=", 6) == 0) {
            if (sscanf(a + 6, "%" SCNx64 "-%" SCNx64, &flash_lo, &flash_hi) != 2) {
                qemu_plugin_outs("ek_insn_mix: flash=LO-HI (hex)\n");
                return -1;
            }
        } else {
            qemu_plugin_outs("ek_insn_mix: unknown argument\n");
            return -1;
        }
    }
    if (!out_path) { qemu_plugin_outs("ek_insn_mix: out=FILE is required\n"); return -1; }
    out = fopen(out_path, "w");
    if (!out) { qemu_plugin_outs("ek_insn_mix: cannot open out file\n"); return -1; }
    fprintf(out, "H ek_insn_mix 1 classes %d fixed total unknown taken not_taken flash_loads\n", EK_MAX_CLASSES);
    fflush(out);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
