#include "workflow/search/search.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "workflow/search/sampler.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ws_result_clear(ws_result *res)
{
    for (size_t i = 0; i < res->n; i++) {
        free(res->cands[i].idx);
        json_decref(res->cands[i].results);
        free(res->cands[i].values);
        free(res->cands[i].error);
    }
    free(res->cands);
    memset(res, 0, sizeof *res);
}

/* Best and frontier among the candidates that met their goals and ran every pass. */
int ws_search_finish(ws_result *res, const ws_objectives *o)
{
    size_t n = o->n_ranked ? o->n_ranked : 0;
    double *scores = olive_calloc(res->n * (n ? n : 1) + 1, sizeof *scores);
    unsigned char *valid = olive_calloc(res->n + 1, 1), *front = olive_calloc(res->n + 1, 1);
    int rc = OLIVE_OK;
    if (!scores || !valid || !front) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < res->n; i++) {
        valid[i] = res->cands[i].state == WS_CAND_OK && res->cands[i].depth == WS_EVERY_LEVEL;
        if (valid[i] && n)
            ws_objectives_scores(&scores[i * n], o, res->cands[i].values);
    }
    res->best = ws_best(scores, valid, res->n, n);
    res->n_front = n ? ws_pareto_front(front, scores, valid, res->n, n) : (res->best != SIZE_MAX);
    for (size_t i = 0; i < res->n; i++)
        res->cands[i].on_front = n ? front[i] : i == res->best;
out:
    free(scores);
    free(valid);
    free(front);
    return rc;
}

int ws_search_record(ws_search_loop *l, ws_sampler *smp, const size_t *sub_idx, const size_t *idx, size_t depth)
{
    ws_result *r = l->res;
    const ws_objectives *o = l->o;
    ws_candidate *c;
    double *scores = NULL;
    int erc, rc = OLIVE_OK;
    if (r->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        ws_candidate *grown = olive_reallocarray(r->cands, cap, sizeof *grown);
        if (!grown)
            return OLIVE_ENOMEM;
        memset(grown + l->cap, 0, (cap - l->cap) * sizeof *grown);
        r->cands = grown;
        l->cap = cap;
    }
    c = &r->cands[r->n];
    if (!(c->idx = olive_calloc(l->space->n + 1, sizeof *c->idx)))
        return OLIVE_ENOMEM;
    memcpy(c->idx, idx, l->space->n * sizeof *idx);
    c->depth = depth;
    erc = l->fn(&c->results, idx, depth, r->n, l->user);
    if (erc == OLIVE_ECANCELLED) {
        free(c->idx);
        json_decref(c->results);
        memset(c, 0, sizeof *c);
        r->cancelled = 1;
        l->stop = 1;
        return OLIVE_OK;
    }
    r->n++;
    if (erc == OLIVE_ENOMEM)
        return erc;
    if (erc == OLIVE_OK && !(c->values = olive_calloc(o->n + 1, sizeof *c->values)))
        return OLIVE_ENOMEM;
    /* An objective no evaluator computes is a config error, not a failed candidate. */
    if (erc == OLIVE_OK && (rc = ws_objectives_values(c->values, o, c->results)) != OLIVE_OK)
        return rc;
    if (erc != OLIVE_OK) {
        c->state = WS_CAND_FAILED;
        c->error = olive_strdup(olive_error_last());
        free(c->values);
        c->values = NULL;
        rc = ws_sampler_tell(smp, sub_idx, NULL, o->n_ranked, WS_TRIAL_FAILED);
    } else if (!ws_goals_met(o, c->values, l->baseline)) {
        c->state = WS_CAND_PRUNED;
        rc = ws_sampler_tell(smp, sub_idx, NULL, 0, WS_TRIAL_PRUNED);
    } else {
        if (!(scores = olive_calloc(o->n_ranked + 1, sizeof *scores)))
            return OLIVE_ENOMEM;
        ws_objectives_scores(scores, o, c->values);
        rc = ws_sampler_tell(smp, sub_idx, scores, o->n_ranked, WS_TRIAL_COMPLETE);
        free(scores);
        if (l->st->stop_when_goals_met && depth == WS_EVERY_LEVEL && o->n) {
            int any_goal = 0;
            for (size_t k = 0; k < o->n; k++)
                any_goal |= o->items[k].goal_type != NULL;
            if (any_goal) {
                OLIVE_INFO("search: candidate %zu meets every goal; stopping (stop_when_goals_met)", r->n - 1);
                l->stop = 1;
            }
        }
    }
    if (rc == OLIVE_OK && l->st->max_time > 0 && now_s() - l->t0 >= l->st->max_time) {
        OLIVE_INFO("search: max_time %g s reached after %zu candidates", l->st->max_time, r->n);
        l->stop = 1;
    }
    if (rc == OLIVE_OK && l->st->max_iter && r->n >= l->st->max_iter)
        l->stop = 1;
    return rc;
}

void ws_search_loop_init(ws_search_loop *l, ws_result *res, const ws_space *space, const ws_strategy *st,
                         const ws_objectives *o, const double *baseline, ws_evaluate_fn fn, void *user)
{
    *l = (ws_search_loop){res, 0, space, st, o, baseline, fn, user, now_s(), 0};
}

int ws_search_run(ws_result *res, const ws_space *space, const ws_strategy *st, const ws_objectives *o,
                  const double *baseline, ws_evaluate_fn fn, void *user)
{
    ws_sampler *smp = NULL;
    ws_result r = {0};
    ws_search_loop l;
    size_t cap, *idx = NULL;
    int rc;
    if ((rc = ws_sampler_new(&smp, st->sampler, space, st->seed)) != OLIVE_OK)
        return rc;
    cap = ws_space_count(space);
    if (st->max_samples && st->max_samples < cap)
        cap = st->max_samples;
    ws_search_loop_init(&l, &r, space, st, o, baseline, fn, user);
    if (!(idx = olive_calloc(space->n + 1, sizeof *idx))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    while (!l.stop && r.n < cap && ws_sampler_next(smp, idx))
        if ((rc = ws_search_record(&l, smp, idx, idx, WS_EVERY_LEVEL)) != OLIVE_OK)
            goto out;
    rc = ws_search_finish(&r, o);
out:
    free(idx);
    ws_sampler_free(smp);
    if (rc != OLIVE_OK) {
        ws_result_clear(&r);
        return rc;
    }
    *res = r;
    return OLIVE_OK;
}
