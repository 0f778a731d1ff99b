/* OLMo 2 (Olmo2ForCausalLM) on the default decoder build.
 *
 * The norms come after the branches instead of before them: a layer adds
 * post_attention_layernorm(attention(h)) to h, then post_feedforward_layernorm(mlp(h)); the
 * inputs of attention and MLP are the residual stream itself, unnormed. q and k are RMS-normed
 * over the whole projection (all heads at once, q_norm [heads * head_dim]) before rotary.
 * The final norm stays a SkipSimplifiedLayerNormalization that adds the last MLP branch.
 *
 * onnxruntime-genai has no "olmo2" model type; the graph is self-contained, so the folder says
 * "olmo", which selects the same decoder-only pipeline. */
#include <inttypes.h>

#include "core/status.h"
#include "passes/convert/decoder.h"

static int olmo2_configure(cvt_decoder *d)
{
    d->cfg.qk_norm = CVT_QK_NORM_FULL;
    return OLIVE_OK;
}

/* Adds the pending branch into the residual stream ("/model/layers.N/residual_add/Add_<which>"). */
static int join_residual(cvt_decoder *d, int64_t layer, int which, cvt_residual *r)
{
    const char *name;
    if (!r->pending)
        return OLIVE_OK;
    if (!(name = cvt_str(d, "/model/layers.%" PRId64 "/residual_add/Add_%d", layer, which)))
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_node(d, "Add", "", name, 2, (const char *[]){r->residual, r->pending}, 1, NULL, &r->residual));
    r->pending = NULL;
    return OLIVE_OK;
}

/* One branch and the norm of its output, left pending on the residual stream. */
static int branch(cvt_decoder *d, int64_t layer, int mlp, cvt_residual *r)
{
    const char *norm = mlp ? "post_feedforward_layernorm" : "post_attention_layernorm", *y, *path, *w;
    if (mlp)
        OLIVE_TRY((d->arch->mlp ? d->arch->mlp : cvt_mlp)(d, layer, r->residual, &y));
    else
        OLIVE_TRY((d->arch->attention ? d->arch->attention : cvt_attention)(d, layer, r->residual, &y));
    if (!(path = cvt_str(d, "/model/layers.%" PRId64 "/%s", layer, norm)) ||
        !(w = cvt_str(d, "model.layers.%" PRId64 ".%s.weight", layer, norm)))
        return OLIVE_ENOMEM;
    return cvt_norm(d, path, y, w, d->cfg.hidden, &r->pending);
}

static int olmo2_layer(cvt_decoder *d, int64_t layer, cvt_residual *r)
{
    OLIVE_TRY(join_residual(d, layer, 1, r));
    OLIVE_TRY(branch(d, layer, 0, r));
    OLIVE_TRY(join_residual(d, layer, 2, r));
    return branch(d, layer, 1, r);
}

const cvt_decoder_arch cvt_arch_olmo2 = {
    .architecture = "Olmo2ForCausalLM",
    .genai_type = "olmo",
    .configure = olmo2_configure,
    .layer = olmo2_layer,
};
