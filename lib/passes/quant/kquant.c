/* k-quant over whole weights (see kquant.h): groups quantized in parallel by the block search
 * of kernels/kquant_block.c, their zero points packed afterwards. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "passes/quant/kquant.h"
#include "core/parallel.h"
#include "kernels/kquant_block.h"
#include "passes/quant/weight_groups.h"

typedef struct kquant_job {
    const olive_blockq *p;
    const olive_weight_groups *g;
    size_t blob;
    int in_order;
    uint8_t *codes, *scales, *zp_codes;
} kquant_job;

/* Groups [begin, end): each writes only its own codes, scale and zero point code. */
static void kquant_range(void *ctx, size_t begin, size_t end)
{
    const kquant_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        uint8_t codes[KQ_MAX_BLOCK], *dst = j->codes + i * j->blob;
        float scale;
        olive_kquant_block(j->p->bits, j->g->v + i * j->g->bs, j->g->bs, j->in_order, codes, &scale, &j->zp_codes[i]);
        for (size_t k = 0; k < j->blob; k++)
            dst[k] = j->p->bits == 8 ? codes[k] : (uint8_t)(codes[2 * k] | codes[2 * k + 1] << 4);
        olive_store_as(j->p->half_scales, j->scales, i, scale);
    }
}

int olive_kquant_quantize(const olive_blockq *p, const oir_tensor *t, const char *node, olive_quant_out *o)
{
    olive_weight_groups g;
    kquant_job j = {p, &g, olive_blockq_blob_size(p), 0, NULL, NULL, NULL};
    const size_t es = p->half_scales ? 2 : 4;
    size_t zpb;
    int rc = OLIVE_OK;
    memset(o, 0, sizeof *o);
    OLIVE_TRY(olive_weight_groups_load(&g, t, (size_t)p->block_size, node));
    zpb = olive_blockq_zp_bytes(p, g.kb);
    /* One block per channel: the reference's [N, block] array is a transposed view then, and
     * numpy sums its rows in order instead of pairwise. */
    j.in_order = g.kb == 1 && g.n > 1;
    if (olive_blob_alloc(&o->codes, g.n_groups * j.blob) != OLIVE_OK ||
        olive_blob_alloc(&o->scales, g.n_groups * es) != OLIVE_OK || olive_blob_alloc(&o->zps, g.n * zpb) != OLIVE_OK ||
        !(j.zp_codes = malloc(g.n_groups))) {
        rc = olive_fail(OLIVE_ENOMEM, "out of memory quantizing '%s' [%zu, %zu]", t->name, g.k, g.n);
        goto done;
    }
    j.codes = (uint8_t *)o->codes->data;
    j.scales = (uint8_t *)o->scales->data;
    olive_parallel_for(g.n_groups, 256, kquant_range, &j);
    /* Zero points share bytes between groups: packed here, after the threads. */
    for (size_t c = 0; c < g.n; c++) {
        uint8_t *row = (uint8_t *)o->zps->data + c * zpb;
        olive_blockq_zp_init(p, row, g.kb);
        for (size_t b = 0; b < g.kb; b++)
            olive_blockq_zp_store(p, row, b, j.zp_codes[c * g.kb + b]);
    }
done:
    free(j.zp_codes);
    olive_weight_groups_free(&g);
    if (rc != OLIVE_OK)
        olive_quant_out_free(o);
    return rc;
}
