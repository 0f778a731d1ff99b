/* Block quantization of a band of Linear weight rows (each row one MatMulNBits channel),
 * rows shared among the online cores. Every row is quantized alone, so the bytes do not depend
 * on the number of threads. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "passes/convert/decoder_internal.h"
#include "core/half.h"
#include "core/parallel.h"
#include "kernels/kquant_block.h"

/* Values below which a band is quantized on the calling thread. */
#define THREAD_MIN_VALUES ((int64_t)1 << 18)

typedef struct rows_job {
    const cvt_quant_band *b;
    int64_t first, last; /* rows [first, last) */
    int64_t bad_row;     /* first row holding a non-finite value, or -1 */
    size_t bad_col;
} rows_job;

/* k_quant's rows: each block (the last zero-padded) searched alone, its codes packed. */
static void kquant_rows(rows_job *j)
{
    const cvt_quant_band *b = j->b;
    const olive_blockq *q = b->q;
    const size_t bs = (size_t)q->block_size, in = (size_t)b->in, kb = (in + bs - 1) / bs;
    const size_t blob = olive_blockq_blob_size(q), zpb = olive_blockq_zp_bytes(q, kb);
    float block[KQ_MAX_BLOCK];
    uint8_t codes[KQ_MAX_BLOCK];
    for (int64_t r = j->first; r < j->last; r++) {
        const float *v = b->values + (size_t)r * in;
        uint8_t *out = b->codes + (size_t)r * kb * blob, *zps = b->zps + (size_t)r * zpb;
        for (size_t i = 0; i < in; i++)
            if (!isfinite(v[i])) {
                j->bad_row = r;
                j->bad_col = i;
                return;
            }
        olive_blockq_zp_init(q, zps, kb);
        for (size_t k = 0; k < kb; k++) {
            size_t len = in - k * bs < bs ? in - k * bs : bs;
            float scale;
            uint8_t zp;
            memset(block, 0, bs * sizeof *block);
            memcpy(block, v + k * bs, len * sizeof *block);
            olive_kquant_block(q->bits, block, bs, b->kquant_in_order, codes, &scale, &zp);
            for (size_t i = 0; i < blob; i++)
                out[k * blob + i] = q->bits == 8 ? codes[i] : (uint8_t)(codes[2 * i] | codes[2 * i + 1] << 4);
            if (q->half_scales) {
                uint16_t h = olive_float_to_half(scale);
                memcpy(b->scales + ((size_t)r * kb + k) * 2, &h, 2);
            } else {
                memcpy(b->scales + ((size_t)r * kb + k) * 4, &scale, 4);
            }
            olive_blockq_zp_store(q, zps, k, zp);
        }
    }
}

static void *quantize_rows(void *arg)
{
    rows_job *j = arg;
    const cvt_quant_band *b = j->b;
    if (b->q->algorithm == OLIVE_BLOCKQ_KQUANT) {
        kquant_rows(j);
        return NULL;
    }
    const olive_blockq *q = b->q;
    const size_t bs = (size_t)q->block_size, in = (size_t)b->in, kb = (in + bs - 1) / bs;
    const size_t blob = olive_blockq_blob_size(q), ses = q->half_scales ? 2 : 4, zpb = olive_blockq_zp_bytes(q, kb);
    for (int64_t r = j->first; r < j->last; r++) {
        const float *v = b->values + (size_t)r * in;
        uint8_t *codes = b->codes + (size_t)r * kb * blob, *scales = b->scales + (size_t)r * kb * ses;
        uint8_t *zps = b->zps ? b->zps + (size_t)r * zpb : NULL;
        if (zps)
            olive_blockq_zp_init(q, zps, kb);
        for (size_t k = 0; k < kb; k++) {
            size_t len = in - k * bs < bs ? in - k * bs : bs;
            uint8_t zp;
            long bad = olive_blockq_block(q, v + k * bs, len, codes + k * blob, scales + k * ses, &zp);
            if (bad >= 0) {
                j->bad_row = r;
                j->bad_col = k * bs + (size_t)bad;
                return NULL;
            }
            if (zps)
                olive_blockq_zp_store(q, zps, k, zp);
        }
        olive_blockq_finish_channel(q, codes, in);
    }
    return NULL;
}

int cvt_quantize_band(const cvt_quant_band *b, int64_t *bad_row, size_t *bad_col)
{
    rows_job jobs[OLIVE_MAX_THREADS];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t n = b->rows * b->in < THREAD_MIN_VALUES || cpus < 2 ? 1
                : cpus > OLIVE_MAX_THREADS                      ? OLIVE_MAX_THREADS
                                                                : cpus;
    if (n > b->rows)
        n = b->rows > 0 ? b->rows : 1;
    for (int64_t i = 0; i < n; i++) {
        jobs[i].b = b;
        jobs[i].first = b->rows * i / n;
        jobs[i].last = b->rows * (i + 1) / n;
        jobs[i].bad_row = -1;
        jobs[i].bad_col = 0;
    }
    olive_run_threads(quantize_rows, jobs, sizeof *jobs, (size_t)n);
    /* Jobs cover rows in order: the first one with a bad row has the first bad row. */
    for (int64_t i = 0; i < n; i++)
        if (jobs[i].bad_row >= 0) {
            *bad_row = jobs[i].bad_row;
            *bad_col = jobs[i].bad_col;
            return -1;
        }
    return 0;
}
