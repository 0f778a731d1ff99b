/* Saving and reloading models built through the IR API: every modelled field survives, the
 * external data options place tensors where they say, failures leave nothing behind and the
 * model's own files are never overwritten. */
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"
#include "onnx/onnx_io.h"
#include "onnx_test_util.h"

/* ---- a model that uses every part of the IR ---- */

static oir_tensor *float_tensor(const char *name, size_t n, float start)
{
    int64_t dims[1] = {(int64_t)n};
    oir_tensor *t = oir_tensor_new(name, OIR_FLOAT, 1, dims);
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = start + (float)i * 0.5f;
    CHECK_RC(oir_tensor_set_copy(t, v, n * sizeof *v), OLIVE_OK);
    free(v);
    return t;
}

static oir_tensor *string_tensor(const char *name)
{
    int64_t dims[1] = {3};
    oir_tensor *t = oir_tensor_new(name, OIR_STRING, 1, dims);
    static const char *vals[3] = {"alpha", "", "with\0nul"};
    static const size_t lens[3] = {5, 0, 8};
    t->strings = calloc(3, sizeof *t->strings);
    t->n_strings = 3;
    for (int i = 0; i < 3; i++) {
        t->strings[i].data = malloc(lens[i] + 1);
        memcpy(t->strings[i].data, vals[i], lens[i]);
        t->strings[i].data[lens[i]] = 0;
        t->strings[i].len = lens[i];
    }
    return t;
}

static oir_type *nested_type(void)
{
    /* optional(sequence(map(int64 -> tensor(float, [N, 3])))) with denotations */
    const char *params[2] = {"N", NULL};
    int64_t dims[2] = {-1, 3};
    oir_type *tensor = oir_type_new_tensor(OIR_FLOAT, 2, dims, params);
    oir_type *map = calloc(1, sizeof *map), *seq = calloc(1, sizeof *seq), *opt = calloc(1, sizeof *opt);
    tensor->dims[0].denotation = strdup("DATA_BATCH");
    tensor->denotation = strdup("TENSOR");
    map->kind = OIR_TYPE_MAP;
    map->elem_type = OIR_INT64;
    map->inner = tensor;
    seq->kind = OIR_TYPE_SEQUENCE;
    seq->inner = map;
    opt->kind = OIR_TYPE_OPTIONAL;
    opt->inner = seq;
    return opt;
}

static void set_bytes(oir_bytes *b, const void *data, size_t len)
{
    b->data = malloc(len + 1);
    memcpy(b->data, data, len);
    b->data[len] = 0;
    b->len = len;
}

static oir_attr *add_attr(oir_node *n, const char *name, int32_t type)
{
    oir_attr *a;
    if (olive_grow((void **)&n->attrs, &n->cap_attrs, n->n_attrs + 1, sizeof *n->attrs))
        exit(2);
    a = &n->attrs[n->n_attrs++];
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    a->type = type;
    return a;
}

static oir_graph *branch(const char *name, const char *out, float value)
{
    oir_graph *g = oir_graph_new(name);
    const char *outs[1] = {out};
    oir_node *c = oir_node_new("Constant", "", "", 0, NULL, 1, outs);
    int64_t dims[1] = {4};
    oir_type *t = oir_type_new_tensor(OIR_FLOAT, 1, dims, NULL);
    oir_node_set_attr_tensor(c, "value", float_tensor("", 4, value));
    oir_graph_add_node(g, c);
    oir_graph_add_initializer(g, float_tensor("sub_init", 400, value)); /* 1600 bytes, stays embedded */
    oir_graph_add_output(g, out, t);
    oir_type_free(t);
    return g;
}

/* Unknown fields as a newer ONNX would write them: field 99 (varint 5) and field 100 (bytes). */
static const uint8_t UNKNOWN[] = {0x98, 0x06, 0x05, 0xa2, 0x06, 0x03, 'n', 'e', 'w'};

