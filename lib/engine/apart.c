/* An output or cache folder must stay apart from the input model: replacing or cleaning it
 * must never touch the files the model is read from (see engine.h). */
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/status.h"
#include "engine/engine.h"

static int check_resolved(const char *target, const char *path, const char *what, const char *input, const char *in)
{
    int rc = OLIVE_OK;
    switch (olive_path_relation(target, in)) {
    case OLIVE_PATH_SAME:
        rc = olive_fail(OLIVE_EINVALID, "%s '%s' is the input model '%s'; choose another folder", what, path, input);
        break;
    case OLIVE_PATH_INSIDE:
        rc = olive_fail(OLIVE_EINVALID, "%s '%s' is inside the input model's folder '%s'; choose a folder outside it",
                        what, path, input);
        break;
    case OLIVE_PATH_CONTAINS:
        rc = olive_fail(OLIVE_EINVALID,
                        "%s '%s' contains the input model's file '%s'; choose a folder that does not "
                        "hold the input",
                        what, path, input);
        break;
    default: break;
    }
    return rc;
}

/* The input where its links lead, and the input itself where it is a link (the link is a
 * user's file too). */
static int check_one(const char *target, const char *path, const char *what, const char *input)
{
    char *in = olive_path_resolve(input), *parent = olive_path_dirname(input), *dir = NULL, *entry = NULL;
    int rc = OLIVE_OK;
    if (parent && (dir = olive_path_resolve(parent)))
        entry = olive_path_join(dir, olive_path_basename(input));
    if (in)
        rc = check_resolved(target, path, what, input, in);
    if (rc == OLIVE_OK && entry)
        rc = check_resolved(target, path, what, input, entry);
    free(in);
    free(parent);
    free(dir);
    free(entry);
    return rc;
}

int olive_engine_check_apart(const oir_model *input, const char *input_folder, const char *path, const char *what)
{
    char *target = olive_path_resolve(path);
    int rc = OLIVE_OK;
    if (!target)
        return olive_fail(OLIVE_EINVALID, "%s '%s': cannot resolve the path", what, path);
    if (input_folder)
        rc = check_one(target, path, what, input_folder);
    if (rc == OLIVE_OK && input->checkpoint_path)
        rc = check_one(target, path, what, input->checkpoint_path);
    if (rc == OLIVE_OK && input->path)
        rc = check_one(target, path, what, input->path);
    for (size_t i = 0; rc == OLIVE_OK && i < input->n_sources; i++)
        if (input->sources[i]->path)
            rc = check_one(target, path, what, input->sources[i]->path);
    for (size_t i = 0; rc == OLIVE_OK && i < input->n_companions; i++)
        if (input->companions[i].source_path)
            rc = check_one(target, path, what, input->companions[i].source_path);
    free(target);
    return rc;
}
