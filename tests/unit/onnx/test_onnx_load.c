/* Loading models written directly with protobuf-c: external data placement and refusals,
 * tensors in typed fields, the nesting limit, weights left in the mapped file, and the
 * fields the IR keeps as passthrough bytes. */
#include <stdint.h>

#include "core/status.h"
#include "ir/ir.h"
#include "onnx/onnx_io.h"
#include "onnx_test_util.h"

/* ---- building ModelProtos ---- */

typedef struct proto_model {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1];
    Onnx__NodeProto node;
    Onnx__NodeProto *nodes[1];
    char *node_in[2], *node_out[1];
    Onnx__ValueInfoProto in, out;
    Onnx__ValueInfoProto *ins[1], *outs[1];
    Onnx__TensorProto *inits[4];
} proto_model;

/* Y = Add(X, W); the caller fills the initializers. */
static void proto_model_init(proto_model *p, size_t n_inits)
{
    memset(p, 0, sizeof *p);
    onnx__model_proto__init(&p->model);
    onnx__graph_proto__init(&p->graph);
    onnx__operator_set_id_proto__init(&p->opset);
    onnx__node_proto__init(&p->node);
    onnx__value_info_proto__init(&p->in);
    onnx__value_info_proto__init(&p->out);
    p->model.has_ir_version = 1;
    p->model.ir_version = 8;
    p->opset.domain = "";
    p->opset.has_version = 1;
    p->opset.version = 17;
    p->opsets[0] = &p->opset;
    p->model.n_opset_import = 1;
    p->model.opset_import = p->opsets;
    p->model.graph = &p->graph;
    p->graph.name = "g";
    p->node_in[0] = "X";
    p->node_in[1] = "W";
    p->node_out[0] = "Y";
    p->node.op_type = "Add";
    p->node.n_input = 2;
    p->node.input = p->node_in;
    p->node.n_output = 1;
    p->node.output = p->node_out;
    p->nodes[0] = &p->node;
    p->graph.n_node = 1;
    p->graph.node = p->nodes;
    p->in.name = "X";
    p->out.name = "Y";
    p->ins[0] = &p->in;
    p->outs[0] = &p->out;
    p->graph.n_input = 1;
    p->graph.input = p->ins;
    p->graph.n_output = 1;
    p->graph.output = p->outs;
    p->graph.n_initializer = n_inits;
    p->graph.initializer = p->inits;
}

typedef struct ext_tensor {
    Onnx__TensorProto t;
    int64_t dims[1];
    Onnx__StringStringEntryProto kv[3];
    Onnx__StringStringEntryProto *kvp[3];
} ext_tensor;

static void tensor_init(Onnx__TensorProto *t, const char *name, int32_t dtype, int64_t *dims, size_t rank)
{
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = rank;
    t->dims = dims;
}

/* A float[4] tensor stored externally at `location` (offset / length as text, or NULL). */
static void ext_tensor_init(ext_tensor *e, const char *name, const char *location, const char *offset,
                            const char *length)
{
    const char *keys[3] = {"location", "offset", "length"};
    const char *vals[3] = {location, offset, length};
    e->dims[0] = 4;
    tensor_init(&e->t, name, OIR_FLOAT, e->dims, 1);
    e->t.has_data_location = 1;
    e->t.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    for (int i = 0; i < 3; i++) {
        onnx__string_string_entry_proto__init(&e->kv[i]);
        e->kv[i].key = (char *)keys[i];
        e->kv[i].value = (char *)vals[i];
        if (vals[i])
            e->kvp[e->t.n_external_data++] = &e->kv[i];
    }
    e->t.external_data = e->kvp;
}

static int load_one_external(const char *dir, const char *location, const char *offset, const char *length,
                             oir_model **out)
{
    proto_model p;
    ext_tensor e;
    char *path = path_in(dir, "model.onnx");
    int rc;
    proto_model_init(&p, 1);
    ext_tensor_init(&e, "W", location, offset, length);
    p.inits[0] = &e.t;
    write_message(dir, "model.onnx", &p.model.base);
    rc = onnx_load_file(out, path);
    free(path);
    return rc;
}

