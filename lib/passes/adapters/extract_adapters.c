/* extract_adapters: the LoRA weights of a model move to an adapter file written beside it
 * (adapter_weights.onnx_adapter, ONNX Runtime's format, which ONNX Runtime GenAI loads) and
 * become graph inputs of the same names, as Olive's ExtractAdapters does with make_inputs.
 *
 * Which weights: when an initializer's name holds "lora_A" or "lora_B" (a dynamo export, or a
 * model whose weights already carry PEFT's names), every such initializer, under its own name.
 * Otherwise the LoRA MatMul nodes of a TorchScript export, found by Olive's node-name patterns
 * (".../lora_A/MatMul", ".../default_1/MatMul_Q4", ...): the float weight of each MatMul, the
 * weight, scale and zero point of a DequantizeLinear feeding it (a new DequantizeLinear reads
 * the renamed ones), or the B, scales and zero_points of a MatMulNBits, renamed as Olive names
 * them ("model.layers.0.self_attn.q_proj.lora_A.weight", "...lora_A.quant.scale").
 *
 * As inputs: the rank dimension (1 of lora_A, 0 of lora_B) becomes the symbolic "lora_r" with
 * dynamic_lora_r, and with optional_inputs each input keeps an empty initializer (rank 0) as
 * its default, so the model runs without an adapter. Olive leaves quantization scales and
 * zero points a dangling external initializer there; here they become plain inputs. Without
 * optional_inputs every weight is a required input. make_inputs=false (Olive's initializers
 * pointing at a file ONNX Runtime adds at session creation) is refused: the model it writes
 * does not load on its own. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "formats/onnx_adapter.h"
#include "formats/weights_file.h"
#include "passes/adapters/extract_adapters.h"

#define PASS "extract_adapters"
#define WEIGHTS_FILE "adapter_weights.onnx_adapter"

/* Olive's save_format values and the file each writes. */
static const char *weights_file(const char *format)
{
    return !strcmp(format, "numpy")         ? "adapter_weights.npz"
           : !strcmp(format, "safetensors") ? "adapter_weights.safetensors"
                                            : WEIGHTS_FILE;
}

/* How a weight becomes an input. */
enum {
    BY_NAME = -1,  /* lora_A: rank dimension 1, lora_B: 0 (Olive's rule) */
    KEEP = -2,     /* not sized by the rank: its own shape, its values the default */
    REQUIRED = -3, /* the rank is fixed in the node (MatMulNBits' N / K): a required input */
};

typedef struct extracted {
    char **names; /* new names, in the order Olive's dictionary holds them */
    int *how;     /* BY_NAME, KEEP, REQUIRED, or the rank dimension */
    size_t n, cap, cap_how;
} extracted;

static void extracted_free(extracted *x)
{
    for (size_t i = 0; i < x->n; i++)
        free(x->names[i]);
    free(x->names);
    free(x->how);
}

static int has_name(const extracted *x, const char *name)
{
    for (size_t i = 0; i < x->n; i++)
        if (!strcmp(x->names[i], name))
            return 1;
    return 0;
}

/* `s` with every occurrence of `from` replaced by `to`, left to right (Python's str.replace). */
static char *replace_all(const char *s, const char *from, const char *to)
{
    olive_strbuf b = {0};
    size_t fl = strlen(from);
    const char *p = s, *hit;
    olive_strbuf_append(&b, "");
    while (fl && (hit = strstr(p, from))) {
        olive_strbuf_appendn(&b, p, (size_t)(hit - p));
        olive_strbuf_append(&b, to);
        p = hit + fl;
    }
    olive_strbuf_append(&b, p);
    return olive_strbuf_take(&b);
}

/* Applies replace_all to *s in place; 0 on ENOMEM. */
static int replace_in(char **s, const char *from, const char *to)
{
    char *r = replace_all(*s, from, to);
    if (!r)
        return 0;
    free(*s);
    *s = r;
    return 1;
}

/* Olive's name for the float weight of LoRA node `node_name`: the path with '/' as '.',
 * PEFT's adapter module names as lora_A / lora_B, and the op (the last path part) as
 * "weight". */
static char *weight_name(const char *node_name)
{
    const char *name = node_name[0] == '/' ? node_name + 1 : node_name;
    const char *slash = strrchr(name, '/');
    char *op = olive_strdup(slash ? slash + 1 : name), *w = replace_all(name, "/", ".");
    int ok = op && w && replace_in(&w, "default.", "lora_A.") && replace_in(&w, "default_1.", "lora_B.") &&
             replace_in(&w, "default_0.", "lora_A.") && replace_in(&w, "default_0_1.", "lora_B.") &&
             (!op[0] || replace_in(&w, op, "weight"));
    free(op);
    if (!ok) {
        free(w);
        return NULL;
    }
    return w;
}

