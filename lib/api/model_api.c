/* Public model functions: load, save, inspect, validate. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/handles.h"
#include "core/alloc.h"
#include "core/status.h"
#include "engine/engine.h"
#include "formats/checkpoint.h"
#include "onnx/onnx_io.h"

int olive_model_wrap(olive_model **out, oir_model *ir)
{
    olive_model *m = olive_calloc(1, sizeof *m);
    if (!m) {
        oir_model_free(ir);
        return OLIVE_ENOMEM;
    }
    m->ir = ir;
    *out = m;
    return OLIVE_OK;
}

int olive_model_load(olive_model **out, const char *path)
{
    oir_model *ir;
    if (!out || !path)
        return olive_fail(OLIVE_EINVALID, "olive_model_load: out and path must not be NULL");
    OLIVE_TRY(olive_engine_load_model(&ir, path));
    return olive_model_wrap(out, ir);
}

void olive_model_free(olive_model *model)
{
    if (!model)
        return;
    oir_model_free(model->ir);
    free(model);
}

/* Companion files (tokenizer, runtime configs) go into the folder that holds the model file. */
static int write_companions_beside(const oir_model *m, const char *model_path)
{
    const char *slash;
    char *dir;
    int rc;
    if (!m->n_companions)
        return OLIVE_OK;
    slash = strrchr(model_path, '/');
    if (!(dir = slash ? olive_asprintf("%.*s", (int)(slash - model_path), model_path) : olive_strdup(".")))
        return OLIVE_ENOMEM;
    rc = oir_model_write_companions(m, dir[0] ? dir : "/");
    free(dir);
    return rc;
}

int olive_model_save(const olive_model *model, const char *path, const char *options)
{
    onnx_save_options o;
    if (!model || !path)
        return olive_fail(OLIVE_EINVALID, "olive_model_save: model and path must not be NULL");
    onnx_save_options_init(&o);
    OLIVE_TRY(onnx_save_options_parse(&o, options));
    OLIVE_TRY(onnx_save_file(model->ir, path, &o));
    return write_companions_beside(model->ir, path);
}

static json_t *type_json(const oir_type *t)
{
    json_t *o = json_object();
    static const char *const kinds[] = {"none", "tensor", "sparse_tensor", "sequence", "map", "optional"};
    if (!t) {
        json_object_set_new(o, "kind", json_string("unknown"));
        json_object_set_new(o, "dtype", json_null());
        json_object_set_new(o, "shape", json_null());
        return o;
    }
    json_object_set_new(o, "kind",
                        json_string(t->kind >= 0 && t->kind <= OIR_TYPE_OPTIONAL ? kinds[t->kind] : "unknown"));
    if (t->kind == OIR_TYPE_TENSOR || t->kind == OIR_TYPE_SPARSE_TENSOR) {
        json_object_set_new(o, "dtype", json_string(oir_dtype_name(t->elem_type)));
        if (t->has_shape) {
            json_t *shape = json_array();
            for (size_t i = 0; i < t->rank; i++) {
                const oir_dim *d = &t->dims[i];
                json_array_append_new(shape, d->has_value ? json_integer(d->value)
                                             : d->param   ? json_string(d->param)
                                                          : json_null());
            }
            json_object_set_new(o, "shape", shape);
        } else {
            json_object_set_new(o, "shape", json_null());
        }
    } else {
        json_object_set_new(o, "dtype", json_null());
        json_object_set_new(o, "shape", json_null());
        if (t->kind == OIR_TYPE_MAP)
            json_object_set_new(o, "key_dtype", json_string(oir_dtype_name(t->elem_type)));
        if (t->inner)
            json_object_set_new(o, "element", type_json(t->inner));
    }
    return o;
}

static json_t *values_json(const oir_value_info *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = type_json(v[i].type);
        json_object_set_new(o, "name", json_string(v[i].name));
        json_array_append_new(arr, o);
    }
    return arr;
}

static int count_ops(oir_graph *g, int depth, void *user)
{
    json_t *hist = user;
    (void)depth;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        char *key = n->domain[0] && strcmp(n->domain, "ai.onnx") ? olive_asprintf("%s.%s", n->domain, n->op_type)
                                                                 : olive_strdup(n->op_type);
        json_t *cur;
        if (!key)
            return OLIVE_ENOMEM;
        cur = json_object_get(hist, key);
        json_object_set_new(hist, key, json_integer(cur ? json_integer_value(cur) + 1 : 1));
        free(key);
    }
    return OLIVE_OK;
}

static int count_nodes(oir_graph *g, int depth, void *user)
{
    (void)depth;
    *(size_t *)user += g->n_nodes;
    return OLIVE_OK;
}

/* A source checkpoint has no graph yet: what it holds is described from its tensors and
 * config (the file is opened again, which also reports a damaged checkpoint clearly). */
static int describe_checkpoint(json_t *root, const char *path)
{
    ofmt_checkpoint *ck = NULL;
    json_t *o, *archs, *type;
    uint64_t elements = 0, bytes = 0;
    OLIVE_TRY(ofmt_checkpoint_open(&ck, path));
    for (size_t i = 0; i < ck->n_tensors; i++) {
        elements += ofmt_tensor_elements(&ck->tensors[i]);
        bytes += ck->tensors[i].nbytes;
    }
    archs = json_object_get(ck->config, "architectures");
    type = json_object_get(ck->config, "model_type");
    o = json_object();
    json_object_set_new(o, "kind", json_string(ck->kind == OFMT_GGUF_FILE ? "gguf" : "hf_folder"));
    json_object_set_new(o, "architecture",
                        json_is_array(archs) && json_is_string(json_array_get(archs, 0))
                            ? json_incref(json_array_get(archs, 0))
                            : json_null());
    json_object_set_new(o, "model_type", json_is_string(type) ? json_incref(type) : json_null());
    json_object_set_new(o, "tensor_count", json_integer((json_int_t)ck->n_tensors));
    json_object_set_new(o, "parameter_count", json_integer((json_int_t)elements));
    json_object_set_new(o, "parameter_bytes", json_integer((json_int_t)bytes));
    json_object_set_new(root, "checkpoint", o);
    json_object_set_new(root, "initializer_count", json_integer((json_int_t)ck->n_tensors));
    json_object_set_new(root, "parameter_count", json_integer((json_int_t)elements));
    json_object_set_new(root, "parameter_bytes", json_integer((json_int_t)bytes));
    ofmt_checkpoint_free(ck);
    return OLIVE_OK;
}

