/* State shared by the pieces of the loader: the model's bytes, where its external data lives,
 * and the data files mapped so far. */
#ifndef OLIVE_ONNX_LOAD_CTX_H
#define OLIVE_ONNX_LOAD_CTX_H

#include "core/strmap.h"
#include "ir/ir.h"
#include "onnx.pb-c.h"
#include "onnx/onnx_strip.h"

typedef struct onnx_load_ctx {
    const char *what;       /* the model file's path (or "<buffer>") for messages */
    olive_blob *model_blob; /* the serialized model (main-graph raw_data points into it) */
    const char *base_dir;   /* folder external data is resolved against; NULL refuses it */
    olive_strmap files;     /* realpath of a data file -> its mapped olive_blob */
    char **file_keys;       /* owned keys of `files` */
    size_t n_files, cap_files;
    const onnx_raw_range *ranges; /* per main-graph initializer, NULL when not stripped */
    size_t n_ranges;
    const onnx_raw_range *nodes; /* main-graph nodes left in model_blob, NULL when unpacked */
    size_t n_nodes;
    oir_model *model; /* receives every mapped file as a source */
} onnx_load_ctx;

/* Converts a TensorProto. `raw` (main-graph initializers only) tells where its raw_data lies
 * in the model file when it was taken out before unpacking. */
int onnx_tensor_from_proto(onnx_load_ctx *ctx, const Onnx__TensorProto *tp, const onnx_raw_range *raw,
                           oir_tensor **out);
/* Copies bytes with a NUL after them, as the IR stores them. */
int onnx_copy_bytes(oir_bytes *dst, const ProtobufCBinaryData *src);

/* Converts an unpacked ModelProto into `m` (a fresh model). */
int onnx_model_from_proto(onnx_load_ctx *ctx, const Onnx__ModelProto *mp, oir_model *m);

/* The mapped data file for an external tensor's `location` (checked to stay inside the model
 * folder; mapped once per model and registered as a source). Borrowed from the context. */
int onnx_external_file(onnx_load_ctx *ctx, const char *location, const char *tensor, olive_blob **out);
void onnx_load_ctx_release(onnx_load_ctx *ctx);

#endif
