/* The workflow cache when another process publishes the same entry between this process's
 * lookup and its store (the race of many writers, made deterministic): the entry already
 * there is verified and used, this one's discarded; a damaged one in the way is replaced; an
 * empty folder in the way is taken over. No staging folder is left in any case. Evaluation
 * records are served only when they verify. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "pass_test_util.h"
#include "workflow/cache.h"

#define KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* x[1,4] -> MatMul(w) -> y, w filled with `value`. */
static oir_model *model_with(float value)
{
    oir_model *m = ir_model(17);
    const int64_t wd[2] = {4, 4}, xd[2] = {1, 4};
    float w[16];
    for (int i = 0; i < 16; i++)
        w[i] = value;
    ir_io(m->graph, 0, "x", OIR_FLOAT, 2, xd);
    ir_io(m->graph, 1, "y", OIR_FLOAT, 2, xd);
    ir_init(m->graph, "w", OIR_FLOAT, 2, wd, w, sizeof w);
    ir_add(m->graph, "MatMul", "mm", LIST("x", "w"), LIST("y"));
    return m;
}

static float weight_of(const oir_model *m)
{
    const oir_tensor *t = m ? oir_graph_initializer(m->graph, "w") : NULL;
    float v = -1;
    if (t)
        memcpy(&v, oir_tensor_data(t), sizeof v);
    return v;
}

/* Names in `dir` starting with '.': staging folders and temporary files. */
static int hidden_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static char *read_text(const char *path)
{
    char *text = NULL;
    size_t size;
    return olive_read_file(&text, &size, path, 1 << 20) == OLIVE_OK ? text : NULL;
}

static void flip_a_byte(const char *path)
{
    FILE *f = fopen(path, "r+b");
    int c;
    CHECK(f != NULL);
    if (!f)
        return;
    fseek(f, 8, SEEK_SET);
    c = fgetc(f);
    fseek(f, 8, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
}

int main(void)
{
    char base[] = "/tmp/olive-cache-XXXXXX", *dir, *entry, *manifest_path, *before, *after;
    wf_cache c;
    oir_model *first = model_with(1.0f), *second = model_with(2.0f), *out = NULL;
    json_t *info = json_pack("{s:s}", "pass", "test"), *man = NULL;
    CHECK(mkdtemp(base) != NULL);
    dir = olive_path_join(base, "cache");
    CHECK_RC(wf_cache_open(&c, dir, 0), OLIVE_OK);
    entry = wf_cache_entry_dir(&c, KEY);
    manifest_path = olive_path_join(entry, "manifest.json");

    /* The first writer publishes. */
    CHECK_RC(wf_cache_store(&c, KEY, first, info, &out), OLIVE_OK);
    CHECK(weight_of(out) == 1.0f);
    oir_model_free(out);
    out = NULL;
    before = read_text(manifest_path);
    CHECK(before != NULL);

    /* A second writer that computed the same key stores after it: it gets the first one's
     * entry (told apart here by different weights), untouched, and leaves no staging folder. */
    CHECK_RC(wf_cache_store(&c, KEY, second, info, &out), OLIVE_OK);
    CHECK_MSG(weight_of(out) == 1.0f, "got the weight %g, not the published entry's", (double)weight_of(out));
    oir_model_free(out);
    out = NULL;
    after = read_text(manifest_path);
    CHECK(before && after && !strcmp(before, after));
    free(after);
    CHECK(hidden_entries(c.runs) == 0);

    /* A damaged entry in the way is replaced by this writer's. */
    {
        char *data = olive_path_join(entry, "model.onnx");
        flip_a_byte(data);
        free(data);
    }
    CHECK_RC(wf_cache_store(&c, KEY, second, info, &out), OLIVE_OK);
    CHECK(weight_of(out) == 2.0f);
    oir_model_free(out);
    out = NULL;
    CHECK(hidden_entries(c.runs) == 0);
    CHECK_RC(wf_cache_lookup(&c, KEY, &out, &man), OLIVE_OK);
    CHECK(out && weight_of(out) == 2.0f);
    oir_model_free(out);
    out = NULL;
    json_decref(man);
    man = NULL;

    /* A lookup of a damaged entry misses and takes it out whole. */
    flip_a_byte(manifest_path);
    CHECK_RC(wf_cache_lookup(&c, KEY, &out, &man), OLIVE_OK);
    CHECK(out == NULL && man == NULL);
    CHECK(access(entry, F_OK) != 0);
    CHECK(hidden_entries(c.runs) == 0);

    /* An empty folder at the entry's name (a removal cut short) is taken over. */
    CHECK(mkdir(entry, 0755) == 0);
    CHECK_RC(wf_cache_store(&c, KEY, first, info, &out), OLIVE_OK);
    CHECK(weight_of(out) == 1.0f);
    oir_model_free(out);
    CHECK(hidden_entries(c.runs) == 0);

    /* Evaluation records: read back equal, refused when their bytes or format differ. */
    {
        json_t *result = json_pack("{s:{s:{s:f}}}", "accuracy", "accuracy_score", "value", 0.875), *got = NULL;
        char *path = olive_asprintf("%s/evaluations/%s.json", dir, KEY), *text;
        CHECK_RC(wf_cache_eval_load(&c, KEY, &got), OLIVE_OK);
        CHECK(got == NULL);
        CHECK_RC(wf_cache_eval_store(&c, KEY, result), OLIVE_OK);
        CHECK_RC(wf_cache_eval_load(&c, KEY, &got), OLIVE_OK);
        CHECK(got && json_equal(got, result));
        json_decref(got);
        got = NULL;
        /* The value changed in place (0.875 -> 0.975): the hash no longer matches. */
        text = read_text(path);
        CHECK(text && strstr(text, "0.875"));
        if (text && strstr(text, "0.875")) {
            strstr(text, "0.875")[2] = '9';
            CHECK_RC(olive_write_file(path, text, strlen(text)), OLIVE_OK);
        }
        free(text);
        CHECK_RC(wf_cache_eval_load(&c, KEY, &got), OLIVE_OK);
        CHECK(got == NULL);
        /* A record of the older format (the bare result) is not trusted either. */
        CHECK_RC(olive_write_file(path, "{\"accuracy\": {}}", 16), OLIVE_OK);
        CHECK_RC(wf_cache_eval_load(&c, KEY, &got), OLIVE_OK);
        CHECK(got == NULL);
        json_decref(result);
        free(path);
    }

    free(before);
    free(manifest_path);
    free(entry);
    wf_cache_close(&c);
    olive_rmtree(base);
    free(dir);
    json_decref(info);
    oir_model_free(first);
    oir_model_free(second);
    return check_summary("test_cache");
}
