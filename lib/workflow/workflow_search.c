/* A workflow's search: the space made of its slots' alternatives and searched parameters, each
 * point run pass by pass through the cache and evaluated (or its evaluation served from the
 * evaluation cache), then the best candidate and the Pareto frontier. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/status.h"
#include "passes/instance.h"
#include "passes/registry.h"
#include "workflow/executor/command.h"
#include "workflow/executor/dispatch.h"
#include "workflow/run.h"
#include "workflow/search/sampler.h"
#include "workflow/search/search.h"

/* What a space parameter sets: the choice of a slot (param == NULL) or a parameter of one of
 * its passes. */
typedef struct binding {
    size_t slot, choice;
    const char *param; /* borrowed from the choice's search object */
} binding;

typedef struct search_run {
    run_ctx *r;
    const oir_model *input;
    const char *input_id;
    const json_t *baseline;
    const ws_objectives *o;
    const double *base_values;
    ws_space space;
    binding *bind;
    size_t n_expected;
    /* per evaluated candidate, in order */
    char (*last_id)[OLIVE_SHA256_HEX];
    char (*parent_id)[OLIVE_SHA256_HEX];
    size_t *last_step; /* index into r->steps, SIZE_MAX when no step ran */
    size_t cap;        /* entries allocated in last_id, parent_id, last_step */
    size_t evaluated, served;
    /* executors other than in-process: candidates are built in worker processes or Slurm
     * tasks first, then found in the cache */
    int offload;
    char *cli;                         /* the olive command the workers run (owned) */
    char **failed_point, **failed_why; /* candidates whose task still failed after its retries */
    size_t n_failed, batches;
} search_run;

int wf_is_search(const olive_workflow *w)
{
    if (w->search.enabled)
        return 1;
    for (size_t i = 0; i < w->n_slots; i++)
        for (size_t j = 0; j < w->slots[i].n_choices; j++)
            if (w->slots[i].choices[j].search)
                return 1;
    return 0;
}

void wf_search_outcome_clear(wf_search_outcome *o)
{
    oir_model_free(o->best);
    json_decref(o->best_results);
    json_decref(o->candidates);
    json_decref(o->frontier);
    free(o->chart);
    free(o->x_label);
    free(o->y_label);
    free(o->front_ids);
    memset(o, 0, sizeof *o);
}

static int add_binding(search_run *s, size_t slot, size_t choice, const char *param)
{
    binding *grown = olive_reallocarray(s->bind, s->space.n, sizeof *grown);
    if (!grown)
        return OLIVE_ENOMEM;
    s->bind = grown;
    s->bind[s->space.n - 1] = (binding){slot, choice, param};
    return OLIVE_OK;
}

/* "a|b|c" as a categorical parameter. */
static int add_default_space(ws_space *sp, const char *name, const char *bars)
{
    char *copy = olive_strdup(bars), *vals[64];
    size_t n = 0;
    int rc;
    if (!copy)
        return OLIVE_ENOMEM;
    for (char *t = strtok(copy, "|"); t && n < 64; t = strtok(NULL, "|"))
        vals[n++] = t;
    rc = ws_space_add_categorical(sp, name, (const char *const *)vals, n);
    free(copy);
    return rc;
}

static int build_space(search_run *s, const olive_workflow *w)
{
    for (size_t i = 0; i < w->n_slots; i++) {
        const wf_slot *slot = &w->slots[i];
        if (slot->n_choices > 1) {
            char **vals = olive_calloc(slot->n_choices, sizeof *vals);
            int rc = vals ? OLIVE_OK : OLIVE_ENOMEM;
            for (size_t j = 0; j < slot->n_choices && rc == OLIVE_OK; j++)
                if (!(vals[j] = olive_asprintf("%zu:%s", j, slot->choices[j].olive_type)))
                    rc = OLIVE_ENOMEM;
            if (rc == OLIVE_OK)
                rc = ws_space_add_categorical(&s->space, slot->name, (const char *const *)vals, slot->n_choices);
            for (size_t j = 0; vals && j < slot->n_choices; j++)
                free(vals[j]);
            free(vals);
            OLIVE_TRY(rc);
            OLIVE_TRY(add_binding(s, i, SIZE_MAX, NULL));
        }
        for (size_t j = 0; j < slot->n_choices; j++) {
            const char *key;
            json_t *v;
            json_object_foreach(slot->choices[j].search, key, v)
            {
                char prefix[300], name[400], where[400];
                int rc;
                if (slot->n_choices > 1)
                    snprintf(prefix, sizeof prefix, "%s[%zu].", slot->name, j);
                else
                    snprintf(prefix, sizeof prefix, "%s.", slot->name);
                snprintf(name, sizeof name, "%s%s", prefix, key);
                snprintf(where, sizeof where, "passes.%s.%s", slot->name, key);
                if (json_is_string(v)) { /* SEARCHABLE_VALUES */
                    char *bars = NULL;
                    const olive_param_spec *spec = olive_param_find(slot->choices[j].pass->def, key);
                    rc = spec ? wf_default_search_values(&bars, spec)
                              : olive_fail(OLIVE_EINVALID, "%s: unknown", where);
                    if (rc == OLIVE_OK)
                        rc = add_default_space(&s->space, name, bars);
                    free(bars);
                } else {
                    rc = ws_space_add_json(&s->space, name, v, prefix, where);
                }
                OLIVE_TRY(rc);
                OLIVE_TRY(add_binding(s, i, j, key));
            }
        }
    }
    return OLIVE_OK;
}

