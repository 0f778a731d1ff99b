/* ViT encoders (see encoder_vit.h): config.json read and checked whole, then patch
 * embeddings, the shared pre-norm layer stack (encoder_prenorm.c) and the heads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "passes/convert/encoder.h"
#include "passes/convert/encoder_vit.h"

#define ARRAY(a) (sizeof(a) / sizeof *(a)), (a)

typedef enum vit_head { VIT_HEAD_NONE = 0, VIT_HEAD_POOLER = 1, VIT_HEAD_IMGCLS = 2 } vit_head;

typedef struct vit_config {
    vit_head head;
    int64_t hidden, heads, layers, intermediate, image, patch, channels, pooler_size, num_labels;
    double eps;
    enc_act act;
} vit_config;

static const struct {
    const char *name;
    vit_head head;
} known[] = {
    {"ViTModel", VIT_HEAD_POOLER},
    {"ViTForImageClassification", VIT_HEAD_IMGCLS},
    {"vit", VIT_HEAD_POOLER},
};

static int head_of(const char *architecture, vit_head *head)
{
    for (size_t i = 0; architecture && i < sizeof known / sizeof *known; i++)
        if (!strcmp(known[i].name, architecture)) {
            *head = known[i].head;
            return 1;
        }
    return 0;
}

int cvt_vit_handles(const char *architecture)
{
    vit_head h;
    return head_of(architecture, &h);
}

static const char *architecture_of(const ofmt_checkpoint *ck)
{
    json_t *a = json_object_get(ck->config, "architectures");
    if (json_is_array(a) && json_is_string(json_array_get(a, 0)))
        return json_string_value(json_array_get(a, 0));
    a = json_object_get(ck->config, "model_type");
    return json_is_string(a) ? json_string_value(a) : NULL;
}

static int read_config(vit_config *c, const ofmt_checkpoint *ck)
{
    const json_t *cfg = ck->config;
    const char *pooler_act = NULL;
    json_t *labels;

    memset(c, 0, sizeof *c);
    if (!json_is_object(cfg))
        return olive_fail(OLIVE_EFORMAT, "checkpoint '%s' has no config.json object", ck->path);
    if (!head_of(architecture_of(ck), &c->head))
        return olive_fail(OLIVE_EUNSUPPORTED, "checkpoint '%s': not a ViT", ck->path);
    OLIVE_TRY(enc_json_int(ck, cfg, "", "hidden_size", -1, 1, 65536, &c->hidden));
    OLIVE_TRY(enc_json_int(ck, cfg, "", "num_attention_heads", -1, 1, 1024, &c->heads));
    OLIVE_TRY(enc_json_int(ck, cfg, "", "num_hidden_layers", -1, 1, 1024, &c->layers));
    OLIVE_TRY(enc_json_int(ck, cfg, "", "intermediate_size", -1, 1, 1 << 20, &c->intermediate));
    OLIVE_TRY(enc_json_act(ck, cfg, "", "hidden_act", "gelu", 1, &c->act));
    OLIVE_TRY(enc_json_eps(ck, cfg, "", "layer_norm_eps", 1e-12, &c->eps));
    OLIVE_TRY(enc_json_int(ck, cfg, "", "num_channels", 3, 1, 64, &c->channels));
    OLIVE_TRY(enc_json_side(ck, cfg, "", "image_size", 224, &c->image));
    OLIVE_TRY(enc_json_side(ck, cfg, "", "patch_size", 16, &c->patch));
    OLIVE_TRY(enc_json_require_bool(ck, cfg, "", "qkv_bias", 1));
    OLIVE_TRY(enc_json_string(ck, cfg, "", "pooler_act", "tanh", &pooler_act));
    if (strcmp(pooler_act, "tanh"))
        return olive_fail(OLIVE_EUNSUPPORTED, "config.json of '%s': pooler_act '%s' is not supported (only 'tanh' is)",
                          ck->path, pooler_act);
    OLIVE_TRY(enc_json_int(ck, cfg, "", "pooler_output_size", c->hidden, 1, 65536, &c->pooler_size));
    if (c->hidden % c->heads)
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': hidden size %lld is not a multiple of the %lld heads",
                          ck->path, (long long)c->hidden, (long long)c->heads);
    if (c->image % c->patch)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': image_size %lld is not a multiple of patch_size %lld", ck->path,
                          (long long)c->image, (long long)c->patch);
    labels = json_object_get(cfg, "id2label");
    if (json_is_object(labels))
        c->num_labels = (int64_t)json_object_size(labels);
    return OLIVE_OK;
}

/* "" in a ViTModel checkpoint, "vit." under a head. */
static int find_prefix(enc_weights *w)
{
    static const char *const prefixes[] = {"", "vit."};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        w->prefix = prefixes[i];
        if (enc_has(w, "embeddings.cls_token"))
            return OLIVE_OK;
    }
    w->prefix = "";
    return olive_fail(OLIVE_EFORMAT, "checkpoint '%s': tensor 'embeddings.cls_token' is missing (also as vit.*)",
                      w->ck->path);
}

