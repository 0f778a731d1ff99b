/* Surgeons of Olive releases after 0.13 (checked by hand-written expectations, not against
 * olive-ai 0.13, which lacks them): output Casts, Constant attribute spellings, value_info of
 * initializers. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

/* Each named graph output not already of type `to` is written by a Cast "Cast_<name>_<to>"
 * reading the old value, renamed "<name>_<its type>" (with "_<n>" when taken): the model's
 * interface keeps its names. */
static int cast_outputs(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    const char *to_text = sg_string(a, "to", "");
    int32_t to = oir_dtype_from_name(to_text);
    size_t n = sg_list_len(a, "names");
    if (!to || to == OIR_STRING)
        return sg_fail(a, "to", "'%s' is not a numeric ONNX type name (float, float16, bfloat16, ...)", to_text);
    for (size_t i = 0; i < n; i++) {
        const char *name = sg_list_string(a, "names", i);
        if (oir_graph_output_index(g, name) < 0)
            return sg_fail(a, "names", "'%s' is not a graph output", name);
        if (oir_graph_input_index(g, name) >= 0)
            return sg_fail(a, "names", "graph output '%s' is also a graph input: add an Identity first", name);
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        char *name = olive_strdup(g->outputs[i].name), *base = NULL, *src = NULL, *cast = NULL;
        oir_type *t = g->outputs[i].type;
        int wanted = 0, rc = name ? OLIVE_OK : OLIVE_ENOMEM;
        for (size_t k = 0; k < n && name && !wanted; k++)
            wanted = !strcmp(sg_list_string(a, "names", k), name);
        if (!wanted || (t && t->kind == OIR_TYPE_TENSOR && t->elem_type == to)) {
            free(name);
            OLIVE_TRY(rc);
            continue;
        }
        base = olive_asprintf("%s_%s", name,
                              t && t->kind == OIR_TYPE_TENSOR && t->elem_type ? oir_dtype_name(t->elem_type) : "src");
        src = base ? olive_strdup(base) : NULL;
        for (int k = 1; src && (sg_producer(g, src) || oir_graph_initializer(g, src) ||
                                oir_graph_input_index(g, src) >= 0 || oir_graph_output_index(g, src) >= 0);
             k++) {
            free(src);
            src = olive_asprintf("%s_%d", base, k);
        }
        cast = olive_asprintf("Cast_%s_%s", name, to_text);
        rc = src && cast ? oir_graph_rename_value(g, name, src) : OLIVE_ENOMEM;
        if (rc == OLIVE_OK) {
            /* the graph output keeps its name and now has the target type */
            char *keep = olive_strdup(name);
            oir_node *c;
            if (!keep) {
                rc = OLIVE_ENOMEM;
            } else {
                free(g->outputs[i].name);
                g->outputs[i].name = keep;
                if (t && t->kind == OIR_TYPE_TENSOR)
                    t->elem_type = to;
                if (!(c = sg_add_node(g, "Cast", "", cast, 1, (const char *const *)&src, 1,
                                      (const char *const *)&name)))
                    rc = OLIVE_ENOMEM;
                else
                    rc = oir_node_set_attr_int(c, "to", to);
            }
        }
        free(name), free(base), free(src), free(cast);
        OLIVE_TRY(rc);
    }
    return OLIVE_OK;
}

/* Constant nodes holding value_int(s) / value_float(s) / value_string(s) hold the same data as
 * a `value` tensor (named after the output). */
