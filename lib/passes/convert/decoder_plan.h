/* A per-module quantization plan for the decoder builder: what Olive's checkpoint-side passes
 * (SelectiveMixedPrecision, Gptq, Rtn) decide, handed to convert as its quant_plan parameter.
 *
 * The text is a JSON object:
 *   {"bits": 4, "group_size": 32, "symmetric": false,      defaults of every quantized Linear
 *    "lm_head": true, "embeds": false,                     which of those two are quantized
 *    "selective": {"algorithm": "k_quant_mixed", "high_bits": 8},   optional (onnxruntime-genai's
 *        builder's presets: "last_matmul", the head; "mixed_layers", the head and its layer rule's
 *        v_proj (a packed qkv) and down_proj); the scored
 *        algorithms (snr, snr_relative, iqe, iqe_relative, kld_gradient) add ratio, group_size,
 *        symmetric, high_group_size, high_symmetric (kld_gradient reads its calibration data
 *        from the convert pass's selection_data)
 *    "gptq": {"bits": 4, "group_size": 32, "symmetric": false},     optional: every Linear but
 *        the head stays float for the gptq pass, its settings noted per node in the model's
 *        metadata (gptq_pass.h's key); with float16 activations "settings" (the gptq pass's
 *        parameter values as text) and the builder runs the pass itself (decoder_gptq_twin.h)
 *    "overrides": {"model.layers.0.mlp.down_proj": {"bits": 8, "group_size": 32, "symmetric": true}}}
 * Module names are the checkpoint's (the weight's name without ".weight"; "lm_head" for the head,
 * tied or not). The selection picks the modules that get the high settings; overrides win over
 * it, as Olive's Rtn overrides win over the mixed precision info. */
#ifndef OLIVE_PASSES_CONVERT_DECODER_PLAN_H
#define OLIVE_PASSES_CONVERT_DECODER_PLAN_H

#include <stdint.h>

typedef struct cvt_quant_plan cvt_quant_plan;

/* One module's settings. */
typedef struct cvt_module_quant {
    int quantize; /* 0: the Linear stays float */
    int bits, block_size, symmetric;
} cvt_module_quant;

/* Parses `text` for a model of n_layers layers, `tied` when its head and embeddings share a
 * tensor ("" gives *out = NULL). OLIVE_EINVALID names the key at fault. */
int cvt_plan_parse(const char *text, int64_t n_layers, int tied, cvt_quant_plan **out);
void cvt_plan_free(cvt_quant_plan *p);
/* The settings of module `name` ("lm_head" for the head). `is_lm_head` and `is_embeds` mark
 * the two modules the plan quantizes only when asked; tied embeddings take the head's
 * selection, as Olive copies the head's override to them. */
cvt_module_quant cvt_plan_module(const cvt_quant_plan *p, const char *name, int is_lm_head, int is_embeds);
/* GPTQ's part (plan key "gptq": {"bits", "group_size", "symmetric", "lm_head"}): the Linears
 * GPTQ will quantize after the conversion stay float; *mq gets the settings GPTQ is to use for
 * module `name` (its base, the selection's high bits). Returns 0 when the plan has no GPTQ part,
 * or for the head unless the part's lm_head is true (else Rtn's part quantizes it). */
int cvt_plan_has_gptq(const cvt_quant_plan *p);
int cvt_plan_gptq_module(const cvt_quant_plan *p, const char *name, int is_lm_head, cvt_module_quant *mq);
/* Records that float MatMul `node` is for GPTQ with *mq; cvt_plan_gptq_text gives the record
 * as customized_weight_config JSON (owned by the caller; NULL when empty or on ENOMEM). */
int cvt_plan_note_gptq(cvt_quant_plan *p, const char *node, const cvt_module_quant *mq);
char *cvt_plan_gptq_text(const cvt_quant_plan *p);

/* Score-based selections (snr, snr_relative, iqe, iqe_relative, kld_gradient): Olive's
 * quantizer settings and ratio. cvt_plan_scored gives the algorithm (NULL for a layer rule or
 * none) and them. */
typedef struct cvt_score_settings {
    int bits, group_size, symmetric;
    int high_bits, high_group_size, high_symmetric;
    double ratio;
} cvt_score_settings;
const char *cvt_plan_scored(const cvt_quant_plan *p, cvt_score_settings *s);
/* Marks module `name` ("lm_head" for the head) as selected for the high settings. */
int cvt_plan_select(cvt_quant_plan *p, const char *name);
/* Scores every Linear weight of the checkpoint and selects as Olive does (decoder_scores.c). */
struct cvt_decoder;
int cvt_plan_score(struct cvt_decoder *d, cvt_quant_plan *p, const char *algorithm, const cvt_score_settings *s);

/* The scale and zero point Olive's WeightQuantizer gives a group of n weights at `bits`
 * (the range of the values and 0; symmetric: centred zero point). For the scorers. */
void cvt_fake_quant_group(const float *x, size_t n, int bits, int sym, float *scale, float *zp);
/* For a checkpoint tensor "model.layers.<i>.self_attn.<q|k|v>_proj.weight": 0, 1 or 2 (q, k, v)
 * with its layer in *layer; else -1. The scorers group q, k and v of a layer as one unit. */
int cvt_qkv_of(const char *name, long *layer);
/* kld_gradient (decoder_kld.c): ranks the checkpoint's Linears by Olive's KL-divergence
 * gradient alignment on the calibration data of d's selection_data, and selects as Olive does. */
int cvt_plan_kld(struct cvt_decoder *d, cvt_quant_plan *p, const cvt_score_settings *s);

/* 1 when the plan quantizes the embedding table. */
int cvt_plan_embeds(const cvt_quant_plan *p);

/* 1 if layer `layer` of `n_layers` is one Olive's k_quant_mixed / k_quant_down rule promotes:
 * the first and last eighth of the layers, and every third layer between them. */
int cvt_plan_k_quant_layer(int64_t layer, int64_t n_layers);

#endif
