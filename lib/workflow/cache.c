/* The workflow cache (see cache.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "workflow/cache.h"
#include "engine/engine.h"
#include "onnx/onnx_io.h"

#define MANIFEST "manifest.json"
#define MANIFEST_LIMIT (16u << 20)
#define TABLE_LIMIT (64u << 20)
#define PUBLISH_ATTEMPTS 8
/* A temporary file of an atomic write is written in one go: untouched for an hour, its writer
 * is gone (whichever machine it ran on). */
#define STALE_TEMP_FILE_SECONDS 3600

/* What a file's hash was computed from: if any of these changed, the file is hashed again. */
typedef struct wf_file_hash {
    char *path;
    uint64_t size, ino;
    int64_t mtime_ns;
    int64_t ctime_ns; /* a write, or setting the mtime back, moves it; only the clock sets it */
    char hex[OLIVE_SHA256_HEX];
} wf_file_hash;

static void free_entry(wf_file_hash *h)
{
    if (h) {
        free(h->path);
        free(h);
    }
}

static int put_hash(wf_cache *c, const char *path, const struct stat *st, const char *hex)
{
    wf_file_hash *h = olive_calloc(1, sizeof *h), *old;
    if (!h || !(h->path = olive_strdup(path))) {
        free(h);
        return OLIVE_ENOMEM;
    }
    h->size = (uint64_t)st->st_size;
    h->ino = (uint64_t)st->st_ino;
    h->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    h->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
    memcpy(h->hex, hex, OLIVE_SHA256_HEX);
    old = olive_strmap_get(&c->files, path);
    if (olive_strmap_put(&c->files, h->path, h) != OLIVE_OK) {
        free_entry(h);
        return OLIVE_ENOMEM;
    }
    free_entry(old);
    c->dirty = 1;
    return OLIVE_OK;
}

/* Lines "hex<TAB>size<TAB>mtime_ns<TAB>ctime_ns<TAB>inode<TAB>path"; a damaged line (or one of
 * an older format) is skipped. */
static void load_table(wf_cache *c)
{
    char *text = NULL, *line, *save = NULL;
    size_t size;
    if (olive_read_file(&text, &size, c->table_path, TABLE_LIMIT) != OLIVE_OK) {
        olive_error_clear();
        return;
    }
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char hex[OLIVE_SHA256_HEX];
        unsigned long long sz, ino;
        long long mt, ct;
        int used = 0;
        struct stat st;
        if (sscanf(line, "%64[0-9a-f]\t%llu\t%lld\t%lld\t%llu\t%n", hex, &sz, &mt, &ct, &ino, &used) != 5 || !used ||
            strlen(hex) != 64 || line[used] != '/')
            continue;
        memset(&st, 0, sizeof st);
        st.st_size = (off_t)sz;
        st.st_ino = (ino_t)ino;
        st.st_mtim.tv_sec = (time_t)(mt / 1000000000);
        st.st_mtim.tv_nsec = (long)(mt % 1000000000);
        st.st_ctim.tv_sec = (time_t)(ct / 1000000000);
        st.st_ctim.tv_nsec = (long)(ct % 1000000000);
        if (put_hash(c, line + used, &st, hex) != OLIVE_OK)
            break;
    }
    c->dirty = 0;
    free(text);
}

static void save_table(wf_cache *c)
{
    olive_strbuf b = {0};
    char *text;
    olive_strbuf_append(&b, "");
    for (size_t i = 0; i < c->files.cap; i++) {
        const wf_file_hash *h;
        if (!c->files.keys || !c->files.keys[i] || !(h = olive_strmap_get(&c->files, c->files.keys[i])))
            continue;
        if (access(h->path, F_OK) != 0)
            continue; /* forget files that are gone */
        olive_strbuf_printf(&b, "%s\t%" PRIu64 "\t%" PRId64 "\t%" PRId64 "\t%" PRIu64 "\t%s\n", h->hex, h->size,
                            h->mtime_ns, h->ctime_ns, h->ino, h->path);
    }
    if (!(text = olive_strbuf_take(&b)))
        return;
    olive_write_file(c->table_path, text, strlen(text)); /* best effort: a lost table costs rehashing */
    free(text);
}

/* Removes the temporary files of atomic writes (".<name>.tmp-XXXXXX", regular files) that a
 * killed writer left in `dir`, once they are provably stale. */
