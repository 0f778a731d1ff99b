/* The quantize_dynamic pass (see quantize_dynamic.h). Each selected MatMul Y = A x B of the
 * main graph whose B is a constant 2-D float32 initializer becomes
 *
 *   DynamicQuantizeLinear(A) -> A_q, A_scale, A_zp      (one per activation, shared)
 *   MatMulInteger(A_q, B_q, A_zp, B_zp) -> Y_int
 *   Cast(Y_int, to=float) -> Y_f
 *   Mul(A_scale, B_scale) -> S
 *   Mul(Y_f, S) -> Y
 *
 * as ONNX Runtime's quantizer writes it. A Gemm with alpha = beta = 1 and transA = 0 is first
 * taken as ONNX Runtime's quantizer takes it: a MatMul named "<gemm>_MatMul" (selected under
 * that name) on B, or on B transposed with transB, then Add of C when C is given.
 * B_q, B_scale and B_zp are computed by weight_quant.h: one scale per tensor, or per output
 * column (B's last axis) with per_channel. A weight read by several MatMuls is quantized once;
 * the float weight goes when nothing reads it any more. Nodes left in float keep reading the
 * float weight (ONNX Runtime would feed them DequantizeLinear of the codes instead).
 * Like ONNX Runtime's default, subgraphs are left alone. Nodes that cannot be quantized
 * (B computed, a graph input, not 2-D float32, empty; A a constant; a Gemm with other
 * attributes) stay, with an info line. Conv (dynamic_conv.c), com.microsoft Attention
 * (dynamic_attention.c) and the QDQ form (dynamic_qdq.c) have their own files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/quant_dynamic/dynamic_internal.h"
#include "passes/quant_dynamic/quantize_dynamic.h"
#include "passes/quant_dynamic/weight_quant.h"


static void dq_list_free(dq_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].source);
        for (int k = 0; k < 3; k++)
            free(l->items[i].names[k]);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

const dq_value *dq_list_find(const dq_list *l, const char *source, int transposed)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->items[i].source, source) && l->items[i].transposed == transposed)
            return &l->items[i];
    return NULL;
}

dq_value *dq_list_add(dq_list *l, const char *source, int transposed)
{
    dq_value *v;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        dq_value *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return NULL;
        l->items = items;
        l->cap = cap;
    }
    v = &l->items[l->n];
    memset(v, 0, sizeof *v);
    v->transposed = transposed;
    v->axis = -1;
    if (!(v->source = olive_strdup(source)))
        return NULL;
    l->n++;
    return v;
}

static int list_is_empty(const char *v)
{
    for (; v && *v; v++)
        if (*v != ' ' && *v != ',')
            return 0;
    return 1;
}

const char *dq_label(const oir_node *n)
{
    return n->name[0] ? n->name : n->n_outputs ? n->outputs[0] : "(unnamed)";
}

#define label dq_label

/* One MatMul to quantize: Y = A x B (x B transposed), from a MatMul or a Gemm. */
typedef struct dq_matmul {
    const oir_node *n; /* the node it comes from */
    const char *a, *y; /* A, and the value the MatMul writes */
    const char *c;     /* Gemm's C, or NULL */
    oir_tensor *b;
    int transposed;
    char *name; /* the MatMul's name ("" when unnamed) */
} dq_matmul;

int dq_selected(const dq_run *r, const char *op_type, const char *name)
{
    if (!olive_args_list_has(r->args, "op_types_to_quantize", op_type))
        return 0;
    if (name[0] && olive_args_list_has(r->args, "nodes_to_exclude", name))
        return 0;
    return r->include_all || olive_args_list_has(r->args, "nodes_to_include", name);
}

/* The MatMul that `n` stands for, when it is a MatMul or a Gemm that reads as one; the name
 * is allocated. Returns 1 when it is one, 0 when not, negative on ENOMEM. */
