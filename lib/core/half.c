/* IEEE binary16 and bfloat16 conversions, bit-exact, rounding to nearest even. */
#include <math.h>
#include <string.h>

#include "core/half.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

float olive_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) {
        float v = ldexpf((float)mant, -24); /* zero or subnormal: exact in float */
        return sign ? -v : v;
    }
    if (exp == 31)
        return from_bits(sign | 0x7f800000u | (mant << 13));
    return from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t olive_float_to_half(float f)
{
    uint32_t x = to_bits(f), ax = x & 0x7fffffffu;
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    if (ax > 0x7f800000u) /* NaN: keep it quiet and non-zero */
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    if (ax >= 0x477ff000u) /* 65520 and up round to infinity */
        return (uint16_t)(sign | 0x7c00);
    if (ax < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        uint32_t e = ax >> 23, m, shift, r, rem, half;
        if (ax < 0x33000000u) /* under half of the smallest subnormal */
            return sign;
        m = (ax & 0x7fffffu) | 0x800000u;
        shift = 126 - e;
        r = m >> shift;
        rem = m & ((1u << shift) - 1);
        half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++;
        return (uint16_t)(sign | r);
    }
    ax -= 0x38000000u; /* rebias the exponent from 127 to 15 */
    return (uint16_t)(sign | ((ax + 0xfffu + ((ax >> 13) & 1)) >> 13));
}

float olive_bfloat16_to_float(uint16_t b)
{
    return from_bits((uint32_t)b << 16);
}

uint16_t olive_float_to_bfloat16(float f)
{
    uint32_t x = to_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}