/* The evaluation cache key: the candidate's model (its step id, which hashes the input's bytes
 * and every pass with its parameters), the evaluator config and the accelerator. */
static void eval_key(char out[OLIVE_SHA256_HEX], const olive_workflow *w, const char *model_id)
{
    olive_sha256 h;
    char *ev = json_dumps(json_object_get(w->config, "evaluators"), JSON_COMPACT | JSON_SORT_KEYS);
    char *ev1 = json_dumps(json_object_get(w->config, "evaluator"), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *dc = json_dumps(json_object_get(w->config, "data_configs"), JSON_COMPACT | JSON_SORT_KEYS);
    char *eng = json_dumps(json_object_get(json_object_get(w->config, "engine"), "evaluator"),
                           JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    const char *parts[] = {"libolive-eval 1\n",
                           model_id,
                           "\n",
                           ev ? ev : "",
                           "\n",
                           ev1 ? ev1 : "",
                           "\n",
                           dc ? dc : "",
                           "\n",
                           eng ? eng : "",
                           "\n",
                           olive_accelerator_device(w->acc),
                           " ",
                           olive_accelerator_provider(w->acc)};
    olive_sha256_init(&h);
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        olive_sha256_update(&h, parts[i], strlen(parts[i]));
    olive_sha256_final_hex(&h, out);
    free(ev);
    free(ev1);
    free(dc);
    free(eng);
}

/* The evaluator of a candidate built by the first `n_run` slots: the last one's own, else the
 * engine's. */
static const wf_evaluator *evaluator_of(const olive_workflow *w, const size_t *choice, size_t n_run)
{
    if (n_run && w->slots[n_run - 1].choices[choice[n_run - 1]].evaluator)
        return w->slots[n_run - 1].choices[choice[n_run - 1]].evaluator;
    return &w->evaluator;
}

/* How many slots a candidate of `depth` ran. */
static size_t slots_run(const olive_workflow *w, size_t depth)
{
    return depth == WS_EVERY_LEVEL ? w->n_slots : depth + 1;
}

/* "name=value ..." over the parameters of the first `n_run` slots. */
static char *describe(const search_run *s, const size_t *idx, size_t n_run)
{
    olive_strbuf b = {0};
    olive_strbuf_append(&b, "");
    for (size_t p = 0; p < s->space.n; p++) {
        const char *v;
        if (s->bind[p].slot >= n_run || !strcmp(v = ws_space_value(&s->space, p, idx), WS_IGNORED))
            continue;
        olive_strbuf_printf(&b, "%s%s=%s", b.len ? " " : "", s->space.params[p].name, v);
    }
    if (n_run < s->r->w->n_slots)
        olive_strbuf_printf(&b, "%s(up to %s)", b.len ? " " : "", s->r->w->slots[n_run - 1].name);
    return olive_strbuf_take(&b);
}

/* Room for candidate `index` in the per-candidate arrays. */
static int reserve(search_run *s, size_t index)
{
    size_t cap = s->cap ? s->cap : 16;
    if (index < s->cap)
        return OLIVE_OK;
    while (cap <= index)
        cap *= 2;
    char(*last)[OLIVE_SHA256_HEX] = olive_reallocarray(s->last_id, cap, sizeof *last);
    if (!last)
        return OLIVE_ENOMEM;
    s->last_id = last;
    char(*parent)[OLIVE_SHA256_HEX] = olive_reallocarray(s->parent_id, cap, sizeof *parent);
    if (!parent)
        return OLIVE_ENOMEM;
    s->parent_id = parent;
    size_t *step = olive_reallocarray(s->last_step, cap, sizeof *step);
    if (!step)
        return OLIVE_ENOMEM;
    s->last_step = step;
    s->cap = cap;
    return OLIVE_OK;
}

static int configure(search_run *s, const size_t *idx, size_t *choice, olive_pass **passes)
{
    const olive_workflow *w = s->r->w;
    for (size_t i = 0; i < w->n_slots; i++)
        choice[i] = 0;
    for (size_t p = 0; p < s->space.n; p++)
        if (!s->bind[p].param)
            choice[s->bind[p].slot] = idx[p];
    for (size_t i = 0; i < w->n_slots; i++)
        OLIVE_TRY(olive_pass_instance_clone(&passes[i], w->slots[i].choices[choice[i]].pass));
    for (size_t p = 0; p < s->space.n; p++) {
        const binding *b = &s->bind[p];
        const char *v = ws_space_value(&s->space, p, idx);
        if (!b->param || b->choice != choice[b->slot] || !strcmp(v, WS_IGNORED))
            continue;
        int rc = olive_pass_set(passes[b->slot], b->param, v);
        if (rc != OLIVE_OK)
            return olive_fail_context(rc, "passes.%s.%s", w->slots[b->slot].name, b->param);
    }
    return OLIVE_OK;
}

/* ---- executors: candidates built and evaluated elsewhere, then found in the cache ---- */

/* The evaluation key of a point, computed from its step ids without running anything (passes
 * configured for the point). Errors: those of wf_step_id. */
static int evaluation_key_of(search_run *s, olive_pass **passes, char key[OLIVE_SHA256_HEX])
{
    char parent[OLIVE_SHA256_HEX], next[OLIVE_SHA256_HEX];
    snprintf(parent, sizeof parent, "%s", s->input_id);
    for (size_t i = 0; i < s->r->w->n_slots; i++) {
        int rc = wf_step_id(next, s->r, passes[i], parent);
        if (rc != OLIVE_OK)
            return rc;
        memcpy(parent, next, sizeof parent);
    }
    eval_key(key, s->r->w, parent);
    return OLIVE_OK;
}

/* 1 when the cache holds a verified evaluation under `key`. */
static int evaluation_cached(search_run *s, const char *key)
{
    json_t *doc = NULL;
    int ok = wf_cache_eval_load(&s->r->cache, key, &doc) == OLIVE_OK && json_is_object(doc);
    json_decref(doc);
    return ok;
}

static int configure(search_run *s, const size_t *idx, size_t *choice, olive_pass **passes);

/* Sends the points not yet evaluated in the cache to the executor; records the candidates
 * whose task still failed. */
static int dispatch_points(search_run *s, size_t *const *points, const size_t *cand, size_t n)
{
    olive_workflow *w = s->r->w;
    wf_job *jobs = olive_calloc(n + 1, sizeof *jobs);
    size_t k = 0, cached = 0;
    char key[OLIVE_SHA256_HEX];
    int rc = jobs ? OLIVE_OK : OLIVE_ENOMEM;
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        size_t *choice = olive_calloc(w->n_slots + 1, sizeof *choice);
        olive_pass **passes = olive_calloc(w->n_slots + 1, sizeof *passes);
        char *desc = ws_space_describe(&s->space, points[i]);
        if (!choice || !passes || !desc)
            rc = OLIVE_ENOMEM;
        else if ((rc = configure(s, points[i], choice, passes)) == OLIVE_OK)
            rc = evaluation_key_of(s, passes, key);
        if (rc == OLIVE_OK && evaluation_cached(s, key)) {
            cached++;
        } else if (rc == OLIVE_OK) {
            jobs[k] = (wf_job){points[i], s->space.n, desc, cand[i], {0}, NULL};
            memcpy(jobs[k].eval_key, key, sizeof key);
            k++;
            desc = NULL;
        } else if (rc != OLIVE_ENOMEM) {
            rc = OLIVE_OK; /* a point that cannot be configured fails in the search loop, as locally */
            olive_error_clear();
        }
        for (size_t j = 0; passes && j < w->n_slots; j++)
            olive_pass_unref(passes[j]);
        free(passes);
        free(choice);
        free(desc);
    }
    if (rc == OLIVE_OK && cached && n > 1)
        OLIVE_INFO("executor %s: %zu candidate%s already evaluated in the cache: not submitted",
                   wf_executor_type_name(w->executor.type), cached, cached == 1 ? "" : "s");
    if (rc == OLIVE_OK && !k && n > 1)
        OLIVE_INFO("executor %s: nothing to submit", wf_executor_type_name(w->executor.type));
    if (rc == OLIVE_OK && k) {
        s->batches++;
        rc = wf_dispatch(w, &s->r->cache, s->cli, jobs, k);
    }
    for (size_t i = 0; i < k; i++) {
        if (jobs[i].error && rc == OLIVE_OK) {
            char **p = olive_reallocarray(s->failed_point, s->n_failed + 1, sizeof *p),
                 **q = p ? olive_reallocarray(s->failed_why, s->n_failed + 1, sizeof *q) : NULL;
            if (p)
                s->failed_point = p;
            if (q)
                s->failed_why = q;
            if (!p || !q) {
                rc = OLIVE_ENOMEM;
            } else {
                s->failed_point[s->n_failed] = (char *)jobs[i].point_text;
                s->failed_why[s->n_failed++] = jobs[i].error;
                jobs[i].point_text = NULL;
                jobs[i].error = NULL;
            }
        }
        free((char *)jobs[i].point_text);
        free(jobs[i].error);
    }
    free(jobs);
    return rc;
}

/* The model a failed task's failing step started from, as a local run records it: the last
 * step of the candidate's chain that is in the cache (entries are published whole). */
static void failed_parent(search_run *s, size_t index, olive_pass **passes)
{
    char parent[OLIVE_SHA256_HEX], next[OLIVE_SHA256_HEX];
    snprintf(parent, sizeof parent, "%s", s->input_id);
    for (size_t i = 0; i < s->r->w->n_slots; i++) {
        char *entry;
        int there;
        if (wf_step_id(next, s->r, passes[i], parent) != OLIVE_OK || !(entry = wf_cache_entry_dir(&s->r->cache, next)))
            break;
        there = access(entry, F_OK) == 0;
        free(entry);
        if (!there)
            break;
        memcpy(parent, next, sizeof parent);
    }
    snprintf(s->parent_id[index], OLIVE_SHA256_HEX, "%s", parent);
}

/* In the search loop, before the candidate is walked through the cache: a candidate whose task
 * failed is reported failed without running it here; one not yet sent (tpe after its random
 * start) is sent now, alone. */
static int offloaded(search_run *s, const size_t *idx, size_t index, const char *desc, olive_pass **passes)
{
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < s->n_failed; i++)
            if (!strcmp(s->failed_point[i], desc)) {
                failed_parent(s, index, passes);
                return olive_fail(OLIVE_EIO, "%s", s->failed_why[i]);
            }
        if (round)
            break;
        size_t *pt = (size_t *)idx;
        OLIVE_TRY(dispatch_points(s, &pt, &index, 1));
    }
    return OLIVE_OK;
}

