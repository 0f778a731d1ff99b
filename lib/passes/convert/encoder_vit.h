/* Vision Transformers (ViTModel, ViTForImageClassification) from a Hugging Face checkpoint to
 * the graph onnxruntime's transformers optimizer makes of them (model_type vit): Conv patch
 * embeddings with the class token and positions, one com.microsoft Attention per layer (packed
 * QKV weights, no mask), LayerNormalization before the first layer and SkipLayerNormalization
 * for every residual add (the pre-norm layers' norms folded in, bias included), MatMul +
 * BiasGelu (exact erf GELU) or FastGelu.
 *
 * Graph input: pixel_values (float, [batch, num_channels, image_size, image_size]). Outputs:
 * last_hidden_state [batch, patches + 1, hidden] and, for a ViTModel with a pooler,
 * pooler_output [batch, pooler_output_size]; logits [batch, num_labels] alone for
 * ViTForImageClassification (as optimum's image-classification export).
 *
 * Pass parameters read from `args` (when it declares them): precision (fp32 | fp16: weights and
 * compute in float16, input and outputs float32 | int4 | int8: MatMulNBits weights as the
 * quantize pass writes them; bf16 gives OLIVE_EUNSUPPORTED naming the precision). */
#ifndef OLIVE_PASSES_CONVERT_ENCODER_VIT_H
#define OLIVE_PASSES_CONVERT_ENCODER_VIT_H

#include "formats/checkpoint.h"
#include "ir/ir.h"
#include "passes/registry.h"

/* Builds the model into m->graph (empty on entry) and adds the opset imports it uses. `args`
 * and `ctx` may be NULL. Errors: OLIVE_EFORMAT naming the tensor and file for a missing tensor
 * or one whose shape disagrees with config.json, or the config.json key at fault;
 * OLIVE_EUNSUPPORTED naming the config.json key whose value this builder does not handle
 * (image_size or patch_size with different sides, qkv_bias false, pooler_act other than tanh, an
 * activation other than the GELUs, ReLU and quick_gelu), or the precision; OLIVE_ECANCELLED;
 * OLIVE_ENOMEM. Everything in config.json is checked before the graph is built. On failure the
 * graph may hold part of the model: the caller discards it. */
int cvt_vit_build(oir_model *m, const ofmt_checkpoint *ck, const olive_pass_args *args, olive_pass_ctx *ctx);

/* 1 if `architecture` (config.json "architectures"[0], or model_type when absent) is one this
 * builder handles. */
int cvt_vit_handles(const char *architecture);

#endif
