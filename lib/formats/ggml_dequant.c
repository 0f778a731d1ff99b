/* Dequantization of GGML block types. Each block format is laid out as llama.cpp's ggml-common.h
 * declares it (little-endian fields, packed); the arithmetic follows ggml's reference
 * dequantize_row_* step by step (scale products first, then the per-element product, then the
 * offset), so that every float comes out bit-identical to llama.cpp and the gguf package. */
#include "formats/ggml_dequant.h"

#include <string.h>

#include "core/status.h"

#define QK 32    /* elements per block of the legacy types (Q4_0 ... Q8_0) */
#define QK_K 256 /* elements per super-block of the K types */

typedef struct ggml_type_info {
    uint32_t id;
    const char *name;
    uint32_t block_elems, block_bytes;
} ggml_type_info;

static const ggml_type_info type_table[] = {
    {0, "F32", 1, 4},
    {1, "F16", 1, 2},
    {2, "Q4_0", QK, 2 + 16},
    {3, "Q4_1", QK, 4 + 16},
    {6, "Q5_0", QK, 2 + 4 + 16},
    {7, "Q5_1", QK, 4 + 4 + 16},
    {8, "Q8_0", QK, 2 + 32},
    {9, "Q8_1", QK, 4 + 4 + 32},
    {10, "Q2_K", QK_K, 4 + QK_K / 16 + QK_K / 4},
    {11, "Q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12},
    {12, "Q4_K", QK_K, 4 + 12 + QK_K / 2},
    {13, "Q5_K", QK_K, 4 + 12 + QK_K / 8 + QK_K / 2},
    {14, "Q6_K", QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16},
    {15, "Q8_K", QK_K, 4 + QK_K + QK_K / 8},
    {16, "IQ2_XXS", QK_K, 2 + QK_K / 4},
    {17, "IQ2_XS", QK_K, 2 + QK_K / 4 + QK_K / 32},
    {18, "IQ3_XXS", QK_K, 2 + QK_K / 4 + QK_K / 8},
    {19, "IQ1_S", QK_K, 2 + QK_K / 8 + QK_K / 16},
    {20, "IQ4_NL", QK, 2 + 16},
    {21, "IQ3_S", QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4},
    {22, "IQ2_S", QK_K, 2 + QK_K / 4 + QK_K / 16},
    {23, "IQ4_XS", QK_K, 4 + QK_K / 2 + QK_K / 64},
    {24, "I8", 1, 1},
    {25, "I16", 1, 2},
    {26, "I32", 1, 4},
    {27, "I64", 1, 8},
    {28, "F64", 1, 8},
    {29, "IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32},
    {30, "BF16", 1, 2},
    {34, "TQ1_0", QK_K, 2 + 4 * 13},
    {35, "TQ2_0", QK_K, 2 + 64},
    {39, "MXFP4", QK, 1 + 16},
};

static const ggml_type_info *find_type(uint32_t id)
{
    for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++)
        if (type_table[i].id == id)
            return &type_table[i];
    return NULL;
}

int ofmt_ggml_type_size(uint32_t ggml_type, uint32_t *block_elems, uint32_t *block_bytes)
{
    const ggml_type_info *t = find_type(ggml_type);
    if (!t)
        return 0;
    if (block_elems)
        *block_elems = t->block_elems;
    if (block_bytes)
        *block_bytes = t->block_bytes;
    return 1;
}

const char *ofmt_ggml_type_name(uint32_t ggml_type)
{
    const ggml_type_info *t = find_type(ggml_type);
    return t ? t->name : "unknown";
}

int ofmt_ggml_can_dequant(uint32_t ggml_type)
{
    switch (ggml_type) {
    case OFMT_GGML_F32:
    case OFMT_GGML_F16:
    case OFMT_GGML_BF16:
    case OFMT_GGML_Q8_0:
    case OFMT_GGML_Q4_0:
    case OFMT_GGML_Q4_1:
    case OFMT_GGML_Q5_0:
    case OFMT_GGML_Q5_1:
    case OFMT_GGML_Q2_K:
    case OFMT_GGML_Q3_K:
    case OFMT_GGML_Q4_K:
    case OFMT_GGML_Q5_K:
    case OFMT_GGML_Q6_K:
    case OFMT_GGML_IQ4_NL:
    case OFMT_GGML_IQ4_XS: return 1;
    default: return 0;
    }
}

uint64_t ofmt_ggml_row_bytes(uint32_t ggml_type, uint64_t row_length)
{
    const ggml_type_info *t = find_type(ggml_type);
    uint64_t bytes;
    if (!t || row_length % t->block_elems)
        return 0;
    if (__builtin_mul_overflow(row_length / t->block_elems, (uint64_t)t->block_bytes, &bytes))
        return 0;
    return bytes;
}

/* ---- scalar conversions ---------------------------------------------------------------- */

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* IEEE half to float: exact for every value (subnormals renormalized, inf/NaN kept). */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f)
        return bits_to_float(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0)
            return bits_to_float(sign);
        /* subnormal: shift the mantissa up until its leading 1 is the implicit bit */
        exp = 127 - 15 + 1;
        while (!(man & 0x400)) {
            man <<= 1;
            exp--;
        }
        man &= 0x3ff;
        return bits_to_float(sign | (exp << 23) | (man << 13));
    }
    return bits_to_float(sign | ((exp + 127 - 15) << 23) | (man << 13));
}

