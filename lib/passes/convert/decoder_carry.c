/* Linear weights from quantized GGUF tensors, their blocks carried into MatMulNBits instead of
 * dequantized and rounded again (kernels/blockcarry.h says how each kind of block maps). The
 * weight is read a band of rows at a time, as the float path reads it. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/status.h"
#include "formats/ggml_codes.h"
#include "formats/ggml_dequant.h"
#include "kernels/blockcarry.h"
#include "passes/convert/decoder_internal.h"

/* Codes read from the checkpoint at a time. */
#define BAND_CODES ((size_t)4 << 20)

/* What the parts' blocks become: the widest bits and the smallest group any part needs. */
typedef struct carry_plan {
    int bits, block_size, offsets;
    char types[64]; /* "Q4_K" or "Q4_K+Q6_K", for messages */
} carry_plan;

static int plan_of(const cvt_linear_src *src, size_t n, int64_t in, int offsets_bits, carry_plan *p)
{
    memset(p, 0, sizeof *p);
    p->block_size = 256;
    for (size_t i = 0; i < n; i++) {
        const ofmt_tensor *t = src[i].t;
        ofmt_ggml_codes c;
        int bits;
        size_t len = strlen(p->types);
        if (t->storage != OFMT_GGML || !ofmt_ggml_codes_of(t->ggml_type, &c) || t->rank != 2)
            return 0;
        if (!(bits = olive_blockcarry_bits(c.code_min, c.code_max, c.has_offset)))
            return 0;
        if (c.has_offset && bits < offsets_bits)
            bits = offsets_bits;
        p->bits = bits > p->bits ? bits : p->bits;
        p->block_size = (int)c.group < p->block_size ? (int)c.group : p->block_size;
        p->offsets |= c.has_offset;
        if (!strstr(p->types, ofmt_ggml_type_name(t->ggml_type)))
            snprintf(p->types + len, sizeof p->types - len, "%s%s", len ? "+" : "", ofmt_ggml_type_name(t->ggml_type));
    }
    return in % p->block_size == 0;
}

typedef struct carry_out {
    const olive_blockcarry *q;
    const carry_plan *plan;
    size_t kb, blob, ses, zpb;
    int float_zps;         /* zero points of the scales' type [cols, kb], else packed [cols, zpb] */
    uint8_t *scales, *zps; /* whole weight: [cols, kb] scales, the zero points or NULL */
    double max_err;
} carry_out;

/* One band of rows read from a part, mapped on the online cores: each row writes only its
 * own codes, scales, zero points and slots of row_err / row_bad. */
typedef struct band_job {
    const carry_out *o;
    const ofmt_ggml_codes *info;
    int64_t in;
    size_t ch0;
    const int8_t *codes;
    const float *scales, *offsets, *values;
    uint8_t *packed;
    double *row_err;  /* largest change per row */
    int64_t *row_bad; /* first block of a row that cannot be mapped, or -1 */
} band_job;

