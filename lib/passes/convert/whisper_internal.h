/* Internals shared by the Whisper builder's files: the model description read from
 * config.json (whisper_config.c), the graph helpers (whisper_graph.c), the two graphs
 * (whisper_encoder.c, whisper_decoder.c) and the runtime configs (whisper_genai.c). */
#ifndef OLIVE_PASSES_CONVERT_WHISPER_INTERNAL_H
#define OLIVE_PASSES_CONVERT_WHISPER_INTERNAL_H

#include <stdint.h>

#include <jansson.h>

#include "core/spill.h"
#include "passes/convert/encoder.h"
#include "passes/convert/whisper.h"

#define WH_NAME_MAX 160
#define WH_ARRAY(a) (sizeof(a) / sizeof *(a)), (a)

typedef struct wh_config {
    int64_t d_model, vocab, mels;
    int64_t enc_layers, enc_heads, enc_ffn, source_positions; /* source_positions: frames / 2 */
    int64_t dec_layers, dec_heads, dec_ffn, target_positions;
    int tied; /* the head is decoder.embed_tokens (proj_out.weight absent or tied) */
} wh_config;

/* The log-mel front end from preprocessor_config.json. */
typedef struct wh_audio {
    int64_t n_fft, hop_length, chunk_length, n_mels, sampling_rate;
} wh_audio;

/* An initializer whose bytes are in the spill file, given its blob once the file is mapped. */
typedef struct wh_pending {
    oir_tensor *tensor;
    uint64_t offset, nbytes;
} wh_pending;

typedef struct wh_build {
    oir_graph *g;
    enc_weights w; /* checkpoint tensors under "model." (read with enc_read) */
    wh_config c;
    int32_t dt; /* the models' float type: OIR_FLOAT or OIR_FLOAT16 */
    /* Weights go one at a time into a temporary file, so that memory holds one tensor. */
    olive_spill *spill;
    wh_pending *pending;
    size_t n_pending, cap_pending;
} wh_build;

/* Reads and checks config.json; refuses keys whose values this builder does not carry out.
 * Errors: OLIVE_EFORMAT, OLIVE_EUNSUPPORTED naming the key and file. */
int wh_config_read(wh_config *c, const ofmt_checkpoint *ck);

/* Reads and checks the checkpoint's preprocessor_config.json against the front end ONNX
 * Runtime Extensions implements (16 kHz, n_fft 400, hop 160, 30 s chunks, num_mel_bins).
 * Errors: OLIVE_ENOTFOUND, OLIVE_EFORMAT, OLIVE_EUNSUPPORTED naming the key and file. */
int wh_audio_read(wh_audio *a, const ofmt_checkpoint *ck, const wh_config *c);

/* Initializer `name` [rank, dims] from float32 `data` (taken over and freed), converted to
 * `dtype` and written to the spill file. */
int wh_init(wh_build *b, const char *name, int32_t dtype, size_t rank, const int64_t *dims, float *data);
/* Checkpoint tensor `ckname` (under "model."), checked to have shape `dims`, as initializer
 * `name` of the build's float type. */
int wh_copy(wh_build *b, const char *ckname, const char *name, size_t rank, const int64_t *dims);
/* Maps the spill file and gives every initializer written so far its bytes. */
int wh_finish(wh_build *b);
/* Releases the spill file and the pending list (the mapped bytes live on in the tensors). */
void wh_release(wh_build *b);

/* A node writing `n_out` outputs (named "/<first output>"); *out gets it for attributes. */
int wh_node(wh_build *b, oir_node **out, const char *op, const char *domain, size_t n_in, const char *const *in,
            size_t n_out, const char *const *outs);
/* Single-output form. */
int wh_node1(wh_build *b, oir_node **out, const char *op, const char *domain, size_t n_in, const char *const *in,
             const char *output);
/* A graph input or output. */
int wh_io(wh_build *b, int output, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
          const char *const *params);
/* An int64 initializer. */
int wh_int64(wh_build *b, const char *name, size_t rank, const int64_t *dims, const int64_t *values, size_t count);
/* x @ W^T (+ bias) for checkpoint Linear `ckname` (weight [out, in], bias [out] unless
 * !has_bias): initializers "<ckname>.weight" [in, out] and "<ckname>.bias", output `out`. */
int wh_dense(wh_build *b, const char *x, const char *ckname, int64_t in, int64_t out, int has_bias, const char *output);
/* LayerNormalization of x with checkpoint norm `ckname` (weight and bias [d_model]). */
int wh_norm(wh_build *b, const char *x, const char *ckname, const char *output);
/* Exact (erf) GELU. */
int wh_gelu(wh_build *b, const char *x, const char *output);
/* a + b. */
int wh_add(wh_build *b, const char *x, const char *y, const char *output);
/* The feed-forward block of layer `stem` (fc1, GELU, fc2) on x. */
int wh_mlp(wh_build *b, const char *x, const char *stem, int64_t ffn, const char *output);

/* The encoder graph into b->g: audio_features to hidden_states and the cross caches. */
int wh_encoder(wh_build *b, olive_pass_ctx *ctx, double from, double to);
/* The decoder graph into b->g. */
int wh_decoder(wh_build *b, olive_pass_ctx *ctx, double from, double to);

/* genai_config.json for the two models (text owned by the caller). */
int wh_genai_config(const ofmt_checkpoint *ck, const wh_config *c, const char *provider, char **out);
/* audio_processor_config.json for ONNX Runtime Extensions' speech front end. */
int wh_audio_config(const wh_audio *a, char **out);

#endif
