/* opset_conversion: raises the default-domain opset from 13 or later to target_opset (up to
 * 25), rewriting the standard ops whose form changed in between, as the ONNX version converter
 * does:
 *   18: ReduceMean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare take `axes` as an input (the
 *       attribute becomes a Constant node "<node>_axes");
 *   16: RoiAlign's default coordinate_transformation_mode changed: the old default is written;
 *   20: GridSample's modes were renamed (bilinear -> linear, bicubic -> cubic);
 * and refuses, naming the node, what it cannot convert: DFT across 20 (axis became an input),
 * GroupNormalization across 21 (scale and bias became per channel), BatchNormalization using its
 * training outputs across 14, a source opset below 13, a target below the model's or above 25.
 * Everything is checked before the model changes. The IR version is raised to what the target
 * opset needs. Other domains are left alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/opset/opset_conversion.h"

#define PASS "opset_conversion"
#define MIN_SOURCE 13
#define MAX_TARGET 25

static int is_std(const oir_node *n)
{
    return !n->domain[0] || !strcmp(n->domain, "ai.onnx");
}

static int is_reduce_18(const char *op)
{
    static const char *const ops[] = {"ReduceMean", "ReduceMax",    "ReduceMin",       "ReduceProd",     "ReduceL1",
                                      "ReduceL2",   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(op, ops[i]))
            return 1;
    return 0;
}

typedef struct conv {
    int64_t from, to;
    int check_only;
    size_t counter;
} conv;

static int crosses(const conv *c, int64_t v)
{
    return c->from < v && c->to >= v;
}

static int convert_graph(oir_graph *g, conv *c);

static int convert_node(oir_graph *g, oir_node *n, conv *c)
{
    for (size_t k = 0; k < n->n_attrs; k++) {
        if (n->attrs[k].g)
            OLIVE_TRY(convert_graph(n->attrs[k].g, c));
        for (size_t j = 0; n->attrs[k].graphs && j < n->attrs[k].n; j++)
            OLIVE_TRY(convert_graph(n->attrs[k].graphs[j], c));
    }
    if (!is_std(n))
        return OLIVE_OK;
    if (crosses(c, 20) && !strcmp(n->op_type, "DFT"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: DFT node '%s': its axis becomes an input at opset 20, which is not "
                          "converted",
                          PASS, n->name);
    if (crosses(c, 21) && !strcmp(n->op_type, "GroupNormalization"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: GroupNormalization node '%s': its scale and bias become per channel "
                          "at opset 21, which is not converted",
                          PASS, n->name);
    if (crosses(c, 14) && !strcmp(n->op_type, "BatchNormalization") &&
        (n->n_outputs > 1 || oir_node_attr_int(n, "training_mode", 0)))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: BatchNormalization node '%s' uses training outputs, whose meaning "
                          "changes at opset 14",
                          PASS, n->name);
    if (c->check_only)
        return OLIVE_OK;
    if (crosses(c, 18) && is_reduce_18(n->op_type)) {
        const oir_attr *axes = oir_node_attr(n, "axes");
        if (axes && axes->type == OIR_ATTR_INTS) {
            /* A Constant node holding the axes, as the ONNX version converter writes it. */
            char *name = olive_asprintf("%s_axes", n->name && n->name[0] ? n->name : n->outputs[0]), *unique;
            int64_t dim = (int64_t)axes->n;
            oir_tensor *t = NULL;
            oir_node *k;
            int rc = OLIVE_ENOMEM;
            unique = name ? oir_graph_unique_name(g, name) : NULL;
            free(name);
            if (unique && (k = oir_node_new("Constant", "", unique, 0, NULL, 1, (const char *const *)&unique))) {
                if ((t = oir_tensor_new(unique, OIR_INT64, 1, &dim)) &&
                    (rc = oir_tensor_set_copy(t, axes->ints, axes->n * sizeof *axes->ints)) == OLIVE_OK &&
                    (rc = oir_node_set_attr_tensor(k, "value", t)) == OLIVE_OK)
                    t = NULL;
                if (rc == OLIVE_OK && (rc = oir_graph_add_node(g, k)) != OLIVE_OK)
                    oir_node_free(k);
                else if (rc != OLIVE_OK)
                    oir_node_free(k);
            }
            oir_tensor_free(t);
            if (rc == OLIVE_OK)
                rc = oir_node_set_input(n, 1, unique); /* (data, axes) */
            free(unique);
            OLIVE_TRY(rc);
            oir_node_remove_attr(n, "axes");
        }
    }
    if (crosses(c, 16) && !strcmp(n->op_type, "RoiAlign") && !oir_node_attr(n, "coordinate_transformation_mode"))
        OLIVE_TRY(oir_node_set_attr_string(n, "coordinate_transformation_mode", "output_half_pixel"));
    if (crosses(c, 20) && !strcmp(n->op_type, "GridSample")) {
        const char *mode = oir_node_attr_string(n, "mode", "bilinear");
        if (!strcmp(mode, "bilinear") || !strcmp(mode, "bicubic"))
            OLIVE_TRY(oir_node_set_attr_string(n, "mode", !strcmp(mode, "bilinear") ? "linear" : "cubic"));
    }
    return OLIVE_OK;
}

