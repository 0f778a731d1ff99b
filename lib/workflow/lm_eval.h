/* lm-eval's measures of a decoder on a list of tasks (olive_lm_eval, `olive benchmark`): named
 * tasks (workflow/metrics/lm_tasks.h, rows from the Hub's dataset viewer) and local task files
 * (a .jsonl multiple-choice file, or any other file as one text for rolling perplexity), scored
 * through ONNX Runtime (workflow/metrics/lm_score.h), with lm-eval's per-task results. */
#ifndef OLIVE_WORKFLOW_LM_EVAL_H
#define OLIVE_WORKFLOW_LM_EVAL_H

#include <jansson.h>

#include "workflow/evaluator.h"

/* `cfg`: {"tasks": [name or path, ...], "limit": N, "max_length": N} (other keys of an
 * LMEvaluator are accepted). *results: {"<task>": {...}} as olive_lm_eval documents it.
 * Errors: OLIVE_EINVALID / OLIVE_EUNSUPPORTED (cfg, an unknown task), those of the tasks' data
 * and of scoring. */
int wf_lm_eval(json_t **results, const json_t *cfg, const char *model_path, const wf_eval_ctx *ctx);

#endif
