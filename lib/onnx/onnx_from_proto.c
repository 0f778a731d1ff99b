/* Unpacked protobuf-c messages -> IR. Parts the IR does not model are kept as serialized
 * fields (passthrough) and re-emitted by the writer. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "onnx/onnx_load_ctx.h"
#include "onnx/onnx_wire.h"

/* Field numbers in onnx.proto of the parts kept as passthrough. */
#define MODEL_TRAINING_INFO 20
#define MODEL_FUNCTIONS 25
#define GRAPH_QUANT_ANNOTATION 14
#define GRAPH_SPARSE_INITIALIZER 15

static const char *str(const char *s)
{
    return s ? s : "";
}

static int dup_opt(char **dst, const char *s)
{
    *dst = NULL;
    if (s && !(*dst = olive_strdup(s)))
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

/* ---- types ---- */

static int shape_from_proto(oir_type *t, const Onnx__TensorShapeProto *sp)
{
    if (!sp)
        return OLIVE_OK;
    t->has_shape = 1;
    if (!sp->n_dim)
        return OLIVE_OK;
    if (!(t->dims = olive_calloc(sp->n_dim, sizeof *t->dims)))
        return OLIVE_ENOMEM;
    t->rank = sp->n_dim;
    for (size_t i = 0; i < sp->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = sp->dim[i];
        oir_dim *od = &t->dims[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            od->has_value = 1;
            od->value = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
            OLIVE_TRY(dup_opt(&od->param, str(d->dim_param)));
        }
        OLIVE_TRY(dup_opt(&od->denotation, d->denotation));
    }
    return OLIVE_OK;
}

static int type_from_proto(const Onnx__TypeProto *tp, oir_type **out)
{
    oir_type *t = olive_calloc(1, sizeof *t);
    const Onnx__TypeProto *inner = NULL;
    int rc = OLIVE_OK;
    if (!t)
        return OLIVE_ENOMEM;
    switch (tp->value_case) {
    case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
        t->kind = OIR_TYPE_TENSOR;
        t->elem_type = tp->tensor_type->elem_type;
        rc = shape_from_proto(t, tp->tensor_type->shape);
        break;
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
        t->kind = OIR_TYPE_SPARSE_TENSOR;
        t->elem_type = tp->sparse_tensor_type->elem_type;
        rc = shape_from_proto(t, tp->sparse_tensor_type->shape);
        break;
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
        t->kind = OIR_TYPE_SEQUENCE;
        inner = tp->sequence_type->elem_type;
        break;
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
        t->kind = OIR_TYPE_MAP;
        t->elem_type = tp->map_type->key_type;
        inner = tp->map_type->value_type;
        break;
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
        t->kind = OIR_TYPE_OPTIONAL;
        inner = tp->optional_type->elem_type;
        break;
    default: t->kind = OIR_TYPE_NONE; break;
    }
    if (rc == OLIVE_OK)
        rc = dup_opt(&t->denotation, tp->denotation);
    if (rc == OLIVE_OK && inner)
        rc = type_from_proto(inner, &t->inner); /* depth bounded by the earlier nesting check */
    if (rc != OLIVE_OK) {
        oir_type_free(t);
        return rc;
    }
    *out = t;
    return OLIVE_OK;
}

typedef int (*add_vi_fn)(oir_graph *g, const char *name, const oir_type *type);

static int add_value_infos(oir_graph *g, Onnx__ValueInfoProto **vis, size_t n, add_vi_fn add, oir_value_info **arr,
                           size_t *count)
{
    for (size_t i = 0; i < n; i++) {
        oir_type *type = NULL;
        int rc;
        if (vis[i]->type)
            OLIVE_TRY(type_from_proto(vis[i]->type, &type));
        rc = add(g, str(vis[i]->name), type);
        oir_type_free(type);
        OLIVE_TRY(rc);
        OLIVE_TRY(dup_opt(&(*arr)[*count - 1].doc_string, vis[i]->doc_string));
    }
    return OLIVE_OK;
}

/* ---- graphs, nodes, attributes ---- */

static int graph_from_proto(onnx_load_ctx *ctx, const Onnx__GraphProto *gp, int top, oir_graph **out);

static int infer_attr_type(const Onnx__AttributeProto *ap)
{
    /* Models of IR version 1 have no attribute type: it follows from the field that is set. */
    if (ap->has_f)
        return OIR_ATTR_FLOAT;
    if (ap->has_i)
        return OIR_ATTR_INT;
    if (ap->has_s)
        return OIR_ATTR_STRING;
    if (ap->t)
        return OIR_ATTR_TENSOR;
    if (ap->g)
        return OIR_ATTR_GRAPH;
    if (ap->sparse_tensor)
        return OIR_ATTR_SPARSE_TENSOR;
    if (ap->tp)
        return OIR_ATTR_TYPE_PROTO;
    if (ap->n_floats)
        return OIR_ATTR_FLOATS;
    if (ap->n_ints)
        return OIR_ATTR_INTS;
    if (ap->n_strings)
        return OIR_ATTR_STRINGS;
    if (ap->n_tensors)
        return OIR_ATTR_TENSORS;
    if (ap->n_graphs)
        return OIR_ATTR_GRAPHS;
    if (ap->n_sparse_tensors)
        return OIR_ATTR_SPARSE_TENSORS;
    if (ap->n_type_protos)
        return OIR_ATTR_TYPE_PROTOS;
    return OIR_ATTR_UNDEFINED;
}

static int attr_value(onnx_load_ctx *ctx, const Onnx__AttributeProto *ap, oir_attr *a, const char *node)
{
    switch (a->type) {
    case OIR_ATTR_FLOAT: a->f = ap->f; return OLIVE_OK;
    case OIR_ATTR_INT: a->i = ap->i; return OLIVE_OK;
    case OIR_ATTR_STRING: return onnx_copy_bytes(&a->s, &ap->s);
    case OIR_ATTR_TENSOR:
        if (!ap->t)
            break;
        return onnx_tensor_from_proto(ctx, ap->t, NULL, &a->t);
    case OIR_ATTR_GRAPH:
        if (!ap->g)
            break;
        return graph_from_proto(ctx, ap->g, 0, &a->g);
    case OIR_ATTR_FLOATS:
        a->n = ap->n_floats;
        if (!(a->floats = olive_calloc(ap->n_floats + 1, sizeof *a->floats)))
            return OLIVE_ENOMEM;
        if (ap->n_floats)
            memcpy(a->floats, ap->floats, ap->n_floats * sizeof *ap->floats);
        return OLIVE_OK;
    case OIR_ATTR_INTS:
        a->n = ap->n_ints;
        if (!(a->ints = olive_calloc(ap->n_ints + 1, sizeof *a->ints)))
            return OLIVE_ENOMEM;
        if (ap->n_ints)
            memcpy(a->ints, ap->ints, ap->n_ints * sizeof *ap->ints);
        return OLIVE_OK;
    case OIR_ATTR_STRINGS:
        if (!(a->strings = olive_calloc(ap->n_strings + 1, sizeof *a->strings)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < ap->n_strings; i++) {
            OLIVE_TRY(onnx_copy_bytes(&a->strings[i], &ap->strings[i]));
            a->n = i + 1;
        }
        return OLIVE_OK;
    case OIR_ATTR_TENSORS:
        if (!(a->tensors = olive_calloc(ap->n_tensors + 1, sizeof *a->tensors)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < ap->n_tensors; i++) {
            OLIVE_TRY(onnx_tensor_from_proto(ctx, ap->tensors[i], NULL, &a->tensors[i]));
            a->n = i + 1;
        }
        return OLIVE_OK;
    case OIR_ATTR_GRAPHS:
        if (!(a->graphs = olive_calloc(ap->n_graphs + 1, sizeof *a->graphs)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < ap->n_graphs; i++) {
            OLIVE_TRY(graph_from_proto(ctx, ap->graphs[i], 0, &a->graphs[i]));
            a->n = i + 1;
        }
        return OLIVE_OK;
    case OIR_ATTR_SPARSE_TENSOR:
    case OIR_ATTR_SPARSE_TENSORS:
    case OIR_ATTR_TYPE_PROTO:
    case OIR_ATTR_TYPE_PROTOS: {
        /* Kept whole and written back as it came. */
        size_t size = protobuf_c_message_get_packed_size(&ap->base);
        if (!(a->passthrough.data = olive_malloc(size + 1)))
            return OLIVE_ENOMEM;
        protobuf_c_message_pack(&ap->base, a->passthrough.data);
        a->passthrough.data[size] = 0;
        a->passthrough.len = size;
        a->n = a->type == OIR_ATTR_SPARSE_TENSORS ? ap->n_sparse_tensors
               : a->type == OIR_ATTR_TYPE_PROTOS  ? ap->n_type_protos
                                                  : 0;
        return OLIVE_OK;
    }
    default:
        return olive_fail(OLIVE_EFORMAT, "%s: attribute '%s' of node '%s' has unknown type %d", ctx->what, a->name,
                          node, (int)a->type);
    }
    return olive_fail(OLIVE_EFORMAT, "%s: attribute '%s' of node '%s' has type %d but no value", ctx->what, a->name,
                      node, (int)a->type);
}

static int attr_from_proto(onnx_load_ctx *ctx, const Onnx__AttributeProto *ap, oir_attr *a, const char *node)
{
    memset(a, 0, sizeof *a);
    a->type = ap->has_type ? (int32_t)ap->type : infer_attr_type(ap);
    if (!(a->name = olive_strdup(str(ap->name))))
        return OLIVE_ENOMEM;
    OLIVE_TRY(dup_opt(&a->doc_string, ap->doc_string));
    OLIVE_TRY(dup_opt(&a->ref_attr_name, ap->ref_attr_name));
    if (ap->ref_attr_name && a->type != OIR_ATTR_UNDEFINED && !infer_attr_type(ap))
        return OLIVE_OK; /* a reference to a function attribute carries no value */
    if (a->type == OIR_ATTR_UNDEFINED)
        return olive_fail(OLIVE_EFORMAT, "%s: attribute '%s' of node '%s' has no type and no value", ctx->what, a->name,
                          node);
    return attr_value(ctx, ap, a, node);
}

static int node_from_proto(onnx_load_ctx *ctx, const Onnx__NodeProto *np, oir_node **out)
{
    const char *name = str(np->name);
    oir_node *n = oir_node_new(str(np->op_type), str(np->domain), name, np->n_input, (const char *const *)np->input,
                               np->n_output, (const char *const *)np->output);
    int rc;
    if (!n)
        return OLIVE_ENOMEM;
    if ((rc = dup_opt(&n->doc_string, np->doc_string)) != OLIVE_OK)
        goto fail;
    if (np->n_attribute) {
        if (!(n->attrs = olive_calloc(np->n_attribute, sizeof *n->attrs))) {
            rc = OLIVE_ENOMEM;
            goto fail;
        }
        n->cap_attrs = np->n_attribute;
        for (size_t i = 0; i < np->n_attribute; i++) {
            n->n_attrs = i + 1; /* counted before filling: a half-filled slot is freed with the node */
            if ((rc = attr_from_proto(ctx, np->attribute[i], &n->attrs[i], *name ? name : str(np->op_type))) !=
                OLIVE_OK)
                goto fail;
        }
    }
    if ((rc = wire_append_unknown(&n->passthrough.data, &n->passthrough.len, &np->base)) != OLIVE_OK)
        goto fail;
    *out = n;
    return OLIVE_OK;
fail:
    oir_node_free(n);
    return rc;
}

static int push_fragment(oir_graph *g, uint8_t *data, size_t len)
{
    oir_bytes *nb = olive_reallocarray(g->passthrough, g->n_passthrough + 1, sizeof *nb);
    if (!nb) {
        free(data);
        return OLIVE_ENOMEM;
    }
    g->passthrough = nb;
    nb[g->n_passthrough].data = data;
    nb[g->n_passthrough].len = len;
    g->n_passthrough++;
    return OLIVE_OK;
}

static int sparse_uses_external(const Onnx__SparseTensorProto *sp)
{
    const Onnx__TensorProto *parts[2] = {sp->values, sp->indices};
    for (int i = 0; i < 2; i++)
        if (parts[i] && parts[i]->has_data_location &&
            parts[i]->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
            return 1;
    return 0;
}

static int graph_passthrough(onnx_load_ctx *ctx, const Onnx__GraphProto *gp, oir_graph *g)
{
    for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
        const Onnx__SparseTensorProto *sp = gp->sparse_initializer[i];
        uint8_t *buf = NULL;
        size_t len = 0;
        if (sparse_uses_external(sp))
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "%s: sparse initializer '%s' uses external data, which is not "
                              "supported",
                              ctx->what, sp->values ? str(sp->values->name) : "");
        OLIVE_TRY(wire_append_message(&buf, &len, GRAPH_SPARSE_INITIALIZER, &sp->base));
        OLIVE_TRY(push_fragment(g, buf, len));
    }
    for (size_t i = 0; i < gp->n_quantization_annotation; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        OLIVE_TRY(wire_append_message(&buf, &len, GRAPH_QUANT_ANNOTATION, &gp->quantization_annotation[i]->base));
        OLIVE_TRY(push_fragment(g, buf, len));
    }
    if (gp->base.n_unknown_fields) {
        uint8_t *buf = NULL;
        size_t len = 0;
        OLIVE_TRY(wire_append_unknown(&buf, &len, &gp->base));
        OLIVE_TRY(push_fragment(g, buf, len));
    }
    return OLIVE_OK;
}

/* The main graph's nodes left in the model's bytes by the loader: each is unpacked, converted
 * and released before the next, so only the IR holds the whole graph. */
static int add_stripped_nodes(onnx_load_ctx *ctx, oir_graph *g)
{
    for (size_t i = 0; i < ctx->n_nodes; i++) {
        const onnx_raw_range *r = &ctx->nodes[i];
        Onnx__NodeProto *np = onnx__node_proto__unpack(NULL, (size_t)r->len, ctx->model_blob->data + r->offset);
        oir_node *n;
        int rc;
        if (!np)
            return olive_fail(OLIVE_EFORMAT, "%s: node %zu of the graph is not a valid NodeProto (at byte %llu)",
                              ctx->what, i, (unsigned long long)r->offset);
        rc = node_from_proto(ctx, np, &n);
        onnx__node_proto__free_unpacked(np, NULL);
        OLIVE_TRY(rc);
        if ((rc = oir_graph_add_node(g, n)) != OLIVE_OK) {
            oir_node_free(n);
            return rc;
        }
    }
    return OLIVE_OK;
}

static int graph_from_proto(onnx_load_ctx *ctx, const Onnx__GraphProto *gp, int top, oir_graph **out)
{
    oir_graph *g = oir_graph_new(str(gp->name));
    int rc;
    if (!g)
        return OLIVE_ENOMEM;
    if ((rc = dup_opt(&g->doc_string, gp->doc_string)) != OLIVE_OK)
        goto fail;
    if (top && ctx->nodes && (rc = add_stripped_nodes(ctx, g)) != OLIVE_OK)
        goto fail;
    for (size_t i = 0; i < gp->n_node; i++) {
        oir_node *n;
        if ((rc = node_from_proto(ctx, gp->node[i], &n)) != OLIVE_OK)
            goto fail;
        if ((rc = oir_graph_add_node(g, n)) != OLIVE_OK) {
            oir_node_free(n);
            goto fail;
        }
    }
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const onnx_raw_range *raw = top && ctx->ranges && i < ctx->n_ranges ? &ctx->ranges[i] : NULL;
        oir_tensor *t;
        if ((rc = onnx_tensor_from_proto(ctx, gp->initializer[i], raw, &t)) != OLIVE_OK)
            goto fail;
        if ((rc = oir_graph_add_initializer(g, t)) != OLIVE_OK) {
            oir_tensor_free(t);
            goto fail;
        }
    }
    if ((rc = add_value_infos(g, gp->input, gp->n_input, oir_graph_add_input, &g->inputs, &g->n_inputs)) ||
        (rc = add_value_infos(g, gp->output, gp->n_output, oir_graph_add_output, &g->outputs, &g->n_outputs)) ||
        (rc = add_value_infos(g, gp->value_info, gp->n_value_info, oir_graph_add_value_info, &g->value_info,
                              &g->n_value_info)) ||
        (rc = graph_passthrough(ctx, gp, g)))
        goto fail;
    *out = g;
    return OLIVE_OK;
fail:
    oir_graph_free(g);
    return rc;
}

/* ---- model ---- */

static int model_passthrough(const Onnx__ModelProto *mp, oir_model *m)
{
    for (size_t i = 0; i < mp->n_training_info; i++)
        OLIVE_TRY(wire_append_message(&m->passthrough.data, &m->passthrough.len, MODEL_TRAINING_INFO,
                                      &mp->training_info[i]->base));
    for (size_t i = 0; i < mp->n_functions; i++)
        OLIVE_TRY(
            wire_append_message(&m->passthrough.data, &m->passthrough.len, MODEL_FUNCTIONS, &mp->functions[i]->base));
    return wire_append_unknown(&m->passthrough.data, &m->passthrough.len, &mp->base);
}

int onnx_model_from_proto(onnx_load_ctx *ctx, const Onnx__ModelProto *mp, oir_model *m)
{
    if (!mp->graph)
        return olive_fail(OLIVE_EFORMAT, "%s: the model has no graph", ctx->what);
    m->ir_version = mp->ir_version;
    m->model_version = mp->model_version;
    free(m->producer_name);
    free(m->producer_version);
    free(m->domain);
    free(m->doc_string);
    m->producer_name = m->producer_version = m->domain = m->doc_string = NULL;
    OLIVE_TRY(dup_opt(&m->producer_name, mp->producer_name));
    OLIVE_TRY(dup_opt(&m->producer_version, mp->producer_version));
    OLIVE_TRY(dup_opt(&m->domain, mp->domain));
    OLIVE_TRY(dup_opt(&m->doc_string, mp->doc_string));
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        oir_opset op = {olive_strdup(str(mp->opset_import[i]->domain)), mp->opset_import[i]->version};
        if (!op.domain || OLIVE_PUSH(m->opsets, m->n_opsets, m->cap_opsets, op)) {
            free(op.domain);
            return OLIVE_ENOMEM;
        }
    }
    if (mp->n_metadata_props) {
        size_t n = mp->n_metadata_props;
        m->metadata_keys = olive_reallocarray(m->metadata_keys, n, sizeof *m->metadata_keys);
        if (!m->metadata_keys)
            return OLIVE_ENOMEM;
        m->metadata_values = olive_reallocarray(m->metadata_values, n, sizeof *m->metadata_values);
        if (!m->metadata_values)
            return OLIVE_ENOMEM;
        m->cap_metadata = n;
        for (size_t i = 0; i < n; i++) {
            char *k = olive_strdup(str(mp->metadata_props[i]->key));
            char *v = olive_strdup(str(mp->metadata_props[i]->value));
            if (!k || !v) {
                free(k);
                free(v);
                return OLIVE_ENOMEM;
            }
            m->metadata_keys[i] = k;
            m->metadata_values[i] = v;
            m->n_metadata = i + 1;
        }
    }
    oir_graph_free(m->graph);
    m->graph = NULL;
    OLIVE_TRY(graph_from_proto(ctx, mp->graph, 1, &m->graph));
    return model_passthrough(mp, m);
}
