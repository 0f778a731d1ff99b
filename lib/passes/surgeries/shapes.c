/* Surgeons on shape information: value_info removed or its shapes cleared. */
#include <stdlib.h>

#include "core/status.h"
#include "passes/surgeries/shape_infer.h"
#include "passes/surgeries/surgeon.h"

static int remove_shapes(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    while (g->n_value_info)
        oir_graph_remove_value_info(g, g->n_value_info - 1);
    return OLIVE_OK;
}

static int remove_all_tensor_value_shapes(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    for (size_t i = 0; i < g->n_value_info; i++) {
        oir_type *t = g->value_info[i].type;
        if (!t || t->kind != OIR_TYPE_TENSOR || !t->has_shape)
            continue;
        for (size_t d = 0; d < t->rank; d++) {
            free(t->dims[d].param);
            free(t->dims[d].denotation);
        }
        free(t->dims);
        t->dims = NULL;
        t->rank = 0;
        t->has_shape = 0;
    }
    return OLIVE_OK;
}

/* Olive runs onnx.shape_inference.infer_shapes: the same for the ops shape_infer.c knows. */
static int infer_shapes(oir_model *m, const sg_args *a)
{
    (void)a;
    return sg_infer_shapes(m->graph);
}

static const sg_param p_none[] = {{NULL, 0, 0}};

const sg_surgeon sg_family_shapes[] = {
    SG_SURGEON("RemoveShapes", "Removes the main graph's value_info", p_none, remove_shapes),
    SG_SURGEON("RemoveAllTensorValueShapes", "Clears the shapes of the main graph's value_info (types stay)", p_none,
               remove_all_tensor_value_shapes),
    SG_SURGEON("InferShapes", "ONNX shape inference of the main graph (elementwise, MatMul, Transpose, Gather, ...)",
               p_none, infer_shapes),
    SG_END,
};
