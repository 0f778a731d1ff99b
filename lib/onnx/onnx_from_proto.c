/* Unpacked protobuf-c messages -> IR. Parts the IR does not model are kept as serialized
 * fields (passthrough) and re-emitted by the writer. */
#include <errno.h>
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
#define TENSOR_SEGMENT 3

static const char *str(const char *s) { return s ? s : ""; }

static int dup_opt(char **dst, const char *s)
{
    *dst = NULL;
    if (s && !(*dst = olive_strdup(s)))
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

/* Copies bytes with a NUL after them, as the IR stores them. */
static int copy_bytes(oir_bytes *dst, const ProtobufCBinaryData *src)
{
    dst->data = olive_malloc(src->len + 1);
    if (!dst->data)
        return OLIVE_ENOMEM;
    if (src->len)
        memcpy(dst->data, src->data, src->len);
    dst->data[src->len] = 0;
    dst->len = src->len;
    return OLIVE_OK;
}

/* ---- tensors ---- */

static int raw_to_blob(const oir_tensor *t, const uint8_t *data, size_t len, olive_blob **out)
{
    void *copy = olive_malloc(len ? len : 1);
    if (!copy)
        return olive_fail(OLIVE_ENOMEM, "tensor '%s': out of memory for %zu bytes", t->name, len);
    if (len)
        memcpy(copy, data, len);
    return olive_blob_from_heap(out, copy, len);
}

/* Which typed field holds elements of `dtype`, how many entries make one element, and the
 * little-endian width each entry is stored with. */
enum { F_NONE, F_FLOAT, F_INT32, F_INT64, F_DOUBLE, F_UINT64 };

static int typed_field(int32_t dtype, int *per_elem, unsigned *width)
{
    *per_elem = 1;
    switch (dtype) {
    case OIR_FLOAT: *width = 4; return F_FLOAT;
    case OIR_COMPLEX64: *width = 4; *per_elem = 2; return F_FLOAT;
    case OIR_DOUBLE: *width = 8; return F_DOUBLE;
    case OIR_COMPLEX128: *width = 8; *per_elem = 2; return F_DOUBLE;
    case OIR_INT64: *width = 8; return F_INT64;
    case OIR_UINT32: *width = 4; return F_UINT64;
    case OIR_UINT64: *width = 8; return F_UINT64;
    case OIR_INT32: *width = 4; return F_INT32;
    case OIR_INT16: case OIR_UINT16: case OIR_FLOAT16: case OIR_BFLOAT16: *width = 2; return F_INT32;
    case OIR_INT8: case OIR_UINT8: case OIR_BOOL:
    case OIR_FLOAT8E4M3FN: case OIR_FLOAT8E4M3FNUZ: case OIR_FLOAT8E5M2: case OIR_FLOAT8E5M2FNUZ:
        *width = 1; return F_INT32;
    case OIR_UINT4: case OIR_INT4: case OIR_FLOAT4E2M1:
        *width = 1; *per_elem = 0; return F_INT32; /* one entry per byte (two elements) */
    default: *width = 0; return F_NONE;
    }
}

static const char *field_name(int f)
{
    static const char *names[] = {"", "float_data", "int32_data", "int64_data", "double_data", "uint64_data"};
    return names[f];
}

static size_t field_count(const Onnx__TensorProto *tp, int f)
{
    switch (f) {
    case F_FLOAT: return tp->n_float_data;
    case F_INT32: return tp->n_int32_data;
    case F_INT64: return tp->n_int64_data;
    case F_DOUBLE: return tp->n_double_data;
    case F_UINT64: return tp->n_uint64_data;
    default: return 0;
    }
}

/* Writes the typed entries as little-endian values of `width` bytes. */
static void encode_typed(uint8_t *out, const Onnx__TensorProto *tp, int f, unsigned width, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        switch (f) {
        case F_FLOAT: { uint32_t u; memcpy(&u, &tp->float_data[i], 4); v = u; break; }
        case F_DOUBLE: memcpy(&v, &tp->double_data[i], 8); break;
        case F_INT32: v = (uint64_t)(int64_t)tp->int32_data[i]; break;
        case F_INT64: v = (uint64_t)tp->int64_data[i]; break;
        case F_UINT64: v = tp->uint64_data[i]; break;
        }
        for (unsigned b = 0; b < width; b++)
            out[i * width + b] = (uint8_t)(v >> (8 * b));
    }
}

