/* Graph building blocks of the decoder builder: owned strings, nodes, constants and
 * initializers whose bytes go through the spill file. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder.h"
#include "passes/convert/decoder_internal.h"
#include "core/half.h"

const char *cvt_str(cvt_decoder *d, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(s = olive_malloc((size_t)n + 1)))
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (OLIVE_PUSH(d->strings, d->n_strings, d->cap_strings, s) != OLIVE_OK) {
        free(s);
        return NULL;
    }
    return s;
}

int cvt_node(cvt_decoder *d, const char *op_type, const char *domain, const char *name, size_t n_inputs,
             const char *const *inputs, size_t n_outputs, oir_node **node, const char **outs)
{
    const char *names[16];
    oir_node *n;
    if (!name)
        return OLIVE_ENOMEM;
    if (n_outputs > 16)
        return olive_fail(OLIVE_EINVALID, "node '%s' has too many outputs", name);
    for (size_t i = 0; i < n_outputs; i++)
        if (!(names[i] = cvt_str(d, "%s/output_%zu", name, i)))
            return OLIVE_ENOMEM;
    if (!(n = oir_node_new(op_type, domain, name, n_inputs, inputs, n_outputs, names)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    if (oir_graph_add_node(d->g, n) != OLIVE_OK) {
        oir_node_free(n);
        return OLIVE_ENOMEM;
    }
    if (node)
        *node = n;
    for (size_t i = 0; outs && i < n_outputs; i++)
        outs[i] = n->outputs[i];
    return OLIVE_OK;
}

int cvt_const_i64(cvt_decoder *d, const int64_t *values, size_t n, int scalar, const char **name)
{
    olive_strbuf b = {0};
    const char *nm;
    char *text;
    oir_tensor *t;
    int64_t dim = (int64_t)n;
    olive_strbuf_append(&b, "/model/constants/INT64/");
    if (!scalar)
        olive_strbuf_append(&b, "[");
    for (size_t i = 0; i < n; i++)
        olive_strbuf_printf(&b, "%s%" PRId64, i ? ", " : "", values[i]);
    if (!scalar)
        olive_strbuf_append(&b, "]");
    if (!(text = olive_strbuf_take(&b)))
        return OLIVE_ENOMEM;
    nm = cvt_str(d, "%s", text);
    free(text);
    if (!nm)
        return OLIVE_ENOMEM;
    *name = nm;
    if (oir_graph_initializer(d->g, nm))
        return OLIVE_OK;
    if (!(t = oir_tensor_new(nm, OIR_INT64, scalar ? 0 : 1, &dim)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    if (oir_tensor_set_copy(t, values, n * sizeof *values) != OLIVE_OK ||
        oir_graph_add_initializer(d->g, t) != OLIVE_OK) {
        oir_tensor_free(t);
        return OLIVE_ENOMEM;
    }
    return OLIVE_OK;
}

int cvt_const_scalar(cvt_decoder *d, double v, const char **name)
{
    const char *type = d->io_dtype == OIR_FLOAT16 ? "FLOAT16" : d->io_dtype == OIR_BFLOAT16 ? "BFLOAT16" : "FLOAT";
    char text[40];
    float f = (float)v;
    /* the shortest text that reads back as v, as Python prints a float */
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if (strtod(text, NULL) == v)
            break;
    }
    if (!strpbrk(text, ".eni"))
        strcat(text, ".0");
    if (!(*name = cvt_str(d, "/model/constants/%s/%s", type, text)))
        return OLIVE_ENOMEM;
    if (oir_graph_initializer(d->g, *name))
        return OLIVE_OK;
    return cvt_init_from_f32(d, *name, d->io_dtype, 0, NULL, &f);
}

size_t cvt_dtype_size(int32_t dtype)
{
    return dtype == OIR_FLOAT ? 4 : 2;
}

void cvt_convert_f32(int32_t dtype, const float *src, size_t n, void *dst)
{
    if (dtype == OIR_FLOAT) {
        memcpy(dst, src, n * 4);
        return;
    }
    uint16_t *h = dst;
    for (size_t i = 0; i < n; i++)
        h[i] = dtype == OIR_FLOAT16 ? olive_float_to_half(src[i]) : olive_float_to_bfloat16(src[i]);
}

int cvt_spill_tensor(cvt_decoder *d, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
                     uint64_t *offset)
{
    oir_tensor *t = oir_tensor_new(name, dtype, rank, dims);
    struct cvt_pending p;
    uint64_t nbytes;
    int rc;
    if (!t)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    if ((rc = oir_tensor_expected_bytes(t, &nbytes)) != OLIVE_OK ||
        (rc = olive_spill_reserve(d->spill, nbytes, offset)) != OLIVE_OK ||
        (rc = oir_graph_add_initializer(d->g, t)) != OLIVE_OK) {
        oir_tensor_free(t);
        return rc;
    }
    p.tensor = t;
    p.offset = *offset;
    p.nbytes = nbytes;
    return OLIVE_PUSH(d->pending, d->n_pending, d->cap_pending, p);
}

int cvt_init_from_f32(cvt_decoder *d, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
                      const float *data)
{
    uint64_t n = 1, offset;
    void *buf;
    int rc;
    for (size_t i = 0; i < rank; i++)
        n *= (uint64_t)dims[i];
    OLIVE_TRY(cvt_spill_tensor(d, name, dtype, rank, dims, &offset));
    if (!(buf = olive_malloc((size_t)n * cvt_dtype_size(dtype) + 1)))
        return OLIVE_ENOMEM;
    cvt_convert_f32(dtype, data, (size_t)n, buf);
    rc = olive_spill_write(d->spill, offset, buf, (size_t)n * cvt_dtype_size(dtype));
    free(buf);
    return rc;
}

/* The fraction reported: weights streamed so far (saving takes the last 5%). */
static double fraction(const cvt_decoder *d)
{
    double f = d->weights_total ? (double)d->weights_done / (double)d->weights_total : 0.5;
    return 0.95 * (f < 1 ? f : 1);
}

int cvt_weight_done(cvt_decoder *d)
{
    d->weights_done++;
    return olive_pass_progress(d->ctx, fraction(d));
}

int cvt_check_cancel(cvt_decoder *d)
{
    return olive_pass_progress(d->ctx, fraction(d));
}

int cvt_finish_tensors(cvt_decoder *d)
{
    olive_blob *b;
    int rc = OLIVE_OK;
    OLIVE_TRY(olive_spill_map(d->spill, &b));
    for (size_t i = 0; i < d->n_pending && rc == OLIVE_OK; i++)
        rc = oir_tensor_set_blob(d->pending[i].tensor, b, d->pending[i].offset, d->pending[i].nbytes);
    olive_blob_unref(b);
    return rc;
}
