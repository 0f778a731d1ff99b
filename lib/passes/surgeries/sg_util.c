/* Graph helpers shared by the surgeons. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/half.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"

oir_node *sg_node_named(const oir_graph *g, const char *name, int by_output)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        if (by_output ? n->n_outputs && !strcmp(n->outputs[0], name) : n->name && !strcmp(n->name, name))
            return n;
    }
    return NULL;
}

long sg_node_index(const oir_graph *g, const oir_node *n)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i] == n)
            return (long)i;
    return -1;
}

oir_node *sg_producer(const oir_graph *g, const char *value)
{
    if (!value[0])
        return NULL;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t j = 0; j < g->nodes[i]->n_outputs; j++)
            if (!strcmp(g->nodes[i]->outputs[j], value))
                return g->nodes[i];
    return NULL;
}

size_t sg_use_count(const oir_graph *g, const char *value)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t j = 0; j < g->nodes[i]->n_inputs; j++)
            n += !strcmp(g->nodes[i]->inputs[j], value);
    return n;
}

oir_node *sg_consumer(const oir_graph *g, const char *value, size_t k)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t j = 0; j < g->nodes[i]->n_inputs; j++)
            if (!strcmp(g->nodes[i]->inputs[j], value)) {
                if (k-- == 0)
                    return g->nodes[i];
                break;
            }
    return NULL;
}

const oir_type *sg_value_type(const oir_graph *g, const char *value)
{
    long i;
    if ((i = oir_graph_input_index(g, value)) >= 0)
        return g->inputs[i].type;
    if ((i = oir_graph_output_index(g, value)) >= 0)
        return g->outputs[i].type;
    for (size_t k = 0; k < g->n_value_info; k++)
        if (!strcmp(g->value_info[k].name, value))
            return g->value_info[k].type;
    return NULL;
}

int32_t sg_value_dtype(const oir_graph *g, const char *value)
{
    const oir_tensor *t = oir_graph_initializer(g, value);
    const oir_type *ty;
    if (t)
        return t->dtype;
    ty = sg_value_type(g, value);
    return ty && ty->kind == OIR_TYPE_TENSOR ? ty->elem_type : 0;
}

int sg_value_shape(const oir_graph *g, const char *value, int64_t *dims, size_t max, size_t *rank)
{
    const oir_tensor *t = oir_graph_initializer(g, value);
    const oir_type *ty;
    if (t) {
        *rank = t->rank;
        for (size_t i = 0; i < t->rank && i < max; i++)
            dims[i] = t->dims[i];
        return 1;
    }
    ty = sg_value_type(g, value);
    if (!ty || ty->kind != OIR_TYPE_TENSOR || !ty->has_shape)
        return 0;
    *rank = ty->rank;
    for (size_t i = 0; i < ty->rank && i < max; i++)
        dims[i] = ty->dims[i].has_value ? ty->dims[i].value : -1;
    return 1;
}

char *sg_new_name(const char *name, const char *old_op, const char *new_op)
{
    const char *hit = strstr(name, old_op);
    olive_strbuf b = {0};
    size_t old_len = strlen(old_op);
    if (!hit || !old_len)
        return olive_asprintf("%s_%s", name, new_op);
    /* Python's str.replace: every occurrence. */
    olive_strbuf_append(&b, "");
    while (hit) {
        olive_strbuf_appendn(&b, name, (size_t)(hit - name));
        olive_strbuf_append(&b, new_op);
        name = hit + old_len;
        hit = strstr(name, old_op);
    }
    olive_strbuf_append(&b, name);
    return olive_strbuf_take(&b);
}

oir_node *sg_add_node(oir_graph *g, const char *op, const char *domain, const char *name, size_t n_in,
                      const char *const *in, size_t n_out, const char *const *out)
{
    oir_node *n = oir_node_new(op, domain, name, n_in, in, n_out, out);
    if (!n || oir_graph_add_node(g, n) != OLIVE_OK) {
        oir_node_free(n);
        olive_fail(OLIVE_ENOMEM, "out of memory adding node '%s'", name);
        return NULL;
    }
    return n;
}

int sg_add_initializer(oir_graph *g, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
                       const void *data, size_t nbytes)
{
    oir_tensor *t = oir_tensor_new(name, dtype, rank, dims);
    long old = oir_graph_initializer_index(g, name);
    int rc;
    if (!t)
        return OLIVE_ENOMEM;
    if ((rc = oir_tensor_set_copy(t, data, nbytes)) != OLIVE_OK) {
        oir_tensor_free(t);
        return rc;
    }
    if (old >= 0)
        oir_graph_remove_initializer(g, (size_t)old);
    if ((rc = oir_graph_add_initializer(g, t)) != OLIVE_OK)
        oir_tensor_free(t);
    return rc;
}

