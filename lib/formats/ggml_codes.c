/* Codes, scales and offsets of GGML blocks, read from the layouts ggml-common.h declares (the
 * same layouts ggml_dequant.c reads; see there for each field). */
#include "formats/ggml_codes.h"

#include <string.h>

#include "core/half.h"
#include "core/status.h"
#include "formats/ggml_dequant.h"

#define QK 32
#define QK_K 256

int ofmt_ggml_codes_of(uint32_t ggml_type, ofmt_ggml_codes *out)
{
    ofmt_ggml_codes c;
    switch (ggml_type) {
    case OFMT_GGML_Q4_0: c = (ofmt_ggml_codes){32, -8, 7, 0}; break;
    case OFMT_GGML_Q4_1: c = (ofmt_ggml_codes){32, 0, 15, 1}; break;
    case OFMT_GGML_Q5_0: c = (ofmt_ggml_codes){32, -16, 15, 0}; break;
    case OFMT_GGML_Q5_1: c = (ofmt_ggml_codes){32, 0, 31, 1}; break;
    case OFMT_GGML_Q8_0: c = (ofmt_ggml_codes){32, -128, 127, 0}; break;
    case OFMT_GGML_Q2_K: c = (ofmt_ggml_codes){16, 0, 3, 1}; break;
    case OFMT_GGML_Q3_K: c = (ofmt_ggml_codes){16, -4, 3, 0}; break;
    case OFMT_GGML_Q4_K: c = (ofmt_ggml_codes){32, 0, 15, 1}; break;
    case OFMT_GGML_Q5_K: c = (ofmt_ggml_codes){32, 0, 31, 1}; break;
    case OFMT_GGML_Q6_K: c = (ofmt_ggml_codes){16, -32, 31, 0}; break;
    case OFMT_GGML_IQ4_NL:
    case OFMT_GGML_IQ4_XS: c = (ofmt_ggml_codes){32, -127, 113, 0}; break;
    default: return 0;
    }
    *out = c;
    return 1;
}

