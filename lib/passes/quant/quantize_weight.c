/* One weight's block quantization, bands spread over threads (see quantize_weight.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/status.h"
#include "passes/quant/band_default.h"
#include "passes/quant/band_rtn.h"
#include "passes/quant/hqq.h"
#include "passes/quant/kquant.h"
#include "core/parallel.h"
#include "passes/quant/quantize_weight.h"

/* Columns per kernel call: bounds the scratch for very wide weights. */
#define COLUMN_CHUNK 4096
/* Weights smaller than this (values) are quantized on the calling thread. */
#define THREAD_MIN_VALUES ((size_t)1 << 18)

typedef int (*band_kernel)(const olive_blockq *, const float *, size_t, size_t, size_t, float *, uint8_t *, uint8_t *,
                           size_t, uint8_t *, size_t, uint8_t *);

typedef struct quant_job {
    const olive_blockq *p;
    const oir_tensor *t;
    const uint8_t *src;
    size_t k, cols, bs, kb, blob, zpb, es, chunk, n_workers;
    band_kernel kernel;
    uint8_t *codes, *scales;
    uint8_t *zp_codes; /* [N, k_blocks], one byte per block; packed once all bands are done */
} quant_job;

typedef struct band_worker {
    const quant_job *j;
    size_t first; /* bands first, first + n_workers, ... */
    float *band, *fs;
    uint8_t *bytes, *zps;
    size_t bad; /* the first band holding a non-finite value, or k_blocks */
} band_worker;

static float value_at(const quant_job *j, size_t row, size_t col)
{
    return olive_blockq_load(j->src, row * j->cols + col, j->es == 2);
}

/* Copies rows [r0, r0 + len) of columns [c0, c0 + w) into band (row stride w) as floats;
 * the source may be unaligned or float16. */
static void load_band(const quant_job *j, float *band, size_t r0, size_t len, size_t c0, size_t w)
{
    for (size_t i = 0; i < len; i++) {
        const uint8_t *row = j->src + ((r0 + i) * j->cols + c0) * j->es;
        float *dst = band + i * w;
        if (j->es == 4) {
            memcpy(dst, row, w * 4);
            continue;
        }
        for (size_t c = 0; c < w; c++)
            dst[c] = olive_blockq_load(row, c, 1);
    }
}

/* Quantizes band b of every column; -1 when it holds a non-finite value. */
static int quantize_band(const band_worker *wk, size_t b)
{
    const quant_job *j = wk->j;
    size_t r0 = b * j->bs, len = j->k - r0 < j->bs ? j->k - r0 : j->bs;
    for (size_t c0 = 0; c0 < j->cols; c0 += j->chunk) {
        size_t w = j->cols - c0 < j->chunk ? j->cols - c0 : j->chunk;
        const uint8_t *first = j->src + (r0 * j->cols + c0) * j->es;
        const float *band = wk->band;
        size_t stride = w;
        if (j->es == 4 && (uintptr_t)first % _Alignof(float) == 0) { /* read the weight in place */
            band = (const float *)(const void *)first;
            stride = j->cols;
        } else {
            load_band(j, wk->band, r0, len, c0, w);
        }
        if (j->kernel(j->p, band, stride, len, w, wk->fs, wk->bytes, j->codes + (c0 * j->kb + b) * j->blob,
                      j->kb * j->blob, j->scales + (c0 * j->kb + b) * j->es, j->kb * j->es, wk->zps) != 0)
            return -1;
        for (size_t jj = 0; j->zp_codes && jj < w; jj++)
            j->zp_codes[(c0 + jj) * j->kb + b] = wk->zps[jj];
    }
    return 0;
}

static void *run_worker(void *arg)
{
    band_worker *wk = arg;
    const quant_job *j = wk->j;
    for (size_t b = wk->first; b < j->kb; b += j->n_workers) {
        size_t r0 = b * j->bs, len = j->k - r0 < j->bs ? j->k - r0 : j->bs;
        int rc = quantize_band(wk, b);
        olive_blob_drop_pages(j->t->blob, j->t->offset + r0 * j->cols * j->es, len * j->cols * j->es);
        if (rc != 0) {
            wk->bad = b;
            break;
        }
    }
    return NULL;
}

/* The error for band b, which holds a non-finite value: the first one by column, then row. */
static int report_band(const quant_job *j, const char *node, size_t b)
{
    size_t r0 = b * j->bs, len = j->k - r0 < j->bs ? j->k - r0 : j->bs;
    for (size_t c = 0; c < j->cols; c++)
        for (size_t i = 0; i < len; i++) {
            float v = value_at(j, r0 + i, c);
            if (!isfinite(v))
                return olive_fail(OLIVE_EFORMAT,
                                  "weight '%s' of MatMul '%s' holds %g at [%zu, %zu]: quantization needs finite "
                                  "weights",
                                  j->t->name, node, (double)v, r0 + i, c);
        }
    return olive_fail(OLIVE_EFORMAT, "weight '%s' of MatMul '%s': quantization needs finite weights", j->t->name, node);
}

