/* Data configs: choosing the components as Olive does and building the batches. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "workflow/data/dataset.h"
#include "workflow/data/table.h"

static const char *const data_config_keys[] = {"name",
                                               "type",
                                               "user_script",
                                               "script_dir",
                                               "load_dataset_config",
                                               "pre_process_data_config",
                                               "post_process_data_config",
                                               "dataloader_config",
                                               "components",
                                               NULL};

void wf_batch_clear(wf_batch *b)
{
    for (size_t i = 0; i < b->n_inputs; i++) {
        free(b->names[i]);
        olive_tensor_free(b->inputs[i]);
    }
    free(b->names);
    free(b->inputs);
    olive_tensor_free(b->labels);
    memset(b, 0, sizeof *b);
}

int wf_batch_add(wf_batch *b, const char *name, olive_tensor *t)
{
    char **names = olive_reallocarray(b->names, b->n_inputs + 1, sizeof *names);
    olive_tensor **inputs;
    if (!names) {
        olive_tensor_free(t);
        return OLIVE_ENOMEM;
    }
    b->names = names;
    if (!(inputs = olive_reallocarray(b->inputs, b->n_inputs + 1, sizeof *inputs))) {
        olive_tensor_free(t);
        return OLIVE_ENOMEM;
    }
    b->inputs = inputs;
    if (!(b->names[b->n_inputs] = olive_strdup(name))) {
        olive_tensor_free(t);
        return OLIVE_ENOMEM;
    }
    b->inputs[b->n_inputs++] = t;
    return OLIVE_OK;
}

int wf_dataset_push(wf_dataset *d, wf_batch *b)
{
    if (OLIVE_PUSH(d->batches, d->n_batches, d->cap, *b) != OLIVE_OK) {
        wf_batch_clear(b);
        return OLIVE_ENOMEM;
    }
    memset(b, 0, sizeof *b);
    return OLIVE_OK;
}

void wf_dataset_free(wf_dataset *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_batches; i++)
        wf_batch_clear(&d->batches[i]);
    free(d->batches);
    free(d->name);
    free(d->post_output);
    free(d);
}

json_t *wf_component_params(const json_t *component)
{
    json_t *out = json_object(), *params = json_object_get(component, "params");
    const char *key;
    json_t *v;
    if (!out)
        return NULL;
    if (json_is_object(params))
        json_object_update(out, params);
    json_object_foreach((json_t *)component, key, v) if (strcmp(key, "type") && strcmp(key, "params"))
        json_object_set(out, key, v);
    return out;
}

static const char *type_of(const json_t *component)
{
    return json_string_value(json_object_get(component, "type"));
}

/* The task named in any component's parameters (Olive picks components by it). */
static const char *task_of(const json_t *const *components, json_t *const *params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *t = json_string_value(json_object_get(params[i], "task"));
        if (t)
            return t;
        (void)components;
    }
    return NULL;
}

