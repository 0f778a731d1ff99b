#include "workflow/search/sampler.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/status.h"

typedef struct trial {
    size_t point;
    ws_trial_state state;
    double *scores; /* n_scores values (complete trials) */
} trial;

struct ws_sampler {
    ws_sampler_kind kind;
    const ws_space *space;
    size_t n_points, n_params;
    size_t *points; /* n_points x n_params support indices, stable order */
    size_t *cats;   /* n_points x n_params category indices (TPE) */
    size_t *n_cats; /* per parameter: distinct values over all its supports */
    size_t *order;  /* random / startup order: a permutation of the points */
    size_t order_pos;
    unsigned char *proposed, *told;
    trial *trials;
    size_t n_trials;
    size_t n_scores;
    uint64_t rng;
};

/* splitmix64: a small, well-mixed, seedable generator (the sequence is ours, not numpy's). */
static uint64_t next_u64(uint64_t *st)
{
    uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias. */
static size_t below_n(uint64_t *st, size_t n)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, r;
    do
        r = next_u64(st);
    while (r >= lim);
    return (size_t)(r % n);
}

int ws_sampler_kind_parse(ws_sampler_kind *out, const char *name, const char *where)
{
    static const char *const names[] = {"sequential", "random", "tpe"};
    for (size_t i = 0; i < 3; i++)
        if (name && !strcasecmp(name, names[i])) {
            *out = (ws_sampler_kind)i;
            return OLIVE_OK;
        }
    return olive_fail(OLIVE_EINVALID, "%s: unknown sampler '%s' (sequential, random, tpe)", where,
                      name ? name : "(not a string)");
}

/* Category of each point's value: its index among the distinct values the parameter takes. */
static int build_categories(ws_sampler *s)
{
    const char ***names = olive_calloc(s->n_params + 1, sizeof *names);
    int rc = OLIVE_OK;
    if (!names || !(s->cats = olive_calloc(s->n_points * s->n_params + 1, sizeof *s->cats)) ||
        !(s->n_cats = olive_calloc(s->n_params + 1, sizeof *s->n_cats))) {
        free(names);
        return OLIVE_ENOMEM;
    }
    for (size_t p = 0; p < s->n_params && rc == OLIVE_OK; p++)
        if (!(names[p] = olive_calloc(s->n_points, sizeof **names)))
            rc = OLIVE_ENOMEM;
    for (size_t i = 0; i < s->n_points && rc == OLIVE_OK; i++)
        for (size_t p = 0; p < s->n_params; p++) {
            const char *v = ws_space_value(s->space, p, &s->points[i * s->n_params]);
            size_t c;
            for (c = 0; c < s->n_cats[p] && strcmp(names[p][c], v); c++)
                ;
            if (c == s->n_cats[p])
                names[p][s->n_cats[p]++] = v;
            s->cats[i * s->n_params + p] = c;
        }
    for (size_t p = 0; p < s->n_params; p++)
        free(names[p]);
    free(names);
    return rc;
}

int ws_sampler_new(ws_sampler **out, ws_sampler_kind kind, const ws_space *space, uint64_t seed)
{
    ws_sampler *s;
    size_t *idx;
    int rc = ws_space_check(space, "search space");
    if (rc != OLIVE_OK)
        return rc;
    if (!(s = olive_calloc(1, sizeof *s)))
        return OLIVE_ENOMEM;
    s->kind = kind;
    s->space = space;
    s->n_params = space->n;
    s->n_points = ws_space_count(space);
    s->rng = seed;
    if (!(s->points = olive_calloc(s->n_points * s->n_params + 1, sizeof *s->points)) ||
        !(s->order = olive_calloc(s->n_points, sizeof *s->order)) || !(s->proposed = olive_calloc(s->n_points, 1)) ||
        !(s->told = olive_calloc(s->n_points, 1)) || !(s->trials = olive_calloc(s->n_points, sizeof *s->trials)) ||
        !(idx = olive_calloc(s->n_params + 1, sizeof *idx))) {
        ws_sampler_free(s);
        return OLIVE_ENOMEM;
    }
    size_t i = 0;
    for (int more = ws_space_first(space, idx); more && i < s->n_points; more = ws_space_next(space, idx), i++)
        memcpy(&s->points[i * s->n_params], idx, s->n_params * sizeof *idx);
    free(idx);
    for (i = 0; i < s->n_points; i++)
        s->order[i] = i;
    if (kind != WS_SEQUENTIAL) /* Fisher-Yates from the seed */
        for (i = s->n_points; i > 1; i--) {
            size_t j = below_n(&s->rng, i), t = s->order[i - 1];
            s->order[i - 1] = s->order[j];
            s->order[j] = t;
        }
    if (kind == WS_TPE && (rc = build_categories(s)) != OLIVE_OK) {
        ws_sampler_free(s);
        return rc;
    }
    *out = s;
    return OLIVE_OK;
}

