/* safetensors files: an 8-byte little-endian header length, a JSON header naming each tensor's
 * dtype, shape and byte range, then the data. Tensors point into the mapped file. */
#ifndef OLIVE_FORMATS_SAFETENSORS_H
#define OLIVE_FORMATS_SAFETENSORS_H

#include "formats/checkpoint.h"

/* Maps `path` and appends its tensors to `c` (the file's name in messages is `path`).
 * Every entry is checked: dtype known, rank and dims sane, byte range inside the data area,
 * size equal to dtype * shape, no two ranges overlapping. On failure `c` keeps what it had
 * before the call plus possibly some of this file's tensors (the caller frees it).
 * Errors: OLIVE_ENOTFOUND, OLIVE_EIO, OLIVE_EFORMAT, OLIVE_EUNSUPPORTED (a dtype the format
 * defines but libolive does not read), OLIVE_ENOMEM. */
int ofmt_safetensors_add_file(ofmt_checkpoint *c, const char *path);

/* The ONNX dtype (ir.h OIR_*) of a safetensors dtype name ("F32", "BF16", ...), 0 if unknown. */
int32_t ofmt_safetensors_dtype(const char *name);

#endif
