#include "onnx/onnx_to_proto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "onnx/onnx_io.h"
#include "onnx/onnx_wire.h"

/* ---- arena: every struct of the shallow message, freed at once ---- */

struct onnx_arena_chunk {
    onnx_arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

static void *arena_alloc(onnx_proto_build *b, size_t count, size_t size)
{
    onnx_arena_chunk *c = b->chunks;
    uint64_t bytes;
    size_t n;
    if (!olive_mul_ok(count, size, &bytes) || bytes > SIZE_MAX / 2) {
        olive_fail(OLIVE_ENOMEM, "message too large");
        return NULL;
    }
    n = (size_t)bytes;
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!n)
        n = sizeof(max_align_t);
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = olive_calloc(1, sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->next = b->chunks;
        b->chunks = c;
    }
    c->used += n;
    return (uint8_t *)c->data + c->used - n;
}

#define NEW(b, type) ((type *)arena_alloc((b), 1, sizeof(type)))
#define NEW_ARRAY(b, type, n) ((type *)arena_alloc((b), (n) ? (n) : 1, sizeof(type)))

void onnx_proto_build_free(onnx_proto_build *b)
{
    while (b->chunks) {
        onnx_arena_chunk *next = b->chunks->next;
        free(b->chunks);
        b->chunks = next;
    }
    for (size_t i = 0; i < b->n_unpacked; i++)
        protobuf_c_message_free_unpacked(b->unpacked[i], NULL);
    free(b->unpacked);
    b->unpacked = NULL;
    b->n_unpacked = b->cap_unpacked = 0;
}

void onnx_proto_build_reset(onnx_proto_build *b)
{
    onnx_arena_chunk *keep = b->chunks;
    if (keep) {
        b->chunks = keep->next;
        keep->next = NULL;
    }
    onnx_proto_build_free(b);
    if (keep) {
        memset(keep->data, 0, keep->used); /* chunks start zeroed, as calloc gave them */
        keep->used = 0;
        b->chunks = keep;
    }
}

/* protobuf-c's fields are not const; the writer only reads through them. */
static char *nonempty(const char *s)
{
    return s && *s ? (char *)s : NULL;
}

static int set_unknown(onnx_proto_build *b, ProtobufCMessage *msg, const uint8_t *data, size_t len, const char *what)
{
    long n;
    if (!len)
        return OLIVE_OK;
    n = wire_count_fields(data, len);
    if (n < 0)
        return olive_fail(OLIVE_EFORMAT, "%s: preserved protobuf fields are malformed", what);
    if (!(msg->unknown_fields = NEW_ARRAY(b, ProtobufCMessageUnknownField, (size_t)n)))
        return OLIVE_ENOMEM;
    if (wire_to_unknown(msg->unknown_fields, (size_t)n, data, len))
        return olive_fail(OLIVE_EFORMAT, "%s: preserved protobuf fields are malformed", what);
    msg->n_unknown_fields = (unsigned)n;
    return OLIVE_OK;
}

static char *arena_u64(onnx_proto_build *b, uint64_t v)
{
    char *s = NEW_ARRAY(b, char, 24);
    if (s)
        snprintf(s, 24, "%" PRIu64, v);
    return s;
}

static Onnx__StringStringEntryProto *entry(onnx_proto_build *b, const char *k, const char *v)
{
    Onnx__StringStringEntryProto *e = NEW(b, Onnx__StringStringEntryProto);
    if (!e)
        return NULL;
    onnx__string_string_entry_proto__init(e);
    e->key = (char *)k;
    e->value = (char *)v;
    return e;
}

/* ---- tensors ---- */

