/* compose_onnx_models: chains ONNX models into one, as Olive's ComposeOnnxModels does. The input
 * model comes first; `components` lists the models that follow, in order. Each later model joins
 * the composed one in turn:
 *   - an input named like an input or an output of the composed model reads that value (type
 *     and shape must match); any other input becomes an input of the composed model;
 *   - its outputs are added, and none may reuse an earlier model's output name or name an
 *     earlier model's input (that would be a cycle);
 *   - an initializer that the composed model already has must hold the same type, shape and
 *     bytes, and is kept once; a node named like one already there must be the same node (a
 *     split model keeps the DequantizeLinear of a shared weight with each consumer), and is
 *     kept once; any other node or initializer is added, and may not produce a value that
 *     already exists;
 *   - value_info of its intermediate values is kept; opset imports are merged (one domain at two
 *     versions is refused, as onnx.compose does, where Olive keeps the first model's).
 * In the end the graph outputs are the outputs no later model reads (those read become
 * intermediate values with their type kept as value_info), and what Olive's graph update drops
 * is dropped: nodes none of whose outputs is used, and inputs and initializers nothing reads.
 * Weights are shared with the component files (mapped), never copied. */
#include <protobuf-c/protobuf-c.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/strmap.h"
#include "onnx/onnx_io.h"
#include "onnx/onnx_to_proto.h"
#include "passes/compose/compose_onnx_models.h"

#define PASS "compose_onnx_models"

typedef struct composer {
    oir_model *m;      /* the composed model (the input model, rewritten) */
    const char *first; /* how messages name the input model */
    oir_model **parts; /* the later models, kept loaded while names point into them */
    size_t n_parts;
    olive_strmap seen_inputs, seen_outputs; /* over every model so far */
} composer;

static int same_dim(const oir_dim *a, const oir_dim *b)
{
    if (a->has_value || b->has_value)
        return a->has_value && b->has_value && a->value == b->value;
    if (a->param || b->param)
        return a->param && b->param && !strcmp(a->param, b->param);
    return 1;
}

/* The dtype and shape comparison Olive makes for a connected value. */
static int same_type(const oir_type *a, const oir_type *b, const char **what)
{
    int32_t ea = a ? a->elem_type : 0, eb = b ? b->elem_type : 0;
    *what = "element type";
    if (ea != eb || (a && b && a->kind != b->kind))
        return 0;
    *what = "shape";
    if (!a || !b)
        return !a == !b;
    if (a->has_shape != b->has_shape || a->rank != b->rank)
        return 0;
    for (size_t i = 0; i < a->rank; i++)
        if (!same_dim(&a->dims[i], &b->dims[i]))
            return 0;
    return 1;
}

static int same_tensor(const oir_tensor *a, const oir_tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes || a->n_strings != b->n_strings)
        return 0;
    for (size_t i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    for (size_t i = 0; i < a->n_strings; i++)
        if (a->strings[i].len != b->strings[i].len || memcmp(a->strings[i].data, b->strings[i].data, a->strings[i].len))
            return 0;
    return !a->nbytes || !memcmp(oir_tensor_data(a), oir_tensor_data(b), a->nbytes);
}

/* A node's NodeProto bytes (owned by the caller), to compare nodes as Olive compares protos. */
static int node_bytes(const oir_node *n, uint8_t **out, size_t *len)
{
    onnx_proto_build b;
    Onnx__NodeProto *np = NULL;
    int rc;
    memset(&b, 0, sizeof b);
    if ((rc = onnx_node_to_proto(&b, n, &np)) == OLIVE_OK) {
        *len = protobuf_c_message_get_packed_size(&np->base);
        if (!(*out = olive_malloc(*len ? *len : 1)))
            rc = OLIVE_ENOMEM;
        else
            protobuf_c_message_pack(&np->base, *out);
    }
    onnx_proto_build_free(&b);
    return rc;
}