void ws_sampler_free(ws_sampler *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_trials; i++)
        free(s->trials[i].scores);
    free(s->trials);
    free(s->points);
    free(s->cats);
    free(s->n_cats);
    free(s->order);
    free(s->proposed);
    free(s->told);
    free(s);
}

size_t ws_tpe_gamma(size_t n)
{
    size_t g = (n + 9) / 10;
    return g < 25 ? g : 25;
}

void ws_tpe_weights(double *w, size_t n)
{
    if (n < 25) {
        for (size_t i = 0; i < n; i++)
            w[i] = 1.0;
        return;
    }
    /* numpy.linspace(1/n, 1, n - 25) then 25 ones */
    size_t m = n - 25;
    for (size_t i = 0; i < m; i++)
        w[i] = m == 1 ? 1.0 / (double)n : 1.0 / (double)n + (1.0 - 1.0 / (double)n) * (double)i / (double)(m - 1);
    for (size_t i = m; i < n; i++)
        w[i] = 1.0;
}

double ws_tpe_log_pdf(const size_t *x, size_t n_params, const size_t *n_choices, const size_t *obs, size_t n_obs)
{
    double *w, total = 0, best = -INFINITY, sum = 0, *terms;
    size_t n_k = n_obs + 1;
    if (!n_obs) { /* one uniform kernel */
        double lp = 0;
        for (size_t p = 0; p < n_params; p++)
            lp -= log((double)n_choices[p]);
        return lp;
    }
    w = olive_calloc(n_k, sizeof *w);
    terms = olive_calloc(n_k, sizeof *terms);
    if (!w || !terms) {
        free(w);
        free(terms);
        return NAN;
    }
    ws_tpe_weights(w, n_obs);
    w[n_obs] = 1.0; /* the prior */
    for (size_t k = 0; k < n_k; k++)
        total += w[k];
    for (size_t k = 0; k < n_k; k++) {
        double lp = log(w[k] / total);
        for (size_t p = 0; p < n_params; p++) {
            /* Kernel row: prior_weight / n_k everywhere, +1 at the observed category (not for
             * the prior's own row), normalised. */
            double base = 1.0 / (double)n_k, row = base * (double)n_choices[p], v = base;
            if (k < n_obs) {
                row += 1.0;
                if (obs[k * n_params + p] == x[p])
                    v += 1.0;
            }
            lp += log(v / row);
        }
        terms[k] = lp;
        if (lp > best)
            best = lp;
    }
    for (size_t k = 0; k < n_k; k++)
        sum += exp(terms[k] - best);
    free(w);
    free(terms);
    return best + log(sum);
}

/* Orders told trials for the split: complete ones by their scores (priority order,
 * lexicographic; ties by trial order), then pruned ones in trial order. */
static const ws_sampler *g_sort;
static int cmp_trials(const void *pa, const void *pb)
{
    const trial *a = &g_sort->trials[*(const size_t *)pa], *b = &g_sort->trials[*(const size_t *)pb];
    int ca = a->state != WS_TRIAL_PRUNED, cb = b->state != WS_TRIAL_PRUNED;
    if (ca != cb)
        return cb - ca;
    if (ca)
        for (size_t i = 0; i < g_sort->n_scores; i++)
            if (a->scores[i] != b->scores[i])
                return a->scores[i] < b->scores[i] ? -1 : 1;
    return *(const size_t *)pa < *(const size_t *)pb ? -1 : 1;
}

