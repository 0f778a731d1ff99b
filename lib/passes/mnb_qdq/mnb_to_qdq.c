/* mnb_to_qdq: each MatMulNBits whose weights are initializers becomes
 *   DequantizeLinear(qweight [K, N], scales [K/bs, N], zero points) -> MatMul (-> Add bias)
 * with Olive's layout and names: weights unpacked from MatMulNBits' [N, blocks, bytes] rows,
 * transposed (or kept [N, K] with a Transpose after the DequantizeLinear when use_transpose_op),
 * shifted by the midpoint for signed types and packed low nibble first; per-axis when K fits one
 * block. Identity nodes go first, as in Olive; the default opset becomes at least 21. Nodes
 * with a g_idx other than the trivial one, float zero points or 2-bit weights stay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/mnb_qdq/mnb_to_qdq.h"

#define PASS "mnb_to_qdq"

typedef struct opts {
    int transpose_op, signed_int, add_zero_point;
    const olive_pass_args *args;
} opts;

static int has_node(const oir_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->name && !strcmp(g->nodes[i]->name, name))
            return 1;
    return 0;
}

/* Olive's naming: the MatMulNBits name with "MatMulNBits" (or MatMul_Q4 / MatMul_Q8) replaced by
 * the new op type, else "<name>_<op>"; "_<i>" added until unique. */
static char *new_name(const oir_graph *g, const char *old, const char *op)
{
    static const char *const suffixes[] = {"MatMulNBits", "MatMul_Q4", "MatMul_Q8"};
    char *base = NULL, *name;
    for (int k = 0; k < 3 && !base; k++) {
        const char *hit = strstr(old, suffixes[k]);
        if (hit) {
            /* every occurrence, as str.replace */
            olive_strbuf b = {0};
            const char *p = old;
            olive_strbuf_append(&b, "");
            while ((hit = strstr(p, suffixes[k]))) {
                olive_strbuf_appendn(&b, p, (size_t)(hit - p));
                olive_strbuf_append(&b, op);
                p = hit + strlen(suffixes[k]);
            }
            olive_strbuf_append(&b, p);
            base = olive_strbuf_take(&b);
        }
    }
    if (!base && !(base = olive_asprintf("%s_%s", old, op)))
        return NULL;
    name = olive_strdup(base);
    for (int i = 0; name && has_node(g, name); i++) {
        free(name);
        name = olive_asprintf("%s_%d", base, i);
    }
    free(base);
    return name;
}

/* Value i of a row-major [rows, cols] matrix of sub-byte values packed low bits first. */
static unsigned unpack(const uint8_t *p, uint64_t row_bytes, uint64_t r, uint64_t c, int bits)
{
    uint64_t per = 8u / (unsigned)bits, byte = r * row_bytes + c / per;
    return (p[byte] >> ((c % per) * (unsigned)bits)) & ((1u << bits) - 1);
}

/* Packs `n` values (already shifted for signed types) flat, low bits first. */
static uint8_t *pack(const int *v, uint64_t n, int bits, uint64_t *nbytes)
{
    uint64_t per = 8u / (unsigned)bits, len = (n + per - 1) / per;
    uint8_t *out = olive_calloc((size_t)len + 1, 1);
    if (!out)
        return NULL;
    for (uint64_t i = 0; i < n; i++)
        out[i / per] |= (uint8_t)(((unsigned)v[i] & ((1u << bits) - 1)) << ((i % per) * (unsigned)bits));
    *nbytes = len;
    return out;
}

static int add_init(oir_graph *g, const char *name, int32_t dtype, size_t rank, const int64_t *dims, const void *data,
                    uint64_t nbytes)
{
    oir_tensor *t = oir_tensor_new(name, dtype, rank, dims);
    int rc = t ? oir_tensor_set_copy(t, data, nbytes) : OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = oir_graph_add_initializer(g, t);
    if (rc != OLIVE_OK)
        oir_tensor_free(t);
    return rc;
}

/* An integer tensor for the DequantizeLinear from `v` ([rows, cols] in MatMulNBits' [N, x]
 * order), transposed unless use_transpose_op, shifted for signed types, packed. */
