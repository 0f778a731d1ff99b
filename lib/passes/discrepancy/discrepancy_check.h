/* The discrepancy_check pass (Olive's OnnxDiscrepancyCheck): the model's outputs against a
 * reference model's, run in ONNX Runtime, failing beyond the limits. */
#ifndef OLIVE_PASSES_DISCREPANCY_CHECK_H
#define OLIVE_PASSES_DISCREPANCY_CHECK_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_discrepancy_check;

#endif