static oir_model *build_model(void)
{
    oir_model *m = oir_model_new();
    oir_graph *g = m->graph;
    const char *mm_in[2] = {"X", "W"}, *mm_out[1] = {"T"};
    const char *add_in[2] = {"T", "B"}, *add_out[1] = {"Y"};
    const char *if_in[1] = {"cond"}, *if_out[1] = {"Z"};
    oir_node *mm = oir_node_new("MatMul", "", "mm", 2, mm_in, 1, mm_out);
    oir_node *add = oir_node_new("Add", "", "add", 2, add_in, 1, add_out);
    oir_node *iff = oir_node_new("If", "", "if", 1, if_in, 1, if_out);
    oir_node *custom = oir_node_new("Custom", "com.example", "custom", 1, add_out, 2, (const char *[]){"", "C"});
    const char *params[2] = {"batch", NULL};
    int64_t xdims[2] = {-1, 4};
    oir_type *xt = oir_type_new_tensor(OIR_FLOAT, 2, xdims, params);
    oir_type *nt = nested_type();
    oir_type *sparse = oir_type_new_tensor(OIR_FLOAT, 0, NULL, NULL);
    oir_type *anyrank = oir_type_new_tensor(OIR_INT64, 0, NULL, NULL);
    oir_attr *a;
    /* one spare element: oir_node_set_attr_floats/ints read a byte past `count` */
    float fl[4] = {1.5f, -2.0f, 0.25f, 0};
    int64_t in[5] = {1, -2, 3, INT64_MAX, 0};

    m->ir_version = 9;
    m->producer_name = strdup("unit-test");
    m->producer_version = strdup("1.2.3");
    m->domain = strdup("org.example");
    m->model_version = 42;
    m->doc_string = strdup("model doc");
    oir_model_require_opset(m, "", 18);
    oir_model_require_opset(m, "com.example", 1);
    m->metadata_keys = calloc(2, sizeof(char *));
    m->metadata_values = calloc(2, sizeof(char *));
    m->metadata_keys[0] = strdup("author");
    m->metadata_values[0] = strdup("someone");
    m->metadata_keys[1] = strdup("empty");
    m->metadata_values[1] = strdup("");
    m->n_metadata = m->cap_metadata = 2;
    set_bytes(&m->passthrough, UNKNOWN, sizeof UNKNOWN);

    free(g->name);
    g->name = strdup("main graph");
    g->doc_string = strdup("graph doc");
    sparse->kind = OIR_TYPE_SPARSE_TENSOR;
    anyrank->has_shape = 0;
    oir_graph_add_input(g, "X", xt);
    oir_graph_add_input(g, "cond", NULL);
    g->inputs[0].doc_string = strdup("input doc");
    oir_graph_add_output(g, "Y", xt);
    oir_graph_add_output(g, "Z", anyrank);
    oir_graph_add_output(g, "C", nt);
    oir_graph_add_value_info(g, "T", sparse);
    g->passthrough = calloc(1, sizeof *g->passthrough);
    set_bytes(&g->passthrough[0], UNKNOWN, sizeof UNKNOWN);
    g->n_passthrough = 1;

    oir_graph_add_initializer(g, float_tensor("W", 16, 1.0f));     /* 64 bytes */
    oir_graph_add_initializer(g, float_tensor("B", 300, -3.0f));   /* 1200 bytes */
    oir_graph_add_initializer(g, float_tensor("big", 1024, 7.0f)); /* 4096 bytes */
    oir_graph_add_initializer(g, string_tensor("S"));
    oir_graph_add_initializer(g, oir_tensor_new("empty", OIR_FLOAT, 1, (int64_t[]){0}));
    g->initializers[1]->doc_string = strdup("bias");
    set_bytes(&g->initializers[2]->passthrough, UNKNOWN, sizeof UNKNOWN);

    mm->doc_string = strdup("node doc");
    set_bytes(&mm->passthrough, UNKNOWN, sizeof UNKNOWN);
    oir_graph_add_node(g, mm);
    oir_graph_add_node(g, add);
    oir_node_set_attr_graph(iff, "then_branch", branch("then", "z_then", 1.0f));
    oir_node_set_attr_graph(iff, "else_branch", branch("else", "z_else", 2.0f));
    oir_graph_add_node(g, iff);

    oir_node_set_attr_int(custom, "i", -7);
    oir_node_set_attr_float(custom, "f", 3.25f);
    a = add_attr(custom, "s", OIR_ATTR_STRING);
    set_bytes(&a->s, "bin\0ary", 7);
    a->doc_string = strdup("attr doc");
    oir_node_set_attr_floats(custom, "fs", fl, 3);
    oir_node_set_attr_ints(custom, "is", in, 4);
    oir_node_set_attr_ints(custom, "empty_ints", in, 0);
    a = add_attr(custom, "ss", OIR_ATTR_STRINGS);
    a->n = 2;
    a->strings = calloc(2, sizeof *a->strings);
    set_bytes(&a->strings[0], "one", 3);
    set_bytes(&a->strings[1], "", 0);
    oir_node_set_attr_tensor(custom, "t", string_tensor("attr_strings"));
    a = add_attr(custom, "ts", OIR_ATTR_TENSORS);
    a->n = 2;
    a->tensors = calloc(2, sizeof *a->tensors);
    a->tensors[0] = float_tensor("t0", 2, 0.0f);
    a->tensors[1] = float_tensor("t1", 3, 1.0f);
    a = add_attr(custom, "gs", OIR_ATTR_GRAPHS);
    a->n = 1;
    a->graphs = calloc(1, sizeof *a->graphs);
    a->graphs[0] = branch("listed", "z_listed", 3.0f);
    a = add_attr(custom, "ref", OIR_ATTR_INT);
    a->ref_attr_name = strdup("outer_attr");
    oir_graph_add_node(g, custom);

    oir_type_free(xt);
    oir_type_free(nt);
    oir_type_free(sparse);
    oir_type_free(anyrank);
    return m;
}