static int tensor_to_proto(onnx_proto_build *b, const oir_tensor *t, const onnx_ext_slot *slot, Onnx__TensorProto **out)
{
    Onnx__TensorProto *tp = NEW(b, Onnx__TensorProto);
    if (!tp)
        return OLIVE_ENOMEM;
    onnx__tensor_proto__init(tp);
    tp->n_dims = t->rank;
    tp->dims = t->dims;
    tp->has_data_type = 1;
    tp->data_type = t->dtype;
    tp->name = nonempty(t->name);
    tp->doc_string = nonempty(t->doc_string);
    if (t->dtype == OIR_STRING) {
        tp->n_string_data = t->n_strings;
        if (t->n_strings && !(tp->string_data = NEW_ARRAY(b, ProtobufCBinaryData, t->n_strings)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < t->n_strings; i++) {
            tp->string_data[i].len = t->strings[i].len;
            tp->string_data[i].data = t->strings[i].data;
        }
    } else if (t->nbytes && !t->blob) {
        return olive_fail(OLIVE_EINVALID, "tensor '%s' has %" PRIu64 " bytes but no data", t->name, t->nbytes);
    } else if (slot && slot->external) {
        char *off = arena_u64(b, slot->offset), *len = arena_u64(b, t->nbytes);
        if (!off || !len || !(tp->external_data = NEW_ARRAY(b, Onnx__StringStringEntryProto *, 3)))
            return OLIVE_ENOMEM;
        if (!(tp->external_data[0] = entry(b, "location", b->data_location)) ||
            !(tp->external_data[1] = entry(b, "offset", off)) || !(tp->external_data[2] = entry(b, "length", len)))
            return OLIVE_ENOMEM;
        tp->n_external_data = 3;
        tp->has_data_location = 1;
        tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    } else {
        tp->has_raw_data = 1;
        tp->raw_data.len = (size_t)t->nbytes;
        tp->raw_data.data = t->nbytes ? (uint8_t *)oir_tensor_data(t) : NULL;
    }
    OLIVE_TRY(set_unknown(b, &tp->base, t->passthrough.data, t->passthrough.len, t->name));
    *out = tp;
    return OLIVE_OK;
}

/* ---- types ---- */

static int shape_to_proto(onnx_proto_build *b, const oir_type *t, Onnx__TensorShapeProto **out)
{
    Onnx__TensorShapeProto *sp;
    *out = NULL;
    if (!t->has_shape)
        return OLIVE_OK;
    if (!(sp = NEW(b, Onnx__TensorShapeProto)))
        return OLIVE_ENOMEM;
    onnx__tensor_shape_proto__init(sp);
    if (t->rank && !(sp->dim = NEW_ARRAY(b, Onnx__TensorShapeProto__Dimension *, t->rank)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < t->rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = NEW(b, Onnx__TensorShapeProto__Dimension);
        if (!d)
            return OLIVE_ENOMEM;
        onnx__tensor_shape_proto__dimension__init(d);
        if (t->dims[i].has_value) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = t->dims[i].value;
        } else if (t->dims[i].param) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = t->dims[i].param;
        }
        d->denotation = nonempty(t->dims[i].denotation);
        sp->dim[i] = d;
    }
    sp->n_dim = t->rank;
    *out = sp;
    return OLIVE_OK;
}

static int type_to_proto(onnx_proto_build *b, const oir_type *t, Onnx__TypeProto **out)
{
    Onnx__TypeProto *tp = NEW(b, Onnx__TypeProto);
    Onnx__TypeProto **inner = NULL;
    if (!tp)
        return OLIVE_ENOMEM;
    onnx__type_proto__init(tp);
    tp->denotation = nonempty(t->denotation);
    switch (t->kind) {
    case OIR_TYPE_TENSOR: {
        Onnx__TypeProto__Tensor *tt = NEW(b, Onnx__TypeProto__Tensor);
        if (!tt)
            return OLIVE_ENOMEM;
        onnx__type_proto__tensor__init(tt);
        tt->has_elem_type = t->elem_type != 0;
        tt->elem_type = t->elem_type;
        OLIVE_TRY(shape_to_proto(b, t, &tt->shape));
        tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        tp->tensor_type = tt;
        break;
    }
    case OIR_TYPE_SPARSE_TENSOR: {
        Onnx__TypeProto__SparseTensor *st = NEW(b, Onnx__TypeProto__SparseTensor);
        if (!st)
            return OLIVE_ENOMEM;
        onnx__type_proto__sparse_tensor__init(st);
        st->has_elem_type = t->elem_type != 0;
        st->elem_type = t->elem_type;
        OLIVE_TRY(shape_to_proto(b, t, &st->shape));
        tp->value_case = ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE;
        tp->sparse_tensor_type = st;
        break;
    }
    case OIR_TYPE_SEQUENCE: {
        Onnx__TypeProto__Sequence *s = NEW(b, Onnx__TypeProto__Sequence);
        if (!s)
            return OLIVE_ENOMEM;
        onnx__type_proto__sequence__init(s);
        tp->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
        tp->sequence_type = s;
        inner = &s->elem_type;
        break;
    }
    case OIR_TYPE_MAP: {
        Onnx__TypeProto__Map *mt = NEW(b, Onnx__TypeProto__Map);
        if (!mt)
            return OLIVE_ENOMEM;
        onnx__type_proto__map__init(mt);
        mt->has_key_type = t->elem_type != 0;
        mt->key_type = t->elem_type;
        tp->value_case = ONNX__TYPE_PROTO__VALUE_MAP_TYPE;
        tp->map_type = mt;
        inner = &mt->value_type;
        break;
    }
    case OIR_TYPE_OPTIONAL: {
        Onnx__TypeProto__Optional *o = NEW(b, Onnx__TypeProto__Optional);
        if (!o)
            return OLIVE_ENOMEM;
        onnx__type_proto__optional__init(o);
        tp->value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
        tp->optional_type = o;
        inner = &o->elem_type;
        break;
    }
    default: break;
    }
    if (inner && t->inner)
        OLIVE_TRY(type_to_proto(b, t->inner, inner));
    *out = tp;
    return OLIVE_OK;
}