int olive_model_summary_json(char **out, const olive_model *model)
{
    const oir_model *m;
    json_t *root, *opsets, *hist, *dtypes, *meta;
    oir_param_stats st;
    size_t total_nodes = 0;
    char *text;
    if (!out || !model)
        return olive_fail(OLIVE_EINVALID, "olive_model_summary_json: out and model must not be NULL");
    m = model->ir;
    root = json_object();
    json_object_set_new(root, "path", json_string(m->path ? m->path : ""));
    json_object_set_new(root, "ir_version", json_integer(m->ir_version));
    json_object_set_new(root, "producer_name", json_string(m->producer_name ? m->producer_name : ""));
    json_object_set_new(root, "producer_version", json_string(m->producer_version ? m->producer_version : ""));
    json_object_set_new(root, "domain", json_string(m->domain ? m->domain : ""));
    json_object_set_new(root, "model_version", json_integer(m->model_version));
    opsets = json_array();
    for (size_t i = 0; i < m->n_opsets; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "domain", json_string(m->opsets[i].domain[0] ? m->opsets[i].domain : "ai.onnx"));
        json_object_set_new(o, "version", json_integer(m->opsets[i].version));
        json_array_append_new(opsets, o);
    }
    json_object_set_new(root, "opsets", opsets);
    json_object_set_new(root, "inputs", values_json(m->graph->inputs, m->graph->n_inputs));
    json_object_set_new(root, "outputs", values_json(m->graph->outputs, m->graph->n_outputs));
    json_object_set_new(root, "node_count", json_integer((json_int_t)m->graph->n_nodes));
    oir_model_for_each_graph((oir_model *)m, count_nodes, &total_nodes);
    json_object_set_new(root, "node_count_with_subgraphs", json_integer((json_int_t)total_nodes));
    hist = json_object();
    oir_model_for_each_graph((oir_model *)m, count_ops, hist);
    json_object_set_new(root, "op_types", hist);
    oir_model_param_stats(m, &st);
    json_object_set_new(root, "initializer_count", json_integer((json_int_t)st.count));
    json_object_set_new(root, "parameter_count", json_integer((json_int_t)st.elements));
    json_object_set_new(root, "parameter_bytes", json_integer((json_int_t)st.bytes));
    dtypes = json_object();
    for (int d = 0; d < OIR_DTYPE_COUNT; d++) {
        if (!st.elements_by_dtype[d] && !st.bytes_by_dtype[d])
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "elements", json_integer((json_int_t)st.elements_by_dtype[d]));
        json_object_set_new(o, "bytes", json_integer((json_int_t)st.bytes_by_dtype[d]));
        json_object_set_new(dtypes, oir_dtype_name(d), o);
    }
    json_object_set_new(root, "parameters_by_dtype", dtypes);
    meta = json_object();
    for (size_t i = 0; i < m->n_metadata; i++)
        json_object_set_new(meta, m->metadata_keys[i], json_string(m->metadata_values[i]));
    json_object_set_new(root, "metadata", meta);
    if (m->checkpoint_path && describe_checkpoint(root, m->checkpoint_path) != OLIVE_OK) {
        json_decref(root);
        return olive_error_code();
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory describing the model");
    *out = text;
    return OLIVE_OK;
}

size_t olive_model_node_count(const olive_model *model)
{
    return model ? model->ir->graph->n_nodes : 0;
}

size_t olive_model_initializer_count(const olive_model *model)
{
    oir_param_stats st;
    if (!model)
        return 0;
    oir_model_param_stats(model->ir, &st);
    return (size_t)st.count;
}

uint64_t olive_model_parameter_count(const olive_model *model)
{
    oir_param_stats st;
    if (!model)
        return 0;
    oir_model_param_stats(model->ir, &st);
    return st.elements;
}

size_t olive_model_input_count(const olive_model *model)
{
    return model ? model->ir->graph->n_inputs : 0;
}
size_t olive_model_output_count(const olive_model *model)
{
    return model ? model->ir->graph->n_outputs : 0;
}

const char *olive_model_input_name(const olive_model *model, size_t index)
{
    return model && index < model->ir->graph->n_inputs ? model->ir->graph->inputs[index].name : NULL;
}

const char *olive_model_output_name(const olive_model *model, size_t index)
{
    return model && index < model->ir->graph->n_outputs ? model->ir->graph->outputs[index].name : NULL;
}

int64_t olive_model_opset(const olive_model *model, const char *domain)
{
    return model ? oir_model_opset(model->ir, domain ? domain : "") : -1;
}

const char *olive_model_path(const olive_model *model)
{
    return model && model->ir->path ? model->ir->path : "";
}

const char *olive_model_inference_settings(const olive_model *model)
{
    return model ? model->ir->inference_settings : NULL;
}

int olive_model_validate(const olive_model *model)
{
    if (!model)
        return olive_fail(OLIVE_EINVALID, "olive_model_validate: model must not be NULL");
    return oir_model_validate(model->ir);
}
