/* Reading a workflow config in Olive's schema. Everything that can be checked without the
 * model is checked here, so a bad config fails before any work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "backends/providers.h"
#include "engine/engine.h"
#include "passes/calibrate/gptq_pass.h"
#include "passes/checkpoint_quant/checkpoint_quant.h"
#include "passes/convert/convert.h"
#include "passes/instance.h"
#include "workflow/calibration_data.h"
#include "workflow/composite_input.h"
#include "workflow/workflow.h"

static const char *const top_keys[] = {
    "$schema", "workflow_id", "input_model", "systems", "data_configs", "evaluators", "passes", "engine", "pass_flows",
    "workflow_host", "azureml_client", "auto_optimizer_config",
    /* engine fields may also sit at the top level */
    "output_dir", "cache_dir", "clean_cache", "evaluate_input_model", "log_severity_level", "no_artifacts", "host",
    "target", "evaluator", "search_strategy", "packaging_config", "output_name", "plot_pareto_frontier",
    "output_model_num", "clean_evaluation_cache", "ort_log_severity_level", "ort_py_log_severity_level", "log_to_file",
    "cache_config", "enable_shared_cache", NULL};
static const char *const engine_keys[] = {"output_dir",
                                          "executor",
                                          "cache_dir",
                                          "clean_cache",
                                          "evaluate_input_model",
                                          "log_severity_level",
                                          "no_artifacts",
                                          "host",
                                          "target",
                                          "evaluator",
                                          "search_strategy",
                                          "packaging_config",
                                          "output_name",
                                          "clean_evaluation_cache",
                                          "plot_pareto_frontier",
                                          "output_model_num",
                                          "ort_log_severity_level",
                                          "ort_py_log_severity_level",
                                          "log_to_file",
                                          "cache_config",
                                          "enable_shared_cache",
                                          NULL};
static const char *const model_keys[] = {"type",
                                         "model_path",
                                         "config",
                                         "task",
                                         "load_kwargs",
                                         "model_attributes",
                                         "onnx_file_name",
                                         "adapter_path",
                                         "hf_config",
                                         "io_config",
                                         "model_loader",
                                         "model_script",
                                         "script_dir",
                                         "dummy_inputs_func",
                                         "model_file_format",
                                         "model_storage_kind",
                                         "generative",
                                         "model_components",
                                         "model_component_names",
                                         NULL};
/* PyTorchModel keys that name Python code: only PyTorch can run such a model. */
static const char *const torch_code_keys[] = {"model_loader", "model_script", "script_dir", "dummy_inputs_func", NULL};
static const char *const system_keys[] = {"type", "config", "accelerators", "olive_managed_env", NULL};
static const char *const accel_keys[] = {"device", "execution_providers", "memory", NULL};
static const char *const evaluator_keys[] = {"metrics", "type", "config", NULL};
/* Olive's LMEvaluator arguments (execution_provider, provider_options, device and
 * bootstrap_iters are read; the workflow's accelerator runs the tasks, stderr is analytic) */
static const char *const lm_evaluator_keys[] = {"type",
                                                "tasks",
                                                "limit",
                                                "batch_size",
                                                "max_length",
                                                "model_class",
                                                "device",
                                                "execution_provider",
                                                "provider_options",
                                                "bootstrap_iters",
                                                NULL};

void wf_free(olive_workflow *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_slots; i++) {
        for (size_t j = 0; j < w->slots[i].n_choices; j++) {
            free(w->slots[i].choices[j].olive_type);
            olive_pass_unref(w->slots[i].choices[j].pass);
            json_decref(w->slots[i].choices[j].search);
            if (w->slots[i].choices[j].evaluator) {
                wf_evaluator_clear(w->slots[i].choices[j].evaluator);
                free(w->slots[i].choices[j].evaluator);
            }
        }
        free(w->slots[i].choices);
        free(w->slots[i].name);
    }
    free(w->slots);
    for (size_t i = 0; i < w->n_calib_dirs; i++) {
        olive_rmtree(w->calib_dirs[i]);
        free(w->calib_dirs[i]);
    }
    free(w->calib_dirs);
    for (size_t i = 0; i < w->n_flows; i++)
        free(w->flows[i].slots);
    free(w->flows);
    free(w->model_type);
    free(w->model_path);
    free(w->onnx_file_name);
    free(w->components);
    free(w->output_dir);
    free(w->cache_dir);
    free(w->source_path);
    free(w->unmeasured);
    wf_executor_clear(&w->executor);
    olive_accelerator_free(w->acc);
    wf_evaluator_clear(&w->evaluator);
    json_decref(w->config);
    free(w);
}

