#include "workflow/search/space.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "workflow/workflow.h"

static void support_clear(ws_support *u)
{
    for (size_t i = 0; i < u->n; i++)
        free(u->values[i]);
    free(u->values);
    memset(u, 0, sizeof *u);
}

static void param_clear(ws_param *p)
{
    free(p->name);
    free(p->parents);
    for (size_t c = 0; c < p->n_cases; c++) {
        for (size_t k = 0; k < p->n_parents; k++)
            free(p->cases[c].parent_values[k]);
        free(p->cases[c].parent_values);
        support_clear(&p->cases[c].support);
    }
    free(p->cases);
    support_clear(&p->support);
    memset(p, 0, sizeof *p);
}

void ws_space_clear(ws_space *s)
{
    for (size_t i = 0; i < s->n; i++)
        param_clear(&s->params[i]);
    free(s->params);
    memset(s, 0, sizeof *s);
}

static int support_set(ws_support *u, const char *const *values, size_t n, const char *where)
{
    if (!n)
        return olive_fail(OLIVE_EINVALID, "%s: the search space is empty (no values to try)", where);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(values[i], values[j]))
                return olive_fail(OLIVE_EINVALID, "%s: the value '%s' is listed twice", where, values[i]);
    if (!(u->values = olive_calloc(n, sizeof *u->values)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!(u->values[u->n++] = olive_strdup(values[i]))) {
            support_clear(u);
            return OLIVE_ENOMEM;
        }
    return OLIVE_OK;
}

static int push_param(ws_space *s, ws_param *p)
{
    ws_param *grown = olive_reallocarray(s->params, s->n + 1, sizeof *grown);
    if (!grown)
        return OLIVE_ENOMEM;
    s->params = grown;
    s->params[s->n++] = *p;
    return OLIVE_OK;
}

int ws_space_add_categorical(ws_space *s, const char *name, const char *const *values, size_t n)
{
    ws_param p = {0};
    int rc;
    if (!(p.name = olive_strdup(name)))
        return OLIVE_ENOMEM;
    if ((rc = support_set(&p.support, values, n, name)) != OLIVE_OK || (rc = push_param(s, &p)) != OLIVE_OK)
        param_clear(&p);
    return rc;
}

/* A deep copy of `q` whose parents are renumbered through `renumber` (old index -> new). */
static int param_copy(ws_param *out, const ws_param *q, const size_t *renumber)
{
    ws_param p = {0};
    int rc = OLIVE_ENOMEM;
    if (!(p.name = olive_strdup(q->name)) ||
        (q->n_parents && !(p.parents = olive_calloc(q->n_parents, sizeof *p.parents))) ||
        (q->n_cases && !(p.cases = olive_calloc(q->n_cases, sizeof *p.cases))))
        goto fail;
    p.n_parents = q->n_parents;
    for (size_t k = 0; k < q->n_parents; k++)
        p.parents[k] = renumber[q->parents[k]];
    for (size_t c = 0; c < q->n_cases; c++, p.n_cases++) {
        const ws_case *from = &q->cases[c];
        ws_case *to = &p.cases[c];
        if (!(to->parent_values = olive_calloc(q->n_parents + 1, sizeof *to->parent_values)))
            goto fail;
        for (size_t k = 0; k < q->n_parents; k++)
            if (!(to->parent_values[k] = olive_strdup(from->parent_values[k])))
                goto fail;
        if ((rc = support_set(&to->support, (const char *const *)from->support.values, from->support.n, q->name)) !=
            OLIVE_OK)
            goto fail;
    }
    if ((rc = support_set(&p.support, (const char *const *)q->support.values, q->support.n, q->name)) != OLIVE_OK)
        goto fail;
    *out = p;
    return OLIVE_OK;
fail:
    param_clear(&p);
    return rc;
}

