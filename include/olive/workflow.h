/* libolive — workflows.
 *
 * A workflow is an optimization job described in Olive's workflow JSON schema: an input model
 * (HfModel: a Hugging Face folder or a .gguf file; ONNXModel: a .onnx file or model folder),
 * a target system (LocalSystem with one accelerator: device + execution provider), passes by
 * Olive pass type ("OnnxPeepholeOptimizer", "OnnxBlockWiseRtnQuantization", "ModelBuilder",
 * "OnnxConversion" (done by the converter), ...) with Olive's parameter names, and engine fields (output_dir, cache_dir, clean_cache,
 * evaluate_input_model, log_severity_level, no_artifacts, evaluator, search_strategy), so
 * Olive recipes run unchanged where their passes exist here.
 *
 * Every pass result is kept in a content-addressed cache (cache_dir, default .olive-cache):
 * running the same workflow again reuses each pass's result instead of recomputing it. An
 * entry's bytes are hashed again at every reuse and while copied to the output: one that
 * differs from its manifest is rebuilt, never served.
 * A slot of "passes" may hold a list of alternatives: every combination is run and the
 * evaluator's ranked metrics (priority 1 first, then 2, ...) pick the result; without them, a
 * size_on_disk metric keeps the smallest, otherwise the first combination is kept.
 * With "search_strategy" (or a pass parameter given as one of Olive's search parameters), the
 * alternatives and searched parameters make a search space explored by the strategy's sampler
 * (sequential, random, tpe); candidates that miss a goal are pruned, the best by priority order
 * is written, and pareto_frontier_footprint.json lists the Pareto frontier (README: Searching).
 *
 * Evaluators ("evaluators", "evaluator" on the engine or on a pass, evaluate_input_model) and
 * "data_configs" follow Olive's schema (see olive/evaluate.h): the result of each candidate is
 * measured with ONNX Runtime on the target's execution provider. When the loaded ONNX Runtime
 * lacks that provider (checked once, before any pass), the passes still run and the model is
 * written; the metrics that need a session are recorded with "value": null, "measured": false
 * and "reason" (naming the provider, the library and the providers it has), with a warning.
 *
 * The output folder holds model.onnx (+ its data file and companion files such as
 * genai_config.json and tokenizer files), model_config.json in Olive's format, metrics.json
 * (the result's metrics, when an evaluator is set), input_model_metrics.json (with
 * evaluate_input_model) and, unless no_artifacts is set, footprint.json (one node per model: id,
 * parent, pass, config, metrics, times) and run_history.txt. It is written atomically.
 *
 * When the input model is a folder, its tokenizer files, chat templates and runtime configs
 * (config.json, generation_config.json, genai_config.json, preprocessor_config.json,
 * processor_config.json) travel with the model, with their permissions; its other files do
 * not. A file of the folder that is a symlink leading out of it is refused (OLIVE_EFORMAT),
 * except for the Hugging Face hub cache's links into the repository's blobs folder.
 */
#ifndef OLIVE_WORKFLOW_H
#define OLIVE_WORKFLOW_H

#include "olive/common.h"
#include "olive/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct olive_workflow olive_workflow;

/* Parses a workflow config (JSON text in Olive's schema). `options` is NULL or space-separated
 * key=value settings:
 *   strict=true|false   unknown keys, and passes whose precision the target's execution provider
 *                       cannot run (a bf16 model for CPUExecutionProvider, DmlExecutionProvider or
 *                       WebGpuExecutionProvider), are errors (OLIVE_EINVALID, OLIVE_EUNSUPPORTED)
 *                       instead of warnings (default false)
 *   output_dir=DIR      replaces the config's output_dir
 *   cache_dir=DIR       replaces the config's cache_dir
 *   log_level=N         replaces the config's log_severity_level (0 debug .. 4 silent)
 *   executor=local|slurm  replaces engine.executor's type: where a search's candidates are built
 *                       and evaluated (local: this machine; slurm: one Slurm job array, each task
 *                       running the olive command, $OLIVE_CLI, on one candidate into the shared
 *                       cache_dir); an option of version 0.2
 *   max_parallel=N      at most N candidates at once (local: N worker processes, but one at a
 *                       time when a metric measures latency or throughput; slurm: the array's
 *                       %N); an option of version 0.2
 * Every check that needs no model file is done here: unknown pass types and parameters, values
 * of the wrong type or out of range, unsupported systems, metrics and search strategies.
 * Errors: OLIVE_EFORMAT (invalid JSON: the message gives line and column), OLIVE_EINVALID
 * (naming the key at fault, e.g. "passes.quant.block_size"), OLIVE_ENOTFOUND (unknown pass
 * type), OLIVE_EUNSUPPORTED (a feature that needs what this build lacks), OLIVE_ENOMEM.
 * Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_workflow_new(olive_workflow **out, const char *config_json, const char *options);

/* The same, reading the config from a file (messages name the file). A file named *.yaml or
 * *.yml is read as YAML (the same schema; anchors and aliases allowed), any other as JSON.
 * Errors: as olive_workflow_new (invalid YAML: line and column; OLIVE_EUNSUPPORTED for YAML in
 * a build without libyaml), and OLIVE_ENOTFOUND / OLIVE_EIO for the file. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_workflow_load(olive_workflow **out, const char *path, const char *options);

/* Releases a workflow. Accepts NULL. Since 0.1. */
OLIVE_API void olive_workflow_free(olive_workflow *workflow);

