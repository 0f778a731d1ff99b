/* Encoder weights: checkpoint tensors read as float32 with their shape checked against
 * config.json, reshaped for the ops that use them, and added as heap-backed initializers
 * (encoders are small enough to hold in memory). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/encoder.h"
#include "core/half.h"

static void shape_text(char *buf, size_t size, size_t rank, const int64_t *dims)
{
    size_t used = 0;
    buf[0] = 0;
    used += (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static const ofmt_tensor *find(const enc_weights *w, int prefixed, const char *name, char **full)
{
    *full = prefixed ? olive_asprintf("%s%s", w->prefix, name) : olive_strdup(name);
    return *full ? ofmt_checkpoint_find(w->ck, *full) : NULL;
}

int enc_has(const enc_weights *w, const char *name)
{
    char *full = NULL;
    const ofmt_tensor *t = find(w, 1, name, &full);
    free(full);
    return t != NULL;
}

/* The tensor `name` into *out, checked to have shape `dims`. */
static int checked(const enc_weights *w, int prefixed, const char *name, size_t rank, const int64_t *dims,
                   const ofmt_tensor **out)
{
    char *full = NULL;
    const ofmt_tensor *t = find(w, prefixed, name, &full);
    int same, rc = OLIVE_OK;

    if (!full)
        return OLIVE_ENOMEM;
    if (!t) {
        rc = olive_fail(OLIVE_EFORMAT, "checkpoint '%s': tensor '%s' is missing", w->ck->path, full);
        free(full);
        return rc;
    }
    same = t->rank == rank;
    for (size_t i = 0; same && i < rank; i++)
        same = t->dims[i] == dims[i];
    if (!same) {
        char have[160], want[160];
        shape_text(have, sizeof have, t->rank, t->dims);
        shape_text(want, sizeof want, rank, dims);
        rc = olive_fail(OLIVE_EFORMAT, "tensor '%s' in '%s' has shape %s, but config.json implies %s", full,
                        t->file ? t->file : w->ck->path, have, want);
    }
    free(full);
    *out = t;
    return rc;
}

int enc_check(const enc_weights *w, const char *name, size_t rank, const int64_t *dims)
{
    const ofmt_tensor *t;
    return checked(w, 1, name, rank, dims, &t);
}

int enc_read(const enc_weights *w, int prefixed, const char *name, size_t rank, const int64_t *dims, float **out)
{
    const ofmt_tensor *t = NULL;
    uint64_t numel = 1, row;
    float *data;
    int rc;

    OLIVE_TRY(checked(w, prefixed, name, rank, dims, &t));
    for (size_t i = 0; i < rank; i++)
        numel *= (uint64_t)dims[i]; /* the stored tensor has this many: the reader checked its size */
    row = ofmt_tensor_row_length(t);
    if (!(data = olive_malloc((numel ? numel : 1) * sizeof *data)))
        return OLIVE_ENOMEM;
    rc = numel ? ofmt_tensor_read_f32(t, 0, numel / (row ? row : 1), data) : OLIVE_OK;
    if (rc != OLIVE_OK) {
        olive_fail_context(rc, "tensor '%s' in '%s'", t->name, t->file ? t->file : w->ck->path);
        free(data);
        return rc;
    }
    *out = data;
    return OLIVE_OK;
}

int enc_add_init(const enc_weights *w, const char *onnx_name, int32_t dtype, size_t rank, const int64_t *dims,
                 float *data)
{
    uint64_t numel = 1;
    olive_blob *blob = NULL;
    oir_tensor *t;
    int rc;

    for (size_t i = 0; i < rank; i++)
        numel *= (uint64_t)dims[i];
    if (dtype == OIR_FLOAT16) {
        uint16_t *half = olive_malloc((numel ? numel : 1) * sizeof *half);
        if (!half) {
            free(data);
            return OLIVE_ENOMEM;
        }
        for (uint64_t i = 0; i < numel; i++)
            half[i] = olive_float_to_half(data[i]);
        free(data);
        rc = olive_blob_from_heap(&blob, half, numel * sizeof *half);
    } else {
        rc = olive_blob_from_heap(&blob, data, numel * sizeof *data);
    }
    if (rc != OLIVE_OK)
        return rc;
    if (!(t = oir_tensor_new(onnx_name, dtype, rank, dims))) {
        olive_blob_unref(blob);
        return OLIVE_ENOMEM;
    }
    rc = oir_tensor_set_blob(t, blob, 0, blob->size);
    olive_blob_unref(blob);
    if (rc == OLIVE_OK)
        rc = oir_graph_add_initializer(w->g, t);
    if (rc != OLIVE_OK)
        oir_tensor_free(t);
    return rc;
}

