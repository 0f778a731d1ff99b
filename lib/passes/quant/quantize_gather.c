/* The quantize pass on embedding tables: Gather on a constant float table becomes
 * com.microsoft GatherBlockQuantized (gather_quant.h), and a tied lm_head, MatMul(x,
 * Transpose(table)), is quantized into MatMulNBits from the table itself. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/quant/gather_quant.h"
#include "passes/quant/quantize_internal.h"

/* The table of Gather `n` if it can be quantized, else NULL after an info line. */
static oir_tensor *quantizable_table(quant_run *r, oir_graph *g, const oir_node *n)
{
    const char *who = olive_qnode_label(n);
    oir_tensor *t;
    uint64_t want;
    if (n->n_inputs != 2 || n->n_outputs != 1 || !n->inputs[0][0] || !n->inputs[1][0]) {
        OLIVE_INFO("quantize: skipping Gather '%s': it does not have two inputs and one output", who);
        return NULL;
    }
    if (r->q.bits != 4 && !r->olive) {
        OLIVE_INFO("quantize: skipping Gather '%s': GatherBlockQuantized tables are quantized with 4 bits only", who);
        return NULL;
    }
    t = olive_qrun_initializer(r, g, n->inputs[0]);
    if (!t || oir_graph_input_index(r->owner, n->inputs[0]) >= 0) {
        OLIVE_INFO("quantize: skipping Gather '%s': its table '%s' is not a constant initializer of its graph", who,
                   n->inputs[0]);
        return NULL;
    }
    if ((t->dtype != OIR_FLOAT && t->dtype != OIR_FLOAT16) || t->rank < 1) {
        OLIVE_INFO("quantize: skipping Gather '%s': table '%s' is not a float or float16 tensor", who, t->name);
        return NULL;
    }
    if (!t->blob || oir_tensor_expected_bytes(t, &want) != OLIVE_OK || want != t->nbytes || want == 0) {
        OLIVE_INFO("quantize: skipping Gather '%s': table '%s' has no data of the size its shape needs", who, t->name);
        return NULL;
    }
    return t;
}

