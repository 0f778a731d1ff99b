/* libolive — models.
 *
 * An olive_model is an ONNX model in memory. Its weights stay in their files (memory-mapped)
 * until the model is saved; saving streams them to the new files. Models are immutable through
 * this API: passes and the engine return new models that share weights with their inputs.
 */
#ifndef OLIVE_MODEL_H
#define OLIVE_MODEL_H

#include "olive/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct olive_model olive_model;

/* Loads the ONNX model at `path` (a .onnx file; external data files are resolved relative to
 * its folder and must stay inside it). Weights are mapped, not read.
 * `path` may also be a source checkpoint: a Hugging Face model folder (config.json with
 * model.safetensors, sharded safetensors with model.safetensors.index.json, pytorch_model.bin
 * or sharded .bin files, and no model.onnx) or a GGUF file (recognised by its magic). Such a
 * model has no graph yet; its config and tensor headers are checked here (the weights are
 * mapped, not read); its files are read by the `convert`
 * pass, which turns it into an ONNX model. Every other pass refuses it with OLIVE_EINVALID.
 * On success *out receives a new model owned by the caller (olive_model_free).
 * Errors: OLIVE_EINVALID (NULL argument), OLIVE_ENOTFOUND (no such file or external data file),
 * OLIVE_EFORMAT (not a valid ONNX model: truncated, bad protobuf, tensor sizes that do not
 * match their data, external data outside the folder or past the end of its file, nesting
 * deeper than 64 levels), OLIVE_EIO, OLIVE_ENOMEM. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_model_load(olive_model **out, const char *path);

/* Releases a model. Accepts NULL. Weights shared with other models stay alive for them.
 * Since 0.1. */
OLIVE_API void olive_model_free(olive_model *model);

/* Saves the model to `path` (normally "<folder>/model.onnx"). `options` is NULL or a
 * space-separated list of key=value settings:
 *   external_data=auto|always|never  (default auto: tensors of size_threshold bytes or more go
 *                                     to one data file; never embeds all, which requires the
 *                                     model to be under 2 GiB)
 *   size_threshold=N                 (default 1024)
 *   align=N                          (default 4096: offset alignment in the data file; 1 = none)
 *   data_file=NAME                   (default "<model file name>.data", in the same folder)
 * The write is atomic: files are written under temporary names and renamed at the end; on
 * failure nothing is left behind. The model's own source files are never overwritten.
 * Errors: OLIVE_EINVALID (bad option value, or `path` is one of the model's source files),
 * OLIVE_ENOTFOUND (unknown option key),
 * OLIVE_EUNSUPPORTED (embedding a model of 2 GiB or more), OLIVE_EIO, OLIVE_ENOMEM.
 * Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_model_save(const olive_model *model, const char *path, const char *options);

/* Writes a description of the model as JSON into *out (release with olive_free): ir_version,
 * producer, opset imports, inputs and outputs (name, dtype, shape with symbolic dims as
 * strings), node count, op-type histogram, initializer count, parameter count (as
 * olive_model_parameter_count), parameter bytes, and bytes and stored element counts per dtype.
 * For a source checkpoint (no graph yet) a "checkpoint" object gives its kind ("hf_folder" or
 * "gguf"), architecture, model_type, tensor_count, parameter_count and parameter_bytes, and the
 * top-level counts are the checkpoint's tensors.
 * Errors: OLIVE_EINVALID, OLIVE_ENOMEM; for a checkpoint, those of reading it (OLIVE_EFORMAT,
 * OLIVE_ENOTFOUND, OLIVE_EIO). Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_model_summary_json(char **out, const olive_model *model);

/* Typed accessors. Indices are 0-based; an index out of range gives NULL / -1. Since 0.1. */
OLIVE_API size_t olive_model_node_count(const olive_model *model);
OLIVE_API size_t olive_model_initializer_count(const olive_model *model);
/* The model's parameter count: the elements of all initializers, where a packed weight of a
 * com.microsoft MatMulNBits (B: N×K) or GatherBlockQuantized (uint8 data: 8/bits values per
 * byte) counts the weights it holds, and their block scales and zero points count none (so an
 * int4 model has the parameter count of its float original). Since 0.1. */
OLIVE_API uint64_t olive_model_parameter_count(const olive_model *model);
OLIVE_API size_t olive_model_input_count(const olive_model *model);
OLIVE_API size_t olive_model_output_count(const olive_model *model);
/* Borrowed names, valid while the model lives. Since 0.1. */
OLIVE_API const char *olive_model_input_name(const olive_model *model, size_t index);
OLIVE_API const char *olive_model_output_name(const olive_model *model, size_t index);
/* Opset version imported for `domain` ("" or "ai.onnx" for the default domain), or -1.
 * Since 0.1. */
OLIVE_API int64_t olive_model_opset(const olive_model *model, const char *domain);
/* The path the model was loaded from (for a model made by a pass or an engine run, the path
 * of the model it was derived from), or "" for a model built in memory. Since 0.1. */
OLIVE_API const char *olive_model_path(const olive_model *model);
/* How the model runs best, as a pass that measured it found (session_params_tuning, Olive's
 * OrtSessionParamsTuning): a JSON object in Olive's `inference_settings` form
 * ({"execution_provider": [...], "provider_options": [...], "io_bind": ..., "session_options":
 * {...}}), borrowed from the model; NULL when no pass set one (or model is NULL). Workflows write
 * it into model_config.json. Since 0.2. */
OLIVE_API const char *olive_model_inference_settings(const olive_model *model);

/* Checks the graph: every node input is produced by a node, an initializer or a graph input;
 * no value is produced twice; no cycle; every node's domain has an opset import.
 * Errors: OLIVE_EFORMAT with a message naming the node and value at fault. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_model_validate(const olive_model *model);

#ifdef __cplusplus
}
#endif
#endif
