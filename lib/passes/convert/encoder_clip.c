/* CLIP encoders (see encoder_clip.h): the text and vision towers over the shared pre-norm
 * layer stack (encoder_prenorm.c), their pooling, and CLIPModel's projections and logits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/encoder.h"
#include "passes/convert/encoder_clip.h"

#define ARRAY(a) (sizeof(a) / sizeof *(a)), (a)
#define NAME_LEN 200

/* Which towers a model has, and whether a single tower ends in its projection. */
enum { CLIP_TEXT = 1, CLIP_VISION = 2, CLIP_BOTH = 3, CLIP_PROJECTED = 4 };

typedef struct clip_tower {
    int64_t hidden, heads, layers, intermediate;
    int64_t vocab, positions, eos;  /* text */
    int64_t image, patch, channels; /* vision */
    double eps;
    enc_act act;
} clip_tower;

typedef struct clip_config {
    int towers; /* CLIP_TEXT, CLIP_VISION or both (CLIPModel), | CLIP_PROJECTED */
    clip_tower text, vision;
    int64_t projection;
} clip_config;

static const struct {
    const char *name;
    int towers;
} known[] = {
    {"CLIPModel", CLIP_BOTH},
    {"CLIPTextModel", CLIP_TEXT},
    {"CLIPVisionModel", CLIP_VISION},
    {"clip", CLIP_BOTH},
    {"clip_text_model", CLIP_TEXT},
    {"clip_vision_model", CLIP_VISION},
    {"CLIPTextModelWithProjection", CLIP_TEXT | CLIP_PROJECTED},
    {"CLIPVisionModelWithProjection", CLIP_VISION | CLIP_PROJECTED},
};

static int towers_of(const char *architecture)
{
    for (size_t i = 0; architecture && i < sizeof known / sizeof *known; i++)
        if (!strcmp(known[i].name, architecture))
            return known[i].towers;
    return 0;
}

int cvt_clip_handles(const char *architecture)
{
    return towers_of(architecture) != 0;
}

static const char *architecture_of(const ofmt_checkpoint *ck)
{
    json_t *a = json_object_get(ck->config, "architectures");
    if (json_is_array(a) && json_is_string(json_array_get(a, 0)))
        return json_string_value(json_array_get(a, 0));
    a = json_object_get(ck->config, "model_type");
    return json_is_string(a) ? json_string_value(a) : NULL;
}

/* The sizes every tower has. */
static int read_common(const ofmt_checkpoint *ck, const json_t *o, const char *sec, clip_tower *t)
{
    OLIVE_TRY(enc_json_int(ck, o, sec, "hidden_size", -1, 1, 65536, &t->hidden));
    OLIVE_TRY(enc_json_int(ck, o, sec, "num_attention_heads", -1, 1, 1024, &t->heads));
    OLIVE_TRY(enc_json_int(ck, o, sec, "num_hidden_layers", -1, 1, 1024, &t->layers));
    OLIVE_TRY(enc_json_int(ck, o, sec, "intermediate_size", -1, 1, 1 << 20, &t->intermediate));
    OLIVE_TRY(enc_json_act(ck, o, sec, "hidden_act", "quick_gelu", 1, &t->act));
    OLIVE_TRY(enc_json_eps(ck, o, sec, "layer_norm_eps", 1e-5, &t->eps));
    if (t->hidden % t->heads)
        return olive_fail(OLIVE_EFORMAT,
                          "config.json of '%s': %s%shidden_size %lld is not a multiple of the %lld heads", ck->path,
                          sec, sec[0] ? "." : "", (long long)t->hidden, (long long)t->heads);
    return OLIVE_OK;
}

static int read_text(const ofmt_checkpoint *ck, const json_t *o, const char *sec, clip_tower *t)
{
    OLIVE_TRY(read_common(ck, o, sec, t));
    OLIVE_TRY(enc_json_int(ck, o, sec, "vocab_size", -1, 1, (int64_t)1 << 24, &t->vocab));
    OLIVE_TRY(enc_json_int(ck, o, sec, "max_position_embeddings", -1, 1, 1 << 20, &t->positions));
    return enc_json_int(ck, o, sec, "eos_token_id", -1, 0, t->vocab - 1, &t->eos);
}

