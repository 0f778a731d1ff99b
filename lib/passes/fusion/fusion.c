/* The fuse pass: transformer subgraphs become onnxruntime's fused ops (Olive's
 * OrtTransformersOptimization, onnxruntime's transformers optimizer with opt_level 0).
 *
 * The graph is first cleaned by the peephole pass (constants folded into initializers,
 * Identity and same-type Casts removed), then each fusion runs as one sweep in onnxruntime's
 * order, then the peephole pass removes what the fusions left unused. float16=true runs the
 * float16 pass last. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/float16/float16.h"
#include "passes/fusion/fusion.h"
#include "passes/fusion/fusion_internal.h"
#include "passes/peephole/peephole.h"

/* Runs another pass with its defaults except `keys`/`vals`. */
static int run_nested(const olive_pass_def *d, oir_model *m, size_t n_set, const char *const *keys,
                      const char *const *vals)
{
    char **values = olive_calloc(d->n_params ? d->n_params : 1, sizeof *values);
    olive_pass_args args = {d, values};
    int rc;
    if (!values)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < d->n_params; i++) {
        values[i] = (char *)d->params[i].default_value;
        for (size_t k = 0; k < n_set; k++)
            if (!strcmp(keys[k], d->params[i].name))
                values[i] = (char *)vals[k];
    }
    rc = olive_pass_run_def(d, &args, m, NULL);
    free(values);
    return rc;
}

/* The peephole runs around the fusions merge no initializers: onnxruntime keeps each fused
 * Attention's packed bias its own, and runs a BERT-base 3-4% slower when twelve share one (as
 * equal all-zero biases would after a merge). Keeping them also makes fusing idempotent. */
static const char *const no_dedup_keys[] = {"deduplicate_initializers"};
static const char *const no_dedup_vals[] = {"false"};

int fuse_prune(fuse_ctx *c)
{
    static const char *const keys[] = {"fold_constants", "remove_noops", "simplify_reshapes",
                                       "deduplicate_initializers"};
    static const char *const vals[] = {"false", "false", "false", "false"};
    return run_nested(&olive_pass_peephole, c->m, 4, keys, vals);
}

static int has_input_named(const oir_graph *g, const char *prefix)
{
    for (size_t i = 0; i < g->n_inputs; i++)
        if (!strncmp(g->inputs[i].name, prefix, strlen(prefix)))
            return 1;
    return 0;
}

static int count_op(const oir_graph *g, const char *op)
{
    int n = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        n += !strcmp(g->nodes[i]->op_type, op);
    return n;
}

/* model_type=auto: image inputs mean a ViT; cache inputs, position ids or the tanh GELU of
 * GPT-2 mean a decoder; anything else is taken as a BERT-like encoder. */
static int detect_model_type(const oir_graph *g)
{
    if (has_input_named(g, "pixel_values"))
        return FUSE_MODEL_VIT;
    if (has_input_named(g, "past_key_values") || has_input_named(g, "past_") || has_input_named(g, "position_ids"))
        return FUSE_MODEL_GPT2;
    if (has_input_named(g, "token_type_ids"))
        return FUSE_MODEL_BERT;
    if (count_op(g, "Tanh") > 0 || count_op(g, "Trilu") > 0)
        return FUSE_MODEL_GPT2;
    return FUSE_MODEL_BERT;
}

static int model_type_of(const char *s, const oir_graph *g)
{
    if (!strcmp(s, "bert"))
        return FUSE_MODEL_BERT;
    if (!strcmp(s, "vit"))
        return FUSE_MODEL_VIT;
    if (!strcmp(s, "clip"))
        return FUSE_MODEL_CLIP;
    if (!strcmp(s, "auto"))
        return detect_model_type(g);
    return FUSE_MODEL_GPT2; /* gpt2 and the decoders Olive maps to it */
}

static const char *const model_type_names[] = {"bert", "gpt2", "vit", "clip"};

