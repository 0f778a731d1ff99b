/* See layerwise.h. A segment is written as a model of its own: its nodes (a contiguous run of
 * the graph's nodes), the initializers they read, the graph inputs they read (fed from the
 * calibration data) and the values earlier segments produced (fed from the temporary file),
 * typed as ONNX Runtime reported them when it produced them. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "core/strmap.h"
#include "onnx/onnx_io.h"
#include "passes/calibrate/capture.h"
#include "passes/calibrate/layerwise.h"
#include "passes/calibrate/nbits_writer.h"

long olive_calib_layer_of(const char *name)
{
    static const char *const words[] = {"layers", "layer", "blocks", "block", "h", NULL};
    for (const char *p = name; *p; p++) {
        if (p != name && isalnum((unsigned char)p[-1]))
            continue; /* words start after a separator */
        for (size_t w = 0; words[w]; w++) {
            size_t len = strlen(words[w]);
            const char *q = p + len;
            char *end;
            long v;
            if (strncmp(p, words[w], len) || !(*q == '.' || *q == '/' || *q == '_') || !isdigit((unsigned char)q[1]))
                continue;
            v = strtol(q + 1, &end, 10);
            if (!isalnum((unsigned char)*end))
                return v;
        }
    }
    return -1;
}

/* A value one segment produces and a later one reads. */
typedef struct lw_value {
    char *name;
    size_t prod_seg, last_seg; /* live at the boundaries prod_seg .. last_seg - 1 */
    olive_dtype dtype;         /* as ONNX Runtime produced it (UNDEFINED until then) */
    size_t rank;
} lw_value;

typedef struct lw_plan {
    oir_model *m;
    const olive_calib_groups *gr;
    const olive_calib_data *data;
    olive_pass_ctx *ctx;
    const char *pass;
    const olive_backend *backend;
    const char *provider;
    int64_t batch_size;
    size_t n_seg;
    size_t *seg_end; /* node index one past segment s's last node */
    size_t *grp_end; /* the group inputs [grp_end[s - 1], grp_end[s]) are captured in segment s */
    lw_value *vals;
    size_t n_vals, cap_vals;
    olive_strmap val_index; /* name -> index + 1; keys are vals[].name */
    unsigned char *host;    /* per node: 1 for a table lookup libolive does itself (host_gather) */
    char *dir;              /* temporary folder: segment models and the values between segments */
} lw_plan;

static void plan_free(lw_plan *p)
{
    for (size_t i = 0; i < p->n_vals; i++)
        free(p->vals[i].name);
    free(p->vals);
    free(p->seg_end);
    free(p->grp_end);
    free(p->host);
    olive_strmap_free(&p->val_index);
    if (p->dir)
        olive_rmtree(p->dir);
    free(p->dir);
}

static int is_quantized_matmul(const lw_plan *p, olive_calib_select_fn selected, const oir_node *n)
{
    return olive_calib_matmul_weight(p->m->graph, n) && selected(p->gr->user, n);
}

static long node_layer(const oir_node *n)
{
    long k = n->name[0] ? olive_calib_layer_of(n->name) : -1;
    return k >= 0 ? k : olive_calib_layer_of(n->inputs[1]);
}

/* Cuts after the last selected MatMul of each run of one layer number. */
static int find_segments(lw_plan *p, olive_calib_select_fn selected)
{
    const oir_graph *g = p->m->graph;
    size_t last = 0, cap = 0;
    long prev = -2;
    for (size_t i = 0; i < g->n_nodes; i++) {
        long k;
        if (!is_quantized_matmul(p, selected, g->nodes[i]))
            continue;
        k = node_layer(g->nodes[i]);
        if (prev != -2 && k != prev) {
            if (p->n_seg == cap && olive_grow((void **)&p->seg_end, &cap, p->n_seg + 1, sizeof *p->seg_end))
                return OLIVE_ENOMEM;
            p->seg_end[p->n_seg++] = last + 1;
        }
        prev = k;
        last = i;
    }
    if (prev == -2)
        return OLIVE_OK;
    if (p->n_seg == cap && olive_grow((void **)&p->seg_end, &cap, p->n_seg + 1, sizeof *p->seg_end))
        return OLIVE_ENOMEM;
    p->seg_end[p->n_seg++] = last + 1;
    return OLIVE_OK;
}

static size_t segment_of(const lw_plan *p, size_t node)
{
    for (size_t s = 0; s < p->n_seg; s++)
        if (node < p->seg_end[s])
            return s;
    return SIZE_MAX;
}

/* Each group input belongs to the segment of the first selected MatMul that reads it; the
 * groups must come in segment order. *ok = 0 otherwise. */
