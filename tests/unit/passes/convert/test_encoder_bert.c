/* The BERT-family encoder builder called directly on the tiny checkpoints of
 * tests/data/convert_encoder (numerics are checked against transformers by the integration
 * test): graph interface and ops, packed weights equal to the checkpoint's tensors, errors
 * naming the tensor and file, progress and cancellation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "formats/checkpoint.h"
#include "passes/convert/encoder_bert.h"

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

static const float *init_data(const oir_graph *g, const char *name, size_t rank, int64_t d0, int64_t d1)
{
    const oir_tensor *t = oir_graph_initializer(g, name);
    CHECK(t != NULL);
    if (!t)
        return NULL;
    CHECK(t->dtype == OIR_FLOAT && t->rank == rank && t->dims[0] == d0 && (rank < 2 || t->dims[1] == d1));
    return (const float *)oir_tensor_data(t);
}

static void test_handles(void)
{
    const char *yes[] = {
        "BertModel",       "BertForSequenceClassification",       "RobertaModel",    "RobertaForSequenceClassification",
        "DistilBertModel", "DistilBertForSequenceClassification", "XLMRobertaModel", "bert",
        "distilbert"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        CHECK(cvt_bert_handles(yes[i]) == 1);
    CHECK(cvt_bert_handles("LlamaForCausalLM") == 0);
    CHECK(cvt_bert_handles("BertForMaskedLM") == 0);
    CHECK(cvt_bert_handles("") == 0);
    CHECK(cvt_bert_handles(NULL) == 0);
}

/* Interface, ops, and the packed QKV weight against the checkpoint's query/key/value. */
static void test_bert_graph(void)
{
    ofmt_checkpoint *ck = open_fixture("bert_seqcls");
    oir_model *m = oir_model_new();
    uint64_t n = 0;
    if (!ck || !m)
        goto done;
    CHECK_RC(cvt_bert_build(m, ck, NULL, NULL), OLIVE_OK);
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    CHECK(oir_model_opset(m, "com.microsoft") >= 1 && oir_model_opset(m, "") >= 17);
    CHECK(m->graph->n_inputs == 3);
    if (m->graph->n_inputs == 3) {
        CHECK_STR(m->graph->inputs[0].name, "input_ids");
        CHECK_STR(m->graph->inputs[1].name, "attention_mask");
        CHECK_STR(m->graph->inputs[2].name, "token_type_ids");
    }
    CHECK(m->graph->n_outputs == 2);
    CHECK(oir_graph_output_index(m->graph, "last_hidden_state") >= 0);
    CHECK(oir_graph_output_index(m->graph, "logits") >= 0);
    CHECK(count_ops(m->graph, "Attention") == 2);
    CHECK(count_ops(m->graph, "SkipLayerNormalization") == 4);
    CHECK(count_ops(m->graph, "BiasGelu") == 2);
    CHECK(count_ops(m->graph, "MatMul") == 6);

    const float *qkv = init_data(m->graph, "layers.1.attention.qkv.weight", 2, 32, 96);
    const float *bias = init_data(m->graph, "layers.1.attention.qkv.bias", 1, 96, 0);
    const char *parts[3] = {"query", "key", "value"};
    for (int p = 0; qkv && bias && p < 3; p++) {
        char name[128];
        snprintf(name, sizeof name, "bert.encoder.layer.1.attention.self.%s.weight", parts[p]);
        float *w = read_all(ck, name, &n);
        snprintf(name, sizeof name, "bert.encoder.layer.1.attention.self.%s.bias", parts[p]);
        float *b = read_all(ck, name, &n);
        int same = w && b;
        for (int o = 0; same && o < 32; o++) {
            same = bias[p * 32 + o] == b[o];
            for (int i = 0; same && i < 32; i++)
                same = qkv[i * 96 + p * 32 + o] == w[o * 32 + i];
        }
        CHECK(same);
        free(w);
        free(b);
    }
    /* The feed-forward input weight transposed to [hidden, intermediate]. */
    const float *up = init_data(m->graph, "layers.0.ffn.input.weight", 2, 32, 64);
    float *w = read_all(ck, "bert.encoder.layer.0.intermediate.dense.weight", &n);
    int same = up && w && n == 64 * 32;
    for (int o = 0; same && o < 64; o++)
        for (int i = 0; same && i < 32; i++)
            same = up[i * 64 + o] == w[o * 32 + i];
    CHECK(same);
    free(w);
done:
    oir_model_free(m);
    ofmt_checkpoint_free(ck);
}