/* Olive's LoRA node pattern: ".*[./]<module>[./]<MatMul|MatMul_Q4>$". */
static int is_lora_node_name(const char *name)
{
    static const char *const modules[] = {"default_0", "default_0_1", "default", "default_1", "lora_A", "lora_B"};
    static const char *const ops[] = {"MatMul", "MatMul_Q4"};
    size_t len = strlen(name);
    for (size_t o = 0; o < 2; o++) {
        size_t ol = strlen(ops[o]);
        if (len < ol + 1 || strcmp(name + len - ol, ops[o]) || !strchr("./", name[len - ol - 1]))
            continue;
        for (size_t k = 0; k < sizeof modules / sizeof *modules; k++) {
            size_t ml = strlen(modules[k]), end = len - ol - 1;
            if (end >= ml + 1 && !strncmp(name + end - ml, modules[k], ml) && strchr("./", name[end - ml - 1]) &&
                name[end - ml - 1])
                return 1;
        }
    }
    return 0;
}

static oir_node *producer(const oir_graph *g, const char *value)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
            if (!strcmp(g->nodes[i]->outputs[k], value))
                return g->nodes[i];
    return NULL;
}

static size_t use_count(const oir_graph *g, const char *value)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i]->n_inputs; k++)
            n += !strcmp(g->nodes[i]->inputs[k], value);
    return n + (oir_graph_output_index(g, value) >= 0);
}

/* A name nothing in the graph uses yet (the new name of a weight must not collide). */
static int check_free_name(const oir_graph *g, const char *name, const char *old)
{
    if (oir_graph_initializer(g, name) || oir_graph_input_index(g, name) >= 0 || producer(g, name) ||
        use_count(g, name))
        return olive_fail(OLIVE_EINVALID,
                          "%s: the LoRA weight '%s' would be renamed '%s', which the graph already uses", PASS, old,
                          name);
    return OLIVE_OK;
}

/* Renames initializer `old` to `name` everywhere and records it. */
static int externalize(oir_graph *g, extracted *x, const char *old, const char *name, int how)
{
    oir_tensor *t = oir_graph_initializer(g, old);
    char *copy;
    if (!t)
        return olive_fail(OLIVE_EFORMAT, "%s: '%s' is not an initializer", PASS, old);
    if (t->dtype == OIR_STRING)
        return olive_fail(OLIVE_EUNSUPPORTED, "%s: the LoRA weight '%s' is a string tensor", PASS, old);
    if (has_name(x, old) || has_name(x, name))
        return olive_fail(
            OLIVE_EUNSUPPORTED,
            "%s: the LoRA weight '%s' is shared by two LoRA nodes (as '%s'); Olive's naming gives a weight "
            "one module",
            PASS, old, name);
    if (strcmp(old, name)) {
        OLIVE_TRY(check_free_name(g, name, old));
        OLIVE_TRY(oir_graph_rename_value(g, old, name));
    }
    if (!(copy = olive_strdup(name)) ||
        olive_grow((void **)&x->names, &x->cap, x->n + 1, sizeof *x->names) != OLIVE_OK ||
        olive_grow((void **)&x->how, &x->cap_how, x->n + 1, sizeof *x->how) != OLIVE_OK) {
        free(copy);
        return OLIVE_ENOMEM;
    }
    x->how[x->n] = how;
    x->names[x->n++] = copy;
    return OLIVE_OK;
}

/* The DequantizeLinear that feeds LoRA node `n` its weight: its inputs are renamed to the
 * quant names, and a new DequantizeLinear named after the weight feeds `n` alone. */
/* A DequantizeLinear's scale and zero point along the weight's rank dimension shrink with it;
 * any other (a per-tensor scale, or one along the other dimension) keeps its shape. */
static int scale_how(const oir_graph *g, const oir_node *dq, const char *w)
{
    const oir_tensor *q = oir_graph_initializer(g, dq->inputs[0]), *s = oir_graph_initializer(g, dq->inputs[1]);
    const char *a = strstr(w, "lora_A"), *b = strstr(w, "lora_B");
    int64_t r_dim = b && (!a || b < a) ? 0 : 1, axis = oir_node_attr_int(dq, "axis", 1);
    if (!q || !s || s->rank != 1 || q->rank < 2)
        return KEEP;
    if (axis < 0)
        axis += (int64_t)q->rank;
    return axis == r_dim ? 0 : KEEP;
}

