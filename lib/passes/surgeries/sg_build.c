/* The surgeons' node builder. */
#include <stdarg.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/surgeries/sg_build.h"
#include "passes/surgeries/sg_util.h"

static const char *keep(sg_bld *b, char *s)
{
    if (!s || olive_grow((void **)&b->names, &b->cap, b->n + 1, sizeof *b->names) != OLIVE_OK) {
        free(s);
        b->rc = OLIVE_ENOMEM;
        return "";
    }
    return b->names[b->n++] = s;
}

/* Adds sg_op(ins...) and returns its output name ("" after an error). */
const char *sg_op(sg_bld *b, const char *type, size_t n_in, ...)
{
    const char *ins[8];
    char *name, *out;
    va_list ap;
    if (b->rc != OLIVE_OK)
        return "";
    if (n_in > 8) {
        b->rc = olive_fail(OLIVE_EINTERNAL, "surgeon builder: %s with %zu inputs (at most 8)", type, n_in);
        return "";
    }
    va_start(ap, n_in);
    for (size_t i = 0; i < n_in; i++)
        ins[i] = va_arg(ap, const char *);
    va_end(ap);
    name = olive_asprintf("%s/%s_%d", b->base, type, b->k++);
    out = name ? olive_asprintf("%s_output", name) : NULL;
    const char *domain = b->next_domain ? b->next_domain : "";
    b->next_domain = NULL;
    if (!name || !out || !(b->last = sg_add_node(b->g, type, domain, name, n_in, ins, 1, (const char *const *)&out))) {
        free(name);
        free(out);
        b->rc = OLIVE_ENOMEM;
        return "";
    }
    free(name);
    return keep(b, out);
}

void sg_attr_int(sg_bld *b, const char *name, int64_t v)
{
    if (b->rc == OLIVE_OK)
        b->rc = oir_node_set_attr_int(b->last, name, v);
}

/* A Constant holding an int64 [1] tensor, or a float scalar. */
const char *sg_const_i64(sg_bld *b, int64_t v)
{
    const char *out = sg_op(b, "Constant", 0);
    oir_tensor *t;
    int64_t one = 1;
    if (b->rc != OLIVE_OK)
        return "";
    if (!(t = oir_tensor_new(out, OIR_INT64, 1, &one)) || oir_tensor_set_copy(t, &v, 8) != OLIVE_OK ||
        oir_node_set_attr_tensor(b->last, "value", t) != OLIVE_OK) {
        oir_tensor_free(t);
        b->rc = OLIVE_ENOMEM;
    }
    return out;
}

const char *sg_const_f32(sg_bld *b, float v)
{
    const char *out = sg_op(b, "Constant", 0);
    oir_tensor *t;
    if (b->rc != OLIVE_OK)
        return "";
    if (!(t = oir_tensor_new(out, OIR_FLOAT, 0, NULL)) || oir_tensor_set_copy(t, &v, 4) != OLIVE_OK ||
        oir_node_set_attr_tensor(b->last, "value", t) != OLIVE_OK) {
        oir_tensor_free(t);
        b->rc = OLIVE_ENOMEM;
    }
    return out;
}

void sg_attr_ints(sg_bld *b, const char *name, const int64_t *v, size_t n)
{
    if (b->rc == OLIVE_OK)
        b->rc = oir_node_set_attr_ints(b->last, name, v, n);
}

/* A Constant int64 tensor: rank 0 (one value) when `scalar`, else 1-D of n values. */
const char *sg_const_i64v(sg_bld *b, const int64_t *v, size_t n, int scalar)
{
    const char *out = sg_op(b, "Constant", 0);
    int64_t dim = (int64_t)n;
    oir_tensor *t;
    if (b->rc != OLIVE_OK)
        return "";
    if (!(t = oir_tensor_new(out, OIR_INT64, scalar ? 0 : 1, &dim)) || oir_tensor_set_copy(t, v, n * 8) != OLIVE_OK ||
        oir_node_set_attr_tensor(b->last, "value", t) != OLIVE_OK) {
        oir_tensor_free(t);
        b->rc = OLIVE_ENOMEM;
    }
    return out;
}

const char *sg_c1(sg_bld *b, int64_t v)
{
    return sg_const_i64v(b, &v, 1, 0);
}
const char *sg_c0(sg_bld *b, int64_t v)
{
    return sg_const_i64v(b, &v, 1, 1);
}

void sg_bld_free(sg_bld *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->names[i]);
    free(b->names);
}