static int read_vision(const ofmt_checkpoint *ck, const json_t *o, const char *sec, clip_tower *t)
{
    OLIVE_TRY(read_common(ck, o, sec, t));
    OLIVE_TRY(enc_json_int(ck, o, sec, "num_channels", 3, 1, 64, &t->channels));
    OLIVE_TRY(enc_json_side(ck, o, sec, "image_size", 224, &t->image));
    OLIVE_TRY(enc_json_side(ck, o, sec, "patch_size", 32, &t->patch));
    if (t->image % t->patch)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': %s%simage_size %lld is not a multiple of patch_size %lld", ck->path,
                          sec, sec[0] ? "." : "", (long long)t->image, (long long)t->patch);
    return OLIVE_OK;
}

static int section(const ofmt_checkpoint *ck, const char *name, const json_t **out)
{
    json_t *v = json_object_get(ck->config, name);
    if (!json_is_object(v))
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': missing '%s' (an object)", ck->path, name);
    *out = v;
    return OLIVE_OK;
}

static int read_config(clip_config *c, const ofmt_checkpoint *ck)
{
    const json_t *text = NULL, *vision = NULL;
    memset(c, 0, sizeof *c);
    if (!json_is_object(ck->config))
        return olive_fail(OLIVE_EFORMAT, "checkpoint '%s' has no config.json object", ck->path);
    if (!(c->towers = towers_of(architecture_of(ck))))
        return olive_fail(OLIVE_EUNSUPPORTED, "checkpoint '%s': not a CLIP model", ck->path);
    if (c->towers != CLIP_BOTH) {
        if (c->towers & CLIP_TEXT)
            OLIVE_TRY(read_text(ck, ck->config, "", &c->text));
        else
            OLIVE_TRY(read_vision(ck, ck->config, "", &c->vision));
        if (!(c->towers & CLIP_PROJECTED))
            return OLIVE_OK;
        return enc_json_int(ck, ck->config, "", "projection_dim", 512, 1, 65536, &c->projection);
    }
    OLIVE_TRY(section(ck, "text_config", &text));
    OLIVE_TRY(section(ck, "vision_config", &vision));
    OLIVE_TRY(read_text(ck, text, "text_config", &c->text));
    OLIVE_TRY(read_vision(ck, vision, "vision_config", &c->vision));
    return enc_json_int(ck, ck->config, "", "projection_dim", 512, 1, 65536, &c->projection);
}

/* The tower's tensor prefix: `prefix` ("text_model." / "vision_model.": CLIPModel, and single
 * towers saved by transformers 4) or none (single towers saved by transformers 5). */
static int find_prefix(enc_weights *w, const char *prefix, const char *probe)
{
    w->prefix = prefix;
    if (enc_has(w, probe))
        return OLIVE_OK;
    w->prefix = "";
    if (enc_has(w, probe))
        return OLIVE_OK;
    return olive_fail(OLIVE_EFORMAT, "checkpoint '%s': tensor '%s' is missing (also as %s%s)", w->ck->path, probe,
                      prefix, probe);
}

/* "<onnx><what>" into buf. */
static const char *named(char *buf, const char *onnx, const char *what)
{
    snprintf(buf, NAME_LEN, "%s%s", onnx, what);
    return buf;
}

/* A one-output node of the default domain. */
static int op1(const enc_weights *w, oir_node **n, const char *op, size_t n_in, const char *const *in, const char *out)
{
    return enc_node(w->g, n, op, "", n_in, in, 1, &out);
}

static int cast(const enc_weights *w, const char *in, const char *out, int32_t to)
{
    oir_node *n;
    const char *ins[] = {in};
    OLIVE_TRY(enc_node(w->g, &n, "Cast", "", ARRAY(ins), 1, &out));
    return oir_node_set_attr_int(n, "to", to);
}