/* Chooses in-process or offloaded runs and sends the points the sampler proposes whatever the
 * results (sequential, random: all; tpe: its random start) in one batch. */
static int offload_plan(search_run *s, const ws_strategy *st)
{
    olive_workflow *w = s->r->w;
    const wf_executor *e = &w->executor;
    ws_sampler *smp = NULL;
    size_t cap = ws_space_count(&s->space), n = 0, **points = NULL, *cand = NULL;
    int rc;
    if (e->type == WF_EXEC_LOCAL && e->max_parallel <= 1)
        return OLIVE_OK;
    if (st->pass_by_pass) {
        OLIVE_INFO("executor %s: a pass-by-pass search chooses each level's points from the level before, so its "
                   "candidates run one at a time in this process",
                   wf_executor_type_name(e->type));
        return OLIVE_OK;
    }
    if (e->type == WF_EXEC_LOCAL && wf_evaluator_measures_time(w)) {
        OLIVE_INFO("executor local: the evaluator or a pass measures latency or throughput, so candidates run one at a "
                   "time in "
                   "this process (max_parallel %zu is not used: two measurements at once would disturb each other)",
                   e->max_parallel);
        return OLIVE_OK;
    }
    OLIVE_TRY(wf_command_olive(&s->cli));
    s->offload = 1;
    if (st->max_samples && st->max_samples < cap)
        cap = st->max_samples;
    if (st->max_iter && st->max_iter < cap)
        cap = st->max_iter;
    if (st->sampler == WS_TPE && cap > WS_TPE_STARTUP) {
        OLIVE_INFO("executor %s: the tpe sampler chooses each point after its first %d from the results so far: "
                   "those go out together, the later ones one at a time",
                   wf_executor_type_name(e->type), WS_TPE_STARTUP);
        cap = WS_TPE_STARTUP;
    }
    if ((rc = ws_sampler_new(&smp, st->sampler, &s->space, st->seed)) != OLIVE_OK)
        return rc;
    if (!(points = olive_calloc(cap + 1, sizeof *points)) || !(cand = olive_calloc(cap + 1, sizeof *cand))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    for (; n < cap; n++) {
        if (!(points[n] = olive_calloc(s->space.n + 1, sizeof **points))) {
            rc = OLIVE_ENOMEM;
            goto out;
        }
        if (!ws_sampler_next(smp, points[n]))
            break;
        cand[n] = n;
    }
    rc = dispatch_points(s, points, cand, n);
out:
    for (size_t i = 0; points && i <= n && i <= cap; i++)
        free(points[i]);
    free(points);
    free(cand);
    ws_sampler_free(smp);
    return rc;
}

static int evaluate_point(json_t **results, const size_t *idx, size_t depth, size_t index, void *user)
{
    search_run *s = user;
    run_ctx *r = s->r;
    olive_workflow *w = r->w;
    size_t n_run = slots_run(w, depth);
    size_t *choice = olive_calloc(w->n_slots + 1, sizeof *choice);
    olive_pass **passes = olive_calloc(w->n_slots + 1, sizeof *passes);
    oir_model *cur = NULL;
    char parent[OLIVE_SHA256_HEX], key[OLIVE_SHA256_HEX], *desc = describe(s, idx, n_run);
    const wf_evaluator *ev;
    json_t *res = NULL;
    int rc = OLIVE_OK, cached = 0;
    if (reserve(s, index) != OLIVE_OK) {
        free(choice);
        free(passes);
        free(desc);
        return OLIVE_ENOMEM;
    }
    snprintf(parent, sizeof parent, "%s", s->input_id);
    s->last_step[index] = SIZE_MAX;
    snprintf(s->parent_id[index], OLIVE_SHA256_HEX, "%s", s->input_id);
    if (!choice || !passes || !desc) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    OLIVE_DEBUG("candidate %zu: %s", index, desc);
    if ((rc = configure(s, idx, choice, passes)) != OLIVE_OK)
        goto out;
    /* A pass-by-pass walk runs in this process (offload_plan): only full candidates go out. */
    if (s->offload && depth == WS_EVERY_LEVEL && (rc = offloaded(s, idx, index, desc, passes)) != OLIVE_OK)
        goto out;
    for (size_t i = 0; i < n_run; i++) {
        const wf_choice *orig = &w->slots[i].choices[choice[i]];
        wf_choice ch = {orig->olive_type, passes[i], orig->evaluator, NULL};
        oir_model *next = NULL;
        if (atomic_load(&w->cancelled)) {
            rc = olive_fail(OLIVE_ECANCELLED, "cancelled");
            goto out;
        }
        snprintf(s->parent_id[index], OLIVE_SHA256_HEX, "%s", parent);
        rc = wf_run_step(r, &w->slots[i], &ch, parent, cur ? cur : s->input, &next);
        oir_model_free(cur);
        cur = next;
        if (rc != OLIVE_OK)
            goto out;
        snprintf(parent, sizeof parent, "%s", r->steps[r->n_steps - 1].id);
    }
    snprintf(s->last_id[index], OLIVE_SHA256_HEX, "%s", parent);
    s->last_step[index] = n_run ? r->n_steps - 1 : SIZE_MAX;
    ev = evaluator_of(w, choice, n_run);
    eval_key(key, w, parent);
    if ((rc = wf_cache_eval_load(&r->cache, key, &res)) != OLIVE_OK)
        goto out;
    if (res) {
        cached = 1;
        s->served++;
        OLIVE_INFO("candidate %zu: evaluation cache hit %.16s: not evaluated again", index, key);
    } else {
        json_decref(res);
        res = NULL;
        if ((rc = wf_run_evaluate(&res, w, ev, cur ? cur->path : s->input->path,
                                  s->last_step[index] != SIZE_MAX ? r->steps[s->last_step[index]].size_on_disk : 0,
                                  r->step_index, r->step_count, desc)) != OLIVE_OK)
            goto out;
        s->evaluated++;
        /* Stored atomically: an interrupted search keeps every finished evaluation. A record
         * that cannot be written costs a later run this evaluation, not this run. */
        if (wf_cache_eval_store(&r->cache, key, res) != OLIVE_OK)
            olive_error_clear();
    }
    if (s->last_step[index] != SIZE_MAX &&
        !(r->steps[s->last_step[index]].metrics = wf_footprint_metrics(res, ev, s->baseline))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    if (s->o) {
        /* The progress line: index, the point, each objective and whether it is pruned. */
        olive_strbuf b = {0};
        double *v = olive_calloc(s->o->n + 1, sizeof *v);
        int have = v && ws_objectives_values(v, s->o, res) == OLIVE_OK;
        olive_error_clear();
        olive_strbuf_printf(&b, "candidate %zu/%zu: %s:", index, s->n_expected > index ? s->n_expected : index + 1,
                            desc);
        for (size_t k = 0; have && k < s->o->n; k++)
            olive_strbuf_printf(&b, " %s=%.6g", s->o->items[k].key, v[k]);
        if (have && !ws_goals_met(s->o, v, s->base_values))
            olive_strbuf_append(&b, " (pruned: misses a goal)");
        if (cached)
            olive_strbuf_append(&b, " (cached)");
        char *line = olive_strbuf_take(&b);
        if (line)
            OLIVE_INFO("%s", line);
        free(line);
        free(v);
    }
    *results = res;
    res = NULL;
out:
    if (rc != OLIVE_OK && rc != OLIVE_ECANCELLED && rc != OLIVE_ENOMEM)
        OLIVE_WARN("candidate %zu failed: %s", index, olive_error_last());
    for (size_t i = 0; passes && i < w->n_slots; i++)
        olive_pass_unref(passes[i]);
    free(passes);
    free(choice);
    free(desc);
    json_decref(res);
    oir_model_free(cur);
    return rc;
}

static json_t *objective_dict(const ws_objectives *o)
{
    json_t *d = json_object();
    for (size_t k = 0; d && k < o->n; k++) {
        json_t *it = json_pack("{s:b, s:i}", "higher_is_better", o->items[k].higher_is_better, "priority",
                               o->items[k].priority);
        if (o->items[k].goal_type)
            json_object_set_new(
                it, "goal", json_pack("{s:s, s:f}", "type", o->items[k].goal_type, "value", o->items[k].goal_value));
        json_object_set_new(d, o->items[k].key, it);
    }
    return d;
}

static const char *state_name(ws_cand_state st)
{
    return st == WS_CAND_OK ? "ok" : st == WS_CAND_PRUNED ? "pruned" : "failed";
}

/* Chart points (x: the first objective, y: the second; with one objective, x is the candidate
 * index) and the frontier models in priority order. */
static int chart_and_front(wf_search_outcome *out, search_run *s, const ws_result *res)
{
    const ws_objectives *o = s->o;
    int two = o->n_ranked >= 2;
    if (!(out->chart = olive_calloc(res->n + 1, sizeof *out->chart)) ||
        !(out->front_ids = olive_calloc(res->n + 1, sizeof *out->front_ids)) ||
        !(out->x_label = olive_asprintf("%s (%s is better)", two ? o->items[0].key : "candidate",
                                        two ? (o->items[0].higher_is_better ? "higher" : "lower") : "no order")) ||
        !(out->y_label = olive_asprintf("%s (%s is better)", o->items[two ? 1 : 0].key,
                                        o->items[two ? 1 : 0].higher_is_better ? "higher" : "lower")))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < res->n; i++) {
        const ws_candidate *c = &res->cands[i];
        if (!c->values)
            continue; /* failed: nothing to plot */
        out->chart[out->n_chart++] = (ws_chart_point){two ? c->values[0] : (double)i, c->values[two ? 1 : 0],
                                                      c->on_front, c->state == WS_CAND_PRUNED, i};
    }
    /* frontier, best first: repeatedly the best by priority order among those left */
    unsigned char *left = olive_calloc(res->n + 1, 1);
    double *scores = olive_calloc(res->n * (o->n_ranked + 1) + 1, sizeof *scores);
    if (!left || !scores) {
        free(left);
        free(scores);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < res->n; i++) {
        left[i] = res->cands[i].on_front && s->last_step[i] != SIZE_MAX;
        if (res->cands[i].values)
            ws_objectives_scores(&scores[i * o->n_ranked], o, res->cands[i].values);
    }
    for (size_t b; (b = ws_best(scores, left, res->n, o->n_ranked)) != SIZE_MAX; left[b] = 0)
        snprintf(out->front_ids[out->n_front++], OLIVE_SHA256_HEX, "%s", s->last_id[b]);
    free(left);
    free(scores);
    return OLIVE_OK;
}

static int outcome(wf_search_outcome *out, search_run *s, const ws_result *res)
{
    run_ctx *r = s->r;
    json_t *cands = json_array(), *nodes = json_object();
    olive_strbuf table = {0};
    olive_strbuf_printf(&table,
                        "search: %zu candidates (%zu evaluated, %zu from the evaluation cache), %zu on the "
                        "Pareto frontier\n  #  state   front  point",
                        res->n, s->evaluated, s->served, res->n_front);
    for (size_t k = 0; k < s->o->n; k++)
        olive_strbuf_printf(&table, "  %s", s->o->items[k].key);
    for (size_t i = 0; i < res->n; i++) {
        const ws_candidate *c = &res->cands[i];
        char *desc = describe(s, c->idx, slots_run(r->w, c->depth));
        json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:b}", "index", (json_int_t)i, "name", desc ? desc : "?", "point",
                              desc ? desc : "?", "state", state_name(c->state), "on_front", c->on_front);
        if (c->depth != WS_EVERY_LEVEL) /* pass-by-pass: a model of the first passes only */
            json_object_set_new(j, "passes_run", json_integer((json_int_t)slots_run(r->w, c->depth)));
        if (s->last_step[i] != SIZE_MAX)
            json_object_set_new(j, "model_id", json_string(s->last_id[i]));
        if (c->results)
            json_object_set(j, "metrics", c->results);
        if (c->error)
            json_object_set_new(j, "error", json_string(c->error));
        if (c->state == WS_CAND_FAILED) /* the model the failing step started from */
            json_object_set_new(j, "parent", json_string(s->parent_id[i]));
        json_array_append_new(cands, j);
        olive_strbuf_printf(&table, "\n  %-2zu %-7s %-6s %s", i, state_name(c->state), c->on_front ? "*" : "",
                            desc ? desc : "?");
        for (size_t k = 0; c->values && k < s->o->n; k++)
            olive_strbuf_printf(&table, "  %.6g", c->values[k]);
        if (c->on_front && s->last_step[i] != SIZE_MAX) {
            const wf_step *st = &r->steps[s->last_step[i]];
            json_t *node = json_pack("{s:s, s:s, s:s, s:s}", "model_id", s->last_id[i], "parent_model_id", st->parent,
                                     "from_pass", st->olive_type, "search_point", desc ? desc : "?");
            if (st->metrics)
                json_object_set(node, "metrics", st->metrics);
            json_object_set_new(nodes, s->last_id[i], node);
        }
        free(desc);
    }
    char *text = olive_strbuf_take(&table);
    if (text)
        OLIVE_INFO("%s", text);
    free(text);
    if (chart_and_front(out, s, res) != OLIVE_OK) {
        json_decref(cands);
        json_decref(nodes);
        return OLIVE_ENOMEM;
    }
    out->candidates = cands;
    out->frontier = json_pack("{s:o, s:o}", "nodes", nodes, "objective_dict", objective_dict(s->o));
    out->best_index = res->best;
    if (!out->candidates || !out->frontier)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    if (res->best == SIZE_MAX)
        return OLIVE_OK;
    out->best_results = json_incref(res->cands[res->best].results);
    if (s->last_step[res->best] == SIZE_MAX)
        return OLIVE_OK; /* no passes: the input is the result */
    snprintf(out->best_id, sizeof out->best_id, "%s", s->last_id[res->best]);
    {
        json_t *manifest = NULL;
        int rc = wf_cache_lookup(&r->cache, out->best_id, &out->best, &manifest);
        json_decref(manifest);
        if (rc == OLIVE_OK && !out->best)
            rc = olive_fail(OLIVE_ENOTFOUND, "the best candidate's model left the cache during the search");
        return rc;
    }
}

