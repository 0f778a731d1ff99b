/* Surgeons on the graph's interface: renaming, reordering, removing and exposing inputs and
 * outputs, naming their dimensions, and feeding zeros to a node input. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

/* The names a list of value infos holds, for messages ("a, b, c"). Owned by the caller. */
static char *names_of(const oir_value_info *v, size_t n)
{
    olive_strbuf b = {0};
    olive_strbuf_append(&b, "");
    for (size_t i = 0; i < n; i++)
        olive_strbuf_printf(&b, "%s%s", i ? ", " : "", v[i].name);
    return olive_strbuf_take(&b);
}

static int not_found(const sg_args *a, const char *param, const char *what, const char *name, const oir_value_info *v,
                     size_t n)
{
    char *known = names_of(v, n);
    int rc = sg_fail(a, param, "'%s' is not a graph %s (the graph's %ss: %s)", name, what, what, known ? known : "");
    free(known);
    return rc;
}

/* 1 if any node, initializer or graph input already defines `name`. */
static int defined(const oir_graph *g, const char *name)
{
    return oir_graph_input_index(g, name) >= 0 || oir_graph_initializer_index(g, name) >= 0 ||
           sg_producer(g, name) != NULL;
}

/* RenameInputs / RenameOutputs: the value is renamed everywhere it is read, as Olive's IR
 * does when it renames the graph input or output. */
static int rename_io(oir_model *m, const sg_args *a, int outputs)
{
    oir_graph *g = m->graph;
    size_t n = sg_list_len(a, "old_names");
    const char *what = outputs ? "output" : "input";
    if (sg_list_len(a, "new_names") != n)
        return sg_fail(a, "new_names", "has %zu names but old_names has %zu", sg_list_len(a, "new_names"), n);
    for (size_t i = 0; i < n; i++) {
        const char *from = sg_list_string(a, "old_names", i), *to = sg_list_string(a, "new_names", i);
        long at = outputs ? oir_graph_output_index(g, from) : oir_graph_input_index(g, from);
        if (at < 0)
            return outputs ? not_found(a, "old_names", what, from, g->outputs, g->n_outputs)
                           : not_found(a, "old_names", what, from, g->inputs, g->n_inputs);
        if (!to[0])
            return sg_fail(a, "new_names", "an empty name for '%s'", from);
        if (strcmp(from, to) && (defined(g, to) || oir_graph_output_index(g, to) >= 0))
            return sg_fail(a, "new_names", "'%s' is already a value of the graph", to);
    }
    for (size_t i = 0; i < n; i++)
        OLIVE_TRY(oir_graph_rename_value(g, sg_list_string(a, "old_names", i), sg_list_string(a, "new_names", i)));
    return OLIVE_OK;
}

static int rename_inputs(oir_model *m, const sg_args *a)
{
    return rename_io(m, a, 0);
}
static int rename_outputs(oir_model *m, const sg_args *a)
{
    return rename_io(m, a, 1);
}

/* Initializers listed as graph inputs sit at the end of the list (older IR versions). */
static int remove_initializer_from_inputs(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    while (g->n_inputs && oir_graph_initializer_index(g, g->inputs[g->n_inputs - 1].name) >= 0)
        oir_graph_remove_input(g, g->n_inputs - 1);
    return OLIVE_OK;
}

