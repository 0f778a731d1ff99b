/* IBM Granite 3 (GraniteForCausalLM) on the default decoder build.
 *
 * The layout is Llama's; four scalars from config.json change the arithmetic: embeddings are
 * multiplied by embedding_multiplier, attention scores by attention_multiplier (instead of
 * 1/sqrt(head_dim)), each attention and MLP output by residual_multiplier before it joins the
 * residual stream, and the logits are divided by logits_scaling (a multiplication by its
 * inverse, as onnxruntime-genai's builder writes it). */
#include "core/status.h"
#include "passes/convert/decoder.h"

static int granite_configure(cvt_decoder *d)
{
    double embed = 1.0, attn = 1.0, residual = 1.0, logits = 1.0;
    OLIVE_TRY(cvt_config_number(d, "embedding_multiplier", 1e-9, 1e9, &embed, NULL));
    OLIVE_TRY(cvt_config_number(d, "attention_multiplier", 1e-9, 1e9, &attn, NULL));
    OLIVE_TRY(cvt_config_number(d, "residual_multiplier", 1e-9, 1e9, &residual, NULL));
    OLIVE_TRY(cvt_config_number(d, "logits_scaling", 1e-9, 1e9, &logits, NULL));
    /* the builder leaves out a multiplication by 1 for the embeddings and logits only */
    d->cfg.embed_scale = embed != 1.0 ? embed : 0.0;
    d->cfg.attn_scale = (float)attn;
    d->cfg.residual_scale = residual;
    d->cfg.logit_scale = logits != 1.0 ? 1.0 / logits : 0.0;
    return OLIVE_OK;
}

const cvt_decoder_arch cvt_arch_granite = {
    .architecture = "GraniteForCausalLM",
    .genai_type = "granite",
    .configure = granite_configure,
};
