/* IEEE binary16 (half) and bfloat16 conversions, bit-exact: float to half/bfloat16 rounds to
 * nearest even, NaN stays NaN (quiet, payload kept where it fits), overflow gives infinity. */
#ifndef OLIVE_CORE_HALF_H
#define OLIVE_CORE_HALF_H

#include <stdint.h>

float olive_half_to_float(uint16_t h);
uint16_t olive_float_to_half(float f);
float olive_bfloat16_to_float(uint16_t b);
uint16_t olive_float_to_bfloat16(float f);

#endif