static void stack_common(enc_stack *s, const enc_weights *w, const clip_tower *t, const char *onnx)
{
    memset(s, 0, sizeof *s);
    s->w = w;
    s->layer = "encoder.layers.";
    s->q = "self_attn.q_proj";
    s->k = "self_attn.k_proj";
    s->v = "self_attn.v_proj";
    s->o = "self_attn.out_proj";
    s->ln1 = "layer_norm1";
    s->ln2 = "layer_norm2";
    s->fc1 = "mlp.fc1";
    s->fc2 = "mlp.fc2";
    s->onnx = onnx;
    s->hidden = t->hidden;
    s->heads = t->heads;
    s->intermediate = t->intermediate;
    s->layers = t->layers;
    s->eps = t->eps;
    s->act = t->act;
}

/* The text tower: token and position embeddings, causal layers with the padding mask, the final
 * norm; `hidden` gets the float last hidden state, `pooled` the state at the end-of-text
 * token. */
static int text_tower(const enc_weights *w, const clip_tower *t, const char *onnx, const char *hidden,
                      const char *pooled, olive_pass_ctx *ctx, double from, double to)
{
    char tok[NAME_LEN], pos[NAME_LEN], words[NAME_LEN], seq[NAME_LEN], zero_name[NAME_LEN], positions[NAME_LEN];
    char emb[NAME_LEN], mask[NAME_LEN], out[NAME_LEN], eos[NAME_LEN], is_eos[NAME_LEN], ids[NAME_LEN], at[NAME_LEN];
    int64_t wdims[2] = {t->vocab, t->hidden}, pdims[2] = {t->positions, t->hidden}, zero = 0, one = 1;
    enc_stack s;
    oir_node *n;

    named(tok, onnx, "embeddings.token_embedding");
    named(pos, onnx, "embeddings.position_embedding");
    OLIVE_TRY(enc_copy(w, "embeddings.token_embedding.weight", tok, w->dtype, 2, wdims));
    OLIVE_TRY(enc_copy(w, "embeddings.position_embedding.weight", pos, w->dtype, 2, pdims));
    const char *gi[] = {tok, "input_ids"};
    OLIVE_TRY(op1(w, NULL, "Gather", ARRAY(gi), named(words, onnx, "embeddings.tokens")));
    /* Positions 0 .. sequence-1: the first rows of the table. */
    OLIVE_TRY(enc_int64(w->g, named(zero_name, onnx, "embeddings.zero"), 1, &one, &zero, 1));
    const char *si[] = {"input_ids"};
    OLIVE_TRY(op1(w, &n, "Shape", ARRAY(si), named(seq, onnx, "embeddings.sequence_length")));
    OLIVE_TRY(oir_node_set_attr_int(n, "start", 1));
    OLIVE_TRY(oir_node_set_attr_int(n, "end", 2));
    const char *sl[] = {pos, zero_name, seq, zero_name};
    OLIVE_TRY(op1(w, NULL, "Slice", ARRAY(sl), named(positions, onnx, "embeddings.positions")));
    const char *ai[] = {words, positions};
    OLIVE_TRY(op1(w, NULL, "Add", ARRAY(ai), named(emb, onnx, "embeddings.output")));
    OLIVE_TRY(cast(w, "attention_mask", named(mask, onnx, "attention_mask_int32"), OIR_INT32));

    stack_common(&s, w, t, onnx);
    s.final_norm = "final_layer_norm";
    s.mask = mask;
    s.causal = 1;
    if (w->dtype == OIR_FLOAT) {
        OLIVE_TRY(enc_prenorm_stack(&s, emb, hidden, ctx, from, to));
    } else {
        OLIVE_TRY(enc_prenorm_stack(&s, emb, named(out, onnx, "last_hidden_state.half"), ctx, from, to));
        OLIVE_TRY(cast(w, out, hidden, OIR_FLOAT));
    }

    /* The end-of-text position: the first eos_token_id, or with transformers' legacy
     * eos_token_id 2 the largest token id (the first of them). */
    if (t->eos == 2) {
        OLIVE_TRY(cast(w, "input_ids", named(ids, onnx, "pooler.ids_int32"), OIR_INT32));
    } else {
        OLIVE_TRY(enc_int64(w->g, named(eos, onnx, "pooler.eos_token_id"), 0, NULL, &t->eos, 1));
        const char *ei[] = {"input_ids", eos};
        OLIVE_TRY(op1(w, NULL, "Equal", ARRAY(ei), named(is_eos, onnx, "pooler.is_eos")));
        OLIVE_TRY(cast(w, is_eos, named(ids, onnx, "pooler.is_eos_int32"), OIR_INT32));
    }
    const char *am[] = {ids};
    OLIVE_TRY(op1(w, &n, "ArgMax", ARRAY(am), named(at, onnx, "pooler.eos_position")));
    OLIVE_TRY(oir_node_set_attr_int(n, "axis", -1));
    OLIVE_TRY(oir_node_set_attr_int(n, "keepdims", 1));
    const char *gn[] = {hidden, at};
    OLIVE_TRY(enc_node(w->g, &n, "GatherND", "", ARRAY(gn), 1, &pooled));
    return oir_node_set_attr_int(n, "batch_dims", 1);
}

