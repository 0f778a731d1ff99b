/* The quantize pass's other outputs on graphs built through the IR: GatherBlockQuantized
 * tables, a tied lm_head, the QDQ form, the hqq / k_quant layouts and per-node settings. The
 * bytes are compared with ONNX Runtime's by the integration tests. */
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "ir/ir.h"
#include "pass_test_util.h"
#include "passes/quant/quantize.h"
#include "passes/registry.h"

static int run_with(oir_model *m, const setting *set)
{
    return pass_run_with(&olive_pass_quantize, m, set, NULL);
}

static float table[64 * 32];

/* ids -> Gather(E [64, 32]) -> x; logits = MatMul(x, Transpose(E)). */
static oir_model *tied_model(void)
{
    oir_model *m = ir_model(17);
    oir_node *t;
    m->ir_version = 8;
    for (int i = 0; i < 64 * 32; i++)
        table[i] = (float)((i * 7) % 23) * 0.1f - 1.0f;
    ir_io(m->graph, 0, "ids", OIR_INT64, 2, (const int64_t[]){1, 4});
    ir_init(m->graph, "E", OIR_FLOAT, 2, (const int64_t[]){64, 32}, table, sizeof table);
    ir_add(m->graph, "Gather", "embed", LIST("E", "ids"), LIST("x"));
    t = ir_add(m->graph, "Transpose", "t", LIST("E"), LIST("Et"));
    CHECK(oir_node_set_attr_ints(t, "perm", (const int64_t[]){1, 0}, 2) == OLIVE_OK);
    ir_add(m->graph, "MatMul", "lm_head", LIST("x", "Et"), LIST("logits"));
    ir_io(m->graph, 1, "logits", OIR_FLOAT, 3, (const int64_t[]){1, 4, 64});
    return m;
}

static void gather_and_tied(void)
{
    oir_model *m = tied_model();
    const oir_node *g, *mm;
    const oir_tensor *q, *s, *z;
    CHECK_RC(run_with(m, (const setting[]){{"quantize_embeddings", "true"},
                                           {"block_size", "16"},
                                           {"is_symmetric", "false"},
                                           {NULL, NULL}}),
             OLIVE_OK);
    CHECK(m->graph->n_nodes == 2 && ir_count_ops(m->graph, "Transpose") == 0);
    CHECK((g = ir_named(m->graph, "embed_Q4")) != NULL);
    if (g) {
        CHECK_STR(g->op_type, "GatherBlockQuantized");
        CHECK(oir_node_attr_int(g, "quantize_axis", -1) == 1 && oir_node_attr_int(g, "block_size", 0) == 16 &&
              oir_node_attr_int(g, "gather_axis", -1) == 0);
        CHECK(g->n_inputs == 4 && !strcmp(g->inputs[1], "ids"));
    }
    q = oir_graph_initializer(m->graph, "E_Q4");
    s = oir_graph_initializer(m->graph, "E_scales");
    z = oir_graph_initializer(m->graph, "E_zero_points");
    CHECK(q && q->dtype == OIR_UINT4 && q->rank == 2 && q->dims[0] == 64 && q->dims[1] == 32 && q->nbytes == 1024);
    CHECK(s && s->dtype == OIR_FLOAT && s->dims[0] == 64 && s->dims[1] == 2);
    CHECK(z && z->dtype == OIR_UINT4 && z->dims[1] == 2);
    CHECK((mm = ir_named(m->graph, "lm_head_Q4")) != NULL);
    if (mm) { /* K = 32 (hidden), N = 64 (vocabulary): from E without its Transpose */
        CHECK(oir_node_attr_int(mm, "K", 0) == 32 && oir_node_attr_int(mm, "N", 0) == 64);
        CHECK_STR(mm->inputs[1], "E_T_Q4");
    }
    CHECK(!oir_graph_initializer(m->graph, "E"));
    CHECK(oir_model_opset(m, "") == 21 && m->ir_version == 10);
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    oir_model_free(m);

    /* Without quantize_embeddings the Gather and the Transpose stay. */
    m = tied_model();
    CHECK_RC(run_with(m, NULL), OLIVE_OK);
    CHECK(ir_count_ops(m->graph, "Gather") == 1 && ir_count_ops(m->graph, "Transpose") == 1 &&
          ir_count_ops(m->graph, "MatMul") == 1);
    oir_model_free(m);

    /* An axis beyond the table's rank is an error naming the parameter. */
    m = tied_model();
    CHECK_RC(
        run_with(m, (const setting[]){{"quantize_embeddings", "true"}, {"gather_quantize_axis", "2"}, {NULL, NULL}}),
        OLIVE_EINVALID);
    CHECK_ERROR_HAS("gather_quantize_axis");
    oir_model_free(m);
}

