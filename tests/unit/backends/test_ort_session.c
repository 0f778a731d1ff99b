/* ONNX Runtime sessions through the public API, on a small BERT encoder (argv[1]): the session
 * made from an olive_model and the one made from the path give the same bytes; inputs and
 * outputs are described with their symbolic dims; inputs that do not fit are refused before
 * ONNX Runtime is called, naming the input; a model ONNX Runtime refuses passes its message
 * through; a provider the library lacks names those it has; runs may overlap on two threads;
 * a run in progress can be cancelled from another thread. Exits 77 (skipped) when ONNX
 * Runtime cannot be found. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "olive/olive.h"
#include "check.h"

#define B 2
#define S 8

static const char *names[] = {"input_ids", "attention_mask", "token_type_ids"};

/* Three int64 [b, s] inputs: token ids, a mask with the last position of row 1 off, zeros. */
static void make_inputs(olive_tensor **t, int64_t b, int64_t s)
{
    int64_t shape[] = {b, s};
    for (int k = 0; k < 3; k++) {
        CHECK(olive_tensor_new(&t[k], OLIVE_DTYPE_INT64, shape, 2) == OLIVE_OK);
        int64_t *d = olive_tensor_data(t[k]);
        for (int64_t i = 0; i < b * s; i++)
            d[i] = k == 0 ? (i * 7 + 3) % 30 : k == 1 ? !(i == b * s - 1) : 0;
    }
}

static void free_all(olive_tensor **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        olive_tensor_free(t[i]);
}

static void test_describe(olive_session *s)
{
    char *json = NULL;
    CHECK(strcmp(olive_session_provider(s), "CPUExecutionProvider") == 0);
    CHECK(olive_session_input_count(s) == 3 && olive_session_output_count(s) == 1);
    CHECK(strcmp(olive_session_input_name(s, 0), "input_ids") == 0);
    CHECK(olive_session_input_dtype(s, 1) == OLIVE_DTYPE_INT64);
    CHECK(olive_session_input_rank(s, 0) == 2);
    CHECK(olive_session_input_dim(s, 0, 0) == -1 && strcmp(olive_session_input_dim_name(s, 0, 0), "batch") == 0);
    CHECK(strcmp(olive_session_input_dim_name(s, 0, 1), "seq") == 0);
    CHECK(strcmp(olive_session_output_name(s, 0), "last_hidden_state") == 0);
    CHECK(olive_session_output_dtype(s, 0) == OLIVE_DTYPE_FLOAT32 && olive_session_output_rank(s, 0) == 3);
    CHECK(olive_session_output_dim(s, 0, 2) == 16 && strcmp(olive_session_output_dim_name(s, 0, 2), "") == 0);
    CHECK(olive_session_input_name(s, 3) == NULL && olive_session_input_dim(s, 0, 2) == -1);
    CHECK(olive_session_input_dim_name(s, 0, 5) == NULL && olive_session_output_dtype(s, 9) == OLIVE_DTYPE_UNDEFINED);
    CHECK(olive_session_describe_json(&json, s) == OLIVE_OK);
    CHECK_CONTAINS(json, "\"batch\"");
    CHECK_CONTAINS(json, "\"float32\"");
    olive_free(json);
}