static int same_node(const oir_node *a, const oir_node *b, int *same)
{
    uint8_t *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int rc = node_bytes(a, &x, &nx);
    if (rc == OLIVE_OK && (rc = node_bytes(b, &y, &ny)) == OLIVE_OK)
        *same = nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return rc;
}

static long value_info_index(const oir_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_value_info; i++)
        if (!strcmp(g->value_info[i].name, name))
            return (long)i;
    return -1;
}

/* Olive's checks over every model before anything is joined. */
static int check_names(composer *c, const oir_model *part, const char *path)
{
    const oir_graph *g = part->graph;
    for (size_t i = 0; i < g->n_outputs; i++) {
        const char *o = g->outputs[i].name;
        if (olive_strmap_has(&c->seen_inputs, o))
            return olive_fail(OLIVE_EINVALID,
                              "%s: output '%s' of '%s' is an input of an earlier model: the models would form a cycle",
                              PASS, o, path);
        if (olive_strmap_has(&c->seen_outputs, o))
            return olive_fail(OLIVE_EINVALID, "%s: output '%s' of '%s' is already an output of an earlier model", PASS,
                              o, path);
    }
    for (size_t i = 0; i < g->n_inputs; i++)
        OLIVE_TRY(olive_strmap_put(&c->seen_inputs, g->inputs[i].name, (void *)1));
    for (size_t i = 0; i < g->n_outputs; i++)
        OLIVE_TRY(olive_strmap_put(&c->seen_outputs, g->outputs[i].name, (void *)1));
    return OLIVE_OK;
}

static int merge_opsets(composer *c, const oir_model *part, const char *path)
{
    for (size_t i = 0; i < part->n_opsets; i++) {
        const oir_opset *o = &part->opsets[i];
        int64_t have = oir_model_opset(c->m, o->domain);
        if (have >= 0 && have != o->version)
            return olive_fail(OLIVE_EINVALID, "%s: '%s' imports opset %lld of domain '%s', but '%s' imports %lld", PASS,
                              path, (long long)o->version, o->domain[0] ? o->domain : "ai.onnx", c->first,
                              (long long)have);
        if (have < 0)
            OLIVE_TRY(oir_model_require_opset(c->m, o->domain, o->version));
    }
    if (part->ir_version > c->m->ir_version)
        c->m->ir_version = part->ir_version;
    return OLIVE_OK;
}

static int merge_io(composer *c, const oir_graph_index *ix, const oir_model *part, const char *path)
{
    oir_graph *cg = c->m->graph;
    const oir_graph *g = part->graph;
    for (size_t i = 0; i < g->n_inputs; i++) {
        const oir_value_info *in = &g->inputs[i];
        long k = oir_graph_input_index(cg, in->name);
        const char *what;
        const oir_value_info *prev = k >= 0 ? &cg->inputs[k] : NULL;
        if (!prev && (k = oir_graph_output_index(cg, in->name)) >= 0)
            prev = &cg->outputs[k];
        if (prev) {
            if (!same_type(in->type, prev->type, &what))
                return olive_fail(
                    OLIVE_EINVALID,
                    "%s: input '%s' of '%s' does not match the earlier model's value of that name (%s differs)", PASS,
                    in->name, path, what);
            continue;
        }
        if (oir_index_producer(ix, in->name) || oir_index_initializer(ix, in->name))
            return olive_fail(OLIVE_EINVALID,
                              "%s: input '%s' of '%s' is an intermediate value or an initializer of an earlier model",
                              PASS, in->name, path);
        OLIVE_TRY(oir_graph_add_input(cg, in->name, in->type));
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        const oir_value_info *out = &g->outputs[i];
        if (oir_index_producer(ix, out->name) || oir_index_initializer(ix, out->name))
            return olive_fail(OLIVE_EINVALID, "%s: output '%s' of '%s' is already a value of an earlier model", PASS,
                              out->name, path);
        OLIVE_TRY(oir_graph_add_output(cg, out->name, out->type));
    }
    return OLIVE_OK;
}

