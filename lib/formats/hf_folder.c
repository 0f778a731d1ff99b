/* Hugging Face model folders: config.json, generation_config.json, the weights in one of the
 * layouts transformers saves (model.safetensors, sharded safetensors with an index,
 * pytorch_model.bin, sharded .bin with an index), and the tokenizer files beside them. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "formats/checkpoint.h"
#include "formats/safetensors.h"
#include "formats/torch_zip.h"

#define JSON_MAX_BYTES (64u << 20)

typedef int (*weights_reader)(ofmt_checkpoint *c, const char *path);

/* Companion files copied unchanged next to a converted model. */
static const char *const companion_names[] = {
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "chat_template.jinja",
    "chat_template.json",
};

static const char *const runtime_configs[] = {
    "config.json", "generation_config.json", "genai_config.json", "preprocessor_config.json", "processor_config.json",
};

static int listed(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; name && i < n; i++)
        if (!strcmp(name, names[i]))
            return 1;
    return 0;
}

int ofmt_is_tokenizer_file(const char *name)
{
    return listed(name, companion_names, sizeof companion_names / sizeof companion_names[0]);
}

int ofmt_is_runtime_config(const char *name)
{
    return listed(name, runtime_configs, sizeof runtime_configs / sizeof runtime_configs[0]);
}

/* 1 if something exists at `path`: reading it then refuses what is not a regular file (a FIFO
 * would block, a folder is no file), rather than passing over it in silence. */
static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int check_regular(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return olive_fail(OLIVE_EFORMAT, "'%s' is not a regular file", path);
    return OLIVE_OK;
}

/* Loads a JSON object of model folder `folder`; parse errors name the file, line and column. */
static int load_json_object(json_t **out, const char *folder, const char *path)
{
    char *text = NULL;
    size_t size = 0;
    json_error_t err;
    json_t *j;
    OLIVE_TRY(olive_path_check_contained(folder, path, "file"));
    OLIVE_TRY(olive_read_file(&text, &size, path, JSON_MAX_BYTES));
    j = json_loadb(text, size, JSON_REJECT_DUPLICATES, &err);
    free(text);
    if (!j)
        return olive_fail(OLIVE_EFORMAT, "'%s': invalid JSON at line %d, column %d: %s", path, err.line, err.column,
                          err.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return olive_fail(OLIVE_EFORMAT, "'%s': not a JSON object", path);
    }
    *out = j;
    return OLIVE_OK;
}

/* A shard named by an index must be a file of the folder: no absolute path, no '..', and no
 * symlink leading out of it. */
static int check_shard_location(const char *folder, const char *index_path, const char *shard, const char *shard_path)
{
    int rc = olive_path_check_inside(shard, "shard");
    if (rc == OLIVE_OK)
        rc = olive_path_check_contained(folder, shard_path, "shard");
    return rc == OLIVE_OK ? rc : olive_fail_context(rc, "'%s'", index_path);
}

/* model.safetensors.index.json / pytorch_model.bin.index.json: {"weight_map": {tensor: shard}}.
 * Every shard is read whole; each tensor listed must be found in the shard the index names. */
static int read_index(ofmt_checkpoint *c, const char *folder, const char *index_path, weights_reader read)
{
    json_t *index = NULL, *map, *v;
    const char *name;
    olive_strmap shards = {0};
    char **paths = NULL;
    size_t n_paths = 0, cap_paths = 0;
    int rc = load_json_object(&index, folder, index_path);
    if (rc != OLIVE_OK)
        return rc;
    map = json_object_get(index, "weight_map");
    if (!json_is_object(map)) {
        rc = olive_fail(OLIVE_EFORMAT, "'%s': \"weight_map\" is missing or not an object", index_path);
        goto done;
    }
    if (!json_object_size(map)) {
        rc = olive_fail(OLIVE_EFORMAT, "'%s': \"weight_map\" is empty", index_path);
        goto done;
    }
    json_object_foreach(map, name, v)
    {
        const char *shard = json_string_value(v);
        char *path;
        if (!shard) {
            rc = olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': shard is not a string", index_path, name);
            goto done;
        }
        if (olive_strmap_has(&shards, shard))
            continue;
        if (!(path = olive_path_join(folder, shard))) {
            rc = OLIVE_ENOMEM;
            goto done;
        }
        if ((rc = OLIVE_PUSH(paths, n_paths, cap_paths, path)) != OLIVE_OK) {
            free(path);
            goto done;
        }
        if ((rc = olive_strmap_put(&shards, shard, path)) != OLIVE_OK)
            goto done;
        if ((rc = check_shard_location(folder, index_path, shard, path)) != OLIVE_OK)
            goto done;
        if ((rc = read(c, path)) != OLIVE_OK) {
            olive_fail_context(rc, "shard '%s' named by '%s'", shard, index_path);
            goto done;
        }
    }
    json_object_foreach(map, name, v)
    {
        const char *want = olive_strmap_get(&shards, json_string_value(v));
        const ofmt_tensor *t = ofmt_checkpoint_find(c, name);
        if (!t || strcmp(t->file, want)) {
            rc = olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s' is listed in shard '%s' but that shard does not hold it",
                            index_path, name, json_string_value(v));
            goto done;
        }
    }