int enc_copy(const enc_weights *w, const char *name, const char *onnx_name, int32_t dtype, size_t rank,
             const int64_t *dims)
{
    float *data = NULL;
    OLIVE_TRY(enc_read(w, 1, name, rank, dims, &data));
    return enc_add_init(w, onnx_name, dtype, rank, dims, data);
}

/* dst[c * rows + r] = src[r * cols + c]: [rows, cols] to [cols, rows]. */
static void transpose(const float *src, int64_t rows, int64_t cols, float *dst, int64_t dst_stride, int64_t dst_col0)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dst[c * dst_stride + dst_col0 + r] = src[r * cols + c];
}

int enc_linear(const enc_weights *w, const char *name, const char *onnx_name, int32_t dtype, int64_t in, int64_t out)
{
    char *wname = olive_asprintf("%s.weight", name), *bname = olive_asprintf("%s.bias", name);
    char *wonnx = olive_asprintf("%s.weight", onnx_name), *bonnx = olive_asprintf("%s.bias", onnx_name);
    float *src = NULL, *dst = NULL, *bias = NULL;
    int64_t wdims[2] = {out, in}, tdims[2] = {in, out};
    int rc = OLIVE_ENOMEM;

    if (!wname || !bname || !wonnx || !bonnx)
        goto done;
    if ((rc = enc_check(w, wname, 2, wdims)) != OLIVE_OK || (rc = enc_check(w, bname, 1, &out)) != OLIVE_OK)
        goto done;
    if ((rc = enc_read(w, 1, wname, 2, wdims, &src)) != OLIVE_OK)
        goto done;
    if ((rc = enc_read(w, 1, bname, 1, &out, &bias)) != OLIVE_OK)
        goto done;
    if (!(dst = olive_malloc((size_t)(in * out) * sizeof *dst))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    transpose(src, out, in, dst, out, 0);
    rc = enc_add_init(w, wonnx, dtype, 2, tdims, dst);
    dst = NULL;
    if (rc == OLIVE_OK)
        rc = enc_add_init(w, bonnx, dtype, 1, &out, bias);
    bias = NULL;
done:
    free(src);
    free(dst);
    free(bias);
    free(wname);
    free(bname);
    free(wonnx);
    free(bonnx);
    return rc;
}

int enc_packed_qkv(const enc_weights *w, const char *q, const char *k, const char *v, const char *onnx_name,
                   int64_t hidden)
{
    const char *parts[3] = {q, k, v};
    int64_t wdims[2] = {hidden, hidden}, pdims[2] = {hidden, 3 * hidden}, bdim = 3 * hidden;
    float *weight = NULL, *bias = NULL;
    char *wonnx = olive_asprintf("%s.weight", onnx_name), *bonnx = olive_asprintf("%s.bias", onnx_name);
    int rc = OLIVE_ENOMEM;

    /* Every part's shape is checked before the packed buffers are sized by config.json. */
    for (int p = 0; p < 3; p++) {
        char *wname = olive_asprintf("%s.weight", parts[p]), *bname = olive_asprintf("%s.bias", parts[p]);
        rc = wname && bname ? enc_check(w, wname, 2, wdims) : OLIVE_ENOMEM;
        if (rc == OLIVE_OK)
            rc = enc_check(w, bname, 1, &hidden);
        free(wname);
        free(bname);
        if (rc != OLIVE_OK)
            goto done;
    }
    weight = olive_malloc((size_t)(hidden * 3 * hidden) * sizeof *weight);
    bias = olive_malloc((size_t)(3 * hidden) * sizeof *bias);
    rc = OLIVE_ENOMEM;
    if (!weight || !bias || !wonnx || !bonnx)
        goto done;
    for (int p = 0; p < 3; p++) {
        char *wname = olive_asprintf("%s.weight", parts[p]), *bname = olive_asprintf("%s.bias", parts[p]);
        float *src = NULL, *b = NULL;
        rc = wname && bname ? OLIVE_OK : OLIVE_ENOMEM;
        if (rc == OLIVE_OK)
            rc = enc_read(w, 1, wname, 2, wdims, &src);
        if (rc == OLIVE_OK)
            rc = enc_read(w, 1, bname, 1, &hidden, &b);
        if (rc == OLIVE_OK) {
            /* Column block p of the [hidden, 3 * hidden] weight is the part's transpose. */
            transpose(src, hidden, hidden, weight, 3 * hidden, p * hidden);
            memcpy(bias + p * hidden, b, (size_t)hidden * sizeof *b);
        }
        free(src);
        free(b);
        free(wname);
        free(bname);
        if (rc != OLIVE_OK)
            goto done;
    }
    rc = enc_add_init(w, wonnx, w->dtype, 2, pdims, weight);
    weight = NULL;
    if (rc == OLIVE_OK)
        rc = enc_add_init(w, bonnx, w->dtype, 1, &bdim, bias);
    bias = NULL;
done:
    free(weight);
    free(bias);
    free(wonnx);
    free(bonnx);
    return rc;
}
