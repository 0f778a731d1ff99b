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
    size_t index;       /* running pass, or n_passes while saving */
    const char *name;
    uint64_t bytes_written;
    double last_event;  /* monotonic seconds of the last event passed to the callback */
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
    if (e->progress && e->progress(event, s->name, s->index, e->n_passes, overall(s, fraction), s->bytes_written,
                                   e->progress_user)) {
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

/* The process's umask, read without changing it (umask() would race with other threads). */
static mode_t current_umask(void)
{
    char line[128];
    unsigned mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Umask: %o", &mask) == 1)
            break;
    if (f)
        fclose(f);
    return (mode_t)mask;
}

/* Creates "<parent>/.<name>.tmp-XXXXXX" beside the output folder. */
int olive_engine_make_staging(char **out, const char *output_dir)
{
    char *parent = olive_path_dirname(output_dir);
    char *tmpl;
    if (!parent)
        return OLIVE_ENOMEM;
    if (olive_mkdir_p(parent) != OLIVE_OK) {
        free(parent);
        return olive_error_code();
    }
    tmpl = olive_asprintf("%s/.%s.tmp-XXXXXX", parent, olive_path_basename(output_dir));
    free(parent);
    if (!tmpl)
        return OLIVE_ENOMEM;
    if (!mkdtemp(tmpl)) {
        int rc = olive_fail_errno(errno, "cannot create a folder beside", output_dir);
        free(tmpl);
        return rc;
    }
    /* mkdtemp makes the folder private; the published output gets the usual permissions. */
    chmod(tmpl, 0777 & ~current_umask());
    *out = tmpl;
    return OLIVE_OK;
}

static int check_output_dir(const olive_engine *e, const char *dir)
{
    struct stat st;
    if (!dir[0] || !strcmp(olive_path_basename(dir), "") )
        return olive_fail(OLIVE_EINVALID, "output folder '%s' has no name", dir);
    if (stat(dir, &st) != 0)
        return OLIVE_OK;
    if (!S_ISDIR(st.st_mode))
        return olive_fail(OLIVE_EEXISTS, "output path '%s' exists and is not a folder", dir);
    if (olive_dir_is_empty(dir) == 0 && !e->overwrite)
        return olive_fail(OLIVE_EEXISTS, "output folder '%s' exists and is not empty (set overwrite=true to replace it)", dir);
    return OLIVE_OK;
}

/* Moves the finished staging folder to its final name, replacing an old output folder. */
int olive_engine_publish(const char *staging, const char *dir)
{
    struct stat st;
    char *old = NULL;
    if (stat(dir, &st) == 0) {
        if (olive_dir_is_empty(dir) == 1) {
            if (rmdir(dir) != 0)
                return olive_fail_errno(errno, "cannot replace empty folder", dir);
        } else {
            if (!(old = olive_asprintf("%s.old-%ld", staging, (long)getpid())))
                return OLIVE_ENOMEM;
            if (rename(dir, old) != 0) {
                int rc = olive_fail_errno(errno, "cannot move aside old output folder", dir);
                free(old);
                return rc;
            }
        }
    }
    if (rename(staging, dir) != 0) {
        int rc = olive_fail_errno(errno, "cannot move the result into place at", dir);
        if (old)
            rename(old, dir);
        free(old);
        return rc;
    }
    if (old) {
        olive_rmtree(old);
        free(old);
    }
    return OLIVE_OK;
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
    rc = olive_engine_publish(staging, dir);
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
        OLIVE_TRY(check_output_dir(e, output_dir));
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