static int merge_initializers(composer *c, const oir_graph_index *ix, const oir_model *part, const char *path)
{
    oir_graph *cg = c->m->graph;
    const oir_graph *g = part->graph;
    for (size_t i = 0; i < g->n_initializers; i++) {
        const oir_tensor *t = g->initializers[i];
        oir_tensor *prev = oir_index_initializer(ix, t->name), *copy;
        if (prev) {
            if (!same_tensor(t, prev))
                return olive_fail(
                    OLIVE_EINVALID,
                    "%s: initializer '%s' of '%s' differs from the earlier model's initializer of that name", PASS,
                    t->name, path);
            continue;
        }
        if (oir_index_producer(ix, t->name) ||
            (oir_graph_input_index(cg, t->name) >= 0 && oir_graph_input_index(g, t->name) < 0))
            return olive_fail(OLIVE_EINVALID, "%s: initializer '%s' of '%s' is already a value of an earlier model",
                              PASS, t->name, path);
        if (!(copy = oir_tensor_clone(t)))
            return OLIVE_ENOMEM;
        if (oir_graph_add_initializer(cg, copy) != OLIVE_OK) {
            oir_tensor_free(copy);
            return OLIVE_ENOMEM;
        }
    }
    return OLIVE_OK;
}

static int merge_nodes(composer *c, const oir_graph_index *ix, const oir_model *part, const char *path)
{
    oir_graph *cg = c->m->graph;
    const oir_graph *g = part->graph;
    olive_strmap named = {0};
    int rc = OLIVE_OK;
    for (size_t i = 0; rc == OLIVE_OK && i < cg->n_nodes; i++)
        if (cg->nodes[i]->name && cg->nodes[i]->name[0])
            rc = olive_strmap_put(&named, cg->nodes[i]->name, cg->nodes[i]);
    for (size_t i = 0; rc == OLIVE_OK && i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i], *prev = n->name && n->name[0] ? olive_strmap_get(&named, n->name) : NULL;
        oir_node *copy;
        int same = 0;
        if (prev) {
            if ((rc = same_node(n, prev, &same)) == OLIVE_OK && !same)
                rc = olive_fail(OLIVE_EINVALID,
                                "%s: node '%s' of '%s' differs from the earlier model's node of that name", PASS,
                                n->name, path);
            continue;
        }
        for (size_t k = 0; rc == OLIVE_OK && k < n->n_outputs; k++) {
            const char *o = n->outputs[k];
            if (o[0] &&
                (oir_index_producer(ix, o) || oir_index_initializer(ix, o) || oir_graph_input_index(cg, o) >= 0))
                rc = olive_fail(OLIVE_EINVALID,
                                "%s: value '%s' (output of node '%s' of '%s') is already a value of an earlier model",
                                PASS, o, n->name ? n->name : "", path);
        }
        if (rc != OLIVE_OK)
            break;
        if (!(copy = oir_node_clone(n)))
            rc = OLIVE_ENOMEM;
        else if ((rc = oir_graph_add_node(cg, copy)) != OLIVE_OK)
            oir_node_free(copy);
    }
    olive_strmap_free(&named);
    return rc;
}

/* Value_info of the later model's intermediate values. */
static int merge_value_info(composer *c, const oir_model *part)
{
    oir_graph *cg = c->m->graph;
    const oir_graph *g = part->graph;
    for (size_t i = 0; i < g->n_value_info; i++) {
        const oir_value_info *v = &g->value_info[i];
        if (oir_graph_input_index(g, v->name) >= 0 || oir_graph_output_index(g, v->name) >= 0 ||
            value_info_index(cg, v->name) >= 0 || oir_graph_input_index(cg, v->name) >= 0 ||
            oir_graph_output_index(cg, v->name) >= 0)
            continue;
        OLIVE_TRY(oir_graph_add_value_info(cg, v->name, v->type));
    }
    return OLIVE_OK;
}