static oir_model *one_matmul(int64_t k, int64_t n)
{
    oir_model *m = ir_model(17);
    static float w[128 * 8];
    m->ir_version = 8;
    for (int i = 0; i < 128 * 8; i++)
        w[i] = (float)((i * 5) % 17) * 0.25f - 2.0f;
    ir_io(m->graph, 0, "A", OIR_FLOAT, 2, (const int64_t[]){2, k});
    ir_init(m->graph, "W", OIR_FLOAT, 2, (const int64_t[]){k, n}, w, (size_t)(k * n) * sizeof(float));
    ir_add(m->graph, "MatMul", "mm", LIST("A", "W"), LIST("Y"));
    ir_io(m->graph, 1, "Y", OIR_FLOAT, 2, (const int64_t[]){2, n});
    return m;
}

static void qdq_form(void)
{
    oir_model *m = one_matmul(100, 6);
    const oir_node *dq, *mm;
    const oir_tensor *q, *s;
    CHECK_RC(run_with(m, (const setting[]){{"quant_format", "QDQ"}, {"block_size", "32"}, {NULL, NULL}}), OLIVE_OK);
    CHECK((dq = ir_named(m->graph, "mm_DQ_Q4")) != NULL && (mm = ir_named(m->graph, "mm_matmul_Q4")) != NULL);
    if (dq && mm) {
        CHECK_STR(dq->op_type, "DequantizeLinear");
        CHECK(dq->n_inputs == 2 && oir_node_attr_int(dq, "axis", -1) == 0 &&
              oir_node_attr_int(dq, "block_size", 0) == 32);
        CHECK_STR(dq->outputs[0], "W_DQ_Q4_output");
        CHECK_STR(mm->inputs[1], "W_DQ_Q4_output");
        CHECK_STR(mm->outputs[0], "Y");
    }
    q = oir_graph_initializer(m->graph, "W_DQ_Q4");
    s = oir_graph_initializer(m->graph, "W_DQ_scales");
    CHECK(q && q->dtype == OIR_INT4 && q->dims[0] == 100 && q->dims[1] == 6 && q->nbytes == 300);
    CHECK(s && s->dims[0] == 4 && s->dims[1] == 6);
    CHECK(oir_model_opset(m, "") == 21 && oir_model_opset(m, "com.microsoft") < 0);
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    oir_model_free(m);

    m = one_matmul(100, 6);
    CHECK_RC(run_with(m, (const setting[]){{"quant_format", "QDQ"}, {"bits", "8"}, {NULL, NULL}}), OLIVE_EINVALID);
    CHECK_ERROR_HAS("quant_format");
    oir_model_free(m);
}

static void layouts_and_overrides(void)
{
    oir_model *m = one_matmul(100, 6);
    const oir_tensor *s, *z;
    CHECK_RC(run_with(m, (const setting[]){{"algorithm", "hqq"}, {"block_size", "32"}, {NULL, NULL}}), OLIVE_OK);
    s = oir_graph_initializer(m->graph, "W_scales");
    z = oir_graph_initializer(m->graph, "W_zero_points");
    CHECK(s && s->rank == 1 && s->dims[0] == 6 * 4 && s->dtype == OIR_FLOAT);
    CHECK(z && z->rank == 1 && z->dims[0] == 6 * 4 && z->dtype == OIR_FLOAT);
    oir_model_free(m);

    m = one_matmul(100, 6);
    CHECK_RC(run_with(m, (const setting[]){{"algorithm", "k_quant"}, {"block_size", "32"}, {NULL, NULL}}), OLIVE_OK);
    CHECK(oir_graph_initializer(m->graph, "W_Q4G32") && oir_graph_initializer(m->graph, "W_scale") &&
          oir_graph_initializer(m->graph, "W_zp"));
    oir_model_free(m);

    m = one_matmul(128, 8);
    CHECK_RC(run_with(m, (const setting[]){{"customized_weight_config", "{\"mm\": {\"bits\": 8, \"group_size\": 64}}"},
                                           {NULL, NULL}}),
             OLIVE_OK);
    CHECK(ir_named(m->graph, "mm_Q8") && oir_node_attr_int(ir_named(m->graph, "mm_Q8"), "block_size", 0) == 64);
    oir_model_free(m);

    m = one_matmul(128, 8);
    CHECK_RC(run_with(m, (const setting[]){{"customized_weight_config", "{\"mm\": {\"bits\": 3}}"}, {NULL, NULL}}),
             OLIVE_EINVALID);
    CHECK_ERROR_HAS("mm.bits");
    oir_model_free(m);
}

int main(void)
{
    gather_and_tied();
    qdq_form();
    layouts_and_overrides();
    return check_summary("test_quantize_forms");
}
