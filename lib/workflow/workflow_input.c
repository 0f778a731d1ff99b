/* The input model of a workflow: an ONNX file, a model folder, or a source checkpoint. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "engine/engine.h"
#include "formats/checkpoint.h"
#include "formats/hub/hub.h"
#include "workflow/outputs.h"

/* ONNX files, and checkpoints (HF folders, .gguf files) for the convert pass. */
static int load_any(oir_model **out, const char *path)
{
    return olive_engine_load_model(out, path);
}

/* The runtime configs and tokenizer files of a model folder travel with the model; other files
 * (the user's notes, earlier outputs' records, other models) stay where they are. Each must be a
 * regular file inside the folder: a link leading out of it is refused. */
static int add_folder_companions(oir_model *m, const char *folder)
{
    DIR *d = opendir(folder);
    struct dirent *e;
    int rc = OLIVE_OK;
    if (!d)
        return olive_fail_errno(errno, "cannot list", folder);
    while (rc == OLIVE_OK && (e = readdir(d))) {
        char *path;
        struct stat st;
        const char *n = e->d_name;
        if (!ofmt_is_tokenizer_file(n) && !ofmt_is_runtime_config(n))
            continue;
        if (!(path = olive_path_join(folder, n))) {
            rc = OLIVE_ENOMEM;
            break;
        }
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            (rc = olive_path_check_contained(folder, path, "companion file")) == OLIVE_OK)
            rc = oir_model_add_companion_file(m, n, path);
        free(path);
    }
    closedir(d);
    return rc;
}

static int load_folder(oir_model **out, const char *folder, const char *onnx_file_name)
{
    char *file = NULL, *config = olive_path_join(folder, WF_MODEL_CONFIG), *path = NULL;
    struct stat st;
    oir_model *m = NULL;
    int rc;
    if (!config)
        return OLIVE_ENOMEM;
    if (onnx_file_name) {
        if (olive_path_check_inside(onnx_file_name, "onnx_file_name") != OLIVE_OK)
            rc = olive_error_code();
        else
            rc = (file = olive_strdup(onnx_file_name)) ? OLIVE_OK : OLIVE_ENOMEM;
    } else if (stat(config, &st) == 0) {
        rc = wf_model_config_read(&file, folder);
    } else {
        char *onnx = olive_path_join(folder, "model.onnx");
        int has_onnx = onnx && stat(onnx, &st) == 0;
        free(onnx);
        free(config);
        if (!has_onnx) /* a checkpoint folder, or a clear error from the loader */
            return load_any(out, folder);
        config = NULL;
        rc = (file = olive_strdup("model.onnx")) ? OLIVE_OK : OLIVE_ENOMEM;
    }
    free(config);
    if (rc == OLIVE_OK && !(path = olive_path_join(folder, file)))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = olive_path_check_contained(folder, path, "model file");
    if (rc == OLIVE_OK)
        rc = load_any(&m, path);
    if (rc == OLIVE_OK && (rc = add_folder_companions(m, folder)) != OLIVE_OK)
        oir_model_free(m);
    free(file);
    free(path);
    if (rc == OLIVE_OK)
        *out = m;
    return rc;
}

int wf_resolve_hub_id(char **out, const char *id)
{
    ohub_ref ref;
    struct stat st;
    int rc;
    *out = NULL;
    if (stat(id, &st) == 0 || errno != ENOENT)
        return OLIVE_OK; /* a local path wins */
    if ((rc = ohub_ref_parse(&ref, id)) <= 0)
        return rc;
    rc = ohub_fetch(out, &ref);
    if (rc == OLIVE_OK)
        OLIVE_INFO("input model '%s': %s", id, *out);
    ohub_ref_clear(&ref);
    return rc;
}

int wf_load_input(oir_model **out, char **folder, const char *path, const char *onnx_file_name)
{
    struct stat st;
    oir_model *m = NULL;
    char *dir, *hub = NULL;
    int rc;
    /* A Hugging Face repo id, as Olive recipes name models: from the hub cache, downloaded first. */
    OLIVE_TRY(wf_resolve_hub_id(&hub, path));
    if (hub) {
        rc = wf_load_input(out, folder, hub, onnx_file_name);
        free(hub);
        return rc;
    }
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return olive_fail(OLIVE_ENOTFOUND,
                              "input model '%s' does not exist (give a local folder, .gguf or .onnx file, or "
                              "a Hugging Face repo id org/name[@revision])",
                              path);
        return olive_fail_errno(errno, "cannot read input model", path);
    }
    if (S_ISDIR(st.st_mode)) {
        OLIVE_TRY(load_folder(&m, path, onnx_file_name));
        if (!(dir = olive_strdup(path))) {
            oir_model_free(m);
            return OLIVE_ENOMEM;
        }
    } else {
        OLIVE_TRY(load_any(&m, path));
        dir = NULL; /* the folder around a model file is not part of the model */
    }
    *out = m;
    *folder = dir;
    return OLIVE_OK;
}

uint64_t wf_model_files_size(const oir_model *m)
{
    uint64_t total = 0;
    struct stat st;
    if (m->checkpoint_path && stat(m->checkpoint_path, &st) == 0 && !S_ISDIR(st.st_mode))
        return (uint64_t)st.st_size;
    if (m->path && stat(m->path, &st) == 0)
        total += (uint64_t)st.st_size;
    for (size_t i = 0; i < m->n_sources; i++)
        if (m->sources[i]->path && (!m->path || strcmp(m->sources[i]->path, m->path)) &&
            stat(m->sources[i]->path, &st) == 0)
            total += (uint64_t)st.st_size;
    return total;
}