static float f16_at(const uint8_t *p)
{
    return half_to_float(rd16(p));
}

/* ---- legacy 32-element blocks -------------------------------------------------------- */

/* Q4_0: d (f16), 16 bytes of nibbles; low nibbles are elements 0..15, high ones 16..31. */
static void deq_q4_0(const uint8_t *b, float *y)
{
    const float d = f16_at(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < QK / 2; j++) {
        const int x0 = (qs[j] & 0x0f) - 8;
        const int x1 = (qs[j] >> 4) - 8;
        y[j] = (float)x0 * d;
        y[j + QK / 2] = (float)x1 * d;
    }
}

/* Q4_1: d, m (f16), nibbles as Q4_0, value = q*d + m. */
static void deq_q4_1(const uint8_t *b, float *y)
{
    const float d = f16_at(b), m = f16_at(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < QK / 2; j++) {
        y[j] = (float)(qs[j] & 0x0f) * d + m;
        y[j + QK / 2] = (float)(qs[j] >> 4) * d + m;
    }
}

/* Q5_0: d (f16), qh (32 fifth bits, little-endian u32: bit j for element j), nibbles. */
static void deq_q5_0(const uint8_t *b, float *y)
{
    const float d = f16_at(b);
    const uint32_t qh = rd32(b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < QK / 2; j++) {
        const int hi0 = (int)((qh >> j) & 1) << 4;
        const int hi1 = (int)((qh >> (j + QK / 2)) & 1) << 4;
        const int x0 = ((qs[j] & 0x0f) | hi0) - 16;
        const int x1 = ((qs[j] >> 4) | hi1) - 16;
        y[j] = (float)x0 * d;
        y[j + QK / 2] = (float)x1 * d;
    }
}

/* Q5_1: d, m (f16), qh, nibbles; value = q*d + m. */
static void deq_q5_1(const uint8_t *b, float *y)
{
    const float d = f16_at(b), m = f16_at(b + 2);
    const uint32_t qh = rd32(b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < QK / 2; j++) {
        const int hi0 = (int)((qh >> j) & 1) << 4;
        const int hi1 = (int)((qh >> (j + QK / 2)) & 1) << 4;
        y[j] = (float)((qs[j] & 0x0f) | hi0) * d + m;
        y[j + QK / 2] = (float)((qs[j] >> 4) | hi1) * d + m;
    }
}

/* Q8_0: d (f16), 32 signed bytes. */
static void deq_q8_0(const uint8_t *b, float *y)
{
    const float d = f16_at(b);
    for (int j = 0; j < QK; j++)
        y[j] = (float)(int8_t)b[2 + j] * d;
}

/* ---- K super-blocks (256 elements) ----------------------------------------------------- */

/* Q2_K: scales[16] (low nibble scale, high nibble min, per 16 elements), qs[64] (2 bits each),
 * d, dmin (f16). Each 32 bytes of qs serve 128 elements: four 2-bit planes of 32, each plane
 * split in two groups of 16 with their own scale/min. value = (d*sc)*q - (dmin*m). */
static void deq_q2_k(const uint8_t *b, float *y)
{
    const uint8_t *scales = b, *q = b + QK_K / 16;
    const float d = f16_at(b + QK_K / 16 + QK_K / 4), dmin = f16_at(b + QK_K / 16 + QK_K / 4 + 2);
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; half++) {
                const uint8_t sc = scales[is++];
                const float dl = d * (float)(sc & 0x0f), ml = dmin * (float)(sc >> 4);
                for (int l = 0; l < 16; l++)
                    *y++ = dl * (float)((q[l + 16 * half] >> shift) & 3) - ml;
            }
        }
        q += 32;
    }
}

