/*
 * edgekit AOT runtime: packed 16-bit helpers for the int8 dot-product kernels.
 *
 * On cores with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33/M55) these are the single
 * instructions SXTB16, SADD16 and SMLAD (from the toolchain's arm_acle.h); elsewhere (host, Cortex-M0/M3)
 * portable C with the same results, so that host tests exercise the same data layout and loop structure.
 *
 *   ek_sxtb16(w)       int8 lanes 0 and 2 of w, sign-extended into the 16-bit halves (lo = lane 0)
 *   ek_sxtb16_ror8(w)  int8 lanes 1 and 3 of w, the same way
 *   ek_sadd16(a, b)    lane-wise 16-bit addition (modulo 2^16)
 *   ek_smlad(a, b, c)  c + a.lo * b.lo + a.hi * b.hi (modulo 2^32)
 *   ek_smlabb / ek_smlatt(a, b, c)  c + a.lo * b.lo, c + a.hi * b.hi
 *   ek_ld32(p)         4 bytes from any address (unaligned loads are fine on Armv7-M / Armv8-M Mainline)
 *   ek_ssat8(x)        x saturated to int8 (SSAT)
 *   ek_pack_s8x4(v0..v3)  the low bytes of v0..v3 as the lanes of a word (BFI)
 *   ek_clamp_s8x4(v, lo4, hi4)  int8 lanes of v clamped lane-wise (SSUB8 + SEL)
 *
 * A group of 4 int8 values x0..x3 is widened "reordered" as int16 [x0, x2, x1, x3]: then
 * smlad(sxtb16(w), lo) + smlad(sxtb16_ror8(w), hi) is the exact dot product of 4 int8 weights with it.
 */
#ifndef EK_SIMD_H
#define EK_SIMD_H

#include "ek_common.h"

#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__)
#include <arm_acle.h>
#define EK_HAVE_DSP 1
#else
#define EK_HAVE_DSP 0
#endif

/* Integer MVE (Helium: Cortex-M55 / M85, Armv8.1-M): the *_mve kernels' vector paths. */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1) && defined(__GNUC__) && defined(__thumb2__)
#include <arm_mve.h>
#define EK_HAVE_MVE 1
#else
#define EK_HAVE_MVE 0
#endif

#if EK_HAVE_MVE
/* ek_mbqm lane-wise (TFLM's double rounding) for shifts <= 0 (right = shift): srdhm (VQRDMULH), then the rounding
 * divide by 2^-right with ties away from zero: negative lanes minus 1 (saturating; INT32_MIN has remainder 0) and a
 * rounding shift right (VRSHL), as ek_rdbpot. */
EK_INLINE int32x4_t ek_mve_mbqm_right(int32x4_t x, int32x4_t mult, int32x4_t right) {
    x = vqrdmulhq_s32(x, mult);
    x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, right), 31));
    return vrshlq_s32(x, right);
}

/* Inline-asm text: the accumulator operand %q[A] requantized in place with the rq group (EK_RQ_WORDS, ek_common.h)
 * at %[rq] (a low register, advanced past the group): VSHL by the left shifts, VQRDMULH, the ties-away fix-up and
 * VRSHL by the right shifts (as ek_mve_requant_rq), + out_offset (the register operand %[OFF]). Temporaries %q[t],
 * %q[u]. 11 instructions. */
#define EK_MVE_RQ_ASM(A, OFF)                             \
    "vldrb.s32 %q[t], [%[rq], #32]\n\t"                 \
    "vshl.s32 %q[" A "], %q[" A "], %q[t]\n\t"          \
    "vldrw.32 %q[t], [%[rq], #16]\n\t"                  \
    "vqrdmulh.s32 %q[" A "], %q[" A "], %q[t]\n\t"      \
    "vldrb.s32 %q[t], [%[rq], #36]\n\t"                 \
    "vand %q[u], %q[" A "], %q[t]\n\t"                  \
    "vshr.s32 %q[u], %q[u], #31\n\t"                    \
    "vqadd.s32 %q[" A "], %q[" A "], %q[u]\n\t"         \
    "vrshl.s32 %q[" A "], %q[" A "], %q[t]\n\t"         \
    "vadd.i32 %q[" A "], %q[" A "], %[" OFF "]\n\t"     \
    "adds %[rq], #40\n\t"