static int join(composer *c, const oir_model *part, const char *path)
{
    oir_graph_index ix;
    int rc;
    for (size_t i = 0; i < part->n_sources; i++)
        OLIVE_TRY(oir_model_add_source(c->m, part->sources[i]));
    OLIVE_TRY(merge_opsets(c, part, path));
    OLIVE_TRY(oir_graph_index_build(&ix, c->m->graph));
    if ((rc = merge_io(c, &ix, part, path)) == OLIVE_OK && (rc = merge_initializers(c, &ix, part, path)) == OLIVE_OK &&
        (rc = merge_value_info(c, part)) == OLIVE_OK)
        rc = merge_nodes(c, &ix, part, path);
    oir_graph_index_free(&ix);
    return rc;
}

/* The outputs a later model reads become intermediate values (their type kept as value_info). */
static int drop_read_outputs(composer *c)
{
    oir_graph *g = c->m->graph;
    for (size_t i = g->n_outputs; i-- > 0;) {
        const oir_value_info *o = &g->outputs[i];
        if (!olive_strmap_has(&c->seen_inputs, o->name))
            continue;
        if (value_info_index(g, o->name) < 0)
            OLIVE_TRY(oir_graph_add_value_info(g, o->name, o->type));
        oir_graph_remove_output(g, i);
    }
    return OLIVE_OK;
}

/* What Olive's graph update leaves out, judged on the graph as joined (one sweep, as there):
 * nodes none of whose outputs is used, inputs and initializers that nothing uses. */
static int drop_unused(oir_graph *g)
{
    oir_graph_index ix;
    unsigned char *dead_in = NULL, *dead_init = NULL;
    OLIVE_TRY(oir_graph_index_build(&ix, g));
    if (!(dead_in = olive_calloc(g->n_inputs + 1, 1)) || !(dead_init = olive_calloc(g->n_initializers + 1, 1))) {
        free(dead_in);
        oir_graph_index_free(&ix);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        n->mark = 1;
        for (size_t k = 0; k < n->n_outputs; k++)
            if (n->outputs[k][0] && oir_index_use_count(&ix, n->outputs[k]))
                n->mark = 0;
    }
    for (size_t i = 0; i < g->n_inputs; i++)
        dead_in[i] = !oir_index_use_count(&ix, g->inputs[i].name);
    for (size_t i = 0; i < g->n_initializers; i++)
        dead_init[i] = !oir_index_use_count(&ix, g->initializers[i]->name);
    oir_graph_index_free(&ix);
    oir_graph_remove_marked_nodes(g);
    for (size_t i = g->n_inputs; i-- > 0;)
        if (dead_in[i])
            oir_graph_remove_input(g, i);
    for (size_t i = g->n_initializers; i-- > 0;)
        if (dead_init[i])
            oir_graph_remove_initializer(g, i);
    free(dead_in);
    free(dead_init);
    return OLIVE_OK;
}

/* The next comma-separated path of `list` (spaces around it trimmed) into *out (owned), or NULL
 * at the end. */