/* ---- deep comparison of two IR models ---- */

static int str_eq(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

static int bytes_eq(const oir_bytes *a, const oir_bytes *b)
{
    return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
}

static int tensor_eq(const oir_tensor *a, const oir_tensor *b)
{
    if (!str_eq(a->name, b->name) || !str_eq(a->doc_string, b->doc_string) || a->dtype != b->dtype ||
        a->rank != b->rank || (a->rank && memcmp(a->dims, b->dims, a->rank * sizeof *a->dims)) ||
        a->nbytes != b->nbytes || a->n_strings != b->n_strings || !bytes_eq(&a->passthrough, &b->passthrough))
        return 0;
    if (a->nbytes && memcmp(oir_tensor_data(a), oir_tensor_data(b), a->nbytes))
        return 0;
    for (size_t i = 0; i < a->n_strings; i++)
        if (!bytes_eq(&a->strings[i], &b->strings[i]))
            return 0;
    return 1;
}

static int type_eq(const oir_type *a, const oir_type *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->elem_type != b->elem_type || a->has_shape != b->has_shape || a->rank != b->rank ||
        !str_eq(a->denotation, b->denotation))
        return 0;
    for (size_t i = 0; i < a->rank; i++)
        if (a->dims[i].has_value != b->dims[i].has_value || a->dims[i].value != b->dims[i].value ||
            !str_eq(a->dims[i].param, b->dims[i].param) || !str_eq(a->dims[i].denotation, b->dims[i].denotation))
            return 0;
    return type_eq(a->inner, b->inner);
}

static int vis_eq(const oir_value_info *a, const oir_value_info *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!str_eq(a[i].name, b[i].name) || !str_eq(a[i].doc_string, b[i].doc_string) ||
            !type_eq(a[i].type, b[i].type))
            return 0;
    return 1;
}

