/* The convert pass: opens model->checkpoint_path, picks the builder by config.json
 * "architectures" and builds the graph into the model (see decoder.h, encoder_bert.h). */
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/checkpoint.h"
#include "olive/accelerator.h"
#include "passes/convert/convert.h"
#include "passes/convert/decoder.h"

#include "passes/convert/encoder_bert.h"
#include "passes/convert/encoder_clip.h"
#include "passes/convert/encoder_vit.h"
#include "passes/convert/whisper.h"

/* Execution provider names as the builder spells them, from the accelerator's ONNX Runtime name. */
static const char *provider_of(const olive_pass_ctx *ctx)
{
    const char *p = ctx && ctx->accelerator ? olive_accelerator_provider(ctx->accelerator) : NULL;
    if (!p)
        return "cpu";
    if (!strcasecmp(p, "CUDAExecutionProvider") || !strcasecmp(p, "TensorrtExecutionProvider"))
        return "cuda";
    if (!strcasecmp(p, "DmlExecutionProvider"))
        return "dml";
    if (!strcasecmp(p, "WebGpuExecutionProvider"))
        return "webgpu";
    return "cpu";
}

const char *olive_convert_provider(const char *execution_provider, const struct olive_accelerator *acc)
{
    olive_pass_ctx ctx = {acc, NULL, NULL};
    return execution_provider && execution_provider[0] ? execution_provider : provider_of(&ctx);
}

/* The architecture named in config.json ("architectures"[0], else model_type). */
static const char *architecture_of(const ofmt_checkpoint *ck)
{
    json_t *a = json_object_get(ck->config, "architectures");
    if (a && json_is_array(a) && json_array_size(a) && json_is_string(json_array_get(a, 0)))
        return json_string_value(json_array_get(a, 0));
    a = json_object_get(ck->config, "model_type");
    return a && json_is_string(a) ? json_string_value(a) : NULL;
}

static int convert(oir_model *m, const ofmt_checkpoint *ck, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    const char *arch = architecture_of(ck);
    const cvt_decoder_arch *dec = cvt_decoder_find(arch);
    if (dec)
        return cvt_decoder_build(m, ck, dec, args, ctx);
    if (arch && (cvt_bert_handles(arch) || cvt_vit_handles(arch) || cvt_clip_handles(arch))) {
        const char *adapter = args ? olive_args_string(args, "adapter_path") : NULL;
        if (adapter && adapter[0])
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "adapter_path: LoRA inputs are built for decoders only, not for "
                              "'%s' (%s)",
                              ck->path, arch);
        if (cvt_vit_handles(arch))
            return cvt_vit_build(m, ck, args, ctx);
        if (cvt_clip_handles(arch))
            return cvt_clip_build(m, ck, args, ctx);
        return cvt_bert_build(m, ck, args, ctx);
    }
    if (arch && cvt_whisper_handles(arch))
        return cvt_whisper_build(m, ck, args, ctx);
    return olive_fail(OLIVE_EUNSUPPORTED, "config.json of '%s': architecture '%s' is not supported; supported: %s%s",
                      ck->path, arch ? arch : "(none given)", cvt_decoder_supported(),
                      ", BertModel, BertForSequenceClassification, RobertaModel, XLMRobertaModel, DistilBertModel, "
                      "ViTModel, ViTForImageClassification, CLIPModel, CLIPTextModel(WithProjection), "
                      "CLIPVisionModel(WithProjection), WhisperForConditionalGeneration");
}

/* Opens the checkpoint and builds; an unset execution_provider comes from the accelerator
 * (through a copy of the argument values). */
static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    ofmt_checkpoint *ck = NULL;
    olive_pass_args a = *args;
    char **values = NULL;
    int rc;
    if (!m->checkpoint_path)
        return olive_fail(OLIVE_EINVALID, "convert takes a source checkpoint (Hugging Face folder or GGUF file); "
                                          "this model is already ONNX");
    if (m->graph && m->graph->n_nodes)
        return olive_fail(OLIVE_EINVALID, "convert: the model already has a graph");
    if (!olive_args_string(args, "execution_provider")[0]) {
        size_t i = 0;
        for (; i < args->def->n_params && strcmp(args->def->params[i].name, "execution_provider"); i++)
            ;
        if (i == args->def->n_params)
            return olive_fail(OLIVE_EINTERNAL, "convert: no execution_provider parameter");
        if (!(values = olive_calloc(args->def->n_params, sizeof *values)))
            return OLIVE_ENOMEM;
        memcpy(values, args->values, args->def->n_params * sizeof *values);
        values[i] = (char *)provider_of(ctx);
        a.values = values;
    }
    rc = ofmt_checkpoint_open(&ck, m->checkpoint_path);
    if (rc == OLIVE_OK)
        rc = convert(m, ck, &a, ctx);
    ofmt_checkpoint_free(ck);
    free(values);
    if (rc != OLIVE_OK)
        return rc;
    free(m->checkpoint_path);
    m->checkpoint_path = NULL;
    return olive_pass_progress(ctx, 1.0);
}