static void test_external_data(void)
{
    char *dir = scratch_dir(), *outside = scratch_dir(), *target, *link;
    float data[5] = {9, 1, 2, 3, 4};
    oir_model *m = NULL;
    proto_model p;
    ext_tensor a, b;
    char *path = path_in(dir, "model.onnx");

    write_bytes(dir, "w.data", data, sizeof data);
    write_bytes(outside, "secret.data", data, sizeof data);

    /* accepted: offset 4, default length; two tensors in one file share one mapping */
    proto_model_init(&p, 2);
    ext_tensor_init(&a, "W", "w.data", "4", "16");
    ext_tensor_init(&b, "V", "./w.data", "0", NULL);
    p.inits[0] = &a.t;
    p.inits[1] = &b.t;
    write_message(dir, "model.onnx", &p.model.base);
    CHECK_RC(onnx_load_file(&m, path), OLIVE_OK);
    if (m) {
        const oir_tensor *w = m->graph->initializers[0], *v = m->graph->initializers[1];
        CHECK(w->blob && w->blob->fd >= 0 && w->offset == 4 && w->nbytes == 16);
        CHECK(!memcmp(oir_tensor_data(w), data + 1, 16));
        CHECK(v->blob == w->blob);
        CHECK(m->n_sources == 2); /* the model file and the data file */
        CHECK_STR(m->path, path);
    }
    oir_model_free(m);
    m = NULL;

    /* refused locations */
    CHECK_RC(load_one_external(dir, "../w.data", NULL, NULL, &m), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("'W'");
    CHECK_ERROR_HAS("../w.data");
    CHECK_RC(load_one_external(dir, "sub/../../w.data", NULL, NULL, &m), OLIVE_EFORMAT);
    target = path_in(outside, "secret.data");
    CHECK_RC(load_one_external(dir, target, NULL, NULL, &m), OLIVE_EFORMAT);
    CHECK_ERROR_HAS(target);
    link = path_in(dir, "link.data");
    CHECK(symlink(target, link) == 0);
    CHECK_RC(load_one_external(dir, "link.data", NULL, NULL, &m), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("outside");
    CHECK_RC(load_one_external(dir, "", NULL, NULL, &m), OLIVE_EFORMAT);
    CHECK_RC(load_one_external(dir, "missing.data", NULL, NULL, &m), OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("missing.data");
    CHECK(m == NULL);

    /* offsets and lengths checked against the file size (20 bytes) */
    CHECK_RC(load_one_external(dir, "w.data", "8", "16", &m), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("'W'");
    CHECK_ERROR_HAS("w.data");
    CHECK_ERROR_HAS("offset 8");
    CHECK_RC(load_one_external(dir, "w.data", "18446744073709551615", "16", &m), OLIVE_EFORMAT);
    CHECK_RC(load_one_external(dir, "w.data", "99999999999999999999999", NULL, &m), OLIVE_EFORMAT);
    CHECK_RC(load_one_external(dir, "w.data", "-4", NULL, &m), OLIVE_EFORMAT);
    CHECK_RC(load_one_external(dir, "w.data", "0", "12", &m), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("length 12");
    CHECK_RC(load_one_external(dir, "w.data", "0", "18446744073709551615", &m), OLIVE_EFORMAT);
    CHECK(m == NULL);

    /* from memory: no folder, no external data */
    CHECK_RC(load_one_external(dir, "w.data", NULL, NULL, &m), OLIVE_OK);
    oir_model_free(m);
    m = NULL;
    {
        size_t len;
        uint8_t *bytes = read_all(path, &len);
        CHECK_RC(onnx_load_buffer(&m, bytes, len, NULL), OLIVE_EUNSUPPORTED);
        CHECK(m == NULL);
        free(bytes);
    }
    free(target);
    free(link);
    free(path);
    scratch_free(dir);
    scratch_free(outside);
}

/* ---- typed fields ---- */

static int load_tensor(Onnx__TensorProto *t, oir_model **out)
{
    proto_model p;
    size_t n;
    uint8_t *buf;
    int rc;
    proto_model_init(&p, 1);
    p.inits[0] = t;
    n = protobuf_c_message_get_packed_size(&p.model.base);
    buf = malloc(n);
    protobuf_c_message_pack(&p.model.base, buf);
    rc = onnx_load_buffer(out, buf, n, NULL);
    free(buf);
    return rc;
}

/* Loads `t` and checks its bytes. */
static void expect_bytes(Onnx__TensorProto *t, const void *want, size_t len)
{
    oir_model *m = NULL;
    CHECK_RC(load_tensor(t, &m), OLIVE_OK);
    if (m) {
        const oir_tensor *x = m->graph->initializers[0];
        CHECK(x->nbytes == len);
        CHECK(x->nbytes == len && (!len || !memcmp(oir_tensor_data(x), want, len)));
    }
    oir_model_free(m);
}

static void expect_error(Onnx__TensorProto *t, int code, const char *needle)
{
    oir_model *m = NULL;
    CHECK_RC(load_tensor(t, &m), code);
    CHECK_ERROR_HAS(needle);
    CHECK(m == NULL);
    oir_model_free(m);
}

static void test_typed_fields(void)
{
    Onnx__TensorProto t;
    int64_t d2[1] = {2}, d3[1] = {3}, d4[1] = {4}, huge[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    int64_t neg[2] = {2, -3};
    float f[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    int32_t half[2] = {0x3c00, 0xc000}, i8[3] = {-1, 5, 127}, bools[3] = {1, 0, 1}, nibbles[2] = {0x21, 0x03};
    int64_t i64[2] = {-1, INT64_C(1) << 40};
    uint64_t u32[2] = {7, 0xffffffffu};
    double dbl[2] = {1.5, -2.25};
    ProtobufCBinaryData strs[2] = {{3, (uint8_t *)"abc"}, {0, NULL}};
    uint8_t raw[15] = {0};

    tensor_init(&t, "f32", OIR_FLOAT, d4, 1);
    t.n_float_data = 4;
    t.float_data = f;
    expect_bytes(&t, f, 16);

    tensor_init(&t, "c64", OIR_COMPLEX64, d2, 1);
    t.n_float_data = 4;
    t.float_data = f;
    expect_bytes(&t, f, 16);

    tensor_init(&t, "f16", OIR_FLOAT16, d2, 1);
    t.n_int32_data = 2;
    t.int32_data = half;
    expect_bytes(&t, (uint8_t[]){0x00, 0x3c, 0x00, 0xc0}, 4);

    tensor_init(&t, "bf16", OIR_BFLOAT16, d2, 1);
    t.n_int32_data = 2;
    t.int32_data = half;
    expect_bytes(&t, (uint8_t[]){0x00, 0x3c, 0x00, 0xc0}, 4);

    tensor_init(&t, "i8", OIR_INT8, d3, 1);
    t.n_int32_data = 3;
    t.int32_data = i8;
    expect_bytes(&t, (uint8_t[]){0xff, 0x05, 0x7f}, 3);

    tensor_init(&t, "b", OIR_BOOL, d3, 1);
    t.n_int32_data = 3;
    t.int32_data = bools;
    expect_bytes(&t, (uint8_t[]){1, 0, 1}, 3);

    tensor_init(&t, "u4", OIR_UINT4, d3, 1); /* three 4-bit values in two bytes */
    t.n_int32_data = 2;
    t.int32_data = nibbles;
    expect_bytes(&t, (uint8_t[]){0x21, 0x03}, 2);

    tensor_init(&t, "i64", OIR_INT64, d2, 1);
    t.n_int64_data = 2;
    t.int64_data = i64;
    expect_bytes(&t, i64, 16);

    tensor_init(&t, "u32", OIR_UINT32, d2, 1);
    t.n_uint64_data = 2;
    t.uint64_data = u32;
    expect_bytes(&t, (uint32_t[]){7, 0xffffffffu}, 8);

    tensor_init(&t, "f64", OIR_DOUBLE, d2, 1);
    t.n_double_data = 2;
    t.double_data = dbl;
    expect_bytes(&t, dbl, 16);

    tensor_init(&t, "scalar", OIR_FLOAT, NULL, 0);
    t.n_float_data = 1;
    t.float_data = f;
    expect_bytes(&t, f, 4);

    {
        oir_model *m = NULL;
        tensor_init(&t, "s", OIR_STRING, d2, 1);
        t.n_string_data = 2;
        t.string_data = strs;
        CHECK_RC(load_tensor(&t, &m), OLIVE_OK);
        if (m) {
            const oir_tensor *x = m->graph->initializers[0];
            CHECK(x->n_strings == 2 && x->strings[0].len == 3 && !memcmp(x->strings[0].data, "abc", 3));
            CHECK(x->strings[1].len == 0);
        }
        oir_model_free(m);
    }

    /* lengths that do not match dtype x dims, named by tensor */
    tensor_init(&t, "short", OIR_FLOAT, d4, 1);
    t.n_float_data = 3;
    t.float_data = f;
    expect_error(&t, OLIVE_EFORMAT, "'short'");
    tensor_init(&t, "wrongfield", OIR_INT64, d2, 1);
    t.n_float_data = 2;
    t.float_data = f;
    expect_error(&t, OLIVE_EFORMAT, "float_data");
    tensor_init(&t, "raw15", OIR_FLOAT, d4, 1);
    t.has_raw_data = 1;
    t.raw_data.len = 15;
    t.raw_data.data = raw;
    expect_error(&t, OLIVE_EFORMAT, "'raw15'");
    tensor_init(&t, "both", OIR_FLOAT, d4, 1);
    t.has_raw_data = 1;
    t.raw_data.len = 16;
    t.raw_data.data = (uint8_t *)f;
    t.n_float_data = 4;
    t.float_data = f;
    expect_error(&t, OLIVE_EFORMAT, "'both'");
    tensor_init(&t, "nodata", OIR_FLOAT, d4, 1);
    expect_error(&t, OLIVE_EFORMAT, "'nodata'");
    /* a huge declared shape with one value: refused without allocating the shape */
    tensor_init(&t, "huge", OIR_FLOAT, huge, 2);
    t.n_float_data = 1;
    t.float_data = f;
    expect_error(&t, OLIVE_EFORMAT, "'huge'");
    tensor_init(&t, "overflow", OIR_FLOAT, (int64_t[]){INT64_MAX, INT64_MAX}, 2);
    t.n_float_data = 1;
    t.float_data = f;
    expect_error(&t, OLIVE_EFORMAT, "'overflow'");
    tensor_init(&t, "negative", OIR_FLOAT, neg, 2);
    t.n_float_data = 1;
    t.float_data = f;
    expect_error(&t, OLIVE_EFORMAT, "'negative'");
    tensor_init(&t, "strange", 99, d2, 1);
    expect_error(&t, OLIVE_EFORMAT, "unknown data type 99");
    tensor_init(&t, "undefined", 0, d2, 1);
    expect_error(&t, OLIVE_EFORMAT, "'undefined'");
    tensor_init(&t, "strcount", OIR_STRING, d3, 1);
    t.n_string_data = 2;
    t.string_data = strs;
    expect_error(&t, OLIVE_EFORMAT, "'strcount'");
}

/* ---- embedded weights stay in the mapped model file ---- */

static void test_no_copy(void)
{
    char *dir = scratch_dir(), *path = path_in(dir, "model.onnx");
    proto_model p;
    Onnx__TensorProto t1, t2;
    int64_t d[1] = {1000};
    float *vals = calloc(1000, sizeof *vals);
    oir_model *m = NULL;
    size_t len;
    uint8_t *file;

    for (int i = 0; i < 1000; i++)
        vals[i] = (float)i;
    proto_model_init(&p, 2);
    tensor_init(&t1, "W", OIR_FLOAT, d, 1);
    t1.has_raw_data = 1;
    t1.raw_data.len = 4000;
    t1.raw_data.data = (uint8_t *)vals;
    t1.doc_string = "after the data";
    tensor_init(&t2, "V", OIR_FLOAT, d, 1);
    t2.n_float_data = 1000;
    t2.float_data = vals;
    p.inits[0] = &t1;
    p.inits[1] = &t2;
    write_message(dir, "model.onnx", &p.model.base);
    file = read_all(path, &len);

    CHECK_RC(onnx_load_file(&m, path), OLIVE_OK);
    if (m) {
        const oir_tensor *w = m->graph->initializers[0], *v = m->graph->initializers[1];
        CHECK(w->blob->fd >= 0 && w->blob->size == len); /* the model file's own mapping */
        CHECK(w->offset + 4000 <= len && !memcmp(file + w->offset, vals, 4000));
        CHECK(!memcmp(oir_tensor_data(w), vals, 4000));
        CHECK_STR(w->doc_string, "after the data");
        CHECK(v->blob->fd < 0 && !memcmp(oir_tensor_data(v), vals, 4000)); /* converted: heap */
        CHECK(m->n_sources == 1);
    }
    oir_model_free(m);
    /* Truncating the file anywhere gives an error, never a crash. */
    for (size_t cut = 0; cut < len; cut += (cut < 200 || len - cut < 200) ? 1 : 97) {
        m = NULL;
        int rc = onnx_load_buffer(&m, file, cut, NULL);
        CHECK(rc != OLIVE_OK || m != NULL);
        CHECK(rc == OLIVE_OK || m == NULL);
        oir_model_free(m);
    }
    free(file);
    free(vals);
    free(path);
    scratch_free(dir);
}

/* ---- nesting ---- */

/* A model whose main graph holds `levels` nested If subgraphs. Each level adds three messages
 * (node, attribute, graph) below the model and its graph. */
static uint8_t *nested_model(int levels, size_t *len)
{
    Onnx__GraphProto *graphs = calloc((size_t)levels + 1, sizeof *graphs);
    Onnx__NodeProto *nodes = calloc((size_t)levels, sizeof *nodes);
    Onnx__AttributeProto *attrs = calloc((size_t)levels, sizeof *attrs);
    Onnx__NodeProto **node_ptrs = calloc((size_t)levels, sizeof *node_ptrs);
    Onnx__AttributeProto **attr_ptrs = calloc((size_t)levels, sizeof *attr_ptrs);
    static char *cond[1] = {"cond"}, *out[1] = {"y"};
    proto_model p;
    uint8_t *buf;
    proto_model_init(&p, 0);
    for (int i = 0; i <= levels; i++) {
        onnx__graph_proto__init(&graphs[i]);
        graphs[i].name = "level";
    }
    for (int i = 0; i < levels; i++) {
        onnx__node_proto__init(&nodes[i]);
        onnx__attribute_proto__init(&attrs[i]);
        nodes[i].op_type = "If";
        nodes[i].n_input = 1;
        nodes[i].input = cond;
        nodes[i].n_output = 1;
        nodes[i].output = out;
        attrs[i].name = "then_branch";
        attrs[i].has_type = 1;
        attrs[i].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
        attrs[i].g = &graphs[i + 1];
        attr_ptrs[i] = &attrs[i];
        nodes[i].n_attribute = 1;
        nodes[i].attribute = &attr_ptrs[i];
        node_ptrs[i] = &nodes[i];
        graphs[i].n_node = 1;
        graphs[i].node = &node_ptrs[i];
    }
    p.model.graph = &graphs[0];
    *len = protobuf_c_message_get_packed_size(&p.model.base);
    buf = malloc(*len);
    protobuf_c_message_pack(&p.model.base, buf);
    free(graphs);
    free(nodes);
    free(attrs);
    free(node_ptrs);
    free(attr_ptrs);
    return buf;
}

static int graph_depth(const oir_graph *g)
{
    int best = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t j = 0; j < g->nodes[i]->n_attrs; j++)
            if (g->nodes[i]->attrs[j].g) {
                int d = graph_depth(g->nodes[i]->attrs[j].g);
                if (d > best)
                    best = d;
            }
    return best + 1;
}

static void test_nesting(void)
{
    size_t len;
    uint8_t *buf;
    oir_model *m = NULL;

    /* 2 + 3 * 20 = 62 levels: accepted, and a save of it loads again */
    buf = nested_model(20, &len);
    CHECK_RC(onnx_load_buffer(&m, buf, len, NULL), OLIVE_OK);
    free(buf);
    if (m) {
        char *dir = scratch_dir(), *path = path_in(dir, "nested.onnx");
        oir_model *back = NULL;
        CHECK(graph_depth(m->graph) == 21);
        CHECK_RC(onnx_save_file(m, path, NULL), OLIVE_OK);
        CHECK_RC(onnx_load_file(&back, path), OLIVE_OK);
        CHECK(back && graph_depth(back->graph) == 21);
        oir_model_free(back);
        free(path);
        scratch_free(dir);
    }
    oir_model_free(m);
    m = NULL;
    /* 65 levels: refused before protobuf-c sees it */
    buf = nested_model(21, &len);
    CHECK_RC(onnx_load_buffer(&m, buf, len, NULL), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("deeper than 64");
    free(buf);
    buf = nested_model(5000, &len);
    CHECK_RC(onnx_load_buffer(&m, buf, len, NULL), OLIVE_EFORMAT);
    CHECK(m == NULL);
    free(buf);
}

/* ---- passthrough: what the IR does not model comes back unchanged ---- */

static size_t pack_msg(const ProtobufCMessage *msg, uint8_t **out)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    *out = malloc(n ? n : 1);
    protobuf_c_message_pack(msg, *out);
    return n;
}

static int same_message(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    uint8_t *pa, *pb;
    size_t na, nb;
    int same;
    if (!a || !b)
        return 0;
    na = pack_msg(a, &pa);
    nb = pack_msg(b, &pb);
    same = na == nb && !memcmp(pa, pb, na);
    free(pa);
    free(pb);
    return same;
}

static void test_passthrough(void)
{
    proto_model p;
    Onnx__FunctionProto fn;
    Onnx__FunctionProto *fns[1] = {&fn};
    Onnx__NodeProto fnode;
    Onnx__NodeProto *fnodes[1] = {&fnode};
    char *fin[1] = {"a"}, *fout[1] = {"b"};
    Onnx__TrainingInfoProto ti;
    Onnx__TrainingInfoProto *tis[1] = {&ti};
    Onnx__GraphProto algo;
    Onnx__SparseTensorProto sp;
    Onnx__SparseTensorProto *sps[1] = {&sp};
    Onnx__TensorProto sv, si, w;
    Onnx__TensorProto *inits[1] = {&w};
    Onnx__TensorAnnotation qa;
    Onnx__TensorAnnotation *qas[1] = {&qa};
    Onnx__AttributeProto a_sparse, a_tp;
    Onnx__AttributeProto *attrs[2] = {&a_sparse, &a_tp};
    Onnx__TypeProto tp;
    Onnx__TypeProto__Tensor tpt;
    int64_t d2[1] = {2}, d1[1] = {1}, sdims[1] = {10}, idx[1] = {3};
    float fv[2] = {1, 2}, wv[2] = {5, 6};
    ProtobufCMessageUnknownField unk[1];
    uint8_t unk_data[2] = {0x01, 'z'}; /* length prefix, then the payload */
    uint8_t *buf, *saved_bytes;
    size_t len, saved_len;
    oir_model *m = NULL;
    char *dir = scratch_dir(), *path = path_in(dir, "model.onnx");
    Onnx__ModelProto *back;

    proto_model_init(&p, 1);
    tensor_init(&w, "W", OIR_FLOAT, d2, 1);
    w.n_float_data = 2;
    w.float_data = wv;
    p.graph.initializer = inits;

    onnx__function_proto__init(&fn);
    onnx__node_proto__init(&fnode);
    fn.name = "MyFn";
    fn.domain = "custom";
    fnode.op_type = "Neg";
    fnode.n_input = 1;
    fnode.input = fin;
    fnode.n_output = 1;
    fnode.output = fout;
    fn.n_input = 1;
    fn.input = fin;
    fn.n_output = 1;
    fn.output = fout;
    fn.n_node = 1;
    fn.node = fnodes;
    p.model.n_functions = 1;
    p.model.functions = fns;

    onnx__training_info_proto__init(&ti);
    onnx__graph_proto__init(&algo);
    algo.name = "algorithm";
    ti.algorithm = &algo;
    p.model.n_training_info = 1;
    p.model.training_info = tis;

    onnx__sparse_tensor_proto__init(&sp);
    tensor_init(&sv, "sparse_w", OIR_FLOAT, d1, 1);
    sv.n_float_data = 1;
    sv.float_data = fv;
    tensor_init(&si, "", OIR_INT64, d1, 1);
    si.n_int64_data = 1;
    si.int64_data = idx;
    sp.values = &sv;
    sp.indices = &si;
    sp.n_dims = 1;
    sp.dims = sdims;
    p.graph.n_sparse_initializer = 1;
    p.graph.sparse_initializer = sps;

    onnx__tensor_annotation__init(&qa);
    qa.tensor_name = "Y";
    p.graph.n_quantization_annotation = 1;
    p.graph.quantization_annotation = qas;

    onnx__attribute_proto__init(&a_sparse);
    a_sparse.name = "sp";
    a_sparse.has_type = 1;
    a_sparse.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR;
    a_sparse.sparse_tensor = &sp;
    onnx__attribute_proto__init(&a_tp);
    onnx__type_proto__init(&tp);
    onnx__type_proto__tensor__init(&tpt);
    tpt.has_elem_type = 1;
    tpt.elem_type = OIR_FLOAT;
    tp.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp.tensor_type = &tpt;
    a_tp.name = "tp";
    a_tp.has_type = 1;
    a_tp.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO;
    a_tp.tp = &tp;
    p.node.n_attribute = 2;
    p.node.attribute = attrs;

    /* field 50 (length-delimited "z") on the model, graph, node and tensor */
    unk[0].tag = 50;
    unk[0].wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    unk[0].len = 2;
    unk[0].data = unk_data;
    p.model.base.n_unknown_fields = p.graph.base.n_unknown_fields = p.node.base.n_unknown_fields = 1;
    w.base.n_unknown_fields = 1;
    p.model.base.unknown_fields = p.graph.base.unknown_fields = p.node.base.unknown_fields = unk;
    w.base.unknown_fields = unk;

    len = pack_msg(&p.model.base, &buf);
    CHECK_RC(onnx_load_buffer(&m, buf, len, NULL), OLIVE_OK);
    if (m) {
        CHECK(m->graph->nodes[0]->n_attrs == 2 && m->graph->nodes[0]->attrs[0].type == OIR_ATTR_SPARSE_TENSOR);
        CHECK_RC(onnx_save_file(m, path, NULL), OLIVE_OK);
    }
    oir_model_free(m);
    saved_bytes = read_all(path, &saved_len);
    back = saved_bytes ? onnx__model_proto__unpack(NULL, saved_len, saved_bytes) : NULL;
    CHECK(back != NULL);
    if (back) {
        CHECK(back->n_functions == 1 && same_message(&back->functions[0]->base, &fn.base));
        CHECK(back->n_training_info == 1 && same_message(&back->training_info[0]->base, &ti.base));
        CHECK(back->graph->n_sparse_initializer == 1 &&
              same_message(&back->graph->sparse_initializer[0]->base, &sp.base));
        CHECK(back->graph->n_quantization_annotation == 1 &&
              same_message(&back->graph->quantization_annotation[0]->base, &qa.base));
        CHECK(back->graph->node[0]->n_attribute == 2);
        if (back->graph->node[0]->n_attribute == 2) {
            CHECK(same_message(&back->graph->node[0]->attribute[0]->base, &a_sparse.base));
            CHECK(same_message(&back->graph->node[0]->attribute[1]->base, &a_tp.base));
        }
        CHECK(back->base.n_unknown_fields == 1 && back->base.unknown_fields[0].tag == 50);
        CHECK(back->graph->base.n_unknown_fields == 1 && back->graph->node[0]->base.n_unknown_fields == 1);
        CHECK(back->graph->initializer[0]->base.n_unknown_fields == 1);
        CHECK(back->graph->initializer[0]->base.n_unknown_fields == 1 &&
              back->graph->initializer[0]->base.unknown_fields[0].len == 2 &&
              !memcmp(back->graph->initializer[0]->base.unknown_fields[0].data, unk_data, 2));
        onnx__model_proto__free_unpacked(back, NULL);
    }
    /* A sparse initializer stored externally cannot be carried through: refused. */
    sv.has_data_location = 1;
    sv.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    free(buf);
    len = pack_msg(&p.model.base, &buf);
    m = NULL;
    CHECK_RC(onnx_load_buffer(&m, buf, len, NULL), OLIVE_EUNSUPPORTED);
    CHECK_ERROR_HAS("sparse_w");
    free(buf);
    free(saved_bytes);
    free(path);
    scratch_free(dir);
}

int main(void)
{
    test_external_data();
    test_typed_fields();
    test_no_copy();
    test_nesting();
    test_passthrough();
    return check_summary("test_onnx_load");
}