static int tpe_next(ws_sampler *s, size_t *out)
{
    size_t n = s->n_trials, n_below = ws_tpe_gamma(n), nb = 0, na = 0, *order, *below, *above;
    double best = -INFINITY;
    size_t best_i = SIZE_MAX;
    order = olive_calloc(n + 1, sizeof *order);
    below = olive_calloc(n * s->n_params + 1, sizeof *below);
    above = olive_calloc(n * s->n_params + 1, sizeof *above);
    if (!order || !below || !above) {
        free(order);
        free(below);
        free(above);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    g_sort = s;
    qsort(order, n, sizeof *order, cmp_trials);
    g_sort = NULL;
    /* Each side keeps trial order, as Optuna sorts both by trial number. */
    for (size_t t = 0; t < n; t++) {
        int is_below = 0;
        for (size_t r = 0; r < n_below; r++)
            is_below |= order[r] == t;
        memcpy(is_below ? &below[nb++ * s->n_params] : &above[na++ * s->n_params],
               &s->cats[s->trials[t].point * s->n_params], s->n_params * sizeof *below);
    }
    for (size_t i = 0; i < s->n_points; i++) {
        const size_t *x = &s->cats[i * s->n_params];
        double acq;
        if (s->proposed[i])
            continue;
        acq = ws_tpe_log_pdf(x, s->n_params, s->n_cats, below, nb) -
              ws_tpe_log_pdf(x, s->n_params, s->n_cats, above, na);
        if (best_i == SIZE_MAX || acq > best) {
            best = acq;
            best_i = i;
        }
    }
    free(order);
    free(below);
    free(above);
    *out = best_i;
    return OLIVE_OK;
}

int ws_sampler_next(ws_sampler *s, size_t *idx)
{
    size_t pick = SIZE_MAX;
    if (s->kind == WS_TPE && s->n_trials >= WS_TPE_STARTUP) {
        if (tpe_next(s, &pick) != OLIVE_OK)
            return 0;
    } else {
        while (s->order_pos < s->n_points && s->proposed[s->order[s->order_pos]])
            s->order_pos++;
        if (s->order_pos < s->n_points)
            pick = s->order[s->order_pos++];
    }
    if (pick == SIZE_MAX)
        return 0;
    s->proposed[pick] = 1;
    memcpy(idx, &s->points[pick * s->n_params], s->n_params * sizeof *idx);
    return 1;
}

static size_t point_index(const ws_sampler *s, const size_t *idx)
{
    for (size_t i = 0; i < s->n_points; i++)
        if (!memcmp(&s->points[i * s->n_params], idx, s->n_params * sizeof *idx))
            return i;
    return SIZE_MAX;
}

int ws_sampler_replay(ws_sampler *s, const size_t *idx)
{
    size_t i = point_index(s, idx);
    if (i == SIZE_MAX || s->proposed[i])
        return olive_fail(OLIVE_EINVALID, "search: a replayed point that is not in the space or was proposed already");
    s->proposed[i] = 1;
    return OLIVE_OK;
}

int ws_sampler_tell(ws_sampler *s, const size_t *idx, const double *scores, size_t n_scores, ws_trial_state state)
{
    size_t i = point_index(s, idx);
    trial *t;
    if (i == SIZE_MAX || !s->proposed[i] || s->told[i])
        return olive_fail(OLIVE_EINVALID, "search: a result for a point that was not proposed or was told already");
    if (s->n_trials && state != WS_TRIAL_PRUNED && n_scores != s->n_scores && s->n_scores)
        return olive_fail(OLIVE_EINVALID, "search: %zu objective values where earlier trials had %zu", n_scores,
                          s->n_scores);
    t = &s->trials[s->n_trials];
    memset(t, 0, sizeof *t);
    if (state != WS_TRIAL_PRUNED) {
        if (!s->n_scores)
            s->n_scores = n_scores;
        if (!(t->scores = olive_calloc(s->n_scores + 1, sizeof *t->scores)))
            return OLIVE_ENOMEM;
        for (size_t k = 0; k < s->n_scores; k++) /* a failed trial is the worst, as Olive tells Optuna */
            t->scores[k] = state == WS_TRIAL_FAILED || !scores ? DBL_MAX : scores[k];
        state = WS_TRIAL_COMPLETE;
    }
    t->point = i;
    t->state = state;
    s->told[i] = 1;
    s->n_trials++;
    return OLIVE_OK;
}
