/* quant_format=QDQ of the quantize pass, as ONNX Runtime's default weight-only quantizer
 * writes it: MatMul(A, B) becomes
 *
 *   DequantizeLinear(<B>_DQ_Q4, <B>_DQ_scales[, <B>_DQ_zero_points], axis 0, block_size)
 *     -> <B>_DQ_Q4_output;  MatMul(A, <B>_DQ_Q4_output)   (nodes <mm>_DQ_Q4, <mm>_matmul_Q4)
 *
 * with B's codes as INT4 (symmetric) or UINT4 [K, N] in B's own order, scales [k_blocks, N]
 * in B's type and UINT4 zero points [k_blocks, N]. Scales and zero points are those of the
 * MatMulNBits form (ONNX Runtime's two kernels find the same ones); symmetric codes are
 * signed (zero point 0). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/quant/quantize_internal.h"
#include "passes/quant/quantize_weight.h"

static unsigned nibble(const uint8_t *b, size_t i)
{
    return i % 2 ? b[i / 2] >> 4 : b[i / 2] & 0x0f;
}

static void set_nibble(uint8_t *b, size_t i, unsigned v)
{
    b[i / 2] = (uint8_t)(i % 2 ? (b[i / 2] & 0x0f) | (v & 0x0f) << 4 : (b[i / 2] & 0xf0) | (v & 0x0f));
}

/* DequantizeLinear's tensors from the MatMulNBits form's scales and zero points (the same
 * blocks) and B itself: the codes are rounded before the zero point is added, as ONNX
 * Runtime's QDQ kernel does (a value halfway between two codes may round the other way). */