/* One group of the generator's rq words (EK_RQ_WORDS, ek_common.h): acc requantized (ek_mbqm lane-wise: x << left
 * wrapping (VSHL), then ek_mve_mbqm_right with the right shifts; + out_offset, clamped to [lo, hi]). */
EK_INLINE int32x4_t ek_mve_requant_rq(int32x4_t acc, const int32_t *rq, int32_t off, int32x4_t lo, int32x4_t hi) {
    const int32x4_t left = vldrbq_s32((const int8_t *)(rq + 8)), right = vldrbq_s32((const int8_t *)(rq + 9));
    const int32x4_t v = ek_mve_mbqm_right(vshlq_s32(acc, left), vldrwq_s32(rq + 4), right);
    return vminq_s32(vmaxq_s32(vaddq_n_s32(v, off), lo), hi);
}

#endif

EK_INLINE uint32_t ek_ld32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

EK_INLINE void ek_st32(void *p, uint32_t v) {
    memcpy(p, &v, 4);
}

#if EK_HAVE_DSP
EK_INLINE uint32_t ek_sxtb16(uint32_t w) { return (uint32_t)__sxtb16((int8x4_t)w); }
EK_INLINE uint32_t ek_sxtb16_ror8(uint32_t w) {
    uint32_t r; /* one instruction (gcc 12 does not fold the rotation into __sxtb16) */
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}
EK_INLINE uint32_t ek_sadd16(uint32_t a, uint32_t b) { return (uint32_t)__sadd16((int16x2_t)a, (int16x2_t)b); }
EK_INLINE int32_t ek_smlad(uint32_t a, uint32_t b, int32_t c) { return __smlad((int16x2_t)a, (int16x2_t)b, c); }
EK_INLINE int32_t ek_smlabb(uint32_t a, uint32_t b, int32_t c) { return __smlabb((int32_t)a, (int32_t)b, c); }
EK_INLINE int32_t ek_smlatt(uint32_t a, uint32_t b, int32_t c) { return __smlatt((int32_t)a, (int32_t)b, c); }
#else
EK_INLINE uint32_t ek_pack16(int32_t lo, int32_t hi) {
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}
EK_INLINE int32_t ek_lo16(uint32_t a) { return (int32_t)(int16_t)(uint16_t)(a & 0xFFFFu); }
EK_INLINE int32_t ek_hi16(uint32_t a) { return (int32_t)(int16_t)(uint16_t)(a >> 16); }
EK_INLINE uint32_t ek_sxtb16(uint32_t w) {
    return ek_pack16((int8_t)(uint8_t)(w & 0xFFu), (int8_t)(uint8_t)((w >> 16) & 0xFFu));
}
EK_INLINE uint32_t ek_sxtb16_ror8(uint32_t w) { return ek_sxtb16(w >> 8); }
EK_INLINE uint32_t ek_sadd16(uint32_t a, uint32_t b) {
    return ek_pack16(ek_lo16(a) + ek_lo16(b), ek_hi16(a) + ek_hi16(b));
}
EK_INLINE int32_t ek_smlad(uint32_t a, uint32_t b, int32_t c) {
    /* modulo 2^32, like the instruction */
    const uint32_t s = (uint32_t)c + (uint32_t)(ek_lo16(a) * ek_lo16(b)) + (uint32_t)(ek_hi16(a) * ek_hi16(b));
    return (int32_t)s;
}
EK_INLINE int32_t ek_smlabb(uint32_t a, uint32_t b, int32_t c) {
    return (int32_t)((uint32_t)c + (uint32_t)(ek_lo16(a) * ek_lo16(b)));
}
EK_INLINE int32_t ek_smlatt(uint32_t a, uint32_t b, int32_t c) {
    return (int32_t)((uint32_t)c + (uint32_t)(ek_hi16(a) * ek_hi16(b)));
}
#endif

/* Both 16-bit lanes set to v. */
EK_INLINE uint32_t ek_dup16(int32_t v) {
    return ((uint32_t)v & 0xFFFFu) | ((uint32_t)v << 16);
}

#if defined(__GNUC__)
#define EK_NOINLINE __attribute__((noinline))
#else
#define EK_NOINLINE
#endif

/* 32-bit loads through a pointer that may alias any object (the arena, int8 weight arrays). The pointer must be
 * 4-byte aligned: the compiler may merge such loads into LDRD / LDM. */
