/* The transposed, padded float copy of a weight (see weight_groups.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/blob.h"
#include "core/status.h"
#include "core/half.h"
#include "kernels/blockwise.h"
#include "passes/quant/weight_groups.h"

void olive_store_as(int half, void *out, size_t i, float f)
{
    if (half) {
        uint16_t h = olive_blockq_half_from_double((double)f);
        memcpy((uint8_t *)out + 2 * i, &h, 2);
    } else {
        memcpy((uint8_t *)out + 4 * i, &f, 4);
    }
}

void olive_weight_groups_free(olive_weight_groups *g)
{
    free(g->v);
    memset(g, 0, sizeof *g);
}

int olive_weight_groups_load(olive_weight_groups *g, const oir_tensor *t, size_t block_size, const char *node)
{
    const uint8_t *src = oir_tensor_data(t);
    const size_t es = t->dtype == OIR_FLOAT16 ? 2 : 4;
    size_t bad_r = SIZE_MAX, bad_c = 0;
    float bad_v = 0.0f;
    size_t kept = 0; /* first row whose pages are still mapped */
    memset(g, 0, sizeof *g);
    g->k = (size_t)t->dims[0];
    g->n = (size_t)t->dims[1];
    g->bs = block_size;
    g->kb = (g->k + block_size - 1) / block_size;
    g->n_groups = g->n * g->kb;
    if (!(g->v = calloc(g->n_groups * block_size, sizeof *g->v)))
        return olive_fail(OLIVE_ENOMEM, "out of memory quantizing '%s' [%zu, %zu]", t->name, g->k, g->n);
    /* Row by row, so the source is read once in order and its pages can be dropped. */
    for (size_t r = 0; r < g->k; r++) {
        const uint8_t *row = src + r * g->n * es;
        for (size_t c = 0; c < g->n; c++) {
            float v;
            if (es == 2) {
                uint16_t h;
                memcpy(&h, row + 2 * c, 2);
                v = olive_half_to_float(h);
            } else {
                memcpy(&v, row + 4 * c, 4);
            }
            /* Report the first bad value by column, then row, as the band quantizers do. */
            if (!isfinite(v) && (c < bad_c || bad_r == SIZE_MAX || (c == bad_c && r < bad_r))) {
                bad_r = r;
                bad_c = c;
                bad_v = v;
            }
            g->v[c * g->kb * block_size + r] = v;
        }
        if ((r + 1 - kept) * g->n * es >= ((size_t)1 << 20) || r + 1 == g->k) {
            olive_blob_drop_pages(t->blob, t->offset + kept * g->n * es, (r + 1 - kept) * g->n * es);
            kept = r + 1;
        }
    }
    if (bad_r != SIZE_MAX) {
        olive_weight_groups_free(g);
        return olive_fail(OLIVE_EFORMAT,
                          "weight '%s' of MatMul '%s' holds %g at [%zu, %zu]: quantization needs finite weights",
                          t->name, node, (double)bad_v, bad_r, bad_c);
    }
    return OLIVE_OK;
}
