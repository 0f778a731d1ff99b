/* The huggingface_hub cache layout: naming a model, finding the cache, reading a snapshot. */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "formats/hub/hub.h"
#include "formats/hub/hub_internal.h"

static int plain_name(const char *s, size_t n)
{
    if (n == 0 || n > 96 || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
            return 0;
    return !(n >= 2 && memmem(s, n, "..", 2));
}

int ohub_ref_parse(ohub_ref *out, const char *id)
{
    const char *slash = strchr(id, '/'), *name, *end, *at, *file = NULL;
    memset(out, 0, sizeof(*out));
    if (!slash || !plain_name(id, (size_t)(slash - id)))
        return 0;
    name = slash + 1;
    end = name + strcspn(name, "@/");
    if (!plain_name(name, (size_t)(end - name)))
        return 0;
    /* "dir/model.onnx" names a local file that is missing, not a repository */
    static const char *const file_ext[] = {".onnx", ".gguf", ".json", ".safetensors", ".bin", ".yaml", ".yml", NULL};
    for (const char *const *e = file_ext; *e; e++) {
        size_t n = (size_t)(end - name), m = strlen(*e);
        if (*end == '\0' && n > m && !strncmp(end - m, *e, m))
            return 0;
    }
    at = *end == '@' ? end + 1 : NULL;
    const char *rev_end = at ? at + strcspn(at, "/") : end;
    if (*rev_end == '/') {
        file = rev_end + 1;
        /* a file names one GGUF: any other path is a local path that does not exist */
        size_t fl = strlen(file);
        if (fl < 6 || strcmp(file + fl - 5, ".gguf") || olive_path_check_inside(file, "hub file") != OLIVE_OK) {
            olive_error_clear();
            return 0;
        }
    }
    if (at && (rev_end == at || !plain_name(at, (size_t)(rev_end - at))))
        return 0;
    out->repo = olive_strndup(id, (size_t)(end - id));
    out->revision = at ? olive_strndup(at, (size_t)(rev_end - at)) : olive_strdup("main");
    out->file = file ? olive_strdup(file) : NULL;
    if (!out->repo || !out->revision || (file && !out->file)) {
        ohub_ref_clear(out);
        return OLIVE_ENOMEM;
    }
    return 1;
}

void ohub_ref_clear(ohub_ref *r)
{
    free(r->repo);
    free(r->revision);
    free(r->file);
    memset(r, 0, sizeof(*r));
}

char *ohub_cache_dir(void)
{
    const char *v;
    if ((v = getenv("HF_HUB_CACHE")) && v[0])
        return olive_strdup(v);
    if ((v = getenv("HF_HOME")) && v[0])
        return olive_path_join(v, "hub");
    if ((v = getenv("HOME")) && v[0])
        return olive_asprintf("%s/.cache/huggingface/hub", v);
    return NULL;
}

char *ohub_repo_dir(const char *cache, const char *repo)
{
    const char *slash = strchr(repo, '/');
    return olive_asprintf("%s/models--%.*s--%s", cache, (int)(slash - repo), repo, slash + 1);
}

int ohub_is_commit(const char *rev)
{
    size_t n = strlen(rev);
    if (n != 40)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)rev[i]) || isupper((unsigned char)rev[i]))
            return 0;
    return 1;
}

char *ohub_cached_commit(const char *repo_dir, const char *revision)
{
    char *path, *ref = NULL;
    size_t size;
    if (ohub_is_commit(revision))
        return olive_strdup(revision);
    if (!(path = olive_asprintf("%s/refs/%s", repo_dir, revision)))
        return NULL;
    if (olive_read_file(&ref, &size, path, 256) == OLIVE_OK) {
        ref[strcspn(ref, "\r\n")] = '\0';
        if (!plain_name(ref, strlen(ref))) { /* a commit id, as a folder name in snapshots/ */
            free(ref);
            ref = NULL;
        }
    }
    olive_error_clear();
    free(path);
    return ref;
}

