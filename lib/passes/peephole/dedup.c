/* Byte-identical initializers (same dtype, dims and bytes) collapse into the first one. A
 * cheap sample of each tensor's bytes sorts most distinct weights apart; only tensors whose
 * samples agree are hashed whole, and only equal hashes are compared byte by byte. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/peephole/peephole_internal.h"

typedef struct cand {
    size_t index;
    oir_tensor *t;
    uint64_t sample, hash;
} cand;

#define SAMPLE 256

static uint64_t sample_of(const oir_tensor *t)
{
    const uint8_t *p = oir_tensor_data(t);
    uint64_t n = t->nbytes, h;
    if (n <= 3 * SAMPLE)
        return olive_hash_bytes(p, (size_t)n, 1);
    h = olive_hash_bytes(p, SAMPLE, 1);
    h = olive_hash_bytes(p + n / 2, SAMPLE, h);
    return olive_hash_bytes(p + n - SAMPLE, SAMPLE, h);
}

static int same_kind(const cand *a, const cand *b)
{
    return a->t->dtype == b->t->dtype && a->t->rank == b->t->rank && a->t->nbytes == b->t->nbytes &&
           a->sample == b->sample && (!a->t->rank || !memcmp(a->t->dims, b->t->dims, a->t->rank * sizeof *a->t->dims));
}

static int cmp_cand(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->t->dtype != b->t->dtype)
        return a->t->dtype < b->t->dtype ? -1 : 1;
    if (a->t->rank != b->t->rank)
        return a->t->rank < b->t->rank ? -1 : 1;
    for (size_t i = 0; i < a->t->rank; i++)
        if (a->t->dims[i] != b->t->dims[i])
            return a->t->dims[i] < b->t->dims[i] ? -1 : 1;
    if (a->t->nbytes != b->t->nbytes)
        return a->t->nbytes < b->t->nbytes ? -1 : 1;
    if (a->sample != b->sample)
        return a->sample < b->sample ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int eligible(const peephole_run *r, const oir_graph *g, const oir_tensor *t)
{
    uint64_t want;
    if (t->dtype == OIR_STRING || t->n_strings || !peephole_initializer_is_const(r, g, t->name))
        return 0;
    if (oir_tensor_expected_bytes(t, &want) != OLIVE_OK || want != t->nbytes || (want && !t->blob))
        return 0;
    return 1;
}

static int cmp_index_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x < y) - (x > y);
}

/* Within a run of same-kind candidates (in index order), replaces the uses of each duplicate
 * by its first equal and records its index in dead. */
static int dedup_run(peephole_run *r, oir_graph *g, peephole_subst *subst, cand *run, size_t n, size_t *dead,
                     size_t *n_dead)
{
    for (size_t i = 0; i < n; i++)
        run[i].hash = olive_hash_bytes(oir_tensor_data(run[i].t), (size_t)run[i].t->nbytes, 7);
    for (size_t i = 1; i < n; i++) {
        cand *c = &run[i];
        if (peephole_is_graph_output(g, c->t->name))
            continue; /* its name must stay */
        for (size_t k = 0; k < i; k++) {
            cand *first = &run[k];
            if (first->index == (size_t)-1 || first->hash != c->hash ||
                (c->t->nbytes && memcmp(oir_tensor_data(first->t), oir_tensor_data(c->t), (size_t)c->t->nbytes)))
                continue;
            OLIVE_TRY(peephole_subst_add(subst, c->t->name, first->t->name));
            dead[(*n_dead)++] = c->index;
            c->index = (size_t)-1; /* not a first of anything */
            r->duplicates++;
            break;
        }
    }
    return OLIVE_OK;
}

int peephole_dedup_initializers(peephole_run *r, oir_graph *g)
{
    cand *c;
    peephole_subst subst = {{0}};
    size_t n = 0, *dead = NULL, n_dead = 0;
    int rc = OLIVE_OK;
    if (g->n_initializers < 2)
        return OLIVE_OK;
    c = olive_calloc(g->n_initializers, sizeof *c);
    dead = olive_calloc(g->n_initializers, sizeof *dead);
    if (!c || !dead) {
        free(c);
        free(dead);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < g->n_initializers; i++) {
        oir_tensor *t = g->initializers[i];
        if (!eligible(r, g, t))
            continue;
        c[n].index = i;
        c[n].t = t;
        c[n].sample = sample_of(t);
        n++;
    }
    qsort(c, n, sizeof *c, cmp_cand);
    for (size_t i = 0; i < n && rc == OLIVE_OK;) {
        size_t j = i + 1;
        while (j < n && same_kind(&c[i], &c[j]))
            j++;
        if (j - i > 1)
            rc = dedup_run(r, g, &subst, c + i, j - i, dead, &n_dead);
        i = j;
    }
    if (rc == OLIVE_OK)
        rc = peephole_subst_apply(&subst, g);
    peephole_subst_free(&subst);
    /* Remove from the back so earlier indices stay valid. */
    qsort(dead, n_dead, sizeof *dead, cmp_index_desc);
    for (size_t i = 0; i < n_dead && rc == OLIVE_OK; i++)
        peephole_remove_initializer(r, g, dead[i]);
    free(c);
    free(dead);
    return rc;
}
