/* GGML tensor types: their block layout, and conversion of stored rows to float32 exactly as
 * llama.cpp's reference dequantize_row_* functions compute them (same operations in the same
 * order, so results are bit-identical). */
#ifndef OLIVE_FORMATS_GGML_DEQUANT_H
#define OLIVE_FORMATS_GGML_DEQUANT_H

#include <stdint.h>

/* GGML type ids as GGUF files store them. */
enum {
    OFMT_GGML_F32 = 0,
    OFMT_GGML_F16 = 1,
    OFMT_GGML_Q4_0 = 2,
    OFMT_GGML_Q4_1 = 3,
    OFMT_GGML_Q5_0 = 6,
    OFMT_GGML_Q5_1 = 7,
    OFMT_GGML_Q8_0 = 8,
    OFMT_GGML_Q8_1 = 9,
    OFMT_GGML_Q2_K = 10,
    OFMT_GGML_Q3_K = 11,
    OFMT_GGML_Q4_K = 12,
    OFMT_GGML_Q5_K = 13,
    OFMT_GGML_Q6_K = 14,
    OFMT_GGML_Q8_K = 15,
    OFMT_GGML_IQ4_NL = 20,
    OFMT_GGML_IQ4_XS = 23,
    OFMT_GGML_I8 = 24,
    OFMT_GGML_I16 = 25,
    OFMT_GGML_I32 = 26,
    OFMT_GGML_I64 = 27,
    OFMT_GGML_F64 = 28,
    OFMT_GGML_BF16 = 30
};

/* Elements per block and bytes per block of a GGML type (1 and the element size for plain
 * types). Returns 0 for a type id this module does not know (nothing written), else 1. Types
 * it knows but cannot dequantize (Q2_K, IQ*, ...) still have their sizes, so a file holding
 * them can be parsed and the tensor named in the error. */
int ofmt_ggml_type_size(uint32_t ggml_type, uint32_t *block_elems, uint32_t *block_bytes);

/* "Q4_K", "F16", ...; "unknown" for an id with no name. Never NULL. */
const char *ofmt_ggml_type_name(uint32_t ggml_type);

/* 1 if ofmt_ggml_dequant_rows converts this type, else 0. */
int ofmt_ggml_can_dequant(uint32_t ggml_type);

/* Bytes one row of `row_length` elements occupies; 0 when the type is unknown, row_length is
 * not a whole number of blocks, or the size overflows. */
uint64_t ofmt_ggml_row_bytes(uint32_t ggml_type, uint64_t row_length);

/* Converts `rows` consecutive rows of `row_length` elements stored at `src` (rows are
 * ofmt_ggml_row_bytes apart) to float32 in dst (rows * row_length values). Handles F32, F16,
 * BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL and IQ4_XS. Errors: OLIVE_EUNSUPPORTED for
 * another type, OLIVE_EINVALID when row_length is not a whole number of blocks. */
int ofmt_ggml_dequant_rows(uint32_t ggml_type, const uint8_t *src, uint64_t row_length, uint64_t rows, float *dst);

#endif
