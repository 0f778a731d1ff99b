/* The fuse pass: transformer subgraphs become onnxruntime's fused ops (Olive's
 * OrtTransformersOptimization). */
#ifndef OLIVE_PASSES_FUSION_H
#define OLIVE_PASSES_FUSION_H

#include "passes/registry.h"

extern const olive_pass_def olive_pass_fuse;

#endif
