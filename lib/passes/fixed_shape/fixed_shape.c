/* dynamic_to_fixed_shape: either dim_param/dim_value (every dimension with that symbolic name,
 * in graph inputs, outputs and value_info of every graph, becomes the value) or
 * input_name/input_shape (the named inputs get the shape; a symbolic dimension they replace is
 * fixed everywhere; a fixed one must already match). Olive then infers output shapes with
 * onnxruntime's symbolic shape inference; here outputs are fixed only where they use the same
 * names. Everything is checked before the model changes. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/fixed_shape/fixed_shape.h"

#define PASS "dynamic_to_fixed_shape"

/* Comma-separated items of a LIST value into a NULL-terminated array (trimmed). */
static char **split_list(const char *text, size_t *count)
{
    char **items = NULL;
    size_t n = 0, cap = 0;
    const char *p = text;
    *count = 0;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && *p == ' ')
            p++, len--;
        while (len && p[len - 1] == ' ')
            len--;
        if (olive_grow((void **)&items, &cap, n + 2, sizeof *items) != OLIVE_OK ||
            !(items[n] = olive_strndup(p, len))) {
            for (size_t i = 0; i < n; i++)
                free(items[i]);
            free(items);
            return NULL;
        }
        n++;
        p = comma ? comma + 1 : NULL;
    }
    if (!items && !(items = olive_calloc(1, sizeof *items)))
        return NULL;
    items[n] = NULL;
    *count = n;
    return items;
}

static void free_list(char **items)
{
    for (size_t i = 0; items && items[i]; i++)
        free(items[i]);
    free(items);
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end)
        return 0;
    *out = v;
    return 1;
}

static void fix_param_in(oir_value_info *v, size_t n, const char *param, int64_t value)
{
    for (size_t i = 0; i < n; i++) {
        oir_type *t = v[i].type;
        if (!t || t->kind != OIR_TYPE_TENSOR || !t->has_shape)
            continue;
        for (size_t d = 0; d < t->rank; d++)
            if (!t->dims[d].has_value && t->dims[d].param && !strcmp(t->dims[d].param, param)) {
                free(t->dims[d].param);
                t->dims[d].param = NULL;
                t->dims[d].has_value = 1;
                t->dims[d].value = value;
            }
    }
}

typedef struct fix_arg {
    const char *param;
    int64_t value;
} fix_arg;

static int fix_param_graph(oir_graph *g, int depth, void *user)
{
    const fix_arg *f = user;
    (void)depth;
    fix_param_in(g->inputs, g->n_inputs, f->param, f->value);
    fix_param_in(g->outputs, g->n_outputs, f->param, f->value);
    fix_param_in(g->value_info, g->n_value_info, f->param, f->value);
    return OLIVE_OK;
}

static int fix_param(oir_model *m, const char *param, int64_t value)
{
    fix_arg f = {param, value};
    return oir_model_for_each_graph(m, fix_param_graph, &f);
}

/* Dimension values below 1 (a converter's -1 for "dynamic") become unknown, as onnxruntime's
 * remove_invalid_dim_values does before shapes are set. */
static void clear_invalid_in(oir_value_info *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        oir_type *t = v[i].type;
        for (size_t d = 0; t && t->kind == OIR_TYPE_TENSOR && t->has_shape && d < t->rank; d++)
            if (t->dims[d].has_value && t->dims[d].value < 1)
                t->dims[d].has_value = 0, t->dims[d].value = 0;
    }
}

static int clear_invalid_graph(oir_graph *g, int depth, void *user)
{
    (void)depth;
    (void)user;
    clear_invalid_in(g->inputs, g->n_inputs);
    clear_invalid_in(g->outputs, g->n_outputs);
    clear_invalid_in(g->value_info, g->n_value_info);
    return OLIVE_OK;
}

static int by_dim_params(oir_model *m, char **params, size_t n, char **values, size_t nv)
{
    int64_t *v;
    int rc = OLIVE_OK;
    if (nv != n)
        return olive_fail(OLIVE_EINVALID, "%s: dim_param has %zu names but dim_value has %zu values", PASS, n, nv);
    if (!(v = olive_calloc(n + 1, sizeof *v)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++)
        if (!parse_int(values[i], &v[i]) || v[i] < 0)
            rc = olive_fail(OLIVE_EINVALID, "%s: dim_value '%s' (for '%s') is not an integer >= 0", PASS, values[i],
                            params[i]);
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++)
        rc = fix_param(m, params[i], v[i]);
    free(v);
    return rc;
}