static int take_dequantize(oir_graph *g, extracted *x, oir_node *n, oir_node *dq, const char *w)
{
    static const char *const suffixes[] = {".quant.weight", ".quant.scale", ".quant.zero_point"};
    char *names[3] = {0}, *node_name = replace_all(w, "weight", "dequantize"), *stem = NULL;
    const char *old_out = n->inputs[1];
    oir_node *nd = NULL;
    int rc = node_name ? OLIVE_OK : OLIVE_ENOMEM;
    size_t n_in = dq->n_inputs < 3 ? dq->n_inputs : 3;
    if (rc == OLIVE_OK && !(stem = olive_strndup(w, strlen(w) - strlen(".weight"))))
        rc = OLIVE_ENOMEM;
    for (size_t i = 0; i < n_in && rc == OLIVE_OK; i++) {
        if (!dq->inputs[i][0])
            continue;
        if (!(names[i] = olive_asprintf("%s%s", stem, suffixes[i])))
            rc = OLIVE_ENOMEM;
        else
            rc = externalize(g, x, dq->inputs[i], names[i], i ? scale_how(g, dq, w) : BY_NAME);
    }
    if (rc == OLIVE_OK) {
        const char *ins[3] = {names[0] ? names[0] : "", names[1] ? names[1] : "", names[2] ? names[2] : ""};
        const char *outs[1] = {w};
        if (!(nd = oir_node_new(dq->op_type, dq->domain, node_name, n_in, ins, 1, outs)))
            rc = OLIVE_ENOMEM;
        for (size_t a = 0; nd && rc == OLIVE_OK && a < dq->n_attrs; a++) {
            oir_attr copy;
            if ((rc = oir_attr_copy(&copy, &dq->attrs[a])) == OLIVE_OK &&
                (rc = olive_grow((void **)&nd->attrs, &nd->cap_attrs, nd->n_attrs + 1, sizeof *nd->attrs)) == OLIVE_OK)
                nd->attrs[nd->n_attrs++] = copy;
            else if (rc == OLIVE_OK)
                oir_attr_clear(&copy);
        }
    }
    if (rc == OLIVE_OK) {
        char *old = olive_strdup(old_out);
        if (!old)
            rc = OLIVE_ENOMEM;
        else if ((rc = oir_node_set_input(n, 1, w)) == OLIVE_OK) {
            rc = oir_graph_add_node(g, nd);
            if (rc == OLIVE_OK) {
                nd = NULL;
                if (!use_count(g, old)) /* the old one fed only this LoRA node */
                    dq->mark = 1;
            }
        }
        free(old);
    }
    oir_node_free(nd);
    for (size_t i = 0; i < 3; i++)
        free(names[i]);
    free(node_name);
    free(stem);
    return rc;
}

static int take_node(oir_graph *g, extracted *x, oir_node *n)
{
    static const char *const suffixes[] = {".quant.weight", ".quant.scale", ".quant.zero_point"};
    char *w = weight_name(n->name);
    int rc = w ? OLIVE_OK : OLIVE_ENOMEM;
    if (rc == OLIVE_OK && strlen(w) < strlen(".weight"))
        rc = olive_fail(OLIVE_EINVALID, "%s: LoRA node '%s' names no weight", PASS, n->name);
    if (rc == OLIVE_OK && !strcmp(n->op_type, "MatMul")) {
        const char *b = n->n_inputs > 1 ? n->inputs[1] : "";
        oir_node *dq;
        if (!b[0] || oir_graph_input_index(g, b) >= 0)
            ; /* already fed at run time */
        else if (oir_graph_initializer(g, b))
            rc = externalize(g, x, b, w, BY_NAME);
        else if ((dq = producer(g, b)) && !strcmp(dq->op_type, "DequantizeLinear"))
            rc = take_dequantize(g, x, n, dq, w);
    } else if (rc == OLIVE_OK) { /* MatMulNBits: B, scales, zero_points */
        char *stem = olive_strndup(w, strlen(w) - strlen(".weight"));
        rc = stem ? OLIVE_OK : OLIVE_ENOMEM;
        for (size_t i = 1; i < n->n_inputs && i <= 3 && rc == OLIVE_OK; i++) {
            char *name;
            if (!n->inputs[i][0])
                continue;
            if (!(name = olive_asprintf("%s%s", stem, suffixes[i - 1])))
                rc = OLIVE_ENOMEM;
            else
                rc = externalize(g, x, n->inputs[i], name, REQUIRED);
            free(name);
        }
        free(stem);
    }
    free(w);
    return rc;
}

