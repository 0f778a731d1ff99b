/* ONNX Runtime's adapter file (.onnx_adapter): a FlatBuffers buffer with file identifier
 * "TORT" whose root table Adapter holds format_version (1), adapter_version, model_version and
 * a vector of Parameter tables (name, dims as int64, data_type as ONNX's TensorProto enum,
 * raw_data little-endian, 8-byte aligned), as onnxruntime/lora/adapter_format/adapter_schema.fbs
 * defines it. ONNX Runtime GenAI feeds each parameter to the model input of the same name. */
#ifndef OLIVE_FORMATS_ONNX_ADAPTER_H
#define OLIVE_FORMATS_ONNX_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/blob.h"

typedef struct ofmt_adapter_param {
    const char *name;
    int32_t dtype; /* ONNX dtype (OIR_FLOAT, OIR_FLOAT16, ...) */
    size_t rank;
    const int64_t *dims;
    const void *data; /* little-endian elements */
    size_t nbytes;
} ofmt_adapter_param;

/* The file's bytes for the parameters, in a new heap blob *out (one reference to the caller);
 * `what` names the file in errors. Errors: OLIVE_EINVALID (sizes that do not fit the format),
 * OLIVE_ENOMEM. */
int ofmt_adapter_encode(olive_blob **out, const char *what, const ofmt_adapter_param *params, size_t n,
                        int adapter_version, int model_version);

/* Writes the parameters to `path` atomically (a temporary file renamed into place).
 * Errors: OLIVE_EINVALID (sizes that do not fit the format), OLIVE_EIO, OLIVE_ENOMEM. */
int ofmt_adapter_write(const char *path, const ofmt_adapter_param *params, size_t n, int adapter_version,
                       int model_version);

#endif
