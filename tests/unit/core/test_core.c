/* Core utilities: string map, word splitting, paths, error messages, blobs. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/blob.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "core/strmap.h"
#include "core/words.h"

static void test_strmap(void)
{
    olive_strmap m = {0};
    char keys[2000][16];
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        CHECK_RC(olive_strmap_put(&m, keys[i], (void *)(intptr_t)(i + 1)), OLIVE_OK);
    }
    CHECK(m.count == 2000);
    for (int i = 0; i < 2000; i += 2)
        olive_strmap_remove(&m, keys[i]);
    CHECK(m.count == 1000);
    for (int i = 0; i < 2000; i++)
        CHECK(olive_strmap_get(&m, keys[i]) == (i % 2 ? (void *)(intptr_t)(i + 1) : NULL));
    /* Repeated insert/remove cycles must not exhaust the table with tombstones. */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 2000; i += 2)
            olive_strmap_put(&m, keys[i], (void *)1);
        for (int i = 0; i < 2000; i += 2)
            olive_strmap_remove(&m, keys[i]);
    }
    CHECK(m.count == 1000);
    CHECK(!olive_strmap_has(&m, "absent"));
    olive_strmap_free(&m);
}

static void test_words(void)
{
    char **w;
    size_t n;
    CHECK_RC(olive_split_words(&w, &n, "  peephole ! quantize bits=4 name=\"a b\" "), OLIVE_OK);
    CHECK(n == 5);
    if (n == 5) {
        CHECK_STR(w[0], "peephole");
        CHECK_STR(w[1], "!");
        CHECK_STR(w[3], "bits=4");
        CHECK_STR(w[4], "name=a b");
    }
    olive_free_words(w, n);
    CHECK_RC(olive_split_words(&w, &n, "x=\"open"), OLIVE_EINVALID);
    CHECK_ERROR_HAS("unterminated quote");
}

static void test_paths(void)
{
    CHECK_RC(olive_path_check_inside("weights.bin", "tensor 'w'"), OLIVE_OK);
    CHECK_RC(olive_path_check_inside("sub/dir/w.bin", "tensor 'w'"), OLIVE_OK);
    CHECK_RC(olive_path_check_inside("../w.bin", "tensor 'w'"), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("escapes the model folder");
    CHECK_RC(olive_path_check_inside("a/../../w.bin", "tensor 'w'"), OLIVE_EFORMAT);
    CHECK_RC(olive_path_check_inside("/etc/passwd", "tensor 'w'"), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("tensor 'w'");
    CHECK_RC(olive_path_check_inside("", "tensor 'w'"), OLIVE_EFORMAT);
    CHECK_RC(olive_path_check_inside("a\\..\\w", "tensor 'w'"), OLIVE_EFORMAT);
    char *d = olive_path_dirname("/a/b/model.onnx");
    CHECK_STR(d, "/a/b");
    free(d);
    d = olive_path_dirname("model.onnx");
    CHECK_STR(d, ".");
    free(d);
    CHECK_STR(olive_path_basename("/a/b/model.onnx"), "model.onnx");
}

/* Paths that do not exist yet are resolved from their longest existing prefix; ".." in the
 * missing part is resolved as text, so "missing/../x" is seen to be "x". */
static void test_path_resolve(void)
{
    char base[] = "/tmp/olive-resolve-XXXXXX", want[128], *r;
    CHECK(mkdtemp(base) != NULL);
    char *real = realpath(base, NULL), in[128], link[128];
    snprintf(in, sizeof in, "%s/in", base);
    snprintf(link, sizeof link, "%s/alias", base);
    CHECK(mkdir(in, 0755) == 0 && symlink("in", link) == 0);
    snprintf(want, sizeof want, "%s/in/new/deeper", real);
    r = olive_path_resolve(strcat(strcpy((char[160]){0}, link), "/new/deeper"));
    CHECK_STR(r, want);
    free(r);
    snprintf(want, sizeof want, "%s/in", real);
    r = olive_path_resolve(strcat(strcpy((char[160]){0}, base), "/missing/../in/./"));
    CHECK_STR(r, want);
    free(r);
    r = olive_path_resolve("/");
    CHECK_STR(r, "/");
    free(r);
    CHECK(olive_path_relation("/a/b", "/a/b") == OLIVE_PATH_SAME);
    CHECK(olive_path_relation("/a/b/c", "/a/b") == OLIVE_PATH_INSIDE);
    CHECK(olive_path_relation("/a", "/a/b") == OLIVE_PATH_CONTAINS);
    CHECK(olive_path_relation("/a/bc", "/a/b") == OLIVE_PATH_APART);
    CHECK(olive_path_relation("/x", "/") == OLIVE_PATH_INSIDE);
    olive_rmtree(base);
    free(real);
}

static void test_outfile(void)
{
    char dir[] = "/tmp/olive-core-XXXXXX";
    olive_outfile f;
    char *path, *data = NULL;
    size_t size = 0;
    CHECK(mkdtemp(dir) != NULL);
    path = olive_path_join(dir, "out.bin");
    CHECK_RC(olive_outfile_open(&f, path), OLIVE_OK);
    CHECK_RC(olive_outfile_write(&f, "hello", 5), OLIVE_OK);
    CHECK(access(path, F_OK) != 0); /* nothing visible before commit */
    CHECK_RC(olive_outfile_commit(&f), OLIVE_OK);
    CHECK_RC(olive_read_file(&data, &size, path, 100), OLIVE_OK);
    CHECK(size == 5 && data && !memcmp(data, "hello", 5));
    free(data);
    CHECK_RC(olive_outfile_open(&f, path), OLIVE_OK);
    CHECK_RC(olive_outfile_write(&f, "bye", 3), OLIVE_OK);
    olive_outfile_abort(&f);
    CHECK_RC(olive_read_file(&data, &size, path, 100), OLIVE_OK); /* old file intact */
    CHECK(size == 5);
    free(data);
    CHECK(olive_dir_is_empty(dir) == 0);
    olive_rmtree(dir);
    CHECK(access(dir, F_OK) != 0);
    free(path);
}

static void test_errors(void)
{
    olive_error_clear();
    CHECK_STR(olive_error_last(), "");
    CHECK(olive_error_code() == OLIVE_OK);
    CHECK(olive_fail(OLIVE_EFORMAT, "tensor '%s' broken", "w") == OLIVE_EFORMAT);
    CHECK_STR(olive_error_last(), "tensor 'w' broken");
    olive_fail_context(OLIVE_EFORMAT, "loading '%s'", "m.onnx");
    CHECK_STR(olive_error_last(), "loading 'm.onnx': tensor 'w' broken");
    CHECK_STR(olive_strerror(OLIVE_ENOTFOUND), "not found");
    CHECK_STR(olive_strerror(12345), "unknown error");
    CHECK(olive_version() == OLIVE_VERSION_NUMBER);
    CHECK_STR(olive_version_string(), OLIVE_VERSION_STRING);
}

static void test_blob(void)
{
    olive_blob *b;
    CHECK_RC(olive_blob_map_file(&b, "/nonexistent/file"), OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("/nonexistent/file");
    CHECK_RC(olive_blob_alloc(&b, 16), OLIVE_OK);
    CHECK(olive_blob_ref(b) == b);
    olive_blob_unref(b);
    olive_blob_unref(b);
}

int main(void)
{
    test_strmap();
    test_words();
    test_paths();
    test_outfile();
    test_path_resolve();
    test_errors();
    test_blob();
    return check_summary("test_core");
}