static int objectives_of(ws_objectives *o, const olive_workflow *w)
{
    OLIVE_TRY(ws_objectives_from_evaluator(o, &w->evaluator));
    if (!o->n)
        return olive_fail(OLIVE_EINVALID, "search_strategy: a search needs an evaluator whose metrics have a priority "
                                          "or a goal, to rank or prune the candidates");
    return OLIVE_OK;
}

static void search_run_clear_offload(search_run *s)
{
    for (size_t i = 0; i < s->n_failed; i++) {
        free(s->failed_point[i]);
        free(s->failed_why[i]);
    }
    free(s->failed_point);
    free(s->failed_why);
    free(s->cli);
}

int wf_search_check(const olive_workflow *w)
{
    search_run s;
    ws_objectives o = {0};
    int rc;
    if (!wf_is_search(w))
        return OLIVE_OK;
    memset(&s, 0, sizeof s);
    if ((rc = build_space(&s, w)) == OLIVE_OK && (rc = ws_space_check(&s.space, "passes")) == OLIVE_OK)
        rc = objectives_of(&o, w);
    ws_objectives_clear(&o);
    ws_space_clear(&s.space);
    free(s.bind);
    return rc;
}

/* The candidates of a pass-by-pass walk when none fails: each level but the last searched once,
 * the last searched again from every result of the level above it. */