/* An engine field: under "engine" when present there, else at the top level. */
static json_t *engine_field(const json_t *root, const char *key)
{
    json_t *engine = json_object_get(root, "engine");
    json_t *v = json_is_object(engine) ? json_object_get(engine, key) : NULL;
    return v ? v : json_object_get(root, key);
}

static int get_string(char **out, const json_t *v, const char *where)
{
    if (!json_is_string(v))
        return olive_fail(OLIVE_EINVALID, "%s: expected a string", where);
    if (!json_string_value(v)[0])
        return olive_fail(OLIVE_EINVALID, "%s: must not be empty", where);
    return (*out = olive_strdup(json_string_value(v))) ? OLIVE_OK : OLIVE_ENOMEM;
}

static int get_bool(int *out, const json_t *v, const char *where)
{
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_boolean(v))
        return olive_fail(OLIVE_EINVALID, "%s: expected true or false", where);
    *out = json_is_true(v);
    return OLIVE_OK;
}

/* The config of an entry: Olive's older schema nests fields under "config". */
static const json_t *fields_of(const json_t *obj)
{
    const json_t *inner = json_object_get(obj, "config");
    return json_is_object(inner) ? inner : obj;
}

/* A PyTorchModel that names a Hugging Face checkpoint (model_path, or hf_config.model_name in
 * Olive's older schema) is the checkpoint libolive converts: it is read as an HfModel. One that
 * names Python code or a pickled module needs PyTorch, which libolive does not run. */
static int parse_torch_model(olive_workflow *w, const json_t *f)
{
    const json_t *hf = json_object_get(f, "hf_config"), *path = json_object_get(f, "model_path");
    const char *p;
    struct stat st;
    size_t n;
    for (const char *const *k = torch_code_keys; *k; k++)
        if (json_object_get(f, *k))
            return olive_fail(
                OLIVE_EUNSUPPORTED,
                "input_model.%s: a PyTorchModel loaded by Python code is not supported: it needs PyTorch to "
                "load the model, which libolive does not run; save the model as a Hugging Face checkpoint "
                "(save_pretrained: config.json and safetensors) and use {\"type\": \"HfModel\", "
                "\"model_path\": FOLDER} with a ModelBuilder pass, or export it to ONNX (torch.onnx.export) "
                "and use ONNXModel",
                *k);
    if (hf && !json_is_null(hf)) {
        if (!json_is_object(hf))
            return olive_fail(OLIVE_EINVALID, "input_model.hf_config: expected an object with \"model_name\"");
        if (!path || json_is_null(path))
            path = json_object_get(hf, "model_name");
    }
    if (!path || json_is_null(path))
        return olive_fail(OLIVE_EINVALID,
                          "input_model.model_path: missing (a PyTorchModel is read here only as a Hugging "
                          "Face checkpoint: a folder or a repo id)");
    OLIVE_TRY(get_string(&w->model_path, path, "input_model.model_path"));
    p = w->model_path;
    n = strlen(p);
    /* A file (an existing one, or one named .pt/.pth/.bin) is a pickled or scripted module. */
    if ((stat(p, &st) == 0 && !S_ISDIR(st.st_mode)) || (n > 3 && !strcmp(p + n - 3, ".pt")) ||
        (n > 4 && (!strcmp(p + n - 4, ".pth") || !strcmp(p + n - 4, ".bin"))))
        return olive_fail(
            OLIVE_EUNSUPPORTED,
            "input_model.model_path: a PyTorchModel file ('%s') is not supported: only PyTorch can load a "
            "pickled or scripted module; save the model as a Hugging Face checkpoint (save_pretrained) "
            "and use {\"type\": \"HfModel\"}, or export it to ONNX and use ONNXModel",
            p);
    OLIVE_INFO("input_model: PyTorchModel '%s' is read as a Hugging Face checkpoint (HfModel)", p);
    return (w->model_type = olive_strdup("HfModel")) ? OLIVE_OK : OLIVE_ENOMEM;
}