int ws_space_subset(ws_space *out, const ws_space *s, const unsigned char *keep)
{
    ws_space sub = {0};
    size_t *renumber = olive_calloc(s->n + 1, sizeof *renumber);
    int rc = OLIVE_OK;
    if (!renumber)
        return OLIVE_ENOMEM;
    for (size_t p = 0; p < s->n && rc == OLIVE_OK; p++) {
        ws_param copy;
        if (!keep[p])
            continue;
        for (size_t k = 0; k < s->params[p].n_parents; k++)
            if (!keep[s->params[p].parents[k]])
                rc = olive_fail(OLIVE_EINVALID, "search space: '%s' depends on '%s', which is searched apart from it",
                                s->params[p].name, s->params[s->params[p].parents[k]].name);
        if (rc != OLIVE_OK)
            break;
        renumber[p] = sub.n;
        if ((rc = param_copy(&copy, &s->params[p], renumber)) == OLIVE_OK && (rc = push_param(&sub, &copy)) != OLIVE_OK)
            param_clear(&copy);
    }
    free(renumber);
    if (rc != OLIVE_OK) {
        ws_space_clear(&sub);
        return rc;
    }
    *out = sub;
    return OLIVE_OK;
}

int ws_is_search_parameter(const json_t *v)
{
    const char *t = json_string_value(json_object_get(v, "olive_parameter_type"));
    return json_is_object(v) && t && !strcmp(t, "SearchParameter");
}

/* The values of a Categorical object (or, with `single`, of a plain value: ConditionalDefault's
 * rows and default may be written either way). */