/* onnxruntime's FusionOptions defaults for a model type, then this pass's switches. */
static int build_options(fuse_options *o, const olive_pass_args *args, const oir_graph *g)
{
    memset(o, 0, sizeof *o);
    o->model_type = model_type_of(olive_args_string(args, "model_type"), g);
    o->num_heads = olive_args_int(args, "num_heads");
    o->hidden_size = olive_args_int(args, "hidden_size");
    o->enable_gelu = o->enable_layer_norm = o->enable_attention = o->enable_rotary_embeddings = 1;
    o->enable_skip_layer_norm = o->enable_embed_layer_norm = o->enable_bias_skip_layer_norm = 1;
    o->enable_bias_gelu = 1;
    if (o->model_type == FUSE_MODEL_CLIP)
        o->enable_embed_layer_norm = 0;
    o->use_raw_attention_mask = o->model_type != FUSE_MODEL_BERT;
    o->use_multi_head_attention = olive_args_bool(args, "use_multi_head_attention");
    o->use_gqa = olive_args_bool(args, "use_gqa");
    o->enable_gelu_approximation = olive_args_bool(args, "enable_gelu_approximation");
    OLIVE_TRY(fuse_parse_options(o, olive_args_string(args, "optimization_options")));
    return OLIVE_OK;
}

static int run_fusions(fuse_ctx *c)
{
    const fuse_options *o = &c->opt;
    if (o->enable_layer_norm) {
        OLIVE_TRY(fuse_sweep(c, fuse_layer_norm));
        OLIVE_TRY(fuse_sweep(c, fuse_simplified_layer_norm));
    }
    if (o->enable_gelu) {
        OLIVE_TRY(fuse_sweep(c, fuse_gelu));
        OLIVE_TRY(fuse_sweep(c, fuse_fast_gelu));
        OLIVE_TRY(fuse_sweep(c, fuse_quick_gelu));
    }
    if (o->enable_skip_layer_norm)
        OLIVE_TRY(fuse_sweep(c, fuse_skip_layer_norm));
    if (o->enable_rotary_embeddings)
        OLIVE_TRY(fuse_sweep(c, fuse_rotary_embeddings));
    if (o->enable_attention)
        OLIVE_TRY(fuse_sweep(c, fuse_attention));
    if (o->enable_attention && o->model_type == FUSE_MODEL_GPT2)
        OLIVE_TRY(fuse_sweep(c, fuse_decoder_attention));
    if (o->use_gqa)
        OLIVE_TRY(fuse_sweep(c, fuse_group_query_attention));
    if (o->enable_embed_layer_norm)
        OLIVE_TRY(fuse_sweep(c, fuse_embed_layer_norm));
    if (o->enable_bias_gelu)
        OLIVE_TRY(fuse_sweep(c, fuse_bias_gelu));
    if (o->enable_bias_skip_layer_norm)
        OLIVE_TRY(fuse_sweep(c, fuse_bias_skip_layer_norm));
    if (o->enable_gelu_approximation)
        OLIVE_TRY(fuse_sweep(c, fuse_gelu_approximation));
    return OLIVE_OK;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    fuse_ctx c;
    int rc;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.g = m->graph;
    OLIVE_TRY(build_options(&c.opt, args, m->graph));
    if (!olive_args_bool(args, "only_onnxruntime")) {
        OLIVE_TRY(run_nested(&olive_pass_peephole, m, 1, no_dedup_keys, no_dedup_vals));
        OLIVE_TRY(olive_pass_progress(ctx, 0.2));
        rc = run_fusions(&c);
        olive_strmap_free(&c.ranks);
        if (rc != OLIVE_OK)
            return rc;
        OLIVE_TRY(olive_pass_progress(ctx, 0.8));
        OLIVE_TRY(run_nested(&olive_pass_peephole, m, 1, no_dedup_keys, no_dedup_vals));
        OLIVE_INFO(
            "fuse (%s): %d LayerNormalization, %d SimplifiedLayerNormalization, %d SkipLayerNormalization, "
            "%d SkipSimplifiedLayerNormalization, %d Gelu, %d BiasGelu, %d FastGelu, %d QuickGelu, %d Attention, "
            "%d MultiHeadAttention, %d EmbedLayerNormalization, %d RotaryEmbedding, %d GroupQueryAttention",
            model_type_names[c.opt.model_type], count_op(m->graph, "LayerNormalization"),
            count_op(m->graph, "SimplifiedLayerNormalization"), count_op(m->graph, "SkipLayerNormalization"),
            count_op(m->graph, "SkipSimplifiedLayerNormalization"), count_op(m->graph, "Gelu"),
            count_op(m->graph, "BiasGelu"), count_op(m->graph, "FastGelu"), count_op(m->graph, "QuickGelu"),
            count_op(m->graph, "Attention"), count_op(m->graph, "MultiHeadAttention"),
            count_op(m->graph, "EmbedLayerNormalization"), count_op(m->graph, "RotaryEmbedding"),
            count_op(m->graph, "GroupQueryAttention"));
    }
    if (olive_args_bool(args, "float16")) {
        const char *keys[] = {"keep_io_types"};
        const char *vals[] = {olive_args_bool(args, "keep_io_types") ? "true" : "false"};
        OLIVE_TRY(run_nested(&olive_pass_float16, m, 1, keys, vals));
    }
    return olive_pass_progress(ctx, 1.0);
}