static int value_infos_to_proto(onnx_proto_build *b, const oir_value_info *vi, size_t n, Onnx__ValueInfoProto ***out)
{
    Onnx__ValueInfoProto **arr;
    *out = NULL;
    if (!n)
        return OLIVE_OK;
    if (!(arr = NEW_ARRAY(b, Onnx__ValueInfoProto *, n)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Onnx__ValueInfoProto *v = NEW(b, Onnx__ValueInfoProto);
        if (!v)
            return OLIVE_ENOMEM;
        onnx__value_info_proto__init(v);
        v->name = (char *)(vi[i].name ? vi[i].name : "");
        v->doc_string = nonempty(vi[i].doc_string);
        if (vi[i].type)
            OLIVE_TRY(type_to_proto(b, vi[i].type, &v->type));
        arr[i] = v;
    }
    *out = arr;
    return OLIVE_OK;
}

/* ---- attributes, nodes, graphs ---- */

static int graph_to_proto(onnx_proto_build *b, const oir_graph *g, int top, Onnx__GraphProto **out);

static int passthrough_attr(onnx_proto_build *b, const oir_attr *a, Onnx__AttributeProto **out)
{
    Onnx__AttributeProto *ap;
    OLIVE_TRY(wire_check_depth(a->passthrough.data, a->passthrough.len, &onnx__attribute_proto__descriptor,
                               ONNX_MAX_DEPTH, a->name));
    if (olive_grow((void **)&b->unpacked, &b->cap_unpacked, b->n_unpacked + 1, sizeof *b->unpacked))
        return OLIVE_ENOMEM;
    ap = onnx__attribute_proto__unpack(NULL, a->passthrough.len, a->passthrough.data);
    if (!ap)
        return olive_fail(OLIVE_EFORMAT, "attribute '%s': preserved protobuf bytes do not decode", a->name);
    b->unpacked[b->n_unpacked++] = &ap->base;
    *out = ap;
    return OLIVE_OK;
}

static int attr_to_proto(onnx_proto_build *b, const oir_attr *a, Onnx__AttributeProto **out)
{
    Onnx__AttributeProto *ap;
    switch (a->type) {
    case OIR_ATTR_SPARSE_TENSOR:
    case OIR_ATTR_SPARSE_TENSORS:
    case OIR_ATTR_TYPE_PROTO:
    case OIR_ATTR_TYPE_PROTOS:
        if (a->passthrough.len)
            return passthrough_attr(b, a, out);
        return olive_fail(OLIVE_EINVALID, "attribute '%s' of kind %d has no value", a->name, (int)a->type);
    default: break;
    }
    if (!(ap = NEW(b, Onnx__AttributeProto)))
        return OLIVE_ENOMEM;
    onnx__attribute_proto__init(ap);
    ap->name = (char *)(a->name ? a->name : "");
    ap->doc_string = nonempty(a->doc_string);
    ap->ref_attr_name = nonempty(a->ref_attr_name);
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    *out = ap;
    if (ap->ref_attr_name)
        return OLIVE_OK; /* a reference into a function's attributes has no value of its own */
    switch (a->type) {
    case OIR_ATTR_FLOAT:
        ap->has_f = 1;
        ap->f = a->f;
        break;
    case OIR_ATTR_INT:
        ap->has_i = 1;
        ap->i = a->i;
        break;
    case OIR_ATTR_STRING:
        ap->has_s = 1;
        ap->s.len = a->s.len;
        ap->s.data = a->s.data;
        break;
    case OIR_ATTR_TENSOR:
        if (!a->t)
            return olive_fail(OLIVE_EINVALID, "tensor attribute '%s' has no tensor", a->name);
        return tensor_to_proto(b, a->t, NULL, &ap->t);
    case OIR_ATTR_GRAPH:
        if (!a->g)
            return olive_fail(OLIVE_EINVALID, "graph attribute '%s' has no graph", a->name);
        return graph_to_proto(b, a->g, 0, &ap->g);
    case OIR_ATTR_FLOATS:
        ap->n_floats = a->n;
        ap->floats = a->floats;
        break;
    case OIR_ATTR_INTS:
        ap->n_ints = a->n;
        ap->ints = a->ints;
        break;
    case OIR_ATTR_STRINGS:
        if (a->n && !(ap->strings = NEW_ARRAY(b, ProtobufCBinaryData, a->n)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < a->n; i++) {
            ap->strings[i].len = a->strings[i].len;
            ap->strings[i].data = a->strings[i].data;
        }
        ap->n_strings = a->n;
        break;
    case OIR_ATTR_TENSORS:
        if (a->n && !(ap->tensors = NEW_ARRAY(b, Onnx__TensorProto *, a->n)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < a->n; i++)
            OLIVE_TRY(tensor_to_proto(b, a->tensors[i], NULL, &ap->tensors[i]));
        ap->n_tensors = a->n;
        break;
    case OIR_ATTR_GRAPHS:
        if (a->n && !(ap->graphs = NEW_ARRAY(b, Onnx__GraphProto *, a->n)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < a->n; i++)
            OLIVE_TRY(graph_to_proto(b, a->graphs[i], 0, &ap->graphs[i]));
        ap->n_graphs = a->n;
        break;
    default: return olive_fail(OLIVE_EINVALID, "attribute '%s' has unknown type %d", a->name, (int)a->type);
    }
    return OLIVE_OK;
}

int onnx_node_to_proto(onnx_proto_build *b, const oir_node *n, Onnx__NodeProto **out)
{
    Onnx__NodeProto *np = NEW(b, Onnx__NodeProto);
    if (!np)
        return OLIVE_ENOMEM;
    onnx__node_proto__init(np);
    np->n_input = n->n_inputs;
    np->input = n->inputs;
    np->n_output = n->n_outputs;
    np->output = n->outputs;
    np->name = nonempty(n->name);
    np->op_type = (char *)(n->op_type ? n->op_type : "");
    np->domain = nonempty(n->domain);
    np->doc_string = nonempty(n->doc_string);
    if (n->n_attrs && !(np->attribute = NEW_ARRAY(b, Onnx__AttributeProto *, n->n_attrs)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n->n_attrs; i++)
        OLIVE_TRY(attr_to_proto(b, &n->attrs[i], &np->attribute[i]));
    np->n_attribute = n->n_attrs;
    OLIVE_TRY(set_unknown(b, &np->base, n->passthrough.data, n->passthrough.len, np->op_type));
    *out = np;
    return OLIVE_OK;
}

static int graph_unknown(onnx_proto_build *b, const oir_graph *g, Onnx__GraphProto *gp)
{
    size_t total = 0, at = 0;
    for (size_t i = 0; i < g->n_passthrough; i++) {
        long n = wire_count_fields(g->passthrough[i].data, g->passthrough[i].len);
        if (n < 0)
            return olive_fail(OLIVE_EFORMAT, "graph '%s': preserved protobuf fields are malformed", g->name);
        total += (size_t)n;
    }
    if (!total)
        return OLIVE_OK;
    if (!(gp->base.unknown_fields = NEW_ARRAY(b, ProtobufCMessageUnknownField, total)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < g->n_passthrough; i++) {
        size_t n = (size_t)wire_count_fields(g->passthrough[i].data, g->passthrough[i].len);
        wire_to_unknown(gp->base.unknown_fields + at, n, g->passthrough[i].data, g->passthrough[i].len);
        at += n;
    }
    gp->base.n_unknown_fields = (unsigned)total;
    return OLIVE_OK;
}

static int graph_to_proto(onnx_proto_build *b, const oir_graph *g, int top, Onnx__GraphProto **out)
{
    Onnx__GraphProto *gp = NEW(b, Onnx__GraphProto);
    if (!gp)
        return OLIVE_ENOMEM;
    onnx__graph_proto__init(gp);
    gp->name = nonempty(g->name);
    gp->doc_string = nonempty(g->doc_string);
    if (!(top && b->skip_main_nodes)) {
        if (g->n_nodes && !(gp->node = NEW_ARRAY(b, Onnx__NodeProto *, g->n_nodes)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < g->n_nodes; i++)
            OLIVE_TRY(onnx_node_to_proto(b, g->nodes[i], &gp->node[i]));
        gp->n_node = g->n_nodes;
    }
    if (g->n_initializers && !(gp->initializer = NEW_ARRAY(b, Onnx__TensorProto *, g->n_initializers)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < g->n_initializers; i++)
        OLIVE_TRY(tensor_to_proto(b, g->initializers[i], top && b->ext ? &b->ext[i] : NULL, &gp->initializer[i]));
    gp->n_initializer = g->n_initializers;
    OLIVE_TRY(value_infos_to_proto(b, g->inputs, g->n_inputs, &gp->input));
    gp->n_input = g->n_inputs;
    OLIVE_TRY(value_infos_to_proto(b, g->outputs, g->n_outputs, &gp->output));
    gp->n_output = g->n_outputs;
    OLIVE_TRY(value_infos_to_proto(b, g->value_info, g->n_value_info, &gp->value_info));
    gp->n_value_info = g->n_value_info;
    OLIVE_TRY(graph_unknown(b, g, gp));
    *out = gp;
    return OLIVE_OK;
}

int onnx_model_to_proto(onnx_proto_build *b, const oir_model *m, Onnx__ModelProto **out)
{
    Onnx__ModelProto *mp = NEW(b, Onnx__ModelProto);
    if (!mp)
        return OLIVE_ENOMEM;
    onnx__model_proto__init(mp);
    mp->has_ir_version = m->ir_version != 0;
    mp->ir_version = m->ir_version;
    mp->producer_name = nonempty(m->producer_name);
    mp->producer_version = nonempty(m->producer_version);
    mp->domain = nonempty(m->domain);
    mp->has_model_version = m->model_version != 0;
    mp->model_version = m->model_version;
    mp->doc_string = nonempty(m->doc_string);
    if (m->n_opsets && !(mp->opset_import = NEW_ARRAY(b, Onnx__OperatorSetIdProto *, m->n_opsets)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < m->n_opsets; i++) {
        Onnx__OperatorSetIdProto *op = NEW(b, Onnx__OperatorSetIdProto);
        if (!op)
            return OLIVE_ENOMEM;
        onnx__operator_set_id_proto__init(op);
        op->domain = (char *)(m->opsets[i].domain ? m->opsets[i].domain : "");
        op->has_version = 1;
        op->version = m->opsets[i].version;
        mp->opset_import[i] = op;
    }
    mp->n_opset_import = m->n_opsets;
    if (m->n_metadata && !(mp->metadata_props = NEW_ARRAY(b, Onnx__StringStringEntryProto *, m->n_metadata)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < m->n_metadata; i++)
        if (!(mp->metadata_props[i] = entry(b, m->metadata_keys[i], m->metadata_values[i])))
            return OLIVE_ENOMEM;
    mp->n_metadata_props = m->n_metadata;
    if (!m->graph)
        return olive_fail(OLIVE_EINVALID, "the model has no graph");
    OLIVE_TRY(graph_to_proto(b, m->graph, 1, &mp->graph));
    OLIVE_TRY(set_unknown(b, &mp->base, m->passthrough.data, m->passthrough.len, "model"));
    *out = mp;
    return OLIVE_OK;
}