static int assign_groups(lw_plan *p, olive_calib_select_fn selected, int *ok)
{
    const oir_graph *g = p->m->graph;
    size_t seg = 0;
    if (!(p->grp_end = olive_calloc(p->n_seg, sizeof *p->grp_end)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < p->gr->n; i++) {
        const char *name = p->gr->name(p->gr->user, i);
        size_t at = SIZE_MAX, s;
        for (size_t j = 0; j < g->n_nodes && at == SIZE_MAX; j++)
            if (is_quantized_matmul(p, selected, g->nodes[j]) && !strcmp(g->nodes[j]->inputs[0], name))
                at = j;
        s = at == SIZE_MAX ? SIZE_MAX : segment_of(p, at);
        if (s == SIZE_MAX || s < seg) {
            *ok = 0;
            return OLIVE_OK;
        }
        for (; seg < s; seg++)
            p->grp_end[seg] = i;
        p->grp_end[s] = i + 1;
    }
    for (seg++; seg < p->n_seg; seg++)
        p->grp_end[seg] = p->grp_end[seg - 1];
    *ok = 1;
    return OLIVE_OK;
}

static int note_read(lw_plan *p, const olive_strmap *producer, const char *name, size_t seg)
{
    uintptr_t at = (uintptr_t)olive_strmap_get(producer, name);
    uintptr_t known;
    size_t prod;
    if (!name[0] || !at || (prod = segment_of(p, (size_t)at - 1)) >= seg)
        return OLIVE_OK;
    if ((known = (uintptr_t)olive_strmap_get(&p->val_index, name))) {
        if (p->vals[known - 1].last_seg < seg)
            p->vals[known - 1].last_seg = seg;
        return OLIVE_OK;
    }
    if (p->n_vals == p->cap_vals && olive_grow((void **)&p->vals, &p->cap_vals, p->n_vals + 1, sizeof *p->vals))
        return OLIVE_ENOMEM;
    memset(&p->vals[p->n_vals], 0, sizeof *p->vals);
    if (!(p->vals[p->n_vals].name = olive_strdup(name)))
        return OLIVE_ENOMEM;
    p->vals[p->n_vals].prod_seg = prod;
    p->vals[p->n_vals].last_seg = seg;
    p->n_vals++;
    return olive_strmap_put(&p->val_index, p->vals[p->n_vals - 1].name, (void *)(uintptr_t)p->n_vals);
}

/* The values that cross a cut: produced in one segment, read in a later one. A node with a
 * subgraph that reads outer values (If, Loop) leaves *ok at 0: segments are cut by explicit
 * inputs only. */
static int find_live_values(lw_plan *p, int *ok)
{
    const oir_graph *g = p->m->graph;
    olive_strmap producer = {0};
    int rc = OLIVE_OK;
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++)
        for (size_t k = 0; k < g->nodes[i]->n_outputs && rc == OLIVE_OK; k++)
            if (g->nodes[i]->outputs[k][0])
                rc = olive_strmap_put(&producer, g->nodes[i]->outputs[k], (void *)(uintptr_t)(i + 1));
    for (size_t i = 0; i < p->seg_end[p->n_seg - 1] && rc == OLIVE_OK && *ok; i++) {
        const oir_node *n = g->nodes[i];
        size_t seg = segment_of(p, i);
        olive_strmap implicit = {0};
        for (size_t k = 0; k < n->n_inputs && rc == OLIVE_OK; k++)
            rc = note_read(p, &producer, n->inputs[k], seg);
        if (rc == OLIVE_OK && n->n_attrs)
            rc = oir_node_implicit_inputs(n, &implicit);
        if (implicit.count)
            *ok = 0;
        olive_strmap_free(&implicit);
    }
    olive_strmap_free(&producer);
    return rc;
}

/* The table a Gather reads: a float initializer, or the transpose of a 2-D one that only this
 * Gather reads (a tied embedding looks up the LM head's weight); *transpose gets that node. */
static const oir_tensor *gather_table(const oir_graph_index *ix, const oir_node *n, const oir_node **transpose)
{
    const oir_tensor *t = oir_index_initializer(ix, n->inputs[0]);
    const oir_node *tr = t ? NULL : oir_index_producer(ix, n->inputs[0]);
    const oir_attr *perm;
    *transpose = NULL;
    if (tr) {
        perm = oir_node_attr(tr, "perm");
        if (strcmp(tr->op_type, "Transpose") || tr->domain[0] || tr->n_inputs != 1 ||
            !(t = oir_index_initializer(ix, tr->inputs[0])) || t->rank != 2 ||
            (perm && (perm->n != 2 || perm->ints[0] != 1 || perm->ints[1] != 0)) ||
            oir_index_use_count(ix, n->inputs[0]) != 1)
            return NULL;
        *transpose = tr;
    }
    return t && t->dtype == OIR_FLOAT && t->rank >= 1 && t->blob ? t : NULL;
}