static int next_path(const char **list, char **out)
{
    const char *p = *list, *comma;
    size_t len;
    *out = NULL;
    while (*p == ' ' || *p == ',')
        p++;
    if (!*p)
        return OLIVE_OK;
    comma = strchr(p, ',');
    len = comma ? (size_t)(comma - p) : strlen(p);
    while (len && p[len - 1] == ' ')
        len--;
    *list = comma ? comma + 1 : p + len;
    return (*out = olive_strndup(p, len)) ? OLIVE_OK : OLIVE_ENOMEM;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    const char *list = olive_args_string(args, "components");
    composer c = {.m = m, .first = m->path ? m->path : "the input model"};
    char *path = NULL;
    size_t count = 0;
    int rc = OLIVE_OK;
    if (!list[0])
        return olive_fail(OLIVE_EINVALID, "%s: components is required (the ONNX models that follow the input model)",
                          PASS);
    for (const char *p = list; (rc = next_path(&p, &path)) == OLIVE_OK && path; free(path))
        count++;
    if (rc != OLIVE_OK)
        return rc;
    if (!count)
        return olive_fail(OLIVE_EINVALID, "%s: components names no model ('%s')", PASS, list);
    if (!(c.parts = olive_calloc(count, sizeof *c.parts)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; rc == OLIVE_OK && i < m->graph->n_inputs; i++)
        rc = olive_strmap_put(&c.seen_inputs, m->graph->inputs[i].name, (void *)1);
    for (size_t i = 0; rc == OLIVE_OK && i < m->graph->n_outputs; i++)
        rc = olive_strmap_put(&c.seen_outputs, m->graph->outputs[i].name, (void *)1);
    /* Load every model and check the names first, as Olive does, then join them in order. */
    for (const char *p = list; rc == OLIVE_OK && c.n_parts < count;) {
        if ((rc = next_path(&p, &path)) != OLIVE_OK)
            break;
        if ((rc = onnx_load_file(&c.parts[c.n_parts], path)) != OLIVE_OK)
            rc = olive_fail_context(rc, "%s: cannot load component '%s'", PASS, path);
        else if (c.parts[c.n_parts++]->checkpoint_path || !c.parts[c.n_parts - 1]->graph)
            rc = olive_fail(OLIVE_EINVALID, "%s: component '%s' is not an ONNX model", PASS, path);
        else if (c.parts[c.n_parts - 1]->passthrough.len)
            rc = olive_fail(OLIVE_EUNSUPPORTED,
                            "%s: component '%s' holds model-local functions or training info, which are not "
                            "carried into the composed model",
                            PASS, path);
        else
            rc = check_names(&c, c.parts[c.n_parts - 1], path);
        free(path);
    }
    for (size_t i = 0; rc == OLIVE_OK && i < c.n_parts; i++) {
        rc = join(&c, c.parts[i], c.parts[i]->path);
        if (rc == OLIVE_OK)
            rc = olive_pass_progress(ctx, (double)(i + 1) / (double)(c.n_parts + 1));
    }
    if (rc == OLIVE_OK)
        rc = drop_read_outputs(&c);
    olive_strmap_free(&c.seen_inputs);
    olive_strmap_free(&c.seen_outputs);
    if (rc == OLIVE_OK && (rc = drop_unused(m->graph)) == OLIVE_OK && (rc = oir_graph_toposort(m->graph)) == OLIVE_OK)
        rc = olive_pass_progress(ctx, 1.0);
    for (size_t i = 0; i < c.n_parts; i++)
        oir_model_free(c.parts[i]);
    free(c.parts);
    return rc;
}

static const olive_param_spec params[] = {
    {.name = "components",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "The ONNX models chained after the input model, in order (comma-separated paths)",
     .details = "A workflow fills it from a CompositeModel input_model (its components after the first); the "
                "cache identifies them by content.",
     .model_files = 1},
};

static const char *const ignored[] = {"save_as_external_data", "all_tensors_to_one_file", "external_data_name",
                                      "size_threshold",        "convert_attribute",       NULL};

static const olive_pass_type olive_types[] = {{"ComposeOnnxModels", NULL, NULL, ignored}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_compose_onnx_models = {
    .name = "compose_onnx_models",
    .summary = "Chains ONNX models into one: later models read earlier models' inputs and outputs by name",
    .details = "Olive's ComposeOnnxModels. The input model comes first, `components` lists the others. Shared "
               "initializers must hold equal bytes and same-named nodes must be equal (each kept once); an output "
               "may not reuse an earlier output's name or name an earlier input. The outputs no later model reads "
               "are the graph's outputs. Olive's llm_pipeline form (NPU split models) is not supported.",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
