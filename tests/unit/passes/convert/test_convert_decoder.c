/* The spill file behind the converters, and the convert pass's progress and cancellation on a
 * tiny checkpoint (tests/data/convert/llama). Outputs are checked end to end against
 * transformers by tests/integration/test_convert_decoder.py. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "pass_test_util.h"

#include "core/alloc.h"
#include "core/blob.h"
#include "core/spill.h"
#include "core/status.h"
#include "ir/ir.h"
#include "passes/registry.h"

/* Entries of `dir` whose names start with `prefix`. */
static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += !strncmp(e->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

static void test_spill(const char *dir)
{
    olive_spill *s = NULL;
    olive_blob *b = NULL;
    uint64_t a = 1, c = 1, e = 1;
    const char first[] = "first tensor", second[] = "second";
    CHECK_RC(olive_spill_open(&s, dir), OLIVE_OK);
    /* The file has no name from the start: nothing to clean up whatever happens. */
    CHECK(count_entries(dir, ".olive-spill-") == 0);
    CHECK_RC(olive_spill_reserve(s, sizeof first, &a), OLIVE_OK);
    CHECK_RC(olive_spill_reserve(s, 0, &e), OLIVE_OK);
    CHECK_RC(olive_spill_reserve(s, sizeof second + 100, &c), OLIVE_OK);
    CHECK(a == 0 && e == 4096 && c == 4096);
    CHECK(olive_spill_size(s) == 4096 + sizeof second + 100);
    CHECK_RC(olive_spill_write(s, c, second, sizeof second), OLIVE_OK);
    CHECK_RC(olive_spill_write(s, a, first, sizeof first), OLIVE_OK);
    /* Outside what was reserved: refused, nothing written. */
    CHECK_RC(olive_spill_write(s, c + 100, second, sizeof second + 1), OLIVE_EINVALID);
    CHECK_RC(olive_spill_map(s, &b), OLIVE_OK);
    olive_spill_close(s);
    if (!b)
        return;
    CHECK(b->size == 4096 + sizeof second + 100 && b->fd >= 0);
    CHECK(!memcmp(b->data + a, first, sizeof first) && !memcmp(b->data + c, second, sizeof second));
    /* Padding between regions and the unwritten tail read as zeros. */
    CHECK(b->data[sizeof first] == 0 && b->data[4095] == 0 && b->data[b->size - 1] == 0);
    olive_blob_drop_pages(b, 0, b->size);
    CHECK(!memcmp(b->data + a, first, sizeof first));
    olive_blob_unref(b);

    CHECK_RC(olive_spill_open(&s, "/nonexistent/folder/for/spill"), OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("/nonexistent/folder/for/spill");
}

typedef struct progress_log {
    int calls, stop_after;
    double last;
    int decreased;
} progress_log;

static int record(olive_pass_ctx *ctx, double f)
{
    progress_log *p = ctx->user;
    p->calls++;
    if (f < p->last)
        p->decreased = 1;
    p->last = f;
    if (p->stop_after && p->calls >= p->stop_after)
        return olive_fail(OLIVE_ECANCELLED, "stopped by the test");
    return OLIVE_OK;
}

static oir_model *checkpoint_model(const char *path)
{
    oir_model *m = oir_model_new();
    CHECK(m && (m->checkpoint_path = olive_strdup(path)));
    return m;
}

static void test_progress_and_cancel(const char *llama)
{
    const olive_pass_def *def = olive_registry_find("convert");
    progress_log log = {0};
    olive_pass_ctx ctx = {NULL, record, &log};
    oir_model *m;
    CHECK(def != NULL);
    if (!def)
        return;
    CHECK(olive_registry_find("ModelBuilder") == def);

    m = checkpoint_model(llama);
    CHECK_RC(pass_run_with(def, m, NULL, &ctx), OLIVE_OK);
    /* One report per weight (2 layers x 9 tensors + 3) and a final 1.0, never going back. */
    CHECK(log.calls >= 21 && !log.decreased && log.last == 1.0);
    CHECK(m->checkpoint_path == NULL && m->graph && m->graph->n_nodes > 0);
    CHECK(oir_model_companion(m, "genai_config.json") != NULL);
    CHECK(oir_model_companion(m, "tokenizer.json") != NULL);
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    oir_model_free(m);

    /* A progress callback that asks to stop: the pass stops with ECANCELLED. */
    memset(&log, 0, sizeof log);
    log.stop_after = 5;
    m = checkpoint_model(llama);
    CHECK_RC(pass_run_with(def, m, NULL, &ctx), OLIVE_ECANCELLED);
    CHECK(log.calls == 5 && m->checkpoint_path != NULL);
    oir_model_free(m);

    /* An ONNX model (no checkpoint) is refused. */
    m = oir_model_new();
    CHECK_RC(pass_run_with(def, m, NULL, NULL), OLIVE_EINVALID);
    CHECK_ERROR_HAS("checkpoint");
    oir_model_free(m);

    /* Parameters reach the builder: truncated layers, int4 with zero points. */
    m = checkpoint_model(llama);
    CHECK_RC(
        pass_run_with(def, m,
                      (const setting[]){
                          {"num_hidden_layers", "1"}, {"precision", "int4"}, {"is_symmetric", "false"}, {NULL, NULL}},
                      NULL),
        OLIVE_OK);
    CHECK(ir_count_ops(m->graph, "GroupQueryAttention") == 1 && ir_count_ops(m->graph, "MatMulNBits") == 5 + 1);
    CHECK(ir_count_ops(m->graph, "MatMul") == 0);
    CHECK(oir_graph_initializer(m->graph, "lm_head.MatMul.weight_zero_points") != NULL);
    oir_model_free(m);
}

int main(int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    char *llama, *dir;
    if (argc < 2) {
        fprintf(stderr, "usage: %s <tests/data/convert>\n", argv[0]);
        return 2;
    }
    /* A private folder, so that the check that the spill file has no name sees only ours. */
    dir = olive_asprintf("%s/olive-spill-test-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    CHECK(dir && mkdtemp(dir));
    if (dir) {
        test_spill(dir);
        CHECK(rmdir(dir) == 0);
        free(dir);
    }
    llama = olive_asprintf("%s/llama", argv[1]);
    test_progress_and_cancel(llama);
    free(llama);
    return check_summary("test_convert_decoder");
}
