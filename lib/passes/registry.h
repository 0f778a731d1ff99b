/* The pass registry: how a pass describes itself and how it is run.
 *
 * Each pass lives in its own file and defines one `const olive_pass_def`; registry.c lists
 * them. Parameters are declared with typed specs; the registry validates values before a
 * pass sees them, so run() may trust olive_pass_args accessors. */
#ifndef OLIVE_PASSES_REGISTRY_H
#define OLIVE_PASSES_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "olive/pass.h"
#include "ir/ir.h"

typedef struct olive_param_spec {
    const char *name;
    int type;                 /* OLIVE_PARAM_* */
    const char *default_value;/* text form; "" for an empty string/list */
    double min, max;          /* bounds for INT and FLOAT (ignored when min > max) */
    const char *choices;      /* CHOICE: "a|b|c" */
    const char *help;         /* one line */
} olive_param_spec;

/* Parameter values as the pass sees them (already validated, defaults filled in). */
typedef struct olive_pass_args {
    const struct olive_pass_def *def;
    char **values;            /* text form, one per spec, in spec order */
} olive_pass_args;

int64_t olive_args_int(const olive_pass_args *a, const char *name);
double olive_args_float(const olive_pass_args *a, const char *name);
int olive_args_bool(const olive_pass_args *a, const char *name);
const char *olive_args_string(const olive_pass_args *a, const char *name);
/* 1 if `item` is one of the comma-separated entries of a LIST parameter. */
int olive_args_list_has(const olive_pass_args *a, const char *name, const char *item);

/* What a running pass may use besides its model: progress and cancellation. */
typedef struct olive_pass_ctx {
    const struct olive_accelerator *accelerator;  /* may be NULL */
    /* Reports the fraction (0..1) of this pass done; returns OLIVE_ECANCELLED (error set)
     * when the caller asked to stop, which the pass must return promptly. */
    int (*progress)(struct olive_pass_ctx *ctx, double fraction);
    void *user;
} olive_pass_ctx;

/* Reports progress through ctx when it has a callback; returns OLIVE_OK otherwise. */
int olive_pass_progress(olive_pass_ctx *ctx, double fraction);

typedef struct olive_pass_def {
    const char *name;
    const char *summary;          /* one line */
    const char *const *aliases;   /* NULL-terminated: Olive pass type names mapped here */
    const olive_param_spec *params;
    size_t n_params;
    /* 1 when run() validates the input model itself: the pass can repair graphs the validator
     * refuses (GraphSurgeries' DeduplicateNodes). The output is validated either way. */
    int validates_input;
    /* Rewrites `model` in place. On failure the caller discards the model, so the pass need
     * not undo partial work. Returns OLIVE_OK or an error code with the message set. */
    int (*run)(oir_model *model, const olive_pass_args *args, olive_pass_ctx *ctx);
} olive_pass_def;

/* Registered passes. */
size_t olive_registry_count(void);
const olive_pass_def *olive_registry_at(size_t index);
/* Finds by name or alias (case-sensitive for names, case-insensitive for aliases). NULL and
 * OLIVE_ENOTFOUND set (listing the known names) when unknown. */
const olive_pass_def *olive_registry_find(const char *name);

/* Validates `value` for `spec`; returns OLIVE_OK or OLIVE_EINVALID naming pass, key and what
 * is accepted. */
int olive_param_check(const olive_pass_def *def, const olive_param_spec *spec, const char *value);
const olive_param_spec *olive_param_find(const olive_pass_def *def, const char *key);
/* The canonical text of a checked value ("yes" -> "true", "0x10" -> "16"), owned by the
 * caller; NULL on ENOMEM. */
char *olive_param_canonical(const olive_param_spec *spec, const char *value);

/* Runs `def` with `args` on a model in place (used by the engine and olive_pass_apply). */
int olive_pass_run_def(const olive_pass_def *def, const olive_pass_args *args, oir_model *model, olive_pass_ctx *ctx);

#endif