static int parse_input_model(olive_workflow *w, const json_t *root, int strict)
{
    const json_t *m = json_object_get(root, "input_model"), *f, *type, *path;
    if (!m)
        return olive_fail(OLIVE_EINVALID, "input_model: missing (the model to optimize: {\"type\": \"HfModel\" or "
                                          "\"ONNXModel\", \"model_path\": ...})");
    if (!json_is_object(m))
        return olive_fail(OLIVE_EINVALID, "input_model: expected an object");
    OLIVE_TRY(wf_check_keys(m, model_keys, "input_model", strict));
    f = fields_of(m);
    if (f != m)
        OLIVE_TRY(wf_check_keys(f, model_keys, "input_model.config", strict));
    type = json_object_get(m, "type");
    if (!type)
        return olive_fail(OLIVE_EINVALID, "input_model.type: missing (HfModel or ONNXModel)");
    if (!json_is_string(type))
        return olive_fail(OLIVE_EINVALID, "input_model.type: expected a string");
    if (!strcasecmp(json_string_value(type), "HfModel"))
        w->model_type = olive_strdup("HfModel");
    else if (!strcasecmp(json_string_value(type), "ONNXModel"))
        w->model_type = olive_strdup("ONNXModel");
    else if (!strcasecmp(json_string_value(type), "PyTorchModel"))
        return parse_torch_model(w, f);
    else if (!strcasecmp(json_string_value(type), "CompositeModel"))
        return wf_parse_composite(w, f);
    else
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "input_model.type: model type '%s' is not supported (supported: HfModel, ONNXModel, "
                          "CompositeModel)",
                          json_string_value(type));
    if (!w->model_type)
        return OLIVE_ENOMEM;
    path = json_object_get(f, "model_path");
    if (!path)
        return olive_fail(OLIVE_EINVALID, "input_model.model_path: missing (a folder, .gguf or .onnx file)");
    OLIVE_TRY(get_string(&w->model_path, path, "input_model.model_path"));
    if ((path = json_object_get(f, "onnx_file_name")) && !json_is_null(path))
        OLIVE_TRY(get_string(&w->onnx_file_name, path, "input_model.onnx_file_name"));
    return OLIVE_OK;
}

/* One system, named in "systems" or written inline where a system is expected. */
static int check_system(const json_t *sys, const char *where, int strict)
{
    const json_t *type;
    if (!json_is_object(sys))
        return olive_fail(OLIVE_EINVALID, "%s: expected a system object ({\"type\": \"LocalSystem\", ...})", where);
    OLIVE_TRY(wf_check_keys(sys, system_keys, where, strict));
    if (fields_of(sys) != sys)
        OLIVE_TRY(wf_check_keys(fields_of(sys), system_keys, where, strict));
    type = json_object_get(sys, "type");
    if (type && (!json_is_string(type) || strcasecmp(json_string_value(type), "LocalSystem")))
        return olive_fail(OLIVE_EUNSUPPORTED, "%s.type: system type '%s' is not supported (supported: LocalSystem)",
                          where, json_is_string(type) ? json_string_value(type) : "?");
    return OLIVE_OK;
}

/* The system an engine field names: a key of "systems", or a system written inline. *sys is
 * NULL when the field is absent. */
static int resolve_system(const json_t **sys, char *where, size_t size, const json_t *root, const char *field,
                          int strict)
{
    const json_t *systems = json_object_get(root, "systems"), *v = engine_field(root, field);
    *sys = NULL;
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (json_is_object(v)) {
        snprintf(where, size, "%s", field);
        OLIVE_TRY(check_system(v, where, strict));
        *sys = v;
        return OLIVE_OK;
    }
    if (!json_is_string(v))
        return olive_fail(OLIVE_EINVALID, "%s: expected the name of a system in \"systems\", or a system object",
                          field);
    if (!(*sys = systems ? json_object_get(systems, json_string_value(v)) : NULL))
        return olive_fail(OLIVE_ENOTFOUND, "%s: no system named '%s' in \"systems\"", field, json_string_value(v));
    snprintf(where, size, "systems.%s", json_string_value(v));
    return OLIVE_OK;
}

/* The device of an accelerator that names only its provider, as Olive infers it: the one
 * device the provider targets; CPUExecutionProvider alone means cpu. */
static int infer_device(const char **device, const char *provider, const char *where)
{
    const olive_provider_info *p = olive_provider_lookup(provider);
    unsigned bits;
    if (!p)
        return OLIVE_OK; /* olive_accelerator_new names the unknown provider */
    if (!strcmp(p->name, "CPUExecutionProvider")) {
        *device = "cpu";
        return OLIVE_OK;
    }
    bits = p->devices;
    for (size_t i = 0; i < olive_device_count(); i++)
        if (bits == olive_device_bit(olive_device_name(i))) {
            *device = olive_device_name(i);
            OLIVE_DEBUG("%s.device: %s, inferred from %s", where, *device, p->name);
            return OLIVE_OK;
        }
    return olive_fail(OLIVE_EINVALID,
                      "%s.device: missing, and %s runs on more than one device (%s%s%s); name the "
                      "device (\"device\": \"gpu\")",
                      where, p->name, bits & OLIVE_DEVICE_CPU ? "cpu " : "", bits & OLIVE_DEVICE_GPU ? "gpu " : "",
                      bits & OLIVE_DEVICE_NPU ? "npu" : "");
}