static int by_input_shapes(oir_model *m, char **names, size_t n, const char *shapes_text)
{
    oir_graph *g = m->graph;
    json_error_t jerr;
    json_t *shapes = json_loads(shapes_text, 0, &jerr), *shape, *d;
    size_t i, k;
    int rc = OLIVE_OK;
    if (!shapes || !json_is_array(shapes) || json_array_size(shapes) != n) {
        json_decref(shapes);
        return olive_fail(OLIVE_EINVALID,
                          "%s: input_shape must be a JSON list of %zu shapes (one per input_name), "
                          "e.g. [[1, 3, 224, 224]]",
                          PASS, n);
    }
    /* Check everything first. */
    json_array_foreach(shapes, i, shape)
    {
        long at = oir_graph_input_index(g, names[i]);
        const oir_type *t = at >= 0 ? g->inputs[at].type : NULL;
        if (at < 0) {
            rc = olive_fail(OLIVE_ENOTFOUND, "%s: input_name '%s' is not a graph input", PASS, names[i]);
            break;
        }
        if (!t || t->kind != OIR_TYPE_TENSOR) {
            rc = olive_fail(OLIVE_EINVALID, "%s: input '%s' is not a tensor", PASS, names[i]);
            break;
        }
        if (!json_is_array(shape) || (t->has_shape && json_array_size(shape) != t->rank)) {
            rc = olive_fail(OLIVE_EINVALID, "%s: input_shape for '%s' must be a list of %zu sizes (the input's rank)",
                            PASS, names[i], t->has_shape ? t->rank : json_array_size(shape));
            break;
        }
        json_array_foreach(shape, k, d)
        {
            if (!json_is_integer(d) || json_integer_value(d) <= 0) {
                rc = olive_fail(OLIVE_EINVALID, "%s: input_shape for '%s': sizes must be integers > 0", PASS, names[i]);
                break;
            }
            if (t->has_shape && t->dims[k].has_value && t->dims[k].value >= 1 &&
                t->dims[k].value != json_integer_value(d)) {
                rc = olive_fail(OLIVE_EINVALID, "%s: input '%s' dimension %zu is fixed at %lld, not %lld", PASS,
                                names[i], k, (long long)t->dims[k].value, (long long)json_integer_value(d));
                break;
            }
        }
        if (rc != OLIVE_OK)
            break;
    }
    if (rc == OLIVE_OK)
        rc = oir_model_for_each_graph(m, clear_invalid_graph, NULL);
    for (i = 0; rc == OLIVE_OK && i < n; i++) {
        oir_type *t;
        shape = json_array_get(shapes, i);
        t = g->inputs[oir_graph_input_index(g, names[i])].type;
        if (!t->has_shape) { /* no shape: the input gets one */
            oir_type *nt;
            int64_t *dims = olive_calloc(json_array_size(shape) + 1, sizeof *dims);
            if (!dims) {
                rc = OLIVE_ENOMEM;
                break;
            }
            json_array_foreach(shape, k, d) dims[k] = json_integer_value(d);
            nt = oir_type_new_tensor(t->elem_type, json_array_size(shape), dims, NULL);
            free(dims);
            if (!nt) {
                rc = OLIVE_ENOMEM;
                break;
            }
            oir_type_free(t);
            g->inputs[oir_graph_input_index(g, names[i])].type = nt;
            continue;
        }
        json_array_foreach(shape, k, d)
        {
            int64_t v = json_integer_value(d);
            if (t->dims[k].has_value)
                continue;
            if (t->dims[k].param) {
                char *param = olive_strdup(t->dims[k].param);
                rc = param ? fix_param(m, param, v) : OLIVE_ENOMEM;
                free(param);
                if (rc != OLIVE_OK)
                    break;
            } else {
                t->dims[k].has_value = 1;
                t->dims[k].value = v;
            }
        }
    }
    json_decref(shapes);
    return rc;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    size_t np, nv, nn;
    char **params = split_list(olive_args_string(args, "dim_param"), &np);
    char **values = split_list(olive_args_string(args, "dim_value"), &nv);
    char **names = split_list(olive_args_string(args, "input_name"), &nn);
    const char *shapes = olive_args_string(args, "input_shape");
    int rc = params && values && names ? OLIVE_OK : OLIVE_ENOMEM;
    if (rc == OLIVE_OK && np && nn)
        rc = olive_fail(OLIVE_EINVALID, "%s: set dim_param or input_name, not both", PASS);
    else if (rc == OLIVE_OK && !np && !nn)
        rc = olive_fail(OLIVE_EINVALID, "%s: set dim_param (with dim_value) or input_name (with input_shape)", PASS);
    else if (rc == OLIVE_OK && !np && nv)
        rc = olive_fail(OLIVE_EINVALID, "%s: dim_value needs dim_param", PASS);
    else if (rc == OLIVE_OK && !nn && shapes[0])
        rc = olive_fail(OLIVE_EINVALID, "%s: input_shape needs input_name", PASS);
    else if (rc == OLIVE_OK && np)
        rc = by_dim_params(m, params, np, values, nv);
    else if (rc == OLIVE_OK)
        rc = by_input_shapes(m, names, nn, shapes[0] ? shapes : "[]");
    free_list(params);
    free_list(values);
    free_list(names);
    if (rc == OLIVE_OK)
        rc = olive_pass_progress(ctx, 1.0);
    return rc;
}

static const olive_param_spec params[] = {
    {.name = "dim_param",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Symbolic dimension names to fix (with dim_value)"},
    {.name = "dim_value",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "The value for each dim_param (integers >= 0)"},
    {.name = "input_name",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Graph inputs whose shape to set (with input_shape)"},
    {.name = "input_shape",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "JSON list of shapes, one per input_name, sizes > 0: [[1, 3, 224, 224]]"},
};

static const olive_pass_type olive_types[] = {{"DynamicToFixedShape", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_dynamic_to_fixed_shape = {
    .name = "dynamic_to_fixed_shape",
    .summary = "Fixes symbolic dimensions (dim_param -> dim_value) or input shapes (input_name -> input_shape)",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