/* Q3_K: hmask[32] (third bit, inverted: set means no -4), qs[64] (low 2 bits), scales[12]
 * (sixteen 6-bit scales, offset by 32), d (f16). value = (d*scale)*q. */
static void deq_q3_k(const uint8_t *b, float *y)
{
    const uint8_t *hm = b, *q = b + QK_K / 8, *packed = b + QK_K / 8 + QK_K / 4;
    const float d = f16_at(b + QK_K / 8 + QK_K / 4 + 12);
    int scales[16];
    for (int i = 0; i < 16; i++) {
        int low = i < 8 ? packed[i] & 0x0f : packed[i - 8] >> 4;
        int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
        scales[i] = (low | (high << 4)) - 32;
    }
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < QK_K; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; half++) {
                const float dl = d * (float)scales[is++];
                for (int l = 0; l < 16; l++) {
                    const int k = l + 16 * half;
                    *y++ = dl * (float)(((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
                }
            }
            m = (uint8_t)(m << 1);
        }
        q += 32;
    }
}

/* The 12 scale bytes of Q4_K/Q5_K hold eight 6-bit scales and eight 6-bit mins. */
static void k_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Scale and min of the sub-blocks j and j + 1, which Q4_K and Q5_K apply to the low and high
 * halves of each 64 elements. */
static void k_scale_min_pair(int j, const uint8_t *q, float d, float dmin, float *d1, float *m1, float *d2, float *m2)
{
    uint8_t sc, m;
    k_scale_min(j, q, &sc, &m);
    *d1 = d * (float)sc;
    *m1 = dmin * (float)m;
    k_scale_min(j + 1, q, &sc, &m);
    *d2 = d * (float)sc;
    *m2 = dmin * (float)m;
}

/* Q4_K: d, dmin (f16), scales[12], qs[128]; each 64 elements use 32 bytes: low nibbles with
 * one scale/min pair, high nibbles with the next. value = (d*sc)*q - (dmin*m). */
static void deq_q4_k(const uint8_t *b, float *y)
{
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    int is = 0;
    for (int j = 0; j < QK_K; j += 64) {
        float d1, m1, d2, m2;
        k_scale_min_pair(is, scales, d, dmin, &d1, &m1, &d2, &m2);
        for (int l = 0; l < 32; l++)
            *y++ = d1 * (float)(q[l] & 0x0f) - m1;
        for (int l = 0; l < 32; l++)
            *y++ = d2 * (float)(q[l] >> 4) - m2;
        q += 32;
        is += 2;
    }
}

/* Q5_K: d, dmin, scales[12], qh[32], qs[128]; the fifth bit of element l of the i-th 32-group
 * is bit i of qh[l]. */