/* The accelerator of the target system: device and its single execution provider. */
static int parse_target(olive_workflow *w, const json_t *root, int strict)
{
    const json_t *systems = json_object_get(root, "systems"), *sys, *host, *f, *accels, *a, *eps, *dev;
    const char *device = NULL, *provider = NULL;
    char where[256], hwhere[256];
    if (systems && !json_is_object(systems))
        return olive_fail(OLIVE_EINVALID, "systems: expected an object of named systems");
    if (systems) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)systems, key, v)
        {
            snprintf(where, sizeof where, "systems.%s", key);
            OLIVE_TRY(check_system(v, where, strict));
        }
    }
    OLIVE_TRY(resolve_system(&host, hwhere, sizeof hwhere, root, "host", strict));
    OLIVE_TRY(resolve_system(&sys, where, sizeof where, root, "target", strict));
    if (!sys && systems && json_object_size(systems) == 1) {
        sys = json_object_iter_value(json_object_iter((json_t *)systems));
        snprintf(where, sizeof where, "systems.%s", json_object_iter_key(json_object_iter((json_t *)systems)));
    }
    if (sys) {
        f = fields_of(sys);
        accels = json_object_get(f, "accelerators");
        if (accels && (!json_is_array(accels) || json_array_size(accels) > 1))
            return olive_fail(json_is_array(accels) ? OLIVE_EUNSUPPORTED : OLIVE_EINVALID, "%s.accelerators: %s", where,
                              json_is_array(accels) ? "one accelerator is supported per workflow"
                                                    : "expected a list of {device, execution_providers}");
        if ((a = json_array_get(accels, 0))) {
            snprintf(where + strlen(where), sizeof where - strlen(where), ".accelerators[0]");
            if (!json_is_object(a))
                return olive_fail(OLIVE_EINVALID, "%s: expected an object", where);
            OLIVE_TRY(wf_check_keys(a, accel_keys, where, strict));
            if ((dev = json_object_get(a, "device")) && !json_is_null(dev)) {
                if (!json_is_string(dev))
                    return olive_fail(OLIVE_EINVALID, "%s.device: expected a string (cpu, gpu or npu)", where);
                device = json_string_value(dev);
            }
            if ((eps = json_object_get(a, "execution_providers")) && !json_is_null(eps)) {
                if (!json_is_array(eps) || json_array_size(eps) > 1 ||
                    (json_array_size(eps) == 1 && !json_is_string(json_array_get(eps, 0))))
                    return olive_fail(json_is_array(eps) && json_array_size(eps) > 1 ? OLIVE_EUNSUPPORTED
                                                                                     : OLIVE_EINVALID,
                                      "%s.execution_providers: expected a list of one provider name", where);
                if (json_array_size(eps) == 1)
                    provider = json_string_value(json_array_get(eps, 0));
            }
            if (!device && provider)
                OLIVE_TRY(infer_device(&device, provider, where));
        }
    }
    if (olive_accelerator_new(&w->acc, device ? device : "cpu", provider) != OLIVE_OK)
        return olive_fail_context(olive_error_code(), "target accelerator");
    return OLIVE_OK;
}

/* An evaluator: a name in "evaluators" or an object. */
static int evaluator_of(wf_evaluator *out, const json_t *root, const json_t *ev, const char *where, int strict)
{
    const json_t *evaluators = json_object_get(root, "evaluators");
    char w[300];
    if (evaluators && !json_is_object(evaluators))
        return olive_fail(OLIVE_EINVALID, "evaluators: expected an object of named evaluators");
    if (json_is_string(ev)) {
        snprintf(w, sizeof w, "evaluators.%s", json_string_value(ev));
        if (!(ev = evaluators ? json_object_get(evaluators, json_string_value(ev)) : NULL))
            return olive_fail(OLIVE_ENOTFOUND, "%s: no evaluator named '%s' in \"evaluators\"", where, w + 11);
    } else {
        snprintf(w, sizeof w, "%s", where);
    }
    if (!json_is_object(ev))
        return olive_fail(OLIVE_EINVALID, "%s: expected an object with \"metrics\"", w);
    OLIVE_TRY(wf_check_keys(ev,
                            json_is_string(json_object_get(ev, "type")) &&
                                    !strcmp(json_string_value(json_object_get(ev, "type")), "LMEvaluator")
                                ? lm_evaluator_keys
                                : evaluator_keys,
                            w, strict));
    return wf_evaluator_parse(out, json_is_object(json_object_get(ev, "config")) ? json_object_get(ev, "config") : ev,
                              json_object_get(root, "data_configs"), w);
}