done:
    for (size_t i = 0; i < n_paths; i++)
        free(paths[i]);
    free(paths);
    olive_strmap_free(&shards);
    json_decref(index);
    return rc;
}

static int read_weights(ofmt_checkpoint *c, const char *folder)
{
    static const struct {
        const char *name;
        int is_index;
        weights_reader read;
    } layouts[] = {
        {"model.safetensors", 0, ofmt_safetensors_add_file},
        {"model.safetensors.index.json", 1, ofmt_safetensors_add_file},
        {"pytorch_model.bin", 0, ofmt_torch_zip_add_file},
        {"pytorch_model.bin.index.json", 1, ofmt_torch_zip_add_file},
    };
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        char *path = olive_path_join(folder, layouts[i].name);
        int rc;
        if (!path)
            return OLIVE_ENOMEM;
        if (!exists(path)) {
            free(path);
            continue;
        }
        rc = olive_path_check_contained(folder, path, "weights file");
        if (rc == OLIVE_OK)
            rc = layouts[i].is_index ? read_index(c, folder, path, layouts[i].read) : layouts[i].read(c, path);
        free(path);
        return rc;
    }
    return olive_fail(OLIVE_ENOTFOUND,
                      "'%s': no weights (model.safetensors, model.safetensors.index.json, pytorch_model.bin or "
                      "pytorch_model.bin.index.json)",
                      folder);
}

static int list_companions(ofmt_checkpoint *c, const char *folder)
{
    size_t cap = 0;
    for (size_t i = 0; i < sizeof companion_names / sizeof companion_names[0]; i++) {
        char *path = olive_path_join(folder, companion_names[i]);
        if (!path)
            return OLIVE_ENOMEM;
        if (!exists(path)) {
            free(path);
            continue;
        }
        if (olive_path_check_contained(folder, path, "companion file") != OLIVE_OK || check_regular(path) != OLIVE_OK) {
            free(path);
            return olive_error_code();
        }
        if (OLIVE_PUSH(c->copy_files, c->n_copy_files, cap, path)) {
            free(path);
            return OLIVE_ENOMEM;
        }
    }
    return OLIVE_OK;
}

int ofmt_hf_open(ofmt_checkpoint **out, const char *folder)
{
    ofmt_checkpoint *c = ofmt_checkpoint_new(OFMT_HF_FOLDER, folder);
    char *path;
    int rc;
    if (!c)
        return OLIVE_ENOMEM;
    if (!(path = olive_path_join(folder, "config.json"))) {
        ofmt_checkpoint_free(c);
        return OLIVE_ENOMEM;
    }
    rc = load_json_object(&c->config, folder, path);
    free(path);
    if (rc == OLIVE_OK) {
        if (!(path = olive_path_join(folder, "generation_config.json")))
            rc = OLIVE_ENOMEM;
        else if (exists(path))
            rc = load_json_object(&c->generation_config, folder, path);
        free(path);
    }
    if (rc == OLIVE_OK)
        rc = read_weights(c, folder);
    if (rc == OLIVE_OK)
        rc = list_companions(c, folder);
    if (rc != OLIVE_OK) {
        ofmt_checkpoint_free(c);
        return rc;
    }
    *out = c;
    return OLIVE_OK;
}
