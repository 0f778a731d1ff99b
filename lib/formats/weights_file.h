/* Weight files for tensors by name, as NumPy (.npz) and safetensors write them: the formats
 * Olive's save_weights offers besides ONNX Runtime's adapter file (onnx_adapter.h). */
#ifndef OLIVE_FORMATS_WEIGHTS_FILE_H
#define OLIVE_FORMATS_WEIGHTS_FILE_H

#include <stddef.h>

#include "core/blob.h"
#include "formats/onnx_adapter.h"

/* An .npz image (np.savez: a zip of stored "<name>.npy" entries) of the tensors, in a new heap
 * blob *out owned by the caller; `what` names the file in errors. Errors: OLIVE_EUNSUPPORTED
 * (a dtype NumPy has not, such as bfloat16 or 4-bit, or sizes that need zip64), OLIVE_ENOMEM. */
int ofmt_npz_encode(olive_blob **out, const char *what, const ofmt_adapter_param *params, size_t n);

/* A .safetensors image of the tensors, the same way. Errors: OLIVE_EUNSUPPORTED (a dtype
 * safetensors has not), OLIVE_ENOMEM. */
int ofmt_safetensors_encode(olive_blob **out, const char *what, const ofmt_adapter_param *params, size_t n);

#endif
