/* SelectiveMixedPrecision and Rtn as plans for convert (see checkpoint_quant.h). */
#include "core/status.h"
#include "passes/checkpoint_quant/checkpoint_quant.h"

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    (void)m;
    (void)ctx;
    return olive_fail(OLIVE_EUNSUPPORTED,
                      "%s plans how a checkpoint is quantized and has no graph to change: put it before a ModelBuilder "
                      "(convert) pass in a workflow, which quantizes the checkpoint as planned",
                      args->def->name);
}

static const olive_param_spec smp_params[] = {
    {.name = "algorithm",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "k_quant_mixed",
     .choices = "k_quant_mixed|k_quant_down|k_quant_last|high_precision_mlp_down_qkv|high_precision_mlp_down|"
                "high_precision_lm_head|kld_gradient|snr|snr_relative|iqe|iqe_relative",
     .search = OLIVE_SMP_RULE_ALGORITHMS,
     .help = "Modules given high_bits: k_quant_* by layer position, snr/iqe by weight error, kld_gradient by data",
     .details = "k_quant_last: the LM head; k_quant_down: the head and down_proj of the first and last eighth of the "
                "layers and of every third layer between; k_quant_mixed: those and the attention inputs (q/k/v) of "
                "the same layers. high_precision_lm_head, high_precision_mlp_down and high_precision_mlp_down_qkv are "
                "newer Olive's names of k_quant_last, k_quant_down and k_quant_mixed. snr, snr_relative, iqe, "
                "iqe_relative: every Linear weight is fake-quantized with "
                "Olive's quantizer (bits, group_size, sym; high_*) and scored, the most sensitive units (q/k/v of a "
                "layer together) promoted until they hold 1 - ratio of the parameters. kld_gradient: the same "
                "promotion, ranked by Olive's KL-divergence gradient alignment, sum(grad_W KL(teacher || student) * "
                "(W_low - W_high)) with every Linear of the student fake-quantized to bits, computed as a central "
                "difference with the float32 model in ONNX Runtime on calibration_data (Olive's default: 256 "
                "windows of 512 tokens of wikitext-2 from the Hugging Face Hub); it costs, per sample, one run of "
                "the model plus two per unit (about 5 per layer), where Olive does one forward and one backward: "
                "for 36 layers and Olive's default data, 92,928 runs of 512 tokens, days on a CPU for billions of "
                "parameters; a data_config with fewer samples costs less"},
    {.name = "bits",
     .type = OLIVE_PARAM_INT,
     .default_value = "4",
     .min = 4,
     .max = 8,
     .help = "Bits of the modules not selected (4 or 8)"},
    {.name = "calibration_data",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "kld_gradient: folder of input_ids.npy / attention_mask.npy, one sample per run",
     .details = "A workflow fills it from the pass's data_config, or for an HfModel input from Olive's default "
                "data for kld_gradient (256 windows of 512 tokens of wikitext-2-raw-v1, train[:1000], from the "
                "Hugging Face Hub); other algorithms take no data",
     .data_folder = 1},
    {.name = "high_bits",
     .type = OLIVE_PARAM_INT,
     .default_value = "8",
     .min = 4,
     .max = 8,
     .help = "Bits of the selected modules (4 or 8)"},
    {.name = "group_size",
     .type = OLIVE_PARAM_INT,
     .default_value = "128",
     .min = -1,
     .max = 1e9,
     .help = "Scored algorithms: group size, also of the modules not selected (unused by k_quant_*, as in Olive)"},
    {.name = "high_group_size",
     .type = OLIVE_PARAM_INT,
     .default_value = "0",
     .min = -1,
     .max = 1e9,
     .help = "Scored algorithms: group size of the selected modules (0: group_size)"},
    {.name = "sym",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Scored algorithms: symmetric quantization (unused by k_quant_*)"},
    {.name = "high_sym",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "Scored algorithms: symmetric quantization of the selected modules (true, false; empty: sym)"},
    {.name = "ratio",
     .type = OLIVE_PARAM_FLOAT,
     .default_value = "0",
     .min = 0,
     .max = 1,
     .help = "Scored algorithms: share of parameters kept at bits (unused by k_quant_*)"},
};

static const char *const smp_ignored[] = {"kld_memory_mode", NULL};
static const olive_pass_type smp_types[] = {{"SelectiveMixedPrecision", NULL, NULL, smp_ignored},
                                            {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_selective_mixed_precision = {
    .name = "selective_mixed_precision",
    .summary = "Plan which Linear layers of a checkpoint keep high_bits (Olive's layer rules or scores)",
    .details = "Runs before ModelBuilder on a checkpoint: a workflow hands the plan to convert (its quant_plan), which "
               "writes MatMulNBits with the planned bits per module; a Gptq between them runs after the conversion "
               "with the planned bits per MatMul. A later Rtn pass's bits, group_size, sym, lm_head, embeds and "
               "overrides complete the plan, its overrides winning, as Olive merges its mixed_precision_info",
    .olive_types = smp_types,
    .params = smp_params,
    .n_params = sizeof smp_params / sizeof *smp_params,
    .run = run,
};

static const olive_param_spec rtn_params[] = {
    {.name = "bits",
     .type = OLIVE_PARAM_INT,
     .default_value = "4",
     .min = 4,
     .max = 8,
     .help = "Bits of every quantized Linear (4 or 8)"},
    {.name = "group_size",
     .type = OLIVE_PARAM_INT,
     .default_value = "128",
     .min = 16,
     .max = 256,
     .help = "Weights per quantization block along K (16..256, a power of 2)"},
    {.name = "sym",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Symmetric blocks; false adds zero points"},
    {.name = "lm_head",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Quantize the LM head too (else it stays float)"},
    {.name = "embeds",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Quantize the embedding table too (GatherBlockQuantized, else a float Gather)"},
    {.name = "overrides",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "Per-module settings as JSON: {module: {bits, group_size, symmetric}}",
     .details = "Module names are the checkpoint's (model.layers.0.mlp.down_proj, lm_head, model.embed_tokens); they "
                "win over SelectiveMixedPrecision's choice"},
};

static const olive_pass_type rtn_types[] = {{"Rtn", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_checkpoint_rtn = {
    .name = "checkpoint_rtn",
    .summary = "Round-to-nearest int4/int8 of a checkpoint's Linear layers, done by convert (Olive's Rtn)",
    .details = "Runs before ModelBuilder on a checkpoint: a workflow folds bits, group_size, sym, lm_head, embeds and "
               "overrides into convert's quant_plan (with a SelectiveMixedPrecision plan before it), and convert "
               "rounds each weight to MatMulNBits as it streams it, as ONNX Runtime's default quantizer does",
    .olive_types = rtn_types,
    .params = rtn_params,
    .n_params = sizeof rtn_params / sizeof *rtn_params,
    .run = run,
};
