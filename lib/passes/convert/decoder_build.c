/* The decoder build from start to end: options, config, graph inputs and outputs, the
 * attention-mask subgraph, rotary caches, embeddings, layers, head, then the companion files
 * (genai_config.json, config.json, generation_config.json, tokenizer). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "formats/peft.h"
#include "passes/convert/decoder.h"
#include "passes/convert/decoder_gptq_twin.h"
#include "passes/convert/decoder_internal.h"
#include "passes/convert/decoder_plan.h"
#include "passes/convert/decoder_rotate.h"
#include "passes/calibrate/gptq_pass.h"

static const cvt_decoder_arch *const archs[] = {
    &cvt_arch_llama,  &cvt_arch_mistral, &cvt_arch_qwen2,   &cvt_arch_qwen3, &cvt_arch_phi3,    &cvt_arch_gemma,
    &cvt_arch_gemma2, &cvt_arch_gemma3,  &cvt_arch_granite, &cvt_arch_olmo2, &cvt_arch_smollm3,
};

#define N_ARCHS (sizeof archs / sizeof *archs)

const cvt_decoder_arch *cvt_decoder_find(const char *architecture)
{
    for (size_t i = 0; architecture && i < N_ARCHS; i++)
        if (!strcmp(archs[i]->architecture, architecture))
            return archs[i];
    return NULL;
}

const char *cvt_decoder_supported(void)
{
    static char text[1024];
    size_t at = 0;
    if (text[0])
        return text;
    for (size_t i = 0; i < N_ARCHS; i++) {
        size_t n = strlen(archs[i]->architecture);
        if (at + n + 3 >= sizeof text)
            break;
        if (at) {
            memcpy(text + at, ", ", 2);
            at += 2;
        }
        memcpy(text + at, archs[i]->architecture, n);
        at += n;
        text[at] = '\0';
    }
    return text;
}

/* onnxruntime-genai's builder's algo_config: a base method (default, rtn, k_quant), or a
 * legacy alias that adds a mixed precision placement (the head, or the head and the layer rule's
 * projections, in 8 bits). k_quant always writes zero points. */
static int read_algo_config(cvt_decoder_options *o, const char *v)
{
    static const struct {
        const char *name;
        int algorithm;
        const char *placement;
    } algos[] = {
        {"default", OLIVE_BLOCKQ_DEFAULT, NULL},
        {"rtn", OLIVE_BLOCKQ_RTN, NULL},
        {"k_quant", OLIVE_BLOCKQ_KQUANT, NULL},
        {"rtn_last", OLIVE_BLOCKQ_RTN, "last_matmul"},
        {"k_quant_last", OLIVE_BLOCKQ_KQUANT, "last_matmul"},
        /* its linear-attention projections: none in the architectures converted here */
        {"k_quant_linear", OLIVE_BLOCKQ_KQUANT, "last_matmul"},
        {"k_quant_mixed", OLIVE_BLOCKQ_KQUANT, "mixed_layers"},
    };
    for (size_t i = 0; i < sizeof algos / sizeof *algos; i++)
        if (!strcmp(v, algos[i].name)) {
            o->algorithm = algos[i].algorithm;
            o->placement = algos[i].placement;
            if (o->algorithm == OLIVE_BLOCKQ_KQUANT)
                o->symmetric = 0;
            if (o->placement && o->quant_plan[0])
                return olive_fail(OLIVE_EINVALID,
                                  "algo_config=%s and quant_plan both choose per-module bits (the plan comes from "
                                  "SelectiveMixedPrecision or Rtn): keep one, or use its base method (%s)",
                                  v, o->algorithm == OLIVE_BLOCKQ_RTN ? "rtn" : "k_quant");
            return OLIVE_OK;
        }
    return olive_fail(OLIVE_EINVALID,
                      "algo_config='%s': expected default, rtn, k_quant, rtn_last, k_quant_last, k_quant_mixed or "
                      "k_quant_linear",
                      v);
}

