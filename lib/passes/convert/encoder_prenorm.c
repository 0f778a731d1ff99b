/* Pre-norm transformer layers and patch embeddings, shared by the vision and CLIP encoders
 * (see enc_stack in encoder.h). The layout follows what onnxruntime's transformers optimizer
 * writes for ViT and CLIP: one LayerNormalization before the first layer, then per layer two
 * SkipLayerNormalization nodes, each adding a sublayer's output and bias to the residual stream
 * and normalizing it for the next sublayer (the layer's second norm, or the next layer's first,
 * or the norm after the stack), with the sum passed on as its fourth output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "passes/convert/encoder.h"

#define ARRAY(a) (sizeof(a) / sizeof *(a)), (a)
#define NAME_LEN 200

/* One-output node. */
static int node1(const enc_weights *w, oir_node **n, const char *op, const char *domain, size_t n_in,
                 const char *const *in, const char *out)
{
    return enc_node(w->g, n, op, domain, n_in, in, 1, &out);
}

/* Copies the checkpoint norm `norm` (prefixed) to "<onnx>.weight" / "<onnx>.bias". */
static int norm_init(const enc_weights *w, const char *norm, const char *onnx, int64_t hidden)
{
    char src[NAME_LEN + 8], dst[NAME_LEN + 8];
    const char *suffix[2] = {"weight", "bias"};
    for (int k = 0; k < 2; k++) {
        snprintf(src, sizeof src, "%s.%s", norm, suffix[k]);
        snprintf(dst, sizeof dst, "%s.%s", onnx, suffix[k]);
        OLIVE_TRY(enc_copy(w, src, dst, w->dtype, 1, &hidden));
    }
    return OLIVE_OK;
}

int enc_layer_norm(const enc_weights *w, const char *norm, const char *onnx_norm, int64_t hidden, double eps,
                   const char *in, const char *out)
{
    char g[NAME_LEN + 8], b[NAME_LEN + 8];
    oir_node *n;
    OLIVE_TRY(norm_init(w, norm, onnx_norm, hidden));
    snprintf(g, sizeof g, "%s.weight", onnx_norm);
    snprintf(b, sizeof b, "%s.bias", onnx_norm);
    const char *ins[] = {in, g, b};
    OLIVE_TRY(node1(w, &n, "LayerNormalization", "", ARRAY(ins), out));
    OLIVE_TRY(oir_node_set_attr_int(n, "axis", -1));
    return oir_node_set_attr_float(n, "epsilon", (float)eps);
}

/* SkipLayerNormalization(in + skip + bias) with norm "<norm>.weight/.bias": outputs the
 * normalized value `out` and, when `sum` is set, the sum itself. */
static int skip_norm(const enc_stack *s, const char *in, const char *skip, const char *norm, const char *bias,
                     const char *out, const char *sum)
{
    char g[NAME_LEN + 8], b[NAME_LEN + 8];
    oir_node *n;
    snprintf(g, sizeof g, "%s.weight", norm);
    snprintf(b, sizeof b, "%s.bias", norm);
    const char *ins[] = {in, skip, g, b, bias};
    const char *outs[] = {out, "", "", sum};
    OLIVE_TRY(enc_node(s->w->g, &n, "SkipLayerNormalization", "com.microsoft", ARRAY(ins), sum ? 4 : 1, outs));
    return oir_node_set_attr_float(n, "epsilon", (float)s->eps);
}

/* The feed-forward activation of `in` + `bias`, fused with the bias where onnxruntime has such
 * an op (BiasGelu, FastGelu); QuickGelu and Relu take the sum. */
static int activation(const enc_stack *s, const char *in, const char *bias, const char *out)
{
    char sum[NAME_LEN + 8];
    oir_node *n;
    const char *ins[] = {in, bias};
    if (s->act == ENC_ACT_GELU)
        return node1(s->w, NULL, "BiasGelu", "com.microsoft", ARRAY(ins), out);
    if (s->act == ENC_ACT_GELU_TANH)
        return node1(s->w, NULL, "FastGelu", "com.microsoft", ARRAY(ins), out);
    snprintf(sum, sizeof sum, "%s.biased", in);
    OLIVE_TRY(node1(s->w, NULL, "Add", "", ARRAY(ins), sum));
    const char *act[] = {sum};
    if (s->act == ENC_ACT_RELU)
        return node1(s->w, NULL, "Relu", "", ARRAY(act), out);
    OLIVE_TRY(node1(s->w, &n, "QuickGelu", "com.microsoft", ARRAY(act), out));
    return oir_node_set_attr_float(n, "alpha", 1.702f); /* x * sigmoid(1.702 x), CLIP's quick_gelu */
}