static size_t node_index(const oir_graph *g, const oir_node *n)
{
    size_t k = 0;
    while (k < g->n_nodes && g->nodes[k] != n)
        k++;
    return k;
}

/* A Gather (axis 0) of a table (gather_table) by a graph input, all of whose readers are in its
 * own segment: the embedding lookup. libolive does it, so that ONNX Runtime never holds the
 * table (for a decoder the largest tensor: vocabulary x hidden). */
static int host_gather(const lw_plan *p, const oir_graph_index *ix, size_t at, const oir_node **transpose)
{
    const oir_graph *g = p->m->graph;
    const oir_node *n = g->nodes[at];
    size_t seg = segment_of(p, at);
    if (strcmp(n->op_type, "Gather") || n->domain[0] || n->n_inputs != 2 || n->n_outputs != 1 ||
        oir_node_attr_int(n, "axis", 0) != 0 || !gather_table(ix, n, transpose) ||
        oir_graph_input_index(g, n->inputs[1]) < 0 || oir_index_is_graph_output(ix, n->outputs[0]) ||
        (*transpose && segment_of(p, node_index(g, *transpose)) != seg))
        return 0;
    for (size_t i = 0;; i++) {
        const oir_node *c = oir_index_consumer(ix, n->outputs[0], i);
        if (!c)
            return 1;
        if (segment_of(p, node_index(g, c)) != seg)
            return 0;
    }
}

static int find_host_nodes(lw_plan *p)
{
    const oir_graph *g = p->m->graph;
    oir_graph_index ix;
    if (!(p->host = olive_calloc(g->n_nodes ? g->n_nodes : 1, 1)))
        return OLIVE_ENOMEM;
    OLIVE_TRY(oir_graph_index_build(&ix, g));
    for (size_t i = 0; i < p->seg_end[p->n_seg - 1]; i++) {
        const oir_node *tr = NULL;
        if (host_gather(p, &ix, i, &tr)) {
            p->host[i] = 1;
            if (tr)
                p->host[node_index(g, tr)] = 1;
        }
    }
    oir_graph_index_free(&ix);
    return OLIVE_OK;
}

/* out = table[indices] for a host Gather: shape indices' dims + a row's dims. */
static int gather_rows(const lw_plan *p, const oir_node *n, const olive_tensor *indices, olive_tensor **out)
{
    const oir_graph *g = p->m->graph;
    const oir_tensor *table = oir_graph_initializer(g, n->inputs[0]);
    int transposed = table == NULL;
    int64_t dims[32], rows;
    size_t rank = olive_tensor_rank(indices), row_len = 1, count = (size_t)olive_tensor_element_count(indices);
    olive_dtype it = olive_tensor_dtype(indices);
    const uint8_t *src;
    float *dst;
    size_t *picked; /* the table row of each index */
    for (size_t k = 0; transposed && k < g->n_nodes && !table; k++)
        if (g->nodes[k]->n_outputs && !strcmp(g->nodes[k]->outputs[0], n->inputs[0]))
            table = oir_graph_initializer(g, g->nodes[k]->inputs[0]);
    if (!table)
        return olive_fail(OLIVE_EINTERNAL, "%s: the table of Gather '%s' is gone", p->pass, n->name);
    if ((it != OLIVE_DTYPE_INT64 && it != OLIVE_DTYPE_INT32) || rank + table->rank - 1 > 32)
        return olive_fail(OLIVE_EINVALID, "%s: input '%s' of Gather '%s' must be int64 or int32 indices", p->pass,
                          n->inputs[1], n->name);
    for (size_t d = 0; d < rank; d++)
        dims[d] = olive_tensor_dim(indices, d);
    if (transposed) { /* the table is W^T: row r is column r of W [hidden, vocabulary] */
        rows = table->dims[1];
        dims[rank] = table->dims[0];
        row_len = (size_t)table->dims[0];
    } else {
        rows = table->dims[0];
        for (size_t d = 1; d < table->rank; d++) {
            dims[rank + d - 1] = table->dims[d];
            row_len *= (size_t)table->dims[d];
        }
    }
    OLIVE_TRY(olive_tensor_new(out, OLIVE_DTYPE_FLOAT32, dims, rank + table->rank - 1));
    src = oir_tensor_data(table); /* mapped data may be unaligned: copied with memcpy */
    dst = olive_tensor_data(*out);
    if (!(picked = olive_malloc((count ? count : 1) * sizeof *picked))) {
        olive_tensor_free(*out);
        *out = NULL;
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        int64_t row = it == OLIVE_DTYPE_INT64 ? ((const int64_t *)olive_tensor_data(indices))[i]
                                              : ((const int32_t *)olive_tensor_data(indices))[i];
        if (row < 0)
            row += rows; /* Gather takes negative indices from the end */
        if (row < 0 || row >= rows) {
            free(picked);
            olive_tensor_free(*out);
            *out = NULL;
            return olive_fail(OLIVE_EINVALID,
                              "%s: calibration input '%s' holds index %lld, outside Gather '%s''s %lld rows", p->pass,
                              n->inputs[1], (long long)row, n->name, (long long)rows);
        }
        picked[i] = (size_t)row;
        if (!transposed)
            memcpy(dst + i * row_len, src + picked[i] * row_len * 4, row_len * 4);
    }
    /* W^T's row r is spread over every row of W: W is read row by row, each row's pages dropped
     * once read, so that the whole table never stays in this process */
    for (size_t c = 0; transposed && c < row_len; c++) {
        for (size_t i = 0; i < count; i++)
            memcpy(dst + i * row_len + c, src + (c * (size_t)rows + picked[i]) * 4, 4);
        if (table->blob)
            olive_blob_drop_pages(table->blob, table->offset + c * (uint64_t)rows * 4, (uint64_t)rows * 4);
    }
    if (table->blob && !transposed)
        olive_blob_drop_pages(table->blob, table->offset, table->nbytes);
    free(picked);
    return OLIVE_OK;
}