static int read_options(cvt_decoder *d, const olive_pass_args *a)
{
    cvt_decoder_options *o = &d->opt;
    const char *p = a ? olive_args_string(a, "precision") : "fp32";
    int64_t level;
    o->precision = !strcmp(p, "fp16")   ? CVT_FP16
                   : !strcmp(p, "bf16") ? CVT_BF16
                   : !strcmp(p, "int4") ? CVT_INT4
                   : !strcmp(p, "int8") ? CVT_INT8
                                        : CVT_FP32;
    o->execution_provider = a ? olive_args_string(a, "execution_provider") : "cpu";
    if (strcmp(o->execution_provider, "cpu") && strcmp(o->execution_provider, "cuda") &&
        strcmp(o->execution_provider, "dml") && strcmp(o->execution_provider, "webgpu"))
        return olive_fail(OLIVE_EINVALID, "execution_provider='%s': expected cpu, cuda, dml or webgpu",
                          o->execution_provider);
    o->block_size = a ? (int)olive_args_int(a, "block_size") : 32;
    if (a && olive_args_int(a, "int4_block_size") > 0)
        o->block_size = (int)olive_args_int(a, "int4_block_size");
    if (o->block_size < 16 || o->block_size > 256 || (o->block_size & (o->block_size - 1)))
        return olive_fail(OLIVE_EINVALID, "block_size=%d: expected 16, 32, 64, 128 or 256", o->block_size);
    level = a ? olive_args_int(a, "accuracy_level") : 0;
    /* 0 picks what the builder writes: int8 compute (4) on cpu and webgpu, unset elsewhere. */
    if (!level)
        level = !strcmp(o->execution_provider, "cpu") || !strcmp(o->execution_provider, "webgpu") ? 4 : 0;
    o->accuracy_level = (int)level;
    o->symmetric = a ? olive_args_bool(a, "is_symmetric") : 1;
    p = a ? olive_args_string(a, "gguf_blocks") : "keep";
    o->keep_gguf_blocks = !strcmp(p, "requantize") ? CVT_GGUF_REQUANTIZE
                          : !strcmp(p, "exact")    ? CVT_GGUF_EXACT
                          : !strcmp(p, "keep8")    ? CVT_GGUF_KEEP8
                                                   : CVT_GGUF_KEEP;
    o->exclude_embeds = a ? olive_args_bool(a, "exclude_embeds") : 0;
    o->exclude_lm_head = a ? olive_args_bool(a, "exclude_lm_head") : 0;
    o->include_hidden_states = a ? olive_args_bool(a, "include_hidden_states") : 0;
    o->disable_qkv_fusion = a ? olive_args_bool(a, "disable_qkv_fusion") : 0;
    o->cuda_graph = a ? olive_args_bool(a, "enable_cuda_graph") : 0;
    o->dml_graph = a ? olive_args_bool(a, "enable_dml_graph") : 1;
    o->webgpu_graph = a ? olive_args_bool(a, "enable_webgpu_graph") : 0;
    o->num_hidden_layers = a ? olive_args_int(a, "num_hidden_layers") : 0;
    o->quant_plan = a ? olive_args_string(a, "quant_plan") : "";
    o->rotate_mode = a ? olive_args_string(a, "rotate_mode") : "";
    o->rotate_seed = a ? olive_args_int(a, "rotate_seed") : 0;
    o->selection_data = a ? olive_args_string(a, "selection_data") : "";
    OLIVE_TRY(read_algo_config(o, a ? olive_args_string(a, "algo_config") : "default"));
    if (o->quant_plan[0] && o->precision != CVT_INT4 && o->precision != CVT_INT8)
        return olive_fail(OLIVE_EINVALID,
                          "quant_plan: the plan quantizes to int4/int8 MatMulNBits; set precision to "
                          "int4 or int8 (it is %s)",
                          olive_args_string(a, "precision"));
    p = a ? olive_args_string(a, "io_dtype") : "auto";
    if (strcmp(p, "auto") && o->precision != CVT_INT4 && o->precision != CVT_INT8)
        return olive_fail(OLIVE_EINVALID,
                          "io_dtype=%s: only int4/int8 weights take an activation dtype of their own "
                          "(precision is %s)",
                          p, olive_args_string(a, "precision"));
    /* float16 activations where the builder uses them: fp16, and int4/int8 on GPUs. */
    if (!strcmp(p, "fp32"))
        d->io_dtype = OIR_FLOAT;
    else if (!strcmp(p, "fp16"))
        d->io_dtype = OIR_FLOAT16;
    else if (!strcmp(p, "bf16"))
        d->io_dtype = OIR_BFLOAT16;
    else if (o->precision == CVT_FP16 ||
             ((o->precision == CVT_INT4 || o->precision == CVT_INT8) && strcmp(o->execution_provider, "cpu")))
        d->io_dtype = OIR_FLOAT16;
    else if (o->precision == CVT_BF16)
        d->io_dtype = OIR_BFLOAT16;
    else
        d->io_dtype = OIR_FLOAT;
    return OLIVE_OK;
}