static int parse_metrics(olive_workflow *w, const json_t *root, int strict)
{
    const json_t *ev = engine_field(root, "evaluator"), *evaluators = json_object_get(root, "evaluators");
    if (evaluators && !json_is_object(evaluators))
        return olive_fail(OLIVE_EINVALID, "evaluators: expected an object of named evaluators");
    if (!ev || json_is_null(ev))
        return OLIVE_OK;
    OLIVE_TRY(evaluator_of(&w->evaluator, root, ev, "evaluator", strict));
    for (size_t i = 0; i < w->evaluator.n_metrics; i++)
        w->size_on_disk |= w->evaluator.metrics[i].type == WF_METRIC_SIZE_ON_DISK;
    return OLIVE_OK;
}

/* The checkpoint's max_position_embeddings (config.json in the model folder), or 0. */
static int64_t context_length(const char *folder)
{
    char *path = olive_path_join(folder, "config.json"), *text = NULL;
    size_t size;
    int64_t n = 0;
    if (path && olive_path_check_contained(folder, path, "config.json") == OLIVE_OK &&
        olive_read_file(&text, &size, path, (size_t)1 << 24) == OLIVE_OK) {
        json_t *doc = json_loadb(text, size, 0, NULL);
        json_t *v = json_object_get(doc, "max_position_embeddings");
        n = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
        json_decref(doc);
    }
    olive_error_clear(); /* no config: the converter names what is wrong */
    free(text);
    free(path);
    return n;
}

/* Olive's calibration data for a pass without a data_config on a Hugging Face model (Gptq: 128
 * windows of 2048 tokens; SelectiveMixedPrecision's kld_gradient: 256 of 512) of wikitext-2 (the
 * first 1000 rows of its train split, from the Hub), made by the input model's tokenizer
 * without special tokens; windows no longer than the model's context. NULL on ENOMEM. */
static json_t *default_data(const olive_workflow *w, const char *name, int64_t max_len, int64_t samples)
{
    int64_t ctx = context_length(w->model_path), len = ctx > 0 && ctx < max_len ? ctx : max_len;
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:b, s:I, s:I, s:b}, s:{s:i}}", "name", name, "type",
                     "HuggingfaceContainer", "load_dataset_config", "data_name", "Salesforce/wikitext", "subset",
                     "wikitext-2-raw-v1", "split", "train[:1000]", "pre_process_data_config", "type",
                     "text_generation_huggingface_pre_process", "model_name", w->model_path, "add_special_tokens", 0,
                     "max_seq_len", (json_int_t)len, "max_samples", (json_int_t)samples, "use_attention_mask", 1,
                     "dataloader_config", "batch_size", 1);
}

/* A calibrated pass's Olive `data_config` (a name in "data_configs" or an inline config) becomes
 * its calibration folder. */
