#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

oir_model *oir_model_new(void)
{
    oir_model *m = olive_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->ir_version = 8;
    if (!(m->graph = oir_graph_new("main"))) {
        free(m);
        return NULL;
    }
    return m;
}

void oir_model_free(oir_model *m)
{
    if (!m)
        return;
    free(m->producer_name);
    free(m->producer_version);
    free(m->domain);
    free(m->doc_string);
    for (size_t i = 0; i < m->n_opsets; i++)
        free(m->opsets[i].domain);
    free(m->opsets);
    for (size_t i = 0; i < m->n_metadata; i++) {
        free(m->metadata_keys[i]);
        free(m->metadata_values[i]);
    }
    free(m->metadata_keys);
    free(m->metadata_values);
    oir_graph_free(m->graph);
    free(m->passthrough.data);
    free(m->path);
    for (size_t i = 0; i < m->n_sources; i++)
        olive_blob_unref(m->sources[i]);
    free(m->sources);
    free(m->checkpoint_path);
    free(m->inference_settings);
    oir_model_clear_companions(m);
    free(m);
}

static int dup_opt(char **dst, const char *src)
{
    *dst = NULL;
    if (src && !(*dst = olive_strdup(src)))
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

oir_model *oir_model_clone(const oir_model *src)
{
    oir_model *m = olive_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->ir_version = src->ir_version;
    m->model_version = src->model_version;
    if (dup_opt(&m->producer_name, src->producer_name) || dup_opt(&m->producer_version, src->producer_version) ||
        dup_opt(&m->domain, src->domain) || dup_opt(&m->doc_string, src->doc_string) || dup_opt(&m->path, src->path) ||
        dup_opt(&m->inference_settings, src->inference_settings))
        goto fail;
    for (size_t i = 0; i < src->n_opsets; i++)
        if (oir_model_require_opset(m, src->opsets[i].domain, src->opsets[i].version))
            goto fail;
    if (src->n_metadata) {
        m->metadata_keys = olive_calloc(src->n_metadata, sizeof *m->metadata_keys);
        m->metadata_values = olive_calloc(src->n_metadata, sizeof *m->metadata_values);
        if (!m->metadata_keys || !m->metadata_values)
            goto fail;
        m->cap_metadata = src->n_metadata;
        for (size_t i = 0; i < src->n_metadata; i++) {
            m->metadata_keys[i] = olive_strdup(src->metadata_keys[i]);
            m->metadata_values[i] = olive_strdup(src->metadata_values[i]);
            m->n_metadata++;
            if (!m->metadata_keys[i] || !m->metadata_values[i])
                goto fail;
        }
    }
    if (src->graph && !(m->graph = oir_graph_clone(src->graph)))
        goto fail;
    if (src->passthrough.data) {
        if (!(m->passthrough.data = olive_malloc(src->passthrough.len + 1)))
            goto fail;
        memcpy(m->passthrough.data, src->passthrough.data, src->passthrough.len);
        m->passthrough.data[src->passthrough.len] = 0;
        m->passthrough.len = src->passthrough.len;
    }
    for (size_t i = 0; i < src->n_sources; i++)
        if (oir_model_add_source(m, src->sources[i]))
            goto fail;
    if (oir_model_copy_companions(m, src))
        goto fail;
    return m;
fail:
    oir_model_free(m);
    return NULL;
}

static int is_default_domain(const char *d)
{
    return !d || !d[0] || !strcmp(d, "ai.onnx");
}

static int same_domain(const char *a, const char *b)
{
    if (is_default_domain(a) || is_default_domain(b))
        return is_default_domain(a) && is_default_domain(b);
    return !strcmp(a, b);
}

int64_t oir_model_opset(const oir_model *m, const char *domain)
{
    for (size_t i = 0; i < m->n_opsets; i++)
        if (same_domain(m->opsets[i].domain, domain))
            return m->opsets[i].version;
    return -1;
}

int oir_model_require_opset(oir_model *m, const char *domain, int64_t version)
{
    oir_opset o;
    for (size_t i = 0; i < m->n_opsets; i++) {
        if (same_domain(m->opsets[i].domain, domain)) {
            if (m->opsets[i].version < version)
                m->opsets[i].version = version;
            return OLIVE_OK;
        }
    }
    o.domain = olive_strdup(domain ? domain : "");
    o.version = version;
    if (!o.domain || OLIVE_PUSH(m->opsets, m->n_opsets, m->cap_opsets, o)) {
        free(o.domain);
        return OLIVE_ENOMEM;
    }
    return OLIVE_OK;
}

int oir_model_add_source(oir_model *m, olive_blob *blob)
{
    size_t cap = m->n_sources;
    for (size_t i = 0; i < m->n_sources; i++)
        if (m->sources[i] == blob)
            return OLIVE_OK;
    if (olive_grow((void **)&m->sources, &cap, m->n_sources + 1, sizeof *m->sources))
        return OLIVE_ENOMEM;
    m->sources[m->n_sources++] = olive_blob_ref(blob);
    return OLIVE_OK;
}

/* Packed initializers of com.microsoft block-quantized ops stand for more weights than they
 * store: MatMulNBits' B holds N×K weights in uint8 blobs, GatherBlockQuantized's uint8 data
 * 8/bits weights per byte. Their scales and zero points are quantization metadata, not
 * parameters. Returns the logical element count of input `k` of `n`, or -1 for an ordinary
 * input. */
static int64_t logical_elements(const oir_node *n, size_t k, const oir_tensor *t, uint64_t stored)
{
    int nbits = !strcmp(n->op_type, "MatMulNBits"), gbq = !strcmp(n->op_type, "GatherBlockQuantized");
    if (strcmp(n->domain, "com.microsoft") || (!nbits && !gbq))
        return -1;
    if (nbits && k == 1)
        return oir_node_attr_int(n, "N", 0) * oir_node_attr_int(n, "K", 0);
    if (gbq && k == 0) {
        int64_t bits = oir_node_attr_int(n, "bits", 4);
        return t->dtype == OIR_UINT8 && bits > 0 && bits <= 8 ? (int64_t)stored * (8 / bits) : -1;
    }
    return k == 2 || k == 3 ? 0 : -1;
}

/* Replaces the stored element counts of packed initializers by their logical counts, once per
 * initializer (a tied embedding is read by both a GatherBlockQuantized and a MatMulNBits). */
static void count_packed(const oir_graph *g, oir_param_stats *s)
{
    const oir_tensor **seen = NULL;
    size_t n_seen = 0, cap = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        if (strcmp(n->domain, "com.microsoft") ||
            (strcmp(n->op_type, "MatMulNBits") && strcmp(n->op_type, "GatherBlockQuantized")))
            continue;
        for (size_t k = 0; k < n->n_inputs; k++) {
            const oir_tensor *t = n->inputs[k] && n->inputs[k][0] ? oir_graph_initializer(g, n->inputs[k]) : NULL;
            uint64_t stored = 0;
            int64_t logical;
            size_t j = 0;
            if (!t || oir_tensor_numel(t, &stored) != OLIVE_OK || (logical = logical_elements(n, k, t, stored)) < 0)
                continue;
            while (j < n_seen && seen[j] != t)
                j++;
            if (j < n_seen)
                continue;
            if (n_seen == cap) {
                const oir_tensor **grown = realloc(seen, (cap ? cap * 2 : 16) * sizeof *seen);
                if (!grown)
                    break; /* the counts stay as stored: statistics, not a failure */
                seen = grown;
                cap = cap ? cap * 2 : 16;
            }
            seen[n_seen++] = t;
            s->elements = s->elements - stored + (uint64_t)logical;
        }
    }
    free(seen);
}