static int graph_eq(const oir_graph *a, const oir_graph *b);

static int attr_eq(const oir_attr *a, const oir_attr *b)
{
    if (!str_eq(a->name, b->name) || !str_eq(a->doc_string, b->doc_string) ||
        !str_eq(a->ref_attr_name, b->ref_attr_name) || a->type != b->type || a->f != b->f || a->i != b->i ||
        !bytes_eq(&a->s, &b->s) || a->n != b->n || !bytes_eq(&a->passthrough, &b->passthrough))
        return 0;
    if ((a->t || b->t) && (!a->t || !b->t || !tensor_eq(a->t, b->t)))
        return 0;
    if ((a->g || b->g) && (!a->g || !b->g || !graph_eq(a->g, b->g)))
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->type == OIR_ATTR_FLOATS && a->floats[i] != b->floats[i])
            return 0;
        if (a->type == OIR_ATTR_INTS && a->ints[i] != b->ints[i])
            return 0;
        if (a->type == OIR_ATTR_STRINGS && !bytes_eq(&a->strings[i], &b->strings[i]))
            return 0;
        if (a->type == OIR_ATTR_TENSORS && !tensor_eq(a->tensors[i], b->tensors[i]))
            return 0;
        if (a->type == OIR_ATTR_GRAPHS && !graph_eq(a->graphs[i], b->graphs[i]))
            return 0;
    }
    return 1;
}

static int node_eq(const oir_node *a, const oir_node *b)
{
    if (!str_eq(a->name, b->name) || !str_eq(a->op_type, b->op_type) || !str_eq(a->domain, b->domain) ||
        !str_eq(a->doc_string, b->doc_string) || a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs ||
        a->n_attrs != b->n_attrs || !bytes_eq(&a->passthrough, &b->passthrough))
        return 0;
    for (size_t i = 0; i < a->n_inputs; i++)
        if (!str_eq(a->inputs[i], b->inputs[i]))
            return 0;
    for (size_t i = 0; i < a->n_outputs; i++)
        if (!str_eq(a->outputs[i], b->outputs[i]))
            return 0;
    for (size_t i = 0; i < a->n_attrs; i++)
        if (!attr_eq(&a->attrs[i], &b->attrs[i])) {
            fprintf(stderr, "attribute '%s' of node '%s' differs\n", a->attrs[i].name, a->name);
            return 0;
        }
    return 1;
}

static int graph_eq(const oir_graph *a, const oir_graph *b)
{
    size_t pa = 0, pb = 0;
    if (!str_eq(a->name, b->name) || !str_eq(a->doc_string, b->doc_string) || a->n_nodes != b->n_nodes ||
        a->n_initializers != b->n_initializers || a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs ||
        a->n_value_info != b->n_value_info)
        return 0;
    for (size_t i = 0; i < a->n_nodes; i++)
        if (!node_eq(a->nodes[i], b->nodes[i]))
            return 0;
    for (size_t i = 0; i < a->n_initializers; i++)
        if (!tensor_eq(a->initializers[i], b->initializers[i])) {
            fprintf(stderr, "initializer '%s' differs\n", a->initializers[i]->name);
            return 0;
        }
    /* Passthrough fragments may be split differently; their concatenation must match. */
    for (size_t i = 0; i < a->n_passthrough; i++)
        pa += a->passthrough[i].len;
    for (size_t i = 0; i < b->n_passthrough; i++)
        pb += b->passthrough[i].len;
    return pa == pb && vis_eq(a->inputs, b->inputs, a->n_inputs) && vis_eq(a->outputs, b->outputs, a->n_outputs) &&
           vis_eq(a->value_info, b->value_info, a->n_value_info);
}

