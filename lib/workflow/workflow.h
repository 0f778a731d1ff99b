/* Workflows: Olive's workflow JSON (input model, systems, evaluators, passes, engine fields)
 * parsed into an ordered list of pass slots, run through the content-addressed cache, with the
 * result written to an output folder with model_config.json and footprints. */
#ifndef OLIVE_WORKFLOW_WORKFLOW_H
#define OLIVE_WORKFLOW_WORKFLOW_H

#include <stdatomic.h>

#include <jansson.h>

#include "passes/instance.h"
#include "workflow/evaluator.h"
#include "workflow/executor/executor.h"
#include "workflow/search/strategy.h"
#include "olive/olive.h"

/* One alternative of a pass slot: a configured pass and the Olive type it came from. */
typedef struct wf_choice {
    char *olive_type; /* "type" as written in the config */
    olive_pass *pass;
    wf_evaluator *evaluator; /* the pass's own "evaluator", or NULL: the engine's */
    json_t *search;          /* searched parameters: our name -> Olive's search parameter or
                                  "SEARCHABLE_VALUES" (owned), or NULL */
} wf_choice;

/* A slot of "passes": its name and one or more alternatives (a list is a search choice). */
typedef struct wf_slot {
    char *name;
    size_t n_choices;
    wf_choice *choices;
} wf_slot;

/* One entry of pass_flows: the slots it runs, in order (indexes into slots). */
typedef struct wf_flow {
    size_t n;
    size_t *slots;
} wf_flow;

struct olive_workflow {
    char *model_type; /* "HfModel" or "ONNXModel" */
    char *model_path;
    char *onnx_file_name; /* the model file when model_path is a folder, or NULL */
    char *components;     /* a CompositeModel: the model files after the first, comma-separated; NULL otherwise */
    olive_accelerator *acc;
    size_t n_slots;
    wf_slot *slots;
    size_t n_flows; /* 0: one flow of every slot in order */
    wf_flow *flows;
    json_t *packaging; /* packaging_config entries (borrowed from config), or NULL */
    char *output_dir;  /* NULL: no output folder is written */
    char *cache_dir;
    int clean_cache;
    int evaluate_input_model;
    int no_artifacts;
    int log_level;          /* -1: leave the process's level alone */
    int size_on_disk;       /* the evaluator asks for the size_on_disk metric */
    wf_evaluator evaluator; /* the engine's evaluator (no metrics when none) */
    int strict;
    ws_strategy search;       /* search_strategy (search.enabled 0: every combination, as before) */
    wf_executor executor;     /* engine.executor: where a search's candidates run */
    int plot_pareto_frontier; /* draw the frontier chart (PNG, SVG) into the output */
    size_t output_model_num;  /* > 1: that many frontier models in frontier_<k> subfolders */
    json_t *config;           /* the parsed config, recorded in footprints */
    size_t n_calib_dirs;      /* calibration folders written from data configs, removed at free */
    char **calib_dirs;
    char *source_path; /* the config file's real path (olive_workflow_load), or NULL */
    /* During a run: why the metrics that need a session are not measured (the target's
     * execution provider is missing from the loaded ONNX Runtime), or NULL. */
    char *unmeasured;
    olive_progress_fn progress;
    void *progress_user;
    atomic_int cancelled;
};

/* Parses config text (`source` names it in messages: a file name or "config"). Unknown keys
 * are warnings, or OLIVE_EINVALID errors when `strict`. All checks that need no model file
 * happen here: unknown pass types, parameter values, unsupported systems and metrics. */
int wf_parse(olive_workflow **out, const char *text, const char *source, int strict);
/* As wf_parse, for a config already parsed into a JSON tree (takes ownership of root). */
int wf_parse_tree(olive_workflow **out, json_t *root, const char *source, int strict);
/* A YAML config as the JSON tree it stands for (workflow_yaml.c). Errors: OLIVE_EFORMAT with
 * "source:line:column", OLIVE_EUNSUPPORTED in a build without libyaml. */
int wf_yaml_to_json(json_t **out, const char *text, const char *source);
void wf_free(olive_workflow *w);

/* Builds the pass of one entry of "passes" from its JSON object (Olive's parameter names
 * mapped to ours). `where` names the entry in messages ("passes.quantization"). */
int wf_pass_from_json(wf_choice *out, const json_t *obj, const char *where, int strict);

/* Folds SelectiveMixedPrecision / Rtn entries into the quant_plan of the ModelBuilder that
 * follows them, removes their slots and moves a Gptq among them after the ModelBuilder
 * (workflow_quant_plan.c); kld_gradient's calibration data goes to the ModelBuilder's
 * selection_data. Errors name the entry: bad scored settings, kld_gradient or a Gptq without
 * calibration data, no ModelBuilder after them. */
int wf_fold_checkpoint_quant(olive_workflow *w);

/* Warns (or, when strict, fails with OLIVE_EUNSUPPORTED) for each pass whose precision the
 * target's execution provider cannot run (a bf16 model for CPUExecutionProvider). */
int wf_check_targets(const olive_workflow *w, int strict);

/* Checks a searching workflow before any work (workflow_search.c): its space (not empty, not
 * contradictory, not too large) and its objectives (an evaluator with ranked or goal metrics).
 * OLIVE_OK for a workflow that does not search. */
int wf_search_check(const olive_workflow *w);

/* Runs the workflow; *result receives a JSON summary (may be NULL). */
int wf_run(olive_workflow *w, json_t **result);

/* The flows of a workflow: pass_flows, or one flow of every slot in order. */
size_t wf_flow_count(const olive_workflow *w);
size_t wf_flow_length(const olive_workflow *w, size_t flow);
/* The slot index at position `k` of `flow`. */
size_t wf_flow_slot(const olive_workflow *w, size_t flow, size_t k);

/* Writes the packages packaging_config asks for (Zipfile: <output_dir>/<name>.zip holding the
 * output folder's files) after the output folder is written. */
int wf_package_output(const olive_workflow *w);
/* Checks packaging_config when parsed: Zipfile only, in a build with libarchive. */
int wf_packaging_check(const json_t *config, int strict);

/* The pipeline of the first candidate in text form, alternatives as "a|b". */
char *wf_pipeline_text(const olive_workflow *w);

/* A parameter set to this searches the parameter's default space. */
#define WF_SEARCHABLE_VALUES "SEARCHABLE_VALUES"

/* The default search space of a parameter as "a|b|c" (owned): the registry's search space
 * (olive_param_spec.search), else its choices, or true|false for a flag. Errors: OLIVE_EINVALID for a parameter without one (named). */
int wf_default_search_values(char **out, const struct olive_param_spec *spec);

/* Turns a JSON value into a parameter's text: scalars as text, arrays comma-joined, objects
 * as compact JSON. NULL (error set) for null or nested arrays. */
char *wf_json_param_text(const json_t *v, const char *where);

/* A warning (or, when strict, an OLIVE_EINVALID error) for keys of `obj` outside `known`
 * (NULL-terminated). */
int wf_check_keys(const json_t *obj, const char *const *known, const char *where, int strict);

/* Auto-opt, optimize and quantize rules: builds a workflow config in Olive's schema from
 * command options ("model=PATH output=DIR precision=int4 ..."). */
int wf_auto_opt_config(json_t **out, const char *command, const char *options);

#endif
