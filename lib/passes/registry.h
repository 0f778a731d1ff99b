/* The pass registry: how a pass describes itself and how it is run.
 *
 * Each pass lives in its own folder and defines one `const olive_pass_def`; one line of
 * lib/passes/meson.build builds the folder and registers the definition. The definition holds every fact about the pass: its parameters (typed specs the
 * registry validates before a pass sees them, so run() may trust olive_pass_args accessors),
 * the search space of each searchable parameter, the Olive pass types it implements with
 * their parameter names, and flags the engine and the workflow act on. Nothing outside the
 * definition asks for a pass by name. */
#ifndef OLIVE_PASSES_REGISTRY_H
#define OLIVE_PASSES_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "olive/pass.h"
#include "ir/ir.h"

typedef struct olive_param_spec {
    const char *name;
    int type;                  /* OLIVE_PARAM_* */
    const char *default_value; /* text form; "" for an empty string/list */
    double min, max;           /* bounds for INT and FLOAT (ignored when min > max) */
    const char *choices;       /* CHOICE: "a|b|c" */
    const char *help;          /* one line: no newline, at most OLIVE_HELP_MAX characters */
    const char *details;       /* more about the parameter (any length), or NULL */
    const char *search;        /* searchable: the default candidates "a|b|c" (each a valid value),
                                 which a search tries when the workflow names no space; NULL if the
                                 parameter is not searched */
    int data_folder;           /* 1: a folder of calibration data, which a workflow fills from the
                                 pass's data_config and its cache identifies by content; 2: the
                                 same, filled by the workflow from another pass's data */
    int model_files;           /* 1: a LIST of ONNX model paths read besides the input model, which
                                 a workflow fills from a CompositeModel's components and its cache
                                 identifies by content */
} olive_param_spec;

/* The longest one-line help or summary, so that `olive passes` fits a terminal. */
#define OLIVE_HELP_MAX 100

/* Parameter values as the pass sees them (already validated, defaults filled in). */
typedef struct olive_pass_args {
    const struct olive_pass_def *def;
    char **values; /* text form, one per spec, in spec order */
} olive_pass_args;

int64_t olive_args_int(const olive_pass_args *a, const char *name);
double olive_args_float(const olive_pass_args *a, const char *name);
int olive_args_bool(const olive_pass_args *a, const char *name);
const char *olive_args_string(const olive_pass_args *a, const char *name);
/* 1 if `item` is one of the comma-separated entries of a LIST parameter. */
int olive_args_list_has(const olive_pass_args *a, const char *name, const char *item);

/* What a running pass may use besides its model: progress and cancellation. */
typedef struct olive_pass_ctx {
    const struct olive_accelerator *accelerator; /* may be NULL */
    /* Reports the fraction (0..1) of this pass done; returns OLIVE_ECANCELLED (error set)
     * when the caller asked to stop, which the pass must return promptly. */
    int (*progress)(struct olive_pass_ctx *ctx, double fraction);
    void *user;
} olive_pass_ctx;

/* Reports progress through ctx when it has a callback; returns OLIVE_OK otherwise. */
int olive_pass_progress(olive_pass_ctx *ctx, double fraction);

/* An Olive config key this pass takes under another name, with its values translated or not. */
typedef struct olive_key_map {
    const char *key;    /* the key in Olive's config ("torch_dtype") */
    const char *param;  /* the parameter it sets ("precision") */
    const char *values; /* NULL: the value passes unchanged; else "theirs=ours|..." ("float16=fp16|..."):
                            a value not listed is refused, an empty "ours" leaves the parameter alone */
} olive_key_map;

/* One Olive pass type this pass implements, and how that type's config becomes our parameters.
 * Keys that are our parameter names pass through unchanged. */
typedef struct olive_pass_type {
    const char *name;             /* Olive's pass type ("OnnxMatMul4Quantizer"), matched case-insensitively */
    const char *fixed;            /* settings the type implies, applied before the config's ("bits=4"), or NULL */
    const olive_key_map *renames; /* Olive's names for our parameters; ends with {NULL}; may be NULL */
    const char *const *ignored;   /* keys that tune Olive's own machinery and change nothing here, accepted
                                        without a warning; NULL-terminated; may be NULL */
} olive_pass_type;

