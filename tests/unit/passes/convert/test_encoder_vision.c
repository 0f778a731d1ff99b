/* The ViT and CLIP builders called directly on the tiny checkpoints of
 * tests/data/convert_vision (numerics are checked against transformers by the integration
 * test): graph interface and fused ops, the packed QKV weight and the class token folded with
 * its position, config.json values refused before anything is built, progress and
 * cancellation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "formats/checkpoint.h"
#include "passes/convert/encoder_clip.h"
#include "passes/convert/encoder_vit.h"

static const char *data_dir;

static ofmt_checkpoint *open_fixture(const char *name)
{
    char path[4096];
    ofmt_checkpoint *ck = NULL;
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    CHECK_RC(ofmt_checkpoint_open(&ck, path), OLIVE_OK);
    return ck;
}

static size_t count_ops(const oir_graph *g, const char *op)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        n += !strcmp(g->nodes[i]->op_type, op);
    return n;
}

static float *read_all(const ofmt_checkpoint *ck, const char *name, uint64_t *count)
{
    const ofmt_tensor *t = ofmt_checkpoint_find(ck, name);
    float *v;
    CHECK(t != NULL);
    if (!t)
        return NULL;
    *count = ofmt_tensor_elements(t);
    v = malloc(*count * sizeof *v);
    CHECK_RC(ofmt_tensor_read_f32(t, 0, *count / ofmt_tensor_row_length(t), v), OLIVE_OK);
    return v;
}

static const float *init_data(const oir_graph *g, const char *name, uint64_t count)
{
    const oir_tensor *t = oir_graph_initializer(g, name);
    uint64_t numel = 0;
    CHECK(t != NULL);
    if (!t)
        return NULL;
    CHECK(t->dtype == OIR_FLOAT && oir_tensor_numel(t, &numel) == OLIVE_OK && numel == count);
    return (const float *)oir_tensor_data(t);
}

static void test_handles(void)
{
    const char *vit[] = {"ViTModel", "ViTForImageClassification", "vit"};
    const char *clip[] = {"CLIPModel", "CLIPTextModel",   "CLIPVisionModel",
                          "clip",      "clip_text_model", "clip_vision_model"};
    for (size_t i = 0; i < sizeof vit / sizeof *vit; i++)
        CHECK(cvt_vit_handles(vit[i]) == 1 && cvt_clip_handles(vit[i]) == 0);
    for (size_t i = 0; i < sizeof clip / sizeof *clip; i++)
        CHECK(cvt_clip_handles(clip[i]) == 1 && cvt_vit_handles(clip[i]) == 0);
    CHECK(cvt_vit_handles("ViTForMaskedImageModeling") == 0);
    CHECK(cvt_clip_handles("CLIPSegForImageSegmentation") == 0);
    CHECK(cvt_vit_handles(NULL) == 0 && cvt_clip_handles(NULL) == 0);
}

/* Interface, ops, the packed QKV weight and the class token plus its position. */
static void test_vit_graph(void)
{
    ofmt_checkpoint *ck = open_fixture("vit_model");
    oir_model *m = oir_model_new();
    uint64_t n = 0, np_ = 0;
    if (!ck || !m)
        goto done;
    CHECK_RC(cvt_vit_build(m, ck, NULL, NULL), OLIVE_OK);
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    CHECK(m->graph->n_inputs == 1 && !strcmp(m->graph->inputs[0].name, "pixel_values"));
    CHECK(m->graph->n_outputs == 2);
    CHECK(oir_graph_output_index(m->graph, "last_hidden_state") == 0);
    CHECK(oir_graph_output_index(m->graph, "pooler_output") == 1);
    CHECK(count_ops(m->graph, "Attention") == 2 && count_ops(m->graph, "SkipLayerNormalization") == 4);
    CHECK(count_ops(m->graph, "LayerNormalization") == 1 && count_ops(m->graph, "BiasGelu") == 2);
    CHECK(count_ops(m->graph, "Conv") == 1 && count_ops(m->graph, "Softmax") == 0);

    const float *qkv = init_data(m->graph, "layers.1.attention.qkv.weight", 32 * 96);
    const char *parts[3] = {"query", "key", "value"};
    for (int p = 0; qkv && p < 3; p++) {
        char name[128];
        snprintf(name, sizeof name, "encoder.layer.1.attention.attention.%s.weight", parts[p]);
        float *w = read_all(ck, name, &n);
        int same = w && n == 32 * 32;
        for (int o = 0; same && o < 32; o++)
            for (int i = 0; same && i < 32; i++)
                same = qkv[i * 96 + p * 32 + o] == w[o * 32 + i];
        CHECK(same);
        free(w);
    }
    const float *cls = init_data(m->graph, "embeddings.class_token", 32);
    float *token = read_all(ck, "embeddings.cls_token", &n);
    float *pos = read_all(ck, "embeddings.position_embeddings", &np_);
    int same = cls && token && pos && n == 32 && np_ == 17 * 32;
    for (int j = 0; same && j < 32; j++)
        same = cls[j] == token[j] + pos[j];
    CHECK(same);
    free(token);
    free(pos);
done:
    oir_model_free(m);
    ofmt_checkpoint_free(ck);
}

static int is_causal(const oir_node *n)
{
    const oir_attr *a = oir_node_attr(n, "unidirectional");
    return a && a->i == 1;
}

