/* A mapped source file that another program truncates: before a pass, while a pass reads it
 * (the bus error is caught and turned into an error naming the file), and before a save.
 * Leak checking is off for this binary: a pass interrupted by a bus error cannot free what it
 * had allocated. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/handles.h"
#include "check.h"
#include "core/blob.h"
#include "core/fsutil.h"
#include "core/mapguard.h"
#include "core/parallel.h"
#include "ir/ir.h"
#include "olive/olive.h"

#define K 256

static char data_path[600];

/* X[1,K] -> MatMul(W1) -> MatMul(W2) -> Y, both weights K x K floats (256 KiB each). */
static olive_model *make_model(void)
{
    oir_model *m = oir_model_new();
    int64_t wdims[2] = {K, K}, xdims[2] = {1, K};
    float *w = malloc(sizeof(float) * K * K);
    oir_type *t = oir_type_new_tensor(OIR_FLOAT, 2, xdims, NULL);
    const char *a_in[2] = {"X", "W1"}, *a_out[1] = {"h"}, *b_in[2] = {"h", "W2"}, *b_out[1] = {"Y"};
    olive_model *out = NULL;
    for (int k = 0; k < 2; k++) {
        oir_tensor *wt = oir_tensor_new(k ? "W2" : "W1", OIR_FLOAT, 2, wdims);
        for (int i = 0; i < K * K; i++)
            w[i] = (float)((i * 7 + k) % 13) / 13.0f - 0.5f;
        oir_tensor_set_copy(wt, w, sizeof(float) * K * K);
        oir_graph_add_initializer(m->graph, wt);
    }
    free(w);
    oir_graph_add_input(m->graph, "X", t);
    oir_graph_add_output(m->graph, "Y", t);
    oir_graph_add_node(m->graph, oir_node_new("MatMul", "", "mm1", 2, a_in, 1, a_out));
    oir_graph_add_node(m->graph, oir_node_new("MatMul", "", "mm2", 2, b_in, 1, b_out));
    oir_model_require_opset(m, "", 17);
    oir_type_free(t);
    olive_model_wrap(&out, m);
    return out;
}

/* Saves the model into <base>/<name>/model.onnx with its weights in model.onnx.data, and loads
 * it back: the loaded model maps the data file. */