static int count_data_fields(const Onnx__TensorProto *tp, int has_raw)
{
    return !!has_raw + !!tp->n_float_data + !!tp->n_int32_data + !!tp->n_int64_data + !!tp->n_double_data +
           !!tp->n_uint64_data + !!tp->n_string_data;
}

static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static int tensor_external(onnx_load_ctx *ctx, const Onnx__TensorProto *tp, oir_tensor *t, uint64_t need)
{
    const char *location = NULL, *off_s = NULL, *len_s = NULL;
    uint64_t offset = 0, length = need;
    olive_blob *file;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = str(tp->external_data[i]->key), *v = str(tp->external_data[i]->value);
        if (!strcmp(k, "location"))
            location = v;
        else if (!strcmp(k, "offset"))
            off_s = v;
        else if (!strcmp(k, "length"))
            len_s = v;
    }
    if (!location)
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' is stored externally but has no location", ctx->what,
                          t->name);
    if (off_s && parse_u64(off_s, &offset))
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' has an invalid external data offset '%s'", ctx->what,
                          t->name, off_s);
    if (len_s && parse_u64(len_s, &length))
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' has an invalid external data length '%s'", ctx->what,
                          t->name, len_s);
    if (length != need)
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s': external data length %llu does not match the %llu bytes "
                          "its type and shape need", ctx->what, t->name, (unsigned long long)length,
                          (unsigned long long)need);
    OLIVE_TRY(onnx_external_file(ctx, location, t->name, &file));
    if (offset > file->size || length > file->size - offset)
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s': external data at offset %llu, length %llu lies past the "
                          "end of '%s' (%zu bytes)", ctx->what, t->name, (unsigned long long)offset,
                          (unsigned long long)length, location, file->size);
    return oir_tensor_set_blob(t, file, offset, length);
}

static int tensor_strings(const Onnx__TensorProto *tp, oir_tensor *t, uint64_t numel, const char *what)
{
    if (tp->n_string_data != numel)
        return olive_fail(OLIVE_EFORMAT, "%s: string tensor '%s' has %zu elements but its shape needs %llu", what,
                          t->name, tp->n_string_data, (unsigned long long)numel);
    if (!numel)
        return OLIVE_OK;
    t->strings = olive_calloc(numel, sizeof *t->strings);
    if (!t->strings)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < numel; i++) {
        OLIVE_TRY(copy_bytes(&t->strings[i], &tp->string_data[i]));
        t->n_strings = i + 1;
    }
    return OLIVE_OK;
}

static int tensor_data(onnx_load_ctx *ctx, const Onnx__TensorProto *tp, oir_tensor *t, const onnx_raw_range *raw)
{
    int has_raw = tp->has_raw_data || (raw && raw->present);
    uint64_t numel, need;
    int f, per_elem;
    unsigned width;
    size_t count;
    olive_blob *blob;
    int rc;

    OLIVE_TRY(oir_tensor_numel(t, &numel));
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        if (t->dtype == OIR_STRING)
            return olive_fail(OLIVE_EFORMAT, "%s: string tensor '%s' cannot be stored externally", ctx->what, t->name);
        OLIVE_TRY(oir_tensor_expected_bytes(t, &need));
        return tensor_external(ctx, tp, t, need);
    }
    if (count_data_fields(tp, has_raw) > 1)
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' stores its data in more than one field", ctx->what, t->name);
    if (t->dtype == OIR_STRING) {
        if (has_raw || count_data_fields(tp, 0) > !!tp->n_string_data)
            return olive_fail(OLIVE_EFORMAT, "%s: string tensor '%s' must keep its data in string_data", ctx->what,
                              t->name);
        return tensor_strings(tp, t, numel, ctx->what);
    }
    if (tp->n_string_data)
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' of type %s has string_data", ctx->what, t->name,
                          oir_dtype_name(t->dtype));
    OLIVE_TRY(oir_tensor_expected_bytes(t, &need));
    if (has_raw) {
        uint64_t len = raw && raw->present ? raw->len : tp->raw_data.len;
        if (len != need)
            return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' has %llu bytes of raw_data but %s with %llu elements "
                              "needs %llu", ctx->what, t->name, (unsigned long long)len, oir_dtype_name(t->dtype),
                              (unsigned long long)numel, (unsigned long long)need);
        if (raw && raw->present)
            return oir_tensor_set_blob(t, ctx->model_blob, raw->offset, raw->len);
        if (!len)
            return OLIVE_OK;
        OLIVE_TRY(raw_to_blob(t, tp->raw_data.data, tp->raw_data.len, &blob));
        rc = oir_tensor_set_blob(t, blob, 0, len);
        olive_blob_unref(blob);
        return rc;
    }
    f = typed_field(t->dtype, &per_elem, &width);
    if (count_data_fields(tp, 0) && field_count(tp, f) == 0) {
        const char *used = tp->n_float_data ? "float_data" : tp->n_int32_data ? "int32_data" :
                           tp->n_int64_data ? "int64_data" : tp->n_double_data ? "double_data" : "uint64_data";
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' of type %s stores its data in %s", ctx->what, t->name,
                          oir_dtype_name(t->dtype), used);
    }
    count = field_count(tp, f);
    /* Checked before allocating: huge declared shapes with little data fail here. */
    if ((per_elem ? (uint64_t)count != numel * (uint64_t)per_elem : (uint64_t)count != need) || need == 0) {
        if (need == 0 && count == 0)
            return OLIVE_OK;
        if (count == 0)
            return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' (%s, %llu elements) has no data", ctx->what, t->name,
                              oir_dtype_name(t->dtype), (unsigned long long)numel);
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' has %zu entries in %s but %s with %llu elements needs %llu",
                          ctx->what, t->name, count, field_name(f), oir_dtype_name(t->dtype),
                          (unsigned long long)numel,
                          (unsigned long long)(per_elem ? numel * (uint64_t)per_elem : need));
    }
    OLIVE_TRY(olive_blob_alloc(&blob, (size_t)need));
    encode_typed((uint8_t *)blob->data, tp, f, width, count);
    rc = oir_tensor_set_blob(t, blob, 0, need);
    olive_blob_unref(blob);
    return rc;
}

