/* See nbits_writer.h. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/blob.h"
#include "core/status.h"
#include "kernels/blockwise.h"
#include "passes/calibrate/nbits_writer.h"

/* The float weight of a MatMul this pass quantizes, else NULL. */
oir_tensor *olive_calib_matmul_weight(const oir_graph *g, const oir_node *n)
{
    oir_tensor *t;
    uint64_t want;
    if (strcmp(n->op_type, "MatMul") || (n->domain[0] && strcmp(n->domain, "ai.onnx")) || n->n_inputs != 2 ||
        n->n_outputs != 1 || !n->inputs[0][0] || oir_graph_initializer(g, n->inputs[0]))
        return NULL;
    t = oir_graph_initializer(g, n->inputs[1]);
    if (!t || oir_graph_input_index(g, n->inputs[1]) >= 0 || t->dtype != OIR_FLOAT || t->rank != 2 || t->dims[0] < 1 ||
        t->dims[1] < 1 || !t->blob || oir_tensor_expected_bytes(t, &want) != OLIVE_OK || want != t->nbytes)
        return NULL;
    return t;
}

static int add_init_blob(oir_graph *g, const char *name, int32_t dtype, size_t rank, const int64_t *dims, olive_blob *b)
{
    oir_tensor *t = oir_tensor_new(name, dtype, rank, dims);
    int rc;
    if (!t)
        return OLIVE_ENOMEM;
    if ((rc = oir_tensor_set_blob(t, b, 0, b->size)) != OLIVE_OK || (rc = oir_graph_add_initializer(g, t)) != OLIVE_OK)
        oir_tensor_free(t);
    return rc;
}

/* Packs codes [N][K] (row n: output channel n) into MatMulNBits' tensors and replaces node
 * `at` by MatMulNBits. */