static int exists_in(const char *dir, const char *name)
{
    struct stat st;
    char *p = olive_path_join(dir, name);
    int ok = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

int ohub_index_shards(const char *index_path, char ***out, size_t *count)
{
    json_error_t jerr;
    json_t *root = json_load_file(index_path, 0, &jerr), *map, *v;
    const char *key;
    char **names = NULL;
    size_t n = 0, cap = 0;
    if (!root || !(map = json_object_get(root, "weight_map")) || !json_is_object(map)) {
        json_decref(root);
        return olive_fail(OLIVE_EFORMAT, "%s: not a weights index (no \"weight_map\" object)", index_path);
    }
    json_object_foreach(map, key, v)
    {
        const char *s = json_string_value(v);
        size_t i = 0;
        if (!s || olive_path_check_inside(s, "weights shard") != OLIVE_OK) {
            for (size_t j = 0; j < n; j++)
                free(names[j]);
            free(names);
            json_decref(root);
            return s ? olive_error_code()
                     : olive_fail(OLIVE_EFORMAT, "%s: weight_map[%s] is not a file name", index_path, key);
        }
        while (i < n && strcmp(names[i], s))
            i++;
        if (i < n)
            continue;
        if (olive_grow((void **)&names, &cap, n + 1, sizeof(*names)) != OLIVE_OK || !(names[n] = olive_strdup(s))) {
            for (size_t j = 0; j < n; j++)
                free(names[j]);
            free(names);
            json_decref(root);
            return OLIVE_ENOMEM;
        }
        n++;
    }
    json_decref(root);
    *out = names;
    *count = n;
    return OLIVE_OK;
}

const char *const ohub_weight_indexes[] = {"model.safetensors.index.json", "pytorch_model.bin.index.json", NULL};
const char *const ohub_weight_files[] = {"model.safetensors", "pytorch_model.bin", NULL};

/* 1 when `snapshot` holds config.json and a complete set of weights. */
static int checkpoint_complete(const char *snapshot)
{
    if (!exists_in(snapshot, "config.json"))
        return 0;
    for (size_t w = 0; ohub_weight_indexes[w]; w++) {
        char *index = olive_path_join(snapshot, ohub_weight_indexes[w]), **shards = NULL;
        size_t n = 0;
        int ok = 0;
        if (!index)
            return 0;
        if (exists_in(snapshot, ohub_weight_indexes[w]) && ohub_index_shards(index, &shards, &n) == OLIVE_OK) {
            ok = n > 0;
            for (size_t i = 0; i < n; i++) {
                ok = ok && exists_in(snapshot, shards[i]);
                free(shards[i]);
            }
            free(shards);
        }
        olive_error_clear();
        free(index);
        if (ok)
            return 1;
        if (exists_in(snapshot, ohub_weight_files[w]))
            return 1;
    }
    return 0;
}

int ohub_snapshot_ready(char **out, const char *repo_dir, const char *commit, const char *file)
{
    char *snapshot = olive_asprintf("%s/snapshots/%s", repo_dir, commit);
    if (!snapshot)
        return OLIVE_ENOMEM;
    if (file ? exists_in(snapshot, file) : checkpoint_complete(snapshot)) {
        if (file) {
            char *path = olive_path_join(snapshot, file);
            free(snapshot);
            if (!path)
                return OLIVE_ENOMEM;
            snapshot = path;
        }
        *out = snapshot;
        return OLIVE_OK;
    }
    free(snapshot);
    return OLIVE_ENOTFOUND;
}

int ohub_cache_lookup(char **out, const ohub_ref *ref)
{
    char *cache = ohub_cache_dir(), *repo_dir = NULL, *commit = NULL;
    int rc = OLIVE_ENOTFOUND;
    if (cache && (repo_dir = ohub_repo_dir(cache, ref->repo)) && (commit = ohub_cached_commit(repo_dir, ref->revision)))
        rc = ohub_snapshot_ready(out, repo_dir, commit, ref->file);
    free(commit);
    free(repo_dir);
    free(cache);
    return rc;
}
