/* Running a pipeline: passes one after another on a private copy of the model, then an
 * atomic write of the output folder. */
#include <errno.h>
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
#include "engine/engine.h"
#include "onnx/onnx_io.h"

/* Progress and save events come as often as a pass or the writer reports them (a save reports
 * every tensor); the callback gets at most one per PROGRESS_INTERVAL of each phase, besides the
 * phase's first and last. */
#define PROGRESS_INTERVAL 0.1

typedef struct run_state {
    olive_engine *e;
    olive_pass_ctx ctx;
    size_t index; /* running pass, or n_passes while saving */
    const char *name;
    uint64_t bytes_written;
    double last_event; /* monotonic seconds of the last event passed to the callback */
} run_state;

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double overall(const run_state *s, double fraction)
{
    /* Each pass and the save count as one equal step. */
    size_t steps = s->e->n_passes + 1;
    return ((double)s->index + fraction) / (double)steps;
}

/* `edge`: the first or last event of its phase, always passed on. */
static int notify_edge(run_state *s, int event, double fraction, int edge)
{
    olive_engine *e = s->e;
    if (atomic_load(&e->cancelled))
        return olive_fail(OLIVE_ECANCELLED, "cancelled during '%s'", s->name);
    if (e->progress) {
        double t = monotonic_seconds();
        if (!edge && t - s->last_event < PROGRESS_INTERVAL)
            return OLIVE_OK;
        s->last_event = t;
    }
    if (e->progress &&
        e->progress(event, s->name, s->index, e->n_passes, overall(s, fraction), s->bytes_written, e->progress_user)) {
        atomic_store(&e->cancelled, 1);
        return olive_fail(OLIVE_ECANCELLED, "cancelled by the progress callback during '%s'", s->name);
    }
    return OLIVE_OK;
}

static int notify(run_state *s, int event, double fraction)
{
    return notify_edge(s, event, fraction, 1);
}

static int pass_progress(olive_pass_ctx *ctx, double fraction)
{
    return notify_edge(ctx->user, OLIVE_PROGRESS_PASS_PROGRESS, fraction, fraction >= 1.0);
}

static int save_progress(uint64_t written, uint64_t total, void *user)
{
    run_state *s = user;
    s->bytes_written = written;
    return notify_edge(s, OLIVE_PROGRESS_SAVING, total ? (double)written / (double)total : 1.0, written >= total) !=
           OLIVE_OK;
}

static int check_output_dir(const olive_engine *e, const oir_model *input, const char *dir)
{
    struct stat st;
    if (!dir[0] || !strcmp(olive_path_basename(dir), ""))
        return olive_fail(OLIVE_EINVALID, "output folder '%s' has no name", dir);
    if (lstat(dir, &st) == 0) {
        OLIVE_TRY(olive_engine_check_output_kind(dir, &st));
        if (olive_dir_is_empty(dir) == 0 && !e->overwrite)
            return olive_fail(OLIVE_EEXISTS,
                              "output folder '%s' exists and is not empty (set overwrite=true to "
                              "replace what libolive wrote there)",
                              dir);
    }
    return olive_engine_check_apart(input, NULL, dir, "output folder");
}

static int write_output(olive_engine *e, run_state *s, const oir_model *m, const char *dir)
{
    char *staging = NULL, *path = NULL;
    onnx_save_options o;
    int rc;
    onnx_save_options_init(&o);
    OLIVE_TRY(onnx_save_options_parse(&o, e->save_options));
    o.progress = save_progress;
    o.user = s;
    OLIVE_TRY(olive_engine_make_staging(&staging, dir));
    if (!(path = olive_path_join(staging, e->model_name))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    if ((rc = onnx_save_file(m, path, &o)) != OLIVE_OK)
        goto out;
    if ((rc = oir_model_write_companions(m, staging)) != OLIVE_OK)
        goto out;
    rc = olive_engine_publish(staging, dir, e->overwrite ? OLIVE_PUBLISH_REPLACE_FOREIGN : 0);
out:
    if (rc != OLIVE_OK)
        olive_rmtree(staging);
    free(path);
    free(staging);
    return rc;
}

/* "out/" and "out" name the same folder: drop trailing slashes (keeping a lone "/"). */
static char *without_trailing_slashes(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return olive_strndup(dir, n);
}

static int execute(olive_engine *e, const oir_model *input, const char *output_dir, oir_model **out);

int olive_engine_execute(olive_engine *e, const oir_model *input, const char *output_dir, oir_model **out)
{
    char *dir = NULL;
    int rc;
    if (output_dir && !(dir = without_trailing_slashes(output_dir)))
        return OLIVE_ENOMEM;
    rc = execute(e, input, dir, out);
    free(dir);
    return rc;
}

static int execute(olive_engine *e, const oir_model *input, const char *output_dir, oir_model **out)
{
    run_state s = {0};
    oir_model *m;
    int rc = OLIVE_OK;
    atomic_store(&e->cancelled, 0);
    s.e = e;
    s.ctx.accelerator = e->acc;
    s.ctx.progress = pass_progress;
    s.ctx.user = &s;
    if (output_dir)
        OLIVE_TRY(check_output_dir(e, input, output_dir));
    if (!(m = oir_model_clone(input)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < e->n_passes && rc == OLIVE_OK; i++) {
        olive_pass *p = e->passes[i];
        olive_pass_args args = olive_pass_args_of(p);
        s.index = i;
        s.name = p->def->name;
        if (!e->quiet)
            OLIVE_INFO("running pass %zu/%zu: %s", i + 1, e->n_passes, s.name);
        if ((rc = notify(&s, OLIVE_PROGRESS_PASS_STARTED, 0.0)) != OLIVE_OK)
            break;
        rc = olive_pass_run_def(p->def, &args, m, &s.ctx);
        if (rc == OLIVE_OK && atomic_load(&e->cancelled))
            rc = olive_fail(OLIVE_ECANCELLED, "cancelled during '%s'", s.name);
        if (rc == OLIVE_OK)
            rc = notify(&s, OLIVE_PROGRESS_PASS_FINISHED, 1.0);
    }
    s.index = e->n_passes;
    s.name = "save";
    if (rc == OLIVE_OK && output_dir) {
        if ((rc = notify(&s, OLIVE_PROGRESS_SAVING, 0.0)) == OLIVE_OK)
            rc = write_output(e, &s, m, output_dir);
    }
    /* The output is in place: DONE only informs, a cancel can no longer take effect. */
    if (rc == OLIVE_OK && e->progress)
        e->progress(OLIVE_PROGRESS_DONE, s.name, s.index, e->n_passes, 1.0, s.bytes_written, e->progress_user);
    if (rc != OLIVE_OK || !out) {
        oir_model_free(m);
        return rc;
    }
    *out = m;
    return OLIVE_OK;
}