/* "<stem><i>.<part>" (checkpoint) into buf. */
static void part_name(char *buf, const enc_stack *s, int64_t i, const char *part)
{
    snprintf(buf, NAME_LEN, "%s%lld.%s", s->layer, (long long)i, part);
}

/* "<onnx>layers.<i>.<what>" into buf. */
static void onnx_name(char *buf, const enc_stack *s, int64_t i, const char *what)
{
    snprintf(buf, NAME_LEN, "%slayers.%lld.%s", s->onnx, (long long)i, what);
}

static int layer(const enc_stack *s, int64_t i, const char *normed, const char *resid, const char *out_normed,
                 const char *out_sum)
{
    const enc_weights *w = s->w;
    char q[NAME_LEN], k[NAME_LEN], v[NAME_LEN], src[NAME_LEN], next[NAME_LEN], next_onnx[NAME_LEN];
    char qkv[NAME_LEN], o[NAME_LEN], ln2[NAME_LEN], f1[NAME_LEN], f2[NAME_LEN];
    char att[NAME_LEN], proj[NAME_LEN], ffn_in[NAME_LEN], mid[NAME_LEN], up[NAME_LEN], act[NAME_LEN], down[NAME_LEN];
    char wq[NAME_LEN + 8], bq[NAME_LEN + 8], wo[NAME_LEN + 8], bo[NAME_LEN + 8], w1[NAME_LEN + 8], b1[NAME_LEN + 8];
    char w2[NAME_LEN + 8], b2[NAME_LEN + 8];
    int last = i + 1 == s->layers;
    oir_node *n;

    onnx_name(qkv, s, i, "attention.qkv");
    onnx_name(o, s, i, "attention.output");
    onnx_name(ln2, s, i, "ffn_norm");
    onnx_name(f1, s, i, "ffn.input");
    onnx_name(f2, s, i, "ffn.output");
    part_name(q, s, i, s->q);
    part_name(k, s, i, s->k);
    part_name(v, s, i, s->v);
    OLIVE_TRY(enc_packed_qkv(w, q, k, v, qkv, s->hidden));
    part_name(src, s, i, s->o);
    OLIVE_TRY(enc_linear(w, src, o, w->dtype, s->hidden, s->hidden));
    part_name(src, s, i, s->ln2);
    OLIVE_TRY(norm_init(w, src, ln2, s->hidden));
    part_name(src, s, i, s->fc1);
    OLIVE_TRY(enc_linear(w, src, f1, w->dtype, s->hidden, s->intermediate));
    part_name(src, s, i, s->fc2);
    OLIVE_TRY(enc_linear(w, src, f2, w->dtype, s->intermediate, s->hidden));
    /* The norm the layer's last skip norm applies: the next layer's first, or the final one. */
    if (!last) {
        part_name(next, s, i + 1, s->ln1);
        onnx_name(next_onnx, s, i + 1, "attention_norm");
        OLIVE_TRY(norm_init(w, next, next_onnx, s->hidden));
    } else if (s->final_norm) {
        snprintf(next_onnx, sizeof next_onnx, "%sfinal_norm", s->onnx);
        OLIVE_TRY(norm_init(w, s->final_norm, next_onnx, s->hidden));
    }

    onnx_name(att, s, i, "attention.context");
    onnx_name(proj, s, i, "attention.projected");
    onnx_name(ffn_in, s, i, "ffn_norm.output");
    onnx_name(mid, s, i, "attention.residual");
    onnx_name(up, s, i, "ffn.up");
    onnx_name(act, s, i, "ffn.activated");
    onnx_name(down, s, i, "ffn.down");
    snprintf(wq, sizeof wq, "%s.weight", qkv);
    snprintf(bq, sizeof bq, "%s.bias", qkv);
    snprintf(wo, sizeof wo, "%s.weight", o);
    snprintf(bo, sizeof bo, "%s.bias", o);
    snprintf(w1, sizeof w1, "%s.weight", f1);
    snprintf(b1, sizeof b1, "%s.bias", f1);
    snprintf(w2, sizeof w2, "%s.weight", f2);
    snprintf(b2, sizeof b2, "%s.bias", f2);

    const char *attn[] = {normed, wq, bq, s->mask ? s->mask : ""};
    OLIVE_TRY(node1(w, &n, "Attention", "com.microsoft", s->mask ? 4 : 3, attn, att));
    OLIVE_TRY(oir_node_set_attr_int(n, "num_heads", s->heads));
    if (s->causal)
        OLIVE_TRY(oir_node_set_attr_int(n, "unidirectional", 1));
    const char *mo[] = {att, wo};
    OLIVE_TRY(node1(w, NULL, "MatMul", "", ARRAY(mo), proj));
    OLIVE_TRY(skip_norm(s, proj, resid, ln2, bo, ffn_in, mid));
    const char *m1[] = {ffn_in, w1};
    OLIVE_TRY(node1(w, NULL, "MatMul", "", ARRAY(m1), up));
    OLIVE_TRY(activation(s, up, b1, act));
    const char *m2[] = {act, w2};
    OLIVE_TRY(node1(w, NULL, "MatMul", "", ARRAY(m2), down));
    if (last && !s->final_norm) {
        char biased[NAME_LEN + 8];
        snprintf(biased, sizeof biased, "%s.biased", down);
        const char *a1[] = {down, b2};
        OLIVE_TRY(node1(w, NULL, "Add", "", ARRAY(a1), biased));
        const char *a2[] = {biased, mid};
        return node1(w, NULL, "Add", "", ARRAY(a2), out_sum);
    }
    return skip_norm(s, down, mid, next_onnx, b2, out_normed, last ? NULL : out_sum);
}