int sg_add_int64s(oir_graph *g, const char *name, const int64_t *v, size_t n)
{
    int64_t dim = (int64_t)n;
    return sg_add_initializer(g, name, OIR_INT64, 1, &dim, v, n * sizeof *v);
}

size_t sg_encode(int32_t dtype, double value, void *out)
{
    switch (dtype) {
    case OIR_FLOAT: {
        float f = (float)value;
        memcpy(out, &f, 4);
        return 4;
    }
    case OIR_DOUBLE: memcpy(out, &value, 8); return 8;
    case OIR_FLOAT16: {
        uint16_t h = olive_float_to_half((float)value);
        memcpy(out, &h, 2);
        return 2;
    }
    case OIR_BFLOAT16: {
        uint16_t h = olive_float_to_bfloat16((float)value);
        memcpy(out, &h, 2);
        return 2;
    }
    case OIR_INT8: {
        int8_t v = (int8_t)value;
        memcpy(out, &v, 1);
        return 1;
    }
    case OIR_UINT8: {
        uint8_t v = (uint8_t)value;
        memcpy(out, &v, 1);
        return 1;
    }
    case OIR_INT16: {
        int16_t v = (int16_t)value;
        memcpy(out, &v, 2);
        return 2;
    }
    case OIR_UINT16: {
        uint16_t v = (uint16_t)value;
        memcpy(out, &v, 2);
        return 2;
    }
    case OIR_INT32: {
        int32_t v = (int32_t)value;
        memcpy(out, &v, 4);
        return 4;
    }
    case OIR_UINT32: {
        uint32_t v = (uint32_t)value;
        memcpy(out, &v, 4);
        return 4;
    }
    case OIR_INT64: {
        int64_t v = (int64_t)value;
        memcpy(out, &v, 8);
        return 8;
    }
    case OIR_UINT64: {
        uint64_t v = (uint64_t)value;
        memcpy(out, &v, 8);
        return 8;
    }
    default: return 0;
    }
}

double sg_decode(const oir_tensor *t, uint64_t i)
{
    const uint8_t *p = oir_tensor_data(t);
    size_t w = oir_dtype_bits(t->dtype) / 8;
    if (!p || !w || (i + 1) * w > t->nbytes)
        return 0;
    p += i * w;
    switch (t->dtype) {
    case OIR_FLOAT: {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    case OIR_DOUBLE: {
        double d;
        memcpy(&d, p, 8);
        return d;
    }
    case OIR_FLOAT16: {
        uint16_t h;
        memcpy(&h, p, 2);
        return olive_half_to_float(h);
    }
    case OIR_BFLOAT16: {
        uint16_t h;
        memcpy(&h, p, 2);
        return olive_bfloat16_to_float(h);
    }
    case OIR_INT8: return (int8_t)p[0];
    case OIR_UINT8: return p[0];
    case OIR_INT16: {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case OIR_UINT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case OIR_INT32: {
        int32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case OIR_UINT32: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    case OIR_INT64: {
        int64_t v;
        memcpy(&v, p, 8);
        return (double)v;
    }
    case OIR_UINT64: {
        uint64_t v;
        memcpy(&v, p, 8);
        return (double)v;
    }
    default: return 0;
    }
}

int sg_add_scalar(oir_graph *g, const char *name, int32_t dtype, int rank1, double value)
{
    uint8_t buf[8];
    int64_t one = 1;
    size_t n = sg_encode(dtype, value, buf);
    if (!n)
        return olive_fail(OLIVE_EUNSUPPORTED, "initializer '%s': element type %s is not numeric", name,
                          oir_dtype_name(dtype));
    return sg_add_initializer(g, name, dtype, rank1 ? 1 : 0, &one, buf, n);
}

/* Every value read in the graph: node inputs, what subgraphs read from it, graph outputs. */
static int collect_reads(const oir_graph *g, olive_strmap *used)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        for (size_t j = 0; j < g->nodes[i]->n_inputs; j++)
            if (g->nodes[i]->inputs[j][0])
                OLIVE_TRY(olive_strmap_put(used, g->nodes[i]->inputs[j], (void *)1));
        OLIVE_TRY(oir_node_implicit_inputs(g->nodes[i], used));
    }
    for (size_t i = 0; i < g->n_outputs; i++)
        OLIVE_TRY(olive_strmap_put(used, g->outputs[i].name, (void *)1));
    return OLIVE_OK;
}

int sg_remove_unused_initializers(oir_graph *g)
{
    olive_strmap used = {0};
    int rc = collect_reads(g, &used);
    for (size_t i = g->n_initializers; rc == OLIVE_OK && i-- > 0;)
        if (!olive_strmap_has(&used, g->initializers[i]->name))
            oir_graph_remove_initializer(g, i);
    olive_strmap_free(&used);
    return rc;
}

/* Marks the nodes none of whose outputs is read (nor a graph output); *any: whether there is one. */
static int mark_dead(oir_graph *g, int *any)
{
    olive_strmap used = {0};
    int rc = collect_reads(g, &used);
    *any = 0;
    for (size_t i = 0; rc == OLIVE_OK && i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        int live = 0;
        for (size_t j = 0; j < n->n_outputs && !live; j++)
            live = n->outputs[j][0] && olive_strmap_has(&used, n->outputs[j]);
        n->mark = !live;
        *any |= !live;
    }
    olive_strmap_free(&used);
    return rc;
}

int sg_remove_dead_nodes(oir_graph *g)
{
    int changed = 1, rc = OLIVE_OK;
    while (changed && rc == OLIVE_OK)
        if ((rc = mark_dead(g, &changed)) == OLIVE_OK && changed)
            oir_graph_remove_marked_nodes(g);
    return rc;
}

int sg_dag_update(oir_graph *g)
{
    olive_strmap used = {0};
    int any, rc;
    OLIVE_TRY(mark_dead(g, &any));
    oir_graph_remove_marked_nodes(g);
    OLIVE_TRY(sg_remove_unused_initializers(g));
    if ((rc = collect_reads(g, &used)) == OLIVE_OK)
        for (size_t i = g->n_inputs; i-- > 0;)
            if (!olive_strmap_has(&used, g->inputs[i].name))
                oir_graph_remove_input(g, i);
    olive_strmap_free(&used);
    return rc;
}

int sg_replace_input(oir_graph *g, const char *from, const char *to)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t j = 0; j < g->nodes[i]->n_inputs; j++)
            if (!strcmp(g->nodes[i]->inputs[j], from))
                OLIVE_TRY(oir_node_set_input(g->nodes[i], j, to));
    return OLIVE_OK;
}