static size_t worker_count(const quant_job *j)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = cpus > 1 ? (size_t)cpus : 1;
    if (j->k * j->cols < THREAD_MIN_VALUES)
        return 1;
    n = n < OLIVE_MAX_THREADS ? n : OLIVE_MAX_THREADS;
    return n < j->kb ? n : j->kb;
}

static void workers_free(band_worker *wk, size_t n)
{
    for (size_t i = 0; wk && i < n; i++) {
        free(wk[i].band);
        free(wk[i].fs);
        free(wk[i].bytes);
        free(wk[i].zps);
    }
    free(wk);
}

static band_worker *workers_new(const quant_job *j)
{
    band_worker *wk = calloc(j->n_workers, sizeof *wk);
    for (size_t i = 0; wk && i < j->n_workers; i++) {
        wk[i].j = j;
        wk[i].first = i;
        wk[i].bad = j->kb;
        wk[i].band = malloc(j->bs * j->chunk * sizeof *wk[i].band);
        wk[i].fs = malloc(olive_blockq_band_scratch_floats(j->chunk) * sizeof *wk[i].fs);
        wk[i].bytes = malloc(olive_blockq_band_scratch_bytes(j->p, j->chunk));
        wk[i].zps = malloc(j->chunk);
        if (!wk[i].band || !wk[i].fs || !wk[i].bytes || !wk[i].zps) {
            workers_free(wk, i + 1);
            return NULL;
        }
    }
    return wk;
}

/* Runs the workers: worker 0 on this thread, the others on new threads (or here as well,
 * one after another, when a thread cannot be started). Returns the first bad band. */
static size_t run_workers(band_worker *wk, size_t n)
{
    size_t bad = SIZE_MAX;
    olive_run_threads(run_worker, wk, sizeof *wk, n);
    for (size_t i = 0; i < n; i++)
        bad = wk[i].bad < bad ? wk[i].bad : bad;
    return bad;
}

void olive_quant_out_free(olive_quant_out *o)
{
    olive_blob_unref(o->codes);
    olive_blob_unref(o->scales);
    olive_blob_unref(o->zps);
    memset(o, 0, sizeof *o);
}

int olive_quantize_weight(const olive_blockq *p, const oir_tensor *t, const char *node, olive_quant_out *o)
{
    quant_job j = {.p = p, .t = t, .src = oir_tensor_data(t)};
    band_worker *wk = NULL;
    size_t bad;
    int rc = OLIVE_OK;

    if (p->algorithm == OLIVE_BLOCKQ_HQQ)
        return olive_hqq_quantize(t, p->block_size, node, o);
    if (p->algorithm == OLIVE_BLOCKQ_KQUANT)
        return olive_kquant_quantize(p, t, node, o);
    memset(o, 0, sizeof *o);
    j.k = (size_t)t->dims[0];
    j.cols = (size_t)t->dims[1];
    j.bs = (size_t)p->block_size;
    j.kb = (j.k + j.bs - 1) / j.bs;
    j.blob = olive_blockq_blob_size(p);
    j.zpb = olive_blockq_zp_bytes(p, j.kb);
    j.es = p->half_scales ? 2 : 4;
    j.chunk = j.cols < COLUMN_CHUNK ? j.cols : COLUMN_CHUNK;
    j.kernel = p->algorithm == OLIVE_BLOCKQ_RTN ? olive_blockq_band_rtn : olive_blockq_band_default;
    j.n_workers = worker_count(&j);
    if (!(wk = workers_new(&j)) || olive_blob_alloc(&o->codes, j.cols * j.kb * j.blob) != OLIVE_OK ||
        olive_blob_alloc(&o->scales, j.cols * j.kb * j.es) != OLIVE_OK ||
        (!p->symmetric &&
         (olive_blob_alloc(&o->zps, j.cols * j.zpb) != OLIVE_OK || !(j.zp_codes = malloc(j.cols * j.kb))))) {
        rc = olive_fail(OLIVE_ENOMEM, "out of memory quantizing '%s' [%zu, %zu]", t->name, j.k, j.cols);
        goto done;
    }
    j.codes = (uint8_t *)o->codes->data;
    j.scales = (uint8_t *)o->scales->data;
    if ((bad = run_workers(wk, j.n_workers)) < j.kb) {
        rc = report_band(&j, node, bad);
        goto done;
    }
    if (o->zps) {
        uint8_t *zps = (uint8_t *)o->zps->data;
        for (size_t c = 0; c < j.cols; c++) {
            olive_blockq_zp_init(p, zps + c * j.zpb, j.kb);
            for (size_t b = 0; b < j.kb; b++)
                olive_blockq_zp_store(p, zps + c * j.zpb, b, j.zp_codes[c * j.kb + b]);
        }
    }
    for (size_t c = 0; c < j.cols; c++)
        olive_blockq_finish_channel(p, j.codes + c * j.kb * j.blob, j.k);
done:
    workers_free(wk, j.n_workers);
    free(j.zp_codes);
    if (rc != OLIVE_OK)
        olive_quant_out_free(o);
    return rc;
}
