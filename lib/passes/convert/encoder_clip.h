/* CLIP (CLIPModel, CLIPTextModel, CLIPVisionModel and the towers WithProjection) from a Hugging Face checkpoint to the graph
 * onnxruntime's transformers optimizer makes of it (model_type clip): per tower the pre-norm
 * layers of encoder_prenorm.c (com.microsoft Attention with packed QKV weights, causal with the
 * padding mask as mask_index in the text tower; LayerNormalization and SkipLayerNormalization;
 * MatMul + Add + QuickGelu for quick_gelu, BiasGelu / FastGelu for the GELUs).
 *
 * Inputs and outputs as optimum's exports name them:
 *   CLIPModel: input_ids, pixel_values, attention_mask -> logits_per_image [images, texts],
 *     logits_per_text [texts, images], text_embeds, image_embeds (unit length, projection_dim);
 *   CLIPTextModel: input_ids, attention_mask (int64 [batch, sequence]) -> last_hidden_state,
 *     pooler_output (the hidden state at the end-of-text token: the first eos_token_id, or the
 *     largest token id when eos_token_id is 2, as transformers picks it);
 *   CLIPVisionModel: pixel_values (float [batch, num_channels, image_size, image_size]) ->
 *     last_hidden_state, pooler_output (post_layernorm of the class token);
 *   CLIPTextModelWithProjection / CLIPVisionModelWithProjection: the tower's inputs ->
 *     text_embeds / image_embeds (the pooled output projected, not normalized) and
 *     last_hidden_state.
 *
 * Pass parameters read from `args` (when it declares them): precision (fp32 | fp16 | int4 |
 * int8; bf16 gives OLIVE_EUNSUPPORTED naming the precision). */
#ifndef OLIVE_PASSES_CONVERT_ENCODER_CLIP_H
#define OLIVE_PASSES_CONVERT_ENCODER_CLIP_H

#include "formats/checkpoint.h"
#include "ir/ir.h"
#include "passes/registry.h"

/* Builds the model into m->graph (empty on entry) and adds the opset imports it uses. `args`
 * and `ctx` may be NULL. Errors: OLIVE_EFORMAT naming the tensor and file for a missing tensor
 * or one whose shape disagrees with config.json, or the config.json key at fault (as
 * "text_config.<key>" / "vision_config.<key>" in a CLIPModel); OLIVE_EUNSUPPORTED naming the
 * key whose value this builder does not handle (image_size or patch_size with different sides, an
 * activation other than quick_gelu, the GELUs and ReLU) or the precision; OLIVE_ECANCELLED;
 * OLIVE_ENOMEM. config.json is checked whole before the graph is built. On failure the graph
 * may hold part of the model: the caller discards it. */
int cvt_clip_build(oir_model *m, const ofmt_checkpoint *ck, const olive_pass_args *args, olive_pass_ctx *ctx);

/* 1 if `architecture` (config.json "architectures"[0], or model_type when absent) is one this
 * builder handles. */
int cvt_clip_handles(const char *architecture);

#endif