static int expected_by_level(size_t *out, const ws_space *space, const size_t *level_of, size_t n_levels,
                             const ws_strategy *st)
{
    unsigned char *keep = olive_calloc(space->n + 1, 1);
    size_t total = 0, prev = 1;
    if (!keep)
        return OLIVE_ENOMEM;
    for (size_t k = 0; k < n_levels; k++) {
        ws_space sub = {0};
        size_t count;
        for (size_t p = 0; p < space->n; p++)
            keep[p] = level_of[p] == k;
        int rc = ws_space_subset(&sub, space, keep);
        if (rc != OLIVE_OK) {
            free(keep);
            return rc;
        }
        count = ws_space_count(&sub);
        ws_space_clear(&sub);
        if (st->max_samples && st->max_samples < count)
            count = st->max_samples;
        total += k + 1 == n_levels && k ? prev * count : count;
        prev = count;
    }
    free(keep);
    *out = total;
    return OLIVE_OK;
}

int wf_search_workflow(wf_search_outcome *out, run_ctx *r, const oir_model *input, const char *input_id,
                       const json_t *baseline)
{
    olive_workflow *w = r->w;
    search_run s;
    ws_objectives o = {0};
    ws_result res = {0};
    ws_strategy st = w->search;
    double *base = NULL;
    size_t n_points, *level_of = NULL;
    int rc;
    memset(&s, 0, sizeof s);
    memset(out, 0, sizeof *out);
    s.r = r;
    s.input = input;
    s.input_id = input_id;
    s.baseline = baseline;
    if (!st.enabled) { /* searched parameters without search_strategy: Olive's default */
        ws_strategy def = {.enabled = 1, .sampler = WS_TPE, .seed = 1};
        st = def;
    }
    if ((rc = build_space(&s, w)) != OLIVE_OK || (rc = ws_space_check(&s.space, "passes")) != OLIVE_OK)
        goto out;
    if ((rc = objectives_of(&o, w)) != OLIVE_OK)
        goto out;
    if ((rc = ws_objectives_check_goals(&o, baseline)) != OLIVE_OK)
        goto out;
    if (baseline) {
        if (!(base = olive_calloc(o.n + 1, sizeof *base))) {
            rc = OLIVE_ENOMEM;
            goto out;
        }
        if ((rc = ws_objectives_values(base, &o, baseline)) != OLIVE_OK)
            goto out;
    }
    s.o = &o;
    s.base_values = base;
    n_points = ws_space_count(&s.space);
    if (st.pass_by_pass) {
        if (!(level_of = olive_calloc(s.space.n + 1, sizeof *level_of))) {
            rc = OLIVE_ENOMEM;
            goto out;
        }
        for (size_t p = 0; p < s.space.n; p++)
            level_of[p] = s.bind[p].slot;
        if ((rc = expected_by_level(&s.n_expected, &s.space, level_of, w->n_slots, &st)) != OLIVE_OK)
            goto out;
    } else {
        s.n_expected = st.max_samples && st.max_samples < n_points ? st.max_samples : n_points;
    }
    r->step_count = s.n_expected * w->n_slots;
    if ((rc = reserve(&s, s.n_expected)) != OLIVE_OK)
        goto out;
    OLIVE_INFO("search: %zu points, sampler %s, %s, up to %zu candidates", n_points,
               st.sampler == WS_SEQUENTIAL ? "sequential"
               : st.sampler == WS_RANDOM   ? "random"
                                           : "tpe",
               st.pass_by_pass ? "pass by pass" : "joint", s.n_expected);
    if ((rc = offload_plan(&s, &st)) != OLIVE_OK)
        goto out;
    rc = st.pass_by_pass && w->n_slots
             ? ws_search_run_levels(&res, &s.space, level_of, w->n_slots, &st, &o, base, evaluate_point, &s)
             : ws_search_run(&res, &s.space, &st, &o, base, evaluate_point, &s);
    if (rc != OLIVE_OK)
        goto out;
    if ((rc = outcome(out, &s, &res)) != OLIVE_OK)
        goto out;
    if (res.cancelled) {
        rc = olive_fail(OLIVE_ECANCELLED, "search cancelled after %zu candidates (their results stay in the cache)",
                        res.n);
        goto out;
    }
    if (res.best == SIZE_MAX) {
        char *tab = baseline ? wf_metrics_table(baseline) : NULL;
        rc = olive_fail(OLIVE_EINVALID,
                        "search: every one of the %zu candidates was pruned by the goals or failed; "
                        "nothing was written. The input model's metrics:\n%s",
                        res.n, tab ? tab : "(not evaluated)");
        free(tab);
        goto out;
    }
out:
    if (rc != OLIVE_OK)
        wf_search_outcome_clear(out);
    ws_result_clear(&res);
    ws_objectives_clear(&o);
    ws_space_clear(&s.space);
    free(s.bind);
    free(s.last_id);
    free(s.parent_id);
    free(s.last_step);
    free(level_of);
    free(base);
    search_run_clear_offload(&s);
    return rc;
}