static int model_eq(const oir_model *a, const oir_model *b)
{
    if (a->ir_version != b->ir_version || !str_eq(a->producer_name, b->producer_name) ||
        !str_eq(a->producer_version, b->producer_version) || !str_eq(a->domain, b->domain) ||
        a->model_version != b->model_version || !str_eq(a->doc_string, b->doc_string) || a->n_opsets != b->n_opsets ||
        a->n_metadata != b->n_metadata || !bytes_eq(&a->passthrough, &b->passthrough))
        return 0;
    for (size_t i = 0; i < a->n_opsets; i++)
        if (!str_eq(a->opsets[i].domain, b->opsets[i].domain) || a->opsets[i].version != b->opsets[i].version)
            return 0;
    for (size_t i = 0; i < a->n_metadata; i++)
        if (!str_eq(a->metadata_keys[i], b->metadata_keys[i]) || !str_eq(a->metadata_values[i], b->metadata_values[i]))
            return 0;
    return graph_eq(a->graph, b->graph);
}

/* ---- tests ---- */

static oir_model *save_and_load(const oir_model *m, const char *dir, const char *options)
{
    onnx_save_options o;
    oir_model *back = NULL;
    char *path = path_in(dir, "model.onnx");
    onnx_save_options_init(&o);
    CHECK_RC(onnx_save_options_parse(&o, options), OLIVE_OK);
    CHECK_RC(onnx_save_file(m, path, &o), OLIVE_OK);
    CHECK_RC(onnx_load_file(&back, path), OLIVE_OK);
    free(path);
    return back;
}

static void test_roundtrip_all_fields(void)
{
    oir_model *m = build_model();
    char *dir = scratch_dir();
    oir_model *back = save_and_load(m, dir, NULL);
    CHECK(back != NULL);
    if (back) {
        CHECK(model_eq(m, back));
        /* Reloaded weights point into the mapped files: the data file for external ones, the
         * model file for embedded ones. */
        CHECK(back->graph->initializers[2]->blob->fd >= 0);
        CHECK(strstr(back->graph->initializers[2]->blob->path, "model.onnx.data") != NULL);
        CHECK(back->graph->initializers[0]->blob->fd >= 0);
        CHECK(strstr(back->graph->initializers[0]->blob->path, "model.onnx.data") == NULL);
        CHECK(back->n_sources == 2);
    }
    oir_model_free(back);
    oir_model_free(m);
    scratch_free(dir);
}

static const oir_tensor *init_named(const oir_model *m, const char *name)
{
    return oir_graph_initializer(m->graph, name);
}

static void test_external_options(void)
{
    oir_model *m = build_model(), *back;
    char *dir;

    /* default: B (1200 bytes) and big (4096) go external at 4096-aligned offsets */
    dir = scratch_dir();
    back = save_and_load(m, dir, NULL);
    CHECK(file_size(dir, "model.onnx.data") == 4096 + 4096);
    if (back) {
        CHECK(init_named(back, "B")->offset == 0);
        CHECK(init_named(back, "big")->offset == 4096);
        CHECK(init_named(back, "W")->blob != init_named(back, "B")->blob);
        CHECK(model_eq(m, back));
    }
    oir_model_free(back);
    scratch_free(dir);

    /* a threshold above every tensor: no data file at all */
    dir = scratch_dir();
    back = save_and_load(m, dir, "size_threshold=5000");
    CHECK(!file_exists(dir, "model.onnx.data"));
    CHECK(count_entries(dir) == 1);
    if (back)
        CHECK(model_eq(m, back));
    oir_model_free(back);
    scratch_free(dir);

    /* align=1 packs tensors back to back; align=64 rounds offsets up */
    dir = scratch_dir();
    back = save_and_load(m, dir, "align=1");
    CHECK(file_size(dir, "model.onnx.data") == 1200 + 4096);
    if (back)
        CHECK(init_named(back, "big")->offset == 1200);
    oir_model_free(back);
    scratch_free(dir);
    dir = scratch_dir();
    back = save_and_load(m, dir, "align=64 size_threshold=1");
    if (back) {
        CHECK(init_named(back, "W")->offset == 0);
        CHECK(init_named(back, "B")->offset == 64);
        CHECK(init_named(back, "big")->offset == 1280);
        CHECK(init_named(back, "S")->blob == NULL); /* strings always stay embedded */
        CHECK(model_eq(m, back));
    }
    oir_model_free(back);
    scratch_free(dir);

    /* never: one file, every weight inside it */
    dir = scratch_dir();
    back = save_and_load(m, dir, "external_data=never");
    CHECK(count_entries(dir) == 1);
    if (back) {
        CHECK(strstr(init_named(back, "big")->blob->path, "model.onnx") != NULL);
        CHECK(back->n_sources == 1);
        CHECK(model_eq(m, back));
    }
    oir_model_free(back);
    scratch_free(dir);

    /* always: even the 64-byte W goes out; a custom data file name */
    dir = scratch_dir();
    back = save_and_load(m, dir, "external_data=always data_file=weights.bin align=16");
    CHECK(file_exists(dir, "weights.bin"));
    CHECK(!file_exists(dir, "model.onnx.data"));
    CHECK(file_size(dir, "weights.bin") == 64 + 1200 + 4096); /* 1264 is already a multiple of 16 */
    if (back) {
        CHECK(strstr(init_named(back, "W")->blob->path, "weights.bin") != NULL);
        CHECK(model_eq(m, back));
    }
    oir_model_free(back);
    scratch_free(dir);
    oir_model_free(m);
}

