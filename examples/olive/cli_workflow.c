/* Workflow runs for the auto-opt, optimize, quantize and run commands. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_progress.h"
#include "cli_workflow.h"

typedef struct watch {
    cli_progress progress;
    int show;
} watch;

/* Always attached, so Ctrl-C cancels even when nothing is drawn. */
static int on_progress(int event, const char *pass_name, size_t pass_index, size_t pass_count, double fraction,
                       uint64_t bytes_written, void *user)
{
    watch *w = user;
    if (w->show)
        return cli_progress_report(event, pass_name, pass_index, pass_count, fraction, bytes_written, &w->progress);
    return cli_interrupted();
}

/* Olive's metric results as a table: one row per "<metric>-<sub_type>", with the input
 * model's value beside the output's when both were measured. */
static void print_metrics(const json_t *metrics, const json_t *input)
{
    const char *key;
    json_t *v;
    int w = 24;
    json_object_foreach((json_t *)metrics, key, v) w = (int)strlen(key) > w ? (int)strlen(key) : w;
    if (input)
        printf("%-*s %16s %16s\n", w, "metric", "input model", "output model");
    else
        printf("%-*s %16s\n", w, "metric", "value");
    json_object_foreach((json_t *)metrics, key, v)
    {
        const json_t *val = cli_json_get(v, "value"),
                     *in = input ? cli_json_get(cli_json_get(input, key), "value") : NULL;
        char a[32] = "not measured", b[32] = "not measured";
        /* A metric the target's provider could not measure has no value: none is printed. */
        if (json_is_number(in))
            snprintf(a, sizeof a, "%.6g", json_number_value(in));
        if (json_is_number(val))
            snprintf(b, sizeof b, "%.6g", json_number_value(val));
        if (input)
            printf("%-*s %16s %16s\n", w, key, a, b);
        else
            printf("%-*s %16s\n", w, key, b);
    }
}

static void print_report(const json_t *result)
{
    const json_t *steps = cli_json_get(result, "steps"), *step;
    size_t i;
    char bytes[32];
    if (cli_log_level() >= OLIVE_LOG_SILENT)
        return;
    printf("%-28s %-30s %-10s %10s\n", "pass", "type", "cache", "seconds");
    json_array_foreach(steps, i, step)
    {
        const json_t *secs = cli_json_get(step, "seconds");
        printf("%-28s %-30s %-10s %10.3f\n", cli_json_str(step, "slot", "?"), cli_json_str(step, "olive_type", "?"),
               cli_json_str(step, "cache", "?"), json_is_number(secs) ? json_number_value(secs) : 0.0);
    }
    const json_t *cands = cli_json_get(result, "candidates");
    int64_t best = cli_json_int(result, "best", 0);
    const json_t *chosen = json_array_get(cands, (size_t)best);
    const json_t *size = cli_json_get(chosen, "size_on_disk");
    /* Numbered from 0, as the summary's "best" index (and Python's, Rust's) is. */
    if (json_array_size(cands) > 1)
        printf("best of %zu candidates (numbered from 0): %lld: %s\n", json_array_size(cands), (long long)best,
               cli_json_str(chosen, "name", "?"));
    if (json_is_integer(size))
        printf("size on disk: %s\n", cli_format_bytes(bytes, sizeof bytes, (uint64_t)json_integer_value(size)));
    const json_t *metrics = cli_json_get(result, "metrics");
    if (json_is_object(metrics) && json_object_size(metrics))
        print_metrics(metrics, cli_json_get(result, "input_model_metrics"));
    const json_t *total = cli_json_get(result, "seconds");
    printf("total: %.3f s\n", json_is_number(total) ? json_number_value(total) : 0.0);
    const char *out = cli_json_str(result, "output_dir", NULL);
    if (out)
        printf("Saved to %s\n", out);
}

int cli_run_workflow(olive_workflow *workflow)
{
    watch w;
    char *pipeline = NULL, *result = NULL;
    int rc;
    memset(&w, 0, sizeof w);
    if (cli_log_level() <= OLIVE_LOG_INFO && olive_workflow_pipeline_text(&pipeline, workflow) == OLIVE_OK) {
        fprintf(stderr, "olive: pipeline: %s\n", pipeline[0] ? pipeline : "(no passes)");
        olive_free(pipeline);
    }
    w.show = cli_progress_init(&w.progress);
    olive_workflow_set_progress(workflow, on_progress, &w);
    cli_interrupt_watch_workflow(workflow);
    rc = olive_workflow_run(workflow, &result);
    cli_interrupt_unwatch();
    cli_progress_end(&w.progress);
    if (rc != OLIVE_OK)
        return cli_fail(cli_interrupted() ? OLIVE_ECANCELLED : rc);
    json_t *doc = cli_json_take(result, "run summary");
    if (!doc)
        return CLI_EXIT_FAILURE;
    print_report(doc);
    json_decref(doc);
    return CLI_EXIT_OK;
}

int cli_write_text_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fputc('\n', f) == EOF) {
        fprintf(stderr, "olive: error: cannot write '%s'\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "olive: error: cannot write '%s'\n", path);
        return -1;
    }
    return 0;
}