static const olive_param_spec params[] = {
    {.name = "precision",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "fp32",
     .choices = "fp32|fp16|bf16|int4|int8",
     .search = "fp32|fp16|int4",
     .help = "Weights and compute: fp32, fp16, bf16, or int4/int8 MatMulNBits weights",
     .details = "int4/int8 keep fp32 activations on cpu and use fp16 ones on GPUs"},
    {.name = "io_dtype",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "auto",
     .choices = "auto|fp32|fp16|bf16",
     .help = "Decoders with int4/int8 weights: the activations' dtype (auto: as precision says)",
     .details = "The dtype of the inputs, outputs, caches and float weights beside the MatMulNBits ones; a "
                "workflow sets it from OnnxConversion's torch_dtype when a quantization plan (SelectiveMixedPrecision, "
                "Rtn, Gptq) comes before it, as Olive exports the quantized torch model in that dtype"},
    {.name = "execution_provider",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "cpu, cuda, dml or webgpu (empty: from the accelerator, else cpu); sets provider options and defaults"},
    {.name = "block_size",
     .type = OLIVE_PARAM_INT,
     .default_value = "32",
     .min = 16,
     .max = 256,
     .help = "int4/int8: weights per quantization block along K (16..256, a power of 2)"},
    {.name = "int4_block_size",
     .type = OLIVE_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 256,
     .help = "Same as block_size (the builder's name); 0: use block_size"},
    {.name = "accuracy_level",
     .type = OLIVE_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 4,
     .help = "MatMulNBits accuracy_level; 0: the builder's default for the provider",
     .details = "The builder's default is 4 (int8 compute) on cpu and webgpu, and unset elsewhere"},
    {.name = "is_symmetric",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .help = "int4/int8: symmetric blocks; false adds zero points"},
    {.name = "algo_config",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "default",
     .choices = "default|rtn|k_quant|rtn_last|k_quant_last|k_quant_mixed|k_quant_linear",
     .help = "int4/int8: the builder's quantizer (default, rtn, k_quant), or an alias adding 8-bit modules",
     .details = "default: ONNX Runtime's MLAS blocks; rtn: its RTN config; k_quant: its k-quant config (always with "
                "zero points). rtn_last and k_quant_last also quantize the head in 8 bits; k_quant_mixed the head and, "
                "in the builder's layers (the first and last eighth, every third between), v_proj (a packed qkv) and "
                "down_proj; k_quant_linear is k_quant_last here (no linear-attention layers). Tensors are named as "
                "each quantizer names them"},
    {.name = "gguf_blocks",
     .type = OLIVE_PARAM_CHOICE,
     .default_value = "keep",
     .choices = "keep|keep8|exact|requantize",
     .help = "int4/int8 from a quantized GGUF file: keep its blocks in MatMulNBits, or requantize its values",
     .details = "keep: Q4_0, Q5_0, Q8_0, Q3_K, Q6_K, IQ4_NL and IQ4_XS are carried exactly (Q4_0 and Q3_K in 4 "
                "bits, the others in 8; Q3_K and Q6_K with block 16); Q4_1, Q5_1, Q2_K, Q4_K and Q5_K keep their "
                "codes with fitted integer zero points and scales; keep8: those in 8 bits, their codes spread over "
                "the byte (about 16 times closer, twice the bytes); exact: those get float zero points instead "
                "(exact, but ONNX Runtime's CPU kernel runs them many times slower). The GGUF block size and bits "
                "win over block_size, precision and is_symmetric for those weights"},
    {.name = "exclude_embeds",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Take inputs_embeds instead of input_ids"},
    {.name = "exclude_lm_head",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Output hidden_states instead of logits"},
    {.name = "include_hidden_states",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Output hidden_states besides logits"},
    {.name = "num_hidden_layers",
     .type = OLIVE_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 1e9,
     .help = "Build only the first N layers (0: all)"},
    {.name = "disable_qkv_fusion",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "Separate q/k/v MatMuls instead of one packed MatMul (always on dml)"},
    {.name = "enable_cuda_graph",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "cuda: genai_config.json turns on CUDA graph capture (enable_cuda_graph)"},
    {.name = "enable_dml_graph",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .help = "dml: genai_config.json turns on DirectML graph capture (enable_graph_capture)"},
    {.name = "enable_webgpu_graph",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .help = "webgpu: genai_config.json turns on WebGPU graph capture (enableGraphCapture)"},
    {.name = "adapter_path",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "PEFT LoRA adapter folders (':'-separated) whose layers become graph inputs",
     .details = "Inputs <module>.lora_A.weight [in, r] and <module>.lora_B.weight [r, out], empty by default: the "
                "form ONNX Runtime GenAI's adapters load (olive convert-adapters writes the matching "
                ".onnx_adapter); decoders only"},
    {.name = "quant_plan",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "int4/int8: per-module bits, group size and symmetry as JSON (from SelectiveMixedPrecision / Rtn)",
     .details = "{\"bits\", \"group_size\", \"symmetric\", \"lm_head\", \"embeds\", \"selective\": "
                "{\"algorithm\": k_quant_mixed|k_quant_down|k_quant_last, \"high_bits\"} (or a scored algorithm, "
                "snr|snr_relative|iqe|iqe_relative|kld_gradient, with \"ratio\" and its quantizer settings; "
                "kld_gradient scores on selection_data), \"overrides\": "
                "{module: {bits, group_size, symmetric}}}; a workflow fills it from the SelectiveMixedPrecision and "
                "Rtn passes before ModelBuilder. Modules are the checkpoint's names (lm_head for the head); the head "
                "stays float unless lm_head is true. From a quantized GGUF file the weights are requantized as "
                "planned (gguf_blocks does not apply)"},
    {.name = "gptq_calibration_data",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "Folder of <input name>.npy calibration samples for a quant_plan's GPTQ part on float16 activations",
     .details = "int4/int8 on cuda, dml and webgpu: a plan's GPTQ part (quant_plan \"gptq\", its \"settings\" the "
                "gptq pass's parameters) is calibrated on a float32 CPU copy of the model, converted the same way "
                "into a temporary file and removed, and the model takes its codes and zero points, its scales in "
                "float16. A workflow sets it from a Gptq pass before ModelBuilder; on cpu the gptq pass runs after "
                "the conversion instead",
     .data_folder = 1},
    {.name = "rotate_mode",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "hadamard or random: rotate the decoder's residual stream as Olive's Quarot does (empty: none)",
     .details = "hadamard: a Hadamard transform with seeded random signs (hidden_size and head_dim a power of two "
                "times 1 or a Paley order: 12, 20, 28, 36, 60, 108, 140, ...); "
                "random: a seeded random orthogonal matrix. RMSNorm weights fold into the Linears after them, the "
                "embedding and every Linear on the residual stream turn with it, and each value head of a layer "
                "without a v_proj bias turns by its own matrix; the model computes the same function. Llama, "
                "Mistral, Qwen2 and Qwen3 checkpoints; a workflow sets it from a Quarot pass before ModelBuilder"},
    {.name = "rotate_seed",
     .type = OLIVE_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 2147483647,
     .help = "Seed of the rotation's random draws (rotate_mode)"},
    {.name = "selection_data",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "quant_plan kld_gradient: folder of calibration .npy files (input_ids, attention_mask)",
     .details = "The samples (one run each) on which the kld_gradient selection compares the float32 model with "
                "its fake-quantized student; a workflow fills it from the SelectiveMixedPrecision pass's data. "
                "Costs, per sample, one run of the float32 model in ONNX Runtime plus two per selection unit "
                "(about 5 per layer), and memory for the float32 Linear weights twice",
     .data_folder = 2},
    {.name = "temp_dir",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "Folder for the temporary weights file (empty: $TMPDIR, else /tmp or /var/tmp)",
     .details = "Without $TMPDIR, /var/tmp is used when /tmp is in memory"},
};

static const olive_key_map builder_renames[] = {
    {"int4_block_size", "block_size", NULL},
    {"int4_accuracy_level", "accuracy_level", NULL},
    {"int4_is_symmetric", "is_symmetric", NULL},
    {"int4_algo_config", "algo_config", NULL},
    {NULL, NULL, NULL},
};
static const char *const builder_ignored[] = {"metadata_only", "search", NULL};
static const char *const conversion_ignored[] = {"target_opset",
                                                 "use_dynamo_exporter",
                                                 "past_key_value_name",
                                                 "dynamic",
                                                 "use_device",
                                                 "merge_adapter_weights",
                                                 "save_metadata_for_token_generation",
                                                 "optimize",
                                                 "device",
                                                 NULL};

static const olive_pass_type olive_types[] = {
    {"ModelBuilder", NULL, builder_renames, builder_ignored},
    /* Olive exports checkpoints with torch; here the converter builds the same model's graph
     * directly (fp32 unless torch_dtype says otherwise). */
    {"OnnxConversion", "precision=fp32", NULL, conversion_ignored},
    {NULL, NULL, NULL, NULL},
};

/* OnnxConversion names the precision as a torch dtype. */
static const olive_key_map olive_keys[] = {
    {"torch_dtype", "precision", "float32=fp32|float16=fp16|bfloat16=bf16"},
    {NULL, NULL, NULL},
};

/* ModelBuilder's extra_options carry builder settings under the same names. */
static const char *const nested_keys[] = {"extra_options", NULL};

const olive_pass_def olive_pass_convert = {
    .name = "convert",
    .summary = "Hugging Face checkpoint or GGUF file to ONNX, weights streamed",
    .details = "Decoders for ONNX Runtime GenAI (GroupQueryAttention, MatMulNBits for int4/int8, genai_config.json), "
               "BERT-family, ViT and CLIP encoders, and Whisper (encoder and decoder with cross-attention caches, "
               "audio_processor_config.json)",
    /* The builder picks operators and layouts for the execution provider. */
    .flags = OLIVE_PASS_ACCEPTS_CHECKPOINT | OLIVE_PASS_DEPENDS_ON_ACCELERATOR,
    .olive_types = olive_types,
    .olive_keys = olive_keys,
    .nested_keys = nested_keys,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