/* Olive's layout (gather_quant.h): quantize_axis the last axis, UINT8 codes and zero points. */
static int olive_gather_tensors(quant_run *r, oir_graph *g, const oir_tensor *t, const oir_node *n,
                                quantized_weight **out)
{
    const int sym = olive_args_bool(r->args, "is_symmetric"), bits = r->q.bits;
    const size_t rank = t->rank, last = rank - 1;
    const int64_t kb = (t->dims[last] + r->q.block_size - 1) / r->q.block_size;
    int64_t *dims; /* codes, scales, zero points: rank each */
    quantized_weight w = {0};
    olive_quant_out o;
    int rc;
    if ((*out = olive_qrun_cached(r, t->name, QW_GATHER)))
        return OLIVE_OK;
    if (!(dims = malloc(3 * rank * sizeof *dims)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    if ((rc = olive_gather_quantize_olive(t, r->q.block_size, bits, sym, olive_qnode_label(n), &o)) != OLIVE_OK) {
        free(dims);
        return rc;
    }
    for (int i = 0; i < 3; i++)
        memcpy(dims + i * rank, t->dims, rank * sizeof *dims);
    dims[last] = bits == 4 ? (t->dims[last] + 1) / 2 : t->dims[last];
    dims[rank + last] = kb;
    dims[2 * rank + last] = bits == 4 ? (kb + 1) / 2 : kb;
    w.kind = QW_GATHER;
    char *bases[3] = {olive_asprintf("%s_Q%d", t->name, bits), olive_asprintf("%s_scales", t->name),
                      olive_asprintf("%s_zero_point", t->name)};
    olive_blob *data[3] = {o.codes, o.scales, o.zps};
    rc = (w.source = olive_strdup(t->name)) && bases[0] && bases[1] && bases[2]
             ? OLIVE_OK
             : olive_fail(OLIVE_ENOMEM, "out of memory");
    for (int i = 0; i < (sym ? 2 : 3) && rc == OLIVE_OK; i++)
        rc = !(w.names[i] = oir_graph_unique_name(g, bases[i]))
                 ? olive_fail(OLIVE_ENOMEM, "out of memory")
                 : olive_qrun_add_tensor(r, g, w.names[i], i == 1 ? t->dtype : OIR_UINT8, rank, dims + i * rank,
                                         data[i]);
    for (int i = 0; i < 3; i++)
        free(bases[i]);
    olive_quant_out_free(&o);
    free(dims);
    if (rc != OLIVE_OK) {
        olive_qweight_clear(&w);
        return rc;
    }
    return olive_qrun_remember(r, &w, out);
}

static int gather_tensors(quant_run *r, oir_graph *g, const oir_tensor *t, size_t axis, const oir_node *n,
                          quantized_weight **out)
{
    const int sym = olive_args_bool(r->args, "is_symmetric");
    const int64_t bs = r->q.block_size;
    int64_t *dims = malloc(t->rank * sizeof *dims);
    static const char *const suffix[3] = {"_Q4", "_scales", "_zero_points"};
    quantized_weight w = {0};
    olive_quant_out o;
    int rc = OLIVE_OK;
    if ((*out = olive_qrun_cached(r, t->name, QW_GATHER)) || !dims) {
        free(dims);
        return *out ? OLIVE_OK : olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    if ((rc = olive_gather_quantize(t, axis, (int)bs, sym, olive_qnode_label(n), &o)) != OLIVE_OK) {
        free(dims);
        return rc;
    }
    memcpy(dims, t->dims, t->rank * sizeof *dims);
    dims[axis] = (t->dims[axis] + bs - 1) / bs;
    w.kind = QW_GATHER;
    if (!(w.source = olive_strdup(t->name)))
        rc = olive_fail(OLIVE_ENOMEM, "out of memory");
    for (int i = 0; i < 3 && rc == OLIVE_OK; i++) {
        char *base;
        if (i == 2 && sym)
            break;
        base = olive_asprintf("%s%s", t->name, suffix[i]);
        w.names[i] = base ? oir_graph_unique_name(g, base) : NULL;
        free(base);
        if (!w.names[i])
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
        else if (i == 0) /* INT4 codes when symmetric, else UINT4 with zero points */
            rc = olive_qrun_add_tensor(r, g, w.names[0], sym ? OIR_INT4 : OIR_UINT4, t->rank, t->dims, o.codes);
        else if (i == 1)
            rc = olive_qrun_add_tensor(r, g, w.names[1], t->dtype, t->rank, dims, o.scales);
        else
            rc = olive_qrun_add_tensor(r, g, w.names[2], OIR_UINT4, t->rank, dims, o.zps);
    }
    olive_quant_out_free(&o);
    free(dims);
    if (rc != OLIVE_OK) {
        olive_qweight_clear(&w);
        return rc;
    }
    return olive_qrun_remember(r, &w, out);
}

/* Olive writes three forms that ONNX Runtime cannot run as the Gather did: a 1-D table (its
 * GatherBlockQuantized needs rank > 1), a gather axis other than 0 (refused with UINT8 data)
 * and 4-bit rows of odd length (it reads the padding nibble as one more column). Those Gathers
 * stay float here. */
static int olive_runnable(const quant_run *r, const oir_node *n, const oir_tensor *t)
{
    const int64_t axis = oir_node_attr_int(n, "axis", 0);
    if (t->rank < 2) {
        OLIVE_INFO("quantize: skipping Gather '%s': GatherBlockQuantized needs a table of rank 2 or more, '%s' "
                   "has rank %zu",
                   olive_qnode_label(n), t->name, t->rank);
        return 0;
    }
    if (axis != 0 && axis != -(int64_t)t->rank) {
        OLIVE_INFO("quantize: skipping Gather '%s': GatherBlockQuantized with UINT8 data gathers along axis 0 "
                   "only, not %" PRId64,
                   olive_qnode_label(n), axis);
        return 0;
    }
    if (r->q.bits == 4 && t->dims[t->rank - 1] % 2) {
        OLIVE_INFO("quantize: skipping Gather '%s': table '%s' has rows of odd length %" PRId64
                   ", which 4-bit GatherBlockQuantized reads one column longer",
                   olive_qnode_label(n), t->name, t->dims[t->rank - 1]);
        return 0;
    }
    return 1;
}

int olive_quantize_gather_node(quant_run *r, oir_graph *g, size_t i, int *replaced)
{
    oir_node *n = g->nodes[i], *q;
    oir_tensor *t;
    quantized_weight *w;
    int64_t rank, axis;
    char *name;
    const char *ins[4];
    *replaced = 0;
    if (!(t = quantizable_table(r, g, n)) || (r->olive && !olive_runnable(r, n, t)))
        return OLIVE_OK;
    rank = (int64_t)t->rank;
    axis = r->olive ? rank - 1 : r->gather_axis; /* Olive: the last axis, as GatherBlockQuantized needs */
    if (axis < -rank || axis >= rank)
        return olive_fail(OLIVE_EINVALID,
                          "gather_quantize_axis=%" PRId64 ": table '%s' of Gather '%s' has rank %" PRId64, axis,
                          t->name, olive_qnode_label(n), rank);
    axis = (axis + rank) % rank;
    OLIVE_TRY(r->olive ? olive_gather_tensors(r, r->owner, t, n, &w)
                       : gather_tensors(r, r->owner, t, (size_t)axis, n, &w));
    ins[0] = w->names[0];
    ins[1] = n->inputs[1];
    ins[2] = w->names[1];
    ins[3] = w->names[2];
    name = n->name[0] ? olive_asprintf("%s_Q%d", n->name, r->olive ? r->q.bits : 4) : olive_strdup("");
    q = name ? oir_node_new("GatherBlockQuantized", "com.microsoft", name, w->names[2] ? 4 : 3, ins, 1,
                            (const char *const *)n->outputs)
             : NULL;
    free(name);
    if (!q || oir_node_set_attr_int(q, "gather_axis", oir_node_attr_int(n, "axis", 0)) != OLIVE_OK ||
        oir_node_set_attr_int(q, "quantize_axis", axis) != OLIVE_OK ||
        oir_node_set_attr_int(q, "block_size", r->q.block_size) != OLIVE_OK ||
        (r->olive && oir_node_set_attr_int(q, "bits", r->q.bits) != OLIVE_OK)) {
        oir_node_free(q);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    oir_graph_replace_node(g, i, q);
    *replaced = 1;
    return r->olive ? olive_qrun_olive_output(r, g, q, r->q.bits) : OLIVE_OK;
}

/* The Transpose producing `value` from a constant 2-D float table of g, or NULL. */
static oir_node *transpose_of_table(oir_graph *g, const char *value, oir_tensor **table)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        oir_attr *perm;
        oir_tensor *t;
        uint64_t want;
        if (n->n_outputs != 1 || strcmp(n->outputs[0], value))
            continue;
        if (strcmp(n->op_type, "Transpose") || (n->domain[0] && strcmp(n->domain, "ai.onnx")) || n->n_inputs != 1)
            return NULL;
        perm = oir_node_attr(n, "perm");
        if (perm && (perm->n != 2 || perm->ints[0] != 1 || perm->ints[1] != 0))
            return NULL;
        t = oir_graph_initializer(g, n->inputs[0]);
        if (!t || oir_graph_input_index(g, n->inputs[0]) >= 0 || (t->dtype != OIR_FLOAT && t->dtype != OIR_FLOAT16) ||
            t->rank != 2 || t->dims[0] < 1 || t->dims[1] < 1 || t->dims[0] > INT32_MAX || t->dims[1] > INT32_MAX ||
            !t->blob || oir_tensor_expected_bytes(t, &want) != OLIVE_OK || want != t->nbytes)
            return NULL;
        *table = t;
        return n;
    }
    return NULL;
}

oir_tensor *olive_tied_weight(quant_run *r, oir_graph *g, const char *value)
{
    oir_tensor *e = NULL, *t;
    olive_blob *b = NULL;
    const uint8_t *src;
    uint8_t *dst;
    size_t rows, cols, es;
    if (!transpose_of_table(g, value, &e))
        return NULL;
    rows = (size_t)e->dims[0];
    cols = (size_t)e->dims[1];
    es = e->dtype == OIR_FLOAT16 ? 2 : 4;
    t = oir_tensor_new(e->name, e->dtype, 2, (const int64_t[]){(int64_t)cols, (int64_t)rows});
    if (!t || !(dst = malloc(rows * cols * es))) {
        oir_tensor_free(t);
        OLIVE_INFO("quantize: out of memory transposing table '%s'; its MatMul stays", e->name);
        return NULL;
    }
    src = oir_tensor_data(e);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            memcpy(dst + (j * rows + i) * es, src + (i * cols + j) * es, es);
    if (olive_blob_from_heap(&b, dst, rows * cols * es) != OLIVE_OK ||
        oir_tensor_set_blob(t, b, 0, rows * cols * es) != OLIVE_OK) {
        olive_blob_unref(b);
        oir_tensor_free(t);
        OLIVE_INFO("quantize: out of memory transposing table '%s'; its MatMul stays", e->name);
        return NULL;
    }
    olive_blob_unref(b); /* the tensor holds its own reference */
    r->tied = 1;
    return t;
}

int olive_drop_unused_transposes(quant_run *r, oir_graph *g)
{
    oir_graph_index ix;
    (void)r;
    OLIVE_TRY(oir_graph_index_build(&ix, g));
    for (size_t i = g->n_nodes; i-- > 0;) {
        oir_node *n = g->nodes[i];
        if (!strcmp(n->op_type, "Transpose") && n->n_inputs == 1 && n->n_outputs == 1 &&
            oir_graph_initializer(g, n->inputs[0]) && oir_index_use_count(&ix, n->outputs[0]) == 0 &&
            !oir_index_is_graph_output(&ix, n->outputs[0]))
            oir_graph_remove_node(g, i);
    }
    oir_graph_index_free(&ix);
    return OLIVE_OK;
}