static int build_hf(wf_dataset *d, const char *load_type, const char *pre_type, json_t *load, json_t *pre,
                    const char *where)
{
    json_t *rows = NULL;
    char w[300];
    long long max_rows = -1;
    int rc;
    if (load_type && strcmp(load_type, "huggingface_dataset"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s.load_dataset_config.type: '%s' is not supported for a "
                          "HuggingfaceContainer (huggingface_dataset)",
                          where, load_type);
    snprintf(w, sizeof w, "%s.load_dataset_config", where);
    /* Classification uses one sample a row: max_samples bounds the rows to fetch. */
    if (!strcmp(pre_type, "huggingface_pre_process") || !strcmp(pre_type, "text_classification_pre_process")) {
        const json_t *m = json_object_get(pre, "max_samples");
        if (json_is_integer(m) && json_integer_value(m) >= 0)
            max_rows = json_integer_value(m);
    }
    OLIVE_TRY(wf_table_load(&rows, load, max_rows, w));
    snprintf(w, sizeof w, "%s.pre_process_data_config", where);
    if (!strcmp(pre_type, "huggingface_pre_process") || !strcmp(pre_type, "text_classification_pre_process"))
        rc = wf_pre_text_classification(d, rows, pre, w);
    else if (!strcmp(pre_type, "text_generation_huggingface_pre_process"))
        rc = wf_pre_text_generation(d, rows, pre, w);
    else
        rc = olive_fail(OLIVE_EUNSUPPORTED,
                        "%s.type: pre-processing '%s' is not supported (huggingface_pre_process, "
                        "text_generation_huggingface_pre_process)",
                        w, pre_type);
    json_decref(rows);
    return rc;
}

/* `task` is `name`, or `name` with Olive's "-with-past" suffix. */
static int task_is(const char *task, const char *name)
{
    size_t n = strlen(name);
    return task && !strncmp(task, name, n) && (!task[n] || !strcmp(task + n, "-with-past"));
}

int wf_dataset_build(wf_dataset **out, const json_t *config, const char *where)
{
    const char *container, *load_type, *pre_type, *post_type, *task, *key;
    const json_t *comps[4];
    json_t *params[4] = {NULL, NULL, NULL, NULL}, *v, *bs;
    static const char *const comp_names[4] = {"load_dataset_config", "pre_process_data_config",
                                              "post_process_data_config", "dataloader_config"};
    wf_dataset *d;
    int rc = OLIVE_OK;
    if (!json_is_object(config))
        return olive_fail(OLIVE_EINVALID, "%s: expected a data config object", where);
    json_object_foreach((json_t *)config, key, v)
    {
        int known = 0;
        for (const char *const *k = data_config_keys; *k; k++)
            known |= !strcmp(*k, key);
        if (!known)
            OLIVE_WARN("%s: unknown key '%s' ignored", where, key);
    }
    container = json_string_value(json_object_get(config, "type"));
    if (!container)
        container = "HuggingfaceContainer";
    if (json_object_get(config, "user_script") && !json_is_null(json_object_get(config, "user_script")))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s.user_script: Python data components are not supported; use the "
                          "built-in components (huggingface_dataset, huggingface_pre_process, "
                          "text_generation_huggingface_pre_process, ...)",
                          where);
    if (!(d = olive_calloc(1, sizeof *d)))
        return OLIVE_ENOMEM;
    d->batch_size = 1;
    d->name = olive_strdup(json_string_value(json_object_get(config, "name")));
    for (int i = 0; i < 4; i++) {
        comps[i] = json_object_get(config, comp_names[i]);
        if (comps[i] && !json_is_null(comps[i]) && !json_is_object(comps[i])) {
            rc = olive_fail(OLIVE_EINVALID, "%s.%s: expected an object", where, comp_names[i]);
            goto out;
        }
        if (!(params[i] = wf_component_params(comps[i]))) {
            rc = OLIVE_ENOMEM;
            goto out;
        }
    }
    task = task_of(comps, params, 4);
    load_type = type_of(comps[0]);
    pre_type = type_of(comps[1]);
    post_type = type_of(comps[2]);
    if (!pre_type)
        pre_type = task_is(task, "text-generation") ? "text_generation_huggingface_pre_process"
                                                    : "huggingface_pre_process";
    if (!post_type)
        post_type = task_is(task, "text-classification") ? "text_classification_post_process"
                    : task_is(task, "text-generation")   ? "text_generation_post_process"
                                                         : "post_process";
    if (!strcmp(post_type, "text_classification_post_process"))
        d->post = WF_POST_ARGMAX;
    else if (!strcmp(post_type, "text_generation_post_process"))
        d->post = WF_POST_LOGITS;
    else if (strcmp(post_type, "post_process") && strcmp(post_type, "skip_post_process")) {
        rc = olive_fail(OLIVE_EUNSUPPORTED,
                        "%s.post_process_data_config.type: '%s' is not supported "
                        "(text_classification_post_process, text_generation_post_process, "
                        "post_process)",
                        where, post_type);
        goto out;
    }
    if ((v = json_object_get(params[2], "output_name")) && json_is_string(v))
        d->post_output = olive_strdup(json_string_value(v));
    if ((bs = json_object_get(params[3], "batch_size")) && !json_is_null(bs)) {
        if (!json_is_integer(bs) || json_integer_value(bs) < 1) {
            rc = olive_fail(OLIVE_EINVALID, "%s.dataloader_config.batch_size: expected a positive integer", where);
            goto out;
        }
        d->batch_size = (size_t)json_integer_value(bs);
    }
    if (type_of(comps[3]) && strcmp(type_of(comps[3]), "default_dataloader") &&
        strcmp(type_of(comps[3]), "no_auto_batch_dataloader")) {
        rc = olive_fail(OLIVE_EUNSUPPORTED, "%s.dataloader_config.type: '%s' is not supported (default_dataloader)",
                        where, type_of(comps[3]));
        goto out;
    }
    if (!strcmp(container, "HuggingfaceContainer")) {
        rc = build_hf(d, load_type, pre_type, params[0], params[1], where);
    } else if (!strcmp(container, "DummyDataContainer")) {
        d->batch_size = 0; /* the shapes hold the batch */
        rc = wf_load_dummy(d, params[0], where);
    } else if (!strcmp(container, "RawDataContainer")) {
        d->batch_size = 0;
        rc = wf_load_raw(d, params[0], where);
    } else {
        rc = olive_fail(OLIVE_EUNSUPPORTED,
                        "%s.type: data container '%s' is not supported (HuggingfaceContainer, "
                        "DummyDataContainer, RawDataContainer)",
                        where, container);
    }
out:
    for (int i = 0; i < 4; i++)
        json_decref(params[i]);
    if (rc != OLIVE_OK) {
        wf_dataset_free(d);
        return rc;
    }
    *out = d;
    return OLIVE_OK;
}