/* The vision tower: patch embeddings, pre_layrnorm, the layers; `hidden` gets the float last
 * hidden state (unnormalized, as transformers returns it), `pooled` post_layernorm of the
 * class token. */
static int vision_tower(const enc_weights *w, const clip_tower *t, const char *onnx, const char *hidden,
                        const char *pooled, olive_pass_ctx *ctx, double from, double to)
{
    char pixels[NAME_LEN], emb[NAME_LEN], pre[NAME_LEN], out[NAME_LEN], first_index[NAME_LEN], first[NAME_LEN];
    char norm[NAME_LEN], post_out[NAME_LEN];
    int64_t side = t->image / t->patch, patches = side * side, zero = 0;
    int64_t cdim = t->hidden, pdims[2] = {patches + 1, t->hidden};
    float *cls = NULL, *pos = NULL;
    enc_stack s;
    oir_node *n;
    int rc;

    if (w->dtype != OIR_FLOAT)
        OLIVE_TRY(cast(w, "pixel_values", named(pixels, onnx, "pixel_values.half"), w->dtype));
    else
        snprintf(pixels, sizeof pixels, "pixel_values");
    OLIVE_TRY(enc_read(w, 1, "embeddings.class_embedding", 1, &cdim, &cls));
    if ((rc = enc_read(w, 1, "embeddings.position_embedding.weight", 2, pdims, &pos)) != OLIVE_OK) {
        free(cls);
        return rc;
    }
    OLIVE_TRY(enc_patch_embeddings(w, onnx, pixels, "embeddings.patch_embedding.weight", NULL, t->hidden, t->channels,
                                   t->patch, patches, cls, pos, named(emb, onnx, "embeddings.output")));
    OLIVE_TRY(enc_layer_norm(w, "pre_layrnorm", named(norm, onnx, "pre_layrnorm"), t->hidden, t->eps, emb,
                             named(pre, onnx, "pre_layrnorm.output")));
    stack_common(&s, w, t, onnx);
    if (w->dtype == OIR_FLOAT)
        snprintf(out, sizeof out, "%s", hidden);
    else
        named(out, onnx, "last_hidden_state.half");
    OLIVE_TRY(enc_prenorm_stack(&s, pre, out, ctx, from, to));
    OLIVE_TRY(enc_int64(w->g, named(first_index, onnx, "pooler.first_index"), 0, NULL, &zero, 1));
    const char *gi[] = {out, first_index};
    OLIVE_TRY(op1(w, &n, "Gather", ARRAY(gi), named(first, onnx, "pooler.class_token")));
    OLIVE_TRY(oir_node_set_attr_int(n, "axis", 1));
    if (w->dtype == OIR_FLOAT)
        return enc_layer_norm(w, "post_layernorm", named(norm, onnx, "post_layernorm"), t->hidden, t->eps, first,
                              pooled);
    OLIVE_TRY(enc_layer_norm(w, "post_layernorm", named(norm, onnx, "post_layernorm"), t->hidden, t->eps, first,
                             named(post_out, onnx, "pooler.half")));
    OLIVE_TRY(cast(w, post_out, pooled, OIR_FLOAT));
    return cast(w, out, hidden, OIR_FLOAT);
}