/* ---- initializer de-duplication ---- */

static int same_tensor(const oir_tensor *a, const oir_tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes || a->dtype == OIR_STRING)
        return 0;
    for (size_t i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return !a->nbytes || !memcmp(oir_tensor_data(a), oir_tensor_data(b), (size_t)a->nbytes);
}

static uint64_t tensor_hash(const oir_tensor *t)
{
    uint64_t h = olive_hash_bytes(oir_tensor_data(t), (size_t)t->nbytes, (uint64_t)t->dtype * 31 + t->rank);
    for (size_t d = 0; d < t->rank; d++)
        h = olive_hash_bytes(&t->dims[d], sizeof t->dims[d], h);
    return h;
}

static int dedup_graph(oir_graph *g, int depth, void *user)
{
    /* Hashes of the initializers kept so far, in graph order (the first of equals is kept). */
    uint64_t *hash = g->n_initializers ? olive_calloc(g->n_initializers, sizeof *hash) : NULL;
    int rc = OLIVE_OK;
    (void)depth;
    (void)user;
    if (g->n_initializers && !hash)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK; i++) {
        oir_tensor *t = g->initializers[i];
        size_t k;
        uint64_t h;
        if (t->dtype == OIR_STRING || oir_graph_input_index(g, t->name) >= 0 ||
            oir_graph_output_index(g, t->name) >= 0) {
            hash[i] = 0;
            continue;
        }
        h = tensor_hash(t);
        for (k = 0; k < i; k++)
            if (hash[k] == h && oir_graph_input_index(g, g->initializers[k]->name) < 0 &&
                oir_graph_output_index(g, g->initializers[k]->name) < 0 && same_tensor(g->initializers[k], t))
                break;
        if (k == i) {
            hash[i] = h;
            continue;
        }
        if ((rc = oir_graph_replace_uses(g, t->name, g->initializers[k]->name)) != OLIVE_OK)
            break;
        oir_graph_remove_initializer(g, i);
        memmove(&hash[i], &hash[i + 1], (g->n_initializers - i) * sizeof *hash);
        i--;
    }
    free(hash);
    return rc;
}

int sg_dedup_initializers(oir_model *m)
{
    return oir_model_for_each_graph(m, dedup_graph, NULL);
}