/* The passes in pipeline text form ("peephole ! quantize block_size=32"), alternatives of a
 * slot separated by " | ". Release with olive_free. Errors: OLIVE_EINVALID, OLIVE_ENOMEM.
 * Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_workflow_pipeline_text(char **out, const olive_workflow *workflow);

/* The workflow's config as Olive's JSON (4-space indent), with the output_dir and cache_dir
 * that options replaced, as `olive run --dry_run` saves it. *output_dir receives the output
 * folder (NULL when the config has none). Release both with olive_free. Errors:
 * OLIVE_EINVALID (NULL arguments), OLIVE_ENOMEM. Since 0.2. */
OLIVE_API OLIVE_NODISCARD int olive_workflow_config_text(char **out, char **output_dir, const olive_workflow *workflow);

/* Sets the progress callback (see olive_progress_fn; a cache hit reports its pass started and
 * finished at once). `bytes_written` counts the pass results stored in the cache so far (cache
 * hits write nothing), then, at DONE, the model files copied to output_dir too. NULL removes it. Since 0.1. */
OLIVE_API void olive_workflow_set_progress(olive_workflow *workflow, olive_progress_fn fn, void *user);

/* Asks a running olive_workflow_run to stop. Safe from any thread or a signal handler.
 * Since 0.1. */
OLIVE_API void olive_workflow_cancel(olive_workflow *workflow);

/* Runs the workflow. Logs one info line per pass saying "cache hit" or "run". When `result`
 * is not NULL it receives a JSON summary (release with olive_free): input_id, steps [{slot,
 * olive_type, pass, id, cache: "hit"|"run", seconds}], candidates [{index, name, size_on_disk,
 * metrics}] (one per combination of a slot's alternatives, numbered from 0; name: its passes in
 * pipeline text form; for a search: one per candidate evaluated, with its point, state and
 * on_front), best (the index of the candidate written to output_dir), metrics (the result's),
 * input_model_metrics (when measured), pareto_frontier (for a search), output_dir, seconds.
 * An existing output_dir is written when it is an earlier output of libolive's (it has the
 * hidden manifest .libolive-output) or holds only olive_config.json (the config
 * `olive auto-opt --save_config_file` saves): the files libolive wrote there are replaced,
 * every other file, folder and link in it is kept. The new output takes the old one's place in
 * one atomic exchange.
 * Errors: OLIVE_ENOTFOUND (input model missing), OLIVE_EINVALID (output_dir is a symbolic
 * link; output_dir or cache_dir is, holds or is inside the input model's files or a model
 * folder given as input; output_dir and cache_dir contain one another; a checkpoint input
 * whose first pass is not ModelBuilder; a search whose candidates were all pruned or failed),
 * OLIVE_EEXISTS (output_dir exists, is not empty and is not an earlier output, naming what it
 * holds; or it holds a file libolive did not write under a name the new output uses),
 * OLIVE_EIO (output_dir or cache_dir not writable; a cache entry changed while being copied
 * out), OLIVE_EUNSUPPORTED (a search, or ranked metrics choosing among alternatives, measured on
 * an execution provider the loaded ONNX Runtime lacks: refused before any pass), OLIVE_ECANCELLED,
 * any error of the passes, and those of olive_evaluate for the metrics (data files, ONNX Runtime);
 * nothing is written then. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_workflow_run(olive_workflow *workflow, char **result);

/* Builds the workflow config that `olive auto-opt`, `olive optimize` or `olive quantize`
 * (`command`) runs, from space-separated key=value options named as those commands' flags:
 *   model_name_or_path=PATH (required), output_path=DIR, device=cpu|gpu|npu,
 *   provider=EP (implies its device), precision=int4|int8|fp16|bf16|fp32, use_ort_genai=BOOL,
 *   use_model_builder=BOOL, block_size=N, accuracy_level=N, memory=BYTES, cache_dir=DIR,
 *   log_level=N; for quantize also algorithm=default|rtn|hqq|kquant, use_qdq_encoding=BOOL.
 * Rules: a checkpoint (Hugging Face folder or .gguf) is converted by ModelBuilder at the
 * precision (int4/int8 quantized as it is converted); an ONNX model goes through
 * OnnxPeepholeOptimizer, OrtTransformersOptimization (when this build has it), then int4:
 * OnnxBlockWiseRtnQuantization, int8: OnnxDynamicQuantization, fp16/bf16: OnnxFloatToFloat16.
 * *out receives the config as JSON text (release with olive_free).
 * Errors: OLIVE_EINVALID (bad or missing option, naming it), OLIVE_ENOTFOUND (no such model),
 * OLIVE_EUNSUPPORTED (e.g. quantize on a checkpoint), OLIVE_ENOMEM. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_workflow_auto_opt_config(char **out, const char *command, const char *options);

#ifdef __cplusplus
}
#endif
#endif