static int find_weights(oir_graph *g, extracted *x)
{
    int dynamo = 0;
    oir_node **lora = NULL;
    size_t n_lora = 0;
    int rc = OLIVE_OK;
    for (size_t i = 0; i < g->n_initializers && !dynamo; i++)
        dynamo = strstr(g->initializers[i]->name, "lora_A") || strstr(g->initializers[i]->name, "lora_B");
    if (dynamo) {
        for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK; i++) {
            const char *name = g->initializers[i]->name;
            if ((strstr(name, "lora_A") || strstr(name, "lora_B")) && oir_graph_input_index(g, name) < 0)
                rc = externalize(g, x, name, name, BY_NAME);
        }
        return rc;
    }
    /* the nodes first: renaming changes no node, but take_dequantize appends some */
    if (g->n_nodes && !(lora = olive_calloc(g->n_nodes, sizeof *lora)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        int op = !strcmp(n->op_type, "MatMul") || !strcmp(n->op_type, "MatMulNBits");
        if (op && n->name && is_lora_node_name(n->name))
            lora[n_lora++] = g->nodes[i];
    }
    for (size_t i = 0; i < n_lora && rc == OLIVE_OK; i++)
        rc = take_node(g, x, lora[i]);
    free(lora);
    oir_graph_remove_marked_nodes(g);
    if (rc == OLIVE_OK) /* new DequantizeLinear nodes were appended */
        rc = oir_graph_toposort(g);
    return rc;
}

static int write_weights(oir_model *m, const extracted *x, const char *format)
{
    ofmt_adapter_param *p = olive_calloc(x->n ? x->n : 1, sizeof *p);
    olive_blob *b = NULL;
    int rc;
    if (!p)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < x->n; i++) {
        const oir_tensor *t = oir_graph_initializer(m->graph, x->names[i]);
        if (!t->rank && !strcmp(format, "onnx_adapter")) { /* onnxruntime refuses to read it back */
            free(p);
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "%s: the LoRA weight '%s' is a scalar, which an .onnx_adapter file cannot hold", PASS,
                              t->name);
        }
        p[i] = (ofmt_adapter_param){.name = t->name,
                                    .dtype = t->dtype,
                                    .rank = t->rank,
                                    .dims = t->dims,
                                    .data = oir_tensor_data(t),
                                    .nbytes = t->nbytes};
    }
    if (!strcmp(format, "numpy"))
        rc = ofmt_npz_encode(&b, weights_file(format), p, x->n);
    else if (!strcmp(format, "safetensors"))
        rc = ofmt_safetensors_encode(&b, weights_file(format), p, x->n);
    else
        rc = ofmt_adapter_encode(&b, WEIGHTS_FILE, p, x->n, 0, 0);
    if (rc == OLIVE_OK)
        rc = oir_model_add_companion_blob(m, weights_file(format), b);
    olive_blob_unref(b);
    free(p);
    return rc;
}