static void map_rows(void *ctx, size_t begin, size_t end)
{
    const band_job *j = ctx;
    const carry_out *o = j->o;
    const olive_blockq zq = {OLIVE_BLOCKQ_DEFAULT, o->q->bits, o->plan->block_size, 0, o->q->half_scales};
    const size_t bs = (size_t)o->plan->block_size, in = (size_t)j->in, groups = in / j->info->group;
    uint8_t u[256];
    for (size_t r = begin; r < end; r++) {
        const size_t ch = j->ch0 + r;
        j->row_err[r] = 0;
        j->row_bad[r] = -1;
        if (o->zps && !o->float_zps)
            olive_blockq_zp_init(&zq, o->zps + ch * o->zpb, o->kb);
        for (size_t k = 0; k < o->kb; k++) {
            const size_t e0 = r * in + k * bs, g = r * groups + k * bs / j->info->group;
            uint8_t *dst = j->packed + (r * o->kb + k) * o->blob, *sc = o->scales + (ch * o->kb + k) * o->ses;
            const float off = j->offsets ? j->offsets[g] : 0.0f, *v = j->values ? j->values + e0 : NULL;
            double err;
            int zp = o->float_zps ? olive_blockcarry_block_float(o->q, j->codes + e0, v, bs, j->scales[g], off, u, sc,
                                                                 o->zps + (ch * o->kb + k) * o->ses, &err)
                                  : olive_blockcarry_block(o->q, j->codes + e0, v, bs, j->scales[g], off, u, sc, &err);
            if (zp < 0) {
                j->row_bad[r] = (int64_t)k;
                break;
            }
            if (o->q->bits == 4)
                for (size_t i = 0; i < bs / 2; i++)
                    dst[i] = (uint8_t)(u[2 * i] | (u[2 * i + 1] << 4));
            else
                memcpy(dst, u, bs);
            if (o->zps && !o->float_zps)
                olive_blockq_zp_store(&zq, o->zps + ch * o->zpb, k, (uint8_t)zp);
            j->row_err[r] = err > j->row_err[r] ? err : j->row_err[r];
        }
    }
}

/* Maps `rows` rows (channels ch0...) of one part read into codes/scales/offsets/values and
 * packs their codes into `packed` [rows, kb, blob]. */
static int map_band(carry_out *o, const ofmt_ggml_codes *info, const cvt_linear_src *part, int64_t r0, int64_t rows,
                    int64_t in, size_t ch0, const int8_t *codes, const float *scales, const float *offsets,
                    const float *values, uint8_t *packed)
{
    double *row_err = olive_malloc((size_t)rows * sizeof *row_err);
    int64_t *row_bad = olive_malloc((size_t)rows * sizeof *row_bad);
    band_job j = {o, info, in, ch0, codes, scales, offsets, values, packed, row_err, row_bad};
    int rc = OLIVE_OK;
    if (!row_err || !row_bad) {
        free(row_err);
        free(row_bad);
        return OLIVE_ENOMEM;
    }
    /* a few thousand weights per task keep thread starts a small part of the work */
    olive_parallel_for((size_t)rows, 1 + (size_t)(8192 / in), map_rows, &j);
    for (int64_t r = 0; r < rows && rc == OLIVE_OK; r++) {
        if (row_bad[r] >= 0)
            rc = olive_fail(OLIVE_EFORMAT,
                            "tensor '%s' in '%s': the block at [%" PRId64 ", %" PRId64 "] has a scale or value that is "
                            "not a finite number (or does not fit the model's scale type)",
                            part->t->name, part->t->file ? part->t->file : "?", part->first + r0 + r,
                            row_bad[r] * o->plan->block_size);
        o->max_err = row_err[r] > o->max_err ? row_err[r] : o->max_err;
    }
    free(row_err);
    free(row_bad);
    return rc;
}