static void test_refusals(olive_session *s, olive_tensor **in)
{
    olive_tensor *out[1] = {NULL}, *bad = NULL, *args[3];
    const char *wrong_names[] = {"input_ids", "attention_mask", "token_ids"};
    const char *twice[] = {"input_ids", "input_ids"};
    const char *out_names[] = {"pooled"};
    int64_t shape3[] = {B, S, 1};

    CHECK(olive_session_run(out, s, wrong_names, (const olive_tensor *const *)in, 3, NULL, 1) == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "no input 'token_ids'");
    CHECK_CONTAINS(olive_error_last(), "input_ids, attention_mask, token_type_ids");
    CHECK(olive_session_run(out, s, twice, (const olive_tensor *const *)in, 2, NULL, 1) == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "given twice");

    CHECK(olive_tensor_new(&bad, OLIVE_DTYPE_INT32, shape3, 2) == OLIVE_OK);
    memcpy(args, in, sizeof args);
    args[1] = bad;
    CHECK(olive_session_run(out, s, names, (const olive_tensor *const *)args, 3, NULL, 1) == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "input 'attention_mask' is int32, but the model takes int64");
    olive_tensor_free(bad);
    CHECK(olive_tensor_new(&bad, OLIVE_DTYPE_INT64, shape3, 3) == OLIVE_OK);
    args[1] = bad;
    CHECK(olive_session_run(out, s, names, (const olive_tensor *const *)args, 3, NULL, 1) == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "input 'attention_mask' has rank 3, but the model takes rank 2");
    olive_tensor_free(bad);

    CHECK(olive_session_run(out, s, names, (const olive_tensor *const *)in, 3, out_names, 1) == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "no output 'pooled' (its outputs: last_hidden_state)");
    CHECK(olive_session_run(out, s, names, (const olive_tensor *const *)in, 3, NULL, 2) == OLIVE_EINVALID);
    CHECK(out[0] == NULL); /* untouched by every failure */

    /* A required input left out: ONNX Runtime's own message comes through, after libolive's. */
    CHECK(olive_session_run(out, s, names, (const olive_tensor *const *)in, 2, NULL, 1) != OLIVE_OK);
    CHECK_CONTAINS(olive_error_last(), "onnxruntime: running the model: ");
    CHECK_CONTAINS(olive_error_last(), "token_type_ids");
    CHECK(out[0] == NULL);
}

typedef struct runner {
    olive_session *s;
    olive_tensor **in;
    olive_tensor *out;
    atomic_int started, finished;
    int rc;
    char message[512]; /* the run's error: messages are per thread */
} runner;

static void *run_once(void *arg)
{
    runner *r = arg;
    atomic_store(&r->started, 1);
    r->rc = olive_session_run(&r->out, r->s, names, (const olive_tensor *const *)r->in, 3, NULL, 1);
    snprintf(r->message, sizeof r->message, "%s", r->rc ? olive_error_last() : "");
    atomic_store(&r->finished, 1);
    return NULL;
}

/* Two threads run at once and get the single-thread result. */
static void test_concurrent(olive_session *s, olive_tensor **in, const olive_tensor *want)
{
    runner r[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].s = s;
        r[i].in = in;
        CHECK(pthread_create(&th[i], NULL, run_once, &r[i]) == 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK(r[i].rc == OLIVE_OK);
        if (r[i].rc == OLIVE_OK)
            CHECK(memcmp(olive_tensor_data(r[i].out), olive_tensor_data(want), olive_tensor_byte_size(want)) == 0);
        olive_tensor_free(r[i].out);
    }
}

/* A long run (large batch) cancelled from this thread while it is in progress. Runs are
 * repeated until one is caught in flight; a cancel between runs affects none. */
static void test_cancel(olive_session *s)
{
    olive_tensor *in[3];
    int cancelled = 0;
    make_inputs(in, 512, 32); /* the encoder has 32 positions */
    for (int attempt = 0; attempt < 50 && !cancelled; attempt++) {
        runner r;
        pthread_t th;
        memset(&r, 0, sizeof r);
        r.s = s;
        r.in = in;
        CHECK(pthread_create(&th, NULL, run_once, &r) == 0);
        while (!atomic_load(&r.started))
            ;
        while (!atomic_load(&r.finished))
            olive_session_cancel(s);
        pthread_join(th, NULL);
        if (r.rc == OLIVE_ECANCELLED) {
            cancelled = 1;
            CHECK_CONTAINS(r.message, "cancelled");
        } else {
            CHECK_MSG(r.rc == OLIVE_OK, "rc %d: %s", r.rc, r.message);
            olive_tensor_free(r.out);
        }
    }
    CHECK(cancelled);
    free_all(in, 3);
}