static int add_quant(oir_graph *g, const opts *o, const char *name, const int *v, uint64_t n_rows, uint64_t cols,
                     int bits, int flat)
{
    uint64_t n = n_rows * cols, nbytes;
    int *t = olive_malloc((size_t)n * sizeof *t + sizeof *t);
    int32_t dtype = bits == 4 ? (o->signed_int ? OIR_INT4 : OIR_UINT4) : (o->signed_int ? OIR_INT8 : OIR_UINT8);
    int64_t dims[2];
    uint8_t *packed;
    int rc;
    if (!t)
        return OLIVE_ENOMEM;
    for (uint64_t r = 0; r < n_rows; r++)
        for (uint64_t c = 0; c < cols; c++) {
            int x = v[r * cols + c] - (o->signed_int ? 1 << (bits - 1) : 0);
            if (o->transpose_op || flat)
                t[r * cols + c] = x;
            else
                t[c * n_rows + r] = x;
        }
    packed = pack(t, n, bits, &nbytes);
    free(t);
    if (!packed)
        return OLIVE_ENOMEM;
    if (flat) {
        dims[0] = (int64_t)n;
    } else if (o->transpose_op) {
        dims[0] = (int64_t)n_rows, dims[1] = (int64_t)cols;
    } else {
        dims[0] = (int64_t)cols, dims[1] = (int64_t)n_rows;
    }
    rc = add_init(g, name, dtype, flat ? 1 : 2, dims, packed, nbytes);
    free(packed);
    return rc;
}

/* Bypasses Identity nodes whose output is not a graph output. */
static int remove_identities(oir_graph *g)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        char *src, *dst;
        if (strcmp(n->op_type, "Identity") || n->domain[0] || n->n_inputs != 1 || n->n_outputs != 1 ||
            oir_graph_output_index(g, n->outputs[0]) >= 0)
            continue;
        src = olive_strdup(n->inputs[0]);
        dst = olive_strdup(n->outputs[0]);
        if (!src || !dst) {
            free(src), free(dst);
            return OLIVE_ENOMEM;
        }
        oir_graph_remove_node(g, i--);
        if (oir_graph_replace_uses(g, dst, src) != OLIVE_OK) {
            free(src), free(dst);
            return OLIVE_ENOMEM;
        }
        free(src), free(dst);
    }
    return OLIVE_OK;
}

static int excluded(const olive_pass_args *a, const oir_node *n)
{
    return n->name && n->name[0] && olive_args_list_has(a, "nodes_to_exclude", n->name);
}

/* 1 when the node can be converted (weights are initializers, supported bits, trivial g_idx). */
static int convertible(const oir_graph *g, const oir_node *n, const olive_pass_args *a)
{
    int64_t k = oir_node_attr_int(n, "K", 0), bs = oir_node_attr_int(n, "block_size", 0);
    int64_t bits = oir_node_attr_int(n, "bits", 4);
    const oir_tensor *zp;
    if (strcmp(n->op_type, "MatMulNBits") || strcmp(n->domain, "com.microsoft") || n->n_inputs < 3 || excluded(a, n))
        return 0;
    for (size_t i = 1; i < n->n_inputs; i++)
        if (!oir_graph_initializer(g, n->inputs[i]) || oir_graph_input_index(g, n->inputs[i]) >= 0)
            return 0;
    if ((bits != 4 && bits != 8) || k <= 0 || bs <= 0 || oir_node_attr_int(n, "N", 0) <= 0)
        return 0;
    if (oir_graph_initializer(g, n->inputs[1])->dtype != OIR_UINT8)
        return 0;
    if (n->n_inputs > 3 && (zp = oir_graph_initializer(g, n->inputs[3])) && zp->dtype != OIR_UINT8)
        return 0;
    if (n->n_inputs > 4 && n->inputs[4][0]) {
        const oir_tensor *gi = oir_graph_initializer(g, n->inputs[4]);
        const uint8_t *p = oir_tensor_data(gi);
        uint64_t cnt;
        if (gi->dtype != OIR_INT32 || oir_tensor_numel(gi, &cnt) != OLIVE_OK || cnt != (uint64_t)k)
            return 0;
        for (int64_t i = 0; i < k; i++) {
            int32_t v;
            memcpy(&v, p + i * 4, 4);
            if (v != i / bs)
                return 0;
        }
    }
    return 1;
}