/* Streams one part's rows through map_band into the spill file. */
static int carry_part(cvt_decoder *d, carry_out *o, const cvt_linear_src *part, int64_t in, size_t ch0,
                      uint64_t codes_off)
{
    ofmt_ggml_codes info;
    const ofmt_tensor *t = part->t;
    ofmt_ggml_codes_of(t->ggml_type, &info);
    const olive_blockcarry q = {o->q->bits, info.code_min, info.code_max, info.has_offset, o->q->half_scales};
    carry_out po = *o; /* the same output, with this part's code range */
    int64_t R = (int64_t)(BAND_CODES / (size_t)in);
    R = R < 1 ? 1 : R > part->count ? part->count : R;
    const size_t groups = (size_t)in / info.group, all_rows = ofmt_tensor_elements(t) / ofmt_tensor_row_length(t);
    int8_t *codes = olive_malloc((size_t)R * (size_t)in);
    float *scales = olive_malloc((size_t)R * groups * sizeof *scales);
    float *offsets = info.has_offset ? olive_malloc((size_t)R * groups * sizeof *offsets) : NULL;
    float *values = info.has_offset ? olive_malloc((size_t)R * (size_t)in * sizeof *values) : NULL;
    uint8_t *packed = olive_malloc((size_t)R * o->kb * o->blob);
    int rc = codes && scales && packed && (!info.has_offset || (offsets && values)) ? OLIVE_OK : OLIVE_ENOMEM;
    po.q = &q;
    for (int64_t r0 = 0; rc == OLIVE_OK && r0 < part->count; r0 += R) {
        const int64_t rows = part->count - r0 < R ? part->count - r0 : R;
        const uint64_t first = (uint64_t)(part->first + r0);
        if (r0 && (rc = cvt_check_cancel(d)) != OLIVE_OK)
            break;
        rc = ofmt_tensor_read_codes(t, first, (uint64_t)rows, codes, scales, offsets);
        if (rc == OLIVE_OK && values)
            rc = ofmt_tensor_read_f32(t, first, (uint64_t)rows, values);
        if (rc != OLIVE_OK) {
            rc = olive_fail_context(rc, "tensor '%s'", t->name);
            break;
        }
        if (all_rows && t->blob)
            olive_blob_drop_pages(t->blob, t->offset + first * (t->nbytes / all_rows),
                                  (uint64_t)rows * (t->nbytes / all_rows));
        rc = map_band(&po, &info, part, r0, rows, in, ch0 + (size_t)r0, codes, scales, offsets, values, packed);
        if (rc == OLIVE_OK)
            rc = olive_spill_write(d->spill, codes_off + (ch0 + (size_t)r0) * o->kb * o->blob, packed,
                                   (size_t)rows * o->kb * o->blob);
    }
    o->max_err = po.max_err;
    free(codes);
    free(scales);
    free(offsets);
    free(values);
    free(packed);
    return rc;
}

static void note(cvt_decoder *d, const char *path, const carry_plan *p, int float_zps, double max_err)
{
    const int bits = d->opt.precision == CVT_INT4 ? 4 : 8;
    if (!d->carry_noted &&
        (p->bits != bits || p->block_size != d->opt.block_size || (p->offsets && d->opt.symmetric))) {
        OLIVE_INFO("convert: the quantized GGUF weights keep their own blocks over precision, block_size=%d and "
                   "is_symmetric (the first, %s: %s in %d bits, block %d%s); gguf_blocks=requantize rounds their "
                   "values instead",
                   d->opt.block_size, path, p->types, p->bits, p->block_size, p->offsets ? ", zero points" : "");
        d->carry_noted = 1;
    }
    if (p->offsets && float_zps)
        OLIVE_DEBUG("convert: %s: %s blocks kept in %d bits, block %d, float zero points (largest change of a "
                    "weight %.3g)",
                    path, p->types, p->bits, p->block_size, max_err);
    else if (p->offsets)
        OLIVE_DEBUG("convert: %s: %s blocks kept in %d bits, block %d, zero points and scales fitted "
                    "(largest change of a weight %.3g)",
                    path, p->types, p->bits, p->block_size, max_err);
    else
        OLIVE_DEBUG("convert: %s: %s blocks kept in %d bits, block %d (largest change of a weight %.3g)", path,
                    p->types, p->bits, p->block_size, max_err);
}

