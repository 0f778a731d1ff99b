/* libolive — running models: tensors, ONNX Runtime sessions, ONNX Runtime GenAI generation.
 *
 * Conventions are those of common.h: fallible calls return OLIVE_OK or a negative OLIVE_E*
 * code with a message in olive_error_last(); `**out` results are owned by the caller and
 * released with their _free (which accepts NULL); returned `const char *` are borrowed from
 * the handle they came from.
 *
 * ONNX Runtime is not linked: it is loaded the first time it is needed, from (in this order)
 * the path given to olive_runtime_load() or the `ort_library` session option, the
 * OLIVE_ORT_LIBRARY environment variable, the system loader path (libonnxruntime.so.1), or the
 * onnxruntime / onnxruntime-gpu Python package of the python3 on PATH. ONNX Runtime GenAI is
 * found the same way (OLIVE_ORT_GENAI_LIBRARY, libonnxruntime-genai.so, the onnxruntime-genai
 * package). A path named by the caller or by the environment that cannot be loaded is an error:
 * no other place is tried. Everything else in libolive works without either library.
 *
 * All functions here are since 0.2.
 */
#ifndef OLIVE_SESSION_H
#define OLIVE_SESSION_H

#include "olive/accelerator.h"
#include "olive/common.h"
#include "olive/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tensors ---- */

/* Element types. The values are ONNX's TensorProto.DataType numbers and never change. */
typedef enum olive_dtype {
    OLIVE_DTYPE_UNDEFINED = 0,
    OLIVE_DTYPE_FLOAT32 = 1,
    OLIVE_DTYPE_UINT8 = 2,
    OLIVE_DTYPE_INT8 = 3,
    OLIVE_DTYPE_UINT16 = 4,
    OLIVE_DTYPE_INT16 = 5,
    OLIVE_DTYPE_INT32 = 6,
    OLIVE_DTYPE_INT64 = 7,
    OLIVE_DTYPE_BOOL = 9, /* one byte per element, 0 or 1 */
    OLIVE_DTYPE_FLOAT16 = 10,
    OLIVE_DTYPE_DOUBLE = 11,
    OLIVE_DTYPE_UINT32 = 12,
    OLIVE_DTYPE_UINT64 = 13,
    OLIVE_DTYPE_BFLOAT16 = 16,
} olive_dtype;

/* A dtype, a shape and a host buffer laid out densely in row-major (C) order. */
typedef struct olive_tensor olive_tensor;

/* The name of a dtype ("float32", "float16", "bfloat16", "int8", "uint8", "int16", "uint16",
 * "int32", "uint32", "int64", "uint64", "bool", "double"), or NULL for any other value.
 * Since 0.2. */
OLIVE_API const char *olive_dtype_name(olive_dtype dtype);

/* Bytes per element of a dtype, or 0 for a value that is not an olive_dtype. Since 0.2. */
OLIVE_API size_t olive_dtype_size(olive_dtype dtype);

/* Creates a tensor of `rank` dims (`shape` may be NULL when rank is 0: a scalar) that owns a
 * zero-filled buffer. Release with olive_tensor_free.
 * Errors: OLIVE_EINVALID (unknown dtype, a negative dim, rank over 32), OLIVE_ENOMEM (also when
 * the size overflows). Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_tensor_new(olive_tensor **out, olive_dtype dtype, const int64_t *shape,
                                               size_t rank);

/* Creates a tensor over the caller's buffer `data` of `size` bytes, without copying it. The
 * buffer is borrowed: the caller keeps it alive and unchanged while the tensor (and any run it
 * is given to) uses it; olive_tensor_free does not release it. `size` must be exactly the
 * tensor's byte size; `data` may be NULL only for an empty tensor.
 * Errors: OLIVE_EINVALID (as olive_tensor_new, or a size that does not match the shape),
 * OLIVE_ENOMEM. Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_tensor_wrap(olive_tensor **out, olive_dtype dtype, const int64_t *shape,
                                                size_t rank, void *data, size_t size);

/* Releases a tensor and, when it owns it, its buffer. Accepts NULL. Since 0.2. */
OLIVE_API void olive_tensor_free(olive_tensor *tensor);

/* Accessors. With a NULL tensor: OLIVE_DTYPE_UNDEFINED, 0, -1, 0, 0, NULL. Since 0.2. */
OLIVE_API olive_dtype olive_tensor_dtype(const olive_tensor *tensor);
OLIVE_API size_t olive_tensor_rank(const olive_tensor *tensor);
/* Size of dimension `index`, or -1 when index >= rank. Since 0.2. */
OLIVE_API int64_t olive_tensor_dim(const olive_tensor *tensor, size_t index);
/* Number of elements: the product of the dims (1 for a scalar, 0 when a dim is 0). Since 0.2. */
OLIVE_API uint64_t olive_tensor_element_count(const olive_tensor *tensor);
OLIVE_API size_t olive_tensor_byte_size(const olive_tensor *tensor);
/* The buffer (never NULL for a tensor, even an empty one). Owned tensors may be written.
 * Since 0.2. */