static float f16_at(const uint8_t *p)
{
    return olive_half_to_float((uint16_t)(p[0] | (p[1] << 8)));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ---- 32-element blocks: one group each ------------------------------------------------- */

/* Nibbles of 16 bytes: low ones are elements 0..15, high ones 16..31. */
static void nibbles(const uint8_t *qs, int8_t *c, int sub)
{
    for (int j = 0; j < QK / 2; j++) {
        c[j] = (int8_t)((qs[j] & 0x0f) - sub);
        c[j + QK / 2] = (int8_t)((qs[j] >> 4) - sub);
    }
}

/* Nibbles plus the fifth bits of qh (bit j for element j). */
static void nibbles5(const uint8_t *qs, uint32_t qh, int8_t *c, int sub)
{
    for (int j = 0; j < QK / 2; j++) {
        c[j] = (int8_t)(((qs[j] & 0x0f) | (int)(((qh >> j) & 1) << 4)) - sub);
        c[j + QK / 2] = (int8_t)(((qs[j] >> 4) | (int)(((qh >> (j + QK / 2)) & 1) << 4)) - sub);
    }
}

static const int8_t iq4_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static void block_legacy(uint32_t type, const uint8_t *b, int8_t *c, float *s, float *o)
{
    *o = 0.0f;
    switch (type) {
    case OFMT_GGML_Q4_0:
        *s = f16_at(b);
        nibbles(b + 2, c, 8);
        break;
    case OFMT_GGML_Q4_1:
        *s = f16_at(b);
        *o = f16_at(b + 2);
        nibbles(b + 4, c, 0);
        break;
    case OFMT_GGML_Q5_0:
        *s = f16_at(b);
        nibbles5(b + 6, rd32(b + 2), c, 16);
        break;
    case OFMT_GGML_Q5_1:
        *s = f16_at(b);
        *o = f16_at(b + 2);
        nibbles5(b + 8, rd32(b + 4), c, 0);
        break;
    case OFMT_GGML_Q8_0:
        *s = f16_at(b);
        memcpy(c, b + 2, QK);
        break;
    default: /* IQ4_NL */
        *s = f16_at(b);
        for (int j = 0; j < QK / 2; j++) {
            c[j] = iq4_levels[b[2 + j] & 0x0f];
            c[j + QK / 2] = iq4_levels[b[2 + j] >> 4];
        }
        break;
    }
}

/* ---- 256-element super-blocks ---------------------------------------------------------- */

/* Q2_K: 16 groups of 16; value = (d*sc)*q - (dmin*m). */
static void block_q2_k(const uint8_t *b, int8_t *c, float *s, float *o)
{
    const uint8_t *scales = b, *q = b + QK_K / 16;
    const float d = f16_at(b + QK_K / 16 + QK_K / 4), dmin = f16_at(b + QK_K / 16 + QK_K / 4 + 2);
    int g = 0;
    for (int n = 0; n < QK_K; n += 128, q += 32)
        for (int shift = 0; shift < 8; shift += 2)
            for (int half = 0; half < 2; half++, g++) {
                s[g] = d * (float)(scales[g] & 0x0f);
                o[g] = -(dmin * (float)(scales[g] >> 4));
                for (int l = 0; l < 16; l++)
                    *c++ = (int8_t)((q[l + 16 * half] >> shift) & 3);
            }
}

/* Q3_K: 16 groups of 16, signed 6-bit scales; value = (d*scale)*q, q in -4..3. */
static void block_q3_k(const uint8_t *b, int8_t *c, float *s)
{
    const uint8_t *hm = b, *q = b + QK_K / 8, *packed = b + QK_K / 8 + QK_K / 4;
    const float d = f16_at(b + QK_K / 8 + QK_K / 4 + 12);
    uint8_t m = 1;
    int g = 0;
    for (int i = 0; i < 16; i++) {
        int low = i < 8 ? packed[i] & 0x0f : packed[i - 8] >> 4;
        int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
        s[i] = d * (float)((low | (high << 4)) - 32);
    }
    for (int n = 0; n < QK_K; n += 128, q += 32)
        for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1))
            for (int half = 0; half < 2; half++, g++)
                for (int l = 0; l < 16; l++) {
                    const int k = l + 16 * half;
                    *c++ = (int8_t)(((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
                }
}

/* Scale and min j of the 12 packed bytes of Q4_K / Q5_K (six bits each). */
static void k_scale_min(int j, const uint8_t *q, int *sc, int *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Q4_K / Q5_K: 8 groups of 32; value = (d*sc)*q - (dmin*m). Q5_K's fifth bit of element l of
 * group g is bit g of qh[l]. */
static void block_q45_k(int five, const uint8_t *b, int8_t *c, float *s, float *o)
{
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = five ? b + 48 : b + 16;
    for (int g = 0; g < 8; g++) {
        int sc, mn;
        const uint8_t *q = ql + 32 * (g / 2);
        k_scale_min(g, scales, &sc, &mn);
        s[g] = d * (float)sc;
        o[g] = -(dmin * (float)mn);
        for (int l = 0; l < 32; l++) {
            int v = g % 2 ? q[l] >> 4 : q[l] & 0x0f;
            if (five && (qh[l] >> g) & 1)
                v += 16;
            *c++ = (int8_t)v;
        }
    }
}

/* Q6_K: 16 groups of 16, int8 scales; value = (d*scale)*(q - 32). */
static void block_q6_k(const uint8_t *b, int8_t *c, float *s)
{
    const uint8_t *ql = b, *qh = b + QK_K / 2;
    const int8_t *sc = (const int8_t *)(b + QK_K / 2 + QK_K / 4);
    const float d = f16_at(b + QK_K / 2 + QK_K / 4 + QK_K / 16);
    for (int g = 0; g < 16; g++)
        s[g] = d * (float)sc[g];
    for (int n = 0; n < QK_K; n += 128, c += 128, ql += 64, qh += 32)
        for (int l = 0; l < 32; l++) {
            c[l] = (int8_t)(((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32);
            c[l + 32] = (int8_t)(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32);
            c[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
            c[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
}

/* IQ4_XS: 8 groups of 32 with 6-bit scales (offset 32) times d. */
static void block_iq4_xs(const uint8_t *b, int8_t *c, float *s)
{
    const float d = f16_at(b);
    const unsigned scales_h = (unsigned)(b[2] | (b[3] << 8));
    const uint8_t *scales_l = b + 4, *qs = b + 8;
    for (int g = 0; g < 8; g++, c += 32, qs += 16) {
        const int ls = ((scales_l[g / 2] >> (4 * (g % 2))) & 0x0f) | (int)(((scales_h >> (2 * g)) & 3) << 4);
        s[g] = d * (float)(ls - 32);
        for (int j = 0; j < 16; j++) {
            c[j] = iq4_levels[qs[j] & 0x0f];
            c[j + 16] = iq4_levels[qs[j] >> 4];
        }
    }
}

int ofmt_ggml_read_codes(uint32_t ggml_type, const uint8_t *src, uint64_t row_length, uint64_t rows, int8_t *codes,
                         float *scales, float *offsets)
{
    ofmt_ggml_codes info;
    uint32_t be, bb;
    float zero[16];
    if (!ofmt_ggml_codes_of(ggml_type, &info) || !ofmt_ggml_type_size(ggml_type, &be, &bb))
        return olive_fail(OLIVE_EUNSUPPORTED, "GGML type %s (%u) has no codes to carry over",
                          ofmt_ggml_type_name(ggml_type), ggml_type);
    if (row_length % be)
        return olive_fail(OLIVE_EINVALID, "row length %llu is not a multiple of the %s block size %u",
                          (unsigned long long)row_length, ofmt_ggml_type_name(ggml_type), be);
    const uint64_t blocks = row_length / be * rows, groups = be / info.group;
    for (uint64_t k = 0; k < blocks; k++) {
        const uint8_t *b = src + k * bb;
        int8_t *c = codes + k * be;
        float *s = scales + k * groups, *o = offsets ? offsets + k * groups : zero;
        switch (ggml_type) {
        case OFMT_GGML_Q2_K: block_q2_k(b, c, s, o); break;
        case OFMT_GGML_Q3_K: block_q3_k(b, c, s); break;
        case OFMT_GGML_Q4_K: block_q45_k(0, b, c, s, o); break;
        case OFMT_GGML_Q5_K: block_q45_k(1, b, c, s, o); break;
        case OFMT_GGML_Q6_K: block_q6_k(b, c, s); break;
        case OFMT_GGML_IQ4_XS: block_iq4_xs(b, c, s); break;
        default: block_legacy(ggml_type, b, c, s, o); break;
        }
        if (offsets && !info.has_offset)
            memset(o, 0, groups * sizeof *o);
    }
    return OLIVE_OK;
}