/* ---- the values between segments, on disk ---- */

static int spill_write(FILE *f, const olive_tensor *t, const char *pass)
{
    int32_t dtype = (int32_t)olive_tensor_dtype(t);
    uint32_t rank = (uint32_t)olive_tensor_rank(t);
    size_t bytes = olive_tensor_byte_size(t);
    int64_t dims[32];
    for (uint32_t d = 0; d < rank; d++)
        dims[d] = olive_tensor_dim(t, d);
    if (fwrite(&dtype, sizeof dtype, 1, f) != 1 || fwrite(&rank, sizeof rank, 1, f) != 1 ||
        (rank && fwrite(dims, sizeof *dims, rank, f) != rank) ||
        (bytes && fwrite(olive_tensor_data(t), 1, bytes, f) != bytes))
        return olive_fail(OLIVE_EIO, "%s: writing the values between layers to a temporary file: %s", pass,
                          strerror(errno));
    return OLIVE_OK;
}

static int spill_read(FILE *f, olive_tensor **out, const char *pass)
{
    int32_t dtype;
    uint32_t rank;
    int64_t dims[32];
    size_t bytes;
    if (fread(&dtype, sizeof dtype, 1, f) != 1 || fread(&rank, sizeof rank, 1, f) != 1 || rank > 32 ||
        (rank && fread(dims, sizeof *dims, rank, f) != rank))
        return olive_fail(OLIVE_EIO, "%s: the temporary file of the values between layers ends early", pass);
    OLIVE_TRY(olive_tensor_new(out, (olive_dtype)dtype, dims, rank));
    bytes = olive_tensor_byte_size(*out);
    if (bytes && fread(olive_tensor_data(*out), 1, bytes, f) != bytes) {
        olive_tensor_free(*out);
        *out = NULL;
        return olive_fail(OLIVE_EIO, "%s: the temporary file of the values between layers ends early", pass);
    }
    return OLIVE_OK;
}

static int live_at(const lw_value *v, size_t boundary)
{
    return v->prod_seg <= boundary && boundary < v->last_seg;
}

/* ---- one segment as a model ---- */

typedef struct lw_segment {
    size_t s;
    int capture; /* 1: outputs are the group's MatMul inputs; 0: the values later segments read */
    oir_graph view;
    oir_node **nodes;      /* the segment's nodes that ONNX Runtime runs */
    const oir_node **host; /* per input: the host Gather that computes it, or NULL */
    oir_value_info *inputs, *outputs;
    size_t n_inputs, n_outputs;
    oir_tensor **inits;
    size_t n_inits;
    const char **data_names; /* per input: the calibration input fed to it, or NULL */
    size_t *val_of_input;    /* per input: its lw_value index (SIZE_MAX for data inputs) */
    struct olive_backend_model *model;
} lw_segment;

static void segment_free(lw_plan *p, lw_segment *sg)
{
    for (size_t i = 0; i < sg->n_inputs; i++)
        if (sg->val_of_input[i] != SIZE_MAX)
            oir_type_free(sg->inputs[i].type);
    free(sg->inputs);
    free(sg->outputs);
    free(sg->nodes);
    free(sg->host);
    free(sg->inits);
    free(sg->data_names);
    free(sg->val_of_input);
    if (sg->model)
        p->backend->rt.free(sg->model);
    memset(sg, 0, sizeof *sg);
}

