/* Whether the models a workflow writes can run where they are meant to: each pass that sets
 * the precision of weights and compute is checked against the target's execution provider
 * (backends/providers.c keeps the facts). A pair ONNX Runtime cannot run is a warning, or an
 * error in strict mode, before any work. */
#include <string.h>

#include "backends/providers.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/registry.h"
#include "workflow/workflow.h"

/* The precision a pass gives the model ("bf16", "fp16", ...), or NULL when it sets none. */
static const char *precision_of(const olive_pass *p)
{
    olive_pass_args a = olive_pass_args_of(p);
    if (!strcmp(p->def->name, "convert"))
        return olive_args_string(&a, "precision");
    if (!strcmp(p->def->name, "float16"))
        return strcmp(olive_args_string(&a, "dtype"), "bfloat16") ? "fp16" : "bf16";
    return NULL;
}

int wf_check_targets(const olive_workflow *w, int strict)
{
    const char *provider = olive_accelerator_provider(w->acc);
    for (size_t i = 0; i < w->n_slots; i++) {
        for (size_t j = 0; j < w->slots[i].n_choices; j++) {
            const char *precision = precision_of(w->slots[i].choices[j].pass);
            const char *why = olive_provider_precision_gap(provider, precision);
            const char *alt = olive_precision_runs_on(precision);
            if (!why)
                continue;
            if (strict)
                return olive_fail(OLIVE_EUNSUPPORTED,
                                  "passes.%s: a %s model does not run on %s (%s); use another precision%s%s",
                                  w->slots[i].name, precision, provider, why, alt ? " or " : "", alt ? alt : "");
            OLIVE_WARN("passes.%s: a %s model does not run on %s (%s); it is written all the same (strict mode "
                       "refuses it); use another precision%s%s",
                       w->slots[i].name, precision, provider, why, alt ? " or " : "", alt ? alt : "");
        }
    }
    return OLIVE_OK;
}