static int convert_graph(oir_graph *g, conv *c)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        OLIVE_TRY(convert_node(g, g->nodes[i], c));
    return OLIVE_OK;
}

static int sort_graph(oir_graph *g, int depth, void *user)
{
    (void)depth;
    (void)user;
    return oir_graph_toposort(g);
}

/* The IR version an opset needs (onnx's release table). */
static int64_t ir_for(int64_t opset)
{
    return opset >= 24 ? 12 : opset >= 23 ? 11 : opset >= 21 ? 10 : opset >= 19 ? 9 : opset >= 17 ? 8 : 7;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    conv c = {oir_model_opset(m, ""), olive_args_int(args, "target_opset"), 1, 0};
    if (c.from < 0)
        return olive_fail(OLIVE_EINVALID, "%s: the model imports no default-domain opset", PASS);
    if (c.to == c.from)
        return olive_pass_progress(ctx, 1.0);
    if (c.to < c.from)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: target_opset %lld is below the model's opset %lld: only raising "
                          "the opset is supported",
                          PASS, (long long)c.to, (long long)c.from);
    if (c.from < MIN_SOURCE)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: the model's opset %lld is below %d, the oldest this conversion "
                          "starts from",
                          PASS, (long long)c.from, MIN_SOURCE);
    if (c.to > MAX_TARGET)
        return olive_fail(OLIVE_EUNSUPPORTED, "%s: target_opset %lld is above %d", PASS, (long long)c.to, MAX_TARGET);
    OLIVE_TRY(convert_graph(m->graph, &c)); /* refusals first: nothing changes */
    c.check_only = 0;
    OLIVE_TRY(convert_graph(m->graph, &c));
    /* The new Constants come after their readers: restore the order in every graph. */
    OLIVE_TRY(oir_model_for_each_graph(m, sort_graph, NULL));
    for (size_t i = 0; i < m->n_opsets; i++)
        if (!m->opsets[i].domain[0] || !strcmp(m->opsets[i].domain, "ai.onnx"))
            m->opsets[i].version = c.to;
    if (m->ir_version < ir_for(c.to))
        m->ir_version = ir_for(c.to);
    return olive_pass_progress(ctx, 1.0);
}

static const olive_param_spec params[] = {
    {.name = "target_opset",
     .type = OLIVE_PARAM_INT,
     .default_value = "21",
     .min = MIN_SOURCE,
     .max = MAX_TARGET,
     .choices = NULL,
     .help = "The default-domain opset to convert to (13..25; only raising)"},
};

static const olive_pass_type olive_types[] = {{"OnnxOpVersionConversion", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_opset_conversion = {
    .name = "opset_conversion",
    .summary = "Raises the default-domain opset (13..25) as the ONNX version converter does",
    .details = "Rewrites Reduce* axes, RoiAlign and GridSample where their definitions changed.",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
