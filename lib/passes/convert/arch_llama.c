/* Llama-family decoders: Llama 2/3/3.1 (SmolLM2, TinyLlama), Mistral, Qwen2 (q/k/v biases)
 * and Qwen3 (per-head q/k RMSNorm). They differ from the default build only in config. */
#include <jansson.h>

#include "core/status.h"
#include "passes/convert/decoder.h"

static int configure_mistral(cvt_decoder *d)
{
    json_t *w = json_object_get(d->ck->config, "sliding_window");
    if (w && json_is_integer(w) && json_integer_value(w) > 0 && json_integer_value(w) < d->cfg.context_length)
        d->cfg.sliding_window = (int64_t)json_integer_value(w);
    return OLIVE_OK;
}

/* Qwen2 always has q/k/v biases (and none on o_proj); a sliding window only when enabled. */
static int configure_qwen2(cvt_decoder *d)
{
    json_t *use = json_object_get(d->ck->config, "use_sliding_window");
    d->cfg.qkv_bias = 1;
    d->cfg.o_bias = 0;
    if (use && json_is_true(use))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': use_sliding_window=true (per-layer windows of "
                          "Qwen2) is not supported",
                          d->ck->path);
    return OLIVE_OK;
}

static int configure_qwen3(cvt_decoder *d)
{
    json_t *use = json_object_get(d->ck->config, "use_sliding_window");
    d->cfg.qk_norm = CVT_QK_NORM_HEAD;
    if (use && json_is_true(use))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': use_sliding_window=true (per-layer windows of "
                          "Qwen3) is not supported",
                          d->ck->path);
    return OLIVE_OK;
}

const cvt_decoder_arch cvt_arch_llama = {.architecture = "LlamaForCausalLM", .genai_type = "llama"};
const cvt_decoder_arch cvt_arch_mistral = {.architecture = "MistralForCausalLM",
                                           .genai_type = "mistral",
                                           .configure = configure_mistral};
const cvt_decoder_arch cvt_arch_qwen2 = {.architecture = "Qwen2ForCausalLM",
                                         .genai_type = "qwen2",
                                         .configure = configure_qwen2};
const cvt_decoder_arch cvt_arch_qwen3 = {.architecture = "Qwen3ForCausalLM",
                                         .genai_type = "qwen3",
                                         .configure = configure_qwen3};
