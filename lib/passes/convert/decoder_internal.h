/* Internals of the decoder builder shared by its files (not for architecture hooks). */
#ifndef OLIVE_PASSES_CONVERT_DECODER_INTERNAL_H
#define OLIVE_PASSES_CONVERT_DECODER_INTERNAL_H

#include "passes/convert/decoder.h"

/* An initializer whose bytes are in the spill file, given its blob once all are written. */
struct cvt_pending {
    oir_tensor *tensor;
    uint64_t offset, nbytes;
};

/* Bytes per element of float, float16, bfloat16. */
size_t cvt_dtype_size(int32_t dtype);
/* Converts n floats to dtype (float, float16, bfloat16) into dst. */
void cvt_convert_f32(int32_t dtype, const float *src, size_t n, void *dst);
/* Adds initializer `name` whose bytes get a region of the spill file (*offset). */
int cvt_spill_tensor(cvt_decoder *d, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
                     uint64_t *offset);
/* Maps the spill file and gives every spilled initializer its bytes. */
int cvt_finish_tensors(cvt_decoder *d);
/* "/model/layers.0/attn/qkv_proj" -> "model.layers.0.attn.qkv_proj" (builder-owned). */
const char *cvt_path_to_dots(cvt_decoder *d, const char *path);

#endif
