/* Graph helpers of the Whisper builder: nodes, inputs and outputs, and the blocks encoder and
 * decoder share (Linear, LayerNorm, GELU, the feed-forward block). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/half.h"
#include "core/status.h"
#include "passes/convert/whisper_internal.h"

int wh_init(wh_build *b, const char *name, int32_t dtype, size_t rank, const int64_t *dims, float *data)
{
    uint64_t n = 1, nbytes, offset = 0;
    wh_pending p;
    oir_tensor *t;
    int rc;

    for (size_t i = 0; i < rank; i++)
        n *= (uint64_t)dims[i];
    if (dtype == OIR_FLOAT16) {
        /* In place: half i overwrites bytes of float i / 2, already read. */
        uint16_t *half = (uint16_t *)data;
        for (uint64_t i = 0; i < n; i++)
            half[i] = olive_float_to_half(data[i]);
    }
    nbytes = n * (dtype == OIR_FLOAT16 ? 2 : 4);
    rc = olive_spill_reserve(b->spill, nbytes, &offset);
    if (rc == OLIVE_OK)
        rc = olive_spill_write(b->spill, offset, data, (size_t)nbytes);
    free(data);
    OLIVE_TRY(rc);
    if (!(t = oir_tensor_new(name, dtype, rank, dims)))
        return OLIVE_ENOMEM;
    if ((rc = oir_graph_add_initializer(b->g, t)) != OLIVE_OK) {
        oir_tensor_free(t);
        return rc;
    }
    p.tensor = t;
    p.offset = offset;
    p.nbytes = nbytes;
    return OLIVE_PUSH(b->pending, b->n_pending, b->cap_pending, p);
}

int wh_copy(wh_build *b, const char *ckname, const char *name, size_t rank, const int64_t *dims)
{
    float *data = NULL;
    OLIVE_TRY(enc_read(&b->w, 1, ckname, rank, dims, &data));
    return wh_init(b, name, b->dt, rank, dims, data);
}

int wh_finish(wh_build *b)
{
    olive_blob *blob;
    int rc = OLIVE_OK;
    OLIVE_TRY(olive_spill_map(b->spill, &blob));
    for (size_t i = 0; i < b->n_pending && rc == OLIVE_OK; i++)
        rc = oir_tensor_set_blob(b->pending[i].tensor, blob, b->pending[i].offset, b->pending[i].nbytes);
    olive_blob_unref(blob);
    b->n_pending = 0;
    return rc;
}

void wh_release(wh_build *b)
{
    olive_spill_close(b->spill);
    b->spill = NULL;
    free(b->pending);
    b->pending = NULL;
    b->n_pending = b->cap_pending = 0;
}

int wh_node(wh_build *b, oir_node **out, const char *op, const char *domain, size_t n_in, const char *const *in,
            size_t n_out, const char *const *outs)
{
    char name[WH_NAME_MAX + 2];
    oir_node *n;
    snprintf(name, sizeof name, "/%s", outs[0]);
    if (!(n = oir_node_new(op, domain, name, n_in, in, n_out, outs)))
        return OLIVE_ENOMEM;
    if (oir_graph_add_node(b->g, n) != OLIVE_OK) {
        oir_node_free(n);
        return OLIVE_ENOMEM;
    }
    if (out)
        *out = n;
    return OLIVE_OK;
}

int wh_node1(wh_build *b, oir_node **out, const char *op, const char *domain, size_t n_in, const char *const *in,
             const char *output)
{
    return wh_node(b, out, op, domain, n_in, in, 1, &output);
}

int wh_io(wh_build *b, int output, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
          const char *const *params)
{
    oir_type *t = oir_type_new_tensor(dtype, rank, dims, params);
    int rc = !t ? OLIVE_ENOMEM : output ? oir_graph_add_output(b->g, name, t) : oir_graph_add_input(b->g, name, t);
    oir_type_free(t);
    return rc;
}

