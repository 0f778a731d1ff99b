/* Surgeons on elementwise ops: Erf as Tanh, QuickGelu decomposed, Reciprocal-Mul as Div. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

/* Erf(x) -> Tanh(x * 605/503). The scale is a scalar initializer "scale_<i>" of x's type,
 * "Sub_Mul_<i>" and "Sub_Tanh_<i>" the new nodes, where i is the Erf's position in the node
 * list as it grows (Olive's naming). x's type comes from a graph input, value_info or
 * initializer. */
static int replace_erf_with_tanh(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *erf = g->nodes[i], *mul, *tanh_node;
        char *scale, *mul_out, *mul_name, *tanh_name;
        int32_t dt;
        int rc;
        if (strcmp(erf->op_type, "Erf") || (erf->domain[0] && strcmp(erf->domain, "ai.onnx")) || erf->n_inputs != 1 ||
            erf->n_outputs != 1)
            continue;
        dt = oir_graph_initializer(g, erf->inputs[0]) ? oir_graph_initializer(g, erf->inputs[0])->dtype : 0;
        if (!dt && sg_value_type(g, erf->inputs[0]) && sg_value_type(g, erf->inputs[0])->kind == OIR_TYPE_TENSOR)
            dt = sg_value_type(g, erf->inputs[0])->elem_type;
        if (!dt)
            return sg_fail(a, NULL,
                           "the type of '%s', the input of Erf node '%s', is unknown (no value_info; run "
                           "InferShapes first)",
                           erf->inputs[0], erf->name);
        {
            uint8_t probe[8];
            if (!sg_encode(dt, 1.0, probe))
                continue; /* Olive skips types it has no numpy type for */
        }
        scale = olive_asprintf("scale_%zu", i);
        mul_out = olive_asprintf("mul_%zu", i);
        mul_name = olive_asprintf("Sub_Mul_%zu", i);
        tanh_name = olive_asprintf("Sub_Tanh_%zu", i);
        rc = scale && mul_out && mul_name && tanh_name ? OLIVE_OK : OLIVE_ENOMEM;
        if (rc == OLIVE_OK)
            rc = sg_add_scalar(g, scale, dt, 0, 605.0 / 503.0);
        if (rc == OLIVE_OK) {
            const char *ins[2] = {erf->inputs[0], scale};
            mul = oir_node_new("Mul", "", mul_name, 2, ins, 1, (const char *const *)&mul_out);
            tanh_node = oir_node_new("Tanh", "", tanh_name, 1, (const char *const *)&mul_out, 1,
                                     (const char *const *)erf->outputs);
            rc = mul && tanh_node ? OLIVE_OK : OLIVE_ENOMEM;
            if (rc == OLIVE_OK) {
                oir_graph_replace_node(g, i, tanh_node);
                tanh_node = NULL;
                rc = oir_graph_insert_node(g, i, mul);
                if (rc == OLIVE_OK)
                    mul = NULL;
                i++;
            }
            oir_node_free(mul);
            oir_node_free(tanh_node);
        }
        free(scale), free(mul_out), free(mul_name), free(tanh_name);
        OLIVE_TRY(rc);
    }
    return OLIVE_OK;
}

/* com.microsoft QuickGelu(x) -> Mul(x, Sigmoid(Mul(alpha, x))), alpha a Constant of x's type:
 * the node's alpha, 1.702 (Olive's value) when it has none. */