/* CLIPModel's head: projections, unit length, logits scaled by exp(logit_scale). */
static int clip_head(const enc_weights *w, const clip_config *c, const char *text_pooled, const char *image_pooled)
{
    int64_t one = 1;
    float *scale = NULL;
    oir_node *n;

    OLIVE_TRY(enc_gemm(w, "text_projection", 0, 0, text_pooled, c->text.hidden, c->projection, "text.projected"));
    OLIVE_TRY(
        enc_gemm(w, "visual_projection", 0, 0, image_pooled, c->vision.hidden, c->projection, "vision.projected"));
    const char *tn[] = {"text.projected"}, *in[] = {"vision.projected"};
    const char *te = "text_embeds", *ie = "image_embeds";
    OLIVE_TRY(enc_node(w->g, &n, "LpNormalization", "", ARRAY(tn), 1, &te));
    OLIVE_TRY(oir_node_set_attr_int(n, "axis", -1));
    OLIVE_TRY(oir_node_set_attr_int(n, "p", 2));
    OLIVE_TRY(enc_node(w->g, &n, "LpNormalization", "", ARRAY(in), 1, &ie));
    OLIVE_TRY(oir_node_set_attr_int(n, "axis", -1));
    OLIVE_TRY(oir_node_set_attr_int(n, "p", 2));

    OLIVE_TRY(enc_read(w, 0, "logit_scale", 0, NULL, &scale));
    scale[0] = expf(scale[0]);
    OLIVE_TRY(enc_add_init(w, "logit_scale.exp", OIR_FLOAT, 1, &one, scale));
    const char *mm[] = {"text_embeds", "image_embeds"}, *sim = "similarity";
    OLIVE_TRY(enc_node(w->g, &n, "Gemm", "", ARRAY(mm), 1, &sim));
    OLIVE_TRY(oir_node_set_attr_int(n, "transB", 1));
    const char *mu[] = {sim, "logit_scale.exp"}, *lt = "logits_per_text", *li = "logits_per_image";
    OLIVE_TRY(enc_node(w->g, NULL, "Mul", "", ARRAY(mu), 1, &lt));
    const char *tr[] = {lt};
    int64_t perm[2] = {1, 0};
    OLIVE_TRY(enc_node(w->g, &n, "Transpose", "", ARRAY(tr), 1, &li));
    return oir_node_set_attr_ints(n, "perm", perm, 2);
}