static void test_option_text(void)
{
    onnx_save_options o;
    onnx_save_options_init(&o);
    CHECK(o.external == ONNX_EXTERNAL_AUTO && o.size_threshold == 1024 && o.align == 4096 && !o.data_file);
    CHECK_RC(onnx_save_options_parse(&o, "  external_data=never\tsize_threshold=0 align=1 data_file=w.bin "), OLIVE_OK);
    CHECK(o.external == ONNX_EXTERNAL_NEVER && o.size_threshold == 0 && o.align == 1);
    CHECK_STR(o.data_file, "w.bin");
    CHECK_RC(onnx_save_options_parse(&o, "colour=blue"), OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("colour");
    CHECK_RC(onnx_save_options_parse(&o, "external_data=sometimes"), OLIVE_EINVALID);
    CHECK_ERROR_HAS("external_data");
    CHECK_RC(onnx_save_options_parse(&o, "align=0"), OLIVE_EINVALID);
    CHECK_ERROR_HAS("align");
    CHECK_RC(onnx_save_options_parse(&o, "size_threshold=-5"), OLIVE_EINVALID);
    CHECK_ERROR_HAS("size_threshold");
    CHECK_RC(onnx_save_options_parse(&o, "data_file=../x.data"), OLIVE_EINVALID);
    CHECK_ERROR_HAS("data_file");
    CHECK_RC(onnx_save_options_parse(&o, "data_file=/tmp/x.data"), OLIVE_EINVALID);
    CHECK_RC(onnx_save_options_parse(&o, "align"), OLIVE_EINVALID);
    /* a failed parse changes nothing */
    CHECK(o.external == ONNX_EXTERNAL_NEVER && o.align == 1);
    CHECK_STR(o.data_file, "w.bin");
}

static int cancel_after(uint64_t done, uint64_t total, void *user)
{
    int *calls = user;
    (void)total;
    (*calls)++;
    return done > 0 && *calls >= 2;
}

static int count_progress(uint64_t done, uint64_t total, void *user)
{
    uint64_t *last = user;
    CHECK(done >= *last && done <= total);
    *last = done;
    return 0;
}

static void test_progress_and_cancel(void)
{
    oir_model *m = build_model();
    char *dir = scratch_dir(), *path = path_in(dir, "model.onnx");
    onnx_save_options o;
    uint64_t last = 0;
    int calls = 0;

    onnx_save_options_init(&o);
    o.progress = count_progress;
    o.user = &last;
    CHECK_RC(onnx_save_file(m, path, &o), OLIVE_OK);
    CHECK(last == 64 + 1200 + 4096);
    olive_rmtree(dir);
    mkdir(dir, 0700);

    o.progress = cancel_after;
    o.user = &calls;
    CHECK_RC(onnx_save_file(m, path, &o), OLIVE_ECANCELLED);
    CHECK(count_entries(dir) == 0);
    free(path);
    scratch_free(dir);
    oir_model_free(m);
}

static void test_atomic_failures(void)
{
    oir_model *m = build_model();
    char *dir = scratch_dir(), *path, *missing;
    struct rlimit old, small;
    onnx_save_options o;

    /* The output folder does not exist: nothing is created anywhere. */
    missing = path_in(dir, "no/such/folder/model.onnx");
    CHECK(onnx_save_file(m, missing, NULL) != OLIVE_OK);
    CHECK(count_entries(dir) == 0);
    free(missing);

    /* Writing fails half way (file size limit): the temporary files are removed. This works
     * even as root, where a read-only folder would not stop the write. */
    path = path_in(dir, "model.onnx");
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 4096 + 100; /* the data file's second tensor does not fit */
    setrlimit(RLIMIT_FSIZE, &small);
    CHECK_RC(onnx_save_file(m, path, NULL), OLIVE_EIO);
    small.rlim_cur = 2000; /* the data file fits (never), the model file does not */
    setrlimit(RLIMIT_FSIZE, &small);
    onnx_save_options_init(&o);
    o.external = ONNX_EXTERNAL_NEVER;
    CHECK_RC(onnx_save_file(m, path, &o), OLIVE_EIO);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(count_entries(dir) == 0);

    /* An existing file is replaced only when the save succeeds. */
    write_bytes(dir, "model.onnx", "old", 3);
    o.progress = cancel_after;
    {
        int calls = 0;
        o.user = &calls;
        o.external = ONNX_EXTERNAL_AUTO;
        CHECK_RC(onnx_save_file(m, path, &o), OLIVE_ECANCELLED);
    }
    CHECK(count_entries(dir) == 1 && file_size(dir, "model.onnx") == 3);

    /* A tensor that claims bytes it does not have is refused before anything is written. */
    {
        olive_blob *keep = m->graph->initializers[0]->blob;
        m->graph->initializers[0]->blob = NULL;
        CHECK_RC(onnx_save_file(m, path, NULL), OLIVE_EINVALID);
        m->graph->initializers[0]->blob = keep;
    }
    CHECK(count_entries(dir) == 1);
    free(path);
    scratch_free(dir);
    oir_model_free(m);
}

static void test_refuse_source_overwrite(void)
{
    oir_model *m = build_model(), *back = NULL;
    char *dir = scratch_dir(), *path = path_in(dir, "model.onnx"), *other = path_in(dir, "other.onnx");
    char *link = path_in(dir, "alias.onnx");
    onnx_save_options o;
    long long size_before;

    CHECK_RC(onnx_save_file(m, path, NULL), OLIVE_OK);
    CHECK_RC(onnx_load_file(&back, path), OLIVE_OK);
    size_before = file_size(dir, "model.onnx.data");
    if (back) {
        CHECK_RC(onnx_save_file(back, path, NULL), OLIVE_EINVALID);
        CHECK_ERROR_HAS("model.onnx");
        /* the same file under another name */
        CHECK(symlink("model.onnx", link) == 0);
        CHECK_RC(onnx_save_file(back, link, NULL), OLIVE_EINVALID);
        /* the data file as the destination of the new data */
        onnx_save_options_init(&o);
        CHECK_RC(onnx_save_options_parse(&o, "data_file=model.onnx.data"), OLIVE_OK);
        CHECK_RC(onnx_save_file(back, other, &o), OLIVE_EINVALID);
        CHECK_ERROR_HAS("model.onnx.data");
        CHECK(!file_exists(dir, "other.onnx"));
        CHECK(file_size(dir, "model.onnx.data") == size_before);
        /* a different name works, and the copy equals the original */
        CHECK_RC(onnx_save_file(back, other, NULL), OLIVE_OK);
        oir_model *again = NULL;
        CHECK_RC(onnx_load_file(&again, other), OLIVE_OK);
        if (again)
            CHECK(model_eq(m, again));
        oir_model_free(again);
    }
    /* the data file cannot be named like the model file itself */
    onnx_save_options_init(&o);
    o.data_file = "third.onnx";
    free(other);
    other = path_in(dir, "third.onnx");
    CHECK_RC(onnx_save_file(m, other, &o), OLIVE_EINVALID);
    oir_model_free(back);
    free(path);
    free(other);
    free(link);
    scratch_free(dir);
    oir_model_free(m);
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Weights pass from file to file: loading, saving external and saving embedded a model with
 * 128 MiB of weights keeps the peak memory far below the weights' size. */
static void test_streaming_memory(void)
{
    const uint64_t size = (uint64_t)128 << 20;
    char *dir = scratch_dir(), *data = path_in(dir, "w.data"), *src = path_in(dir, "src.onnx");
    char *ext = path_in(dir, "ext.onnx"), *emb = path_in(dir, "emb.onnx"), *again = path_in(dir, "again.onnx");
    oir_model *m = oir_model_new(), *loaded = NULL, *embedded = NULL;
    int64_t dims[1] = {(int64_t)(size / 4)};
    oir_tensor *t = oir_tensor_new("W", OIR_FLOAT, 1, dims);
    olive_blob *blob = NULL;
    onnx_save_options never;
    FILE *f = fopen(data, "wb");
    long before;

    /* a sparse file: no disk blocks, reads as zeros */
    CHECK(f && ftruncate(fileno(f), (off_t)size) == 0);
    fclose(f);
    CHECK_RC(olive_blob_map_file(&blob, data), OLIVE_OK);
    CHECK_RC(oir_tensor_set_blob(t, blob, 0, size), OLIVE_OK);
    oir_graph_add_initializer(m->graph, t);
    oir_model_add_source(m, blob);
    olive_blob_unref(blob);
    onnx_save_options_init(&never);
    never.external = ONNX_EXTERNAL_NEVER;

    before = peak_rss_kb();
    CHECK_RC(onnx_save_file(m, src, NULL), OLIVE_OK);
    CHECK_RC(onnx_load_file(&loaded, src), OLIVE_OK);
    if (loaded) {
        CHECK_RC(onnx_save_file(loaded, ext, NULL), OLIVE_OK);
        CHECK_RC(onnx_save_file(loaded, emb, &never), OLIVE_OK);
    }
    CHECK(file_size(dir, "emb.onnx") > (long long)size);
    CHECK_RC(onnx_load_file(&embedded, emb), OLIVE_OK);
    if (embedded) {
        CHECK(embedded->graph->initializers[0]->blob->fd >= 0); /* points into emb.onnx */
        CHECK_RC(onnx_save_file(embedded, again, NULL), OLIVE_OK);
    }
    CHECK(file_size(dir, "again.onnx.data") == (long long)size);
    fprintf(stderr, "peak RSS grew by %ld KiB while moving 4 x 128 MiB of weights\n", peak_rss_kb() - before);
    CHECK(peak_rss_kb() - before < 48 * 1024);
    oir_model_free(embedded);
    oir_model_free(loaded);
    oir_model_free(m);
    free(data);
    free(src);
    free(ext);
    free(emb);
    free(again);
    scratch_free(dir);
}

int main(void)
{
    test_roundtrip_all_fields();
    test_external_options();
    test_option_text();
    test_progress_and_cancel();
    test_atomic_failures();
    test_refuse_source_overwrite();
    test_streaming_memory();
    return check_summary("test_onnx_save");
}