static const olive_param_spec params[] = {
    {.name = "model_type",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "auto",
     .choices = "auto|bert|gpt2|vit|clip|llama|mistral|qwen|qwen2|qwen3|phi|phi3|gemma|t5|bart|swin|gpt_neox",
     .help = "Model family; auto detects it from the graph",
     .details = "Decoders (llama, mistral, qwen, phi, ...) use the gpt2 fusions"},
    {.name = "num_heads",
     .type = OLIVE_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 65536,
     .help = "Attention heads where the graph's reshapes do not tell them; 0: detect",
     .details = "Detection uses the head size and the Q weight"},
    {.name = "hidden_size",
     .type = OLIVE_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 1048576,
     .help = "Accepted for Olive configurations; the hidden size is read from the Q, K, V weights"},
    {.name = "opt_level",
     .type = OLIVE_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 99,
     .help = "onnxruntime graph optimization level; this pass applies the fusions only (level 0)",
     .details = "onnxruntime applies its own graph optimizations when a session loads the model"},
    {.name = "only_onnxruntime",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Skip the fusions (leave graph optimization to onnxruntime sessions)"},
    {.name = "use_gpu",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Accepted for Olive configurations; the fused ops are the same"},
    {.name = "float16",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Convert the fused model to float16 (the float16 pass)"},
    {.name = "keep_io_types",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "With float16: keep float32 graph inputs and outputs"},
    {.name = "use_multi_head_attention",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Fuse attention to MultiHeadAttention (separate Q, K, V) instead of Attention"},
    {.name = "use_gqa",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Decoder MultiHeadAttention becomes GroupQueryAttention (Olive's use_gqa)"},
    {.name = "enable_gelu_approximation",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Replace Gelu and BiasGelu by the tanh approximation FastGelu (changes outputs slightly)"},
    {.name = "optimization_options",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "onnxruntime FusionOptions switches, as JSON or enable_gelu=true,... lists",
     .details = "A JSON object or a name=true|false list, e.g. enable_attention=false,enable_gelu=true"},
};

static const olive_pass_type olive_types[] = {
    {"OrtTransformersOptimization", NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL},
};

const olive_pass_def olive_pass_fuse = {
    .name = "fuse",
    .summary = "Fuses transformer subgraphs into onnxruntime's normalization, Gelu and attention ops",
    .details = "LayerNormalization, SimplifiedLayerNormalization, Gelu, FastGelu, BiasGelu, QuickGelu, "
               "SkipLayerNormalization, SkipSimplifiedLayerNormalization, Attention, MultiHeadAttention, "
               "EmbedLayerNormalization, RotaryEmbedding, GroupQueryAttention (use_gqa)",
    /* Which fusions apply, and their layouts, follow the execution provider. */
    .flags = OLIVE_PASS_DEPENDS_ON_ACCELERATOR,
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