static int add_input(lw_plan *p, lw_segment *sg, const char *name, const olive_strmap *graph_inputs,
                     const oir_node *host)
{
    const oir_graph *g = p->m->graph;
    uintptr_t gi = (uintptr_t)olive_strmap_get(graph_inputs, name);
    uintptr_t vi = (uintptr_t)olive_strmap_get(&p->val_index, name);
    oir_value_info *in = &sg->inputs[sg->n_inputs];
    memset(in, 0, sizeof *in);
    in->name = (char *)name;
    if (host) {
        const oir_tensor *table = oir_graph_initializer(g, host->inputs[0]);
        size_t table_rank = table ? table->rank : 2; /* else the transpose of a 2-D one */
        int64_t rank = -1;
        for (size_t i = 0; i < g->n_inputs; i++)
            if (!strcmp(g->inputs[i].name, host->inputs[1]) && g->inputs[i].type && g->inputs[i].type->has_shape)
                rank = (int64_t)g->inputs[i].type->rank;
        if (rank < 0)
            return olive_fail(OLIVE_EUNSUPPORTED, "%s: graph input '%s' has no rank", p->pass, host->inputs[1]);
        if (!(in->type = oir_type_new_tensor(OIR_FLOAT, (size_t)rank + table_rank - 1, NULL, NULL)))
            return OLIVE_ENOMEM;
        sg->host[sg->n_inputs] = host;
        sg->data_names[sg->n_inputs] = NULL;
        sg->val_of_input[sg->n_inputs] = SIZE_MAX - 1;
    } else if (gi) {
        in->type = g->inputs[gi - 1].type;
        sg->data_names[sg->n_inputs] = name;
        sg->val_of_input[sg->n_inputs] = SIZE_MAX;
    } else if (vi && p->vals[vi - 1].dtype != OLIVE_DTYPE_UNDEFINED) {
        if (!(in->type = oir_type_new_tensor((int32_t)p->vals[vi - 1].dtype, p->vals[vi - 1].rank, NULL, NULL)))
            return OLIVE_ENOMEM;
        sg->data_names[sg->n_inputs] = NULL;
        sg->val_of_input[sg->n_inputs] = vi - 1;
    } else {
        return olive_fail(OLIVE_EINTERNAL, "%s: layer segment %zu reads '%s', which no earlier segment produced",
                          p->pass, sg->s, name);
    }
    sg->n_inputs++;
    return OLIVE_OK;
}

/* What segment s reads from outside itself: initializers, graph inputs, earlier values, and
 * the outputs of its host Gathers. */
static int segment_reads(lw_plan *p, lw_segment *sg, size_t start, size_t end)
{
    const oir_graph *g = p->m->graph;
    olive_strmap defined = {0}, seen = {0}, inits = {0}, graph_inputs = {0}, hosted = {0};
    size_t cap = 16;
    int rc = OLIVE_OK;
    for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&inits, g->initializers[i]->name, g->initializers[i]);
    for (size_t i = 0; i < g->n_inputs && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&graph_inputs, g->inputs[i].name, (void *)(uintptr_t)(i + 1));
    for (size_t i = start; i < end && rc == OLIVE_OK; i++) {
        cap += g->nodes[i]->n_inputs;
        if (p->host[i])
            rc = olive_strmap_put(&hosted, g->nodes[i]->outputs[0], g->nodes[i]);
    }
    if (rc == OLIVE_OK &&
        (!(sg->inputs = olive_calloc(cap, sizeof *sg->inputs)) || !(sg->inits = olive_calloc(cap, sizeof *sg->inits)) ||
         !(sg->data_names = olive_calloc(cap, sizeof *sg->data_names)) ||
         !(sg->val_of_input = olive_calloc(cap, sizeof *sg->val_of_input)) ||
         !(sg->host = olive_calloc(cap, sizeof *sg->host)) ||
         !(sg->nodes = olive_calloc(end - start + 1, sizeof *sg->nodes))))
        rc = OLIVE_ENOMEM;
    for (size_t i = start; i < end && rc == OLIVE_OK; i++) {
        oir_node *n = g->nodes[i];
        if (p->host[i])
            continue;
        sg->nodes[sg->view.n_nodes++] = n;
        for (size_t k = 0; k < n->n_inputs && rc == OLIVE_OK; k++) {
            const char *name = n->inputs[k];
            oir_tensor *t;
            if (!name[0] || olive_strmap_has(&defined, name) || olive_strmap_has(&seen, name))
                continue;
            if ((rc = olive_strmap_put(&seen, name, NULL)) != OLIVE_OK)
                break;
            if ((t = olive_strmap_get(&inits, name)))
                sg->inits[sg->n_inits++] = t;
            else
                rc = add_input(p, sg, name, &graph_inputs, olive_strmap_get(&hosted, name));
        }
        for (size_t k = 0; k < n->n_outputs && rc == OLIVE_OK; k++)
            if (n->outputs[k][0])
                rc = olive_strmap_put(&defined, n->outputs[k], NULL);
    }
    olive_strmap_free(&defined);
    olive_strmap_free(&seen);
    olive_strmap_free(&inits);
    olive_strmap_free(&graph_inputs);
    olive_strmap_free(&hosted);
    return rc;
}