static olive_model *saved_and_loaded(const char *base, const char *name)
{
    char dir[512], file[600];
    olive_model *m = make_model(), *loaded = NULL;
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    mkdir(dir, 0755);
    snprintf(file, sizeof file, "%s/model.onnx", dir);
    snprintf(data_path, sizeof data_path, "%s/model.onnx.data", dir);
    CHECK_RC(olive_model_save(m, file, "external_data=always"), OLIVE_OK);
    CHECK_RC(olive_model_load(&loaded, file), OLIVE_OK);
    olive_model_free(m);
    return loaded;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The guard itself: a read past the new end of a truncated mapping, on this thread and on
 * worker threads, becomes OLIVE_EIO naming the file; the previous SIGBUS handling comes back. */
typedef struct sum_ctx {
    const volatile uint8_t *bytes;
    size_t stride;
    unsigned sum;
} sum_ctx;

static void sum_range(void *ctx, size_t begin, size_t end)
{
    sum_ctx *s = ctx;
    for (size_t i = begin; i < end; i++)
        s->sum += s->bytes[i * s->stride];
}

static int read_all(sum_ctx *s, size_t n)
{
    olive_parallel_for(n, 1, sum_range, s);
    return OLIVE_OK;
}

static int read_one(const volatile uint8_t *p)
{
    return p[0] == 0xff ? OLIVE_EINTERNAL : OLIVE_OK;
}

static void test_guard(const char *base)
{
    char path[600];
    olive_blob *b = NULL;
    struct sigaction before, after;
    sum_ctx s;
    int fd, rc;
    uint8_t page[4096];
    snprintf(path, sizeof path, "%s/mapped.bin", base);
    memset(page, 1, sizeof page);
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    for (int i = 0; i < 64; i++)
        CHECK(write(fd, page, sizeof page) == (ssize_t)sizeof page);
    close(fd);
    CHECK_RC(olive_blob_map_file(&b, path), OLIVE_OK);
    CHECK_RC(olive_blob_check_size(b), OLIVE_OK);
    sigaction(SIGBUS, NULL, &before);
    OLIVE_MAP_GUARDED(rc, read_one(b->data + 40 * 4096));
    CHECK_RC(rc, OLIVE_OK);
    CHECK(truncate(path, 4096) == 0);
    CHECK_RC(olive_blob_check_size(b), OLIVE_EIO);
    CHECK_ERROR_HAS("mapped.bin");
    CHECK_ERROR_HAS("shrank from 262144 to 4096 bytes");
    OLIVE_MAP_GUARDED(rc, read_one(b->data + 40 * 4096));
    CHECK_RC(rc, OLIVE_EIO);
    CHECK_ERROR_HAS("mapped.bin");
    CHECK_ERROR_HAS("shrank while it was being read");
    s = (sum_ctx){.bytes = b->data, .stride = 4096, .sum = 0};
    OLIVE_MAP_GUARDED(rc, read_all(&s, 64));
    CHECK_RC(rc, OLIVE_EIO);
    CHECK_ERROR_HAS("mapped.bin");
    sigaction(SIGBUS, NULL, &after);
    CHECK(before.sa_handler == after.sa_handler);
    olive_blob_unref(b);
}

static int truncate_on(int event, const char *pass, size_t index, size_t count, double fraction, uint64_t bytes,
                       void *user)
{
    int *when = user;
    (void)pass, (void)index, (void)count, (void)bytes;
    if (event == *when && fraction < 1.0 && fraction > 0.0) {
        CHECK(truncate(data_path, 0) == 0);
        *when = -1;
    }
    return 0;
}

static void test_truncated(const char *base)
{
    char out_dir[600], file[700];
    olive_engine *e = NULL;
    olive_model *m;
    int when;

    /* truncated between load and pass: refused before the pass reads anything */
    m = saved_and_loaded(base, "before_pass");
    CHECK(truncate(data_path, 1000) == 0);
    CHECK_RC(olive_engine_new(&e, NULL), OLIVE_OK);
    CHECK_RC(olive_engine_add_pipeline(e, "quantize block_size=32"), OLIVE_OK);
    snprintf(out_dir, sizeof out_dir, "%s/out1", base);
    CHECK_RC(olive_engine_run(e, m, out_dir, NULL), OLIVE_EIO);
    CHECK_ERROR_HAS("model.onnx.data");
    CHECK_ERROR_HAS("shrank");
    CHECK(!exists(out_dir));
    olive_model_free(m);

    /* truncated while the pass reads the weights: its progress callback truncates the file
     * after the first weight, and reading the second ends in an error, not a bus error */
    m = saved_and_loaded(base, "during_pass");
    when = OLIVE_PROGRESS_PASS_PROGRESS;
    olive_engine_set_progress(e, truncate_on, &when);
    snprintf(out_dir, sizeof out_dir, "%s/out2", base);
    CHECK_RC(olive_engine_run(e, m, out_dir, NULL), OLIVE_EIO);
    CHECK(when == -1);
    CHECK_ERROR_HAS("model.onnx.data");
    /* the size check before each read or the bus-error guard, whichever sees it first */
    CHECK_ERROR_HAS("shrank");
    CHECK(!exists(out_dir));
    olive_model_free(m);
    olive_engine_free(e);

    /* truncated between load and save */
    m = saved_and_loaded(base, "before_save");
    CHECK(truncate(data_path, 0) == 0);
    snprintf(out_dir, sizeof out_dir, "%s/out3", base);
    mkdir(out_dir, 0755);
    snprintf(file, sizeof file, "%s/model.onnx", out_dir);
    CHECK_RC(olive_model_save(m, file, "external_data=never"), OLIVE_EIO);
    CHECK_ERROR_HAS("model.onnx.data");
    CHECK(olive_dir_is_empty(out_dir) == 1);
    CHECK_RC(olive_model_save(m, file, NULL), OLIVE_EIO);
    CHECK(olive_dir_is_empty(out_dir) == 1);
    olive_model_free(m);
}

int main(void)
{
    char base[] = "/tmp/olive-truncated-XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    test_guard(base);
    test_truncated(base);
    olive_rmtree(base);
    return check_summary("test_truncated_source");
}