int enc_prenorm_stack(const enc_stack *s, const char *input, const char *output, olive_pass_ctx *ctx, double from,
                      double to)
{
    char src[NAME_LEN], norm[NAME_LEN], normed[2][NAME_LEN], resid[2][NAME_LEN];
    int cur = 0;

    part_name(src, s, 0, s->ln1);
    onnx_name(norm, s, 0, "attention_norm");
    onnx_name(normed[0], s, 0, "attention_norm.output");
    OLIVE_TRY(enc_layer_norm(s->w, src, norm, s->hidden, s->eps, input, normed[0]));
    snprintf(resid[0], NAME_LEN, "%s", input);
    for (int64_t i = 0; i < s->layers; i++) {
        int last = i + 1 == s->layers;
        if (last) {
            snprintf(normed[!cur], NAME_LEN, "%s", output);
            snprintf(resid[!cur], NAME_LEN, "%s", output);
        } else {
            onnx_name(normed[!cur], s, i + 1, "attention_norm.output");
            onnx_name(resid[!cur], s, i, "output");
        }
        OLIVE_TRY(layer(s, i, normed[cur], resid[cur], normed[!cur], resid[!cur]));
        cur = !cur;
        OLIVE_TRY(olive_pass_progress(ctx, from + (to - from) * (double)(i + 1) / (double)s->layers));
    }
    return OLIVE_OK;
}

