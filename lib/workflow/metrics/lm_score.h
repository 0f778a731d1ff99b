/* Scoring lm-eval tasks (lm_tasks.h) with a decoder through ONNX Runtime, as lm-eval's
 * loglikelihood requests are scored by its Hugging Face model class:
 *   - a request (context, continuation): trailing whitespace of the context moves to the
 *     continuation; the continuation's tokens are those of tokenizer(context + continuation)
 *     after tokenizer(context)'s (no special tokens); an empty context is the prefix token
 *     alone (wf_lm_prefix); the model sees the last max_length + 1 tokens but the final one;
 *     the log-likelihood is the sum of the continuation tokens' log-softmax, and the request is
 *     greedy when each is the argmax;
 *   - multiple choice: acc (the highest log-likelihood is the gold choice), acc_norm (the
 *     log-likelihood over the choice's length in characters);
 *   - loglikelihood: perplexity exp(-mean log-likelihood), acc the share of greedy requests;
 *   - standard errors as lm-eval's mean_stderr (sample standard deviation over sqrt(n)).
 * The decoder is a model folder as the converter and ModelBuilder write it: the ONNX file with
 * input_ids, attention_mask, optional position_ids and past key/values (fed empty), a "logits"
 * output, and tokenizer.json / tokenizer_config.json / genai_config.json beside it. Requests run
 * one at a time. */
#ifndef OLIVE_WORKFLOW_METRICS_LM_SCORE_H
#define OLIVE_WORKFLOW_METRICS_LM_SCORE_H

#include <stddef.h>

#include "olive/olive.h"
#include "workflow/metrics/lm_tasks.h"

typedef struct wf_lm wf_lm;

/* The token an empty context (and a text's first window) starts from. */
typedef enum {
    WF_LM_PREFIX_BOS, /* bos, else eos: lm-eval's Hugging Face model class */
    WF_LM_PREFIX_EOS, /* eos, lm-eval's default: Olive's ONNX Runtime model class (LMEvaluator) */
} wf_lm_prefix;

/* Opens the decoder `model_path` (an ONNX file) with the tokenizer of its folder. max_length 0:
 * genai_config.json's context_length, else 2048. Errors: those of sessions and tokenizers,
 * named with the path. */
int wf_lm_open(wf_lm **out, const char *model_path, const olive_accelerator *acc, const char *session_options,
               long max_length, wf_lm_prefix prefix);
void wf_lm_free(wf_lm *m);

/* One loglikelihood request. Errors: OLIVE_EINVALID (a continuation with no tokens, or longer
 * than max_length), OLIVE_EUNSUPPORTED (a model input a decoder run cannot feed), OLIVE_EFORMAT
 * (NaN or Inf logits), those of the session. */
int wf_lm_loglikelihood(double *ll, int *greedy, wf_lm *m, const char *context, const char *continuation);

/* The same on token ids: cont[0..n_cont) after ctx[0..n_ctx) (n_ctx >= 1). */
int wf_lm_loglikelihood_ids(double *ll, int *greedy, wf_lm *m, const int32_t *ctx, size_t n_ctx, const int32_t *cont,
                            size_t n_cont);

typedef struct wf_lm_result {
    size_t n;               /* documents */
    double acc, acc_stderr; /* stderr NaN for one document */
    double acc_norm, acc_norm_stderr;
    double perplexity; /* loglikelihood tasks */
} wf_lm_result;

/* lm-eval's loglikelihood_rolling over one text: the first window predicts its tokens after the
 * prefix token, later ones the next max_length tokens with the tokens before them as context
 * (disjoint windows); word_perplexity over Python's len(re.split(r"\s+", text)), byte_perplexity
 * and bits_per_byte over the UTF-8 bytes. */
typedef struct wf_lm_rolling_result {
    double loglikelihood;
    double word_perplexity, byte_perplexity, bits_per_byte;
    size_t tokens, words, bytes;
} wf_lm_rolling_result;

/* Errors: OLIVE_EINVALID (a text with no tokens), those of wf_lm_loglikelihood. */
int wf_lm_rolling(wf_lm_rolling_result *out, wf_lm *m, const char *text, size_t len);

/* Called after each document; non-zero cancels (OLIVE_ECANCELLED, error set by the caller). */
typedef int (*wf_lm_tick_fn)(size_t done, size_t total, void *user);

/* Scores the documents. `output` and docs as lm_tasks.h makes them. */
int wf_lm_score(wf_lm_result *out, wf_lm *m, wf_lm_output output, const wf_lm_doc *docs, size_t n, wf_lm_tick_fn tick,
                void *user);

#endif
