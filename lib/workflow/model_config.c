/* model_config.json: how Olive describes an output model folder, written with every output
 * and read back when such a folder is given as an input. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "workflow/outputs.h"

#define CONFIG_LIMIT (1u << 20)

int wf_model_config_json(json_t **out, const char *output_dir, const char *model_file, const oir_model *m)
{
    char *abs = realpath(output_dir, NULL);
    json_t *doc = json_object(), *config = json_object(), *attrs = json_object(), *files = json_array();
    if (!doc || !config || !attrs || !files) {
        free(abs);
        json_decref(doc), json_decref(config), json_decref(attrs), json_decref(files);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    /* Olive records where the model lives and the file name of the graph in it. */
    json_object_set_new(config, "model_path", json_string(abs ? abs : output_dir));
    json_object_set_new(config, "onnx_file_name", json_string(model_file));
    /* set by a pass that measured how the model runs best (OrtSessionParamsTuning) */
    json_object_set_new(config, "inference_settings",
                        m->inference_settings ? json_loads(m->inference_settings, 0, NULL) : json_null());
    if (!json_object_get(config, "inference_settings"))
        json_object_set_new(config, "inference_settings", json_null());
    json_object_set_new(config, "use_ort_extensions", json_false());
    json_object_set_new(config, "external_initializers_file_name", json_null());
    json_object_set_new(config, "constant_inputs_file_name", json_null());
    for (size_t i = 0; i < m->n_companions; i++) {
        char *p = olive_path_join(abs ? abs : output_dir, m->companions[i].name);
        if (p)
            json_array_append_new(files, json_string(p));
        free(p);
    }
    if (json_array_size(files))
        json_object_set_new(attrs, "additional_files", files);
    else
        json_decref(files);
    json_object_set_new(config, "model_attributes", attrs);
    json_object_set_new(doc, "type", json_string("ONNXModel"));
    json_object_set_new(doc, "config", config);
    free(abs);
    *out = doc;
    return OLIVE_OK;
}

int wf_model_config_read(char **model_file, const char *folder)
{
    char *path = olive_path_join(folder, WF_MODEL_CONFIG), *text = NULL;
    const json_t *config, *name, *type;
    json_error_t err;
    json_t *doc;
    size_t size;
    int rc;
    if (!path)
        return OLIVE_ENOMEM;
    if ((rc = olive_read_file(&text, &size, path, CONFIG_LIMIT)) != OLIVE_OK) {
        free(path);
        return rc;
    }
    doc = json_loads(text, 0, &err);
    free(text);
    if (!doc) {
        rc = olive_fail(OLIVE_EFORMAT, "%s:%d:%d: invalid JSON: %s", path, err.line, err.column, err.text);
        free(path);
        return rc;
    }
    type = json_object_get(doc, "type");
    config = json_object_get(doc, "config");
    name = json_object_get(config, "onnx_file_name");
    if (!json_is_string(type) || strcasecmp(json_string_value(type), "ONNXModel")) {
        rc = olive_fail(OLIVE_EUNSUPPORTED, "%s: model type '%s' is not supported (supported: ONNXModel)", path,
                        json_is_string(type) ? json_string_value(type) : "?");
    } else if (name && !json_is_null(name) &&
               (!json_is_string(name) ||
                olive_path_check_inside(json_string_value(name), "onnx_file_name") != OLIVE_OK ||
                strchr(json_string_value(name), '/'))) {
        rc = olive_fail(OLIVE_EFORMAT, "%s: config.onnx_file_name must be a file name in the folder", path);
    } else {
        *model_file = olive_strdup(json_is_string(name) ? json_string_value(name) : "model.onnx");
        rc = *model_file ? OLIVE_OK : OLIVE_ENOMEM;
    }
    json_decref(doc);
    free(path);
    return rc;
}
