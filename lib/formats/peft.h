/* PEFT LoRA adapters: a folder with adapter_config.json (peft_type "LORA", r, lora_alpha,
 * target_modules, use_rslora) and adapter_model.safetensors, whose tensors are named
 * base_model.model.<module>.lora_A.weight ([r, in]) and .lora_B.weight ([out, r]).
 *
 * libolive's form of a LoRA layer (what convert-adapters writes and the converted base model
 * takes as inputs), for a module <m> named as in the base checkpoint without ".weight":
 *   <m>.lora_A.weight  [in, r]   A transposed
 *   <m>.lora_B.weight  [r, out]  (B * scaling) transposed, scaling = lora_alpha / r
 *                                (lora_alpha / sqrt(r) with use_rslora)
 * so that y = x W^T + (x A^T) (scaling B^T) with two plain MatMuls. */
#ifndef OLIVE_FORMATS_PEFT_H
#define OLIVE_FORMATS_PEFT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ofmt_lora_layer {
    char *module; /* "model.layers.0.self_attn.q_proj" */
    int64_t in, out, r;
    float *a; /* [in, r] */
    float *b; /* [r, out], scaling applied */
} ofmt_lora_layer;

typedef struct ofmt_lora {
    int64_t r;
    double alpha, scaling;
    size_t n_targets;
    char **targets; /* target_modules as written (short names such as "q_proj") */
    size_t n_layers;
    ofmt_lora_layer *layers;
} ofmt_lora;

/* Reads the adapter folder. Errors: OLIVE_ENOTFOUND (no adapter_config.json or
 * adapter_model.safetensors), OLIVE_EUNSUPPORTED (a PEFT type other than LoRA: LoHa, LoKr,
 * IA3, ...; DoRA; LoRA on embeddings), OLIVE_EFORMAT (a tensor missing its pair, shapes that
 * disagree with r, names outside base_model.model.), OLIVE_ENOMEM. */
int ofmt_lora_read(ofmt_lora **out, const char *folder);
void ofmt_lora_free(ofmt_lora *l);

/* The layer for `module` ("model.layers.0.self_attn.q_proj"), or NULL. */
const ofmt_lora_layer *ofmt_lora_find(const ofmt_lora *l, const char *module);
/* 1 when `module`'s last component is one of the target modules. */
int ofmt_lora_targets(const ofmt_lora *l, const char *module);

#endif