static int tensor_from_proto(onnx_load_ctx *ctx, const Onnx__TensorProto *tp, const onnx_raw_range *raw,
                             oir_tensor **out)
{
    const char *name = str(tp->name);
    int32_t dtype = tp->has_data_type ? tp->data_type : OIR_UNDEFINED;
    oir_tensor *t;
    int rc;

    if (dtype <= OIR_UNDEFINED || dtype >= OIR_DTYPE_COUNT)
        return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' has unknown data type %d", ctx->what, name, (int)dtype);
    t = oir_tensor_new(name, dtype, tp->n_dims, tp->dims);
    if (!t)
        return OLIVE_ENOMEM;
    if ((rc = dup_opt(&t->doc_string, tp->doc_string)) != OLIVE_OK)
        goto fail;
    if ((rc = tensor_data(ctx, tp, t, raw)) != OLIVE_OK) {
        if (rc == OLIVE_EFORMAT && !strstr(olive_error_last(), ctx->what))
            olive_fail_context(rc, "%s", ctx->what);
        goto fail;
    }
    if (tp->segment && (rc = wire_append_message(&t->passthrough.data, &t->passthrough.len, TENSOR_SEGMENT,
                                                 &tp->segment->base)) != OLIVE_OK)
        goto fail;
    if ((rc = wire_append_unknown(&t->passthrough.data, &t->passthrough.len, &tp->base)) != OLIVE_OK)
        goto fail;
    *out = t;
    return OLIVE_OK;
fail:
    oir_tensor_free(t);
    return rc;
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
    default:
        t->kind = OIR_TYPE_NONE;
        break;
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

static int add_value_infos(oir_graph *g, Onnx__ValueInfoProto **vis, size_t n, add_vi_fn add,
                           oir_value_info **arr, size_t *count)
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
    if (ap->has_f) return OIR_ATTR_FLOAT;
    if (ap->has_i) return OIR_ATTR_INT;
    if (ap->has_s) return OIR_ATTR_STRING;
    if (ap->t) return OIR_ATTR_TENSOR;
    if (ap->g) return OIR_ATTR_GRAPH;
    if (ap->sparse_tensor) return OIR_ATTR_SPARSE_TENSOR;
    if (ap->tp) return OIR_ATTR_TYPE_PROTO;
    if (ap->n_floats) return OIR_ATTR_FLOATS;
    if (ap->n_ints) return OIR_ATTR_INTS;
    if (ap->n_strings) return OIR_ATTR_STRINGS;
    if (ap->n_tensors) return OIR_ATTR_TENSORS;
    if (ap->n_graphs) return OIR_ATTR_GRAPHS;
    if (ap->n_sparse_tensors) return OIR_ATTR_SPARSE_TENSORS;
    if (ap->n_type_protos) return OIR_ATTR_TYPE_PROTOS;
    return OIR_ATTR_UNDEFINED;
}