static int input_index(const lw_segment *sg, const char *name)
{
    for (size_t i = 0; i < sg->n_inputs; i++)
        if (!strcmp(sg->inputs[i].name, name))
            return (int)i;
    return -1;
}

static int segment_outputs(lw_plan *p, lw_segment *sg)
{
    size_t first = sg->s ? p->grp_end[sg->s - 1] : 0, last = p->grp_end[sg->s];
    if (!(sg->outputs = olive_calloc((last - first) + p->n_vals + 1, sizeof *sg->outputs)))
        return OLIVE_ENOMEM;
    if (sg->capture) {
        for (size_t i = first; i < last; i++) {
            const char *name = p->gr->name(p->gr->user, i);
            if (input_index(sg, name) < 0)
                sg->outputs[sg->n_outputs++].name = (char *)name;
        }
    } else {
        for (size_t v = 0; v < p->n_vals; v++)
            if (p->vals[v].prod_seg == sg->s)
                sg->outputs[sg->n_outputs++].name = p->vals[v].name;
    }
    return OLIVE_OK;
}

/* The graph as written (the captured values are the model's own), and ONNX Runtime's threads
 * asleep between runs: between two runs libolive's GPTQ uses every core, and spinning threads
 * of ONNX Runtime would take them (measured: the runs of SmolLM2's GPTQ 4.1 s -> 2.3 s). */
#define SEGMENT_SESSION_OPTIONS "graph_optimization_level=disable config.session.intra_op.allow_spinning=0"

/* Writes segment sg->s as a model of its own and loads it in ONNX Runtime. */
static int segment_open(lw_plan *p, lw_segment *sg)
{
    size_t start = sg->s ? p->seg_end[sg->s - 1] : 0, end = p->seg_end[sg->s];
    oir_model sub;
    onnx_save_options so;
    char *path = NULL;
    int rc;
    memset(&sg->view, 0, sizeof sg->view);
    OLIVE_TRY(segment_reads(p, sg, start, end));
    OLIVE_TRY(segment_outputs(p, sg));
    sg->view.name = "segment";
    sg->view.nodes = sg->nodes;
    sg->view.initializers = sg->inits;
    sg->view.n_initializers = sg->n_inits;
    sg->view.inputs = sg->inputs;
    sg->view.n_inputs = sg->n_inputs;
    sg->view.outputs = sg->outputs;
    sg->view.n_outputs = sg->n_outputs;
    memset(&sub, 0, sizeof sub);
    sub.ir_version = p->m->ir_version;
    sub.n_opsets = p->m->n_opsets;
    sub.opsets = p->m->opsets;
    sub.graph = &sg->view;
    if (!(path = olive_path_join(p->dir, "segment.onnx")))
        return OLIVE_ENOMEM;
    onnx_save_options_init(&so);
    rc = onnx_save_file(&sub, path, &so);
    if (rc == OLIVE_OK)
        rc = p->backend->rt.load(&sg->model, p->backend, path, p->provider, SEGMENT_SESSION_OPTIONS);
    if (rc != OLIVE_OK)
        olive_fail_context(rc, "%s: layer segment %zu of %zu (nodes %zu to %zu)", p->pass, sg->s + 1, p->n_seg, start,
                           end - 1);
    remove(path);
    {
        char *data_path = olive_asprintf("%s.data", path);
        if (data_path)
            remove(data_path);
        free(data_path);
    }
    free(path);
    return rc;
}

/* Notes the dtype and rank ONNX Runtime gives each value the segment produces. */
static int note_types(lw_plan *p, lw_segment *sg)
{
    size_t count = p->backend->rt.io_count(sg->model, 1);
    for (size_t k = 0; k < count; k++) {
        olive_backend_io io;
        uintptr_t v;
        if (p->backend->rt.io_info(sg->model, 1, k, &io) != OLIVE_OK)
            continue;
        if (!(v = (uintptr_t)olive_strmap_get(&p->val_index, io.name)))
            continue;
        if (io.dtype == OLIVE_DTYPE_UNDEFINED)
            return olive_fail(OLIVE_EUNSUPPORTED, "%s: value '%s' between two layers is not a plain tensor", p->pass,
                              io.name);
        p->vals[v - 1].dtype = io.dtype;
        p->vals[v - 1].rank = io.rank;
    }
    return OLIVE_OK;
}

/* One batch through an open segment: inputs from the data and from `in`, outputs handed to
 * the group's gather (capture) or written to `out` with the values carried past it. */