static int as_matmul(const oir_node *n, dq_matmul *mm)
{
    memset(mm, 0, sizeof *mm);
    mm->n = n;
    if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return 0;
    if (!strcmp(n->op_type, "MatMul")) {
        mm->name = olive_strdup(n->name);
    } else if (!strcmp(n->op_type, "Gemm")) {
        /* ONNX Runtime rewrites only these Gemms as MatMul (+ Add). */
        if (oir_node_attr_float(n, "alpha", 1.0f) != 1.0f || oir_node_attr_float(n, "beta", 1.0f) != 1.0f ||
            oir_node_attr_int(n, "transA", 0) != 0)
            return 0;
        mm->transposed = oir_node_attr_int(n, "transB", 0) != 0;
        mm->c = n->n_inputs > 2 && n->inputs[2][0] ? n->inputs[2] : NULL;
        mm->name = n->name[0] ? olive_asprintf("%s_MatMul", n->name) : olive_strdup("");
    } else {
        return 0;
    }
    if (!mm->name)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    return 1;
}

/* Checks that `mm` can be quantized and finds B; 0 after an info line saying why not. */
static int quantizable(oir_graph *g, dq_matmul *mm)
{
    const oir_node *n = mm->n;
    oir_tensor *t;
    uint64_t want;
    if (n->n_inputs < 2 || n->n_inputs > (mm->c || !strcmp(n->op_type, "Gemm") ? 3u : 2u) || n->n_outputs != 1 ||
        !n->inputs[0][0] || !n->inputs[1][0] || !n->outputs[0][0]) {
        OLIVE_INFO("quantize_dynamic: skipping %s '%s': unexpected inputs or outputs", n->op_type, label(n));
        return 0;
    }
    mm->a = n->inputs[0];
    mm->y = n->outputs[0];
    if (oir_graph_initializer(g, mm->a)) {
        OLIVE_INFO("quantize_dynamic: skipping %s '%s': A '%s' is a constant, not an activation", n->op_type, label(n),
                   mm->a);
        return 0;
    }
    t = oir_graph_initializer(g, n->inputs[1]);
    if (!t || oir_graph_input_index(g, n->inputs[1]) >= 0) {
        OLIVE_INFO("quantize_dynamic: skipping %s '%s': B '%s' is not a constant initializer", n->op_type, label(n),
                   n->inputs[1]);
        return 0;
    }
    if (t->dtype != OIR_FLOAT) {
        OLIVE_INFO("quantize_dynamic: skipping %s '%s': B '%s' is %s, not float", n->op_type, label(n), t->name,
                   oir_dtype_name(t->dtype));
        return 0;
    }
    if (t->rank != 2 || t->dims[0] < 1 || t->dims[1] < 1) {
        OLIVE_INFO("quantize_dynamic: skipping %s '%s': B '%s' is not a non-empty 2-D matrix", n->op_type, label(n),
                   t->name);
        return 0;
    }
    if (!t->blob || oir_tensor_expected_bytes(t, &want) != OLIVE_OK || want != t->nbytes) {
        OLIVE_INFO("quantize_dynamic: skipping %s '%s': B '%s' has no data of the size its shape needs", n->op_type,
                   label(n), t->name);
        return 0;
    }
    mm->b = t;
    return 1;
}

/* Adds an initializer named after `base` holding the bytes of `data` (the tensor takes a
 * reference); its final name goes to *name. */