static int reorder_inputs(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    size_t n = sg_list_len(a, "permutation");
    oir_value_info *reordered;
    char *seen;
    if (n != g->n_inputs)
        return sg_fail(a, "permutation", "must list each of the graph's %zu inputs once; it has %zu entries",
                       g->n_inputs, n);
    if (!(seen = olive_calloc(n + 1, 1)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int64_t k = sg_list_int(a, "permutation", i);
        if (k < 0 || (uint64_t)k >= n || seen[k]) {
            free(seen);
            return sg_fail(a, "permutation", "must be a rearrangement of 0..%zu; entry %zu is %lld", n - 1, i,
                           (long long)k);
        }
        seen[k] = 1;
    }
    free(seen);
    if (!n)
        return OLIVE_OK;
    if (!(reordered = olive_calloc(n, sizeof *reordered)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        reordered[i] = g->inputs[sg_list_int(a, "permutation", i)];
    memcpy(g->inputs, reordered, n * sizeof *reordered);
    free(reordered);
    return OLIVE_OK;
}

/* Removes graph inputs and every node input that reads them (later inputs shift left, as in
 * Olive); a node left with no inputs goes too. */
static int remove_inputs(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    size_t n = sg_list_len(a, "names");
    for (size_t i = 0; i < n; i++)
        if (oir_graph_input_index(g, sg_list_string(a, "names", i)) < 0)
            return not_found(a, "names", "input", sg_list_string(a, "names", i), g->inputs, g->n_inputs);
    for (size_t i = 0; i < n; i++) {
        const char *name = sg_list_string(a, "names", i);
        long at = oir_graph_input_index(g, name);
        if (at >= 0)
            oir_graph_remove_input(g, (size_t)at);
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *node = g->nodes[i];
        size_t kept = 0, before = node->n_inputs;
        for (size_t j = 0; j < node->n_inputs; j++) {
            int drop = 0;
            for (size_t k = 0; k < n && !drop; k++)
                drop = !strcmp(node->inputs[j], sg_list_string(a, "names", k));
            if (drop)
                free(node->inputs[j]);
            else
                node->inputs[kept++] = node->inputs[j];
        }
        node->n_inputs = kept;
        node->mark = before && !kept;
    }
    oir_graph_remove_marked_nodes(g);
    return OLIVE_OK;
}

/* The first output of each named node becomes a graph output (in node order). */
static int expose_outputs(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    size_t n = sg_list_len(a, "names");
    for (size_t i = 0; i < n; i++) {
        oir_node *node = sg_node_named(g, sg_list_string(a, "names", i), 0);
        if (!node)
            return sg_fail(a, "names", "no node is named '%s'", sg_list_string(a, "names", i));
        if (!node->n_outputs || !node->outputs[0][0])
            return sg_fail(a, "names", "node '%s' has no first output", node->name);
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *node = g->nodes[i];
        int wanted = 0;
        for (size_t k = 0; k < n && !wanted; k++)
            wanted = node->name && !strcmp(node->name, sg_list_string(a, "names", k));
        if (wanted && oir_graph_output_index(g, node->outputs[0]) < 0)
            OLIVE_TRY(oir_graph_add_output(g, node->outputs[0], sg_value_type(g, node->outputs[0])));
    }
    return OLIVE_OK;
}

/* Moves the last graph output to position `at`. */
static void move_last_output(oir_graph *g, size_t at)
{
    oir_value_info last = g->outputs[g->n_outputs - 1];
    memmove(&g->outputs[at + 1], &g->outputs[at], (g->n_outputs - 1 - at) * sizeof *g->outputs);
    g->outputs[at] = last;
}

/* An Identity node "<output>_exposed_<what>" reading a one-element initializer, as a new
 * graph output "<...>_output". */
static int add_exposed(oir_graph *g, const char *output, const char *what, int32_t dtype, double value)
{
    char *name = olive_asprintf("%s_exposed_%s", output, what);
    char *init = name ? olive_asprintf("%s_value", name) : NULL;
    char *out = name ? olive_asprintf("%s_output", name) : NULL;
    int64_t one = 1;
    oir_type *ty = oir_type_new_tensor(dtype, 1, &one, NULL);
    int rc = name && init && out && ty ? OLIVE_OK : OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = sg_add_scalar(g, init, dtype, 1, value);
    if (rc == OLIVE_OK &&
        !sg_add_node(g, "Identity", "", name, 1, (const char *const *)&init, 1, (const char *const *)&out))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = oir_graph_add_output(g, out, ty);
    oir_type_free(ty);
    free(name);
    free(init);
    free(out);
    return rc;
}

/* Replaces a DequantizeLinear graph output with the quantized tensor before it, and exposes
 * the QuantizeLinear's scale and zero point as two more outputs. */
static int expose_quantized_output(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    const char *output = sg_string(a, "output_name", "");
    long at = oir_graph_output_index(g, output);
    oir_node *deq, *q;
    const oir_tensor *scale, *zp;
    oir_type *u8;
    char *qname;
    long di;
    if (at < 0)
        return not_found(a, "output_name", "output", output, g->outputs, g->n_outputs);
    if (!(deq = sg_node_named(g, output, 1)) || !deq->n_inputs)
        return sg_fail(a, "output_name", "no node produces '%s' as its first output", output);
    if (!(q = sg_node_named(g, deq->inputs[0], 1)))
        return sg_fail(a, "output_name", "the tensor '%s' that node '%s' reads is not a node's first output",
                       deq->inputs[0], deq->name);
    if (q->n_inputs < 3 || !(scale = oir_graph_initializer(g, q->inputs[1])) ||
        !(zp = oir_graph_initializer(g, q->inputs[2])))
        return sg_fail(a, "output_name", "node '%s' must read its scale and zero point from initializers", q->name);
    if (!scale->nbytes || !zp->nbytes)
        return sg_fail(a, "output_name", "the scale or zero point of node '%s' is empty", q->name);
    if (!(qname = olive_strdup(deq->inputs[0])) || !(u8 = oir_type_new_tensor(OIR_UINT8, 0, NULL, NULL))) {
        free(qname);
        return OLIVE_ENOMEM;
    }
    oir_graph_remove_output(g, (size_t)at);
    di = sg_node_index(g, deq);
    oir_graph_remove_node(g, (size_t)di);
    if (oir_graph_add_output(g, qname, u8) != OLIVE_OK) {
        oir_type_free(u8);
        free(qname);
        return OLIVE_ENOMEM;
    }
    oir_type_free(u8);
    move_last_output(g, (size_t)at);
    free(qname);
    OLIVE_TRY(add_exposed(g, output, "scale", OIR_FLOAT, sg_decode(scale, 0)));
    return add_exposed(g, output, "zero_point", zp->dtype, sg_decode(zp, 0));
}

/* Sets dimension `dim_idx` of a value's type to the symbolic name. */
static int set_dim_name(const sg_args *a, oir_value_info *v, const char *what)
{
    int64_t d = sg_int(a, "dim_idx", 0);
    const char *dim_name = sg_string(a, "dim_name", "");
    char *copy;
    if (!v->type || v->type->kind != OIR_TYPE_TENSOR || !v->type->has_shape)
        return sg_fail(a, NULL, "%s '%s' has no shape information", what, v->name);
    if (d < 0 || (uint64_t)d >= v->type->rank)
        return sg_fail(a, "dim_idx", "%lld is out of range: %s '%s' has %zu dimensions", (long long)d, what, v->name,
                       v->type->rank);
    if (!(copy = olive_strdup(dim_name)))
        return OLIVE_ENOMEM;
    free(v->type->dims[d].param);
    v->type->dims[d].param = copy;
    v->type->dims[d].has_value = 0;
    v->type->dims[d].value = 0;
    return OLIVE_OK;
}

static int rename_output_dims(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    int64_t i = sg_int(a, "output_idx", 0);
    if (i < 0 || (uint64_t)i >= g->n_outputs)
        return sg_fail(a, "output_idx", "%lld is out of range: the model has %zu outputs", (long long)i, g->n_outputs);
    return set_dim_name(a, &g->outputs[i], "output");
}

static int rename_input_dims(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    long i;
    if (sg_has(a, "input_name")) {
        if ((i = oir_graph_input_index(g, sg_string(a, "input_name", ""))) < 0)
            return not_found(a, "input_name", "input", sg_string(a, "input_name", ""), g->inputs, g->n_inputs);
    } else if (sg_has(a, "input_idx")) {
        int64_t k = sg_int(a, "input_idx", 0);
        if (k < 0 || (uint64_t)k >= g->n_inputs)
            return sg_fail(a, "input_idx", "%lld is out of range: the model has %zu inputs", (long long)k, g->n_inputs);
        i = (long)k;
    } else {
        return sg_fail(a, NULL, "either 'input_name' or 'input_idx' must be given");
    }
    return set_dim_name(a, &g->inputs[i], "input");
}

/* A Constant of zeros "<node>_zero" takes the place of input `input_idx` of the named node;
 * its shape and type come from the value it replaces (dynamic dimensions become 1). */
static int zero_out_input(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    const char *node_name = sg_string(a, "node_name", "");
    int64_t idx = sg_int(a, "input_idx", 0);
    oir_node *node = sg_node_named(g, node_name, 0), *c;
    const oir_tensor *init;
    const oir_type *ty;
    oir_tensor *zeros;
    int64_t *dims = NULL;
    size_t rank = 0;
    int32_t dtype;
    uint64_t nbytes;
    char *tname, *cname, *cout;
    void *data;
    int rc;
    if (!node)
        return sg_fail(a, "node_name", "no node is named '%s'", node_name);
    if (idx < 0 || (uint64_t)idx >= node->n_inputs || !node->inputs[idx][0])
        return sg_fail(a, "input_idx", "node '%s' has no input %lld (it has %zu)", node_name, (long long)idx,
                       node->n_inputs);
    if ((init = oir_graph_initializer(g, node->inputs[idx])) && oir_graph_input_index(g, node->inputs[idx]) < 0) {
        dtype = init->dtype;
        rank = init->rank;
        dims = rank ? olive_memdup(init->dims, rank * sizeof *dims) : NULL;
    } else {
        ty = sg_value_type(g, node->inputs[idx]);
        if (!ty || ty->kind != OIR_TYPE_TENSOR || !ty->has_shape || !ty->elem_type)
            return sg_fail(a, "input_idx",
                           "the shape and type of '%s' are unknown (no value_info; run InferShapes "
                           "first)",
                           node->inputs[idx]);
        dtype = ty->elem_type;
        rank = ty->rank;
        if (rank && (dims = olive_calloc(rank, sizeof *dims)))
            for (size_t d = 0; d < rank; d++)
                dims[d] = ty->dims[d].has_value && ty->dims[d].value > 0 ? ty->dims[d].value : 1;
    }
    if (rank && !dims)
        return OLIVE_ENOMEM;
    if (dtype == OIR_STRING || !oir_dtype_bits(dtype)) {
        free(dims);
        return sg_fail(a, "input_idx", "'%s' has type %s, which has no zero", node->inputs[idx], oir_dtype_name(dtype));
    }
    tname = olive_asprintf("%s_zero_tensor", node_name);
    cname = olive_asprintf("%s_zero", node_name);
    cout = olive_asprintf("%s_zero_output_0", node_name);
    zeros = tname ? oir_tensor_new(tname, dtype, rank, dims) : NULL;
    free(dims);
    rc = zeros && cname && cout ? oir_tensor_expected_bytes(zeros, &nbytes) : OLIVE_ENOMEM;
    data = rc == OLIVE_OK ? olive_calloc(1, nbytes ? (size_t)nbytes : 1) : NULL;
    if (rc == OLIVE_OK && !data)
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = oir_tensor_set_copy(zeros, data, nbytes);
    free(data);
    if (rc == OLIVE_OK && !(c = sg_add_node(g, "Constant", "", cname, 0, NULL, 1, (const char *const *)&cout)))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK) {
        rc = oir_node_set_attr_tensor(c, "value", zeros);
        if (rc == OLIVE_OK)
            zeros = NULL;
    }
    if (rc == OLIVE_OK)
        rc = oir_node_set_input(node, (size_t)idx, cout);
    oir_tensor_free(zeros);
    free(tname);
    free(cname);
    free(cout);
    return rc;
}

static const sg_param p_rename[] = {{"old_names", SG_STRINGS, 1}, {"new_names", SG_STRINGS, 1}, {NULL, 0, 0}};
static const sg_param p_permutation[] = {{"permutation", SG_INTS, 1}, {NULL, 0, 0}};
static const sg_param p_names[] = {{"names", SG_STRINGS, 1}, {NULL, 0, 0}};
static const sg_param p_output_name[] = {{"output_name", SG_STRING, 1}, {NULL, 0, 0}};
static const sg_param p_output_dims[] = {{"output_idx", SG_INT, 1},
                                         {"dim_idx", SG_INT, 1},
                                         {"dim_name", SG_STRING, 1},
                                         {NULL, 0, 0}};
static const sg_param p_input_dims[] = {{"dim_idx", SG_INT, 1},
                                        {"dim_name", SG_STRING, 1},
                                        {"input_name", SG_STRING, 0},
                                        {"input_idx", SG_INT, 0},
                                        {NULL, 0, 0}};
static const sg_param p_zero[] = {{"node_name", SG_STRING, 1}, {"input_idx", SG_INT, 1}, {NULL, 0, 0}};
static const sg_param p_none[] = {{NULL, 0, 0}};

const sg_surgeon sg_family_io[] = {
    SG_SURGEON("RenameInputs", "Renames graph inputs (old_names -> new_names) everywhere they are read", p_rename,
               rename_inputs),
    SG_SURGEON("RenameOutputs", "Renames graph outputs (old_names -> new_names) and the values behind them", p_rename,
               rename_outputs),
    SG_SURGEON("RemoveInitializerFromInputs", "Drops initializers listed at the end of the graph inputs", p_none,
               remove_initializer_from_inputs),
    SG_SURGEON("ReorderInputs", "Reorders the graph inputs by a permutation of their indices", p_permutation,
               reorder_inputs),
    SG_SURGEON("RemoveInputs", "Removes graph inputs and the node inputs that read them", p_names, remove_inputs),
    SG_SURGEON("ExposeOutputs", "Makes the first output of each named node a graph output", p_names, expose_outputs),
    SG_SURGEON("ExposeQuantizedOutput", "Exposes a dequantized output's quantized tensor, scale and zero point",
               p_output_name, expose_quantized_output),
    SG_SURGEON("RenameOutputDims", "Names dimension dim_idx of output output_idx", p_output_dims, rename_output_dims),
    SG_SURGEON("RenameInputDims", "Names dimension dim_idx of an input (by input_name or input_idx)", p_input_dims,
               rename_input_dims),
    SG_SURGEON("ZeroOutInput", "Feeds a Constant of zeros to input input_idx of the named node", p_zero,
               zero_out_input),
    SG_END,
};
