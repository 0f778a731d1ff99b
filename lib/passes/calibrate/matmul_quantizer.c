/* See matmul_quantizer.h. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/blob.h"
#include "core/status.h"
#include "passes/calibrate/layerwise.h"
#include "passes/calibrate/matmul_quantizer.h"
#include "passes/calibrate/nbits_writer.h"

int olive_calib_nbits_check(const char *pass, int bits, int64_t group)
{
    if (bits != 4 && bits != 8)
        return olive_fail(OLIVE_EINVALID, "%s: bits=%d: MatMulNBits takes 4 or 8", pass, bits);
    if (group < 16 || group > 256 || (group & (group - 1)))
        return olive_fail(OLIVE_EINVALID,
                          "%s: group_size=%lld: MatMulNBits takes a block size that is a power of "
                          "2 from 16 to 256",
                          pass, (long long)group);
    return OLIVE_OK;
}

int olive_calib_weight_rows(const oir_tensor *w, const char *node, float *out, const char *pass)
{
    const size_t k = (size_t)w->dims[0], cols = (size_t)w->dims[1];
    const uint8_t *src = oir_tensor_data(w); /* may be unaligned inside the model file */
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < cols; b++) {
            float v;
            memcpy(&v, src + 4 * (a * cols + b), sizeof v);
            if (v != v || v - v != 0.0f)
                return olive_fail(OLIVE_EFORMAT, "%s: weight '%s' of MatMul '%s' holds %g at [%zu, %zu]", pass, w->name,
                                  node, (double)v, a, b);
            out[b * k + a] = v;
        }
    /* read once: a mapped model's pages need not stay in this process */
    if (w->blob)
        olive_blob_drop_pages(w->blob, w->offset, w->nbytes);
    return OLIVE_OK;
}

int olive_calib_weight_copy(const oir_tensor *w, const char *node, float *out, const char *pass)
{
    const size_t k = (size_t)w->dims[0], cols = (size_t)w->dims[1];
    memcpy(out, oir_tensor_data(w), k * cols * sizeof *out);
    for (size_t i = 0; i < k * cols; i++)
        if (out[i] != out[i] || out[i] - out[i] != 0.0f)
            return olive_fail(OLIVE_EFORMAT, "%s: weight '%s' of MatMul '%s' holds %g at [%zu, %zu]", pass, w->name,
                              node, (double)out[i], i / cols, i % cols);
    if (w->blob)
        olive_blob_drop_pages(w->blob, w->offset, w->nbytes);
    return OLIVE_OK;
}

int olive_calib_capture_inputs(oir_model *m, const char *const *names, size_t n, const olive_calib_data *data,
                               int64_t batch_size, olive_capture_fn fn, void *user, olive_pass_ctx *ctx,
                               const char *pass, double from, double to)
{
    olive_capture *cap = NULL;
    unsigned char *wanted = olive_malloc(n ? n : 1);
    int rc;
    if (!wanted)
        return OLIVE_ENOMEM;
    memset(wanted, 1, n);
    rc = olive_capture_open(&cap, m, names, n, ctx, pass);
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++)
        if (olive_capture_dtype(cap, i) != OLIVE_DTYPE_FLOAT32)
            rc = olive_fail(OLIVE_EUNSUPPORTED, "%s: MatMul input '%s' is not float32", pass, names[i]);
    if (rc == OLIVE_OK)
        rc = olive_capture_run(cap, data, batch_size, wanted, fn, user, ctx, from, to);
    olive_capture_free(cap);
    free(wanted);
    return rc;
}

/* Each group of `gr`: its inputs opened, captured over all batches, finished and closed. */
static int run_groups(const olive_calib_groups *gr, oir_model *m, const olive_calib_data *data, int64_t batch_size,
                      olive_pass_ctx *ctx, const char *pass)
{
    size_t first = 0;
    int rc = OLIVE_OK;
    while (first < gr->n && rc == OLIVE_OK) {
        uint64_t used = 0;
        size_t last = first, n_names = 0;
        const char **names;
        while (last < gr->n && (last == first || used + gr->bytes(gr->user, last) <= gr->budget))
            used += gr->bytes(gr->user, last++);
        if (!(names = olive_calloc(last - first, sizeof *names)))
            rc = OLIVE_ENOMEM;
        for (size_t i = first; i < last && rc == OLIVE_OK; i++) {
            names[n_names++] = gr->name(gr->user, i);
            rc = gr->open(gr->user, i);
        }
        if (rc == OLIVE_OK)
            rc = olive_calib_capture_inputs(m, names, n_names, data, batch_size, gr->gather, gr->user, ctx, pass,
                                            (double)first / (double)gr->n * 0.9, (double)last / (double)gr->n * 0.9);
        if (rc == OLIVE_OK)
            rc = gr->finish(gr->user, first, last);
        for (size_t i = first; i < last; i++)
            gr->close(gr->user, i);
        free(names);
        first = last;
    }
    return rc;
}

int olive_calib_replace_matmuls(oir_model *m, olive_calib_select_fn selected, const olive_calib_groups *groups,
                                const olive_calib_data *data, int64_t batch_size, olive_pass_ctx *ctx, const char *pass)
{
    oir_graph *g = m->graph;
    char **weights = olive_calloc(g->n_nodes ? g->n_nodes : 1, sizeof *weights);
    size_t n_weights = 0;
    int rc = weights ? OLIVE_OK : OLIVE_ENOMEM;
    /* The names first: replacing a MatMul drops its node, not the weight it read. */
    for (size_t i = 0; rc == OLIVE_OK && i < g->n_nodes; i++)
        if (olive_calib_matmul_weight(g, g->nodes[i]) && selected(groups->user, g->nodes[i]) &&
            !(weights[n_weights++] = olive_strdup(g->nodes[i]->inputs[1])))
            rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK) {
        int applied = 0;
        if (groups->sequential)
            rc = olive_calib_run_layerwise(m, selected, groups, data, batch_size, ctx, pass, &applied);
        if (rc == OLIVE_OK && !applied)
            rc = run_groups(groups, m, data, batch_size, ctx, pass);
    }
    if (rc == OLIVE_OK && oir_model_opset(m, "com.microsoft") < 1)
        rc = oir_model_require_opset(m, "com.microsoft", 1);
    if (rc == OLIVE_OK)
        rc = olive_calib_drop_unused(g, (const char *const *)weights, n_weights);
    for (size_t i = 0; i < n_weights; i++)
        free(weights[i]);
    free(weights);
    return rc;
}
