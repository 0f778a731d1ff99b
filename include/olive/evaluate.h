/* libolive — evaluating models: Olive's evaluators (metrics and data configs) on an ONNX model
 * through ONNX Runtime.
 *
 * Conventions are those of common.h: fallible calls return OLIVE_OK or a negative OLIVE_E*
 * code with a message in olive_error_last(); `**out` results are owned by the caller and
 * released with olive_free.
 *
 * An evaluator is JSON in Olive's schema:
 *   {"metrics": [{"name": "acc", "type": "accuracy", "backend": "torch_metrics",
 *                 "sub_types": [{"name": "accuracy_score", "priority": 1,
 *                                "metric_config": {"task": "multiclass", "num_classes": 3}}],
 *                 "data_config": {...} or "<name of an entry of data_configs>"}],
 *    "data_configs": [...]}   (optional: the data configs metrics name)
 * Metric types: accuracy (accuracy_score, f1_score, precision, recall, auroc, perplexity with
 * torchmetrics' task / num_classes / average / ignore_index; or accuracy, f1, precision, recall
 * with "backend": "huggingface_metrics"), latency and throughput (avg, max, min, p50, p75, p90,
 * p95, p99, p999; metric_config warmup_num, repeat_test_num, sleep_num), size_on_disk, custom
 * (user_config.metric_func or evaluate_func names a function registered below). Data configs:
 * HuggingfaceContainer with local json / csv / text files, DummyDataContainer,
 * RawDataContainer (see the README's "Evaluating models").
 *
 * All functions here are since 0.2.
 */
#ifndef OLIVE_EVALUATE_H
#define OLIVE_EVALUATE_H

#include "olive/accelerator.h"
#include "olive/common.h"
#include "olive/session.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A custom metric: sets *value for `sub_type` of metric `metric` on the model file
 * `model_path`. When the metric has a data_config, `preds` (the post-processed outputs as int64,
 * [rows] or [rows, n]), `logits` (the raw output as float32) and `targets` (the labels, int64)
 * hold the whole dataset's results; otherwise they are NULL. The tensors are borrowed for the
 * call. Return 0, or non-zero to fail the evaluation. */
typedef int (*olive_metric_fn)(double *value, const char *metric, const char *sub_type, const char *model_path,
                               const olive_tensor *preds, const olive_tensor *logits, const olive_tensor *targets,
                               void *user);

/* Registers `fn` under `name` for every evaluator in the process (replacing an earlier one of
 * the same name). `user` is passed back to it. Errors: OLIVE_EINVALID (NULL name or fn),
 * OLIVE_ENOMEM. Since 0.2. */
OLIVE_API int olive_metric_register(const char *name, olive_metric_fn fn, void *user);

/* Removes a registered function. Errors: OLIVE_EINVALID, OLIVE_ENOTFOUND. Since 0.2. */
OLIVE_API int olive_metric_unregister(const char *name);

/* Progress of an evaluation: `done` of `total` samples (or timed runs) of `metric`, `rate` per
 * second and `eta_s` seconds estimated left. Return non-zero to cancel the evaluation, which
 * then returns OLIVE_ECANCELLED. */
typedef int (*olive_evaluate_progress_fn)(const char *metric, uint64_t done, uint64_t total, double rate, double eta_s,
                                          void *user);

/* Evaluates the ONNX model at `model_path` (a .onnx file, or a folder written by libolive or
 * holding model.onnx) with `evaluator_json` on `acc` (NULL: cpu with CPUExecutionProvider).
 * *out receives the results as JSON in Olive's form (release with olive_free):
 *   {"<metric>-<sub_type>": {"value": number, "priority": int, "higher_is_better": bool}, ...}
 * Latency values are milliseconds, throughput values items per second, size_on_disk bytes
 * (the model file and the other files of its folder). `progress` may be NULL.
 * Olive's LMEvaluator ({"type": "LMEvaluator", "tasks": [...], "limit", "max_length",
 * "batch_size"}) gives "<task>-acc", "<task>-acc_norm" (lambada_openai: "-acc", "-perplexity"),
 * priority -1 and higher_is_better true as Olive writes them (see olive_lm_eval for the tasks).
 * Errors: OLIVE_EINVALID / OLIVE_EUNSUPPORTED (the evaluator config, naming the field),
 * OLIVE_ENOTFOUND (model or data files; ONNX Runtime
 * not found), OLIVE_EFORMAT (malformed data, naming file and line; ONNX Runtime refusing the
 * model; NaN or Inf in outputs), OLIVE_ECANCELLED, OLIVE_ENOMEM. Since 0.2. */
OLIVE_API int olive_evaluate(char **out, const char *model_path, const char *evaluator_json,
                             const olive_accelerator *acc, olive_evaluate_progress_fn progress, void *user);

/* Scores the decoder at `model_path` (an ONNX file, or a folder holding model.onnx, with
 * tokenizer.json beside it: a converter or ModelBuilder output) on lm-eval tasks as lm-eval's
 * Hugging Face model class scores loglikelihood requests (zero-shot, one request at a time; an
 * empty context starts from bos, else eos), through ONNX Runtime on
 * `acc` (NULL: cpu). `tasks_json` is {"tasks": [...], "limit": N, "max_length": N} (limit: the
 * first N documents of each task, 0 all; max_length: the token window, 0 the model's
 * context_length from genai_config.json, else 2048); a task is
 *   - a name of the tasks LMEvaluator knows (arc_easy, arc_challenge, hellaswag, piqa, boolq,
 *     winogrande, openbookqa, lambada_openai), its rows read from the Hub's dataset viewer as
 *     data configs read Hub datasets;
 *   - a .jsonl file of {"context": text, "choices": [text, ...], "gold": index} lines, each
 *     choice scored as " " + choice after the context;
 *   - any other file: one text scored by rolling windows (loglikelihood_rolling).
 * *out receives {"<task>": {...}} (the name, the file's name without .jsonl, or the text
 * file's name; release with olive_free): multiple choice acc, acc_stderr, acc_norm,
 * acc_norm_stderr (acc only for boolq and winogrande; stderr null for one document), samples;
 * lambada_openai acc (greedy), acc_stderr, perplexity, samples; a text word_perplexity,
 * byte_perplexity, bits_per_byte, tokens, words, bytes. `progress` (may be NULL) is called per
 * document with the task as metric. Errors: OLIVE_EINVALID / OLIVE_EUNSUPPORTED (tasks_json, an
 * unknown task), OLIVE_ENOTFOUND (model, tokenizer or task files; a Hub dataset offline and
 * not cached), OLIVE_EFORMAT (a task file's line, named path:line; NaN or Inf logits),
 * OLIVE_EIO, OLIVE_ECANCELLED, OLIVE_ENOMEM. Since 0.2. */
OLIVE_API int olive_lm_eval(char **out, const char *model_path, const char *tasks_json, const olive_accelerator *acc,
                            olive_evaluate_progress_fn progress, void *user);

#ifdef __cplusplus
}
#endif
#endif
