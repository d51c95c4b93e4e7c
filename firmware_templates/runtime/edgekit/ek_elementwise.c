/* edgekit AOT runtime: int8 ADD, SUB, MUL with broadcasting (see ek_elementwise.h). */
#include "ek_elementwise.h"

#include "ek_common.h"
#include "ek_simd.h"

/* TFLM AddFunc / SubElementwise on one pair of values; sign = +1 (ADD) or -1 (SUB). */
static int8_t ek_add_one(int32_t a, int32_t b, const ek_add_params *p, int sign) {
    const int32_t x1 = (int32_t)((uint32_t)(p->input1_offset + a) << p->left_shift);
    const int32_t x2 = (int32_t)((uint32_t)(p->input2_offset + b) << p->left_shift);
    /* multipliers in (0, 2^31), shifts <= 0 (rescale factors in (0, 1)): there ek_mbqm_pos equals
     * ek_mbqm_smaller_than_one */
    const int32_t s1 = ek_mbqm_pos(x1, p->input1_multiplier, p->input1_shift);
    const int32_t s2 = ek_mbqm_pos(x2, p->input2_multiplier, p->input2_shift);
    const int32_t raw = sign > 0 ? s1 + s2 : s1 - s2;
    const int32_t o = ek_mbqm_pos(raw, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ek_clamp_i32(o, p->act_min, p->act_max);
}

static void ek_add_row(const void *va, const void *vb, void *vout, int32_t n, int32_t sa, int32_t sb,
                       const void *params) {
    const int8_t *const a = (const int8_t *)va, *const b = (const int8_t *)vb;
    int8_t *const out = (int8_t *)vout;
    const ek_add_params q = *(const ek_add_params *)params; /* a copy: int8 stores cannot change it */
    int32_t i;
    for (i = 0; i < n; i++) {
        out[i] = ek_add_one(a[i * sa], b[i * sb], &q, 1);
    }
}

static void ek_sub_row(const void *va, const void *vb, void *vout, int32_t n, int32_t sa, int32_t sb,
                       const void *params) {
    const int8_t *const a = (const int8_t *)va, *const b = (const int8_t *)vb;
    int8_t *const out = (int8_t *)vout;
    const ek_add_params q = *(const ek_add_params *)params; /* a copy: int8 stores cannot change it */
    int32_t i;
    for (i = 0; i < n; i++) {
        out[i] = ek_add_one(a[i * sa], b[i * sb], &q, -1);
    }
}

/* ADD / SUB through the input tables (ek_elementwise.h): two loads, one add and the output requantization
 * (ek_mbqm_pos for shift <= -2 with its constants precomputed) per element. */
#if !EK_SINGLE_ROUNDING
EK_INLINE int32_t ek_add_table_raw(int32_t raw, int32_t mult, int32_t round, int32_t rshift) {
    const int32_t s = raw >> 31;
    const uint32_t lo0 = 0x40000000u + ((uint32_t)s << 31);
    const uint32_t hi0 = (uint32_t)round + (uint32_t)s;
    const int64_t acc = (int64_t)(((uint64_t)hi0 << 32) | lo0) + (int64_t)raw * mult;
    return (int32_t)(acc >> 32) >> rshift;
}

#if EK_HAVE_MVE
/* ek_add_table_row for contiguous inputs (sa == sb == 1) on MVE cores: alone in ek_add_s8_table_n, so that a model
 * whose ADDs all take that entry (the fused CONV_2D+ADD blocks) links no scalar or strided code. */
EK_INLINE void ek_add_table_n_mve(const int8_t *a, const int8_t *b, int8_t *out, int32_t n, const int32_t *table1,
                                  const int32_t *table2, int32_t mult, int32_t rshift, int32_t zo, int32_t lo,
                                  int32_t hi) {
    const int32_t *t1 = table1 + 128, *t2 = table2 + 128;
    /* 4 elements per step: widening loads, 2 table gathers (word offsets value + 128 from table + 128, modulo
     * 2^32), the output requantization lane-wise (out_rshift >= 1: the ties-away fix-up needs no mask), one
     * narrowing store after the step's loads (in place: out == a or b), each step 13 instructions (post-incremented
     * loads and store). 8 elements per pass unpredicated, then the last n % 8 in a tail-predicated loop (DLSTP.32 /
     * LETP: the lanes past n are off). */
    const int32x4_t m4 = vdupq_n_s32(mult), s4 = vdupq_n_s32(-rshift - 1);
    const int32x4_t lo_v = vdupq_n_s32(lo), hi_v = vdupq_n_s32(hi);
    const int8_t *pa = a, *pb = b;
    int8_t *po = out;
    int32x4_t u, v, w;
#define EK_ADD_STEP                                   \
        "vldrb.s32 %q[u], [%[pa]], #4\n\t"         \
        "vldrb.s32 %q[v], [%[pb]], #4\n\t"         \
        "vldrw.u32 %q[w], [%[t1], %q[u], uxtw #2]\n\t" \
        "vldrw.u32 %q[u], [%[t2], %q[v], uxtw #2]\n\t" \
        "vadd.i32 %q[w], %q[w], %q[u]\n\t"         \
        "vqrdmulh.s32 %q[w], %q[w], %q[m]\n\t"     \
        "vshr.s32 %q[u], %q[w], #31\n\t"           \
        "vqadd.s32 %q[w], %q[w], %q[u]\n\t"        \
        "vrshl.s32 %q[w], %q[w], %q[s]\n\t"        \
        "vadd.i32 %q[w], %q[w], %[zo]\n\t"         \
        "vmax.s32 %q[w], %q[w], %q[lo]\n\t"        \
        "vmin.s32 %q[w], %q[w], %q[hi]\n\t"        \
        "vstrb.32 %q[w], [%[po]], #4\n\t"
#define EK_ADD_OPERANDS                                                                                        \
        : [pa] "+l"(pa), [pb] "+l"(pb), [po] "+l"(po), [u] "=&w"(u), [v] "=&w"(v), [w] "=&w"(w)               \
        : [np] "r"(n >> 3), [nt] "r"(n & 7), [t1] "r"(t1), [t2] "r"(t2), [m] "w"(m4), [s] "w"(s4), [zo] "r"(zo), \
          [lo] "w"(lo_v), [hi] "w"(hi_v)                                                                       \
        : "lr", "memory"
    if (n >= 8) {
        __asm__ __volatile__("dls lr, %[np]\n"
                             "1:\n\t" EK_ADD_STEP EK_ADD_STEP "le lr, 1b\n\t" EK_ADD_OPERANDS);
    }
    if (n & 7) {
        __asm__ __volatile__("dlstp.32 lr, %[nt]\n"
                             "1:\n\t" EK_ADD_STEP "letp lr, 1b\n\t" EK_ADD_OPERANDS);
    }
#undef EK_ADD_STEP
#undef EK_ADD_OPERANDS
}
#endif

/* The table ADD over n elements of a and b (strides sa, sb) into out, without MVE: 4 results per store where both
 * inputs are contiguous, then one by one (t1, t2: the tables + 128). */
EK_INLINE void ek_add_table_span(const int8_t *a, const int8_t *b, int8_t *out, int32_t n, int32_t sa, int32_t sb,
                                 const int32_t *t1, const int32_t *t2, int32_t mult, int32_t round, int32_t rshift,
                                 int32_t zo, int32_t lo, int32_t hi) {
    int32_t i = 0;
    if (sa == 1 && sb == 1) {
        const uint32_t lo4 = ((uint32_t)lo & 0xFFu) * 0x01010101u, hi4 = ((uint32_t)hi & 0xFFu) * 0x01010101u;
        for (; i + 4 <= n; i += 4) {
            /* 4 results saturated to int8, packed, clamped lane-wise, one store (after every load: the output
             * may be input 1, in place) */
            const int32_t v0 = ek_ssat8(ek_add_table_raw(t1[a[i]] + t2[b[i]], mult, round, rshift) + zo);
            const int32_t v1 = ek_ssat8(ek_add_table_raw(t1[a[i + 1]] + t2[b[i + 1]], mult, round, rshift) + zo);
            const int32_t v2 = ek_ssat8(ek_add_table_raw(t1[a[i + 2]] + t2[b[i + 2]], mult, round, rshift) + zo);
            const int32_t v3 = ek_ssat8(ek_add_table_raw(t1[a[i + 3]] + t2[b[i + 3]], mult, round, rshift) + zo);
            ek_st32(out + i, ek_clamp_s8x4(ek_pack_s8x4(v0, v1, v2, v3), lo4, hi4));
        }
        sa = sb = 1;
    }
    for (; i < n; i++) {
        const int32_t v = ek_add_table_raw(t1[a[i * sa]] + t2[b[i * sb]], mult, round, rshift) + zo;
        out[i] = (int8_t)ek_clamp_i32(v, lo, hi);
    }
}

static void ek_add_table_row(const void *va, const void *vb, void *vout, int32_t n, int32_t sa, int32_t sb,
                             const void *params) {
    const int8_t *const a = (const int8_t *)va, *const b = (const int8_t *)vb;
    int8_t *const out = (int8_t *)vout;
    const ek_add_params *p = (const ek_add_params *)params;
#if EK_HAVE_MVE
    if (sa == 1 && sb == 1) {
        ek_add_table_n_mve(a, b, out, n, p->table1, p->table2, p->output_multiplier, p->out_rshift,
                           p->output_offset, p->act_min, p->act_max);
        return;
    }
#endif
    ek_add_table_span(a, b, out, n, sa, sb, p->table1 + 128, p->table2 + 128, p->output_multiplier, p->out_round,
                      p->out_rshift, p->output_offset, p->act_min, p->act_max);
}
#endif

static void ek_mul_row(const void *va, const void *vb, void *vout, int32_t n, int32_t sa, int32_t sb,
                       const void *params) {
    const int8_t *const a = (const int8_t *)va, *const b = (const int8_t *)vb;
    int8_t *const out = (int8_t *)vout;
    const ek_mul_params *p = (const ek_mul_params *)params;
    int32_t i;
    for (i = 0; i < n; i++) {
        const int32_t prod = (p->input1_offset + a[i * sa]) * (p->input2_offset + b[i * sb]);
        const int32_t o = ek_mbqm(prod, p->output_multiplier, p->output_shift) + p->output_offset;
        out[i] = (int8_t)ek_clamp_i32(o, p->act_min, p->act_max);
    }
}

void ek_add_s8(const int8_t *in1, const int8_t *in2, int8_t *out, const ek_bcast *shape, const ek_add_params *p) {
#if !EK_SINGLE_ROUNDING
    if (p->table1 != NULL && p->table2 != NULL) {
        ek_bcast_walk(in1, in2, out, 1, shape, ek_add_table_row, p);
        return;
    }
#endif
    ek_bcast_walk(in1, in2, out, 1, shape, ek_add_row, p);
}

void ek_add_s8_table_n(const int8_t *in1, const int8_t *in2, int8_t *out, int32_t n, const ek_add_params *p) {
#if !EK_SINGLE_ROUNDING && EK_HAVE_MVE
    ek_add_table_n_mve(in1, in2, out, n, p->table1, p->table2, p->output_multiplier, p->out_rshift, p->output_offset,
                       p->act_min, p->act_max);
#elif !EK_SINGLE_ROUNDING
    ek_add_table_row(in1, in2, out, n, 1, 1, p);
#else
    ek_add_row(in1, in2, out, n, 1, 1, p);
#endif
}

#if !EK_SINGLE_ROUNDING
void ek_add_s8_table_t(const int8_t *in1, const int8_t *in2, int8_t *out, int32_t n, const ek_add_table_t *p) {
#if EK_HAVE_MVE
    ek_add_table_n_mve(in1, in2, out, n, p->table1, p->table2, p->output_multiplier, p->out_rshift, p->output_offset,
                       p->act_min, p->act_max);
#else
    ek_add_table_span(in1, in2, out, n, 1, 1, p->table1 + 128, p->table2 + 128, p->output_multiplier,
                      (int32_t)1 << (p->out_rshift - 1), p->out_rshift, p->output_offset, p->act_min, p->act_max);
#endif
}
#endif

void ek_sub_s8(const int8_t *in1, const int8_t *in2, int8_t *out, const ek_bcast *shape, const ek_add_params *p) {
#if !EK_SINGLE_ROUNDING
    if (p->table1 != NULL && p->table2 != NULL) {  /* table2 is negated: the same row as ADD */
        ek_bcast_walk(in1, in2, out, 1, shape, ek_add_table_row, p);
        return;
    }
#endif
    ek_bcast_walk(in1, in2, out, 1, shape, ek_sub_row, p);
}

void ek_mul_s8(const int8_t *in1, const int8_t *in2, int8_t *out, const ek_bcast *shape, const ek_mul_params *p) {
    ek_bcast_walk(in1, in2, out, 1, shape, ek_mul_row, p);
}