static int add_io(cvt_decoder *d, int input, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
                  const char *const *params)
{
    oir_type *t = oir_type_new_tensor(dtype, rank, dims, params);
    int rc;
    if (!t)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    rc = input ? oir_graph_add_input(d->g, name, t) : oir_graph_add_output(d->g, name, t);
    oir_type_free(t);
    return rc;
}

static int make_io(cvt_decoder *d)
{
    const cvt_decoder_config *c = &d->cfg;
    const int64_t kv[4] = {-1, c->kv_heads, -1, c->head_dim};
    const char *past[4] = {"batch_size", NULL, "past_sequence_length", NULL};
    const char *present[4] = {"batch_size", NULL, "total_sequence_length", NULL};
    if (d->opt.exclude_embeds)
        OLIVE_TRY(add_io(d, 1, "inputs_embeds", d->io_dtype, 3, (const int64_t[]){-1, -1, c->hidden},
                         (const char *[]){"batch_size", "sequence_length", NULL}));
    else
        OLIVE_TRY(add_io(d, 1, "input_ids", OIR_INT64, 2, NULL, (const char *[]){"batch_size", "sequence_length"}));
    OLIVE_TRY(
        add_io(d, 1, "attention_mask", OIR_INT64, 2, NULL, (const char *[]){"batch_size", "total_sequence_length"}));
    if (d->position_ids)
        OLIVE_TRY(add_io(d, 1, d->position_ids, OIR_INT64, 2, NULL, (const char *[]){"batch_size", "sequence_length"}));
    /* every layer's key, then every layer's value, in the builder's order */
    for (int64_t i = 0; i < 2 * d->n_layers; i++) {
        const char *name = cvt_str(d, "past_key_values.%" PRId64 ".%s", i % d->n_layers,
                                   i < d->n_layers ? "key" : "value");
        if (!name)
            return OLIVE_ENOMEM;
        OLIVE_TRY(add_io(d, 1, name, d->io_dtype, 4, kv, past));
    }
    if (!d->opt.exclude_lm_head)
        OLIVE_TRY(add_io(d, 0, "logits", d->io_dtype == OIR_BFLOAT16 ? OIR_FLOAT : d->io_dtype, 3,
                         (const int64_t[]){-1, -1, c->vocab}, (const char *[]){"batch_size", "sequence_length", NULL}));
    if (d->opt.include_hidden_states || d->opt.exclude_lm_head)
        OLIVE_TRY(add_io(d, 0, "hidden_states", d->io_dtype, 3, (const int64_t[]){-1, -1, c->hidden},
                         (const char *[]){"batch_size", "sequence_length", NULL}));
    for (int64_t i = 0; i < 2 * d->n_layers; i++) {
        const char *name = cvt_str(d, "present.%" PRId64 ".%s", i % d->n_layers, i < d->n_layers ? "key" : "value");
        if (!name)
            return OLIVE_ENOMEM;
        OLIVE_TRY(add_io(d, 0, name, d->io_dtype, 4, kv, present));
    }
    return OLIVE_OK;
}

/* seqlens_k = sum(attention_mask, 1) - 1 and total_sequence_length = attention_mask.shape[1],
 * both int32, as GroupQueryAttention takes them. */
