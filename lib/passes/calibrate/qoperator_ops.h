/* The QOperator form of static quantization, as onnxruntime's quantize_static writes it with
 * QuantFormat.QOperator (its ONNXQuantizer and QLinearOpsRegistry): the graph's nodes are
 * visited in order and each selected node of a known op type becomes its integer operator
 * (QLinearConv, QLinearMatMul, QGemm, QLinearAdd, QLinearMul, QLinearSigmoid,
 * QLinearLeakyRelu, QLinearAveragePool, QLinearGlobalAveragePool, QLinearConcat,
 * QLinearSoftmax, QEmbedLayerNormalization for com.microsoft EmbedLayerNormalization), keeps
 * reading and writing codes (Reshape, Transpose, Squeeze, Unsqueeze, Flatten, MaxPool, Resize,
 * Gather, Split, Pad; ArgMax reads them), or goes away (Relu and Clip folded into the range of
 * their input). Where stays in float (quantize_static writes
 * QLinearWhere only with ForceQuantizeNoInputCheck); other op types stay in float.
 *
 * Activations enter as QuantizeLinear "<X>_QuantizeLinear" -> "<X>_quantized"; a float node or
 * a graph output reading a value that only exists as codes reads it through DequantizeLinear
 * "<X>_DequantizeLinear". Initializers become "<W>_quantized" with "<W>_scale" and
 * "<W>_zero_point"; biases int32 "<B>_quantized" (an int8 weight's scale enlarged where the
 * bias codes would not fit int32, as quantize_static enlarges it). Initializers nothing reads
 * any more are removed, as quantize_static removes them. */
#ifndef OLIVE_PASSES_CALIBRATE_QOPERATOR_OPS_H
#define OLIVE_PASSES_CALIBRATE_QOPERATOR_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

typedef struct olive_qop_env {
    oir_model *model;
    int32_t atype, wtype; /* OIR_INT8 or OIR_UINT8 */
    int per_channel, reduce_range, act_symmetric;
    int weight_symmetric; /* WeightSymmetric as given: 0, 1, or -1 when not given */
    /* 1 when node n is selected for quantization (op_types_to_quantize, nodes_to_include,
     * nodes_to_exclude). */
    int (*selected)(void *user, const oir_node *n);
    /* 1 with the calibrated range of the float32 activation `name`, 0 when it has none. */
    int (*range)(void *user, const char *name, float *rmin, float *rmax);
    void *user;
} olive_qop_env;

/* 1 when quantize_static quantizes `op_type` when op_types_to_quantize names none (the op
 * types of its QOperator and QDQ registries). */
int olive_qop_default_op_type(const char *op_type);

/* Rewrites env->model's main graph. *n_written counts the nodes turned into integer operators
 * or code-carrying ones. Errors: OLIVE_ENOMEM, OLIVE_EFORMAT (a model value already has a name
 * the quantized form needs, malformed initializer), OLIVE_EUNSUPPORTED (a bias whose int32
 * codes would overflow at the scale of a weight that is not an initializer). */
int olive_qop_rewrite(const olive_qop_env *env, size_t *n_written);

#endif