int cvt_clip_build(oir_model *m, const ofmt_checkpoint *ck, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    clip_config c;
    enc_weights text, vision, top;
    int32_t dt;
    int bits = 0, both;
    double share, mid;
    const char *ids_params[2] = {"batch", "sequence"}, *img_params[4] = {"batch", NULL, NULL, NULL};
    const char *hid_params[3] = {"batch", "sequence", NULL}, *vec_params[2] = {"batch", NULL};
    int64_t ids_dims[2] = {-1, -1};

    if (!m || !ck)
        return olive_fail(OLIVE_EINVALID, "cvt_clip_build: model and checkpoint are required");
    if (!m->graph && !(m->graph = oir_graph_new("clip")))
        return OLIVE_ENOMEM;
    if (m->graph->n_nodes || m->graph->n_inputs || m->graph->n_initializers)
        return olive_fail(OLIVE_EINVALID, "cvt_clip_build: the model's graph is not empty");
    OLIVE_TRY(enc_precision(args, "CLIP encoders", &dt, &bits));
    OLIVE_TRY(read_config(&c, ck));
    both = c.towers == CLIP_BOTH;
    memset(&text, 0, sizeof text);
    text.ck = ck;
    text.g = m->graph;
    text.dtype = dt;
    text.prefix = "";
    vision = top = text;
    if (c.towers & CLIP_TEXT)
        OLIVE_TRY(find_prefix(&text, "text_model.", "embeddings.token_embedding.weight"));
    if (c.towers & CLIP_VISION)
        OLIVE_TRY(find_prefix(&vision, "vision_model.", "embeddings.class_embedding"));
    share = bits ? 0.8 : 1.0;
    mid = both ? share / 2 : share;

    OLIVE_TRY(oir_model_require_opset(m, "", 17));
    OLIVE_TRY(oir_model_require_opset(m, "com.microsoft", 1));
    if (m->ir_version < 8)
        m->ir_version = 8;
    if (c.towers & CLIP_TEXT)
        OLIVE_TRY(enc_io(m->graph, 0, "input_ids", OIR_INT64, 2, ids_dims, ids_params));
    if (c.towers & CLIP_VISION) {
        int64_t idims[4] = {-1, c.vision.channels, c.vision.image, c.vision.image};
        OLIVE_TRY(enc_io(m->graph, 0, "pixel_values", OIR_FLOAT, 4, idims, img_params));
    }
    if (c.towers & CLIP_TEXT)
        OLIVE_TRY(enc_io(m->graph, 0, "attention_mask", OIR_INT64, 2, ids_dims, ids_params));

    if (both) {
        int64_t dims[2] = {-1, -1}, edims[2] = {-1, c.projection};
        const char *tt[2] = {"texts", "images"}, *it[2] = {"images", "texts"};
        const char *tp[2] = {"texts", NULL}, *ip[2] = {"images", NULL};
        OLIVE_TRY(enc_io(m->graph, 1, "logits_per_image", OIR_FLOAT, 2, dims, it));
        OLIVE_TRY(enc_io(m->graph, 1, "logits_per_text", OIR_FLOAT, 2, dims, tt));
        OLIVE_TRY(enc_io(m->graph, 1, "text_embeds", OIR_FLOAT, 2, edims, tp));
        OLIVE_TRY(enc_io(m->graph, 1, "image_embeds", OIR_FLOAT, 2, edims, ip));
        OLIVE_TRY(text_tower(&text, &c.text, "text.", "text.last_hidden_state", "text.pooler_output", ctx, 0, mid));
        OLIVE_TRY(vision_tower(&vision, &c.vision, "vision.", "vision.last_hidden_state", "vision.pooler_output", ctx,
                               mid, share));
        OLIVE_TRY(clip_head(&top, &c, "text.pooler_output", "vision.pooler_output"));
    } else {
        int is_text = (c.towers & CLIP_TEXT) != 0, projected = (c.towers & CLIP_PROJECTED) != 0;
        const clip_tower *t = is_text ? &c.text : &c.vision;
        int64_t hdims[3] = {-1, -1, t->hidden}, pdims[2] = {-1, projected ? c.projection : t->hidden};
        /* With a projection, the embeddings come first (as transformers' output lists them). */
        const char *pooled = projected ? "pooled_output" : "pooler_output";
        const char *embeds = is_text ? "text_embeds" : "image_embeds";
        if (!is_text) {
            hdims[1] = (t->image / t->patch) * (t->image / t->patch) + 1;
            hid_params[1] = NULL;
        }
        if (projected)
            OLIVE_TRY(enc_io(m->graph, 1, embeds, OIR_FLOAT, 2, pdims, vec_params));
        OLIVE_TRY(enc_io(m->graph, 1, "last_hidden_state", OIR_FLOAT, 3, hdims, hid_params));
        if (!projected)
            OLIVE_TRY(enc_io(m->graph, 1, "pooler_output", OIR_FLOAT, 2, pdims, vec_params));
        if (is_text)
            OLIVE_TRY(text_tower(&text, t, "", "last_hidden_state", pooled, ctx, 0, share));
        else
            OLIVE_TRY(vision_tower(&vision, t, "", "last_hidden_state", pooled, ctx, 0, share));
        if (projected)
            OLIVE_TRY(enc_gemm(&top, is_text ? "text_projection" : "visual_projection", 0, 0, pooled, t->hidden,
                               c.projection, embeds));
    }
    OLIVE_TRY(enc_companions(m, ck));
    if (bits)
        return enc_quantize(m, args, bits, ctx, share);
    return olive_pass_progress(ctx, 1.0);
}