static void clean_stale_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        const char *t = strstr(e->d_name, ".tmp-");
        struct stat st;
        size_t k = 0;
        if (e->d_name[0] != '.' || !t)
            continue;
        while (t[5 + k] && isalnum((unsigned char)t[5 + k]))
            k++;
        if (k != 6 || t[5 + k] || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            (double)time(NULL) - (double)st.st_mtim.tv_sec <= STALE_TEMP_FILE_SECONDS)
            continue;
        OLIVE_INFO("removing %s/%s, left by an interrupted run", dir, e->d_name);
        unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

int wf_cache_open(wf_cache *c, const char *dir, int clean)
{
    memset(c, 0, sizeof *c);
    if (!(c->dir = olive_strdup(dir)) || !(c->runs = olive_path_join(dir, "runs")) ||
        !(c->table_path = olive_path_join(dir, "file_hashes.tsv"))) {
        wf_cache_close(c);
        return OLIVE_ENOMEM;
    }
    if (clean) {
        OLIVE_INFO("cache: cleaning %s", c->runs);
        olive_rmtree(c->runs);
        unlink(c->table_path);
    }
    if (olive_mkdir_p(c->runs) != OLIVE_OK) {
        int rc = olive_fail_context(olive_error_code(), "cache_dir");
        wf_cache_close(c);
        return rc;
    }
    /* Entries being built by a run that was killed: only stale ones, a live run's stay. */
    olive_engine_clean_staging(c->runs, NULL);
    clean_stale_temp_files(c->dir);
    {
        char *evaluations = olive_path_join(c->dir, "evaluations");
        if (evaluations)
            clean_stale_temp_files(evaluations);
        free(evaluations);
    }
    load_table(c);
    return OLIVE_OK;
}

void wf_cache_close(wf_cache *c)
{
    if (c->dirty && c->table_path)
        save_table(c);
    for (size_t i = 0; i < c->files.cap; i++)
        if (c->files.keys && c->files.keys[i])
            free_entry(c->files.values[i]);
    olive_strmap_free(&c->files);
    free(c->dir);
    free(c->runs);
    free(c->table_path);
    memset(c, 0, sizeof *c);
}

