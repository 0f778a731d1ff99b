/* The engine and pass API: pipeline text, parameters, progress, cancellation, output folder. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/handles.h"
#include "check.h"
#include "core/fsutil.h"
#include "ir/ir.h"
#include "olive/olive.h"

/* Y = Relu(Identity(X)) with a 2 KiB weight so the save writes external data. */
static olive_model *make_model(void)
{
    oir_model *m = oir_model_new();
    int64_t dims[1] = {512};
    float w[512];
    oir_type *t = oir_type_new_tensor(OIR_FLOAT, 1, dims, NULL);
    oir_tensor *wt = oir_tensor_new("W", OIR_FLOAT, 1, dims);
    const char *a_in[2] = {"X", "W"}, *a_out[1] = {"a"}, *i_in[1] = {"a"}, *i_out[1] = {"b"}, *r_in[1] = {"b"},
               *r_out[1] = {"Y"};
    olive_model *out = NULL;
    for (int i = 0; i < 512; i++)
        w[i] = (float)i;
    oir_tensor_set_copy(wt, w, sizeof w);
    oir_graph_add_initializer(m->graph, wt);
    oir_graph_add_input(m->graph, "X", t);
    oir_graph_add_output(m->graph, "Y", t);
    oir_graph_add_node(m->graph, oir_node_new("Add", "", "add", 2, a_in, 1, a_out));
    oir_graph_add_node(m->graph, oir_node_new("Identity", "", "id", 1, i_in, 1, i_out));
    oir_graph_add_node(m->graph, oir_node_new("Relu", "", "relu", 1, r_in, 1, r_out));
    oir_model_require_opset(m, "", 17);
    oir_type_free(t);
    olive_model_wrap(&out, m);
    return out;
}

