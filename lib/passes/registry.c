/* The list of passes. A new pass adds its definition here. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/calibrate/static_quant.h"
#include "passes/convert/convert.h"
#include "passes/float16/float16.h"
#include "passes/fusion/fusion.h"
#include "passes/peephole/peephole.h"
#include "passes/quant/quantize.h"
#include "passes/quant_dynamic/quantize_dynamic.h"
#include "passes/calibrate/awq_pass.h"
#include "passes/calibrate/gptq_pass.h"
#include "passes/registry.h"

static const olive_pass_def *const passes[] = {
    &olive_pass_peephole,
    &olive_pass_float16,
    &olive_pass_io_datatype,
    &olive_pass_quantize,
    &olive_pass_quantize_hqq,
    &olive_pass_quantize_kquant,
    &olive_pass_quantize_dynamic,
    &olive_pass_static_quantize,
    &olive_pass_gptq,
    &olive_pass_awq,
    &olive_pass_fuse,
    &olive_pass_convert,
};

#define N_PASSES (sizeof passes / sizeof *passes)

size_t olive_registry_count(void) { return N_PASSES; }

const olive_pass_def *olive_registry_at(size_t index) { return index < N_PASSES ? passes[index] : NULL; }

const olive_pass_def *olive_registry_find(const char *name)
{
    olive_strbuf known = {0};
    for (size_t i = 0; i < N_PASSES; i++) {
        if (!strcmp(passes[i]->name, name))
            return passes[i];
        for (const char *const *a = passes[i]->aliases; a && *a; a++)
            if (!strcasecmp(*a, name))
                return passes[i];
    }
    for (size_t i = 0; i < N_PASSES; i++) {
        olive_strbuf_append(&known, known.len ? ", " : "");
        olive_strbuf_append(&known, passes[i]->name);
    }
    olive_fail(OLIVE_ENOTFOUND, "unknown pass '%s'; known passes: %s", name, known.data ? known.data : "");
    olive_strbuf_free(&known);
    return NULL;
}

int olive_pass_progress(olive_pass_ctx *ctx, double fraction)
{
    if (!ctx || !ctx->progress)
        return OLIVE_OK;
    return ctx->progress(ctx, fraction < 0 ? 0 : fraction > 1 ? 1 : fraction);
}

int olive_pass_run_def(const olive_pass_def *def, const olive_pass_args *args, oir_model *model, olive_pass_ctx *ctx)
{
    int rc;
    /* A source checkpoint has no graph yet: only the converter can work on it. */
    if (model->checkpoint_path && strcmp(def->name, "convert"))
        return olive_fail(OLIVE_EINVALID, "model '%s' is a checkpoint: run the convert pass first",
                          model->checkpoint_path);
    /* Every pass starts from a consistent graph and must leave one: rewriting an inconsistent
     * graph could hide where it is broken, and a broken result is a bug in the pass. */
    if (!model->checkpoint_path && (rc = oir_model_validate(model)) != OLIVE_OK)
        return olive_fail_context(rc, "pass '%s': input model", def->name);
    rc = def->run(model, args, ctx);
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