/* Flags of a pass (olive_pass_def.flags). */
enum {
    /* Runs on a source checkpoint (HF folder, GGUF), which has no graph yet; every other pass
     * refuses one. */
    OLIVE_PASS_ACCEPTS_CHECKPOINT = 1u << 0,
    /* The result depends on the target device and execution provider, not only on the input and
     * the parameters: the workflow cache keys it by accelerator. */
    OLIVE_PASS_DEPENDS_ON_ACCELERATOR = 1u << 1,
    /* The pass measures time (latency): the workflow never runs it beside another measurement
     * on the same machine (a search's candidates then run one at a time, or take a whole node). */
    OLIVE_PASS_MEASURES_TIME = 1u << 2,
};

typedef struct olive_pass_def {
    const char *name;
    const char *summary;                /* one line: no newline, at most OLIVE_HELP_MAX characters */
    const char *details;                /* more about the pass (any length), or NULL */
    unsigned flags;                     /* OLIVE_PASS_* */
    const olive_pass_type *olive_types; /* the Olive pass types mapped here; ends with {NULL}; may be NULL */
    /* Olive keys this pass takes under any of its types (or its own name); ends with {NULL}; may be NULL. */
    const olive_key_map *olive_keys;
    /* Olive keys whose object value holds more parameters (ModelBuilder's "extra_options");
     * NULL-terminated; may be NULL. */
    const char *const *nested_keys;
    const olive_param_spec *params;
    size_t n_params;
    /* 1 when run() validates the input model itself: the pass can repair graphs the validator
     * refuses (GraphSurgeries' DeduplicateNodes). The output is validated either way. */
    int validates_input;
    /* Names of what the pass chooses among by name (GraphSurgeries' surgeons): the i-th, or NULL
     * past the last; `catalog_label` says what they are ("surgeons"). Both NULL for most passes. */
    const char *(*catalog)(size_t i);
    const char *catalog_label;
    /* Rewrites `model` in place. On failure the caller discards the model, so the pass need
     * not undo partial work. Returns OLIVE_OK or an error code with the message set. */
    int (*run)(oir_model *model, const olive_pass_args *args, olive_pass_ctx *ctx);
} olive_pass_def;

/* Registered passes. */
size_t olive_registry_count(void);
const olive_pass_def *olive_registry_at(size_t index);
/* Finds by name or Olive pass type (case-sensitive for names, case-insensitive for types);
 * *type (when not NULL) is the Olive type matched, or NULL for a name. Sets no error: NULL
 * when unknown. */
const olive_pass_def *olive_registry_lookup(const char *name, const olive_pass_type **type);
/* olive_registry_lookup without the type, and OLIVE_ENOTFOUND set (listing the known names)
 * when unknown. */
const olive_pass_def *olive_registry_find(const char *name);
/* Every Olive pass type of every pass, ", "-separated, in registry order (owned by the caller;
 * NULL on ENOMEM). */
char *olive_registry_type_names(void);
/* 1 if `key` is in the NULL-terminated `list` (which may be NULL). */
int olive_name_in(const char *const *list, const char *key);

/* Validates `value` for `spec`; returns OLIVE_OK or OLIVE_EINVALID naming pass, key and what
 * is accepted. */
int olive_param_check(const olive_pass_def *def, const olive_param_spec *spec, const char *value);
const olive_param_spec *olive_param_find(const olive_pass_def *def, const char *key);
/* The pass's calibration data folder parameter (data_folder 1), or NULL when it has none. */
const olive_param_spec *olive_param_data_folder(const olive_pass_def *def);
/* The canonical text of a checked value ("yes" -> "true", "0x10" -> "16"), owned by the
 * caller; NULL on ENOMEM. */
char *olive_param_canonical(const olive_param_spec *spec, const char *value);

/* Runs `def` with `args` on a model in place (used by the engine and olive_pass_apply). */
int olive_pass_run_def(const olive_pass_def *def, const olive_pass_args *args, oir_model *model, olive_pass_ctx *ctx);

#endif
