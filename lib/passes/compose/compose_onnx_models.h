/* The compose_onnx_models pass (Olive's ComposeOnnxModels): ONNX models chained into one. */
#ifndef OLIVE_PASSES_COMPOSE_ONNX_MODELS_H
#define OLIVE_PASSES_COMPOSE_ONNX_MODELS_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_compose_onnx_models;

#endif
