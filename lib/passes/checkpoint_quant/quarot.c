/* Olive's Quarot as a setting of convert (see checkpoint_quant.h). */
#include "core/status.h"
#include "passes/checkpoint_quant/checkpoint_quant.h"

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    (void)m;
    (void)ctx;
    return olive_fail(OLIVE_EUNSUPPORTED,
                      "%s rotates a checkpoint's weights while it is converted and has no graph to change: put it "
                      "before a ModelBuilder or OnnxConversion (convert) pass in a workflow, which rotates as it "
                      "streams the weights (its rotate_mode and rotate_seed)",
                      args->def->name);
}

static const olive_param_spec params[] = {
    {.name = "seed",
     .type = OLIVE_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 2147483647,
     .help = "Seed of the random signs or matrices",
     .details = "libolive draws from its own seeded generator, not torch's: the same seed gives other matrices "
                "(and other rotated weights) than Olive, with the same properties"},
    {.name = "rotate_mode",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "hadamard",
     .choices = "hadamard|random",
     .help = "hadamard: a Hadamard transform with random signs; random: QR of a Gaussian matrix",
     .details = "hadamard needs hidden_size and head_dim to be a power of two times an order Paley's "
                "constructions give (12, 20, 28, 36, 60, 108, 140, ...); random takes any size (its matrix costs "
                "hidden_size^2 per weight row)"},
};

static const olive_pass_type types[] = {{"Quarot", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_quarot = {
    .name = "quarot",
    .summary = "Rotate a decoder checkpoint's residual stream by an orthogonal matrix before quantizing (QuaRot)",
    .details = "Runs before ModelBuilder / OnnxConversion on a Llama, Mistral, Qwen2 or Qwen3 checkpoint (passes that "
               "plan quantization, SelectiveMixedPrecision, Rtn and Gptq, may stand between): a workflow hands seed "
               "and rotate_mode to convert, which folds the RMSNorm weights into the Linears after them, turns the "
               "embedding and every Linear reading or writing the residual stream by one orthogonal matrix, and "
               "each value head (where v_proj has no bias) by a head_dim one, while it streams the weights. The "
               "model computes the same function; outlier channels spread out, so int4 loses less. A tied head is "
               "untied, as in Olive. Not byte-equal to Olive's output (another random generator)",
    .olive_types = types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