int cvt_linear_carried(cvt_decoder *d, const char *path, const char *dots, const char *x, const cvt_linear_src *src,
                       size_t n, int64_t in, int64_t cols, const char **out, int *carried)
{
    carry_plan plan;
    *carried = 0;
    if (!plan_of(src, n, in, d->opt.keep_gguf_blocks == CVT_GGUF_KEEP8 ? 8 : 4, &plan))
        return OLIVE_OK;
    const int half = d->io_dtype == OIR_FLOAT16;
    const olive_blockcarry q = {plan.bits, 0, 0, plan.offsets, half};
    const olive_blockq zq = {OLIVE_BLOCKQ_DEFAULT, plan.bits, plan.block_size, 0, half};
    /* ONNX Runtime's CPU kernel refuses 8 bits with float zero points: fitted ones there */
    const int float_zps = d->opt.keep_gguf_blocks == CVT_GGUF_EXACT &&
                          (plan.bits == 4 || strcmp(d->opt.execution_provider, "cpu"));
    carry_out o = {.q = &q,
                   .plan = &plan,
                   .kb = (size_t)in / (size_t)plan.block_size,
                   .blob = (size_t)plan.block_size * (size_t)plan.bits / 8,
                   .ses = half ? 2 : 4,
                   .float_zps = float_zps};
    const char *qn = cvt_str(d, "%s.MatMul.weight_Q%d", dots, plan.bits),
               *sn = cvt_str(d, "%s.MatMul.weight_scales", dots);
    const char *zn = cvt_str(d, "%s.MatMul.weight_zero_points", dots);
    uint64_t codes_off, scales_off, zps_off = 0;
    size_t ch0 = 0;
    int rc;
    if (!qn || !sn || !zn)
        return OLIVE_ENOMEM;
    *carried = 1;
    o.zpb = o.float_zps ? o.kb * o.ses : olive_blockq_zp_bytes(&zq, o.kb);
    if (!strcmp(dots, "lm_head")) {
        d->lm_head_carried.bits = plan.bits;
        d->lm_head_carried.block_size = plan.block_size;
        d->lm_head_carried.float_zps = float_zps && plan.offsets;
        d->lm_head_carried.zero_points = plan.offsets ? zn : NULL;
    }
    if (oir_graph_initializer(d->g, qn)) /* made earlier (tied embeddings) */
        return cvt_matmulnbits_node(d, path, x, qn, sn, oir_graph_initializer(d->g, zn) ? zn : NULL, in, cols,
                                    plan.bits, plan.block_size, out);
    if (!(o.scales = olive_malloc((size_t)cols * o.kb * o.ses)) ||
        (plan.offsets && !(o.zps = olive_calloc((size_t)cols, o.zpb)))) {
        free(o.scales);
        return OLIVE_ENOMEM;
    }
    rc = cvt_spill_tensor(d, qn, OIR_UINT8, 3, (const int64_t[]){cols, (int64_t)o.kb, (int64_t)o.blob}, &codes_off);
    if (rc == OLIVE_OK)
        rc = cvt_spill_tensor(d, sn, half ? OIR_FLOAT16 : OIR_FLOAT, 2, (const int64_t[]){cols, (int64_t)o.kb},
                              &scales_off);
    if (rc == OLIVE_OK && o.zps)
        rc = o.float_zps ? cvt_spill_tensor(d, zn, half ? OIR_FLOAT16 : OIR_FLOAT, 2,
                                            (const int64_t[]){cols, (int64_t)o.kb}, &zps_off)
                         : cvt_spill_tensor(d, zn, OIR_UINT8, 2, (const int64_t[]){cols, (int64_t)o.zpb}, &zps_off);
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        rc = carry_part(d, &o, &src[i], in, ch0, codes_off);
        ch0 += (size_t)src[i].count;
    }
    if (rc == OLIVE_OK)
        rc = olive_spill_write(d->spill, scales_off, o.scales, (size_t)cols * o.kb * o.ses);
    if (rc == OLIVE_OK && o.zps)
        rc = olive_spill_write(d->spill, zps_off, o.zps, (size_t)cols * o.zpb);
    free(o.scales);
    free(o.zps);
    OLIVE_TRY(rc);
    if (plan.offsets && d->opt.keep_gguf_blocks == CVT_GGUF_EXACT && !float_zps)
        OLIVE_INFO("convert: %s: %s blocks go to 8 bits, which ONNX Runtime's CPU kernel does not run with float "
                   "zero points: fitted integer zero points instead of gguf_blocks=exact",
                   path, plan.types);
    note(d, path, &plan, o.float_zps, o.max_err);
    return cvt_matmulnbits_node(d, path, x, qn, sn, plan.offsets ? zn : NULL, in, cols, plan.bits, plan.block_size,
                                out);
}
