/* The runtime part of the onnxruntime backend: sessions over the loaded ONNX Runtime (see
 * backend.h, olive_backend_runtime_ops, for what each function does). */
#ifndef OLIVE_BACKENDS_ORT_SESSION_H
#define OLIVE_BACKENDS_ORT_SESSION_H

#include "backends/backend.h"
#include "backends/ort/ort_loader.h"

int olive_ort_model_load(struct olive_backend_model **out, const olive_backend *backend, const char *path,
                         const char *provider, const char *options);
const char *olive_ort_model_provider(const struct olive_backend_model *model);
size_t olive_ort_model_io_count(const struct olive_backend_model *model, int outputs);
int olive_ort_model_io_info(const struct olive_backend_model *model, int outputs, size_t index, olive_backend_io *out);
int olive_ort_model_run(struct olive_backend_model *model, const char *const *input_names,
                        const olive_tensor *const *inputs, size_t n_inputs, const char *const *output_names,
                        size_t n_outputs, olive_tensor **outputs);
void olive_ort_model_cancel(struct olive_backend_model *model);
void olive_ort_model_free(struct olive_backend_model *model);

/* "A, B, C": the providers of the loaded ONNX Runtime, cut to `cap` bytes. */
int olive_ort_providers_text(char *buf, size_t cap, const olive_ort *ort);

#endif