static void test_pass_params(void)
{
    olive_pass *p = NULL;
    const char *v;
    char *json = NULL;
    CHECK_RC(olive_pass_new(&p, "no-such-pass"), OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("no-such-pass");
    CHECK_ERROR_HAS("peephole"); /* the message lists the known passes */
    CHECK(p == NULL);
    CHECK_RC(olive_pass_new(&p, "OnnxPeepholeOptimizer"), OLIVE_OK); /* Olive alias */
    CHECK_STR(olive_pass_name(p), "peephole");
    CHECK_RC(olive_pass_set(p, "bogus", "1"), OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("'bogus'");
    CHECK_ERROR_HAS("valid parameters");
    /* every bool parameter rejects a non-boolean and keeps its value */
    for (size_t i = 0; i < p->def->n_params; i++) {
        const olive_param_spec *s = &p->def->params[i];
        if (s->type != OLIVE_PARAM_BOOL)
            continue;
        CHECK_RC(olive_pass_set(p, s->name, "maybe"), OLIVE_EINVALID);
        CHECK_ERROR_HAS(s->name);
        CHECK_RC(olive_pass_get(p, s->name, &v), OLIVE_OK);
        CHECK_STR(v, s->default_value);
        CHECK_RC(olive_pass_set_bool(p, s->name, 0), OLIVE_OK);
        CHECK_RC(olive_pass_get(p, s->name, &v), OLIVE_OK);
        CHECK_STR(v, "false");
        /* all or nothing: a bad second setting leaves the first unapplied */
        char settings[256];
        snprintf(settings, sizeof settings, "%s=true bogus=1", s->name);
        CHECK_RC(olive_pass_set_many(p, settings), OLIVE_ENOTFOUND);
        CHECK_RC(olive_pass_get(p, s->name, &v), OLIVE_OK);
        CHECK_STR(v, "false");
        break;
    }
    CHECK_RC(olive_pass_describe_json(&json, "peephole"), OLIVE_OK);
    CHECK(json && strstr(json, "\"parameters\"") && strstr(json, "OnnxPeepholeOptimizer"));
    olive_free(json);
    olive_pass_free(p);
    olive_pass_free(NULL);
}

static void test_pipeline_text(void)
{
    olive_engine *e = NULL;
    char *text = NULL;
    CHECK_RC(olive_engine_new(&e, NULL), OLIVE_OK);
    CHECK_RC(olive_engine_add_pipeline(e, "peephole ! "), OLIVE_EINVALID);
    CHECK_RC(olive_engine_add_pipeline(e, "! peephole"), OLIVE_EINVALID);
    CHECK_RC(olive_engine_add_pipeline(e, ""), OLIVE_EINVALID);
    CHECK_RC(olive_engine_add_pipeline(e, "peephole ! nosuch"), OLIVE_ENOTFOUND);
    CHECK_ERROR_HAS("nosuch");
    CHECK_RC(olive_engine_add_pipeline(e, "peephole bogus=1"), OLIVE_ENOTFOUND);
    CHECK(olive_engine_pass_count(e) == 0); /* failures added nothing */
    CHECK_RC(olive_engine_add_pipeline(e, "peephole ! OnnxPeepholeOptimizer"), OLIVE_OK);
    CHECK(olive_engine_pass_count(e) == 2);
    CHECK_RC(olive_engine_pipeline_text(&text, e), OLIVE_OK);
    CHECK_STR(text, "peephole ! peephole");
    olive_free(text);
    CHECK_RC(olive_engine_set_options(e, "overwrite=maybe"), OLIVE_EINVALID);
    CHECK_RC(olive_engine_set_options(e, "colour=blue"), OLIVE_ENOTFOUND);
    CHECK_RC(olive_engine_set_options(e, "save=external_data=sometimes"), OLIVE_EINVALID);
    CHECK_RC(olive_engine_set_options(e, "model_name=../x.onnx"), OLIVE_EINVALID);
    CHECK_RC(olive_engine_set_options(e, "save=size_threshold=4096 model_name=m.onnx"), OLIVE_OK);
    olive_engine_free(e);
}

typedef struct {
    int events[64];
    int n;
    int cancel_at_event;
    double last_fraction;
    int fraction_went_back;
} progress_log;

static int on_progress(int event, const char *pass, size_t index, size_t count, double fraction, uint64_t bytes,
                       void *user)
{
    progress_log *log = user;
    (void)pass, (void)index, (void)count, (void)bytes;
    if (log->n < 64)
        log->events[log->n++] = event;
    if (fraction + 1e-12 < log->last_fraction)
        log->fraction_went_back = 1;
    log->last_fraction = fraction;
    return log->cancel_at_event >= 0 && event == log->cancel_at_event;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void test_run(void)
{
    char base[] = "/tmp/olive-engine-XXXXXX";
    char out_dir[512], file[600];
    olive_model *m = make_model(), *result = NULL;
    olive_engine *e = NULL;
    progress_log log = {.cancel_at_event = -1};
    struct stat st;
    CHECK(mkdtemp(base) != NULL);
    snprintf(out_dir, sizeof out_dir, "%s/out", base);
    CHECK_RC(olive_engine_new(&e, NULL), OLIVE_OK);
    CHECK_RC(olive_engine_add_pipeline(e, "peephole"), OLIVE_OK);
    olive_engine_set_progress(e, on_progress, &log);
    CHECK_RC(olive_engine_run(e, m, out_dir, &result), OLIVE_OK);
    CHECK(result && olive_model_node_count(result) < olive_model_node_count(m)); /* Identity removed */
    CHECK(olive_model_node_count(m) == 3);                                       /* input unchanged */
    snprintf(file, sizeof file, "%s/model.onnx", out_dir);
    CHECK(stat(file, &st) == 0);
    snprintf(file, sizeof file, "%s/model.onnx.data", out_dir);
    CHECK(stat(file, &st) == 0 && st.st_size >= 2048);
    CHECK(log.n >= 4 && log.events[0] == OLIVE_PROGRESS_PASS_STARTED && log.events[log.n - 1] == OLIVE_PROGRESS_DONE);
    CHECK(!log.fraction_went_back && log.last_fraction == 1.0);
    olive_model_free(result);

    /* a second run into the same, now non-empty, folder needs overwrite */
    CHECK_RC(olive_engine_run(e, m, out_dir, NULL), OLIVE_EEXISTS);
    CHECK_ERROR_HAS("overwrite");
    CHECK_RC(olive_engine_set_options(e, "overwrite=true"), OLIVE_OK);
    CHECK_RC(olive_engine_run(e, m, out_dir, NULL), OLIVE_OK);
    CHECK(count_entries(out_dir) == 3); /* model.onnx, model.onnx.data and the manifest */
    CHECK(count_entries(base) == 1);    /* no staging or old folders left beside it */

    /* cancelling from the callback: an error, and nothing written */
    snprintf(out_dir, sizeof out_dir, "%s/cancelled", base);
    log = (progress_log){.cancel_at_event = OLIVE_PROGRESS_SAVING};
    CHECK_RC(olive_engine_run(e, m, out_dir, NULL), OLIVE_ECANCELLED);
    CHECK(stat(out_dir, &st) != 0);
    CHECK(count_entries(base) == 1);
    log = (progress_log){.cancel_at_event = OLIVE_PROGRESS_PASS_STARTED};
    CHECK_RC(olive_engine_run(e, m, out_dir, NULL), OLIVE_ECANCELLED);
    CHECK(stat(out_dir, &st) != 0);

    olive_engine_set_progress(e, NULL, NULL);
    /* a trailing slash names the same folder */
    snprintf(out_dir, sizeof out_dir, "%s/slash/", base);
    CHECK_RC(olive_engine_run(e, m, out_dir, NULL), OLIVE_OK);
    snprintf(file, sizeof file, "%s/slash/model.onnx", base);
    CHECK(stat(file, &st) == 0);
    CHECK(count_entries(base) == 2);

    /* a run without an output folder only returns the model */
    CHECK_RC(olive_engine_run(e, m, NULL, &result), OLIVE_OK);
    olive_model_free(result);
    CHECK_RC(olive_engine_run(NULL, m, NULL, NULL), OLIVE_EINVALID);
    olive_engine_free(e);
    olive_engine_free(NULL);
    olive_model_free(m);
    olive_rmtree(base);
}

int main(void)
{
    test_pass_params();
    test_pipeline_text();
    test_run();
    return check_summary("test_engine");
}
