/* The integer codes inside GGML block types, for carrying them into another block format
 * without dequantizing them first.
 *
 * Every supported type is read as groups of consecutive elements (16 or 32) that share one
 * float scale and, for types with a minimum, one float offset: value = scale * code + offset,
 * the code a small integer. The scale is the product ggml forms before multiplying by the
 * code (d for Q4_0, d * sub_scale for Q6_K), computed in float as ggml does; it is exact for
 * every type here (a float16 times an integer of at most 8 bits). */
#ifndef OLIVE_FORMATS_GGML_CODES_H
#define OLIVE_FORMATS_GGML_CODES_H

#include <stdint.h>

typedef struct ofmt_ggml_codes {
    uint32_t group;         /* elements sharing a scale (and offset): 16 or 32 */
    int code_min, code_max; /* range of the codes */
    int has_offset;         /* 1: groups carry a float offset (a minimum) */
} ofmt_ggml_codes;

/* Describes the codes of a GGML type into *out. Returns 1 for a type whose codes this module
 * reads (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS), else 0
 * (nothing written). */
int ofmt_ggml_codes_of(uint32_t ggml_type, ofmt_ggml_codes *out);

/* Reads `rows` consecutive rows of `row_length` elements stored at `src`: codes (one per
 * element), scales and offsets (one per group, row_length / group per row; offsets may be NULL
 * for a type without them, and are all 0 then). Errors: OLIVE_EUNSUPPORTED for a type
 * ofmt_ggml_codes_of rejects, OLIVE_EINVALID when row_length is not a whole number of blocks. */
int ofmt_ggml_read_codes(uint32_t ggml_type, const uint8_t *src, uint64_t row_length, uint64_t rows, int8_t *codes,
                         float *scales, float *offsets);

#endif