static int embeddings(const enc_weights *w, const vit_config *c, const char *pixels, const char *out)
{
    int64_t side = c->image / c->patch, patches = side * side;
    int64_t cdims[3] = {1, 1, c->hidden}, pdims[3] = {1, patches + 1, c->hidden};
    float *cls = NULL, *pos = NULL;
    int rc;
    OLIVE_TRY(enc_read(w, 1, "embeddings.cls_token", 3, cdims, &cls));
    if ((rc = enc_read(w, 1, "embeddings.position_embeddings", 3, pdims, &pos)) != OLIVE_OK) {
        free(cls);
        return rc;
    }
    return enc_patch_embeddings(w, "", pixels, "embeddings.patch_embeddings.projection.weight",
                                "embeddings.patch_embeddings.projection.bias", c->hidden, c->channels, c->patch,
                                patches, cls, pos, out);
}

static int heads(const enc_weights *w, const vit_config *c)
{
    int64_t zero = 0, dims[2] = {-1, c->pooler_size}, labels = 0;
    const char *batch[2] = {"batch", NULL};
    oir_node *n;

    if (c->head == VIT_HEAD_NONE)
        return OLIVE_OK;
    OLIVE_TRY(enc_int64(w->g, "heads.first_index", 0, NULL, &zero, 1));
    const char *first[] = {"last_hidden_state", "heads.first_index"};
    const char *first_out = "heads.first_token";
    OLIVE_TRY(enc_node(w->g, &n, "Gather", "", ARRAY(first), 1, &first_out));
    OLIVE_TRY(oir_node_set_attr_int(n, "axis", 1));
    if (c->head == VIT_HEAD_POOLER) {
        const char *tanh_in[] = {"pooler.dense"}, *tanh_out = "pooler_output";
        OLIVE_TRY(enc_gemm(w, "pooler.dense", 1, 1, first_out, c->hidden, c->pooler_size, "pooler.dense"));
        OLIVE_TRY(enc_node(w->g, NULL, "Tanh", "", ARRAY(tanh_in), 1, &tanh_out));
        return enc_io(w->g, 1, "pooler_output", OIR_FLOAT, 2, dims, batch);
    }
    OLIVE_TRY(enc_label_count(w, "classifier.weight", 0, c->num_labels, &labels));
    OLIVE_TRY(enc_gemm(w, "classifier", 0, 1, first_out, c->hidden, labels, "logits"));
    dims[1] = labels;
    return enc_io(w->g, 1, "logits", OIR_FLOAT, 2, dims, batch);
}