static void test_clip_graph(void)
{
    ofmt_checkpoint *ck = open_fixture("clip_model");
    oir_model *m = oir_model_new();
    size_t causal = 0;
    if (!ck || !m)
        goto done;
    CHECK_RC(cvt_clip_build(m, ck, NULL, NULL), OLIVE_OK);
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    CHECK(m->graph->n_inputs == 3);
    if (m->graph->n_inputs == 3) {
        CHECK_STR(m->graph->inputs[0].name, "input_ids");
        CHECK_STR(m->graph->inputs[1].name, "pixel_values");
        CHECK_STR(m->graph->inputs[2].name, "attention_mask");
    }
    CHECK(m->graph->n_outputs == 4);
    CHECK(oir_graph_output_index(m->graph, "logits_per_image") == 0);
    CHECK(oir_graph_output_index(m->graph, "image_embeds") == 3);
    CHECK(count_ops(m->graph, "Attention") == 4 && count_ops(m->graph, "QuickGelu") == 4);
    for (size_t i = 0; i < m->graph->n_nodes; i++)
        causal += !strcmp(m->graph->nodes[i]->op_type, "Attention") && is_causal(m->graph->nodes[i]);
    CHECK(causal == 2);
    /* Both towers' tensors come from their prefixes. */
    CHECK(oir_graph_initializer(m->graph, "text.layers.0.attention.qkv.weight") != NULL);
    CHECK(oir_graph_initializer(m->graph, "vision.layers.1.attention.qkv.weight") != NULL);
done:
    oir_model_free(m);
    ofmt_checkpoint_free(ck);
}

static int calls;
static double last_fraction;
static int monotonic;

static int record_progress(olive_pass_ctx *ctx, double fraction)
{
    (void)ctx;
    calls++;
    monotonic &= fraction >= last_fraction;
    last_fraction = fraction;
    return OLIVE_OK;
}

static int cancel_progress(olive_pass_ctx *ctx, double fraction)
{
    (void)ctx;
    (void)fraction;
    calls++;
    return olive_fail(OLIVE_ECANCELLED, "cancelled");
}

static void test_progress_and_cancel(void)
{
    ofmt_checkpoint *ck = open_fixture("clip_text");
    olive_pass_ctx ctx = {NULL, record_progress, NULL};
    oir_model *m = oir_model_new();
    if (!ck || !m)
        goto done;
    calls = 0;
    last_fraction = 0;
    monotonic = 1;
    CHECK_RC(cvt_clip_build(m, ck, NULL, &ctx), OLIVE_OK);
    CHECK(calls >= 3 && monotonic && last_fraction == 1.0);
    CHECK(count_ops(m->graph, "ArgMax") == 1 && count_ops(m->graph, "Equal") == 0); /* eos_token_id 2 */
    oir_model_free(m);
    m = oir_model_new();
    ctx.progress = cancel_progress;
    calls = 0;
    CHECK_RC(cvt_clip_build(m, ck, NULL, &ctx), OLIVE_ECANCELLED);
    CHECK(calls == 1);
done:
    oir_model_free(m);
    ofmt_checkpoint_free(ck);
}

/* A refused config.json value is named, and nothing is built before the refusal. */
static void expect_refusal(int (*build)(oir_model *, const ofmt_checkpoint *, const olive_pass_args *,
                                        olive_pass_ctx *),
                           const ofmt_checkpoint *ck, int rc, const char *needle)
{
    oir_model *m = oir_model_new();
    if (!m)
        return;
    CHECK_RC(build(m, ck, NULL, NULL), rc);
    CHECK_ERROR_HAS(needle);
    CHECK(!m->graph || (m->graph->n_nodes == 0 && m->graph->n_inputs == 0 && m->graph->n_initializers == 0));
    oir_model_free(m);
}

static void test_refusals(void)
{
    ofmt_checkpoint *vit = open_fixture("vit_model"), *clip = open_fixture("clip_model");
    json_t *vision;
    if (!vit || !clip)
        goto done;
    json_object_set_new(vit->config, "qkv_bias", json_false());
    expect_refusal(cvt_vit_build, vit, OLIVE_EUNSUPPORTED, "qkv_bias");
    json_object_set_new(vit->config, "qkv_bias", json_true());
    json_object_set_new(vit->config, "pooler_act", json_string("relu"));
    expect_refusal(cvt_vit_build, vit, OLIVE_EUNSUPPORTED, "pooler_act 'relu'");
    json_object_set_new(vit->config, "pooler_act", json_string("tanh"));
    json_object_set_new(vit->config, "image_size", json_pack("[i, i]", 16, 12));
    expect_refusal(cvt_vit_build, vit, OLIVE_EUNSUPPORTED, "image_size [16, 12]");

    vision = json_object_get(clip->config, "vision_config");
    json_object_set_new(vision, "hidden_act", json_string("silu"));
    expect_refusal(cvt_clip_build, clip, OLIVE_EUNSUPPORTED, "vision_config.hidden_act 'silu'");
    json_object_set_new(vision, "hidden_act", json_string("quick_gelu"));
    json_object_del(clip->config, "text_config");
    expect_refusal(cvt_clip_build, clip, OLIVE_EFORMAT, "'text_config'");
done:
    ofmt_checkpoint_free(vit);
    ofmt_checkpoint_free(clip);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    data_dir = argv[1];
    test_handles();
    test_vit_graph();
    test_clip_graph();
    test_progress_and_cancel();
    test_refusals();
    return check_summary("convert_vision");
}
