/* Layer-by-layer calibration, as Olive's and AutoGPTQ's GPTQ run it: the model is cut into
 * segments, one per decoder layer (the selected MatMuls whose names hold the same "layers.N"),
 * and each segment runs on its own in ONNX Runtime, on the values the segments before it
 * produced after they were quantized. For each segment, in order:
 *
 *   1. its MatMul inputs are captured with the segment's float weights (group open, gather);
 *   2. the group's work replaces its MatMuls (finish), then the group is closed;
 *   3. the segment runs again, now quantized, and the values later segments read are kept
 *      for them in a temporary file, one batch at a time.
 *
 * So each layer is calibrated on inputs that carry the quantization error of the layers
 * before it, and memory holds one segment's weights in ONNX Runtime and one batch's values,
 * whatever the number of layers or calibration samples (the values between segments live on
 * disk: samples x the live values' size, e.g. the residual stream). */
#ifndef OLIVE_PASSES_CALIBRATE_LAYERWISE_H
#define OLIVE_PASSES_CALIBRATE_LAYERWISE_H

#include <stdint.h>

#include "ir/ir.h"
#include "passes/calibrate/calib_data.h"
#include "passes/calibrate/matmul_quantizer.h"
#include "passes/registry.h"

/* The layer number in a MatMul's name ("/model/layers.3/attn/qkv_proj/MatMul" → 3; also
 * "layer.N", "blocks.N", "h.N", with '.', '/' or '_' after the word), else -1. */
long olive_calib_layer_of(const char *name);

/* Runs the groups of `gr` layer by layer as above, when the selected MatMuls of `m` fall into
 * at least two layers in graph order and each group's inputs are first read inside one layer;
 * else sets *applied to 0 and does nothing (the caller captures the whole model instead).
 * Errors: those of the callbacks, of writing and loading the segments (naming the segment and
 * the pass), of ONNX Runtime's runs (naming the samples), OLIVE_EIO (the temporary file),
 * OLIVE_ECANCELLED, OLIVE_ENOMEM. */
int olive_calib_run_layerwise(oir_model *m, olive_calib_select_fn selected, const olive_calib_groups *gr,
                              const olive_calib_data *data, int64_t batch_size, olive_pass_ctx *ctx, const char *pass,
                              int *applied);

#endif
