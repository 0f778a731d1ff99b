/* mixed_precision: Olive's OrtMixedPrecision decides the float16 conversion's settings from the
 * model, then converts: when the first graph output (the logits) comes from a MatMul whose
 * weights change by atol or more in float16, that MatMul and that output stay float32
 * (node_block_list, keep_io_types); otherwise its weights are forced to float16
 * (force_fp16_initializers). op_block_list ops stay float32. The conversion is the float16
 * pass's, run with those settings: the same decisions as Olive, whose converter (onnxruntime's
 * transformers float16) names and places its Casts differently. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/instance.h"
#include "passes/mixed_precision/mixed_precision.h"

#define PASS "mixed_precision"

/* onnxruntime's float_to_float16_max_diff: the largest |x - float16(x)|, values clamped to
 * [5.96e-08, 65504] in magnitude first as its converter does. */
static double fp16_max_diff(const oir_tensor *t)
{
    const uint8_t *p = oir_tensor_data(t);
    uint64_t n = t->dtype == OIR_FLOAT ? t->nbytes / 4 : 0;
    double worst = 0;
    for (uint64_t i = 0; i < n; i++) {
        float x, c, h;
        memcpy(&x, p + i * 4, 4);
        c = x;
        if (c > 0 && c < 5.96e-08f)
            c = 5.96e-08f;
        else if (c < 0 && c > -5.96e-08f)
            c = -5.96e-08f;
        if (c > 65504.0f)
            c = 65504.0f;
        else if (c < -65504.0f)
            c = -65504.0f;
        h = olive_half_to_float(olive_float_to_half(c));
        if (fabs((double)x - (double)h) > worst)
            worst = fabs((double)x - (double)h);
    }
    return worst;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    oir_graph *g = m->graph;
    const olive_pass_def *f16 = olive_registry_find("float16");
    const oir_node *head = NULL;
    const char *logits;
    olive_pass *p = NULL;
    int precise = 0, rc;
    if (!f16)
        return olive_error_code();
    if (!g->n_outputs)
        return olive_fail(OLIVE_EINVALID, "%s: the model has no outputs", PASS);
    logits = g->outputs[0].name;
    for (size_t i = 0; i < g->n_nodes && !head; i++)
        for (size_t j = 0; j < g->nodes[i]->n_outputs; j++)
            if (!strcmp(g->nodes[i]->outputs[j], logits))
                head = g->nodes[i];
    if (!head)
        return olive_fail(OLIVE_EINVALID, "%s: no node produces the first graph output '%s'", PASS, logits);
    if (!strcmp(head->op_type, "MatMul")) {
        const oir_tensor *w = NULL;
        for (size_t j = 0; j < head->n_inputs && !w; j++)
            w = oir_graph_initializer(g, head->inputs[j]);
        if (!w)
            return olive_fail(OLIVE_EINVALID, "%s: the MatMul '%s' producing '%s' has no initializer input", PASS,
                              head->name, logits);
        precise = fp16_max_diff(w) < olive_args_float(args, "atol");
    } else {
        OLIVE_WARN("%s: the first output '%s' comes from %s node '%s', not a MatMul", PASS, logits, head->op_type,
                   head->name);
    }
    OLIVE_TRY(olive_pass_instance_new(&p, f16));
    rc = olive_pass_instance_set(p, "op_block_list", olive_args_string(args, "op_block_list"));
    if (rc == OLIVE_OK && !precise && !strcmp(head->op_type, "MatMul")) {
        rc = olive_pass_instance_set(p, "keep_io_types", logits);
        if (rc == OLIVE_OK)
            rc = olive_pass_instance_set(p, "node_block_list", head->name ? head->name : "");
    }
    if (rc == OLIVE_OK)
        rc = olive_pass_instance_set(p, "force_fp16_initializers", precise ? "true" : "false");
    if (rc == OLIVE_OK) {
        olive_pass_args a = olive_pass_args_of(p);
        OLIVE_INFO("%s: logits weights %s in float16; converting", PASS,
                   precise ? "keep their precision" : "lose precision");
        rc = f16->run(m, &a, ctx);
    }
    olive_pass_unref(p);
    return rc;
}

static const olive_param_spec params[] = {
    {.name = "op_block_list",
     .type = OLIVE_PARAM_LIST,
     .default_value = "SimplifiedLayerNormalization,SkipSimplifiedLayerNormalization,Relu,Add",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "Op types that stay float32"},
    {.name = "atol",
     .type = OLIVE_PARAM_FLOAT,
     .default_value = "1e-06",
     .min = 0,
     .max = -1,
     .choices = NULL,
     .help = "The LM head's weights count as float16-exact when they change by less than this"},
};

static const olive_pass_type olive_types[] = {{"OrtMixedPrecision", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_mixed_precision = {
    .name = "mixed_precision",
    .summary = "float16 with normalizations, Relu and Add kept in float32",
    .details = "The LM head stays float32 too when float16 would change its weights.",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