static int convert_one(oir_graph *g, oir_node *n, const opts *o)
{
    int64_t k = oir_node_attr_int(n, "K", 0), nn = oir_node_attr_int(n, "N", 0),
            bs = oir_node_attr_int(n, "block_size", 0);
    int bits = (int)oir_node_attr_int(n, "bits", 4), mid = 1 << (bits - 1), rc = OLIVE_OK;
    int64_t kb = (k + bs - 1) / bs;
    int per_axis = kb == 1, has_zp = n->n_inputs > 3 && n->inputs[3][0];
    const oir_tensor *w = oir_graph_initializer(g, n->inputs[1]), *sc = oir_graph_initializer(g, n->inputs[2]);
    const oir_tensor *zp = has_zp ? oir_graph_initializer(g, n->inputs[3]) : NULL;
    char *dq = new_name(g, n->name, "DequantizeLinear"), *tr = NULL, *mm = new_name(g, n->name, "MatMul"), *ad = NULL;
    char *qw = NULL, *qs = NULL, *qz = NULL, *dq_out = NULL, *tr_out = NULL, *mm_out = NULL, *ad_out = NULL;
    char *x = olive_strdup(n->inputs[0]), *y = olive_strdup(n->outputs[0]), *bias = NULL;
    int *vals = NULL, use_zp = 0, is_out;
    const char *final;
    uint64_t wrow, zrow, cnt;
    oir_node *made;
    if (!dq || !mm || !x || !y) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    qw = olive_asprintf("%s.qweight", dq);
    qs = olive_asprintf("%s.scales", dq);
    qz = olive_asprintf("%s.qzeros", dq);
    dq_out = olive_asprintf("%s/output_0", dq);
    mm_out = olive_asprintf("%s/output_0", mm);
    if (!qw || !qs || !qz || !dq_out || !mm_out ||
        !(vals = olive_malloc((size_t)(nn * (k > kb ? k : kb)) * sizeof *vals + 8))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    /* Weights: [N, K] unpacked from rows of wrow bytes. */
    wrow = w->nbytes / (uint64_t)nn;
    if (wrow * 8 / (unsigned)bits < (uint64_t)k) {
        rc = olive_fail(OLIVE_EFORMAT, "%s: node '%s': weight '%s' holds fewer than K=%lld values per row", PASS,
                        n->name, w->name, (long long)k);
        goto done;
    }
    for (int64_t r = 0; r < nn; r++)
        for (int64_t c = 0; c < k; c++)
            vals[r * k + c] = (int)unpack(oir_tensor_data(w), wrow, (uint64_t)r, (uint64_t)c, bits);
    if ((rc = add_quant(g, o, qw, vals, (uint64_t)nn, (uint64_t)k, bits, 0)) != OLIVE_OK)
        goto done;
    /* Scales: [N, blocks] floats, transposed (or flat per axis). */
    if (oir_tensor_numel(sc, &cnt) != OLIVE_OK || cnt != (uint64_t)(nn * kb)) {
        rc = olive_fail(OLIVE_EFORMAT, "%s: node '%s': scales '%s' must hold N*blocks values", PASS, n->name, sc->name);
        goto done;
    }
    {
        size_t es = oir_dtype_bits(sc->dtype) / 8;
        uint8_t *s = olive_malloc((size_t)sc->nbytes + 1);
        int64_t dims[2];
        if (!s) {
            rc = OLIVE_ENOMEM;
            goto done;
        }
        for (int64_t r = 0; r < nn; r++)
            for (int64_t c = 0; c < kb; c++) {
                uint64_t to = (o->transpose_op || per_axis) ? (uint64_t)(r * kb + c) : (uint64_t)(c * nn + r);
                memcpy(s + to * es, oir_tensor_data(sc) + (uint64_t)(r * kb + c) * es, es);
            }
        if (per_axis)
            dims[0] = nn;
        else if (o->transpose_op)
            dims[0] = nn, dims[1] = kb;
        else
            dims[0] = kb, dims[1] = nn;
        rc = add_init(g, qs, sc->dtype, per_axis ? 1 : 2, dims, s, sc->nbytes);
        free(s);
        if (rc != OLIVE_OK)
            goto done;
    }
    /* Zero points: unpacked from rows, dropped when signed and all at the midpoint (unless
     * add_zero_point); made (midpoint, or 0 when signed) when absent and needed. */
    if (has_zp) {
        int all_mid = 1;
        zrow = zp->nbytes / (uint64_t)nn;
        for (int64_t r = 0; r < nn; r++)
            for (int64_t c = 0; c < kb; c++) {
                vals[r * kb + c] = (int)unpack(oir_tensor_data(zp), zrow, (uint64_t)r, (uint64_t)c, bits);
                all_mid &= vals[r * kb + c] == mid;
            }
        use_zp = !(!o->add_zero_point && o->signed_int && all_mid);
    } else if (o->add_zero_point || !o->signed_int) {
        for (int64_t i = 0; i < nn * kb; i++)
            vals[i] = mid; /* shifted to 0 for signed types by add_quant */
        use_zp = 1;
    }
    if (use_zp && (rc = add_quant(g, o, qz, vals, (uint64_t)nn, (uint64_t)kb, bits, per_axis)) != OLIVE_OK)
        goto done;
    {
        const char *ins[3] = {qw, qs, qz};
        if (!(made = oir_node_new("DequantizeLinear", "", dq, use_zp ? 3 : 2, ins, 1, (const char *const *)&dq_out)) ||
            oir_graph_add_node(g, made) != OLIVE_OK) {
            oir_node_free(made);
            rc = OLIVE_ENOMEM;
            goto done;
        }
        if (!per_axis && (rc = oir_node_set_attr_int(made, "block_size", bs)) != OLIVE_OK)
            goto done;
        if ((rc = oir_node_set_attr_int(made, "axis", (o->transpose_op ? 1 : 0) ^ (per_axis ? 1 : 0))) != OLIVE_OK)
            goto done;
    }
    final = dq_out;
    if (o->transpose_op) {
        int64_t perm[2] = {1, 0};
        if (!(tr = new_name(g, n->name, "Transpose")) || !(tr_out = olive_asprintf("%s/output_0", tr)) ||
            !(made = oir_node_new("Transpose", "", tr, 1, (const char *const *)&dq_out, 1,
                                  (const char *const *)&tr_out)) ||
            oir_graph_add_node(g, made) != OLIVE_OK) {
            rc = OLIVE_ENOMEM;
            goto done;
        }
        if ((rc = oir_node_set_attr_ints(made, "perm", perm, 2)) != OLIVE_OK)
            goto done;
        final = tr_out;
    }
    {
        const char *ins[2] = {x, final};
        if (!(made = oir_node_new("MatMul", "", mm, 2, ins, 1, (const char *const *)&mm_out)) ||
            oir_graph_add_node(g, made) != OLIVE_OK) {
            rc = OLIVE_ENOMEM;
            goto done;
        }
    }
    final = mm_out;
    if (n->n_inputs > 5 && n->inputs[5][0]) {
        const oir_tensor *b = oir_graph_initializer(g, n->inputs[5]);
        const char *hit, *p = b->name;
        olive_strbuf nb = {0};
        olive_strbuf_append(&nb, "");
        while ((hit = strstr(p, "MatMulNBits"))) {
            olive_strbuf_appendn(&nb, p, (size_t)(hit - p));
            olive_strbuf_append(&nb, "MatMul");
            p = hit + strlen("MatMulNBits");
        }
        olive_strbuf_append(&nb, p);
        if (!(bias = olive_strbuf_take(&nb))) {
            rc = OLIVE_ENOMEM;
            goto done;
        }
        if (strcmp(bias, b->name) && oir_graph_initializer_index(g, bias) < 0) {
            oir_tensor *copy = oir_tensor_clone(b);
            char *nm = olive_strdup(bias);
            if (!copy || !nm || (free(copy->name), copy->name = nm, oir_graph_add_initializer(g, copy)) != OLIVE_OK) {
                if (copy && copy->name != nm)
                    free(nm);
                oir_tensor_free(copy);
                rc = OLIVE_ENOMEM;
                goto done;
            }
        }
        {
            const char *ins[2] = {mm_out, bias};
            if (!(ad = new_name(g, n->name, "Add")) || !(ad_out = olive_asprintf("%s/output_0", ad)) ||
                !(made = oir_node_new("Add", "", ad, 2, ins, 1, (const char *const *)&ad_out)) ||
                oir_graph_add_node(g, made) != OLIVE_OK) {
                rc = OLIVE_ENOMEM;
                goto done;
            }
        }
        final = ad_out;
    }
    /* The MatMulNBits goes; its readers read the new result, which takes its name when it is a
     * graph output. */
    is_out = oir_graph_output_index(g, y) >= 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i] == n) {
            oir_graph_remove_node(g, i);
            break;
        }
    if ((rc = oir_graph_replace_uses(g, y, final)) == OLIVE_OK && is_out)
        rc = oir_graph_rename_value(g, final, y);