/* The input of weight `name`: its rank dimension symbolic and its default empty, as asked. */
static int make_input(oir_graph *g, const char *name, int how, int dynamic_r, int optional)
{
    long at = oir_graph_initializer_index(g, name);
    oir_tensor *t = g->initializers[at];
    int adapts = how >= 0 || (how == BY_NAME && !strstr(name, "lora_magnitude_vector"));
    /* lora_A [in, r], lora_B [r, out]: the first of the two names in the weight's name says
     * which (Olive checks lora_A first, which makes PEFT's "lora_B.lora_A.weight" rank-last) */
    const char *a = strstr(name, "lora_A"), *b = strstr(name, "lora_B");
    size_t r_dim = how >= 0 ? (size_t)how : b && (!a || b < a) ? 0 : 1;
    const char *params[8] = {0};
    int64_t dims[8];
    oir_type *type;
    int rc;
    if (t->rank > 8)
        return olive_fail(OLIVE_EUNSUPPORTED, "%s: LoRA weight '%s' has rank %zu", PASS, name, t->rank);
    if (adapts && r_dim >= t->rank)
        return olive_fail(OLIVE_EINVALID, "%s: LoRA weight '%s' has rank %zu, without the dimension %zu that lora_r is",
                          PASS, name, t->rank, r_dim);
    for (size_t d = 0; d < t->rank; d++)
        dims[d] = t->dims[d];
    if (adapts && dynamic_r) {
        dims[r_dim] = -1;
        params[r_dim] = "lora_r";
    }
    if (!(type = oir_type_new_tensor(t->dtype, t->rank, dims, params)))
        return OLIVE_ENOMEM;
    rc = oir_graph_add_input(g, name, type);
    oir_type_free(type);
    if (rc != OLIVE_OK)
        return rc;
    if (adapts && optional) { /* the same tensor, empty along lora_r */
        oir_tensor *e;
        for (size_t d = 0; d < t->rank; d++)
            dims[d] = d == r_dim ? 0 : t->dims[d];
        if (!(e = oir_tensor_new(name, t->dtype, t->rank, dims)))
            return OLIVE_ENOMEM;
        oir_graph_remove_initializer(g, (size_t)at);
        return oir_graph_add_initializer(g, e);
    }
    if (!(how == KEEP && optional)) /* KEEP keeps its values as the default */
        oir_graph_remove_initializer(g, (size_t)at);
    return OLIVE_OK;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    const char *type = olive_args_string(args, "adapter_type"), *format = olive_args_string(args, "save_format");
    extracted x = {0};
    int rc;
    if (strcmp(type, "lora"))
        return olive_fail(OLIVE_EUNSUPPORTED, "%s: adapter_type '%s' is not supported; lora is", PASS, type);
    if (!olive_args_bool(args, "make_inputs"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: make_inputs=false (weights left as initializers in a file ONNX Runtime adds when the "
                          "session is made) writes a model that does not load on its own; use make_inputs=true",
                          PASS);
    if (!strcmp(format, "pt"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: save_format 'pt' (a PyTorch pickle) is not written here; onnx_adapter, numpy and "
                          "safetensors are",
                          PASS);
    rc = find_weights(m->graph, &x);
    if (rc == OLIVE_OK && !x.n)
        OLIVE_INFO("%s: the model has no LoRA weights; it is left as it is", PASS);
    if (rc == OLIVE_OK && x.n)
        rc = write_weights(m, &x, format);
    for (size_t i = 0; i < x.n && rc == OLIVE_OK; i++)
        rc = make_input(m->graph, x.names[i], x.how[i], olive_args_bool(args, "dynamic_lora_r"),
                        olive_args_bool(args, "optional_inputs"));
    extracted_free(&x);
    if (rc == OLIVE_OK)
        rc = olive_pass_progress(ctx, 1.0);
    return rc;
}

static const olive_param_spec params[] = {
    {.name = "adapter_type",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "lora",
     .min = 0,
     .max = -1,
     .choices = "lora|dora|loha",
     .help = "The kind of adapter (lora; dora and loha are refused)"},
    {.name = "make_inputs",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .min = 0,
     .max = -1,
     .help = "Make the weights graph inputs (false is refused: the model would not load alone)"},
    {.name = "dynamic_lora_r",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .min = 0,
     .max = -1,
     .help = "The rank dimension of each input is the symbolic lora_r"},
    {.name = "optional_inputs",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .min = 0,
     .max = -1,
     .help = "Each input defaults to an empty weight (rank 0), so the model runs without an adapter"},
    {.name = "save_format",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "onnx_adapter",
     .min = 0,
     .max = -1,
     .choices = "onnx_adapter|numpy|safetensors|pt",
     .help = "The weights file: " WEIGHTS_FILE ", adapter_weights.npz or .safetensors (pt is refused)"},
};

/* Olive's external data settings: the engine's save decides where tensors go here. */
static const char *const ignored[] = {"save_as_external_data", "all_tensors_to_one_file", "external_data_name",
                                      "size_threshold",        "convert_attribute",       NULL};

static const olive_pass_type olive_types[] = {{"ExtractAdapters", NULL, NULL, ignored}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_extract_adapters = {
    .name = "extract_adapters",
    .summary = "Moves LoRA weights to " WEIGHTS_FILE " and makes them graph inputs with empty defaults",
    .details = "Finds LoRA weights as Olive's ExtractAdapters does: initializers named with lora_A / lora_B, or the "
               "weights of MatMul / MatMulNBits nodes named like '.../lora_A/MatMul' (a float weight, a "
               "DequantizeLinear's weight, scale and zero point, or MatMulNBits' B, scales and zero_points), renamed "
               "as Olive names them ('<module>.lora_A.weight', '<module>.lora_A.quant.scale'). The weights are "
               "written to " WEIGHTS_FILE " beside the model (ONNX Runtime's adapter format, which ONNX Runtime "
               "GenAI loads; with save_format numpy or safetensors adapter_weights.npz or "
               "adapter_weights.safetensors) and become graph inputs; with dynamic_lora_r their rank dimension is "
               "'lora_r', and with "
               "optional_inputs each keeps an empty initializer as its default. A model without LoRA weights is "
               "left as it is.",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
