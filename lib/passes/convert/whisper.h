/* Whisper (WhisperForConditionalGeneration) from a Hugging Face checkpoint to the two models
 * ONNX Runtime GenAI runs for speech recognition (its "whisper" model type):
 *
 * encoder.onnx (a companion file, with encoder.onnx.data): audio_features [batch, num_mel_bins,
 *   3000] (log-mel frames) -> hidden_states [batch, 1500, d_model] and, per decoder layer i,
 *   the cross-attention caches present_key_cross_i / present_value_cross_i [batch, heads,
 *   1500, head_size] (the decoder layer's encoder_attn key and value projections of the
 *   encoder output).
 * model.onnx (the pass's model): input_ids (int32 [batch, sequence]), per layer
 *   past_key_self_i / past_value_self_i [batch, heads, past_sequence, head_size] and
 *   past_key_cross_i / past_value_cross_i -> logits [batch, sequence, vocab] and
 *   present_key_self_i / present_value_self_i [batch, heads, past_sequence + sequence,
 *   head_size].
 *
 * Attention is com.microsoft MultiHeadAttention (causal with past in the decoder's
 * self-attention; the cross caches as BNSH key and value). genai_config.json names both
 * models; audio_processor_config.json (the log-mel front end ONNX Runtime Extensions runs) is
 * written from preprocessor_config.json; config.json, generation_config.json,
 * preprocessor_config.json and the tokenizer files are copied. */
#ifndef OLIVE_PASSES_CONVERT_WHISPER_H
#define OLIVE_PASSES_CONVERT_WHISPER_H

#include "formats/checkpoint.h"
#include "ir/ir.h"
#include "passes/registry.h"

/* 1 if `architecture` (config.json "architectures"[0], or model_type) is Whisper's. */
int cvt_whisper_handles(const char *architecture);

/* Builds the decoder into m->graph (empty on entry) and the encoder, genai_config.json and
 * audio_processor_config.json as m's companions. `args` (the convert pass's) may be NULL.
 * Pass parameters: precision fp32, fp16 (weights and inputs/outputs in float16), int4 or int8
 * (both models' MatMul weights to MatMulNBits as the quantize pass writes them, with
 * block_size, is_symmetric and accuracy_level; float32 inputs and outputs); bf16 and the
 * decoder-only parameters (exclude_embeds, exclude_lm_head,
 * include_hidden_states, num_hidden_layers, adapter_path, quant_plan) with values other
 * than their defaults are refused. Errors: before anything is built, OLIVE_EUNSUPPORTED naming
 * the config.json / preprocessor_config.json key or the parameter this builder does not handle,
 * OLIVE_EFORMAT naming the key at fault; while building, OLIVE_EFORMAT naming a tensor and file
 * (missing, or of another shape than config.json implies), OLIVE_EIO (the temporary files),
 * OLIVE_ECANCELLED, OLIVE_ENOMEM. Nothing is written on failure: the graph may hold part of the
 * model and the caller discards it. */
int cvt_whisper_build(oir_model *m, const ofmt_checkpoint *ck, const olive_pass_args *args, olive_pass_ctx *ctx);

#endif