static int calibration_from_data_config(olive_workflow *w, olive_pass *p, const json_t *entry, const json_t *root,
                                        const char *where)
{
    const json_t *dc = json_object_get(entry, "data_config"), *found = NULL, *c;
    char *dir = NULL, **grown, cwhere[320];
    size_t i;
    int rc;
    const olive_param_spec *folder = olive_param_data_folder(p->def);
    json_t *fallback = NULL;
    /* SelectiveMixedPrecision takes data for kld_gradient only (Olive's takes no data_config). */
    const int kld = p->def == &olive_pass_selective_mixed_precision;
    /* ModelBuilder's folder is a Gptq's, set when the chain folds (workflow_quant_plan.c) */
    if (!folder || p->def == &olive_pass_convert)
        return OLIVE_OK;
    if (kld) {
        const char *alg = "";
        (void)olive_pass_instance_get(p, "algorithm", &alg);
        if (strcmp(alg, "kld_gradient"))
            return OLIVE_OK;
    }
    const char *given = "";
    (void)olive_pass_instance_get(p, folder->name, &given);
    /* no default data where the config names a folder of its own */
    if ((!dc || json_is_null(dc)) && !given[0] && (p->def == &olive_pass_gptq || kld) && w->model_type &&
        !strcmp(w->model_type, "HfModel") && w->model_path) {
        if (!(fallback = kld ? default_data(w, "kld_gradient_default", 512, 256)
                             : default_data(w, "gptq_default", 2048, 128)))
            return OLIVE_ENOMEM;
        OLIVE_WARN(
            "%s: no data_config: Olive's default calibration data, up to %d windows of %" JSON_INTEGER_FORMAT
            " tokens of Salesforce/wikitext (wikitext-2-raw-v1, train[:1000]) from the Hugging Face Hub",
            where, kld ? 256 : 128,
            json_integer_value(json_object_get(json_object_get(fallback, "pre_process_data_config"), "max_seq_len")));
        dc = fallback;
    }
    if (!dc || json_is_null(dc))
        return OLIVE_OK;
    snprintf(cwhere, sizeof cwhere, "%s.data_config", where);
    if (json_is_string(dc)) {
        json_array_foreach(json_object_get(root, "data_configs"), i,
                           c) if (json_is_string(json_object_get(c, "name")) &&
                                  !strcmp(json_string_value(json_object_get(c, "name")), json_string_value(dc)))
            found = c;
        if (!found)
            return olive_fail(OLIVE_ENOTFOUND, "%s: no data config named '%s' in \"data_configs\"", cwhere,
                              json_string_value(dc));
    } else if (json_is_object(dc)) {
        found = dc;
    } else {
        return olive_fail(OLIVE_EINVALID, "%s: expected the name of a data config or a data config", cwhere);
    }
    rc = wf_calibration_folder(&dir, found, cwhere);
    json_decref(fallback);
    OLIVE_TRY(rc);
    grown = olive_reallocarray(w->calib_dirs, w->n_calib_dirs + 1, sizeof *grown);
    if (!grown) {
        olive_rmtree(dir);
        free(dir);
        return OLIVE_ENOMEM;
    }
    w->calib_dirs = grown;
    w->calib_dirs[w->n_calib_dirs++] = dir;
    rc = olive_pass_instance_set(p, folder->name, dir);
    return rc;
}