int olive_calib_write_nbits(oir_graph *g, size_t at, const oir_tensor *w, int bits, size_t bs, int sym,
                            const uint8_t *codes, const float *scales, const float *zeros, const int32_t *g_idx)
{
    oir_node *n = g->nodes[at], *q = NULL;
    const int64_t k = w->dims[0], cols = w->dims[1];
    const size_t k_blocks = ((size_t)k + bs - 1) / bs;
    olive_blockq p = {OLIVE_BLOCKQ_RTN, bits, (int)bs, sym, 0};
    size_t blob = olive_blockq_blob_size(&p), zpb = olive_blockq_zp_bytes(&p, k_blocks);
    /* With g_idx, ONNX Runtime 1.32's CPU kernel reads packed uint8 zero points in another order
     * than without it (measured: its results differ); float zero points it reads as written. */
    const int float_zp = g_idx != NULL;
    if (float_zp)
        zpb = k_blocks * sizeof(float);
    olive_blob *bc = NULL, *bsc = NULL, *bz = NULL, *bg = NULL;
    char *names[4] = {NULL, NULL, NULL, NULL}, *node_name = NULL;
    int rc = OLIVE_OK;
    if ((rc = olive_blob_alloc(&bc, (size_t)cols * k_blocks * blob)) != OLIVE_OK ||
        (rc = olive_blob_alloc(&bsc, (size_t)cols * k_blocks * sizeof(float))) != OLIVE_OK ||
        (!sym && (rc = olive_blob_alloc(&bz, (size_t)cols * zpb)) != OLIVE_OK) ||
        (g_idx && (rc = olive_blob_alloc(&bg, (size_t)k * sizeof *g_idx)) != OLIVE_OK))
        goto done;
    if (bg)
        memcpy((uint8_t *)bg->data, g_idx, (size_t)k * sizeof *g_idx);
    for (int64_t c = 0; c < cols; c++) {
        uint8_t *row = (uint8_t *)bc->data + (size_t)c * k_blocks * blob;
        for (int64_t i = 0; i < k; i++) {
            uint8_t code = codes[(size_t)c * (size_t)k + (size_t)i];
            if (bits == 8)
                row[i] = code;
            else
                row[i / 2] |= (uint8_t)(i % 2 ? code << 4 : code);
        }
        memcpy((uint8_t *)bsc->data + (size_t)c * k_blocks * sizeof(float), scales + (size_t)c * k_blocks,
               k_blocks * sizeof(float));
        if (bz) {
            uint8_t *zrow = (uint8_t *)bz->data + (size_t)c * zpb;
            if (float_zp) {
                memcpy(zrow, zeros + (size_t)c * k_blocks, k_blocks * sizeof(float));
            } else {
                olive_blockq_zp_init(&p, zrow, k_blocks);
                for (size_t b = 0; b < k_blocks; b++)
                    olive_blockq_zp_store(&p, zrow, b, (uint8_t)zeros[(size_t)c * k_blocks + b]);
            }
        }
    }
    {
        const char *fmt[4] = {"%s_Q%d", "%s_scales", "%s_zero_points", "%s_g_idx"};
        for (int i = 0; i < 4; i++) {
            if ((i == 2 && !bz) || (i == 3 && !bg))
                continue;
            char *base = olive_asprintf(fmt[i], w->name, bits);
            names[i] = base ? oir_graph_unique_name(g, base) : NULL;
            free(base);
            if (!names[i]) {
                rc = OLIVE_ENOMEM;
                goto done;
            }
        }
    }
    {
        int64_t d3[3] = {cols, (int64_t)k_blocks, (int64_t)blob}, d2[2] = {cols, (int64_t)k_blocks},
                dz[2] = {cols, float_zp ? (int64_t)k_blocks : (int64_t)zpb}, dg[1] = {k};
        if ((rc = add_init_blob(g, names[0], OIR_UINT8, 3, d3, bc)) != OLIVE_OK ||
            (rc = add_init_blob(g, names[1], OIR_FLOAT, 2, d2, bsc)) != OLIVE_OK ||
            (bz && (rc = add_init_blob(g, names[2], float_zp ? OIR_FLOAT : OIR_UINT8, 2, dz, bz)) != OLIVE_OK) ||
            (bg && (rc = add_init_blob(g, names[3], OIR_INT32, 1, dg, bg)) != OLIVE_OK))
            goto done;
    }
    {
        /* g_idx is input 4: an absent zero point is then the empty name */
        const char *ins[5] = {n->inputs[0], names[0], names[1], names[2] ? names[2] : "", names[3]};
        node_name = n->name[0] ? olive_asprintf("%s_Q%d", n->name, bits) : olive_strdup("");
        if (!node_name || !(q = oir_node_new("MatMulNBits", "com.microsoft", node_name,
                                             bg   ? 5
                                             : bz ? 4
                                                  : 3,
                                             ins, 1, (const char *const *)n->outputs))) {
            rc = OLIVE_ENOMEM;
            goto done;
        }
        if ((rc = oir_node_set_attr_int(q, "K", k)) != OLIVE_OK ||
            (rc = oir_node_set_attr_int(q, "N", cols)) != OLIVE_OK ||
            (rc = oir_node_set_attr_int(q, "bits", bits)) != OLIVE_OK ||
            (rc = oir_node_set_attr_int(q, "block_size", (int64_t)bs)) != OLIVE_OK) {
            oir_node_free(q);
            goto done;
        }
        oir_graph_replace_node(g, at, q);
    }
done:
    olive_blob_unref(bc);
    olive_blob_unref(bsc);
    if (bz)
        olive_blob_unref(bz);
    if (bg)
        olive_blob_unref(bg);
    for (int i = 0; i < 4; i++)
        free(names[i]);
    free(node_name);
    return rc;
}


int olive_calib_drop_unused(oir_graph *g, const char *const *names, size_t n)
{
    oir_graph_index ix;
    OLIVE_TRY(oir_graph_index_build(&ix, g));
    for (size_t i = 0; i < n; i++) {
        long at = oir_graph_initializer_index(g, names[i]);
        if (at >= 0 && oir_index_use_count(&ix, names[i]) == 0 && oir_graph_input_index(g, names[i]) < 0)
            oir_graph_remove_initializer(g, (size_t)at);
    }
    oir_graph_index_free(&ix);
    return OLIVE_OK;
}