static int relayout(const olive_blockq *p, const oir_tensor *t, const olive_quant_out *o, olive_blob **codes,
                    olive_blob **scales, olive_blob **zps)
{
    const size_t k = (size_t)t->dims[0], n = (size_t)t->dims[1], bs = (size_t)p->block_size;
    const size_t kb = (k + bs - 1) / bs, es = p->half_scales ? 2 : 4, zpb = olive_blockq_zp_bytes(p, kb);
    const void *w = oir_tensor_data(t);
    const float lo = p->symmetric ? -8.0f : 0.0f, hi = p->symmetric ? 7.0f : 15.0f;
    *codes = *scales = *zps = NULL;
    if (olive_blob_alloc(codes, (k * n + 1) / 2) != OLIVE_OK || olive_blob_alloc(scales, kb * n * es) != OLIVE_OK ||
        (o->zps && olive_blob_alloc(zps, (kb * n + 1) / 2) != OLIVE_OK)) {
        olive_blob_unref(*codes);
        olive_blob_unref(*scales);
        *codes = *scales = NULL;
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    for (size_t c = 0; c < n; c++)
        for (size_t b = 0; b < kb; b++) {
            memcpy((uint8_t *)(*scales)->data + (b * n + c) * es, o->scales->data + (c * kb + b) * es, es);
            if (o->zps)
                set_nibble((uint8_t *)(*zps)->data, b * n + c, nibble(o->zps->data + c * zpb, b));
        }
    for (size_t i = 0; i < k; i++)
        for (size_t c = 0; c < n; c++) {
            const size_t b = i / bs;
            const float s = olive_blockq_load(o->scales->data, c * kb + b, p->half_scales);
            const float rs = s != 0.0f ? 1.0f / s : 0.0f;
            const float zp = o->zps ? (float)nibble(o->zps->data + c * zpb, b) : 0.0f;
            float q = roundf(olive_blockq_load(w, i * n + c, t->dtype == OIR_FLOAT16) * rs) + zp;
            q = !(q >= lo) ? lo : q > hi ? hi : q; /* NaN cannot occur: B is finite */
            set_nibble((uint8_t *)(*codes)->data, i * n + c, (unsigned)(int)q);
        }
    return OLIVE_OK;
}

/* The tensors and DequantizeLinear of weight t, made once per graph; *out their names. */
static int dequantized(quant_run *r, const olive_blockq *p, oir_graph *g, size_t *at, const oir_tensor *t,
                       quantized_weight **out)
{
    const int kind = r->tied ? QW_QDQ_TRANSPOSED : QW_QDQ;
    const oir_node *mm = g->nodes[*at];
    const size_t k = (size_t)t->dims[0], n = (size_t)t->dims[1],
                 kb = (k + (size_t)p->block_size - 1) / (size_t)p->block_size;
    const olive_blockq pq = {OLIVE_BLOCKQ_DEFAULT, 4, p->block_size, p->symmetric, t->dtype == OIR_FLOAT16};
    static const char *const suffix[3] = {"_DQ_Q4", "_DQ_scales", "_DQ_zero_points"};
    quantized_weight w = {0};
    olive_quant_out o;
    olive_blob *blobs[3];
    oir_node *dq = NULL;
    char *name = NULL;
    int rc = OLIVE_OK;
    if ((*out = olive_qrun_cached(r, t->name, kind)))
        return OLIVE_OK;
    OLIVE_TRY(olive_quantize_weight(&pq, t, olive_qnode_label(mm), &o));
    rc = relayout(&pq, t, &o, &blobs[0], &blobs[1], &blobs[2]);
    olive_quant_out_free(&o);
    if (rc != OLIVE_OK)
        return rc;
    w.kind = kind;
    if (!(w.source = olive_strdup(t->name)))
        rc = olive_fail(OLIVE_ENOMEM, "out of memory");
    for (int i = 0; i < 3 && rc == OLIVE_OK; i++) {
        const int64_t dims[2] = {i == 0 ? (int64_t)k : (int64_t)kb, (int64_t)n};
        const int32_t dtype = i == 1 ? t->dtype : i == 2 || !pq.symmetric ? OIR_UINT4 : OIR_INT4;
        char *base;
        if (!blobs[i])
            continue;
        base = olive_asprintf("%s%s%s", t->name, kind == QW_QDQ_TRANSPOSED ? "_T" : "", suffix[i]);
        w.names[i] = base ? oir_graph_unique_name(g, base) : NULL;
        free(base);
        rc = w.names[i] ? olive_qrun_add_tensor(r, g, w.names[i], dtype, 2, dims, blobs[i])
                        : olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    for (int i = 0; i < 3; i++)
        olive_blob_unref(blobs[i]);
    if (rc == OLIVE_OK) {
        char *base = olive_asprintf("%s_output", w.names[0]);
        w.dq_output = base ? oir_graph_unique_name(g, base) : NULL;
        free(base);
        name = mm->name[0] ? olive_asprintf("%s_DQ_Q4", mm->name) : olive_strdup("");
        if (w.dq_output && name) {
            const char *ins[3] = {w.names[0], w.names[1], w.names[2]};
            dq = oir_node_new("DequantizeLinear", "", name, w.names[2] ? 3 : 2, ins, 1,
                              (const char *const *)&w.dq_output);
        }
        if (!dq || oir_node_set_attr_int(dq, "axis", 0) != OLIVE_OK ||
            oir_node_set_attr_int(dq, "block_size", p->block_size) != OLIVE_OK)
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
        else if ((rc = oir_graph_insert_node(g, *at, dq)) == OLIVE_OK) {
            dq = NULL;
            (*at)++;
        }
    }
    free(name);
    oir_node_free(dq);
    if (rc != OLIVE_OK) {
        olive_qweight_clear(&w);
        return rc;
    }
    return olive_qrun_remember(r, &w, out);
}

int olive_quantize_qdq_node(quant_run *r, const olive_blockq *p, oir_graph *g, size_t *at, const oir_tensor *t)
{
    quantized_weight *w;
    oir_node *mm, *q;
    char *name;
    OLIVE_TRY(dequantized(r, p, g, at, t, &w));
    mm = g->nodes[*at];
    name = mm->name[0] ? olive_asprintf("%s_matmul_Q4", mm->name) : olive_strdup("");
    {
        const char *ins[2] = {mm->inputs[0], w->dq_output};
        q = name ? oir_node_new("MatMul", "", name, 2, ins, 1, (const char *const *)mm->outputs) : NULL;
    }
    free(name);
    if (!q)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    oir_graph_replace_node(g, *at, q);
    return OLIVE_OK;
}
