/* What a workflow reads and writes besides models: its input, model_config.json, footprints
 * and the run history. */
#ifndef OLIVE_WORKFLOW_OUTPUTS_H
#define OLIVE_WORKFLOW_OUTPUTS_H

#include <stdint.h>

#include <jansson.h>

#include "ir/ir.h"
#include "workflow/evaluator.h"

#define WF_MODEL_CONFIG "model_config.json"
#define WF_FOOTPRINT "footprint.json"
#define WF_RUN_HISTORY "run_history.txt"
/* The config `olive auto-opt --save_config_file` keeps in the output folder. */
#define WF_SAVED_CONFIG "olive_config.json"
/* The config `olive run --dry_run` saves in the output folder, as Olive names it. */
#define WF_DRY_RUN_CONFIG "config.json"

/* Olive's description of an output folder: {"type": "ONNXModel", "config": {model_path,
 * onnx_file_name, ..., model_attributes: {additional_files}}}. */
int wf_model_config_json(json_t **out, const char *output_dir, const char *model_file, const oir_model *m);
/* The model file named by <folder>/model_config.json (owned by the caller).
 * Errors: OLIVE_ENOTFOUND, OLIVE_EFORMAT, OLIVE_EUNSUPPORTED (not an ONNX model). */
int wf_model_config_read(char **model_file, const char *folder);

/* Loads a workflow's input: a .onnx file; a folder written by a workflow (model_config.json),
 * or holding model.onnx or `onnx_file_name` (when not NULL; its other files become
 * companions); or a checkpoint (a Hugging Face folder or a .gguf file). *folder receives the
 * model folder when the input is a folder (owned by the caller), NULL when it is a file. */
int wf_load_input(oir_model **out, char **folder, const char *path, const char *onnx_file_name);

/* Bytes of a model's files: the .onnx file and the files its weights come from (or the
 * checkpoint file). */
uint64_t wf_model_files_size(const oir_model *m);

/* For a Hugging Face reference ("org/name", "org/name@revision", "org/name[@revision]/file.gguf")
 * that is not a local path: *out receives (caller frees) its snapshot folder (or the file) in
 * the hub cache, downloaded first when the cache lacks it (see formats/hub/hub.h). *out is NULL
 * when `id` is no such reference. Errors: those of ohub_fetch. */
int wf_resolve_hub_id(char **out, const char *id);

/* One step of a run, as footprints and the run history record it. */
typedef struct wf_step {
    char id[65];
    char parent[65];
    const char *slot; /* borrowed from the workflow */
    const char *olive_type;
    const char *pass;
    const struct olive_pass_def *def; /* the pass's registry entry: parameter types (static) */
    char *params;                     /* "key=value ..." of every parameter (owned) */
    int cache_hit;
    double start, end; /* seconds since the epoch */
    int has_size;
    uint64_t size_on_disk;
    json_t *metrics; /* evaluation results of this step's model (owned), or NULL */
} wf_step;

#define WF_METRICS "metrics.json"
#define WF_INPUT_METRICS "input_model_metrics.json"
#define WF_PARETO_FRONTIER "pareto_frontier_footprint.json"
#define WF_PARETO_CHART "pareto_frontier_chart"

/* footprint.json: one node per model (the input and every step), keyed by id. `input_metrics`
 * (may be NULL) are the input model's evaluation results. Each step's config holds its
 * parameters as typed JSON values (numbers, booleans, lists of strings, as Olive writes pass
 * configs); an empty execution_provider, which the pass takes from the accelerator, is recorded
 * as `provider` (the accelerator's execution provider). */
json_t *wf_footprints_json(const char *input_id, const uint64_t *input_size, const json_t *input_metrics,
                           const wf_step *steps, size_t n, const char *provider);
/* A footprint node's metrics in Olive's form: {"value": results, "cmp_direction": {key: 1 or
 * -1}, "if_goals_met": bool, or null when a goal is on a metric that was not measured};
 * `baseline` (may be NULL) is the input model's results. */
json_t *wf_footprint_metrics(const json_t *results, const wf_evaluator *e, const json_t *baseline);
/* run_history.txt: one line per step. */
char *wf_run_history_text(const wf_step *steps, size_t n);

#endif
