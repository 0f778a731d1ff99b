/* SmolLM3 (SmolLM3ForCausalLM) on the default decoder build.
 *
 * Llama's layout, but some layers use no position encoding at all (NoPE): config.json
 * "no_rope_layers" holds 1 for a layer that rotates q and k and 0 for one that does not;
 * without it, every no_rope_layer_interval-th layer (the 4th, 8th, ...) is a NoPE layer, as
 * transformers fills the list in. Those layers run GroupQueryAttention without rotary caches.
 * A sliding window (use_sliding_window) applies to the layers layer_types calls
 * "sliding_attention". */
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "core/status.h"
#include "passes/convert/decoder.h"

/* A list of config.json with one entry per layer, or NULL when absent. */
static int per_layer_list(const cvt_decoder *d, const char *key, json_t **out)
{
    json_t *v = json_object_get(d->ck->config, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_array(v) || (int64_t)json_array_size(v) != d->cfg.layers)
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '%s' must list all %" PRId64 " layers", d->ck->path, key,
                          d->cfg.layers);
    *out = v;
    return OLIVE_OK;
}

static int smollm3_configure(cvt_decoder *d)
{
    json_t *nope, *types, *use = json_object_get(d->ck->config, "use_sliding_window");
    double interval = 4, window = 0;
    OLIVE_TRY(per_layer_list(d, "no_rope_layers", &nope));
    for (size_t i = 0; nope && i < json_array_size(nope); i++) {
        json_t *v = json_array_get(nope, i);
        if (!json_is_integer(v) || (json_integer_value(v) != 0 && json_integer_value(v) != 1))
            return olive_fail(OLIVE_EFORMAT, "config.json of '%s': no_rope_layers[%zu] must be 0 or 1", d->ck->path, i);
    }
    OLIVE_TRY(cvt_config_number(d, "no_rope_layer_interval", 1, 1 << 14, &interval, NULL));
    if (interval != (double)(int64_t)interval)
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': 'no_rope_layer_interval' must be an integer",
                          d->ck->path);
    if (!use || !json_is_true(use))
        return OLIVE_OK;
    OLIVE_TRY(cvt_config_number(d, "sliding_window", 1, 1e12, &window, NULL));
    OLIVE_TRY(per_layer_list(d, "layer_types", &types));
    if (window < 1 || !types)
        return olive_fail(OLIVE_EFORMAT,
                          "config.json of '%s': use_sliding_window needs 'sliding_window' and 'layer_types'",
                          d->ck->path);
    OLIVE_TRY(cvt_config_layer_types(d, types));
    if (window < (double)d->cfg.context_length)
        d->cfg.sliding_window = (int64_t)window;
    return OLIVE_OK;
}

static int smollm3_layer_is_sliding(const cvt_decoder *d, int64_t layer)
{
    const char *t = json_string_value(json_array_get(json_object_get(d->ck->config, "layer_types"), (size_t)layer));
    return t && !strcmp(t, "sliding_attention");
}

static int smollm3_layer_has_rotary(const cvt_decoder *d, int64_t layer)
{
    json_t *nope = json_object_get(d->ck->config, "no_rope_layers"), *interval;
    if (nope && json_is_array(nope))
        return json_integer_value(json_array_get(nope, (size_t)layer)) != 0;
    interval = json_object_get(d->ck->config, "no_rope_layer_interval");
    int64_t every = interval && json_is_number(interval) ? (int64_t)json_number_value(interval) : 4;
    return (layer + 1) % every != 0;
}

const cvt_decoder_arch cvt_arch_smollm3 = {
    .architecture = "SmolLM3ForCausalLM",
    .genai_type = "smollm3",
    .configure = smollm3_configure,
    .layer_is_sliding = smollm3_layer_is_sliding,
    .layer_has_rotary = smollm3_layer_has_rotary,
};
