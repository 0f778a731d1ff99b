/* The session_params_tuning pass (Olive's OrtSessionParamsTuning): the ONNX Runtime session
 * settings with the lowest measured latency, recorded as the model's inference_settings. */
#ifndef OLIVE_PASSES_SESSION_PARAMS_TUNING_H
#define OLIVE_PASSES_SESSION_PARAMS_TUNING_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_session_params_tuning;

#endif