int enc_patch_embeddings(const enc_weights *w, const char *onnx, const char *pixels, const char *conv,
                         const char *conv_bias, int64_t hidden, int64_t channels, int64_t patch, int64_t patches,
                         float *cls, float *pos, const char *out)
{
    char cw[NAME_LEN], cb[NAME_LEN], conv_out[NAME_LEN], flat[NAME_LEN], seq[NAME_LEN], pos_name[NAME_LEN];
    char with_pos[NAME_LEN], cls_name[NAME_LEN], batch[NAME_LEN], cls_shape[NAME_LEN], cls_batch[NAME_LEN];
    char flat_shape[NAME_LEN], tail[NAME_LEN];
    int64_t wdims[4] = {hidden, channels, patch, patch}, pdims[3] = {1, patches, hidden}, cdims[3] = {1, 1, hidden};
    int64_t flat_dims[3] = {0, hidden, -1}, three = 3, two = 2, tail_dims[2] = {1, hidden};
    int64_t kernel[2] = {patch, patch};
    float *data = NULL;
    oir_node *n;
    int rc;

    snprintf(cw, sizeof cw, "%sembeddings.patch.weight", onnx);
    snprintf(cb, sizeof cb, "%sembeddings.patch.bias", onnx);
    snprintf(pos_name, sizeof pos_name, "%sembeddings.patch_positions", onnx);
    snprintf(cls_name, sizeof cls_name, "%sembeddings.class_token", onnx);
    /* The class token's position is added once, here: cls + pos[0]; the patches get pos[1:]. */
    for (int64_t j = 0; j < hidden; j++)
        cls[j] += pos[j];
    memmove(pos, pos + hidden, (size_t)(patches * hidden) * sizeof *pos);
    rc = enc_add_init(w, cls_name, w->dtype, 3, cdims, cls);
    if (rc != OLIVE_OK) {
        free(pos);
        return rc;
    }
    OLIVE_TRY(enc_add_init(w, pos_name, w->dtype, 3, pdims, pos));
    OLIVE_TRY(enc_read(w, 1, conv, 4, wdims, &data));
    OLIVE_TRY(enc_add_init(w, cw, w->dtype, 4, wdims, data));
    if (conv_bias) {
        OLIVE_TRY(enc_read(w, 1, conv_bias, 1, &hidden, &data));
        OLIVE_TRY(enc_add_init(w, cb, w->dtype, 1, &hidden, data));
    }

    snprintf(conv_out, sizeof conv_out, "%sembeddings.patch.output", onnx);
    snprintf(flat_shape, sizeof flat_shape, "%sembeddings.flat_shape", onnx);
    snprintf(flat, sizeof flat, "%sembeddings.flat", onnx);
    snprintf(seq, sizeof seq, "%sembeddings.patches", onnx);
    snprintf(with_pos, sizeof with_pos, "%sembeddings.patches_positioned", onnx);
    snprintf(batch, sizeof batch, "%sembeddings.batch", onnx);
    snprintf(tail, sizeof tail, "%sembeddings.class_tail", onnx);
    snprintf(cls_shape, sizeof cls_shape, "%sembeddings.class_shape", onnx);
    snprintf(cls_batch, sizeof cls_batch, "%sembeddings.class_tokens", onnx);

    const char *ci[] = {pixels, cw, cb};
    OLIVE_TRY(node1(w, &n, "Conv", "", conv_bias ? 3 : 2, ci, conv_out));
    OLIVE_TRY(oir_node_set_attr_ints(n, "kernel_shape", kernel, 2));
    OLIVE_TRY(oir_node_set_attr_ints(n, "strides", kernel, 2));
    OLIVE_TRY(enc_int64(w->g, flat_shape, 1, &three, flat_dims, 3));
    const char *ri[] = {conv_out, flat_shape};
    OLIVE_TRY(node1(w, NULL, "Reshape", "", ARRAY(ri), flat));
    const char *ti[] = {flat};
    int64_t perm[3] = {0, 2, 1};
    OLIVE_TRY(node1(w, &n, "Transpose", "", ARRAY(ti), seq));
    OLIVE_TRY(oir_node_set_attr_ints(n, "perm", perm, 3));
    const char *ai[] = {seq, pos_name};
    OLIVE_TRY(node1(w, NULL, "Add", "", ARRAY(ai), with_pos));

    const char *si[] = {pixels};
    OLIVE_TRY(node1(w, &n, "Shape", "", ARRAY(si), batch));
    OLIVE_TRY(oir_node_set_attr_int(n, "start", 0));
    OLIVE_TRY(oir_node_set_attr_int(n, "end", 1));
    OLIVE_TRY(enc_int64(w->g, tail, 1, &two, tail_dims, 2));
    const char *cci[] = {batch, tail};
    OLIVE_TRY(node1(w, &n, "Concat", "", ARRAY(cci), cls_shape));
    OLIVE_TRY(oir_node_set_attr_int(n, "axis", 0));
    const char *ei[] = {cls_name, cls_shape};
    OLIVE_TRY(node1(w, NULL, "Expand", "", ARRAY(ei), cls_batch));
    const char *fi[] = {cls_batch, with_pos};
    OLIVE_TRY(node1(w, &n, "Concat", "", ARRAY(fi), out));
    return oir_node_set_attr_int(n, "axis", 1);
}