int cvt_vit_build(oir_model *m, const ofmt_checkpoint *ck, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    vit_config c;
    enc_weights w;
    enc_stack s;
    int32_t dt;
    int bits = 0;
    double share;
    oir_node *n;
    const char *pixels = "pixel_values", *hidden_out = "last_hidden_state";

    if (!m || !ck)
        return olive_fail(OLIVE_EINVALID, "cvt_vit_build: model and checkpoint are required");
    if (!m->graph && !(m->graph = oir_graph_new("vit")))
        return OLIVE_ENOMEM;
    if (m->graph->n_nodes || m->graph->n_inputs || m->graph->n_initializers)
        return olive_fail(OLIVE_EINVALID, "cvt_vit_build: the model's graph is not empty");
    OLIVE_TRY(enc_precision(args, "ViT encoders", &dt, &bits));
    OLIVE_TRY(read_config(&c, ck));
    memset(&w, 0, sizeof w);
    w.ck = ck;
    w.g = m->graph;
    w.dtype = dt;
    OLIVE_TRY(find_prefix(&w));
    if (c.head == VIT_HEAD_POOLER && !enc_has(&w, "pooler.dense.weight"))
        c.head = VIT_HEAD_NONE;
    share = bits ? 0.8 : 1.0;

    OLIVE_TRY(oir_model_require_opset(m, "", 17));
    OLIVE_TRY(oir_model_require_opset(m, "com.microsoft", 1));
    if (m->ir_version < 8)
        m->ir_version = 8;
    {
        int64_t idims[4] = {-1, c.channels, c.image, c.image};
        int64_t odims[3] = {-1, (c.image / c.patch) * (c.image / c.patch) + 1, c.hidden};
        const char *iparams[4] = {"batch", NULL, NULL, NULL}, *oparams[3] = {"batch", NULL, NULL};
        OLIVE_TRY(enc_io(m->graph, 0, "pixel_values", OIR_FLOAT, 4, idims, iparams));
        if (c.head != VIT_HEAD_IMGCLS)
            OLIVE_TRY(enc_io(m->graph, 1, "last_hidden_state", OIR_FLOAT, 3, odims, oparams));
    }
    if (dt != OIR_FLOAT) {
        const char *in[] = {"pixel_values"};
        pixels = "pixel_values.half";
        OLIVE_TRY(enc_node(m->graph, &n, "Cast", "", ARRAY(in), 1, &pixels));
        OLIVE_TRY(oir_node_set_attr_int(n, "to", dt));
        hidden_out = "last_hidden_state.half";
    }
    OLIVE_TRY(embeddings(&w, &c, pixels, "embeddings.output"));

    memset(&s, 0, sizeof s);
    s.w = &w;
    s.layer = "encoder.layer.";
    s.q = "attention.attention.query";
    s.k = "attention.attention.key";
    s.v = "attention.attention.value";
    s.o = "attention.output.dense";
    s.ln1 = "layernorm_before";
    s.ln2 = "layernorm_after";
    s.fc1 = "intermediate.dense";
    s.fc2 = "output.dense";
    s.final_norm = "layernorm";
    s.onnx = "";
    s.hidden = c.hidden;
    s.heads = c.heads;
    s.intermediate = c.intermediate;
    s.layers = c.layers;
    s.eps = c.eps;
    s.act = c.act;
    OLIVE_TRY(enc_prenorm_stack(&s, "embeddings.output", hidden_out, ctx, 0.0, share));
    if (dt != OIR_FLOAT) {
        const char *in[] = {hidden_out}, *out = "last_hidden_state";
        OLIVE_TRY(enc_node(m->graph, &n, "Cast", "", ARRAY(in), 1, &out));
        OLIVE_TRY(oir_node_set_attr_int(n, "to", OIR_FLOAT));
    }
    OLIVE_TRY(heads(&w, &c));
    OLIVE_TRY(enc_companions(m, ck));
    if (bits)
        return enc_quantize(m, args, bits, ctx, share);
    return olive_pass_progress(ctx, 1.0);
}
