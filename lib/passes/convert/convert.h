/* The convert pass: a source checkpoint (Hugging Face folder or GGUF file) to an ONNX graph,
 * for ONNX Runtime GenAI (decoders) or ONNX Runtime (encoders). Olive's ModelBuilder. */
#ifndef OLIVE_PASSES_CONVERT_CONVERT_H
#define OLIVE_PASSES_CONVERT_CONVERT_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_convert;
/* ModelBuilder with metadata_only: genai_config.json for the ONNX decoder (genai_metadata.c). */
extern const olive_pass_def olive_pass_genai_metadata;

/* The provider a conversion builds for: its execution_provider parameter when set, else the
 * accelerator's as the builder names it ("cuda", "dml", "webgpu"; "cpu" for any other or none). */
struct olive_accelerator;
const char *olive_convert_provider(const char *execution_provider, const struct olive_accelerator *acc);

#endif