int wf_cache_file_hash(wf_cache *c, const char *path, char hex[OLIVE_SHA256_HEX])
{
    struct stat st;
    char *abs = realpath(path, NULL);
    const wf_file_hash *h;
    int rc;
    if (!abs)
        return olive_fail_errno(errno, "cannot find", path);
    if (stat(abs, &st) != 0) {
        rc = olive_fail_errno(errno, "cannot read", path);
        free(abs);
        return rc;
    }
    h = olive_strmap_get(&c->files, abs);
    if (h && h->size == (uint64_t)st.st_size && h->ino == (uint64_t)st.st_ino &&
        h->mtime_ns == (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec &&
        h->ctime_ns == (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec) {
        memcpy(hex, h->hex, OLIVE_SHA256_HEX);
        free(abs);
        return OLIVE_OK;
    }
    rc = olive_sha256_file(abs, hex);
    /* A path with a line break cannot be stored in the table: hash it every time. */
    if (rc == OLIVE_OK && !strpbrk(abs, "\n\t"))
        rc = put_hash(c, abs, &st, hex);
    free(abs);
    return rc;
}

/* Hashes "name<TAB>file-hash" lines into `s`. */
static int hash_named_file(wf_cache *c, olive_sha256 *s, const char *role, const char *path)
{
    char hex[OLIVE_SHA256_HEX];
    OLIVE_TRY(wf_cache_file_hash(c, path, hex));
    olive_sha256_update(s, role, strlen(role));
    olive_sha256_update(s, "\t", 1);
    olive_sha256_update(s, olive_path_basename(path), strlen(olive_path_basename(path)));
    olive_sha256_update(s, "\t", 1);
    olive_sha256_update(s, hex, 64);
    olive_sha256_update(s, "\n", 1);
    return OLIVE_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A checkpoint folder: every regular file in it, in name order. */
static int hash_folder(wf_cache *c, olive_sha256 *s, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = OLIVE_OK;
    if (!d)
        return olive_fail_errno(errno, "cannot list", dir);
    while (rc == OLIVE_OK && (e = readdir(d))) {
        char *name;
        if (e->d_name[0] == '.')
            continue;
        if (!(name = olive_strdup(e->d_name)) || OLIVE_PUSH(names, n, cap, name) != OLIVE_OK) {
            free(name);
            rc = OLIVE_ENOMEM;
        }
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        char *path = olive_path_join(dir, names[i]);
        struct stat st;
        if (!path)
            rc = OLIVE_ENOMEM;
        else if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = hash_named_file(c, s, "checkpoint", path);
        free(path);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int wf_cache_model_identity(wf_cache *c, const oir_model *m, char hex[OLIVE_SHA256_HEX])
{
    olive_sha256 s;
    struct stat st;
    olive_sha256_init(&s);
    olive_sha256_update(&s, "libolive-model 1\n", 17);
    if (m->checkpoint_path) {
        if (stat(m->checkpoint_path, &st) != 0)
            return olive_fail_errno(errno, "cannot read", m->checkpoint_path);
        OLIVE_TRY(S_ISDIR(st.st_mode) ? hash_folder(c, &s, m->checkpoint_path)
                                      : hash_named_file(c, &s, "checkpoint", m->checkpoint_path));
    } else {
        if (!m->path)
            return olive_fail(OLIVE_EINVALID, "the input model was not loaded from a file");
        OLIVE_TRY(hash_named_file(c, &s, "model", m->path));
        for (size_t i = 0; i < m->n_sources; i++)
            if (m->sources[i]->path && strcmp(m->sources[i]->path, m->path))
                OLIVE_TRY(hash_named_file(c, &s, "data", m->sources[i]->path));
    }
    for (size_t i = 0; i < m->n_companions; i++) {
        const oir_companion *k = &m->companions[i];
        if (k->source_path) {
            OLIVE_TRY(hash_named_file(c, &s, "companion", k->source_path));
        } else if (k->data) {
            char h[OLIVE_SHA256_HEX];
            olive_sha256_hex(k->data->data, k->data->size, h);
            olive_sha256_update(&s, k->name, strlen(k->name));
            olive_sha256_update(&s, h, 64);
        }
    }
    olive_sha256_final_hex(&s, hex);
    return OLIVE_OK;
}

char *wf_cache_entry_dir(const wf_cache *c, const char *key)
{
    return olive_path_join(c->runs, key);
}

static json_t *read_manifest(const char *entry)
{
    char *path = olive_path_join(entry, MANIFEST), *text = NULL;
    size_t size;
    json_t *j = NULL;
    if (path && olive_read_file(&text, &size, path, MANIFEST_LIMIT) == OLIVE_OK)
        j = json_loads(text, 0, NULL);
    free(path);
    free(text);
    return j;
}

/* Checks every file of the manifest; names the first that differs in *bad. */
static int entry_intact(const char *entry, const json_t *manifest, char **bad)
{
    const json_t *files = json_object_get(manifest, "files"), *model = json_object_get(manifest, "model");
    const char *name;
    json_t *v;
    if (!json_is_object(files) || !json_is_string(model) || !json_object_get(files, json_string_value(model))) {
        *bad = olive_strdup(MANIFEST);
        return 0;
    }
    json_object_foreach((json_t *)files, name, v)
    {
        char hex[OLIVE_SHA256_HEX], *path;
        int ok;
        if (!json_is_string(v) || olive_path_check_inside(name, "cache file") != OLIVE_OK) {
            olive_error_clear();
            *bad = olive_strdup(name);
            return 0;
        }
        if (!(path = olive_path_join(entry, name)))
            return -1;
        /* The bytes themselves, every time: an entry altered with its size, mtime and inode
         * kept would pass any check of its metadata. */
        ok = olive_sha256_file(path, hex) == OLIVE_OK && !strcmp(hex, json_string_value(v));
        free(path);
        if (!ok) {
            olive_error_clear();
            *bad = olive_strdup(name);
            return 0;
        }
    }
    return 1;
}

static int load_entry(oir_model **out, const char *entry, const json_t *manifest)
{
    const json_t *companions = json_object_get(manifest, "companions");
    const json_t *settings = json_object_get(manifest, "inference_settings");
    const char *model = json_string_value(json_object_get(manifest, "model"));
    char *path;
    oir_model *m = NULL;
    int rc;
    if (!model || olive_path_check_inside(model, "cache model file") != OLIVE_OK)
        return olive_fail(OLIVE_EFORMAT, "bad cache manifest in %s", entry);
    if (!(path = olive_path_join(entry, model)))
        return OLIVE_ENOMEM;
    rc = onnx_load_file(&m, path);
    free(path);
    for (size_t i = 0; rc == OLIVE_OK && i < json_array_size(companions); i++) {
        const char *name = json_string_value(json_array_get(companions, i));
        char *src = name ? olive_path_join(entry, name) : NULL;
        rc = src ? oir_model_add_companion_file(m, name, src)
                 : olive_fail(OLIVE_EFORMAT, "bad cache manifest in %s", entry);
        free(src);
    }
    /* what a pass found about running the model, which the ONNX file does not hold */
    if (rc == OLIVE_OK && json_is_object(settings) &&
        !(m->inference_settings = json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS)))
        rc = OLIVE_ENOMEM;
    if (rc != OLIVE_OK) {
        oir_model_free(m);
        return rc;
    }
    *out = m;
    return OLIVE_OK;
}

/* Flushes a folder's entries (names created or renamed in it) to stable storage; best effort
 * where the file system cannot sync a folder. */
static void sync_folder(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* The folder `entry` is, as lstat saw it, for telling it from one published in its place. */
static int same_folder(const char *entry, const struct stat *seen)
{
    struct stat now;
    return lstat(entry, &now) == 0 && S_ISDIR(now.st_mode) && now.st_ino == seen->st_ino && now.st_dev == seen->st_dev;
}

/* Takes a bad entry out of the cache: renamed onto a fresh staging folder of this process (a
 * rename replaces an empty folder), then removed. Readers see the whole entry or nothing, a
 * killed remover leaves a staging folder the next run recognises as stale, and an entry
 * another process published in the meantime (another inode than the one checked) is kept. */
static void discard_entry(const char *entry, const struct stat *seen)
{
    char *trash = NULL;
    if (olive_engine_make_staging(&trash, entry) != OLIVE_OK) {
        olive_error_clear();
        return;
    }
    if (same_folder(entry, seen) && rename(entry, trash) == 0)
        sync_folder(trash); /* the rename reached the shared folder before the removal starts */
    olive_rmtree(trash);
    free(trash);
}

/* Reads and verifies the entry at `entry`: 1 with *manifest when every file matches, 0 when it
 * does not (*bad names the first file that differs), -1 when out of memory. */
static int verify_entry(const char *entry, json_t **manifest, char **bad)
{
    json_t *man = read_manifest(entry);
    int intact = man ? entry_intact(entry, man, bad) : 0;
    if (intact == 1)
        *manifest = man;
    else
        json_decref(man);
    return intact;
}

int wf_cache_lookup(wf_cache *c, const char *key, oir_model **out, json_t **manifest)
{
    char *entry = wf_cache_entry_dir(c, key), *bad = NULL;
    json_t *man = NULL;
    struct stat st;
    int intact, rc;
    *out = NULL;
    *manifest = NULL;
    if (!entry)
        return OLIVE_ENOMEM;
    if (lstat(entry, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(entry);
        return OLIVE_OK;
    }
    intact = verify_entry(entry, &man, &bad);
    if (intact < 0) {
        free(entry);
        return OLIVE_ENOMEM;
    }
    if (!intact) {
        OLIVE_WARN("cache entry %s was altered (%s differs from its manifest): rebuilding it", entry,
                   bad ? bad : MANIFEST);
        free(bad);
        discard_entry(entry, &st);
        free(entry);
        return OLIVE_OK;
    }
    rc = load_entry(out, entry, man);
    if (rc != OLIVE_OK) {
        /* Intact files that no longer load (written by an older build?): rebuild too. */
        OLIVE_WARN("cache entry %s cannot be loaded (%s): rebuilding it", entry, olive_error_last());
        olive_error_clear();
        json_decref(man);
        discard_entry(entry, &st);
        free(entry);
        return OLIVE_OK;
    }
    *manifest = man;
    free(entry);
    return OLIVE_OK;
}

static int list_files(json_t *files, json_t *companions, wf_cache *c, const char *staging, const oir_model *m)
{
    DIR *d = opendir(staging);
    struct dirent *e;
    int rc = OLIVE_OK;
    if (!d)
        return olive_fail_errno(errno, "cannot list", staging);
    while (rc == OLIVE_OK && (e = readdir(d))) {
        char hex[OLIVE_SHA256_HEX], *path;
        if (e->d_name[0] == '.')
            continue;
        if (!(path = olive_path_join(staging, e->d_name))) {
            rc = OLIVE_ENOMEM;
            break;
        }
        rc = olive_sha256_file(path, hex);
        free(path);
        if (rc == OLIVE_OK)
            json_object_set_new(files, e->d_name, json_string(hex));
    }
    closedir(d);
    (void)c;
    for (size_t i = 0; i < m->n_companions; i++)
        json_array_append_new(companions, json_string(m->companions[i].name));
    return rc;
}

static int write_manifest(const char *staging, const json_t *manifest)
{
    char *path = olive_path_join(staging, MANIFEST), *text = json_dumps(manifest, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc;
    if (!path || !text) {
        free(path);
        free(text);
        return olive_fail(OLIVE_ENOMEM, "out of memory writing a cache manifest");
    }
    rc = olive_write_file(path, text, strlen(text));
    free(path);
    free(text);
    return rc;
}

/* Publishes the complete, verified-by-construction staging folder as `entry`. Its files were
 * fsynced as they were written; the folder is synced before the rename, so that no node of a
 * shared file system sees the name before the bytes. If another process published the same
 * key first (same inputs, same result), theirs is verified and kept and ours discarded; a bad
 * one in the way is taken out and the rename tried again. On success *manifest is the one of
 * the published entry and the staging folder is gone. */
static int publish_entry(const char *staging, const char *entry, json_t **manifest)
{
    char *runs = olive_path_dirname(entry);
    int rc = OLIVE_OK, done = 0;
    if (!runs)
        return OLIVE_ENOMEM;
    sync_folder(staging);
    for (int attempt = 0; !done && attempt < PUBLISH_ATTEMPTS; attempt++) {
        struct stat st;
        json_t *theirs = NULL;
        char *bad = NULL;
        int intact, e;
        if (rename(staging, entry) == 0) {
            sync_folder(runs);
            done = 1;
            break;
        }
        /* ENOENT with the staging folder gone and the entry there: an NFS client that resent
         * a rename the server had done (its reply lost); the entry is checked as any other. */
        e = errno;
        if (e != ENOTEMPTY && e != EEXIST && !(e == ENOENT && lstat(staging, &st) != 0 && lstat(entry, &st) == 0)) {
            rc = olive_fail_errno(e, "cannot publish cache entry", entry);
            done = 1;
            break;
        }
        if (lstat(entry, &st) != 0)
            continue; /* removed since: try again */
        if ((intact = verify_entry(entry, &theirs, &bad)) < 0) {
            rc = OLIVE_ENOMEM;
            done = 1;
            break;
        }
        if (intact) {
            OLIVE_DEBUG("cache entry %s was published by another run meanwhile: using it", entry);
            olive_rmtree(staging);
            json_decref(*manifest);
            *manifest = theirs;
            done = 1;
            break;
        }
        OLIVE_WARN("cache entry %s was altered (%s differs from its manifest): replacing it", entry,
                   bad ? bad : MANIFEST);
        free(bad);
        discard_entry(entry, &st);
    }
    if (!done)
        rc = olive_fail(OLIVE_EIO, "cannot publish cache entry '%s': other entries kept taking its place", entry);
    free(runs);
    return rc;
}

int wf_cache_store(wf_cache *c, const char *key, const oir_model *m, const json_t *info, oir_model **out)
{
    char *entry = wf_cache_entry_dir(c, key), *staging = NULL, *model_path = NULL;
    json_t *manifest = json_deep_copy(info), *files = json_object(), *companions = json_array();
    onnx_save_options o;
    int rc;
    if (!entry || !manifest || !files || !companions) {
        rc = olive_fail(OLIVE_ENOMEM, "out of memory");
        goto out;
    }
    onnx_save_options_init(&o);
    if ((rc = olive_engine_make_staging(&staging, entry)) != OLIVE_OK)
        goto out;
    if (!(model_path = olive_path_join(staging, "model.onnx"))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    if ((rc = onnx_save_file(m, model_path, &o)) != OLIVE_OK ||
        (rc = oir_model_write_companions(m, staging)) != OLIVE_OK ||
        (rc = list_files(files, companions, c, staging, m)) != OLIVE_OK)
        goto out;
    json_object_set_new(manifest, "key", json_string(key));
    json_object_set_new(manifest, "model", json_string("model.onnx"));
    json_object_set(manifest, "files", files);
    json_object_set(manifest, "companions", companions);
    if (m->inference_settings) {
        json_t *settings = json_loads(m->inference_settings, 0, NULL);
        if (!json_is_object(settings)) {
            json_decref(settings);
            rc = olive_fail(OLIVE_EINTERNAL, "the model's inference_settings are not a JSON object");
            goto out;
        }
        json_object_set_new(manifest, "inference_settings", settings);
    }
    if ((rc = write_manifest(staging, manifest)) != OLIVE_OK)
        goto out;
    if ((rc = publish_entry(staging, entry, &manifest)) != OLIVE_OK)
        goto out;
    free(staging);
    staging = NULL;
    rc = load_entry(out, entry, manifest);
out:
    if (staging)
        olive_rmtree(staging);
    free(staging);
    free(model_path);
    free(entry);
    json_decref(manifest);
    json_decref(files);
    json_decref(companions);
    return rc;
}

int wf_cache_entry_files(const wf_cache *c, const char *key, json_t **out)
{
    char *entry = wf_cache_entry_dir(c, key);
    json_t *man = entry ? read_manifest(entry) : NULL, *files = json_object_get(man, "files");
    int rc = OLIVE_OK;
    if (!entry)
        rc = OLIVE_ENOMEM;
    else if (!json_is_object(files))
        rc = olive_fail(OLIVE_EFORMAT, "cache entry '%s' has no readable manifest", entry);
    else
        *out = json_incref(files);
    json_decref(man);
    free(entry);
    return rc;
}

int wf_cache_entry_size(const wf_cache *c, const char *key, uint64_t *out)
{
    char *entry = wf_cache_entry_dir(c, key);
    json_t *files = NULL;
    const char *name;
    json_t *v;
    uint64_t total = 0;
    int rc = entry ? wf_cache_entry_files(c, key, &files) : OLIVE_ENOMEM;
    json_object_foreach(files, name, v)
    {
        char *path = olive_path_join(entry, name);
        struct stat st;
        if (path && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
        free(path);
    }
    json_decref(files);
    free(entry);
    if (rc == OLIVE_OK)
        *out = total;
    return rc;
}

/* ---- evaluation records: <cache_dir>/evaluations/<key>.json ----
 * {"format": "libolive-eval 2", "sha256": <hash of "result">, "result": "<compact JSON>"}: the
 * result is kept as the exact text that was hashed, so verifying it needs no re-serialization. */
#define EVAL_FORMAT "libolive-eval 2"

static char *eval_path(const wf_cache *c, const char *key)
{
    return olive_asprintf("%s/evaluations/%s.json", c->dir, key);
}

int wf_cache_eval_load(const wf_cache *c, const char *key, json_t **out)
{
    char *path = eval_path(c, key), *text = NULL, hex[OLIVE_SHA256_HEX];
    size_t size;
    json_t *doc = NULL, *result = NULL;
    const char *inner, *want, *format;
    *out = NULL;
    if (!path)
        return OLIVE_ENOMEM;
    if (olive_read_file(&text, &size, path, MANIFEST_LIMIT) != OLIVE_OK) {
        olive_error_clear(); /* none yet */
        free(path);
        return OLIVE_OK;
    }
    doc = json_loads(text, 0, NULL);
    inner = json_string_value(json_object_get(doc, "result"));
    want = json_string_value(json_object_get(doc, "sha256"));
    if (inner)
        olive_sha256_hex(inner, strlen(inner), hex);
    format = json_string_value(json_object_get(doc, "format"));
    if (inner && want && format && !strcmp(format, EVAL_FORMAT) && !strcmp(hex, want))
        result = json_loads(inner, 0, NULL); /* (json_is_object evaluates its argument twice) */
    if (!json_is_object(result)) {
        /* Damaged, or written by an older build: evaluated again and replaced. */
        OLIVE_WARN("evaluation record %s does not verify: evaluating again", path);
        json_decref(result);
        result = NULL;
    }
    json_decref(doc);
    free(text);
    free(path);
    *out = result;
    return OLIVE_OK;
}

int wf_cache_eval_store(const wf_cache *c, const char *key, const json_t *result)
{
    char *path = eval_path(c, key), *inner = json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS), *dir = NULL,
         *text = NULL, hex[OLIVE_SHA256_HEX];
    json_t *doc = NULL;
    int rc = OLIVE_ENOMEM;
    if (path && inner && (dir = olive_path_dirname(path))) {
        olive_sha256_hex(inner, strlen(inner), hex);
        doc = json_pack("{s:s, s:s, s:s}", "format", EVAL_FORMAT, "sha256", hex, "result", inner);
        text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
        /* An atomic write (temporary file, fsync, rename): two writers of one key write the
         * same result, and the last rename wins whole. */
        if (text && (rc = olive_mkdir_p(dir)) == OLIVE_OK)
            rc = olive_write_file(path, text, strlen(text));
    }
    json_decref(doc);
    free(text);
    free(dir);
    free(inner);
    free(path);
    return rc;
}