static int attr_value(onnx_load_ctx *ctx, const Onnx__AttributeProto *ap, oir_attr *a, const char *node)
{
    switch (a->type) {
    case OIR_ATTR_FLOAT: a->f = ap->f; return OLIVE_OK;
    case OIR_ATTR_INT: a->i = ap->i; return OLIVE_OK;
    case OIR_ATTR_STRING: return copy_bytes(&a->s, &ap->s);
    case OIR_ATTR_TENSOR:
        if (!ap->t)
            break;
        return tensor_from_proto(ctx, ap->t, NULL, &a->t);
    case OIR_ATTR_GRAPH:
        if (!ap->g)
            break;
        return graph_from_proto(ctx, ap->g, 0, &a->g);
    case OIR_ATTR_FLOATS:
        a->n = ap->n_floats;
        if (!(a->floats = olive_memdup(ap->floats, ap->n_floats * sizeof *ap->floats + 1)))
            return OLIVE_ENOMEM;
        return OLIVE_OK;
    case OIR_ATTR_INTS:
        a->n = ap->n_ints;
        if (!(a->ints = olive_memdup(ap->ints, ap->n_ints * sizeof *ap->ints + 1)))
            return OLIVE_ENOMEM;
        return OLIVE_OK;
    case OIR_ATTR_STRINGS:
        if (!(a->strings = olive_calloc(ap->n_strings + 1, sizeof *a->strings)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < ap->n_strings; i++) {
            OLIVE_TRY(copy_bytes(&a->strings[i], &ap->strings[i]));
            a->n = i + 1;
        }
        return OLIVE_OK;
    case OIR_ATTR_TENSORS:
        if (!(a->tensors = olive_calloc(ap->n_tensors + 1, sizeof *a->tensors)))
            return OLIVE_ENOMEM;
        for (size_t i = 0; i < ap->n_tensors; i++) {
            OLIVE_TRY(tensor_from_proto(ctx, ap->tensors[i], NULL, &a->tensors[i]));
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
    case OIR_ATTR_SPARSE_TENSOR: case OIR_ATTR_SPARSE_TENSORS:
    case OIR_ATTR_TYPE_PROTO: case OIR_ATTR_TYPE_PROTOS: {
        /* Kept whole and written back as it came. */
        size_t size = protobuf_c_message_get_packed_size(&ap->base);
        if (!(a->passthrough.data = olive_malloc(size + 1)))
            return OLIVE_ENOMEM;
        protobuf_c_message_pack(&ap->base, a->passthrough.data);
        a->passthrough.data[size] = 0;
        a->passthrough.len = size;
        a->n = a->type == OIR_ATTR_SPARSE_TENSORS ? ap->n_sparse_tensors :
               a->type == OIR_ATTR_TYPE_PROTOS ? ap->n_type_protos : 0;
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
        return olive_fail(OLIVE_EFORMAT, "%s: attribute '%s' of node '%s' has no type and no value", ctx->what,
                          a->name, node);
    return attr_value(ctx, ap, a, node);
}

static int node_from_proto(onnx_load_ctx *ctx, const Onnx__NodeProto *np, oir_node **out)
{
    const char *name = str(np->name);
    oir_node *n = oir_node_new(str(np->op_type), str(np->domain), name, np->n_input,
                               (const char *const *)np->input, np->n_output, (const char *const *)np->output);
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
            if ((rc = attr_from_proto(ctx, np->attribute[i], &n->attrs[i], *name ? name : str(np->op_type))) != OLIVE_OK)
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
            return olive_fail(OLIVE_EUNSUPPORTED, "%s: sparse initializer '%s' uses external data, which is not "
                              "supported", ctx->what, sp->values ? str(sp->values->name) : "");
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

static int graph_from_proto(onnx_load_ctx *ctx, const Onnx__GraphProto *gp, int top, oir_graph **out)
{
    oir_graph *g = oir_graph_new(str(gp->name));
    int rc;
    if (!g)
        return OLIVE_ENOMEM;
    if ((rc = dup_opt(&g->doc_string, gp->doc_string)) != OLIVE_OK)
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
        if ((rc = tensor_from_proto(ctx, gp->initializer[i], raw, &t)) != OLIVE_OK)
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
        OLIVE_TRY(wire_append_message(&m->passthrough.data, &m->passthrough.len, MODEL_FUNCTIONS,
                                      &mp->functions[i]->base));
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