static void deq_q5_k(const uint8_t *b, float *y)
{
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
    int is = 0;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < QK_K; j += 64) {
        float d1, m1, d2, m2;
        k_scale_min_pair(is, scales, d, dmin, &d1, &m1, &d2, &m2);
        for (int l = 0; l < 32; l++)
            *y++ = d1 * (float)((ql[l] & 0x0f) + ((qh[l] & u1) ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++)
            *y++ = d2 * (float)((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        ql += 32;
        is += 2;
        u1 = (uint8_t)(u1 << 2);
        u2 = (uint8_t)(u2 << 2);
    }
}

/* Q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d (f16).
 * value = (d*scale)*(q - 32), the scale changing every 16 elements. */
static void deq_q6_k(const uint8_t *b, float *y)
{
    const uint8_t *ql = b, *qh = b + QK_K / 2;
    const int8_t *sc = (const int8_t *)(b + QK_K / 2 + QK_K / 4);
    const float d = f16_at(b + QK_K / 2 + QK_K / 4 + QK_K / 16);
    for (int n = 0; n < QK_K; n += 128) {
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

/* ---- non-linear 4-bit codebook (IQ4_NL, IQ4_XS) --------------------------------------- */

/* The sixteen levels both types index with 4 bits (ggml's kvalues_iq4nl). */
static const int8_t iq4_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* IQ4_NL: d (f16), 16 bytes of nibbles laid out as Q4_0's; value = d * level. */
static void deq_iq4_nl(const uint8_t *b, float *y)
{
    const float d = f16_at(b);
    for (int j = 0; j < QK / 2; j++) {
        y[j] = d * (float)iq4_levels[b[2 + j] & 0x0f];
        y[j + QK / 2] = d * (float)iq4_levels[b[2 + j] >> 4];
    }
}

/* IQ4_XS: d (f16), scales_h (u16: 2 high bits per 32-group), scales_l[4] (4 low bits per
 * group), qs[128]; group ib uses 16 bytes of nibbles and the scale (d*(ls-32)). */
static void deq_iq4_xs(const uint8_t *b, float *y)
{
    const float d = f16_at(b);
    const unsigned scales_h = rd16(b + 2);
    const uint8_t *scales_l = b + 4, *qs = b + 8;
    for (int ib = 0; ib < QK_K / 32; ib++) {
        const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) | (int)(((scales_h >> (2 * ib)) & 3) << 4);
        const float dl = d * (float)(ls - 32);
        for (int j = 0; j < 16; j++) {
            y[j] = dl * (float)iq4_levels[qs[j] & 0x0f];
            y[j + 16] = dl * (float)iq4_levels[qs[j] >> 4];
        }
        y += 32;
        qs += 16;
    }
}

/* ---- rows ----------------------------------------------------------------------------- */

int ofmt_ggml_dequant_rows(uint32_t ggml_type, const uint8_t *src, uint64_t row_length, uint64_t rows, float *dst)
{
    uint32_t be = 1, bb = 1;
    uint64_t n;
    void (*block_fn)(const uint8_t *, float *) = NULL;

    if (!ofmt_ggml_can_dequant(ggml_type) || !ofmt_ggml_type_size(ggml_type, &be, &bb))
        return olive_fail(OLIVE_EUNSUPPORTED, "GGML type %s (%u) cannot be dequantized", ofmt_ggml_type_name(ggml_type),
                          ggml_type);
    if (row_length % be)
        return olive_fail(OLIVE_EINVALID, "row length %llu is not a multiple of the %s block size %u",
                          (unsigned long long)row_length, ofmt_ggml_type_name(ggml_type), be);
    if (__builtin_mul_overflow(row_length, rows, &n) || n > UINT64_MAX / sizeof(float))
        return olive_fail(OLIVE_EINVALID, "%llu rows of %llu elements overflow", (unsigned long long)rows,
                          (unsigned long long)row_length);
    if (n == 0)
        return OLIVE_OK;

    switch (ggml_type) {
    case OFMT_GGML_F32:
        memcpy(dst, src, n * sizeof(float)); /* stored little-endian, as this host reads it */
        return OLIVE_OK;
    case OFMT_GGML_F16:
        for (uint64_t i = 0; i < n; i++)
            dst[i] = half_to_float(rd16(src + 2 * i));
        return OLIVE_OK;
    case OFMT_GGML_BF16:
        for (uint64_t i = 0; i < n; i++)
            dst[i] = bits_to_float((uint32_t)rd16(src + 2 * i) << 16);
        return OLIVE_OK;
    case OFMT_GGML_Q4_0: block_fn = deq_q4_0; break;
    case OFMT_GGML_Q4_1: block_fn = deq_q4_1; break;
    case OFMT_GGML_Q5_0: block_fn = deq_q5_0; break;
    case OFMT_GGML_Q5_1: block_fn = deq_q5_1; break;
    case OFMT_GGML_Q8_0: block_fn = deq_q8_0; break;
    case OFMT_GGML_Q2_K: block_fn = deq_q2_k; break;
    case OFMT_GGML_Q3_K: block_fn = deq_q3_k; break;
    case OFMT_GGML_Q4_K: block_fn = deq_q4_k; break;
    case OFMT_GGML_Q5_K: block_fn = deq_q5_k; break;
    case OFMT_GGML_Q6_K: block_fn = deq_q6_k; break;
    case OFMT_GGML_IQ4_NL: block_fn = deq_iq4_nl; break;
    case OFMT_GGML_IQ4_XS: block_fn = deq_iq4_xs; break;
    default: break;
    }
    /* rows are contiguous and a whole number of blocks, so the tensor is one run of blocks */
    for (uint64_t blk = 0; blk < n / be; blk++)
        block_fn(src + blk * bb, dst + blk * be);
    return OLIVE_OK;
}
