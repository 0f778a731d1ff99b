/* Streaming weights from the checkpoint into the spill file: Linear weights transposed for
 * MatMul or quantized for MatMulNBits, biases and norm weights. A weight is read a band of
 * rows at a time and its source pages are dropped once read, so memory stays at one band. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder.h"
#include "passes/convert/decoder_gptq_twin.h"
#include "passes/convert/decoder_internal.h"
#include "passes/convert/decoder_plan.h"
#include "core/half.h"
#include "kernels/blockwise.h"

/* Floats read from the checkpoint at a time. */
#define BAND_FLOATS ((size_t)4 << 20)
/* Largest transposed weight assembled whole in memory (64 MiB of floats). */
#define WHOLE_FLOATS ((size_t)16 << 20)

static void shape_text(char *buf, size_t cap, size_t rank, const int64_t *dims)
{
    size_t at = 0;
    at += (size_t)snprintf(buf + at, cap - at, "[");
    for (size_t i = 0; i < rank && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%" PRId64, i ? ", " : "", dims[i]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

int cvt_tensor(const cvt_decoder *d, const char *name, size_t rank, const int64_t *dims, const ofmt_tensor **out)
{
    const ofmt_tensor *t = ofmt_checkpoint_find(d->ck, name);
    char want[128], have[128];
    int same;
    if (!t)
        return olive_fail(OLIVE_EFORMAT, "checkpoint '%s' has no tensor '%s' (needed by %s)", d->ck->path, name,
                          d->arch->architecture);
    same = t->rank == rank;
    for (size_t i = 0; same && i < rank; i++)
        same = t->dims[i] == dims[i];
    if (!same) {
        shape_text(want, sizeof want, rank, dims);
        shape_text(have, sizeof have, t->rank, t->dims);
        return olive_fail(OLIVE_EFORMAT,
                          "tensor '%s' in '%s' has shape %s but config.json (hidden_size=%" PRId64
                          ", num_attention_heads=%" PRId64 ", num_key_value_heads=%" PRId64 ", head_dim=%" PRId64
                          ", intermediate_size=%" PRId64 ", vocab_size=%" PRId64 ") implies %s",
                          name, t->file ? t->file : d->ck->path, have, d->cfg.hidden, d->cfg.heads, d->cfg.kv_heads,
                          d->cfg.head_dim, d->cfg.intermediate, d->cfg.vocab, want);
    }
    *out = t;
    return OLIVE_OK;
}

const char *cvt_path_to_dots(cvt_decoder *d, const char *path)
{
    const char *s = cvt_str(d, "%s", path[0] == '/' ? path + 1 : path);
    if (s)
        for (char *p = (char *)s; *p; p++)
            if (*p == '/')
                *p = '.';
    return s;
}

/* Reads rows of t and lets the kernel forget the pages they came from. */
static int read_rows(const ofmt_tensor *t, uint64_t first, uint64_t rows, float *dst)
{
    uint64_t all = ofmt_tensor_elements(t) / ofmt_tensor_row_length(t);
    int rc = ofmt_tensor_read_f32(t, first, rows, dst);
    if (rc != OLIVE_OK)
        return olive_fail_context(rc, "tensor '%s'", t->name);
    if (all && t->blob)
        olive_blob_drop_pages(t->blob, t->offset + first * (t->nbytes / all), rows * (t->nbytes / all));
    return OLIVE_OK;
}

typedef cvt_linear_src linear_src;

/* Resolves and checks the parts of a Linear weight: each [rows, in]. */
static int resolve_parts(cvt_decoder *d, const cvt_rows *parts, size_t n, int64_t in, linear_src *src, int64_t *total)
{
    *total = 0;
    for (size_t i = 0; i < n; i++) {
        const ofmt_tensor *t = ofmt_checkpoint_find(d->ck, parts[i].tensor);
        int64_t rows;
        if (!t)
            return olive_fail(OLIVE_EFORMAT, "checkpoint '%s' has no tensor '%s' (needed by %s)", d->ck->path,
                              parts[i].tensor, d->arch->architecture);
        rows = t->rank == 2 ? t->dims[0] : -1;
        if (t->rank != 2 || t->dims[1] != in || parts[i].first < 0 || parts[i].count < 0 ||
            parts[i].first + parts[i].count > rows || (!parts[i].count && parts[i].first)) {
            char have[128];
            shape_text(have, sizeof have, t->rank, t->dims);
            return olive_fail(OLIVE_EFORMAT,
                              "tensor '%s' in '%s' has shape %s: expected a Linear weight [out, %" PRId64
                              "] (in features from config.json hidden_size=%" PRId64 ", intermediate_size=%" PRId64 ")",
                              t->name, t->file ? t->file : d->ck->path, have, in, d->cfg.hidden, d->cfg.intermediate);
        }
        src[i].t = t;
        src[i].first = parts[i].first;
        src[i].count = parts[i].count ? parts[i].count : rows;
        src[i].mem = src[i].norm = NULL;
        src[i].pre = NULL;
        *total += src[i].count;
    }
    return OLIVE_OK;
}

static int64_t band_rows(int64_t in, int64_t count)
{
    int64_t r = (int64_t)(BAND_FLOATS / (size_t)in);
    if (r < 1)
        r = 1;
    return r < count ? r : count;
}

/* Reads rows [r0, r0 + rows) of a part into band, rotated when the model is; a cancel request
 * is honoured between bands. */
static int read_band(cvt_decoder *d, const linear_src *part, int64_t r0, int64_t rows, float *band)
{
    const int64_t in = (int64_t)ofmt_tensor_row_length(part->t);
    int rc = r0 ? cvt_check_cancel(d) : OLIVE_OK;
    if (rc != OLIVE_OK)
        return rc;
    if (part->mem)
        memcpy(band, part->mem + r0 * in, (size_t)(rows * in) * sizeof *band);
    else if ((rc = read_rows(part->t, (uint64_t)(part->first + r0), (uint64_t)rows, band)) != OLIVE_OK)
        return rc;
    return cvt_rotate_band(part, band, rows, in);
}

static int64_t wide_band_rows(int64_t in, int64_t count)
{
    int64_t r = (int64_t)(WHOLE_FLOATS / (size_t)in);
    if (r < 1)
        r = 1;
    return r < count ? r : count;
}

/* Transposes rows [0, rows) of a band [rows, in] into dst [in, ld] at column c0. */
static void transpose_band(const float *band, int64_t rows, int64_t in, float *dst, int64_t ld, int64_t c0)
{
    /* tiles keep both sides of the transpose in cache */
    for (int64_t k0 = 0; k0 < in; k0 += 64)
        for (int64_t q0 = 0; q0 < rows; q0 += 64)
            for (int64_t r = q0; r < rows && r < q0 + 64; r++)
                for (int64_t k = k0; k < in && k < k0 + 64; k++)
                    dst[k * ld + c0 + r] = band[r * in + k];
}

/* Writes the parts transposed: W^T [in, N] in dtype. A weight of up to WHOLE_FLOATS elements
 * is assembled in memory and written at once; a larger one (an LM head) goes out a wide band
 * at a time as one strip per input feature. Few large writes matter: a write per short strip
 * made system calls most of the conversion time. */
static int stream_transposed(cvt_decoder *d, const linear_src *src, size_t n, int64_t in, int64_t cols, int32_t dtype,
                             uint64_t offset)
{
    const size_t es = cvt_dtype_size(dtype);
    const int whole = (uint64_t)in * (uint64_t)cols <= WHOLE_FLOATS;
    int64_t col0 = 0, most = 0;
    float *band, *tr;
    uint8_t *bytes;
    int rc = OLIVE_OK;
    for (size_t p = 0; p < n; p++)
        most = src[p].count > most ? src[p].count : most;
    /* the strip path writes `in` strips per band: wide bands keep the writes few and large */
    const int64_t R = whole ? band_rows(in, most) : wide_band_rows(in, most);
    const size_t tr_floats = whole ? (size_t)in * (size_t)cols : (size_t)R * (size_t)in;
    band = olive_malloc((size_t)R * (size_t)in * sizeof *band);
    tr = olive_malloc(tr_floats * sizeof *tr);
    bytes = es == sizeof(float) ? (uint8_t *)tr : olive_malloc(tr_floats * es);
    if (!band || !tr || !bytes)
        rc = OLIVE_ENOMEM;
    for (size_t p = 0; p < n && rc == OLIVE_OK; p++) {
        for (int64_t r0 = 0; rc == OLIVE_OK && r0 < src[p].count; r0 += R) {
            int64_t rows = src[p].count - r0 < R ? src[p].count - r0 : R;
            if ((rc = read_band(d, &src[p], r0, rows, band)) != OLIVE_OK)
                break;
            if (whole) {
                transpose_band(band, rows, in, tr, cols, col0 + r0);
                continue;
            }
            transpose_band(band, rows, in, tr, rows, 0);
            if (bytes != (uint8_t *)tr)
                cvt_convert_f32(dtype, tr, (size_t)(rows * in), bytes);
            for (int64_t k = 0; k < in && rc == OLIVE_OK; k++)
                rc = olive_spill_write(d->spill, offset + (uint64_t)(k * cols + col0 + r0) * es,
                                       bytes + (size_t)(k * rows) * es, (size_t)rows * es);
        }
        col0 += src[p].count;
    }
    if (rc == OLIVE_OK && whole) {
        if (bytes != (uint8_t *)tr)
            cvt_convert_f32(dtype, tr, tr_floats, bytes);
        rc = olive_spill_write(d->spill, offset, bytes, tr_floats * es);
    }
    free(band);
    if (bytes != (uint8_t *)tr)
        free(bytes);
    free(tr);
    return rc;
}

/* Quantizes the parts row by row (a row of W [N, K] is one MatMulNBits channel). */
static int stream_quantized(cvt_decoder *d, const linear_src *src, size_t n, int64_t in, int64_t cols,
                            const olive_blockq *q, uint64_t codes_off, uint8_t *scales, uint8_t *zps)
{
    const size_t bs = (size_t)q->block_size, kb = ((size_t)in + bs - 1) / bs, blob = olive_blockq_blob_size(q);
    const size_t ses = q->half_scales ? 2 : 4, zpb = olive_blockq_zp_bytes(q, kb);
    int64_t ch0 = 0;
    int rc = OLIVE_OK;
    for (size_t p = 0; p < n && rc == OLIVE_OK; p++) {
        int64_t R = band_rows(in, src[p].count);
        float *band = olive_malloc((size_t)R * (size_t)in * sizeof *band);
        uint8_t *codes = olive_calloc((size_t)R * kb, blob);
        if (!band || !codes)
            rc = OLIVE_ENOMEM;
        for (int64_t r0 = 0; rc == OLIVE_OK && r0 < src[p].count; r0 += R) {
            int64_t rows = src[p].count - r0 < R ? src[p].count - r0 : R;
            if ((rc = read_band(d, &src[p], r0, rows, band)) != OLIVE_OK)
                break;
            memset(codes, 0, (size_t)rows * kb * blob);
            /* float16 graphs quantize float16 weights: round first, as the quantize pass sees them */
            if (q->half_scales)
                for (size_t i = 0; i < (size_t)(rows * in); i++)
                    band[i] = olive_half_to_float(olive_float_to_half(band[i]));
            {
                const size_t ch = (size_t)(ch0 + r0);
                const cvt_quant_band qb = {
                    q, band, rows, in, kb == 1 && cols > 1, codes, scales + ch * kb * ses, zps ? zps + ch * zpb : NULL};
                int64_t bad_row;
                size_t bad_col;
                if (cvt_quantize_band(&qb, &bad_row, &bad_col) != 0)
                    rc = olive_fail(OLIVE_EFORMAT,
                                    "tensor '%s' holds %g at [%" PRId64 ", %zu]: quantization needs finite weights",
                                    src[p].t->name, (double)band[bad_row * in + (int64_t)bad_col],
                                    src[p].first + r0 + bad_row, bad_col);
            }
            if (rc == OLIVE_OK)
                rc = olive_spill_write(d->spill, codes_off + (uint64_t)(ch0 + r0) * kb * blob, codes,
                                       (size_t)rows * kb * blob);
        }
        free(band);
        free(codes);
        ch0 += src[p].count;
    }
    return rc;
}

void cvt_float_log_clear(cvt_float_log *log)
{
    for (size_t i = 0; i < log->n; i++)
        free(log->w[i].name);
    free(log->w);
    memset(log, 0, sizeof *log);
}

static int log_float_weight(cvt_float_log *log, const char *wname, const linear_src *src, size_t n, int64_t in,
                            int64_t cols)
{
    cvt_float_weight *w;
    int64_t col0 = 0;
    if (olive_grow((void **)&log->w, &log->cap, log->n + 1, sizeof *log->w) != OLIVE_OK)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    w = &log->w[log->n];
    memset(w, 0, sizeof *w);
    if (!(w->name = olive_strdup(wname)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    w->in = in;
    w->cols = cols;
    w->head = !strcmp(wname, "lm_head.MatMul.weight");
    w->n_parts = n;
    for (size_t i = 0; i < n; i++) {
        w->parts[i] = (cvt_float_part){src[i].t, src[i].first, src[i].count, col0};
        col0 += src[i].count;
    }
    log->n++;
    return OLIVE_OK;
}

/* The transposed float weight "<dots>.MatMul.weight" (made once: tied embeddings reuse it). */
static int linear_float_weight(cvt_decoder *d, const char *wname, const linear_src *src, size_t n, int64_t in,
                               int64_t cols)
{
    uint64_t off;
    if (oir_graph_initializer(d->g, wname))
        return OLIVE_OK;
    OLIVE_TRY(cvt_spill_tensor(d, wname, d->io_dtype, 2, (const int64_t[]){in, cols}, &off));
    if (d->float_log)
        OLIVE_TRY(log_float_weight(d->float_log, wname, src, n, in, cols));
    return stream_transposed(d, src, n, in, cols, d->io_dtype, off);
}

static int linear_float(cvt_decoder *d, const char *path, const char *dots, const char *x, const linear_src *src,
                        size_t n, int64_t in, int64_t cols, const char **out)
{
    const char *wname = cvt_str(d, "%s.MatMul.weight", dots), *node = cvt_str(d, "%s/MatMul", path);
    if (!wname || !node)
        return OLIVE_ENOMEM;
    OLIVE_TRY(linear_float_weight(d, wname, src, n, in, cols));
    if (!x)
        return OLIVE_OK;
    return cvt_node(d, "MatMul", "", node, 2, (const char *[]){x, wname}, 1, NULL, out);
}

/* The block quantizer of a module: the options' algorithm (k_quant always with zero points). */
static olive_blockq module_blockq(const cvt_decoder *d, const cvt_module_quant *mq)
{
    const int alg = d->opt.algorithm;
    return (olive_blockq){alg, mq->bits, mq->block_size, alg == OLIVE_BLOCKQ_KQUANT ? 0 : mq->symmetric,
                          d->io_dtype == OIR_FLOAT16};
}

/* The names of a quantized weight's tensors, as ONNX Runtime's quantizer writes them: its
 * default one "<w>_Q4", "<w>_scales", "<w>_zero_points"; its rtn and k_quant configs
 * "<w>_Q4G32", "<w>_scale", "<w>_zp". *zn is NULL when the blocks are symmetric. */
static int quant_names(cvt_decoder *d, const char *dots, const olive_blockq *q, const char **qn, const char **sn,
                       const char **zn)
{
    const int inc = q->algorithm == OLIVE_BLOCKQ_RTN || q->algorithm == OLIVE_BLOCKQ_KQUANT;
    *qn = inc ? cvt_str(d, "%s.MatMul.weight_Q%dG%d", dots, q->bits, q->block_size)
              : cvt_str(d, "%s.MatMul.weight_Q%d", dots, q->bits);
    *sn = cvt_str(d, inc ? "%s.MatMul.weight_scale" : "%s.MatMul.weight_scales", dots);
    *zn = q->symmetric ? NULL : cvt_str(d, inc ? "%s.MatMul.weight_zp" : "%s.MatMul.weight_zero_points", dots);
    return *qn && *sn && (q->symmetric || *zn) ? OLIVE_OK : OLIVE_ENOMEM;
}

int cvt_quant_tensor_names(cvt_decoder *d, const char *dots, const cvt_module_quant *mq, const char **qn,
                           const char **sn, const char **zn)
{
    const olive_blockq q = module_blockq(d, mq);
    return quant_names(d, dots, &q, qn, sn, zn);
}

static int linear_quantized(cvt_decoder *d, const char *path, const char *dots, const char *x, const linear_src *src,
                            size_t n, int64_t in, int64_t cols, const cvt_module_quant *mq, const char **out)
{
    const int bits = mq->bits;
    const olive_blockq q = module_blockq(d, mq);
    const size_t kb = ((size_t)in + (size_t)q.block_size - 1) / (size_t)q.block_size;
    const size_t ses = q.half_scales ? 2 : 4, zpb = olive_blockq_zp_bytes(&q, kb);
    const char *qn, *sn, *zn;
    uint8_t *scales = NULL, *zps = NULL;
    uint64_t codes_off, scales_off, zps_off = 0;
    int rc;
    OLIVE_TRY(quant_names(d, dots, &q, &qn, &sn, &zn));
    if (oir_graph_initializer(d->g, qn)) /* made earlier (tied embeddings) */
        goto make_node;
    if (!(scales = olive_malloc((size_t)cols * kb * ses)) ||
        (!q.symmetric && !(zps = olive_calloc((size_t)cols, zpb)))) {
        free(scales);
        return OLIVE_ENOMEM;
    }
    rc = cvt_spill_tensor(d, qn, OIR_UINT8, 3,
                          (const int64_t[]){cols, (int64_t)kb, (int64_t)olive_blockq_blob_size(&q)}, &codes_off);
    if (rc == OLIVE_OK)
        rc = cvt_spill_tensor(d, sn, q.half_scales ? OIR_FLOAT16 : OIR_FLOAT, 2, (const int64_t[]){cols, (int64_t)kb},
                              &scales_off);
    if (rc == OLIVE_OK && zps)
        rc = cvt_spill_tensor(d, zn, OIR_UINT8, 2, (const int64_t[]){cols, (int64_t)zpb}, &zps_off);
    if (rc == OLIVE_OK)
        rc = stream_quantized(d, src, n, in, cols, &q, codes_off, scales, zps);
    if (rc == OLIVE_OK)
        rc = olive_spill_write(d->spill, scales_off, scales, (size_t)cols * kb * ses);
    if (rc == OLIVE_OK && zps)
        rc = olive_spill_write(d->spill, zps_off, zps, (size_t)cols * zpb);
    free(scales);
    free(zps);
    OLIVE_TRY(rc);
make_node:
    return cvt_matmulnbits_node(d, path, x, qn, sn, zn, in, cols, bits, q.block_size, out);
}

int cvt_matmulnbits_node(cvt_decoder *d, const char *path, const char *x, const char *qn, const char *sn,
                         const char *zn, int64_t in, int64_t cols, int bits, int block_size, const char **out)
{
    const char *node = cvt_str(d, "%s/MatMul_Q%d", path, bits);
    const char *ins[4] = {x, qn, sn, zn};
    oir_node *nd;
    const char *outs[1];
    if (!x)
        return OLIVE_OK;
    if (!node)
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_node(d, "MatMulNBits", "com.microsoft", node, zn ? 4 : 3, ins, 1, &nd, outs));
    /* The output keeps the float MatMul's name, as the quantize pass leaves it. */
    if (!(*out = cvt_str(d, "%s/MatMul/output_0", path)) || oir_node_set_output(nd, 0, *out) != OLIVE_OK)
        return OLIVE_ENOMEM;
    if (oir_node_set_attr_int(nd, "K", in) != OLIVE_OK || oir_node_set_attr_int(nd, "N", cols) != OLIVE_OK ||
        oir_node_set_attr_int(nd, "bits", bits) != OLIVE_OK ||
        oir_node_set_attr_int(nd, "block_size", block_size) != OLIVE_OK ||
        (d->opt.accuracy_level > 0 && oir_node_set_attr_int(nd, "accuracy_level", d->opt.accuracy_level) != OLIVE_OK))
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

int cvt_quantized_matrix(cvt_decoder *d, const char *dots, const cvt_rows *part, int64_t in, const cvt_module_quant *mq,
                         const char **qn, const char **sn, const char **zn)
{
    linear_src src[1];
    int64_t cols;
    int rc;
    OLIVE_TRY(resolve_parts(d, part, 1, in, src, &cols));
    const olive_blockq q = module_blockq(d, mq);
    rc = d->rot ? cvt_rotate_parts(d, "", src, 1, in) : OLIVE_OK;
    if (rc == OLIVE_OK)
        rc = linear_quantized(d, "", dots, NULL, src, 1, in, cols, mq, NULL);
    cvt_rotate_parts_free(src, 1);
    OLIVE_TRY(rc);
    OLIVE_TRY(quant_names(d, dots, &q, qn, sn, zn));
    return cvt_weight_done(d);
}

/* The plan's settings for a Linear: its checkpoint module ("lm_head" for the head); the parts
 * of a packed MatMul (q, k and v) share the highest bits among them, as Olive promotes a
 * q/k/v group to one setting. *for_gptq: the plan leaves it to GPTQ (float here). */
static int plan_of(cvt_decoder *d, const char *path, const linear_src *src, size_t n, cvt_module_quant *mq,
                   int *for_gptq)
{
    const int head = !strcmp(path, "/lm_head");
    for (size_t i = 0; i < n; i++) {
        const char *name = src[i].t->name;
        size_t len = strlen(name);
        const char *module = head                                            ? "lm_head"
                             : len > 7 && !strcmp(name + len - 7, ".weight") ? cvt_str(d, "%.*s", (int)(len - 7), name)
                                                                             : name;
        cvt_module_quant q;
        if (!module)
            return OLIVE_ENOMEM;
        if (cvt_plan_gptq_module(d->plan, module, head, &q))
            *for_gptq = 1;
        else
            q = cvt_plan_module(d->plan, module, head, 0);
        if (i == 0 || q.bits > mq->bits)
            *mq = q;
    }
    return OLIVE_OK;
}

/* The weight and node of a Linear whose parts are resolved: float, quantized as the options
 * or the plan say, or carried from GGUF blocks. */
static int linear_of(cvt_decoder *d, const char *path, const char *dots, const char *x, const linear_src *src,
                     size_t n_parts, int64_t in, int64_t cols, int quantize, const char **out)
{
    if (quantize && (d->opt.precision == CVT_INT4 || d->opt.precision == CVT_INT8)) {
        int carried = 0;
        cvt_module_quant mq = {1, d->opt.precision == CVT_INT4 ? 4 : 8, d->opt.block_size, d->opt.symmetric};
        int for_gptq = 0;
        if (d->plan)
            OLIVE_TRY(plan_of(d, path, src, n_parts, &mq, &for_gptq));
        if (for_gptq && d->gptq) { /* quantized by GPTQ on the float32 twin */
            int done;
            OLIVE_TRY(cvt_gptq_linear(d, path, x, in, cols, &done, out));
            if (done)
                return OLIVE_OK;
            /* the gptq pass left it float */
            mq.quantize = 0;
        } else if (for_gptq) { /* float now; GPTQ quantizes it after the conversion */
            const char *node = cvt_str(d, "%s/MatMul", path);
            if (!node)
                return OLIVE_ENOMEM;
            OLIVE_TRY(cvt_plan_note_gptq(d->plan, node, &mq));
            mq.quantize = 0;
        }
        if (mq.quantize && d->opt.keep_gguf_blocks && !d->plan) /* a plan's bits win over GGUF blocks */
            OLIVE_TRY(cvt_linear_carried(d, path, dots, x, src, n_parts, in, cols, out, &carried));
        if (!mq.quantize)
            OLIVE_TRY(linear_float(d, path, dots, x, src, n_parts, in, cols, out));
        else if (!carried)
            OLIVE_TRY(linear_quantized(d, path, dots, x, src, n_parts, in, cols, &mq, out));
        return OLIVE_OK;
    }
    return linear_float(d, path, dots, x, src, n_parts, in, cols, out);
}

int cvt_linear(cvt_decoder *d, const char *path, const char *x, const cvt_rows *parts, size_t n_parts, int64_t in,
               int quantize, const char **out)
{
    linear_src src[8];
    int64_t cols;
    int rc;
    const char *dots = cvt_path_to_dots(d, path);
    if (!dots)
        return OLIVE_ENOMEM;
    if (n_parts < 1 || n_parts > 8 || in < 1)
        return olive_fail(OLIVE_EINVALID, "%s: a Linear layer needs 1 to 8 weights", path);
    OLIVE_TRY(resolve_parts(d, parts, n_parts, in, src, &cols));
    rc = d->rot ? cvt_rotate_parts(d, path, src, n_parts, in) : OLIVE_OK;
    if (rc == OLIVE_OK)
        rc = linear_of(d, path, dots, x, src, n_parts, in, cols, quantize, out);
    cvt_rotate_parts_free(src, n_parts);
    OLIVE_TRY(rc);
    /* A LoRA layer applies to a whole checkpoint Linear, never to a slice of a packed one. */
    if (d->lora && x && n_parts == 1 && parts[0].first == 0 && parts[0].count == 0) {
        size_t len = strlen(parts[0].tensor);
        if (len > 7 && !strcmp(parts[0].tensor + len - 7, ".weight")) {
            const char *module = cvt_str(d, "%.*s", (int)(len - 7), parts[0].tensor);
            if (!module)
                return OLIVE_ENOMEM;
            OLIVE_TRY(cvt_lora_branch(d, module, path, x, in, cols, out));
        }
    }
    for (size_t i = 0; i < n_parts; i++)
        OLIVE_TRY(cvt_weight_done(d));
    return OLIVE_OK;
}

/* Where a projection's rows are: the architecture's hook, else the Llama name, all rows. */
int cvt_proj_rows(cvt_decoder *d, int64_t layer, cvt_proj which, const char *name, int64_t out, int64_t in,
                  cvt_rows *rows)
{
    const ofmt_tensor *t;
    if (d->arch->weight_rows)
        return d->arch->weight_rows(d, layer, which, rows);
    OLIVE_TRY(cvt_tensor(d, name, 2, (const int64_t[]){out, in}, &t));
    rows->tensor = name;
    rows->first = 0;
    rows->count = 0;
    return OLIVE_OK;
}

/* Reads a 1-D tensor's elements [first, first + count) (count 0: all) as floats. */
static int read_vector(cvt_decoder *d, const cvt_rows *part, float **out, int64_t *count)
{
    const ofmt_tensor *t = ofmt_checkpoint_find(d->ck, part->tensor);
    int64_t len, n;
    float *all;
    if (!t)
        return olive_fail(OLIVE_EFORMAT, "checkpoint '%s' has no tensor '%s' (needed by %s)", d->ck->path, part->tensor,
                          d->arch->architecture);
    len = t->rank == 1 ? t->dims[0] : -1;
    n = part->count ? part->count : len;
    if (t->rank != 1 || part->first < 0 || part->count < 0 || part->first + n > len)
        return olive_fail(OLIVE_EFORMAT, "tensor '%s' in '%s' is not a vector of at least %" PRId64 " values", t->name,
                          t->file ? t->file : d->ck->path, part->first + n);
    if (!(all = olive_malloc((size_t)len * sizeof *all + 1)))
        return OLIVE_ENOMEM;
    if (read_rows(t, 0, 1, all) != OLIVE_OK) {
        free(all);
        return olive_error_code();
    }
    memmove(all, all + part->first, (size_t)n * sizeof *all);
    *out = all;
    *count = n;
    return OLIVE_OK;
}

int cvt_bias(cvt_decoder *d, const char *path, const char *x, const cvt_rows *parts, size_t n_parts, const char **out)
{
    const char *dots = cvt_path_to_dots(d, path), *bname, *node;
    float *all = NULL;
    int64_t total = 0;
    int rc = OLIVE_OK;
    if (!dots || !(bname = cvt_str(d, "%s.Add.bias", dots)) || !(node = cvt_str(d, "%s/Add", path)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n_parts && rc == OLIVE_OK; i++) {
        float *v, *grown;
        int64_t n;
        if ((rc = read_vector(d, &parts[i], &v, &n)) != OLIVE_OK)
            break;
        if (!(grown = olive_reallocarray(all, (size_t)(total + n), sizeof *all))) {
            free(v);
            rc = OLIVE_ENOMEM;
            break;
        }
        all = grown;
        memcpy(all + total, v, (size_t)n * sizeof *v);
        total += n;
        free(v);
        rc = cvt_weight_done(d);
    }
    if (rc == OLIVE_OK)
        rc = cvt_rotate_bias(d, path, all, total);
    if (rc == OLIVE_OK)
        rc = cvt_init_from_f32(d, bname, d->io_dtype, 1, &total, all);
    free(all);
    OLIVE_TRY(rc);
    return cvt_node(d, "Add", "", node, 2, (const char *[]){x, bname}, 1, NULL, out);
}

int cvt_norm_weight(cvt_decoder *d, const char *tensor, int64_t dim, const char *onnx_name)
{
    const ofmt_tensor *t;
    cvt_rows part = {tensor, 0, 0};
    float *v;
    int64_t n;
    int rc;
    OLIVE_TRY(cvt_tensor(d, tensor, 1, &dim, &t));
    OLIVE_TRY(read_vector(d, &part, &v, &n));
    /* llama.cpp's converter stores such norm weights (Gemma's) with the offset already added */
    if (d->ck->kind != OFMT_GGUF_FILE)
        for (int64_t i = 0; i < n; i++)
            v[i] += d->cfg.norm_weight_offset;
    /* folded into the Linears after it by a rotation */
    if (cvt_rotate_folds_norm(d, tensor))
        for (int64_t i = 0; i < n; i++)
            v[i] = 1.0f;
    rc = cvt_init_from_f32(d, onnx_name, d->io_dtype, 1, &dim, v);
    free(v);
    OLIVE_TRY(rc);
    return cvt_weight_done(d);
}