static int decompose_quick_gelu(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *qg = g->nodes[i], *c;
        char *base, *alpha, *ax, *sig, *cname, *mname, *sname, *oname, *x;
        int32_t dt;
        double av;
        oir_tensor *t;
        uint8_t buf[8];
        size_t nb;
        int rc;
        if (strcmp(qg->op_type, "QuickGelu") || strcmp(qg->domain, "com.microsoft") || qg->n_inputs != 1)
            continue;
        dt = sg_value_dtype(g, qg->inputs[0]);
        if (!dt)
            dt = OIR_FLOAT;
        av = oir_node_attr(qg, "alpha") ? oir_node_attr_float(qg, "alpha", 1.702f) : 1.702;
        base = olive_strdup(qg->name && qg->name[0] ? qg->name : qg->outputs[0]);
        alpha = base ? olive_asprintf("%s_alpha", base) : NULL;
        ax = base ? olive_asprintf("%s_alpha_x", base) : NULL;
        sig = base ? olive_asprintf("%s_sigmoid", base) : NULL;
        cname = base ? olive_asprintf("%s_Constant", base) : NULL;
        mname = base ? olive_asprintf("%s_Mul_alpha", base) : NULL;
        sname = base ? olive_asprintf("%s_Sigmoid", base) : NULL;
        oname = base ? olive_asprintf("%s_Mul", base) : NULL;
        x = olive_strdup(qg->inputs[0]);
        rc = alpha && ax && sig && cname && mname && sname && oname && x ? OLIVE_OK : OLIVE_ENOMEM;
        if (rc == OLIVE_OK && !(nb = sg_encode(dt, av, buf)))
            rc = olive_fail(OLIVE_EUNSUPPORTED, "surgeon 'DecomposeQuickGelu': QuickGelu node '%s' has input type %s",
                            qg->name, oir_dtype_name(dt));
        if (rc == OLIVE_OK) {
            const char *ma[2] = {alpha, x}, *mo[2] = {x, sig};
            oir_node *mul2 = oir_node_new("Mul", "", oname, 2, mo, 1, (const char *const *)qg->outputs);
            if (!mul2) {
                rc = OLIVE_ENOMEM;
            } else {
                oir_graph_replace_node(g, i, mul2);
                if (!(c = sg_add_node(g, "Constant", "", cname, 0, NULL, 1, (const char *const *)&alpha)) ||
                    !(t = oir_tensor_new(alpha, dt, 0, NULL)))
                    rc = OLIVE_ENOMEM;
                else if ((rc = oir_tensor_set_copy(t, buf, nb)) != OLIVE_OK ||
                         (rc = oir_node_set_attr_tensor(c, "value", t)) != OLIVE_OK)
                    oir_tensor_free(t);
                if (rc == OLIVE_OK &&
                    (!sg_add_node(g, "Mul", "", mname, 2, ma, 1, (const char *const *)&ax) ||
                     !sg_add_node(g, "Sigmoid", "", sname, 1, (const char *const *)&ax, 1, (const char *const *)&sig)))
                    rc = OLIVE_ENOMEM;
            }
        }
        free(base), free(alpha), free(ax), free(sig), free(cname), free(mname), free(sname), free(oname), free(x);
        OLIVE_TRY(rc);
    }
    /* As after Olive's rewriter: nodes nothing reads go. */
    return sg_remove_dead_nodes(g);
}

/* Mul(a, Reciprocal(x)) -> Div(a, x), in place (the Mul keeps its outputs; its name has "Mul"
 * replaced by "Div"). The Reciprocal goes when nothing else reads it. */
static int reciprocal_mul_to_div(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *r = g->nodes[i];
        if (strcmp(r->op_type, "Reciprocal") || r->domain[0] || r->n_inputs != 1 || r->n_outputs != 1)
            continue;
        for (size_t k = 0; k < g->n_nodes; k++) {
            oir_node *mul = g->nodes[k];
            oir_node *div;
            char *name, *other, *x;
            if (strcmp(mul->op_type, "Mul") || mul->domain[0] || mul->n_inputs != 2 ||
                (strcmp(mul->inputs[0], r->outputs[0]) && strcmp(mul->inputs[1], r->outputs[0])))
                continue;
            other = olive_strdup(mul->inputs[!strcmp(mul->inputs[0], r->outputs[0]) ? 1 : 0]);
            x = olive_strdup(r->inputs[0]);
            div = oir_node_clone_as(mul, "Div", "");
            name = mul->name && mul->name[0] ? sg_new_name(mul->name, "Mul", "Div") : NULL;
            if (!other || !x || !div || (mul->name && mul->name[0] && !name)) {
                free(other), free(x), oir_node_free(div), free(name);
                return OLIVE_ENOMEM;
            }
            oir_graph_replace_node(g, k, div); /* frees the Mul */
            mul = div;
            if (name) {
                free(mul->name);
                mul->name = name;
            }
            free(mul->inputs[0]);
            free(mul->inputs[1]);
            mul->inputs[0] = other;
            mul->inputs[1] = x;
        }
        r->mark = !sg_use_count(g, r->outputs[0]) && oir_graph_output_index(g, r->outputs[0]) < 0;
    }
    oir_graph_remove_marked_nodes(g);
    return OLIVE_OK;
}

static const sg_param p_none[] = {{NULL, 0, 0}};

const sg_surgeon sg_family_elementwise[] = {
    SG_SURGEON("ReplaceErfWithTanh", "Replaces Erf(x) with Tanh(x * 605/503)", p_none, replace_erf_with_tanh),
    SG_SURGEON("DecomposeQuickGelu", "Replaces com.microsoft QuickGelu with Mul, Sigmoid, Mul", p_none,
               decompose_quick_gelu),
    SG_SURGEON("ReciprocalMulToDiv", "Replaces Mul(a, Reciprocal(x)) with Div(a, x)", p_none, reciprocal_mul_to_div),
    SG_END,
};