/* RoBERTa: no token_type_ids input; its single token type row is folded into the positions. */
static void test_roberta_positions(void)
{
    ofmt_checkpoint *ck = open_fixture("roberta_model");
    oir_model *m = oir_model_new();
    uint64_t np_ = 0, nt = 0;
    if (!ck || !m)
        goto done;
    CHECK_RC(cvt_bert_build(m, ck, NULL, NULL), OLIVE_OK);
    CHECK(m->graph->n_inputs == 2);
    CHECK(oir_graph_output_index(m->graph, "pooler_output") >= 0);
    CHECK(count_ops(m->graph, "CumSum") == 1);
    const float *table = init_data(m->graph, "embeddings.position_embeddings", 2, 66, 32);
    float *pos = read_all(ck, "embeddings.position_embeddings.weight", &np_);
    float *type = read_all(ck, "embeddings.token_type_embeddings.weight", &nt);
    int same = table && pos && type && np_ == 66 * 32 && nt == 32;
    for (uint64_t i = 0; same && i < np_; i++)
        same = table[i] == pos[i] + type[i % 32];
    CHECK(same);
    free(pos);
    free(type);
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
    ofmt_checkpoint *ck = open_fixture("distilbert_seqcls");
    olive_pass_ctx ctx = {NULL, record_progress, NULL};
    oir_model *m = oir_model_new();
    if (!ck || !m)
        goto done;
    calls = 0;
    last_fraction = 0;
    monotonic = 1;
    CHECK_RC(cvt_bert_build(m, ck, NULL, &ctx), OLIVE_OK);
    CHECK(calls >= 3 && monotonic && last_fraction == 1.0);
    CHECK(count_ops(m->graph, "Relu") == 1); /* the pre-classifier's */
    CHECK(m->graph->n_inputs == 2);

    oir_model_free(m);
    m = oir_model_new();
    ctx.progress = cancel_progress;
    calls = 0;
    CHECK_RC(cvt_bert_build(m, ck, NULL, &ctx), OLIVE_ECANCELLED);
    CHECK(calls == 1);
done:
    oir_model_free(m);
    ofmt_checkpoint_free(ck);
}

/* config.json that disagrees with the tensors, and precisions the builder refuses. */
static void test_errors(void)
{
    ofmt_checkpoint *ck = open_fixture("bert_model");
    oir_model *m = oir_model_new();
    static const olive_param_spec spec[] = {
        {.name = "precision", .type = OLIVE_PARAM_STRING, .default_value = "fp32", .help = "precision"}};
    static const olive_pass_def def = {.name = "convert", .summary = "test", .params = spec, .n_params = 1};
    char *values[1] = {"bf16"};
    olive_pass_args args = {&def, values};
    if (!ck || !m)
        goto done;
    CHECK_RC(cvt_bert_build(m, ck, &args, NULL), OLIVE_EUNSUPPORTED);
    CHECK_ERROR_HAS("bf16");

    json_object_set_new(ck->config, "intermediate_size", json_integer(48));
    oir_model_free(m);
    m = oir_model_new();
    CHECK_RC(cvt_bert_build(m, ck, NULL, NULL), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("encoder.layer.0.intermediate.dense.weight");
    CHECK_ERROR_HAS("model.safetensors");

    json_object_set_new(ck->config, "intermediate_size", json_integer(64));
    json_object_set_new(ck->config, "architectures", json_pack("[s]", "BertForMaskedLM"));
    oir_model_free(m);
    m = oir_model_new();
    CHECK_RC(cvt_bert_build(m, ck, NULL, NULL), OLIVE_EUNSUPPORTED);
    CHECK_ERROR_HAS("BertForMaskedLM");

    json_object_set_new(ck->config, "architectures", json_pack("[s]", "BertModel"));
    json_object_set_new(ck->config, "num_attention_heads", json_integer(0));
    oir_model_free(m);
    m = oir_model_new();
    CHECK_RC(cvt_bert_build(m, ck, NULL, NULL), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("num_attention_heads");
done:
    oir_model_free(m);
    ofmt_checkpoint_free(ck);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    data_dir = argv[1];
    test_handles();
    test_bert_graph();
    test_roberta_positions();
    test_progress_and_cancel();
    test_errors();
    return check_summary("convert_encoder");
}
