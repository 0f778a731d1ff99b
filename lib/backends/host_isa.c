/* ISA feature detection: cpuid + XCR0 on x86, auxiliary-vector HWCAP bits on aarch64. */
#include "backends/host.h"

#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#endif

static const char *const feature_names[OLIVE_ISA_COUNT] = {
    [OLIVE_ISA_SSE4_2] = "sse4_2",
    [OLIVE_ISA_AVX] = "avx",
    [OLIVE_ISA_AVX2] = "avx2",
    [OLIVE_ISA_FMA] = "fma",
    [OLIVE_ISA_F16C] = "f16c",
    [OLIVE_ISA_AVX512F] = "avx512f",
    [OLIVE_ISA_AVX512BW] = "avx512bw",
    [OLIVE_ISA_AVX512VL] = "avx512vl",
    [OLIVE_ISA_AVX512_VNNI] = "avx512_vnni",
    [OLIVE_ISA_AVX512_BF16] = "avx512_bf16",
    [OLIVE_ISA_AVX512_FP16] = "avx512_fp16",
    [OLIVE_ISA_AVX_VNNI] = "avx_vnni",
    [OLIVE_ISA_AMX_TILE] = "amx_tile",
    [OLIVE_ISA_AMX_INT8] = "amx_int8",
    [OLIVE_ISA_AMX_BF16] = "amx_bf16",
    [OLIVE_ISA_NEON] = "neon",
    [OLIVE_ISA_DOTPROD] = "dotprod",
    [OLIVE_ISA_I8MM] = "i8mm",
    [OLIVE_ISA_SVE] = "sve",
    [OLIVE_ISA_BF16] = "bf16",
};

const char *olive_isa_feature_name(int feature)
{
    return feature >= 0 && feature < OLIVE_ISA_COUNT ? feature_names[feature] : NULL;
}

int olive_isa_feature_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int f = 0; f < OLIVE_ISA_COUNT; f++)
        if (strcasecmp(name, feature_names[f]) == 0)
            return f;
    return -1;
}

#define BIT(f) (UINT64_C(1) << (f))

#if defined(__x86_64__) || defined(__i386__)

/* XCR0 says which register state the OS saves; a CPU feature whose registers the OS does not
 * save cannot be used even when cpuid reports it. */
#define XCR0_SSE (1u << 1)
#define XCR0_YMM (1u << 2)
#define XCR0_OPMASK (1u << 5)
#define XCR0_ZMM_HI256 (1u << 6)
#define XCR0_HI16_ZMM (1u << 7)
#define XCR0_XTILECFG (1u << 17)
#define XCR0_XTILEDATA (1u << 18)

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    /* xgetbv with ecx = 0; written as asm so that no -mxsave flag is needed. */
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

uint64_t olive_isa_detect(void)
{
    unsigned a, b, c, d;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    uint64_t xcr0 = 0, f = 0;
    int os_avx, os_avx512, os_amx;

    if (max_leaf < 1 || !__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (c & bit_OSXSAVE)
        xcr0 = read_xcr0();
    os_avx = (xcr0 & (XCR0_SSE | XCR0_YMM)) == (XCR0_SSE | XCR0_YMM);
    os_avx512 = os_avx && (xcr0 & (XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM)) ==
                              (XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM);
    os_amx = (xcr0 & (XCR0_XTILECFG | XCR0_XTILEDATA)) == (XCR0_XTILECFG | XCR0_XTILEDATA);

    if (c & (1u << 20))
        f |= BIT(OLIVE_ISA_SSE4_2);
    if (os_avx) {
        if (c & (1u << 28))
            f |= BIT(OLIVE_ISA_AVX);
        if (c & (1u << 12))
            f |= BIT(OLIVE_ISA_FMA);
        if (c & (1u << 29))
            f |= BIT(OLIVE_ISA_F16C);
    }
    if (max_leaf < 7)
        return f;

    __cpuid_count(7, 0, a, b, c, d);
    unsigned max_subleaf = a;
    if (os_avx && (b & (1u << 5)))
        f |= BIT(OLIVE_ISA_AVX2);
    if (os_avx512) {
        if (b & (1u << 16))
            f |= BIT(OLIVE_ISA_AVX512F);
        if (b & (1u << 30))
            f |= BIT(OLIVE_ISA_AVX512BW);
        if (b & (1u << 31))
            f |= BIT(OLIVE_ISA_AVX512VL);
        if (c & (1u << 11))
            f |= BIT(OLIVE_ISA_AVX512_VNNI);
        if (d & (1u << 23))
            f |= BIT(OLIVE_ISA_AVX512_FP16);
    }
    if (os_amx) {
        if (d & (1u << 24))
            f |= BIT(OLIVE_ISA_AMX_TILE);
        if (d & (1u << 25))
            f |= BIT(OLIVE_ISA_AMX_INT8);
        if (d & (1u << 22))
            f |= BIT(OLIVE_ISA_AMX_BF16);
    }
    if (max_subleaf >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        if (os_avx && (a & (1u << 4)))
            f |= BIT(OLIVE_ISA_AVX_VNNI);
        if (os_avx512 && (a & (1u << 5)))
            f |= BIT(OLIVE_ISA_AVX512_BF16);
    }
    return f;
}

#elif defined(__aarch64__) && defined(__linux__)

uint64_t olive_isa_detect(void)
{
    unsigned long hw = getauxval(AT_HWCAP);
    unsigned long hw2 = getauxval(AT_HWCAP2);
    uint64_t f = 0;
    (void)hw2;
    if (hw & HWCAP_ASIMD)
        f |= BIT(OLIVE_ISA_NEON);
#ifdef HWCAP_ASIMDDP
    if (hw & HWCAP_ASIMDDP)
        f |= BIT(OLIVE_ISA_DOTPROD);
#endif
#ifdef HWCAP_SVE
    if (hw & HWCAP_SVE)
        f |= BIT(OLIVE_ISA_SVE);
#endif
#ifdef HWCAP2_I8MM
    if (hw2 & HWCAP2_I8MM)
        f |= BIT(OLIVE_ISA_I8MM);
#endif
#ifdef HWCAP2_BF16
    if (hw2 & HWCAP2_BF16)
        f |= BIT(OLIVE_ISA_BF16);
#endif
    return f;
}

#elif defined(__aarch64__)

/* AArch64 always has Advanced SIMD; the optional extensions need an OS query we lack here. */
uint64_t olive_isa_detect(void)
{
    return BIT(OLIVE_ISA_NEON);
}

#else

uint64_t olive_isa_detect(void)
{
    return 0;
}

#endif