OLIVE_API void *olive_tensor_data(const olive_tensor *tensor);

/* ---- the ONNX Runtime library ---- */

/* Loads ONNX Runtime now: from `path` when not NULL, else by the lookup described above.
 * Loading is done once per process; a later call with no path, or with the path already
 * loaded, does nothing. A failed attempt may be retried (with a path, say).
 * Errors: OLIVE_ENOTFOUND (not found or not loadable; the message lists every place looked
 * at and why each failed), OLIVE_EUNSUPPORTED (the library is older than the C API version
 * libolive uses, naming both versions, or is not ONNX Runtime), OLIVE_EINVALID (another
 * ONNX Runtime is already loaded in this process). Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_runtime_load(const char *path);

/* Describes the runtime libraries as JSON into *out (release with olive_free):
 *   {"onnxruntime": {"found": true, "path", "found_by", "version", "api_version",
 *                    "providers": [...]} or {"found": false, "error": "<lookup error>"},
 *    "onnxruntime_genai": {"found": true, "path", "found_by"} or {"found": false, "error"}}
 * It loads what is not loaded yet (by the lookup); a library that is missing is reported in the
 * JSON, not as an error of this call.
 * Errors: OLIVE_EINVALID (out is NULL), OLIVE_ENOMEM. Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_runtime_info_json(char **out);

/* ---- sessions ---- */

/* A model prepared by ONNX Runtime for one execution provider. Runs may be made from several
 * threads at once. Since 0.2. */
typedef struct olive_session olive_session;

/* Creates a session for `model` on `acc` (NULL: cpu with CPUExecutionProvider). The model is
 * written to a private temporary folder (its weights as external data), loaded by ONNX Runtime
 * from there, and the folder is removed before this call returns; the model itself is not
 * changed and may be freed afterwards. Use olive_session_new_from_path for a model that is
 * already on disk.
 * `options` is NULL or space-separated key=value settings (a value with spaces in double
 * quotes):
 *   intra_op_num_threads=N            threads inside an operator (0: ONNX Runtime's default)
 *   inter_op_num_threads=N            threads across operators (parallel mode only)
 *   execution_mode=sequential|parallel
 *   graph_optimization_level=disable|basic|extended|all   (default all)
 *   provider.KEY=VALUE                an option of the accelerator's execution provider
 *                                     (e.g. provider.device_id=1 for CUDA)
 *   config.KEY=VALUE                  an ONNX Runtime session configuration entry
 *   ort_library=PATH                  load ONNX Runtime from PATH (see olive_runtime_load)
 * The execution provider is the accelerator's: CPUExecutionProvider always works; CUDA,
 * TensorRT, DirectML, OpenVINO, QNN, WebGPU and the others only when the loaded ONNX Runtime
 * has them.
 * Errors: OLIVE_EINVALID (NULL argument, bad option value), OLIVE_ENOTFOUND (unknown option
 * key; ONNX Runtime not found), OLIVE_EUNSUPPORTED (the provider is not available in the
 * loaded ONNX Runtime: the message lists those it has; an ONNX Runtime too old), OLIVE_EFORMAT
 * (ONNX Runtime refused the model: its message follows libolive's), OLIVE_EIO, OLIVE_ENOMEM.
 * Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_session_new(olive_session **out, const olive_model *model,
                                                const olive_accelerator *acc, const char *options);

/* Creates a session for the ONNX model file at `path`, which ONNX Runtime reads directly (so
 * its external data is found beside it). Arguments and errors as olive_session_new's, plus
 * OLIVE_ENOTFOUND for a missing file. Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_session_new_from_path(olive_session **out, const char *path,
                                                          const olive_accelerator *acc, const char *options);

/* Releases the caller's reference. A run in progress on another thread keeps the session
 * alive until it returns. Accepts NULL. Since 0.2. */
OLIVE_API void olive_session_free(olive_session *session);

/* The execution provider the session runs on (borrowed). Since 0.2. */
OLIVE_API const char *olive_session_provider(const olive_session *session);

/* Inputs and outputs, in the model's order. Names are borrowed from the session. A dtype of
 * OLIVE_DTYPE_UNDEFINED means a value that is not a tensor of a supported type. Dims are -1
 * when not fixed; the dim name is the symbolic name ("batch_size"), or "" when none.
 * Out-of-range indices give 0, NULL, OLIVE_DTYPE_UNDEFINED, -1 and NULL. Since 0.2. */