static int make_mask_values(cvt_decoder *d)
{
    const char *base = "/model/attn_mask_reformat/attn_mask_subgraph", *one_v, *one_s, *x;
    const int64_t one = 1;
    oir_node *n;
    OLIVE_TRY(cvt_const_i64(d, &one, 1, 0, &one_v));
    OLIVE_TRY(cvt_const_i64(d, &one, 1, 1, &one_s));
    OLIVE_TRY(cvt_node(d, "ReduceSum", "", cvt_str(d, "%s/ReduceSum", base), 2,
                       (const char *[]){"attention_mask", one_v}, 1, &n, &x));
    if (oir_node_set_attr_int(n, "keepdims", 0) != OLIVE_OK)
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_node(d, "Sub", "", cvt_str(d, "%s/Sub", base), 2, (const char *[]){x, one_v}, 1, NULL, &x));
    OLIVE_TRY(cvt_node(d, "Cast", "", cvt_str(d, "%s/Sub/Cast", base), 1, &x, 1, &n, &d->seqlens_k));
    if (oir_node_set_attr_int(n, "to", OIR_INT32) != OLIVE_OK)
        return OLIVE_ENOMEM;
    OLIVE_TRY(
        cvt_node(d, "Shape", "", cvt_str(d, "%s/Shape", base), 1, (const char *[]){"attention_mask"}, 1, NULL, &x));
    OLIVE_TRY(cvt_node(d, "Gather", "", cvt_str(d, "%s/Gather", base), 2, (const char *[]){x, one_s}, 1, &n, &x));
    if (oir_node_set_attr_int(n, "axis", 0) != OLIVE_OK)
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_node(d, "Cast", "", cvt_str(d, "%s/Gather/Cast", base), 1, &x, 1, &n, &d->total_seq_len));
    if (oir_node_set_attr_int(n, "to", OIR_INT32) != OLIVE_OK)
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

/* Tensors the build reads, for progress: all but those of layers left out. */
static size_t count_weights(const cvt_decoder *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->ck->n_tensors; i++) {
        const char *name = d->ck->tensors[i].name;
        long layer;
        char *end;
        if (!strncmp(name, "model.layers.", 13)) {
            layer = strtol(name + 13, &end, 10);
            if (end != name + 13 && layer >= d->n_layers)
                continue;
        }
        n++;
    }
    return n;
}