int wh_int64(wh_build *b, const char *name, size_t rank, const int64_t *dims, const int64_t *values, size_t count)
{
    oir_tensor *t = oir_tensor_new(name, OIR_INT64, rank, dims);
    int rc = t ? oir_tensor_set_copy(t, values, count * sizeof *values) : OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = oir_graph_add_initializer(b->g, t);
    if (rc != OLIVE_OK)
        oir_tensor_free(t);
    return rc;
}

int wh_dense(wh_build *b, const char *x, const char *ckname, int64_t in, int64_t out, int has_bias, const char *output)
{
    char wname[WH_NAME_MAX + 8], bname[WH_NAME_MAX + 8], mm[WH_NAME_MAX + 8];
    int64_t wdims[2] = {out, in}, tdims[2] = {in, out};
    float *src = NULL, *dst;

    snprintf(wname, sizeof wname, "%s.weight", ckname);
    snprintf(bname, sizeof bname, "%s.bias", ckname);
    OLIVE_TRY(enc_read(&b->w, 1, wname, 2, wdims, &src));
    if (!(dst = olive_malloc((size_t)(in * out) * sizeof *dst))) {
        free(src);
        return OLIVE_ENOMEM;
    }
    for (int64_t r = 0; r < out; r++)
        for (int64_t c = 0; c < in; c++)
            dst[c * out + r] = src[r * in + c];
    free(src);
    OLIVE_TRY(wh_init(b, wname, b->dt, 2, tdims, dst));
    if (!has_bias) {
        const char *ins[] = {x, wname};
        return wh_node1(b, NULL, "MatMul", "", WH_ARRAY(ins), output);
    }
    OLIVE_TRY(wh_copy(b, bname, bname, 1, &out));
    snprintf(mm, sizeof mm, "%s.matmul", output);
    const char *ins[] = {x, wname};
    OLIVE_TRY(wh_node1(b, NULL, "MatMul", "", WH_ARRAY(ins), mm));
    return wh_add(b, mm, bname, output);
}

int wh_norm(wh_build *b, const char *x, const char *ckname, const char *output)
{
    char g[WH_NAME_MAX + 8], be[WH_NAME_MAX + 8];
    oir_node *n;
    snprintf(g, sizeof g, "%s.weight", ckname);
    snprintf(be, sizeof be, "%s.bias", ckname);
    OLIVE_TRY(wh_copy(b, g, g, 1, &b->c.d_model));
    OLIVE_TRY(wh_copy(b, be, be, 1, &b->c.d_model));
    const char *ins[] = {x, g, be};
    OLIVE_TRY(wh_node1(b, &n, "LayerNormalization", "", WH_ARRAY(ins), output));
    OLIVE_TRY(oir_node_set_attr_int(n, "axis", -1));
    /* torch.nn.LayerNorm's default, which Whisper keeps */
    return oir_node_set_attr_float(n, "epsilon", 1e-5f);
}

int wh_gelu(wh_build *b, const char *x, const char *output)
{
    const char *ins[] = {x};
    return wh_node1(b, NULL, "Gelu", "com.microsoft", WH_ARRAY(ins), output);
}

int wh_add(wh_build *b, const char *x, const char *y, const char *output)
{
    const char *ins[] = {x, y};
    return wh_node1(b, NULL, "Add", "", WH_ARRAY(ins), output);
}

int wh_mlp(wh_build *b, const char *x, const char *stem, int64_t ffn, const char *output)
{
    char ck[WH_NAME_MAX], up[WH_NAME_MAX + 16], act[WH_NAME_MAX + 16];
    snprintf(up, sizeof up, "%s.fc1", stem);
    snprintf(act, sizeof act, "%s.fc1.gelu", stem);
    snprintf(ck, sizeof ck, "%s.fc1", stem);
    OLIVE_TRY(wh_dense(b, x, ck, b->c.d_model, ffn, 1, up));
    OLIVE_TRY(wh_gelu(b, up, act));
    snprintf(ck, sizeof ck, "%s.fc2", stem);
    return wh_dense(b, act, ck, ffn, b->c.d_model, 1, output);
}