OLIVE_API size_t olive_session_input_count(const olive_session *session);
OLIVE_API size_t olive_session_output_count(const olive_session *session);
OLIVE_API const char *olive_session_input_name(const olive_session *session, size_t index);
OLIVE_API const char *olive_session_output_name(const olive_session *session, size_t index);
OLIVE_API olive_dtype olive_session_input_dtype(const olive_session *session, size_t index);
OLIVE_API olive_dtype olive_session_output_dtype(const olive_session *session, size_t index);
OLIVE_API size_t olive_session_input_rank(const olive_session *session, size_t index);
OLIVE_API size_t olive_session_output_rank(const olive_session *session, size_t index);
OLIVE_API int64_t olive_session_input_dim(const olive_session *session, size_t index, size_t dim);
OLIVE_API int64_t olive_session_output_dim(const olive_session *session, size_t index, size_t dim);
OLIVE_API const char *olive_session_input_dim_name(const olive_session *session, size_t index, size_t dim);
OLIVE_API const char *olive_session_output_dim_name(const olive_session *session, size_t index, size_t dim);

/* The same description as JSON into *out (release with olive_free): {"provider",
 * "inputs": [{"name", "dtype" (a name, or null), "shape": [int or "symbol" or null]}],
 * "outputs": [...]}. Errors: OLIVE_EINVALID, OLIVE_ENOMEM. Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_session_describe_json(char **out, const olive_session *session);

/* Runs the model. Inputs are given by name: input_names[i] is fed inputs[i] (n_inputs pairs;
 * the tensors are only read, never kept). Outputs are requested by name (output_names,
 * n_outputs) or, with output_names NULL, all of them in the model's order (n_outputs must
 * then be olive_session_output_count()). On success out[i] receives a new tensor holding
 * output i, owned by the caller (olive_tensor_free); on failure `out` is untouched.
 * Inputs are checked before ONNX Runtime is called: an unknown or repeated name, a dtype
 * other than the model's, or a rank or fixed dim that differs from the model's is refused
 * with a message naming the input.
 * Errors: OLIVE_EINVALID (NULL argument, an input that does not fit, an unknown output name),
 * OLIVE_EUNSUPPORTED (an output that is not a tensor of a supported dtype),
 * OLIVE_ECANCELLED (olive_session_cancel stopped this run), OLIVE_EFORMAT (ONNX Runtime
 * failed the run: its message follows), OLIVE_ENOMEM. Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_session_run(olive_tensor **out, olive_session *session,
                                                const char *const *input_names, const olive_tensor *const *inputs,
                                                size_t n_inputs, const char *const *output_names, size_t n_outputs);

/* Stops the runs of `session` in progress (they return OLIVE_ECANCELLED as soon as ONNX
 * Runtime checks); runs started afterwards are not affected. Safe from any thread. Since 0.2. */
OLIVE_API void olive_session_cancel(olive_session *session);

/* ---- ONNX Runtime GenAI ---- */

/* A decoder model folder (genai_config.json, model.onnx, tokenizer files) loaded by ONNX
 * Runtime GenAI, for greedy generation. Not for concurrent use from several threads. */
typedef struct olive_generator olive_generator;

/* Loads the folder `model_dir` on `acc` (NULL: cpu; the accelerator's provider replaces the
 * ones genai_config.json lists: CPUExecutionProvider -> none, CUDAExecutionProvider -> cuda,
 * DmlExecutionProvider -> dml, ...). `options` is NULL or space-separated key=value settings:
 *   chat_template=auto|true|false   apply the model's chat template to prompts (auto, the
 *                                   default: when tokenizer_config.json has one)
 *   ort_library=PATH                (see olive_runtime_load)
 *   genai_library=PATH              load ONNX Runtime GenAI from PATH
 * Errors: OLIVE_EINVALID, OLIVE_ENOTFOUND (no such folder, unknown option, library not found),
 * OLIVE_EUNSUPPORTED (library too old or provider not available), OLIVE_EFORMAT (GenAI refused
 * the folder: its message follows), OLIVE_ENOMEM. Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_generator_new(olive_generator **out, const char *model_dir,
                                                  const olive_accelerator *acc, const char *options);

/* Releases the generator. Accepts NULL. Since 0.2. */
OLIVE_API void olive_generator_free(olive_generator *generator);

/* Encodes `prompt` (after the chat template, when applied), generates exactly `new_tokens`
 * tokens greedily (fewer only when the model ends the sequence or reaches its maximum length)
 * and describes the result as JSON into *out (release with olive_free):
 *   {"prompt_tokens": [ids], "tokens": [generated ids], "text": "<generated text>",
 *    "chat_template_applied": bool, "time_to_first_token_s", "prefill_tokens_per_s",
 *    "decode_tokens_per_s"}
 * Time to first token covers the prompt's processing and the first generated token; decode
 * speed counts the tokens after the first.
 * Errors: OLIVE_EINVALID (NULL argument, new_tokens 0), OLIVE_EFORMAT (GenAI failed: its
 * message follows), OLIVE_ENOMEM. Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_generator_generate_json(char **out, olive_generator *generator, const char *prompt,
                                                            size_t new_tokens);

#ifdef __cplusplus
}
#endif
#endif
