/* BERT-family encoders (BERT, MiniLM, RoBERTa, XLM-RoBERTa, DistilBERT) from a Hugging Face
 * checkpoint to the graph ONNX Runtime's CPU provider runs fastest: Gather + Add +
 * LayerNormalization embeddings, one com.microsoft Attention per layer (packed QKV weights,
 * the raw attention mask as int32 mask_index), MatMul + SkipLayerNormalization (bias folded
 * in), MatMul + BiasGelu (exact erf GELU) or FastGelu.
 *
 * Graph inputs: input_ids, attention_mask and, where the model has more than one token type,
 * token_type_ids (int64, [batch, sequence]). Outputs: last_hidden_state [batch, sequence,
 * hidden] (float), plus pooler_output [batch, hidden] for a *Model checkpoint that has a
 * pooler, or logits [batch, num_labels] for *ForSequenceClassification.
 *
 * Pass parameters read from `args` (when it declares them): precision (fp32 | fp16: weights
 * and compute in float16, inputs and outputs as above; int4 / int8 / bf16 give
 * OLIVE_EUNSUPPORTED naming the precision). */
#ifndef OLIVE_PASSES_CONVERT_ENCODER_BERT_H
#define OLIVE_PASSES_CONVERT_ENCODER_BERT_H

#include "formats/checkpoint.h"
#include "ir/ir.h"
#include "passes/registry.h"

/* Builds the encoder into m->graph (empty on entry) and adds the opset imports it uses.
 * `args` and `ctx` may be NULL (defaults, no progress). Errors: OLIVE_EFORMAT naming the
 * tensor and file for a missing tensor or one whose shape disagrees with config.json, or the
 * config.json key at fault; OLIVE_EUNSUPPORTED for an architecture, activation, position
 * embedding type or precision this builder does not handle; OLIVE_ECANCELLED; OLIVE_ENOMEM.
 * On failure the graph may hold part of the model: the caller discards it. */
int cvt_bert_build(oir_model *m, const ofmt_checkpoint *ck, const olive_pass_args *args, olive_pass_ctx *ctx);

/* 1 if `architecture` (config.json "architectures"[0], or model_type when absent) is one this
   builder handles. */
int cvt_bert_handles(const char *architecture);

#endif