static int add_companions(cvt_decoder *d)
{
    char *text;
    int rc;
    for (size_t i = 0; i < d->ck->n_copy_files; i++)
        OLIVE_TRY(oir_model_add_companion_file(d->m, olive_path_basename(d->ck->copy_files[i]), d->ck->copy_files[i]));
    for (size_t i = 0; i < d->ck->n_generated; i++)
        OLIVE_TRY(oir_model_add_companion_text(d->m, d->ck->generated[i].name, d->ck->generated[i].text));
    /* A Hugging Face folder's own config files are copied as they are; a GGUF file's are the
     * ones rebuilt from its metadata. */
    if (d->ck->kind == OFMT_HF_FOLDER) {
        static const char *const names[] = {"config.json", "generation_config.json"};
        for (size_t i = 0; i < 2; i++) {
            char *path = olive_path_join(d->ck->path, names[i]);
            if (!path)
                return OLIVE_ENOMEM;
            rc = access(path, R_OK) == 0 ? oir_model_add_companion_file(d->m, names[i], path) : OLIVE_OK;
            free(path);
            OLIVE_TRY(rc);
        }
    } else {
        if (!(text = json_dumps(d->ck->config, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
            return olive_fail(OLIVE_ENOMEM, "out of memory");
        rc = oir_model_add_companion_text(d->m, "config.json", text);
        free(text);
        OLIVE_TRY(rc);
    }
    if (d->ck->kind != OFMT_HF_FOLDER && d->ck->generation_config) {
        if (!(text = json_dumps(d->ck->generation_config, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
            return olive_fail(OLIVE_ENOMEM, "out of memory");
        rc = oir_model_add_companion_text(d->m, "generation_config.json", text);
        free(text);
        OLIVE_TRY(rc);
    }
    OLIVE_TRY(cvt_genai_config(d, &text));
    rc = oir_model_add_companion_text(d->m, "genai_config.json", text);
    free(text);
    return rc;
}

/* QuaRot's rotation (rotate_mode), for the architectures whose every weight it has a rule for,
 * refused where the graph's inputs or outputs would be in the rotated basis. */
static int make_rotation(cvt_decoder *d)
{
    const cvt_decoder_arch *a = d->arch;
    const char *mode = d->opt.rotate_mode, *io = NULL;
    if (!mode || !mode[0])
        return OLIVE_OK;
    if (a != &cvt_arch_llama && a != &cvt_arch_mistral && a != &cvt_arch_qwen2 && a != &cvt_arch_qwen3)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "rotate_mode: the rotation (Olive's Quarot) is not supported for %s: it folds RMSNorm "
                          "weights into the Linears after them and knows the weights of LlamaForCausalLM, "
                          "MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM",
                          a->architecture);
    if (d->ck->kind == OFMT_GGUF_FILE)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "rotate_mode: a GGUF file cannot be rotated here (its blocks would be requantized "
                          "twice); convert a Hugging Face checkpoint");
    if (d->lora)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "rotate_mode: LoRA adapters (adapter_path) were trained on the unrotated weights; "
                          "rotate without adapters");
    io = d->opt.exclude_embeds          ? "exclude_embeds (the inputs_embeds input)"
         : d->opt.exclude_lm_head       ? "exclude_lm_head (the hidden_states output)"
         : d->opt.include_hidden_states ? "include_hidden_states (the hidden_states output)"
                                        : NULL;
    if (io)
        return olive_fail(OLIVE_EUNSUPPORTED, "rotate_mode: %s would be in the rotated basis", io);
    if (d->opt.rotate_seed < 0)
        return olive_fail(OLIVE_EINVALID, "rotate_seed %lld: expected 0 or more", (long long)d->opt.rotate_seed);
    return cvt_rotation_new(mode, (uint64_t)d->opt.rotate_seed, d->cfg.hidden, d->cfg.head_dim, d->cfg.layers,
                            !d->cfg.qkv_bias, &d->rot);
}

static int build(cvt_decoder *d)
{
    const cvt_decoder_arch *a = d->arch;
    cvt_residual r = {0};
    const char *hidden;
    OLIVE_TRY(cvt_decoder_config_read(d));
    if (a->configure)
        OLIVE_TRY(a->configure(d));
    d->n_layers = d->opt.num_hidden_layers > 0 && d->opt.num_hidden_layers < d->cfg.layers ? d->opt.num_hidden_layers
                                                                                           : d->cfg.layers;
    OLIVE_TRY(make_rotation(d));
    /* Olive's layer rule counts the checkpoint's layers, whatever num_hidden_layers builds. */
    if (d->opt.placement && (d->opt.precision == CVT_INT4 || d->opt.precision == CVT_INT8)) {
        /* the algo_config's placement as a plan: every Linear and the head at the precision, the
         * placement's modules in 8 bits */
        char *text = olive_asprintf("{\"bits\": %d, \"group_size\": %d, \"symmetric\": %s, \"lm_head\": true, "
                                    "\"selective\": {\"algorithm\": \"%s\", \"high_bits\": 8}}",
                                    d->opt.precision == CVT_INT4 ? 4 : 8, d->opt.block_size,
                                    d->opt.symmetric ? "true" : "false", d->opt.placement);
        int rc = text ? cvt_plan_parse(text, d->cfg.layers, d->cfg.tied_embeddings && !d->rot, &d->plan) : OLIVE_ENOMEM;
        free(text);
        OLIVE_TRY(rc);
    } else {
        /* a rotation unties the head from the embeddings, as Olive's QuaRot does */
        OLIVE_TRY(cvt_plan_parse(d->opt.quant_plan, d->cfg.layers, d->cfg.tied_embeddings && !d->rot, &d->plan));
    }
    {
        cvt_score_settings ss;
        const char *alg = cvt_plan_scored(d->plan, &ss);
        if (alg && d->rot)
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "quant_plan: the %s selection scores the checkpoint's weights as stored, not as the "
                              "rotation (rotate_mode) turns them; use a k_quant_* rule with a rotation",
                              alg);
        if (alg && !strcmp(alg, "kld_gradient"))
            OLIVE_TRY(cvt_plan_kld(d, d->plan, &ss));
        else if (alg)
            OLIVE_TRY(cvt_plan_score(d, d->plan, alg, &ss));
    }
    /* The gptq pass calibrates float32 graphs: a float16 build takes GPTQ's results from the
     * float32 twin (decoder_gptq_twin.h), never leaving float16 MatMuls for it. */
    if (cvt_plan_has_gptq(d->plan) && d->io_dtype != OIR_FLOAT && !d->gptq)
        return olive_fail(OLIVE_EINTERNAL, "quant_plan: GPTQ for %s without the float32 copy's results",
                          d->opt.execution_provider);
    d->weights_total = count_weights(d);
    d->input_ids = d->opt.exclude_embeds ? NULL : "input_ids";
    d->rotary_in_attention = strcmp(d->opt.execution_provider, "dml") != 0;
    d->position_ids = d->rotary_in_attention ? NULL : "position_ids";
    /* dml runs q, k and v as separate MatMuls (as the builder writes them for it) */
    if (!strcmp(d->opt.execution_provider, "dml"))
        d->opt.disable_qkv_fusion = 1;
    OLIVE_TRY(make_io(d));
    OLIVE_TRY(make_mask_values(d));
    OLIVE_TRY((a->rotary_caches ? a->rotary_caches : cvt_rotary_caches)(d));
    if (d->opt.exclude_embeds)
        hidden = "inputs_embeds";
    else
        OLIVE_TRY((a->embed ? a->embed : cvt_embed)(d, &hidden));
    r.residual = hidden;
    for (int64_t i = 0; i < d->n_layers; i++)
        OLIVE_TRY((a->layer ? a->layer : cvt_layer)(d, i, &r));
    OLIVE_TRY((a->head ? a->head : cvt_head)(d, &r));
    OLIVE_TRY(cvt_lora_check_used(d));
    OLIVE_TRY(cvt_gptq_result_check_used(d->gptq));
    OLIVE_TRY(cvt_finish_tensors(d));
    return OLIVE_OK;
}

/* adapter_path: the PEFT LoRA folders (separated by ':') whose layers become graph inputs, the
 * union of their modules. q, k and v then stay separate MatMuls, each with its own branch. */
static int read_adapter(cvt_decoder *d, const olive_pass_args *args)
{
    const char *list = args ? olive_args_string(args, "adapter_path") : NULL;
    size_t cap;
    if (!list || !list[0])
        return OLIVE_OK;
    while (*list) {
        size_t n = strcspn(list, ":");
        char *path = olive_strndup(list, n);
        ofmt_lora *l = NULL;
        int rc = path ? ofmt_lora_read(&l, path) : OLIVE_ENOMEM;
        free(path);
        OLIVE_TRY(rc);
        if (!d->lora) {
            d->lora = l;
        } else { /* move the layers the first adapters lack */
            cap = d->lora->n_layers;
            for (size_t i = 0; i < l->n_layers && rc == OLIVE_OK; i++) {
                if (ofmt_lora_find(d->lora, l->layers[i].module))
                    continue;
                if (olive_grow((void **)&d->lora->layers, &cap, d->lora->n_layers + 1, sizeof(ofmt_lora_layer)))
                    rc = OLIVE_ENOMEM;
                else {
                    d->lora->layers[d->lora->n_layers++] = l->layers[i];
                    memset(&l->layers[i], 0, sizeof(l->layers[i]));
                }
            }
            ofmt_lora_free(l);
            OLIVE_TRY(rc);
        }
        list += n + (list[n] == ':');
    }
    if (!(d->lora_used = olive_calloc(d->lora->n_layers + 1, 1)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < d->lora->n_layers; i++) {
        const char *m = d->lora->layers[i].module, *last = strrchr(m, '.');
        last = last ? last + 1 : m;
        if (!strcmp(last, "q_proj") || !strcmp(last, "k_proj") || !strcmp(last, "v_proj"))
            d->opt.disable_qkv_fusion = 1;
    }
    return OLIVE_OK;
}

static void decoder_free(cvt_decoder *d)
{
    cvt_plan_free(d->plan);
    cvt_rotation_free(d->rot);
    ofmt_lora_free(d->lora);
    free(d->lora_used);
    for (size_t i = 0; i < d->n_strings; i++)
        free(d->strings[i]);
    free(d->strings);
    free(d->pending);
    olive_spill_close(d->spill);
}

/* The Linears a plan leaves to GPTQ, for the gptq pass that follows (gptq_pass.h's key). */
static int note_gptq_plan(cvt_decoder *d)
{
    oir_model *m = d->m;
    char *text = cvt_plan_gptq_text(d->plan);
    char *key;
    size_t cap_k = m->cap_metadata, cap_v = m->cap_metadata;
    if (!text)
        return OLIVE_OK;
    if (!(key = olive_strdup(OLIVE_GPTQ_PLAN_KEY)) ||
        olive_grow((void **)&m->metadata_keys, &cap_k, m->n_metadata + 1, sizeof *m->metadata_keys) != OLIVE_OK ||
        olive_grow((void **)&m->metadata_values, &cap_v, m->n_metadata + 1, sizeof *m->metadata_values) != OLIVE_OK) {
        m->cap_metadata = cap_k < cap_v ? cap_k : cap_v;
        free(key);
        free(text);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    m->cap_metadata = cap_k < cap_v ? cap_k : cap_v;
    m->metadata_keys[m->n_metadata] = key;
    m->metadata_values[m->n_metadata++] = text;
    return OLIVE_OK;
}

static int build_model(oir_model *m, const ofmt_checkpoint *ck, const cvt_decoder_arch *arch,
                       const olive_pass_args *args, olive_pass_ctx *ctx, cvt_float_log *log, cvt_gptq_result *gptq);

/* The float16 build's progress, after the twin's 60%. */
typedef struct rest_ctx {
    olive_pass_ctx ctx;
    olive_pass_ctx *outer;
} rest_ctx;

static int rest_progress(olive_pass_ctx *ctx, double fraction)
{
    return olive_pass_progress(((rest_ctx *)ctx)->outer, 0.6 + 0.4 * fraction);
}

/* GPTQ with float16 activations: the float32 twin is converted and calibrated first (the first
 * 60% of the progress), then the model is built with its results. */
static int build_with_twin(oir_model *m, const ofmt_checkpoint *ck, const cvt_decoder_arch *arch,
                           const olive_pass_args *args, olive_pass_ctx *ctx, int separate_qkv)
{
    cvt_gptq_result *r = NULL;
    int rc = cvt_gptq_twin_run(&r, ck, arch, args, separate_qkv, ctx, 0, 0.6);
    if (rc == OLIVE_OK) {
        rest_ctx rest = {{ctx ? ctx->accelerator : NULL, rest_progress, NULL}, ctx};
        rc = build_model(m, ck, arch, args, &rest.ctx, NULL, r);
    }
    cvt_gptq_result_free(r);
    return rc;
}

static int build_model(oir_model *m, const ofmt_checkpoint *ck, const cvt_decoder_arch *arch,
                       const olive_pass_args *args, olive_pass_ctx *ctx, cvt_float_log *log, cvt_gptq_result *gptq)
{
    cvt_decoder d;
    int rc, twin = 0;
    memset(&d, 0, sizeof d);
    d.float_log = log;
    d.arch = arch;
    d.ck = ck;
    d.m = m;
    d.ctx = ctx;
    d.gptq = gptq;
    if (!m->graph && !(m->graph = oir_graph_new("main_graph")))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    d.g = m->graph;
    if ((rc = read_options(&d, args)) != OLIVE_OK || (rc = read_adapter(&d, args)) != OLIVE_OK ||
        (!gptq && (rc = cvt_gptq_twin_needed(&d, &twin)) != OLIVE_OK)) {
        decoder_free(&d);
        return rc;
    }
    if (twin) {
        /* dml (and LoRA on q, k or v) keep q, k and v apart: the twin's Linears must be the same */
        const int separate_qkv = d.opt.disable_qkv_fusion || !strcmp(d.opt.execution_provider, "dml");
        decoder_free(&d);
        return build_with_twin(m, ck, arch, args, ctx, separate_qkv);
    }
    if ((rc = olive_spill_open(&d.spill, args ? olive_args_string(args, "temp_dir") : NULL)) != OLIVE_OK)
        return rc;
    rc = build(&d);
    if (rc == OLIVE_OK) {
        m->ir_version = 10;
        rc = oir_model_require_opset(m, "", 22); /* what onnxruntime-genai's builder writes */
        if (rc == OLIVE_OK)
            rc = oir_model_require_opset(m, "com.microsoft", 1);
    }
    if (rc == OLIVE_OK)
        rc = add_companions(&d);
    if (rc == OLIVE_OK)
        rc = note_gptq_plan(&d);
    if (rc == OLIVE_OK)
        OLIVE_INFO("convert: %s, %" PRId64 " of %" PRId64 " layers, %zu initializers", arch->architecture, d.n_layers,
                   d.cfg.layers, d.g->n_initializers);
    decoder_free(&d);
    return rc;
}

int cvt_decoder_build(oir_model *m, const ofmt_checkpoint *ck, const cvt_decoder_arch *arch,
                      const olive_pass_args *args, olive_pass_ctx *ctx)
{
    return build_model(m, ck, arch, args, ctx, NULL, NULL);
}

int cvt_decoder_build_float(oir_model *m, const ofmt_checkpoint *ck, const cvt_decoder_arch *arch, olive_pass_ctx *ctx,
                            cvt_float_log *log)
{
    return build_model(m, ck, arch, NULL, ctx, log, NULL);
}
