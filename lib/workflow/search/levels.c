/* Olive's pass-by-pass search walk (SearchStrategy with execution_order "pass-by-pass"): one
 * space per level, searched in turn from the best model of the level above. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "workflow/search/sampler.h"
#include "workflow/search/search.h"

typedef struct level {
    ws_space space;  /* this level's parameters */
    size_t *members; /* their indices in the full space */
    ws_sampler *smp; /* searching this level from the current model above */
    size_t *results; /* candidates (indices in res) of the current search of this level */
    size_t n_results;
    size_t *sorted; /* results, best first (Olive's SearchResults.sort) */
    size_t n_sorted;
    size_t next; /* position in sorted of the next best to step down with */
    size_t from; /* the candidate above this level's search started from, SIZE_MAX at level 0 */
} level;

static void level_reset(level *lv)
{
    ws_sampler_free(lv->smp);
    lv->smp = NULL;
    free(lv->results);
    free(lv->sorted);
    lv->results = lv->sorted = NULL;
    lv->n_results = lv->n_sorted = lv->next = 0;
}

/* Olive sorts a level's results by the objectives in priority order (stable: evaluation order
 * breaks ties), keeping those that meet the goals, or all that have metrics when none does. */
static int sort_results(level *lv, const ws_result *res, const ws_objectives *o)
{
    size_t n = o->n_ranked;
    free(lv->sorted);
    lv->n_sorted = 0;
    if (!(lv->sorted = olive_calloc(lv->n_results + 1, sizeof *lv->sorted)))
        return OLIVE_ENOMEM;
    for (int apply_goals = 1; apply_goals >= 0 && !lv->n_sorted; apply_goals--) {
        if (!apply_goals)
            OLIVE_WARN("search: no candidate of this level met the goals; going on with the best of them regardless");
        for (size_t i = 0; i < lv->n_results; i++) {
            const ws_candidate *c = &res->cands[lv->results[i]];
            if (c->values && (c->state == WS_CAND_OK || !apply_goals))
                lv->sorted[lv->n_sorted++] = lv->results[i];
        }
    }
    double *a = olive_calloc(n + 1, sizeof *a), *b = olive_calloc(n + 1, sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return OLIVE_ENOMEM;
    }
    /* insertion sort: stable, and levels are small */
    for (size_t i = 1; i < lv->n_sorted; i++) {
        size_t x = lv->sorted[i], j = i;
        ws_objectives_scores(a, o, res->cands[x].values);
        for (; j > 0; j--) {
            size_t k;
            ws_objectives_scores(b, o, res->cands[lv->sorted[j - 1]].values);
            for (k = 0; k < n && a[k] == b[k]; k++)
                ;
            if (k == n || a[k] >= b[k])
                break;
            lv->sorted[j] = lv->sorted[j - 1];
        }
        lv->sorted[j] = x;
    }
    free(a);
    free(b);
    return OLIVE_OK;
}

/* Starts searching level `k` from candidate `from` of level k - 1 (SIZE_MAX at level 0). */
static int enter(level *lv, size_t from, const ws_strategy *st)
{
    level_reset(lv);
    lv->from = from;
    return ws_sampler_new(&lv->smp, st->sampler, &lv->space, st->seed);
}

/* Searches the current level until its sampler or a limit stops. */
static int search_level(ws_search_loop *l, level *lv, size_t k, size_t n_levels, size_t *full, size_t *sub)
{
    size_t depth = k + 1 == n_levels ? WS_EVERY_LEVEL : k, count = ws_space_count(&lv->space), done = 0;
    if (l->st->max_samples && l->st->max_samples < count)
        count = l->st->max_samples;
    if (lv->from == SIZE_MAX)
        memset(full, 0, l->space->n * sizeof *full);
    else
        memcpy(full, l->res->cands[lv->from].idx, l->space->n * sizeof *full);
    while (!l->stop && done < count && ws_sampler_next(lv->smp, sub)) {
        size_t *grown = olive_reallocarray(lv->results, lv->n_results + 1, sizeof *grown);
        if (!grown)
            return OLIVE_ENOMEM;
        lv->results = grown;
        for (size_t m = 0; m < lv->space.n; m++)
            full[lv->members[m]] = sub[m];
        lv->results[lv->n_results++] = l->res->n;
        OLIVE_TRY(ws_search_record(l, lv->smp, sub, full, depth));
        if (l->res->n < lv->results[lv->n_results - 1] + 1) /* cancelled: nothing recorded */
            lv->n_results--;
        done++;
    }
    return OLIVE_OK;
}

