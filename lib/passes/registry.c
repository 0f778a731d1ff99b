/* The list of passes and the checks every pass run goes through. The list itself is
 * generated from lib/passes/meson.build, where a new pass adds its one line. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/mapguard.h"
#include "core/status.h"
#include "passes/registry.h"

#define OLIVE_PASS(id) extern const olive_pass_def olive_pass_##id;
#include "passes/pass_list.h"
#undef OLIVE_PASS

static const olive_pass_def *const passes[] = {
#define OLIVE_PASS(id) &olive_pass_##id,
#include "passes/pass_list.h"
#undef OLIVE_PASS
};

#define N_PASSES (sizeof passes / sizeof *passes)

size_t olive_registry_count(void)
{
    return N_PASSES;
}

const olive_pass_def *olive_registry_at(size_t index)
{
    return index < N_PASSES ? passes[index] : NULL;
}

const olive_pass_def *olive_registry_lookup(const char *name, const olive_pass_type **type)
{
    if (type)
        *type = NULL;
    for (size_t i = 0; i < N_PASSES; i++)
        if (!strcmp(passes[i]->name, name))
            return passes[i];
    for (size_t i = 0; i < N_PASSES; i++)
        for (const olive_pass_type *t = passes[i]->olive_types; t && t->name; t++)
            if (!strcasecmp(t->name, name)) {
                if (type)
                    *type = t;
                return passes[i];
            }
    return NULL;
}

const olive_pass_def *olive_registry_find(const char *name)
{
    olive_strbuf known = {0};
    const olive_pass_def *def = olive_registry_lookup(name, NULL);
    if (def)
        return def;
    for (size_t i = 0; i < N_PASSES; i++) {
        olive_strbuf_append(&known, known.len ? ", " : "");
        olive_strbuf_append(&known, passes[i]->name);
    }
    olive_fail(OLIVE_ENOTFOUND, "unknown pass '%s'; known passes: %s", name, known.data ? known.data : "");
    olive_strbuf_free(&known);
    return NULL;
}

char *olive_registry_type_names(void)
{
    olive_strbuf known = {0};
    olive_strbuf_append(&known, "");
    for (size_t i = 0; i < N_PASSES; i++)
        for (const olive_pass_type *t = passes[i]->olive_types; t && t->name; t++)
            olive_strbuf_printf(&known, "%s%s", known.len ? ", " : "", t->name);
    return olive_strbuf_take(&known);
}

int olive_name_in(const char *const *list, const char *key)
{
    for (; list && *list; list++)
        if (!strcmp(*list, key))
            return 1;
    return 0;
}

int olive_pass_progress(olive_pass_ctx *ctx, double fraction)
{
    if (!ctx || !ctx->progress)
        return OLIVE_OK;
    return ctx->progress(ctx, fraction < 0 ? 0 : fraction > 1 ? 1 : fraction);
}

/* A function of its own, so that nothing of the caller's lives across the guard's jump. */
static int run_guarded(const olive_pass_def *def, const olive_pass_args *args, oir_model *model, olive_pass_ctx *ctx)
{
    int rc;
    OLIVE_MAP_GUARDED(rc, def->run(model, args, ctx));
    return rc;
}

int olive_pass_run_def(const olive_pass_def *def, const olive_pass_args *args, oir_model *model, olive_pass_ctx *ctx)
{
    int rc;
    /* A source checkpoint has no graph yet: only a converter can work on it. */
    if (model->checkpoint_path && !(def->flags & OLIVE_PASS_ACCEPTS_CHECKPOINT))
        return olive_fail(OLIVE_EINVALID, "model '%s' is a checkpoint: run the convert pass first",
                          model->checkpoint_path);
    /* Every pass starts from a consistent graph and must leave one: rewriting an inconsistent
     * graph could hide where it is broken, and a broken result is a bug in the pass. */
    if (!model->checkpoint_path && !def->validates_input && (rc = oir_model_validate(model)) != OLIVE_OK)
        return olive_fail_context(rc, "pass '%s': input model", def->name);
    /* Weights are read from mapped files: one that shrank since it was loaded is refused
     * here, and one that shrinks while the pass reads it ends the pass with an error instead
     * of a bus error. */
    for (size_t i = 0; i < model->n_sources; i++)
        if ((rc = olive_blob_check_size(model->sources[i])) != OLIVE_OK)
            return olive_fail_context(rc, "pass '%s'", def->name);
    rc = run_guarded(def, args, model, ctx);
    if (rc == OLIVE_OK && (rc = oir_model_validate(model)) != OLIVE_OK) {
        /* The message buffer is rewritten by olive_fail: format from a copy. */
        char *why = olive_strdup(olive_error_last());
        rc = olive_fail(OLIVE_EINTERNAL, "the graph written by the pass is invalid: %s", why ? why : "");
        free(why);
    }
    if (rc != OLIVE_OK && rc != OLIVE_ECANCELLED)
        olive_fail_context(rc, "pass '%s'", def->name);
    return rc;
}