static int constant_attrs_in(oir_graph *g, int depth, void *user)
{
    (void)depth;
    (void)user;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        oir_tensor *t = NULL;
        int rc = OLIVE_OK;
        if (strcmp(n->op_type, "Constant") || n->domain[0] || !n->n_outputs || oir_node_attr(n, "value"))
            continue;
        for (size_t k = 0; k < n->n_attrs && !t && rc == OLIVE_OK; k++) {
            const oir_attr *at = &n->attrs[k];
            int64_t dim = (int64_t)at->n;
            if (!strcmp(at->name, "value_int") || !strcmp(at->name, "value_float")) {
                int is_int = at->name[6] == 'i';
                if ((t = oir_tensor_new(n->outputs[0], is_int ? OIR_INT64 : OIR_FLOAT, 0, NULL)))
                    rc = is_int ? oir_tensor_set_copy(t, &at->i, 8) : oir_tensor_set_copy(t, &at->f, 4);
            } else if (!strcmp(at->name, "value_ints") || !strcmp(at->name, "value_floats")) {
                int is_int = at->name[6] == 'i';
                if ((t = oir_tensor_new(n->outputs[0], is_int ? OIR_INT64 : OIR_FLOAT, 1, &dim)))
                    rc = is_int ? oir_tensor_set_copy(t, at->ints, at->n * 8)
                                : oir_tensor_set_copy(t, at->floats, at->n * 4);
            } else if (!strcmp(at->name, "value_string") || !strcmp(at->name, "value_strings")) {
                int one = !strcmp(at->name, "value_string");
                size_t cnt = one ? 1 : at->n;
                if ((t = oir_tensor_new(n->outputs[0], OIR_STRING, one ? 0 : 1, &dim))) {
                    t->strings = olive_calloc(cnt + 1, sizeof *t->strings);
                    t->n_strings = t->strings ? cnt : 0;
                    for (size_t s = 0; t->strings && s < cnt && rc == OLIVE_OK; s++) {
                        const oir_bytes *src = one ? &at->s : &at->strings[s];
                        if (!(t->strings[s].data = olive_malloc(src->len + 1)))
                            rc = OLIVE_ENOMEM;
                        else {
                            memcpy(t->strings[s].data, src->data, src->len);
                            t->strings[s].data[src->len] = 0;
                            t->strings[s].len = src->len;
                        }
                    }
                    if (!t->strings)
                        rc = OLIVE_ENOMEM;
                }
            } else {
                continue;
            }
            if (!t)
                rc = OLIVE_ENOMEM;
        }
        if (rc == OLIVE_OK && t) {
            while (n->n_attrs)
                oir_node_remove_attr(n, n->attrs[0].name);
            if ((rc = oir_node_set_attr_tensor(n, "value", t)) == OLIVE_OK)
                t = NULL;
        }
        oir_tensor_free(t);
        OLIVE_TRY(rc);
    }
    return OLIVE_OK;
}

static int constant_attributes_to_tensor(oir_model *m, const sg_args *a)
{
    (void)a;
    return oir_model_for_each_graph(m, constant_attrs_in, NULL);
}

static int initializer_value_info_in(oir_graph *g, int depth, void *user)
{
    (void)depth;
    (void)user;
    for (size_t i = g->n_value_info; i-- > 0;)
        if (oir_graph_initializer_index(g, g->value_info[i].name) >= 0)
            oir_graph_remove_value_info(g, i);
    return OLIVE_OK;
}

static int remove_initializer_value_info(oir_model *m, const sg_args *a)
{
    (void)a;
    return oir_model_for_each_graph(m, initializer_value_info_in, NULL);
}

static const sg_param p_none[] = {{NULL, 0, 0}};
static const sg_param p_cast[] = {{"names", SG_STRINGS, 1}, {"to", SG_STRING, 1}, {NULL, 0, 0}};

const sg_surgeon sg_family_newer[] = {
    SG_SURGEON("CastOutputs", "Casts the named graph outputs to type `to`, keeping their names", p_cast, cast_outputs),
    SG_SURGEON("ConstantAttributesToTensor", "Constant value_int(s)/value_float(s)/value_string(s) as a value tensor",
               p_none, constant_attributes_to_tensor),
    SG_SURGEON("RemoveInitializerValueInfo", "Drops value_info entries that describe initializers", p_none,
               remove_initializer_value_info),
    SG_END,
};