int wf_search_task(run_ctx *r, const oir_model *input, const char *input_id)
{
    const wf_executor *e = &r->w->executor;
    search_run s;
    json_t *res = NULL;
    size_t *idx = NULL;
    char *desc = NULL;
    int rc, found = 0;
    memset(&s, 0, sizeof s);
    s.r = r;
    s.input = input;
    s.input_id = input_id;
    if (!wf_is_search(r->w))
        return olive_fail(OLIVE_EINVALID, "engine.executor: type task runs one candidate of a search, and this "
                                          "workflow does not search");
    if ((rc = build_space(&s, r->w)) != OLIVE_OK || (rc = ws_space_check(&s.space, "passes")) != OLIVE_OK)
        goto out;
    if (e->n_point != s.space.n) {
        rc = olive_fail(OLIVE_EINVALID, "engine.executor.point: %zu indices for a space of %zu parameters", e->n_point,
                        s.space.n);
        goto out;
    }
    if (!(idx = olive_calloc(s.space.n + 1, sizeof *idx))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    /* Only a point of this space, checked by walking it: indices out of range never reach it. */
    for (int more = ws_space_first(&s.space, idx); more && !found; more = ws_space_next(&s.space, idx))
        found = !memcmp(idx, e->point, s.space.n * sizeof *idx);
    if (!found || !(desc = ws_space_describe(&s.space, e->point)) || strcmp(desc, e->point_text)) {
        rc = desc || !found ? olive_fail(OLIVE_EINVALID,
                                         "engine.executor.point: not the point '%s' of this workflow's search space; "
                                         "the job description belongs to another config",
                                         e->point_text)
                            : OLIVE_ENOMEM;
        goto out;
    }
    if (!(s.last_id = olive_calloc(e->candidate + 1, sizeof *s.last_id)) ||
        !(s.parent_id = olive_calloc(e->candidate + 1, sizeof *s.parent_id)) ||
        !(s.last_step = olive_calloc(e->candidate + 1, sizeof *s.last_step))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    OLIVE_INFO("task: candidate %zu: %s", e->candidate, desc);
    s.cap = e->candidate + 1;
    rc = evaluate_point(&res, e->point, WS_EVERY_LEVEL, e->candidate, &s);
out:
    json_decref(res);
    free(idx);
    free(desc);
    ws_space_clear(&s.space);
    free(s.bind);
    free(s.last_id);
    free(s.parent_id);
    free(s.last_step);
    return rc;
}