static int add_initializer_blob(oir_graph *g, const char *base, int32_t dtype, size_t rank, const int64_t *dims,
                                olive_blob *data, char **name)
{
    oir_tensor *t;
    int rc;
    if (!(*name = oir_graph_unique_name(g, base)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    if (!(t = oir_tensor_new(*name, dtype, rank, dims)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    if ((rc = oir_tensor_set_blob(t, data, 0, data->size)) != OLIVE_OK ||
        (rc = oir_graph_add_initializer(g, t)) != OLIVE_OK) {
        oir_tensor_free(t);
        return rc;
    }
    return OLIVE_OK;
}

/* As add_initializer_blob, with a copy of `nbytes` bytes at `data`. */
static int add_initializer(oir_graph *g, const char *base, int32_t dtype, size_t rank, const int64_t *dims,
                           const void *data, size_t nbytes, char **name)
{
    olive_blob *b;
    int rc;
    OLIVE_TRY(olive_blob_alloc(&b, nbytes));
    memcpy((void *)b->data, data, nbytes);
    rc = add_initializer_blob(g, base, dtype, rank, dims, b, name);
    olive_blob_unref(b);
    return rc;
}

/* Reports the first non-finite value of the weight (w holds it as quantized: transposed for
 * a Gemm with transB), naming it as it is stored. */
static int non_finite(const oir_tensor *t, const float *w, size_t at, size_t n, int transposed, const oir_node *owner)
{
    if (t->rank == 2) {
        size_t i = at / n, j = at % n;
        if (transposed) {
            size_t tmp = i;
            i = j;
            j = tmp;
        }
        return olive_fail(OLIVE_EFORMAT,
                          "weight '%s' of %s '%s' holds %g at [%zu, %zu]: quantization needs finite weights", t->name,
                          owner->op_type, label(owner), (double)w[at], i, j);
    }
    return olive_fail(OLIVE_EFORMAT,
                      "weight '%s' of %s '%s' holds %g at flat index %zu: quantization needs finite weights", t->name,
                      owner->op_type, label(owner), (double)w[at], at);
}

int dq_weight(dq_run *r, oir_graph *g, const oir_tensor *t, int transposed, int per_channel, int reduce_range,
              const oir_node *owner, const dq_value **out)
{
    size_t count = 1, rows, cols, k, n, channels;
    int64_t ch;
    float *w = NULL, *scales = NULL;
    const float *wv;
    int in_place;
    int32_t *zps = NULL;
    uint8_t *codes = NULL, *zp_bytes = NULL;
    olive_blob *codes_blob = NULL; /* the codes' storage, handed to the new initializer */
    char *base = NULL;
    dq_value *v;
    int rc = OLIVE_OK;
    if ((*out = dq_list_find(&r->weights, t->name, transposed)))
        return OLIVE_OK;
    for (size_t d = 0; d < t->rank; d++) {
        if (t->dims[d] < 1 || count > SIZE_MAX / sizeof(float) / (size_t)t->dims[d])
            return olive_fail(OLIVE_EFORMAT, "weight '%s' of %s '%s' is empty or too large", t->name, owner->op_type,
                              label(owner));
        count *= (size_t)t->dims[d];
    }
    rows = t->rank == 2 ? (size_t)t->dims[0] : count;
    cols = t->rank == 2 ? (size_t)t->dims[1] : 1;
    k = transposed ? cols : rows;
    n = transposed ? rows : cols;
    per_channel = per_channel && t->rank == 2;
    channels = per_channel ? n : 1;
    ch = (int64_t)channels;
    /* Float weights in a mapped file are read in place when aligned; otherwise (unaligned, or
     * a Gemm weight to transpose) they are copied out as [K, N]. */
    in_place = !transposed && (uintptr_t)oir_tensor_data(t) % _Alignof(float) == 0;
    w = in_place ? NULL : malloc(count * sizeof *w);
    scales = malloc(channels * sizeof *scales);
    zps = malloc(channels * sizeof *zps);
    zp_bytes = malloc(channels);
    if (olive_blob_alloc(&codes_blob, count) == OLIVE_OK)
        codes = (uint8_t *)codes_blob->data;
    if ((!w && !in_place) || !scales || !zps || !zp_bytes || !codes) {
        rc = olive_fail(OLIVE_ENOMEM, "out of memory quantizing weight '%s'", t->name);
        goto done;
    }
    if (in_place) {
        wv = (const float *)oir_tensor_data(t);
    } else {
        if (!transposed) {
            memcpy(w, oir_tensor_data(t), count * sizeof *w);
        } else {
            const uint8_t *src = oir_tensor_data(t);
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++)
                    memcpy(&w[j * rows + i], src + (i * cols + j) * sizeof(float), sizeof(float));
        }
        /* The copy is all that is read from now on: let a mapped file's pages go. */
        olive_blob_drop_pages(t->blob, t->offset, t->nbytes);
        wv = w;
    }
    for (size_t c = 0; c < channels; c++) {
        long bad = per_channel ? olive_dynq_params(r->wtype, reduce_range, wv + c, k, n, &scales[c], &zps[c])
                               : olive_dynq_params(r->wtype, reduce_range, wv, count, 1, &scales[c], &zps[c]);
        if (bad >= 0) {
            rc = non_finite(t, wv, per_channel ? (size_t)bad * n + c : (size_t)bad, n, transposed, owner);
            goto done;
        }
        zp_bytes[c] = (uint8_t)zps[c];
    }
    for (size_t i = 0; i < count; i++) {
        size_t c = per_channel ? i % n : 0;
        codes[i] = (uint8_t)olive_dynq_code(r->wtype, wv[i], scales[c], zps[c]);
    }
    if (in_place)
        olive_blob_drop_pages(t->blob, t->offset, t->nbytes);
    if (!(v = dq_list_add(&r->weights, t->name, transposed))) {
        rc = olive_fail(OLIVE_ENOMEM, "out of memory");
        goto done;
    }
    v->axis = per_channel ? 1 : -1;
    {
        size_t prank = per_channel ? 1 : 0;
        int64_t dims2[2] = {(int64_t)k, (int64_t)n};
        static const char *const suffix[3] = {"_quantized", "_scale", "_zero_point"};
        for (int j = 0; j < 3 && rc == OLIVE_OK; j++) {
            free(base);
            if (!(base = olive_asprintf("%s%s%s", t->name, transposed ? "_Transposed" : "", suffix[j]))) {
                rc = olive_fail(OLIVE_ENOMEM, "out of memory");
                break;
            }
            if (j == 0)
                rc = add_initializer_blob(g, base, r->wtype, t->rank, transposed ? dims2 : t->dims, codes_blob,
                                          &v->names[0]);
            else if (j == 1)
                rc = add_initializer(g, base, OIR_FLOAT, prank, &ch, scales, channels * sizeof *scales, &v->names[1]);
            else
                rc = add_initializer(g, base, r->wtype, prank, &ch, zp_bytes, channels, &v->names[2]);
        }
    }
    *out = v;
done:
    free(base);
    free(w);
    free(scales);
    free(zps);
    free(zp_bytes);
    olive_blob_unref(codes_blob);
    return rc;
}

/* The DynamicQuantizeLinear of activation `a`, inserted before node *at when it is new. */
int dq_activation(dq_run *r, oir_graph *g, size_t *at, const char *a, const dq_value **out)
{
    static const char *const suffix[3] = {"_quantized", "_scale", "_zero_point"};
    dq_value *v;
    char *base = NULL, *name = NULL;
    oir_node *q;
    int rc;
    if ((*out = dq_list_find(&r->acts, a, 0)))
        return OLIVE_OK;
    if (!(v = dq_list_add(&r->acts, a, 0)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    for (int j = 0; j < 3; j++) {
        if (!(base = olive_asprintf("%s%s", a, suffix[j])) || !(v->names[j] = oir_graph_unique_name(g, base))) {
            free(base);
            return olive_fail(OLIVE_ENOMEM, "out of memory");
        }
        free(base);
    }
    if (!(base = olive_asprintf("%s_QuantizeLinear", a)) || !(name = oir_graph_unique_name(g, base))) {
        free(base);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    free(base);
    q = oir_node_new("DynamicQuantizeLinear", "", name, 1, &a, 3, (const char *const *)v->names);
    free(name);
    if (!q)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    if ((rc = oir_graph_insert_node(g, *at, q)) != OLIVE_OK) {
        oir_node_free(q);
        return rc;
    }
    (*at)++;
    *out = v;
    return OLIVE_OK;
}

/* Unique names for the new nodes and values: 0 MatMulInteger node, 1 its output, 2 Cast node,
 * 3 its output, 4 scales Mul node, 5 its output, 6 output Mul node, 7 its output (Y, or a new
 * value when a Gemm's Add follows), 8 that Add node. */
enum { N_NAMES = 9 };

static int new_names(oir_graph *g, const dq_matmul *mm, char **names)
{
    const char *base = mm->name[0] ? mm->name : mm->y, *y;
    char *bases[N_NAMES] = {NULL};
    int rc = OLIVE_OK;
    /* With a Gemm's C, the MatMul writes "<Y>_MatMul" and the Add writes Y. */
    if (!mm->c)
        names[7] = olive_strdup(mm->y);
    else if ((bases[7] = olive_asprintf("%s_MatMul", mm->y)))
        names[7] = oir_graph_unique_name(g, bases[7]);
    if (!names[7]) {
        free(bases[7]);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    y = names[7];
    bases[0] = olive_asprintf("%s_quant", base);
    bases[1] = olive_asprintf("%s_output_quantized", y);
    bases[2] = olive_asprintf("%s_output_quantized_cast", y);
    bases[3] = olive_asprintf("%s_output_quantized_cast_output", y);
    bases[4] = olive_asprintf("%s_quant_scales_mul", base);
    bases[5] = olive_asprintf("%s_quant_scales_mul:0", base);
    bases[6] = olive_asprintf("%s_quant_output_scale_mul", base);
    bases[8] = olive_asprintf("%s_Add", mm->n->name[0] ? mm->n->name : mm->y);
    for (int j = 0; j < N_NAMES; j++) {
        if (j != 7 && !(names[j] = bases[j] ? oir_graph_unique_name(g, bases[j]) : NULL))
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
        free(bases[j]);
    }
    return rc;
}

/* Replaces node *at with MatMulInteger, Cast, Mul, Mul (and Add for a Gemm's C); *at ends on
 * the last new node. */
static int rewrite(dq_run *r, oir_graph *g, size_t *at, dq_matmul *mm)
{
    oir_node *nodes[5] = {NULL};
    const dq_value *w, *a;
    char *names[N_NAMES] = {NULL};
    size_t count = mm->c ? 5 : 4;
    int rc;
    if ((rc = dq_weight(r, g, mm->b, mm->transposed, r->per_channel, r->reduce_range, mm->n, &w)) != OLIVE_OK)
        return rc;
    if ((rc = dq_activation(r, g, at, mm->a, &a)) != OLIVE_OK)
        return rc;
    if ((rc = new_names(g, mm, names)) == OLIVE_OK) {
        const char *mmi_in[4] = {a->names[0], w->names[0], a->names[2], w->names[2]};
        const char *smul_in[2] = {a->names[1], w->names[1]};
        const char *omul_in[2] = {names[3], names[5]};
        const char *add_in[2] = {names[7], mm->c};
        nodes[0] = oir_node_new("MatMulInteger", "", names[0], 4, mmi_in, 1, (const char *const *)&names[1]);
        nodes[1] = oir_node_new("Cast", "", names[2], 1, (const char *const *)&names[1], 1,
                                (const char *const *)&names[3]);
        nodes[2] = oir_node_new("Mul", "", names[4], 2, smul_in, 1, (const char *const *)&names[5]);
        nodes[3] = oir_node_new("Mul", "", names[6], 2, omul_in, 1, (const char *const *)&names[7]);
        if (mm->c)
            nodes[4] = oir_node_new("Add", "", names[8], 2, add_in, 1, &mm->y);
        if (!nodes[0] || !nodes[1] || !nodes[2] || !nodes[3] || (mm->c && !nodes[4]))
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
        else
            rc = oir_node_set_attr_int(nodes[1], "to", OIR_FLOAT);
    }
    for (int j = 0; j < N_NAMES; j++)
        free(names[j]);
    for (size_t j = 1; j < count && rc == OLIVE_OK; j++) {
        if ((rc = oir_graph_insert_node(g, *at + j, nodes[j])) == OLIVE_OK)
            nodes[j] = NULL;
    }
    if (rc != OLIVE_OK) {
        for (int j = 0; j < 5; j++)
            oir_node_free(nodes[j]);
        return rc;
    }
    /* mm's strings point into the old node: it goes last. */
    oir_graph_replace_node(g, *at, nodes[0]);
    *at += count - 1;
    return OLIVE_OK;
}

/* Removes the float weights that no node or graph output reads any more. */
static int drop_unused_sources(dq_run *r, oir_graph *g)
{
    oir_graph_index ix;
    int rc = oir_graph_index_build(&ix, g);
    if (rc != OLIVE_OK)
        return rc;
    for (size_t i = 0; i < r->weights.n; i++) {
        const char *src = r->weights.items[i].source;
        long at = oir_graph_initializer_index(g, src);
        if (at >= 0 && oir_index_use_count(&ix, src) == 0 && !oir_index_is_graph_output(&ix, src))
            oir_graph_remove_initializer(g, (size_t)at);
    }
    oir_graph_index_free(&ix);
    return OLIVE_OK;
}

enum { KIND_NONE, KIND_MATMUL, KIND_CONV, KIND_ATTENTION };

/* What `n` is to this pass, and whether it is selected; mm is set for KIND_MATMUL (its name
 * to be freed). Negative on ENOMEM. */
static int kind_of(const dq_run *r, const oir_node *n, dq_matmul *mm)
{
    int is = as_matmul(n, mm);
    if (is < 0)
        return is;
    if (is == 1)
        return dq_selected(r, "MatMul", mm->name) ? KIND_MATMUL : KIND_NONE;
    if (!strcmp(n->op_type, "Conv") && (!n->domain[0] || !strcmp(n->domain, "ai.onnx")))
        return dq_selected(r, "Conv", n->name) ? KIND_CONV : KIND_NONE;
    if (!strcmp(n->op_type, "Attention") && !strcmp(n->domain, "com.microsoft"))
        return dq_selected(r, "Attention", n->name) ? KIND_ATTENTION : KIND_NONE;
    return KIND_NONE;
}

/* Rewrites the MatMul (or Gemm) at *at: 1 when rewritten, 0 when it stays. */
static int rewrite_matmul(dq_run *r, oir_graph *g, size_t *at, dq_matmul *mm)
{
    int rc;
    if (!quantizable(g, mm))
        return 0;
    if (r->qdq) {
        if (mm->transposed && r->per_channel) {
            OLIVE_INFO("quantize_dynamic: skipping Gemm '%s': QDQ per channel of a transposed B is not written",
                       label(mm->n));
            return 0;
        }
        return dq_rewrite_qdq(r, g, at, 1, r->per_channel, r->reduce_range);
    }
    OLIVE_TRY(dq_require_opset11(r, mm->n));
    rc = rewrite(r, g, at, mm);
    return rc == OLIVE_OK ? 1 : rc;
}

static int quantize_graph(dq_run *r, oir_graph *g)
{
    int rc = OLIVE_OK;
    dq_matmul mm;
    for (size_t i = 0; i < g->n_nodes; i++) {
        int kind = kind_of(r, g->nodes[i], &mm);
        if (kind < 0)
            return kind;
        r->total += kind != KIND_NONE;
        free(mm.name);
    }
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        int kind = kind_of(r, g->nodes[i], &mm), done = 0;
        if (kind < 0)
            return kind;
        if (kind == KIND_MATMUL)
            done = rewrite_matmul(r, g, &i, &mm);
        else if (kind == KIND_CONV)
            done = r->qdq ? dq_rewrite_qdq(r, g, &i, 1, 0, r->reduce_range) : dq_rewrite_conv(r, g, &i);
        else if (kind == KIND_ATTENTION)
            done = r->qdq ? dq_rewrite_qdq(r, g, &i, 1, r->per_channel, r->reduce_range)
                          : dq_rewrite_attention(r, g, &i);
        free(mm.name);
        if (done < 0)
            return done;
        r->quantized += (size_t)done;
        if (kind != KIND_NONE) {
            r->done++;
            rc = olive_pass_progress(r->ctx, r->total ? (double)r->done / (double)r->total : 1.0);
        }
    }
    if (rc == OLIVE_OK && r->weights.n)
        rc = drop_unused_sources(r, g);
    return rc;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    dq_run r;
    int rc;
    memset(&r, 0, sizeof r);
    r.args = args;
    r.ctx = ctx;
    r.wtype = strcmp(olive_args_string(args, "weight_type"), "QUInt8") ? OIR_INT8 : OIR_UINT8;
    r.per_channel = olive_args_bool(args, "per_channel");
    r.reduce_range = olive_args_bool(args, "reduce_range");
    r.include_all = list_is_empty(olive_args_string(args, "nodes_to_include"));
    r.qdq = !strcmp(olive_args_string(args, "quant_format"), "QDQ");
    r.opset = oir_model_opset(m, "");
    rc = quantize_graph(&r, m->graph);
    dq_list_free(&r.weights);
    dq_list_free(&r.acts);
    if (rc != OLIVE_OK)
        return rc;
    OLIVE_INFO("quantize_dynamic: %zu of %zu selected MatMuls quantized (%s weights, %s%s)", r.quantized, r.total,
               r.wtype == OIR_INT8 ? "int8" : "uint8", r.per_channel ? "per channel" : "per tensor",
               r.reduce_range ? ", reduced range" : "");
    return olive_pass_progress(ctx, 1.0);
}

static const olive_param_spec params[] = {
    {.name = "weight_type",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "QInt8",
     .choices = "QInt8|QUInt8",
     .search = "QInt8|QUInt8",
     .help = "Weight type: QInt8 (symmetric, zero point 0) or QUInt8 (asymmetric)"},
    {.name = "per_channel",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .search = "false|true",
     .help = "One scale and zero point per output column of B"},
    {.name = "reduce_range",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .search = "false|true",
     .help = "Quantize weights to 7 bits ([-64, 64] or [0, 127]), for CPUs without VNNI"},
    {.name = "nodes_to_exclude", .type = OLIVE_PARAM_LIST, .default_value = "", .help = "Node names left unquantized"},
    {.name = "nodes_to_include",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .help = "Only these node names are quantized (empty: all)"},
    {.name = "op_types_to_quantize",
     .type = OLIVE_PARAM_LIST,
     .default_value = "MatMul",
     .help = "Op types to quantize: MatMul (and plain Gemm), Conv, Attention",
     .details = "MatMul also takes Gemms with alpha = beta = 1 and transA = 0, as ONNX Runtime does; Conv becomes "
                "ConvInteger (weights per tensor); Attention becomes com.microsoft QAttention"},
    {.name = "quant_format",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "QOperator",
     .choices = "QOperator|QDQ",
     .help = "QOperator: integer operators; QDQ: the float operator reads DequantizeLinear",
     .details = "QOperator quantizes activations at run time; with QDQ the float operator reads its weight through "
                "DequantizeLinear of the same int8/uint8 codes (opset 10, 13 per channel)"},
};

static const char *const dynamic_ignored[] = {"quant_mode", "quant_preprocess", "MatMulConstBOnly", "extra_options",
                                              NULL};
static const olive_pass_type olive_types[] = {
    {"OnnxDynamicQuantization", NULL, NULL, dynamic_ignored},
    {NULL, NULL, NULL, NULL},
};

const olive_pass_def olive_pass_quantize_dynamic = {
    .name = "quantize_dynamic",
    .summary = "ONNX Runtime's dynamic quantization of MatMul/Gemm, Conv and Attention weights",
    .details = "Constant float weights become int8/uint8 for MatMulInteger, ConvInteger and com.microsoft "
               "QAttention on run-time quantized activations (or, with quant_format=QDQ, the float operators read "
               "them through DequantizeLinear)",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
