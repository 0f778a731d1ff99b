/* Olive's CompositeModel input_model: ONNX models that the ComposeOnnxModels pass chains into
 * one. The first component is the workflow's input model; the others' paths go to the pass's
 * model-list parameter (compose_onnx_models' `components`), which the cache identifies by the
 * files' contents. Any other first pass is refused: nothing else here reads several models. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "engine/engine.h"
#include "onnx/onnx_io.h"
#include "workflow/composite_input.h"

static const json_t *fields_of(const json_t *obj)
{
    const json_t *inner = json_object_get(obj, "config");
    return json_is_object(inner) ? inner : obj;
}

/* The model file of component `i` (owned): model_path, or onnx_file_name inside it. */
static int component_path(char **out, const json_t *comp, size_t i)
{
    const json_t *f = fields_of(comp), *type = json_object_get(comp, "type");
    const char *path = json_string_value(json_object_get(f, "model_path")),
               *file = json_string_value(json_object_get(f, "onnx_file_name"));
    if (!json_is_object(comp) || !type || !json_is_string(type) || strcasecmp(json_string_value(type), "ONNXModel"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "input_model.model_components[%zu]: a CompositeModel's components must be ONNXModel entries "
                          "({\"type\": \"ONNXModel\", \"model_path\": ...})",
                          i);
    if (!path || !path[0])
        return olive_fail(OLIVE_EINVALID, "input_model.model_components[%zu].model_path: missing", i);
    *out = file && file[0] ? olive_path_join(path, file) : olive_strdup(path);
    if (!*out)
        return OLIVE_ENOMEM;
    if (strchr(*out, ',')) {
        int rc = olive_fail(OLIVE_EUNSUPPORTED,
                            "input_model.model_components[%zu]: the path '%s' holds a comma, which the list of "
                            "components cannot carry",
                            i, *out);
        free(*out);
        *out = NULL;
        return rc;
    }
    return OLIVE_OK;
}

int wf_parse_composite(olive_workflow *w, const json_t *fields)
{
    const json_t *comps = json_object_get(fields, "model_components"),
                 *names = json_object_get(fields, "model_component_names"),
                 *attrs = json_object_get(fields, "model_attributes");
    olive_strbuf list = {0};
    size_t n = json_array_size(comps);
    int rc = OLIVE_OK;
    if (json_is_object(attrs) && json_object_get(attrs, "llm_pipeline"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "input_model.model_attributes.llm_pipeline: the llm_pipeline form of a CompositeModel (split "
                          "models for NPUs: embeddings, context, iterator, lm_head) is not supported");
    if (!json_is_array(comps) || n < 2)
        return olive_fail(OLIVE_EINVALID,
                          "input_model.model_components: a CompositeModel needs an array of at least two ONNXModel "
                          "components");
    if (names && !json_is_null(names) && (!json_is_array(names) || json_array_size(names) != n))
        return olive_fail(OLIVE_EINVALID, "input_model.model_component_names: expected one name per component (%zu)",
                          n);
    olive_strbuf_append(&list, "");
    for (size_t i = 0; rc == OLIVE_OK && i < n; i++) {
        char *path = NULL;
        if ((rc = component_path(&path, json_array_get(comps, i), i)) != OLIVE_OK)
            break;
        if (i == 0)
            w->model_path = path;
        else {
            olive_strbuf_printf(&list, "%s%s", i > 1 ? "," : "", path);
            free(path);
        }
    }
    if (rc == OLIVE_OK && !(w->model_type = olive_strdup("ONNXModel")))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK && !(w->components = olive_strbuf_take(&list)))
        rc = OLIVE_ENOMEM;
    olive_strbuf_free(&list);
    return rc;
}

/* The parameter of `def` that takes the other components, or NULL. */
static const olive_param_spec *model_list_param(const olive_pass_def *def)
{
    for (size_t i = 0; i < def->n_params; i++)
        if (def->params[i].model_files)
            return &def->params[i];
    return NULL;
}

int wf_apply_composite(olive_workflow *w)
{
    if (!w->components)
        return OLIVE_OK;
    if (!w->n_slots)
        return olive_fail(OLIVE_EINVALID,
                          "input_model: a CompositeModel needs ComposeOnnxModels as the first pass, and there are no "
                          "passes");
    for (size_t f = 0; f < wf_flow_count(w); f++) {
        wf_slot *slot = &w->slots[wf_flow_slot(w, f, 0)];
        for (size_t j = 0; j < slot->n_choices; j++) {
            olive_pass *p = slot->choices[j].pass;
            const olive_param_spec *spec = model_list_param(p->def);
            if (!spec)
                return olive_fail(OLIVE_EINVALID,
                                  "input_model: a CompositeModel is read only by ComposeOnnxModels as the first pass, "
                                  "but the first pass is '%s' (%s)",
                                  slot->name, slot->choices[j].olive_type ? slot->choices[j].olive_type : p->def->name);
            OLIVE_TRY(olive_pass_instance_set(p, spec->name, w->components));
        }
    }
    return OLIVE_OK;
}

int wf_composite_check_apart(const olive_workflow *w)
{
    int rc = OLIVE_OK;
    if (!w->components)
        return OLIVE_OK;
    for (const char *p = w->components; rc == OLIVE_OK && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *path = olive_strndup(p, len);
        oir_model *m = NULL;
        if (!path)
            return OLIVE_ENOMEM;
        if ((rc = onnx_load_file(&m, path)) != OLIVE_OK)
            olive_fail_context(rc, "input_model.model_components: '%s'", path);
        else if (w->output_dir)
            rc = olive_engine_check_apart(m, NULL, w->output_dir, "output_dir");
        if (rc == OLIVE_OK)
            rc = olive_engine_check_apart(m, NULL, w->cache_dir, "cache_dir");
        oir_model_free(m);
        free(path);
        p = comma ? comma + 1 : p + len;
    }
    return rc;
}
