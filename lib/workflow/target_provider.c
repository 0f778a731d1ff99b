/* The target's execution provider against the ONNX Runtime this process loaded, checked once
 * before any pass runs. The passes need no session on the target (they write models for it),
 * so a provider this ONNX Runtime lacks only stops the metrics measured in a session: they are
 * recorded as not measured, with the reason, and the model is still written. A workflow whose
 * result is chosen by those metrics (a search, or ranked metrics over several candidates) is
 * refused before any work instead, since its choice would rest on numbers it cannot get. */
#include <stdlib.h>
#include <string.h>

#include "backends/ort/ort_loader.h"
#include "backends/ort/ort_session.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "workflow/run.h"
#include "workflow/workflow.h"

/* Whether an evaluator has a metric that needs a session (size_on_disk needs none), whether
 * one of those is ranked (has a priority), and whether one names its own ONNX Runtime library
 * in its session options (the session loads that one; loading another here first would make
 * the session refuse it). */
static void runtime_metrics(const wf_evaluator *e, int *any, int *ranked, int *own_library)
{
    for (size_t i = 0; e && i < e->n_metrics; i++) {
        if (e->metrics[i].type == WF_METRIC_SIZE_ON_DISK)
            continue;
        *any = 1;
        *own_library |= e->metrics[i].session_options && strstr(e->metrics[i].session_options, "ort_library=");
        for (size_t j = 0; j < e->metrics[i].n_subs; j++)
            *ranked |= e->metrics[i].subs[j].priority > 0;
    }
}

/* "execution provider X is not available in ONNX Runtime V (path); it has: A, B", or NULL when
 * the provider is there, or when ONNX Runtime cannot be loaded (the sessions report that). */
static char *missing_text(const char *provider)
{
    const olive_ort *ort;
    char have[512];
    if (!strcmp(provider, "CPUExecutionProvider"))
        return NULL;
    if (olive_ort_load(&ort, NULL) != OLIVE_OK) {
        olive_error_clear();
        return NULL;
    }
    for (size_t i = 0; i < ort->n_providers; i++)
        if (!strcmp(ort->providers[i], provider))
            return NULL;
    olive_ort_providers_text(have, sizeof have, ort);
    return olive_asprintf("execution provider %s is not available in ONNX Runtime %s (%s); it has: %s", provider,
                          ort->version, ort->path, have);
}

int wf_check_target_provider(olive_workflow *w, int searching, size_t n_candidates)
{
    const char *provider = olive_accelerator_provider(w->acc);
    int any = 0, ranked_input = 0, own_library = 0, ranked_candidates = 0; /* the input is never the choice */
    char *missing;
    if (w->unmeasured) { /* written only when set: bindings may free the workflow on another thread */
        free(w->unmeasured);
        w->unmeasured = NULL;
    }
    /* A Slurm search evaluates on the nodes that have the target, not in this process. */
    if (w->executor.type == WF_EXEC_SLURM)
        return OLIVE_OK;
    /* The input model is measured when asked, when there are no passes, and in a search. */
    if (w->evaluate_input_model || !w->n_slots || searching)
        runtime_metrics(&w->evaluator, &any, &ranked_input, &own_library);
    /* The candidates by their last pass's evaluator, else the engine's. */
    for (size_t i = 0; i < w->n_slots; i++)
        for (size_t j = 0; j < w->slots[i].n_choices; j++)
            runtime_metrics(w->slots[i].choices[j].evaluator, &any, &ranked_candidates, &own_library);
    if (w->n_slots)
        runtime_metrics(&w->evaluator, &any, &ranked_candidates, &own_library);
    if (!any || own_library)
        return OLIVE_OK;
    if (!(missing = missing_text(provider)))
        return OLIVE_OK;
    if (searching || (n_candidates > 1 && ranked_candidates)) {
        int rc = olive_fail(OLIVE_EUNSUPPORTED,
                            "%s; this workflow chooses its result by metrics measured on %s (%s), so nothing was "
                            "run: use an ONNX Runtime build that has %s (OLIVE_ORT_LIBRARY names its library), "
                            "or target a provider this one has",
                            missing, provider,
                            searching ? "a search" : "ranked metrics over several candidate pipelines", provider);
        free(missing);
        return rc;
    }
    OLIVE_WARN("%s: the passes run and the model is written, but the metrics that need a session on %s are not "
               "measured (the results record them with no value, \"measured\": false and this reason)",
               missing, provider);
    w->unmeasured = missing;
    return OLIVE_OK;
}
