/* The float16 pass: float32 initializers, constants and compute become float16 (or
 * bfloat16), in the main graph and in If/Loop/Scan bodies. Nodes whose op type is in
 * op_block_list or whose name is in node_block_list stay float32, with Casts at the region
 * edges; keep_io_types keeps float32 graph inputs and outputs (all, or those named) with Casts
 * at the graph edges; force_fp16_initializers and force_fp16_inputs convert what onnxruntime's
 * converter would keep float32.
 * Types of values the model does not declare are derived with simple per-op rules; a value
 * whose type cannot be told is never cast. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/float16/f16_internal.h"
#include "passes/float16/float16.h"

static int convert(oir_model *m, f16_run *r)
{
    f16_scope s;
    int rc;
    r->clamp = r->target == OIR_FLOAT16;
    r->opset = oir_model_opset(m, "");
    if (r->target == OIR_BFLOAT16 && r->opset > 0 && r->opset < 13)
        return olive_fail(OLIVE_EUNSUPPORTED, "dtype=bfloat16 needs opset 13 or later (the model imports opset %lld)",
                          (long long)r->opset);
    if (r->blocked_type == OIR_BFLOAT16 && r->opset > 0 && r->opset < 13)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "use_bfloat16_as_blocked_nodes_dtype needs opset 13 or later (the model imports opset %lld)",
                          (long long)r->opset);
    r->min_positive = (float)olive_args_float(r->args, "min_positive_val");
    r->max_finite = (float)olive_args_float(r->args, "max_finite_val");
    if (r->min_positive > r->max_finite)
        return olive_fail(OLIVE_EINVALID, "min_positive_val (%g) is larger than max_finite_val (%g)",
                          (double)r->min_positive, (double)r->max_finite);
    memset(&s, 0, sizeof s);
    s.run = r;
    s.g = m->graph;
    s.is_main = 1;
    rc = f16_convert_graph(&s);
    f16_scope_free(&s);
    if (rc != OLIVE_OK)
        return rc;
    /* A model of other domains only now has Casts: import the default domain for them. */
    if (r->casts_added && r->opset < 0 && (rc = oir_model_require_opset(m, "", 13)) != OLIVE_OK)
        return rc;
    OLIVE_INFO("float16: converted %zu tensors to %s, %zu nodes kept in float32, added %zu Casts, removed %zu "
               "Casts to the type their input has",
               r->converted_tensors, oir_dtype_name(r->target), r->blocked_nodes, r->casts_added, r->casts_removed);
    return olive_pass_progress(r->ctx, 1.0);
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    f16_run r;
    int rc;
    memset(&r, 0, sizeof r);
    r.args = args;
    r.ctx = ctx;
    r.target = strcmp(olive_args_string(args, "dtype"), "bfloat16") ? OIR_FLOAT16 : OIR_BFLOAT16;
    r.force_initializers = olive_args_bool(args, "force_fp16_initializers");
    r.blocked_type = olive_args_bool(args, "use_bfloat16_as_blocked_nodes_dtype") ? OIR_BFLOAT16 : OIR_FLOAT;
    if ((rc = f16_parse_keep_io(&r, olive_args_string(args, "keep_io_types"))) == OLIVE_OK &&
        (rc = f16_parse_force_inputs(&r, olive_args_string(args, "force_fp16_inputs"))) == OLIVE_OK)
        rc = convert(m, &r);
    free(r.forced);
    return rc;
}

/* onnxruntime's converter keeps these ops in float32 by default: they have no float16 kernel. */
#define DEFAULT_OP_BLOCK_LIST                                                                                          \
    "ArrayFeatureExtractor,Binarizer,CastMap,CategoryMapper,DictVectorizer,FeatureVectorizer,Imputer,"                 \
    "LabelEncoder,LinearClassifier,LinearRegressor,Normalizer,OneHotEncoder,RandomUniformLike,SVMClassifier,"          \
    "SVMRegressor,Scaler,TreeEnsembleClassifier,TreeEnsembleRegressor,TreeEnsemble,ZipMap,NonMaxSuppression,"          \
    "TopK,RoiAlign,Range,CumSum,Min,Max,Upsample"

static const olive_param_spec params[] = {
    {.name = "dtype",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "float16",
     .choices = "float16|bfloat16",
     .help = "Type float32 tensors become (bfloat16 is not clamped: it has float32's range)"},
    {.name = "keep_io_types",
     .type = OLIVE_PARAM_LIST,
     .default_value = "false",
     .help = "true: float32 graph inputs and outputs (Casts at the edges); or their names",
     .details = "A list names the inputs and outputs kept float32, as onnxruntime's converter takes one"},
    {.name = "op_block_list",
     .type = OLIVE_PARAM_LIST,
     .default_value = DEFAULT_OP_BLOCK_LIST,
     .help = "Op types that stay float32 (default: the ops onnxruntime has no float16 kernel for)"},
    {.name = "node_block_list",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .help = "Names of nodes that stay float32"},
    {.name = "disable_shape_infer",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Accepted for Olive configurations; without effect: this pass never runs shape inference"},
    {.name = "use_symbolic_shape_infer",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .help = "Accepted for Olive configurations; without effect: types come from the model and per-op rules"},
    {.name = "force_fp16_initializers",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Convert every float32 initializer, also those only float32 nodes read",
     .details = "Such nodes read it through a Cast; by default the initializer stays float32, as in onnxruntime's "
                "converter"},
    {.name = "force_fp16_inputs",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "Inputs converted although onnxruntime keeps them float32, as Resize:2;GroupNorm:1,2",
     .details = "Op types with input indices (Resize scales, GroupNorm gamma/beta), or a JSON object as {\"Resize\": "
                "[2]}"},
    {.name = "use_bfloat16_as_blocked_nodes_dtype",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Blocked nodes compute in bfloat16 instead of float32",
     .details = "Casts to bfloat16 surround them; ops whose schema has no other type than float32 stay float32"},
    {.name = "min_positive_val",
     .type = OLIVE_PARAM_FLOAT,
     .default_value = "5.96e-08",
     .min = 5.96e-08,
     .max = 65504,
     .help = "Non-zero float16 values are at least this large in magnitude (onnxruntime's converter refuses less)"},
    {.name = "max_finite_val",
     .type = OLIVE_PARAM_FLOAT,
     .default_value = "65504",
     .min = 0,
     .max = 65504,
     .help = "Finite float16 values are at most this large in magnitude"},
};

static const olive_pass_type olive_types[] = {{"OnnxFloatToFloat16", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

/* Olive's fp16 pass takes bf16 as a flag; ours as a dtype. */
static const olive_key_map olive_keys[] = {{"use_bf16", "dtype", "true=bfloat16|false="}, {NULL, NULL, NULL}};

const olive_pass_def olive_pass_float16 = {
    .name = "float16",
    .summary = "float32 weights and compute to float16 or bfloat16, blocked ops kept float32",
    .details = "Blocked ops and nodes stay float32 behind Casts",
    .olive_types = olive_types,
    .olive_keys = olive_keys,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