static int walk(ws_search_loop *l, level *levels, size_t n_levels, size_t *full, size_t *sub)
{
    size_t k = 0;
    OLIVE_TRY(enter(&levels[0], SIZE_MAX, l->st));
    for (;;) {
        OLIVE_TRY(search_level(l, &levels[k], k, n_levels, full, sub));
        if (l->stop)
            return OLIVE_OK;
        /* Step down with this level's best; at the last level (or with nothing to step down
         * with), step up once and take the level above's next best. */
        if (k + 1 < n_levels) {
            OLIVE_TRY(sort_results(&levels[k], l->res, l->o));
            levels[k].next = 0;
            if (levels[k].n_sorted) {
                OLIVE_INFO("search: level %zu from candidate %zu", k + 1, levels[k].sorted[0]);
                OLIVE_TRY(enter(&levels[k + 1], levels[k].sorted[levels[k].next++], l->st));
                k++;
                continue;
            }
        }
        if (k == 0)
            return OLIVE_OK;
        k--;
        if (levels[k].next >= levels[k].n_sorted)
            return OLIVE_OK;
        OLIVE_INFO("search: level %zu again, from candidate %zu", k + 1, levels[k].sorted[levels[k].next]);
        OLIVE_TRY(enter(&levels[k + 1], levels[k].sorted[levels[k].next++], l->st));
        k++;
    }
}

int ws_search_run_levels(ws_result *res, const ws_space *space, const size_t *level_of, size_t n_levels,
                         const ws_strategy *st, const ws_objectives *o, const double *baseline, ws_evaluate_fn fn,
                         void *user)
{
    ws_result r = {0};
    ws_search_loop l;
    level *levels = olive_calloc(n_levels + 1, sizeof *levels);
    unsigned char *keep = olive_calloc(space->n + 1, 1);
    size_t *full = olive_calloc(space->n + 1, sizeof *full), *sub = olive_calloc(space->n + 1, sizeof *sub);
    int rc = OLIVE_OK;
    if (!levels || !keep || !full || !sub) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < n_levels && rc == OLIVE_OK; k++) {
        level *lv = &levels[k];
        for (size_t p = 0; p < space->n; p++)
            keep[p] = level_of[p] == k;
        if ((rc = ws_space_subset(&lv->space, space, keep)) != OLIVE_OK)
            break;
        if ((rc = ws_space_check(&lv->space, "search space")) != OLIVE_OK)
            break;
        if (!(lv->members = olive_calloc(space->n + 1, sizeof *lv->members))) {
            rc = OLIVE_ENOMEM;
            break;
        }
        for (size_t p = 0, m = 0; p < space->n; p++)
            if (keep[p])
                lv->members[m++] = p;
    }
    if (rc != OLIVE_OK)
        goto out;
    ws_search_loop_init(&l, &r, space, st, o, baseline, fn, user);
    if ((rc = walk(&l, levels, n_levels, full, sub)) == OLIVE_OK)
        rc = ws_search_finish(&r, o);
out:
    for (size_t k = 0; levels && k < n_levels; k++) {
        level_reset(&levels[k]);
        ws_space_clear(&levels[k].space);
        free(levels[k].members);
    }
    free(levels);
    free(keep);
    free(full);
    free(sub);
    if (rc != OLIVE_OK) {
        ws_result_clear(&r);
        return rc;
    }
    *res = r;
    return OLIVE_OK;
}