static int segment_batch(lw_plan *p, lw_segment *sg, int64_t start, int64_t count, FILE *in, FILE *out)
{
    const olive_calib_data *d = p->data;
    olive_tensor **batch = olive_calloc(d->n_inputs ? d->n_inputs : 1, sizeof *batch);
    olive_tensor **carried = olive_calloc(p->n_vals ? p->n_vals : 1, sizeof *carried);
    const olive_tensor **feed = olive_calloc(sg->n_inputs ? sg->n_inputs : 1, sizeof *feed);
    olive_tensor **gathered = olive_calloc(sg->n_inputs ? sg->n_inputs : 1, sizeof *gathered);
    const char **in_names = olive_calloc(sg->n_inputs ? sg->n_inputs : 1, sizeof *in_names);
    const char **out_names = olive_calloc(sg->n_outputs ? sg->n_outputs : 1, sizeof *out_names);
    olive_tensor **outs = olive_calloc(sg->n_outputs ? sg->n_outputs : 1, sizeof *outs);
    size_t first = sg->s ? p->grp_end[sg->s - 1] : 0, last = p->grp_end[sg->s];
    int rc = batch && carried && feed && gathered && in_names && out_names && outs ? OLIVE_OK : OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = olive_calib_data_batch(d, start, count, batch);
    for (size_t v = 0; v < p->n_vals && rc == OLIVE_OK; v++)
        if (sg->s && live_at(&p->vals[v], sg->s - 1))
            rc = spill_read(in, &carried[v], p->pass);
    for (size_t i = 0; i < sg->n_inputs && rc == OLIVE_OK; i++) {
        in_names[i] = sg->inputs[i].name;
        if (sg->host[i]) {
            const olive_tensor *indices = NULL;
            for (size_t k = 0; k < d->n_inputs; k++)
                if (!strcmp(d->names[k], sg->host[i]->inputs[1]))
                    indices = batch[k];
            if (indices && (rc = gather_rows(p, sg->host[i], indices, &gathered[i])) != OLIVE_OK)
                break;
            feed[i] = gathered[i];
        } else if (sg->val_of_input[i] != SIZE_MAX) {
            feed[i] = carried[sg->val_of_input[i]];
        } else {
            for (size_t k = 0; k < d->n_inputs; k++)
                if (!strcmp(d->names[k], sg->data_names[i]))
                    feed[i] = batch[k];
        }
        if (!feed[i])
            rc = olive_fail(OLIVE_EINTERNAL, "%s: no value for input '%s' of layer segment %zu", p->pass, in_names[i],
                            sg->s + 1);
    }
    for (size_t k = 0; k < sg->n_outputs; k++)
        out_names[k] = sg->outputs[k].name;
    if (rc == OLIVE_OK) {
        rc = p->backend->rt.run(sg->model, in_names, feed, sg->n_inputs, out_names, sg->n_outputs, outs);
        if (rc != OLIVE_OK)
            olive_fail_context(rc, "%s: calibration samples [%lld, %lld) do not run on layer segment %zu of %zu",
                               p->pass, (long long)start, (long long)(start + count), sg->s + 1, p->n_seg);
    }
    if (rc == OLIVE_OK && sg->capture) {
        for (size_t i = first; i < last && rc == OLIVE_OK; i++) {
            const char *name = p->gr->name(p->gr->user, i);
            int at = input_index(sg, name);
            const olive_tensor *t = NULL;
            if (at >= 0)
                t = feed[at];
            for (size_t k = 0; k < sg->n_outputs && !t; k++)
                if (!strcmp(out_names[k], name))
                    t = outs[k];
            if (olive_tensor_dtype(t) != OLIVE_DTYPE_FLOAT32)
                rc = olive_fail(OLIVE_EUNSUPPORTED, "%s: MatMul input '%s' is not float32", p->pass, name);
            else
                rc = p->gr->gather(p->gr->user, i - first, t);
        }
    } else if (rc == OLIVE_OK) {
        size_t k = 0;
        for (size_t v = 0; v < p->n_vals && rc == OLIVE_OK; v++) {
            if (p->vals[v].prod_seg == sg->s) {
                rc = spill_write(out, outs[k++], p->pass);
            } else if (live_at(&p->vals[v], sg->s)) {
                rc = spill_write(out, carried[v], p->pass);
            }
        }
    }
    for (size_t k = 0; outs && k < sg->n_outputs; k++)
        olive_tensor_free(outs[k]);
    for (size_t v = 0; carried && v < p->n_vals; v++)
        olive_tensor_free(carried[v]);
    for (size_t i = 0; gathered && i < sg->n_inputs; i++)
        olive_tensor_free(gathered[i]);
    free(gathered);
    for (size_t k = 0; batch && k < d->n_inputs; k++)
        olive_tensor_free(batch[k]);
    free(batch);
    free(carried);
    free(feed);
    free(in_names);
    free(out_names);
    free(outs);
    return rc;
}