int main(int argc, char **argv)
{
    olive_model *model = NULL;
    olive_session *from_path = NULL, *from_model = NULL, *bad = NULL;
    olive_accelerator *gpu = NULL;
    olive_tensor *in[3], *a[1] = {NULL}, *b[1] = {NULL};
    int rc;
    if (argc != 2) {
        fprintf(stderr, "usage: %s bert.onnx\n", argv[0]);
        return 2;
    }
    rc = olive_session_new_from_path(&from_path, argv[1], NULL, "intra_op_num_threads=1 graph_optimization_level=all");
    if (rc == OLIVE_ENOTFOUND && strstr(olive_error_last(), "ONNX Runtime was not found")) {
        printf("skipped: %s\n", olive_error_last());
        return 77;
    }
    CHECK_MSG(rc == OLIVE_OK, "%s", olive_error_last());
    if (rc != OLIVE_OK)
        return check_summary("test_ort_session");
    CHECK(olive_model_load(&model, argv[1]) == OLIVE_OK);
    CHECK(olive_session_new(&from_model, model, NULL,
                            "execution_mode=sequential config.session.use_env_allocators=0") == OLIVE_OK);
    olive_model_free(model); /* the session does not need it any more */
    test_describe(from_path);

    make_inputs(in, B, S);
    CHECK(olive_session_run(a, from_path, names, (const olive_tensor *const *)in, 3, NULL, 1) == OLIVE_OK);
    {
        const char *want[] = {"last_hidden_state"};
        CHECK(olive_session_run(b, from_model, names, (const olive_tensor *const *)in, 3, want, 1) == OLIVE_OK);
    }
    if (a[0] && b[0]) {
        CHECK(olive_tensor_dtype(a[0]) == OLIVE_DTYPE_FLOAT32 && olive_tensor_rank(a[0]) == 3);
        CHECK(olive_tensor_dim(a[0], 0) == B && olive_tensor_dim(a[0], 1) == S && olive_tensor_dim(a[0], 2) == 16);
        CHECK(olive_tensor_byte_size(a[0]) == olive_tensor_byte_size(b[0]));
        CHECK(memcmp(olive_tensor_data(a[0]), olive_tensor_data(b[0]), olive_tensor_byte_size(a[0])) == 0);
        test_concurrent(from_path, in, a[0]);
    }
    test_refusals(from_path, in);
    test_cancel(from_model);
    olive_tensor_free(a[0]);
    olive_tensor_free(b[0]);
    free_all(in, 3);

    /* Options and providers that do not fit. */
    CHECK(olive_session_new_from_path(&bad, argv[1], NULL, "graph_optimization_level=most") == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "disable|basic|extended|all");
    CHECK(olive_session_new_from_path(&bad, argv[1], NULL, "intra_op_num_threads=-2") == OLIVE_EINVALID);
    CHECK(olive_session_new_from_path(&bad, argv[1], NULL, "threads=2") == OLIVE_ENOTFOUND);
    CHECK_CONTAINS(olive_error_last(), "unknown session option 'threads'");
    CHECK(olive_session_new_from_path(&bad, argv[1], NULL, "provider.device_id=0") == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "CPUExecutionProvider takes no provider options");
    CHECK(olive_session_new_from_path(&bad, "/nonexistent/model.onnx", NULL, NULL) == OLIVE_ENOTFOUND);
    CHECK_CONTAINS(olive_error_last(), "/nonexistent/model.onnx");
    CHECK(olive_accelerator_new(&gpu, "gpu", "CUDAExecutionProvider") == OLIVE_OK);
    rc = olive_session_new_from_path(&bad, argv[1], gpu, NULL);
    if (rc != OLIVE_OK) { /* a CPU-only ONNX Runtime: the error names what it has */
        CHECK(rc == OLIVE_EUNSUPPORTED);
        CHECK_CONTAINS(olive_error_last(), "CUDAExecutionProvider is not available");
        CHECK_CONTAINS(olive_error_last(), "it has: ");
        CHECK_CONTAINS(olive_error_last(), "CPUExecutionProvider");
    }
    olive_session_free(bad);
    olive_accelerator_free(gpu);
    /* A file ONNX Runtime refuses: its message follows what libolive was doing. */
    {
        FILE *f = fopen("not-a-model.onnx", "wb");
        if (f) {
            fputs("this is not protobuf", f);
            fclose(f);
        }
        bad = NULL;
        CHECK(olive_session_new_from_path(&bad, "not-a-model.onnx", NULL, NULL) != OLIVE_OK);
        CHECK_CONTAINS(olive_error_last(), "onnxruntime: loading the model 'not-a-model.onnx': ");
        CHECK(bad == NULL);
        remove("not-a-model.onnx");
    }
    olive_session_free(from_path);
    olive_session_free(from_model);
    olive_session_free(NULL);
    return check_summary("test_ort_session");
}