static void stats_graph(const oir_graph *g, oir_param_stats *s)
{
    for (size_t i = 0; i < g->n_initializers; i++) {
        const oir_tensor *t = g->initializers[i];
        uint64_t n = 0;
        if (oir_tensor_numel(t, &n) != OLIVE_OK)
            n = 0;
        s->count++;
        s->elements += n;
        s->bytes += t->nbytes;
        if (t->dtype >= 0 && t->dtype < OIR_DTYPE_COUNT) {
            s->elements_by_dtype[t->dtype] += n;
            s->bytes_by_dtype[t->dtype] += t->nbytes;
        }
    }
    count_packed(g, s);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        for (size_t a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].g)
                stats_graph(n->attrs[a].g, s);
            for (size_t k = 0; n->attrs[a].graphs && k < n->attrs[a].n; k++)
                stats_graph(n->attrs[a].graphs[k], s);
        }
    }
}

void oir_model_param_stats(const oir_model *m, oir_param_stats *out)
{
    memset(out, 0, sizeof *out);
    if (m->graph)
        stats_graph(m->graph, out);
}

static int walk(oir_graph *g, int depth, int (*fn)(oir_graph *, int, void *), void *user)
{
    OLIVE_TRY(fn(g, depth, user));
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        for (size_t a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].g)
                OLIVE_TRY(walk(n->attrs[a].g, depth + 1, fn, user));
            for (size_t k = 0; n->attrs[a].graphs && k < n->attrs[a].n; k++)
                OLIVE_TRY(walk(n->attrs[a].graphs[k], depth + 1, fn, user));
        }
    }
    return OLIVE_OK;
}

int oir_model_for_each_graph(oir_model *m, int (*fn)(oir_graph *g, int depth, void *user), void *user)
{
    return m->graph ? walk(m->graph, 0, fn, user) : OLIVE_OK;
}