/* Runs every batch of the data through segment s (capture, or produce from `in` into `out`). */
static int segment_run(lw_plan *p, size_t s, int capture, FILE *in, FILE *out)
{
    lw_segment sg;
    int rc;
    memset(&sg, 0, sizeof sg);
    sg.s = s;
    sg.capture = capture;
    rc = segment_open(p, &sg);
    if (rc == OLIVE_OK && !capture)
        rc = note_types(p, &sg);
    if (in)
        rewind(in);
    for (int64_t start = 0; start < p->data->n_samples && rc == OLIVE_OK; start += p->batch_size) {
        int64_t count = p->data->n_samples - start < p->batch_size ? p->data->n_samples - start : p->batch_size;
        double done = (double)(start + count) / (double)p->data->n_samples;
        rc = segment_batch(p, &sg, start, count, in, out);
        if (rc == OLIVE_OK)
            rc = olive_pass_progress(p->ctx, 0.9 * ((double)s + (capture ? 0 : 0.5) + 0.5 * done) / (double)p->n_seg);
    }
    if (rc == OLIVE_OK && out && fflush(out))
        rc = olive_fail(OLIVE_EIO, "%s: writing the values between layers to a temporary file: %s", p->pass,
                        strerror(errno));
    segment_free(p, &sg);
    return rc;
}

static FILE *open_spill(lw_plan *p, const char *name)
{
    char *path = olive_path_join(p->dir, name);
    FILE *f = path ? fopen(path, "w+b") : NULL;
    if (path && !f)
        olive_fail_errno(errno, "cannot create a temporary file for calibration", path);
    free(path);
    return f;
}

static int run_segments(lw_plan *p)
{
    const olive_calib_groups *gr = p->gr;
    FILE *in = NULL, *out = NULL;
    int rc = OLIVE_OK;
    if (!(p->dir = olive_calib_temp_dir()))
        return olive_error_code() ? olive_error_code() : OLIVE_ENOMEM;
    for (size_t s = 0; s < p->n_seg && rc == OLIVE_OK; s++) {
        size_t first = s ? p->grp_end[s - 1] : 0, last = p->grp_end[s];
        for (size_t i = first; i < last && rc == OLIVE_OK; i++)
            rc = gr->open(gr->user, i);
        if (rc == OLIVE_OK && last > first)
            rc = segment_run(p, s, 1, in, NULL);
        if (rc == OLIVE_OK && last > first)
            rc = gr->finish(gr->user, first, last);
        for (size_t i = first; i < last; i++)
            gr->close(gr->user, i);
        if (rc == OLIVE_OK && s + 1 < p->n_seg) {
            if (!(out = open_spill(p, s % 2 ? "values-b" : "values-a")))
                rc = olive_error_code() ? olive_error_code() : OLIVE_EIO;
            else
                rc = segment_run(p, s, 0, in, out);
            if (in)
                fclose(in);
            in = out;
            out = NULL;
        }
    }
    if (in)
        fclose(in);
    return rc;
}

int olive_calib_run_layerwise(oir_model *m, olive_calib_select_fn selected, const olive_calib_groups *gr,
                              const olive_calib_data *data, int64_t batch_size, olive_pass_ctx *ctx, const char *pass,
                              int *applied)
{
    lw_plan p;
    int ok = 0, rc;
    *applied = 0;
    memset(&p, 0, sizeof p);
    p.m = m;
    p.gr = gr;
    p.data = data;
    p.ctx = ctx;
    p.pass = pass;
    p.batch_size = batch_size < 1 ? 1 : batch_size;
    p.provider = olive_calib_provider(ctx, pass);
    p.backend = olive_backend_find("onnxruntime");
    if (!p.backend || !p.backend->rt.load)
        return olive_fail(OLIVE_EINTERNAL, "the onnxruntime backend is missing from this build");
    rc = find_segments(&p, selected);
    if (rc == OLIVE_OK && p.n_seg >= 2)
        rc = assign_groups(&p, selected, &ok);
    if (rc == OLIVE_OK && ok)
        rc = find_host_nodes(&p);
    if (rc == OLIVE_OK && ok)
        rc = find_live_values(&p, &ok);
    if (rc == OLIVE_OK && ok) {
        size_t lookups = 0;
        for (size_t i = 0; i < p.seg_end[p.n_seg - 1]; i++)
            lookups += p.host[i] && !strcmp(m->graph->nodes[i]->op_type, "Gather");
        OLIVE_INFO("%s: layer by layer, %zu segments, %zu values kept between them, %zu table lookups done outside "
                   "ONNX Runtime",
                   pass, p.n_seg, p.n_vals, lookups);
        *applied = 1;
        rc = run_segments(&p);
    }
    plan_free(&p);
    return rc;
}