static int support_from_json(ws_support *u, const json_t *v, int single, const char *where)
{
    const json_t *arr;
    char **texts = NULL;
    size_t n = 0, i;
    int rc = OLIVE_OK;
    json_t *item;
    if (ws_is_search_parameter(v)) {
        const char *type = json_string_value(json_object_get(v, "type"));
        if (!type || strcmp(type, "Categorical"))
            return olive_fail(OLIVE_EUNSUPPORTED, "%s: a nested search parameter must be Categorical (found '%s')",
                              where, type ? type : "no type");
        arr = json_object_get(v, "support");
        if (!json_is_array(arr))
            return olive_fail(OLIVE_EINVALID, "%s: a Categorical needs a \"support\" list", where);
    } else if (single && !json_is_object(v) && !json_is_null(v)) {
        char *t = wf_json_param_text(v, where);
        if (!t)
            return OLIVE_ENOMEM;
        rc = support_set(u, (const char *const *)&t, 1, where);
        free(t);
        return rc;
    } else {
        return olive_fail(OLIVE_EINVALID, "%s: expected a search parameter object", where);
    }
    if (!(texts = olive_calloc(json_array_size(arr) + 1, sizeof *texts)))
        return OLIVE_ENOMEM;
    json_array_foreach(arr, i, item)
    {
        if (!(texts[n] = wf_json_param_text(item, where))) {
            rc = json_is_null(item) ? olive_fail(OLIVE_EINVALID, "%s: null is not a value to try", where)
                                    : OLIVE_EINVALID;
            break;
        }
        n++;
    }
    if (rc == OLIVE_OK)
        rc = support_set(u, (const char *const *)texts, n, where);
    for (i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    return rc;
}

static int find_param(const ws_space *s, const char *prefix, const char *name, size_t *out)
{
    for (size_t i = 0; i < s->n; i++) {
        size_t lp = strlen(prefix);
        if (!strncmp(s->params[i].name, prefix, lp) && !strcmp(s->params[i].name + lp, name)) {
            *out = i;
            return 1;
        }
    }
    return 0;
}

static int add_case(ws_param *p, char **path, const json_t *v, int single, const char *where)
{
    ws_case *grown = olive_reallocarray(p->cases, p->n_cases + 1, sizeof *grown);
    ws_case c = {0};
    int rc;
    if (!grown)
        return OLIVE_ENOMEM;
    p->cases = grown;
    if ((rc = support_from_json(&c.support, v, single, where)) != OLIVE_OK)
        return rc;
    if (!(c.parent_values = olive_calloc(p->n_parents, sizeof *c.parent_values))) {
        support_clear(&c.support);
        return OLIVE_ENOMEM;
    }
    for (size_t k = 0; k < p->n_parents; k++)
        c.parent_values[k] = olive_strdup(path[k]);
    p->cases[p->n_cases++] = c;
    for (size_t k = 0; k < p->n_parents; k++)
        if (!c.parent_values[k])
            return OLIVE_ENOMEM;
    return OLIVE_OK;
}

/* Walks the support object nested one level per parent ("support": {"4": {"32": ...}}). */
static int walk_support(ws_param *p, const ws_space *s, const json_t *obj, char **path, size_t depth, int single,
                        const char *where)
{
    const char *key;
    json_t *v;
    if (depth == p->n_parents)
        return add_case(p, path, obj, single, where);
    if (!json_is_object(obj) || ws_is_search_parameter(obj))
        return olive_fail(OLIVE_EINVALID, "%s: \"support\" must be nested one level per parent (%zu)", where,
                          p->n_parents);
    json_object_foreach((json_t *)obj, key, v)
    {
        const ws_param *parent = &s->params[p->parents[depth]];
        int known = 0;
        int rc;
        /* A key must be a value the parent can take (in any of its supports). */
        for (size_t i = 0; i < parent->support.n && !known; i++)
            known = !strcmp(parent->support.values[i], key);
        for (size_t c = 0; c < parent->n_cases && !known; c++)
            for (size_t i = 0; i < parent->cases[c].support.n && !known; i++)
                known = !strcmp(parent->cases[c].support.values[i], key);
        if (!known)
            return olive_fail(OLIVE_EINVALID, "%s: '%s' is not a value of the parent '%s'", where, key, parent->name);
        path[depth] = (char *)key;
        if ((rc = walk_support(p, s, v, path, depth + 1, single, where)) != OLIVE_OK)
            return rc;
    }
    return OLIVE_OK;
}

int ws_space_add_json(ws_space *s, const char *name, const json_t *v, const char *prefix, const char *where)
{
    const char *type = json_string_value(json_object_get(v, "type"));
    const json_t *parents = json_object_get(v, "parents"), *def = json_object_get(v, "default"), *item;
    ws_param p = {0};
    char **path = NULL;
    size_t i;
    int rc = OLIVE_OK, single;
    if (!ws_is_search_parameter(v) || !type)
        return olive_fail(OLIVE_EINVALID, "%s: expected {\"olive_parameter_type\": \"SearchParameter\", \"type\": ...}",
                          where);
    if (!strcmp(type, "Categorical")) {
        ws_support u = {0};
        if ((rc = support_from_json(&u, v, 0, where)) != OLIVE_OK)
            return rc;
        rc = ws_space_add_categorical(s, name, (const char *const *)u.values, u.n);
        support_clear(&u);
        return rc;
    }
    single = !strcmp(type, "ConditionalDefault");
    if (!single && strcmp(type, "Conditional"))
        return olive_fail(OLIVE_EINVALID,
                          "%s: unknown search parameter type '%s' (Categorical, Conditional, ConditionalDefault)",
                          where, type);
    if (!json_is_array(parents) || !json_array_size(parents))
        return olive_fail(OLIVE_EINVALID, "%s: a %s needs a non-empty \"parents\" list", where, type);
    if (!(p.name = olive_strdup(name)) || !(p.parents = olive_calloc(json_array_size(parents), sizeof *p.parents)) ||
        !(path = olive_calloc(json_array_size(parents), sizeof *path))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    json_array_foreach(parents, i, item)
    {
        const char *pn = json_string_value(item);
        if (!pn || !find_param(s, prefix, pn, &p.parents[i])) {
            rc = olive_fail(OLIVE_EINVALID, "%s: the parent '%s' is not a searched parameter named before it", where,
                            pn ? pn : "(not a string)");
            goto out;
        }
        p.n_parents++;
    }
    if ((rc = walk_support(&p, s, json_object_get(v, "support"), path, 0, single, where)) != OLIVE_OK)
        goto out;
    /* Olive's default when none is given: the invalid choice. */
    if (def && !json_is_null(def))
        rc = support_from_json(&p.support, def, single, where);
    else
        rc = support_set(&p.support, (const char *const[]){WS_INVALID}, 1, where);
    if (rc == OLIVE_OK)
        rc = push_param(s, &p);
out:
    free(path);
    if (rc != OLIVE_OK)
        param_clear(&p);
    return rc;
}

const ws_support *ws_space_support(const ws_space *s, size_t p, const size_t *idx)
{
    const ws_param *q = &s->params[p];
    for (size_t c = 0; c < q->n_cases; c++) {
        size_t k;
        for (k = 0; k < q->n_parents; k++)
            if (strcmp(q->cases[c].parent_values[k], ws_space_value(s, q->parents[k], idx)))
                break;
        if (k == q->n_parents)
            return &q->cases[c].support;
    }
    return &q->support;
}

const char *ws_space_value(const ws_space *s, size_t p, const size_t *idx)
{
    return ws_space_support(s, p, idx)->values[idx[p]];
}

/* The most values parameter `p` can take, over all its parents' values (Olive's length of a
 * conditional parameter). */
static size_t max_support(const ws_param *q)
{
    size_t n = q->support.n;
    for (size_t c = 0; c < q->n_cases; c++)
        if (q->cases[c].support.n > n)
            n = q->cases[c].support.n;
    return n;
}

/* A point: every index inside the support its parents give, and no invalid value. An index past
 * that support is where Olive pads a conditional parameter with its default, a repeat of an
 * earlier point, which Olive's cache discards. */
static int point_valid(const ws_space *s, const size_t *idx)
{
    for (size_t p = 0; p < s->n; p++)
        if (idx[p] >= ws_space_support(s, p, idx)->n || !strcmp(ws_space_value(s, p, idx), WS_INVALID))
            return 0;
    return 1;
}

/* The next index tuple in Olive's SequentialSampler order (the first parameter fastest, each
 * counting to its largest support), valid or not; 0 at the end. */
static int advance(const ws_space *s, size_t *idx)
{
    for (size_t p = 0; p < s->n; p++) {
        if (idx[p] + 1 < max_support(&s->params[p])) {
            idx[p]++;
            for (size_t q = 0; q < p; q++)
                idx[q] = 0;
            return 1;
        }
    }
    return 0;
}

int ws_space_first(const ws_space *s, size_t *idx)
{
    memset(idx, 0, s->n * sizeof *idx);
    return point_valid(s, idx) || ws_space_next(s, idx);
}

int ws_space_next(const ws_space *s, size_t *idx)
{
    while (advance(s, idx))
        if (point_valid(s, idx))
            return 1;
    return 0;
}

size_t ws_space_count(const ws_space *s)
{
    size_t n = 0, *idx = olive_calloc(s->n + 1, sizeof *idx);
    if (!idx)
        return 0;
    for (int more = ws_space_first(s, idx); more && n <= WS_MAX_POINTS; more = ws_space_next(s, idx))
        n++;
    free(idx);
    return n;
}

int ws_space_check(const ws_space *s, const char *where)
{
    size_t n = ws_space_count(s);
    if (!n)
        return olive_fail(OLIVE_EINVALID,
                          "%s: the search space has no valid point (empty, or every combination "
                          "holds an invalid value)",
                          where);
    if (n > WS_MAX_POINTS)
        return olive_fail(OLIVE_EINVALID, "%s: the search space has more than %d points", where, WS_MAX_POINTS);
    return OLIVE_OK;
}

char *ws_space_describe(const ws_space *s, const size_t *idx)
{
    olive_strbuf b = {0};
    olive_strbuf_append(&b, "");
    for (size_t p = 0; p < s->n; p++) {
        const char *v = ws_space_value(s, p, idx);
        if (strcmp(v, WS_IGNORED))
            olive_strbuf_printf(&b, "%s%s=%s", b.len ? " " : "", s->params[p].name, v);
    }
    return olive_strbuf_take(&b);
}