#if defined(__GNUC__)
typedef uint32_t ek_u32a_t __attribute__((may_alias));
#else
typedef uint32_t ek_u32a_t;
#endif

/* Widen n int8 values to int16 (value + offset), groups of 4 reordered as above: group g's low word
 * ([x0, x2]) goes to dst + g * gstride, its high word ([x1, x3]) to dst + g * gstride + hioff (int16 units).
 * One column: gstride 4, hioff 2. Two interleaved columns (ek_matmul.h): column j at dst + 2 * j, gstride 8,
 * hioff 4. A partial last group reads only the n % 4 remaining bytes and is completed with zeros (their
 * weights are zero). dst must be 4-byte aligned. */
EK_INLINE void ek_widen_s8_reordered(const int8_t *src, int16_t *dst, int32_t n, int32_t offset, int32_t gstride,
                                     int32_t hioff) {
    const uint32_t off2 = ek_dup16(offset);
    const int32_t n4 = n & ~3;
    int32_t i;
    for (i = 0; i < n4; i += 4) {
        const uint32_t w = ek_ld32(src + i);
        ek_st32(dst, ek_sadd16(ek_sxtb16(w), off2));
        ek_st32(dst + hioff, ek_sadd16(ek_sxtb16_ror8(w), off2));
        dst += gstride;
    }
    if (n4 < n) {
        const int32_t rest = n - n4;
        uint32_t w = (uint8_t)src[n4];
        if (rest > 1) {
            w |= (uint32_t)(uint8_t)src[n4 + 1] << 8;
        }
        if (rest > 2) {
            w |= (uint32_t)(uint8_t)src[n4 + 2] << 16;
        }
        ek_st32(dst, ek_sadd16(ek_sxtb16(w), off2));
        ek_st32(dst + hioff, ek_sadd16(ek_sxtb16_ror8(w), off2));
    }
}

/* x saturated to int8 (SSAT #8 on DSP cores). */
EK_INLINE int32_t ek_ssat8(int32_t x) {
#if EK_HAVE_DSP
    return __ssat(x, 8);
#else
    return ek_sat_i8(x);
#endif
}

/* The low bytes of v0..v3 as the int8 lanes 0..3 of a word (3 BFI on Thumb-2). */
EK_INLINE uint32_t ek_pack_s8x4(int32_t v0, int32_t v1, int32_t v2, int32_t v3) {
#if defined(__thumb2__) && defined(__GNUC__)
    uint32_t w = (uint32_t)v0;
    __asm__("bfi %[w], %[b], #8, #8\n\t"
            "bfi %[w], %[c], #16, #8\n\t"
            "bfi %[w], %[d], #24, #8"
            : [w] "+r"(w)
            : [b] "r"(v1), [c] "r"(v2), [d] "r"(v3));
    return w;
#else
    return ((uint32_t)v0 & 0xFFu) | (((uint32_t)v1 & 0xFFu) << 8) | (((uint32_t)v2 & 0xFFu) << 16) |
           ((uint32_t)v3 << 24);
#endif
}

/* Each int8 lane of v clamped to [the lane of lo4, the lane of hi4] (SSUB8 + SEL twice on DSP cores). */
EK_INLINE uint32_t ek_clamp_s8x4(uint32_t v, uint32_t lo4, uint32_t hi4) {
#if EK_HAVE_DSP && defined(__thumb2__)
    uint32_t t;
    __asm__("ssub8 %[t], %[v], %[lo]\n\t"
            "sel   %[v], %[v], %[lo]\n\t"
            "ssub8 %[t], %[hi], %[v]\n\t"
            "sel   %[v], %[v], %[hi]"
            : [v] "+r"(v), [t] "=&r"(t)
            : [lo] "r"(lo4), [hi] "r"(hi4)
            : "cc");
    return v;
#else
    uint32_t r = 0;
    int k;
    for (k = 0; k < 32; k += 8) {
        const int32_t x = (int8_t)(uint8_t)(v >> k);
        const int32_t y = ek_clamp_i32(x, (int8_t)(uint8_t)(lo4 >> k), (int8_t)(uint8_t)(hi4 >> k));
        r |= ((uint32_t)y & 0xFFu) << k;
    }
    return r;
#endif
}

#endif /* EK_SIMD_H */