static int parse_slot(olive_workflow *w, wf_slot *slot, const char *name, const json_t *v, const json_t *root,
                      int strict)
{
    char where[256];
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    snprintf(where, sizeof where, "passes.%s", name);
    if (json_is_array(v) && n == 0)
        return olive_fail(OLIVE_EINVALID, "%s: an empty list of alternatives", where);
    if (!(slot->name = olive_strdup(name)) || !(slot->choices = olive_calloc(n, sizeof *slot->choices)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char cwhere[300];
        if (json_is_array(v))
            snprintf(cwhere, sizeof cwhere, "%s[%zu]", where, i);
        else
            snprintf(cwhere, sizeof cwhere, "%s", where);
        OLIVE_TRY(wf_pass_from_json(&slot->choices[i], json_is_array(v) ? json_array_get(v, i) : v, cwhere, strict));
        slot->n_choices++;
        OLIVE_TRY(calibration_from_data_config(w, slot->choices[i].pass, json_is_array(v) ? json_array_get(v, i) : v,
                                               root, cwhere));
        {
            const json_t *pe = json_object_get(json_is_array(v) ? json_array_get(v, i) : v, "evaluator");
            char ewhere[320];
            if (pe && !json_is_null(pe)) {
                snprintf(ewhere, sizeof ewhere, "%s.evaluator", cwhere);
                if (!(slot->choices[i].evaluator = olive_calloc(1, sizeof *slot->choices[i].evaluator)))
                    return OLIVE_ENOMEM;
                OLIVE_TRY(evaluator_of(slot->choices[i].evaluator, root, pe, ewhere, strict));
            }
        }
    }
    return OLIVE_OK;
}

/* pass_flows: lists of pass names, each run as its own pipeline (the passes in no flow do
 * not run). */
static int parse_flows(olive_workflow *w, const json_t *root)
{
    const json_t *flows = json_object_get(root, "pass_flows");
    if (!flows || json_is_null(flows))
        return OLIVE_OK;
    if (!json_is_array(flows) || !json_array_size(flows))
        return olive_fail(OLIVE_EINVALID, "pass_flows: expected a list of lists of pass names");
    if (!(w->flows = olive_calloc(json_array_size(flows), sizeof *w->flows)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < json_array_size(flows); i++) {
        const json_t *flow = json_array_get(flows, i);
        wf_flow *fl = &w->flows[w->n_flows++];
        if (!json_is_array(flow) || !json_array_size(flow))
            return olive_fail(OLIVE_EINVALID, "pass_flows[%zu]: expected a non-empty list of pass names", i);
        if (!(fl->slots = olive_calloc(json_array_size(flow), sizeof *fl->slots)))
            return OLIVE_ENOMEM;
        for (size_t j = 0; j < json_array_size(flow); j++) {
            const json_t *name = json_array_get(flow, j);
            size_t k;
            if (!json_is_string(name))
                return olive_fail(OLIVE_EINVALID, "pass_flows[%zu][%zu]: expected a pass name", i, j);
            for (k = 0; k < w->n_slots && strcmp(w->slots[k].name, json_string_value(name)); k++)
                ;
            if (k == w->n_slots)
                return olive_fail(OLIVE_ENOTFOUND, "pass_flows[%zu][%zu]: no pass named '%s' in \"passes\"", i, j,
                                  json_string_value(name));
            fl->slots[fl->n++] = k;
        }
    }
    return OLIVE_OK;
}

static int parse_passes(olive_workflow *w, const json_t *root, int strict)
{
    const json_t *passes = json_object_get(root, "passes");
    const char *key;
    json_t *v;
    if (!passes || json_is_null(passes))
        return OLIVE_OK;
    if (!json_is_object(passes))
        return olive_fail(OLIVE_EINVALID, "passes: expected an object of named passes, run in order");
    if (!(w->slots = olive_calloc(json_object_size(passes) ? json_object_size(passes) : 1, sizeof *w->slots)))
        return OLIVE_ENOMEM;
    json_object_foreach((json_t *)passes, key, v)
    {
        int rc = parse_slot(w, &w->slots[w->n_slots], key, v, root, strict);
        w->n_slots++;
        OLIVE_TRY(rc);
    }
    OLIVE_TRY(parse_flows(w, root));
    return wf_fold_checkpoint_quant(w);
}

static int parse_engine(olive_workflow *w, const json_t *root, int strict)
{
    const json_t *engine = json_object_get(root, "engine"), *v;
    if (engine && !json_is_object(engine))
        return olive_fail(OLIVE_EINVALID, "engine: expected an object");
    if (engine)
        OLIVE_TRY(wf_check_keys(engine, engine_keys, "engine", strict));
    if ((v = engine_field(root, "output_dir")) && !json_is_null(v))
        OLIVE_TRY(get_string(&w->output_dir, v, "output_dir"));
    if ((v = engine_field(root, "cache_dir")) && !json_is_null(v))
        OLIVE_TRY(get_string(&w->cache_dir, v, "cache_dir"));
    else if (!(w->cache_dir = olive_strdup(".olive-cache")))
        return OLIVE_ENOMEM;
    OLIVE_TRY(get_bool(&w->clean_cache, engine_field(root, "clean_cache"), "clean_cache"));
    OLIVE_TRY(get_bool(&w->evaluate_input_model, engine_field(root, "evaluate_input_model"), "evaluate_input_model"));
    OLIVE_TRY(get_bool(&w->no_artifacts, engine_field(root, "no_artifacts"), "no_artifacts"));
    if ((v = engine_field(root, "log_severity_level")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 4)
            return olive_fail(OLIVE_EINVALID, "log_severity_level: expected an integer from 0 (debug) to 4 (silent)");
        w->log_level = (int)json_integer_value(v);
    }
    OLIVE_TRY(get_bool(&w->plot_pareto_frontier, engine_field(root, "plot_pareto_frontier"), "plot_pareto_frontier"));
    if ((v = engine_field(root, "output_model_num")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0)
            return olive_fail(OLIVE_EINVALID, "output_model_num: expected a whole number > 0");
        w->output_model_num = (size_t)json_integer_value(v);
    }
    OLIVE_TRY(ws_strategy_parse(&w->search, engine_field(root, "search_strategy"), strict));
    OLIVE_TRY(wf_executor_parse(&w->executor, engine ? json_object_get(engine, "executor") : NULL, "engine.executor"));
    if ((v = engine_field(root, "packaging_config")) && !json_is_null(v)) {
        OLIVE_TRY(wf_packaging_check(v, strict));
        w->packaging = (json_t *)v; /* borrowed from w->config */
    }
    if ((v = json_object_get(root, "workflow_host")) && !json_is_null(v))
        return olive_fail(OLIVE_EUNSUPPORTED, "workflow_host: only the local host is supported");
    if ((v = json_object_get(root, "data_configs")) && !json_is_null(v) && !json_is_array(v))
        return olive_fail(OLIVE_EINVALID, "data_configs: expected a list");
    return OLIVE_OK;
}

/* An empty or absent value of a component parameter (in the component or its "params"). */
static json_t *param_slot(json_t *comp, const char *key, int *empty)
{
    json_t *params = json_object_get(comp, "params"), *v = NULL;
    if (json_is_object(params))
        v = json_object_get(params, key);
    if (!v || json_is_null(v) || (json_is_string(v) && !json_string_value(v)[0]))
        v = json_object_get(comp, key);
    *empty = !v || json_is_null(v) || (json_is_string(v) && !json_string_value(v)[0]);
    return json_is_object(params) ? params : comp;
}

/* Olive fills the pre- and post-processing `model_name` and `task` of a HuggingfaceContainer from
 * an HfModel input when the config leaves them empty: the tokenizer is the input model's, and
 * the task picks the default components. (The task is filled only where the input model names
 * one.) */
static int fill_data_from_model(const olive_workflow *w, json_t *root)
{
    static const char *const components[] = {"pre_process_data_config", "post_process_data_config"};
    const json_t *model = json_object_get(root, "input_model");
    const char *task = json_string_value(json_object_get(fields_of(model), "task"));
    size_t i;
    json_t *dc;
    if (!w->model_type || strcmp(w->model_type, "HfModel") || !w->model_path)
        return OLIVE_OK;
    json_array_foreach(json_object_get(root, "data_configs"), i, dc)
    {
        const char *type = json_string_value(json_object_get(dc, "type"));
        if (!json_is_object(dc) || !type || strcmp(type, "HuggingfaceContainer"))
            continue;
        for (size_t c = 0; c < 2; c++) {
            json_t *comp = json_object_get(dc, components[c]), *slot;
            int empty;
            if (!comp || json_is_null(comp)) {
                if (c == 1)
                    continue; /* libolive's post-processing reads no tokenizer; the task is in pre */
                if (!(comp = json_object()) || json_object_set_new(dc, components[c], comp))
                    return OLIVE_ENOMEM;
            }
            if (!json_is_object(comp))
                continue; /* named as the error it is when the data config is read */
            slot = param_slot(comp, "model_name", &empty);
            if (empty && json_object_set_new(slot, "model_name", json_string(w->model_path)))
                return OLIVE_ENOMEM;
            slot = param_slot(comp, "task", &empty);
            if (task && empty && json_object_set_new(slot, "task", json_string(task)))
                return OLIVE_ENOMEM;
        }
    }
    return OLIVE_OK;
}

int wf_parse(olive_workflow **out, const char *text, const char *source, int strict)
{
    json_error_t err;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return olive_fail(OLIVE_EFORMAT, "%s:%d:%d: invalid JSON: %s", source, err.line, err.column, err.text);
    return wf_parse_tree(out, root, source, strict);
}

int wf_parse_tree(olive_workflow **out, json_t *root, const char *source, int strict)
{
    olive_workflow *w;
    int rc;
    if (!json_is_object(root)) {
        json_decref(root);
        return olive_fail(OLIVE_EFORMAT, "%s: a workflow config is a JSON object", source);
    }
    if (!(w = olive_calloc(1, sizeof *w))) {
        json_decref(root);
        return OLIVE_ENOMEM;
    }
    w->config = root;
    w->log_level = -1;
    w->strict = strict;
    if ((rc = wf_check_keys(root, top_keys, source, strict)) == OLIVE_OK &&
        (rc = parse_input_model(w, root, strict)) == OLIVE_OK && (rc = fill_data_from_model(w, root)) == OLIVE_OK &&
        (rc = parse_target(w, root, strict)) == OLIVE_OK && (rc = parse_engine(w, root, strict)) == OLIVE_OK &&
        (rc = parse_metrics(w, root, strict)) == OLIVE_OK && (rc = parse_passes(w, root, strict)) == OLIVE_OK &&
        (rc = wf_apply_composite(w)) == OLIVE_OK && (rc = wf_check_targets(w, strict)) == OLIVE_OK)
        rc = wf_search_check(w);
    if (rc != OLIVE_OK) {
        if (rc != OLIVE_ENOMEM)
            olive_fail_context(rc, "%s", source);
        wf_free(w);
        return rc;
    }
    *out = w;
    return OLIVE_OK;
}

char *wf_pipeline_text(const olive_workflow *w)
{
    olive_strbuf b = {0};
    olive_strbuf_append(&b, "");
    for (size_t f = 0; f < wf_flow_count(w); f++) {
        if (f)
            olive_strbuf_append(&b, " ; ");
        for (size_t k = 0; k < wf_flow_length(w, f); k++) {
            const wf_slot *slot = &w->slots[wf_flow_slot(w, f, k)];
            if (k)
                olive_strbuf_append(&b, " ! ");
            for (size_t j = 0; j < slot->n_choices; j++) {
                char *t = olive_pipeline_format(&slot->choices[j].pass, 1);
                olive_strbuf_printf(&b, "%s%s", j ? " | " : "", t ? t : "?");
                free(t);
            }
        }
    }
    return olive_strbuf_take(&b);
}
