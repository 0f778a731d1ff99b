/* Data configs in Olive's schema, made into batches of named tensors ready to feed a session.
 *
 * A data config ({name, type, load_dataset_config, pre_process_data_config,
 * dataloader_config, post_process_data_config}) is read as Olive reads it: each component by
 * its explicit `type`, else by the `task` any component names (text-classification,
 * text-generation), else the container's default; a component's parameters either under
 * "params" or beside "type" (the flat form olive-recipes write). Containers:
 *   HuggingfaceContainer  local json / csv / text files (table.h), then huggingface_pre_process
 *                         (tokenized text columns and a label column) or
 *                         text_generation_huggingface_pre_process (token windows); batches of
 *                         dataloader_config.batch_size rows
 *   DummyDataContainer    input_shapes / input_names / input_types, tensors of ones, max_samples
 *                         batches (the shapes include the batch dimension)
 *   RawDataContainer      per-input folders of raw binary or .npy files (one batch each), and an
 *                         optional .npy annotations file for the labels
 * Everything a dataset holds is owned by it. */
#ifndef OLIVE_WORKFLOW_DATA_DATASET_H
#define OLIVE_WORKFLOW_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "olive/session.h"

/* What is done to a model's outputs before metrics see them (Olive's post_process_data_config). */
typedef enum {
    WF_POST_NONE,   /* the first output as it is */
    WF_POST_ARGMAX, /* text_classification_post_process: argmax over dim 1 */
    WF_POST_LOGITS, /* text_generation_post_process: the "logits" output */
} wf_post_kind;

/* One batch: named inputs and the labels of its rows ([rows] or [rows, tokens], int64). */
typedef struct wf_batch {
    size_t n_inputs;
    char **names;
    olive_tensor **inputs;
    olive_tensor *labels; /* NULL when the data has none */
} wf_batch;

typedef struct wf_dataset {
    char *name;
    size_t n_batches, cap;
    wf_batch *batches;
    size_t batch_size; /* rows per batch (dataloader_config.batch_size; 1 by default) */
    wf_post_kind post;
    char *post_output;   /* the output the post-processing reads, or NULL: the first */
    int text_generation; /* token windows whose labels are shifted by the perplexity metric */
} wf_dataset;

/* A tokenizer for pre-processing (tokenize.c): encoding with or without special tokens, a
 * second text for pairs, truncation to max_length as transformers' "longest_first" (0: none);
 * padding is done by the callers. */
typedef struct wf_tokenizer wf_tokenizer;

typedef struct wf_encoding {
    int64_t *ids, *type_ids; /* owned (free) */
    size_t n;
} wf_encoding;

/* Loads the tokenizer of `source`: a local folder with tokenizer.json (and
 * tokenizer_config.json), or a Hub id found in the local Hugging Face cache. */
int wf_tokenizer_open(wf_tokenizer **out, const char *source, const char *where);
void wf_tokenizer_free(wf_tokenizer *t);
int wf_tokenizer_encode(wf_encoding *out, wf_tokenizer *t, const char *text, const char *pair, int add_special_tokens,
                        size_t max_length);
/* The pad token's id (-1 when the tokenizer has none), bos/eos token text (NULL when none),
 * and model_max_length from tokenizer_config.json (0 when absent or "infinite"). */
int64_t wf_tokenizer_pad_id(const wf_tokenizer *t);
const char *wf_tokenizer_bos(const wf_tokenizer *t);
const char *wf_tokenizer_eos(const wf_tokenizer *t);
int64_t wf_tokenizer_model_max_length(const wf_tokenizer *t);

/* Builds the dataset of a data config. `where` names it in messages ("data_configs[0]").
 * Errors: OLIVE_EINVALID / OLIVE_EUNSUPPORTED (config), OLIVE_ENOTFOUND (files), OLIVE_EFORMAT
 * (malformed data: file and line). */
int wf_dataset_build(wf_dataset **out, const json_t *config, const char *where);
void wf_dataset_free(wf_dataset *d);

/* Appends a batch (takes ownership of its contents, also on failure). */
int wf_dataset_push(wf_dataset *d, wf_batch *b);
void wf_batch_clear(wf_batch *b);
/* Adds an input to a batch (takes the tensor). */
int wf_batch_add(wf_batch *b, const char *name, olive_tensor *t);

/* The parameters of a component config: "params" merged with the flat keys beside "type". */
json_t *wf_component_params(const json_t *component);

/* Pre-processing steps (text_classification.c, text_generation.c, dummy_raw.c). */
int wf_pre_text_classification(wf_dataset *d, const json_t *rows, const json_t *params, const char *where);
int wf_pre_text_generation(wf_dataset *d, const json_t *rows, const json_t *params, const char *where);
int wf_load_dummy(wf_dataset *d, const json_t *params, const char *where);
int wf_load_raw(wf_dataset *d, const json_t *params, const char *where);

/* Text generation windows as Olive's text_gen_pre_process makes them, exposed for tests:
 * given each text's token ids, the joined token stream split into windows. */
typedef struct wf_windows {
    size_t n, len;                /* windows of len tokens (join strategies), or padded rows */
    int64_t *ids, *labels, *mask; /* [n, len] each */
} wf_windows;
void wf_windows_free(wf_windows *w);

typedef struct wf_textgen_params {
    int join;           /* join or join-sliding-window; else line-by-line */
    size_t max_seq_len; /* 1024 */
    size_t stride;      /* join-sliding-window: step between windows */
    int sliding;
    long long max_samples; /* -1: all */
    size_t batch_texts;    /* processing_batch_size (1024): texts joined at a time */
    int pad_to_max_len, pad_left, drop_short;
    int64_t pad_id; /* -1: none */
} wf_textgen_params;

/* Windows from the texts' token ids (tokenized without special tokens) and the joiner's. */
int wf_text_windows(wf_windows *out, const wf_encoding *texts, size_t n_texts, const wf_encoding *joiner,
                    const wf_textgen_params *p);

#endif