done:
    free(dq), free(tr), free(mm), free(ad), free(qw), free(qs), free(qz), free(dq_out), free(tr_out), free(mm_out);
    free(ad_out), free(x), free(y), free(bias), free(vals);
    return rc;
}

/* Initializers nothing reads any more go (Olive's graph view drops them when it saves). */
static int drop_unused(oir_graph *g)
{
    oir_graph_index ix;
    char *unused = olive_calloc(g->n_initializers + 1, 1);
    if (!unused)
        return OLIVE_ENOMEM;
    if (oir_graph_index_build(&ix, g) != OLIVE_OK) {
        free(unused);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < g->n_initializers; i++)
        unused[i] = !oir_index_use_count(&ix, g->initializers[i]->name) &&
                    oir_graph_input_index(g, g->initializers[i]->name) < 0;
    oir_graph_index_free(&ix);
    for (size_t i = g->n_initializers; i-- > 0;)
        if (unused[i])
            oir_graph_remove_initializer(g, i);
    free(unused);
    return OLIVE_OK;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    oir_graph *g = m->graph;
    opts o = {olive_args_bool(args, "use_transpose_op"),
              olive_args_bool(args, "use_signed_int") || olive_args_bool(args, "use_int4"),
              olive_args_bool(args, "add_zero_point"), args};
    size_t todo = 0, done_n = 0;
    int rc = OLIVE_OK;
    for (size_t i = 0; i < g->n_nodes; i++)
        todo += convertible(g, g->nodes[i], args);
    if (!todo)
        return olive_pass_progress(ctx, 1.0);
    OLIVE_TRY(remove_identities(g));
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        oir_node *n = g->nodes[i];
        int bits8 = oir_node_attr_int(n, "bits", 4) == 8;
        if (!convertible(g, n, args))
            continue;
        /* use_int4 is Olive's older spelling of use_signed_int for 4-bit weights only. */
        o.signed_int = olive_args_bool(args, "use_signed_int") || (!bits8 && olive_args_bool(args, "use_int4"));
        rc = convert_one(g, n, &o);
        i--; /* the node at i was removed */
        if (rc == OLIVE_OK)
            rc = olive_pass_progress(ctx, (double)++done_n / (double)(todo + 1));
    }
    if (rc == OLIVE_OK)
        rc = drop_unused(g);
    if (rc == OLIVE_OK)
        rc = oir_model_require_opset(m, "", 21);
    if (rc == OLIVE_OK)
        rc = oir_graph_toposort(g);
    return rc;
}

static const olive_param_spec params[] = {
    {.name = "use_transpose_op",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Keep weights [N, K] and add a Transpose after the DequantizeLinear"},
    {.name = "use_int4",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Signed int4 weights (Olive's older name for use_signed_int)"},
    {.name = "use_signed_int",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Signed weights (int4/int8) instead of unsigned"},
    {.name = "add_zero_point",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Write zero points also where they are all 0 (signed symmetric weights)"},
    {.name = "nodes_to_exclude",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "MatMulNBits node names to leave as they are"},
};

static const olive_pass_type olive_types[] = {{"MatMulNBitsToQDQ", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_mnb_to_qdq = {
    .name = "mnb_to_qdq",
    .summary = "Turns com.microsoft MatMulNBits back into DequantizeLinear + MatMul (+ Add), as Olive writes it",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
