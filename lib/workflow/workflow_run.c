/* Running a workflow: every candidate pipeline (one per combination of alternatives) pass by
 * pass through the cache, the best candidate copied to the output folder with its records. */
#include <dirent.h>
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
#include "core/sha256.h"
#include "core/status.h"
#include "workflow/cache.h"
#include "engine/engine.h"
#include "workflow/outputs.h"
#include "workflow/composite_input.h"
#include "workflow/workflow.h"
#include "workflow/run.h"
#include "onnx/onnx_io.h"

#define MAX_CANDIDATES 64


static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The content identity of a calibration folder: the sha256 of its .npy files' names and
 * hashes, in name order ("sha256:<hex>"), so that the cache key follows the data and not the
 * folder's path (a data config's folder is a new temporary one each run). 0 when the folder
 * cannot be read (the pass then reports it). */
static int calibration_identity(wf_cache *c, const char *dir, char out[OLIVE_SHA256_HEX + 8])
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    olive_sha256 s;
    int ok = d != NULL;
    while (ok && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".npy"))
            continue;
        if (n == cap && olive_grow((void **)&names, &cap, n + 1, sizeof *names) != OLIVE_OK)
            ok = 0;
        else if (!(names[n] = olive_strdup(e->d_name)))
            ok = 0;
        else
            n++;
    }
    if (d)
        closedir(d);
    if (ok)
        qsort(names, n, sizeof *names, cmp_names);
    olive_sha256_init(&s);
    for (size_t i = 0; ok && i < n; i++) {
        char hex[OLIVE_SHA256_HEX], *path = olive_path_join(dir, names[i]);
        ok = path && wf_cache_file_hash(c, path, hex) == OLIVE_OK;
        free(path);
        if (ok) {
            olive_sha256_update(&s, names[i], strlen(names[i]) + 1);
            olive_sha256_update(&s, hex, strlen(hex));
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (!ok) {
        olive_error_clear();
        return 0;
    }
    memcpy(out, "sha256:", 7);
    olive_sha256_final_hex(&s, out + 7);
    return 1;
}

/* The content identity of a list of ONNX models (a model-list parameter, "a.onnx,b.onnx"): the
 * sha256 of each model's files in order ("sha256:<hex>"), so that the cache key follows the
 * models and not their paths. 0 when one cannot be loaded (the pass then reports it). */
static int models_identity(wf_cache *c, const char *list, char out[OLIVE_SHA256_HEX + 8])
{
    olive_sha256 s;
    int ok = 1;
    olive_sha256_init(&s);
    for (const char *p = list; ok && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char hex[OLIVE_SHA256_HEX], *path = olive_strndup(p, len);
        oir_model *m = NULL;
        ok = path && onnx_load_file(&m, path) == OLIVE_OK && wf_cache_model_identity(c, m, hex) == OLIVE_OK;
        if (ok)
            olive_sha256_update(&s, hex, strlen(hex));
        oir_model_free(m);
        free(path);
        p = comma ? comma + 1 : p + len;
    }
    if (!ok) {
        olive_error_clear();
        return 0;
    }
    memcpy(out, "sha256:", 7);
    olive_sha256_final_hex(&s, out + 7);
    return 1;
}

/* Every parameter of the pass, defaults included, one "key=value" per line; a calibration
 * folder by its content. */
static char *resolved_params(const olive_pass *p, wf_cache *c)
{
    olive_strbuf b = {0};
    olive_strbuf_append(&b, "");
    for (size_t i = 0; i < p->def->n_params; i++) {
        char id[OLIVE_SHA256_HEX + 8];
        const char *v = p->values[i];
        if (p->def->params[i].data_folder && v[0] && calibration_identity(c, v, id))
            v = id;
        else if (p->def->params[i].model_files && v[0] && models_identity(c, v, id))
            v = id;
        olive_strbuf_printf(&b, "%s%s=%s", i ? "\n" : "", p->def->params[i].name, v);
    }
    return olive_strbuf_take(&b);
}

static void step_key(char out[OLIVE_SHA256_HEX], const char *parent, const olive_pass *p, const char *params,
                     const olive_accelerator *acc)
{
    olive_sha256 s;
    olive_sha256_init(&s);
    /* The library version too: a newer build may compute a pass differently. */
    olive_sha256_update(&s, "libolive-step 1 ", 16);
    olive_sha256_update(&s, olive_version_string(), strlen(olive_version_string()));
    olive_sha256_update(&s, "\nparent ", 8);
    olive_sha256_update(&s, parent, strlen(parent));
    olive_sha256_update(&s, "\npass ", 6);
    olive_sha256_update(&s, p->def->name, strlen(p->def->name));
    olive_sha256_update(&s, "\nparams\n", 8);
    olive_sha256_update(&s, params, strlen(params));
    if (p->def->flags & OLIVE_PASS_DEPENDS_ON_ACCELERATOR) {
        const char *dev = olive_accelerator_device(acc), *ep = olive_accelerator_provider(acc);
        olive_sha256_update(&s, "\naccelerator ", 13);
        olive_sha256_update(&s, dev, strlen(dev));
        olive_sha256_update(&s, " ", 1);
        olive_sha256_update(&s, ep, strlen(ep));
    }
    olive_sha256_final_hex(&s, out);
}

int wf_step_id(char out[OLIVE_SHA256_HEX], run_ctx *r, const olive_pass *p, const char *parent)
{
    char *params = resolved_params(p, &r->cache);
    if (!params)
        return OLIVE_ENOMEM;
    step_key(out, parent, p, params, r->w->acc);
    free(params);
    return OLIVE_OK;
}

/* ---- progress: a one-pass engine per step, its events placed in the whole run ---- */

typedef struct step_progress {
    run_ctx *r;
    const char *label;
} step_progress;

static int forward_progress(int event, const char *name, size_t index, size_t count, double fraction, uint64_t bytes,
                            void *user)
{
    step_progress *sp = user;
    olive_workflow *w = sp->r->w;
    (void)name, (void)index, (void)count;
    if (atomic_load(&w->cancelled))
        return 1;
    /* The step reports its own start and end (cache hits have no engine run). */
    if (event != OLIVE_PROGRESS_PASS_PROGRESS || !w->progress)
        return 0;
    double overall = ((double)sp->r->step_index + fraction) / (double)(sp->r->step_count + 1);
    if (w->progress(event, sp->label, sp->r->step_index, sp->r->step_count, overall, sp->r->bytes_written + bytes,
                    w->progress_user)) {
        atomic_store(&w->cancelled, 1);
        return 1;
    }
    return 0;
}

static int notify(run_ctx *r, int event, const char *label)
{
    olive_workflow *w = r->w;
    if (atomic_load(&w->cancelled))
        return olive_fail(OLIVE_ECANCELLED, "cancelled before '%s'", label);
    if (!w->progress)
        return OLIVE_OK;
    double overall = ((double)r->step_index + (event == OLIVE_PROGRESS_PASS_FINISHED)) / (double)(r->step_count + 1);
    if (w->progress(event, label, r->step_index, r->step_count, overall, r->bytes_written, w->progress_user)) {
        atomic_store(&w->cancelled, 1);
        return olive_fail(OLIVE_ECANCELLED, "cancelled by the progress callback during '%s'", label);
    }
    return OLIVE_OK;
}

static int run_pass(run_ctx *r, olive_pass *p, const char *label, const oir_model *in, oir_model **out)
{
    olive_engine *e;
    step_progress sp = {r, label};
    int rc;
    OLIVE_TRY(olive_engine_new(&e, r->w->acc));
    e->quiet = 1;
    olive_engine_set_progress(e, forward_progress, &sp);
    rc = olive_engine_add_pass(e, p);
    if (rc == OLIVE_OK)
        rc = olive_engine_execute(e, in, NULL, out);
    olive_engine_free(e);
    if (rc != OLIVE_OK && atomic_load(&r->w->cancelled))
        rc = olive_fail(OLIVE_ECANCELLED, "cancelled during '%s'", label);
    return rc;
}

/* ---- one step: cache lookup, or run and store ---- */

int wf_run_step(run_ctx *r, const wf_slot *slot, const wf_choice *choice, const char *parent, const oir_model *in,
                oir_model **out)
{
    olive_workflow *w = r->w;
    wf_step st;
    oir_model *result = NULL, *stored = NULL;
    json_t *manifest = NULL, *info;
    char label[256];
    int rc;
    memset(&st, 0, sizeof st);
    snprintf(label, sizeof label, "%s", slot->name);
    if (!(st.params = resolved_params(choice->pass, &r->cache)))
        return OLIVE_ENOMEM;
    step_key(st.id, parent, choice->pass, st.params, w->acc);
    snprintf(st.parent, sizeof st.parent, "%s", parent);
    st.slot = slot->name;
    st.olive_type = choice->olive_type;
    st.pass = choice->pass->def->name;
    st.def = choice->pass->def;
    st.start = now();
    if ((rc = notify(r, OLIVE_PROGRESS_PASS_STARTED, label)) != OLIVE_OK ||
        (rc = wf_cache_lookup(&r->cache, st.id, &stored, &manifest)) != OLIVE_OK)
        goto fail;
    if (stored) {
        st.cache_hit = 1;
        OLIVE_INFO("pass %s (%s): cache hit %.16s", slot->name, st.pass, st.id);
    } else {
        OLIVE_INFO("pass %s (%s): run", slot->name, st.pass);
        if ((rc = run_pass(r, choice->pass, label, in, &result)) != OLIVE_OK)
            goto fail;
        if (result->checkpoint_path) {
            rc = olive_fail(OLIVE_EINTERNAL, "pass '%s' left a checkpoint, not an ONNX model", st.pass);
            goto fail;
        }
        info = json_pack("{s:s, s:s, s:s, s:s}", "parent", parent, "pass", st.pass, "olive_type", choice->olive_type,
                         "slot", slot->name);
        if (!info) {
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
            goto fail;
        }
        json_object_set_new(info, "config", json_string(st.params));
        rc = wf_cache_store(&r->cache, st.id, result, info, &stored);
        json_decref(info);
        oir_model_free(result);
        result = NULL;
        if (rc != OLIVE_OK)
            goto fail;
    }
    json_decref(manifest);
    st.end = now();
    if (wf_cache_entry_size(&r->cache, st.id, &st.size_on_disk) == OLIVE_OK)
        st.has_size = 1;
    if (st.has_size && !st.cache_hit)
        r->bytes_written += st.size_on_disk;
    olive_error_clear();
    if ((rc = notify(r, OLIVE_PROGRESS_PASS_FINISHED, label)) != OLIVE_OK ||
        (rc = OLIVE_PUSH(r->steps, r->n_steps, r->cap_steps, st)) != OLIVE_OK) {
        oir_model_free(stored);
        free(st.params);
        return rc;
    }
    r->step_index++;
    *out = stored;
    return OLIVE_OK;
fail:
    json_decref(manifest);
    oir_model_free(result);
    oir_model_free(stored);
    free(st.params);
    return rc;
}

/* ---- checks before any work ---- */

/* Whether dir/name is a workflow config (has "input_model"), as `olive run --dry_run` saves. */
static int is_workflow_config(const char *dir, const char *name)
{
    char *path = olive_path_join(dir, name);
    json_t *doc = path ? json_load_file(path, 0, NULL) : NULL;
    int yes = json_is_object(doc) && json_object_get(doc, "input_model");
    json_decref(doc);
    free(path);
    return yes;
}

/* Whether dir/name is the config file the workflow was loaded from. */
static int is_source_config(const char *dir, const char *name, const char *source)
{
    char *path = source ? olive_path_join(dir, name) : NULL, *real = path ? realpath(path, NULL) : NULL;
    int yes = real && !strcmp(real, source);
    free(real);
    free(path);
    return yes;
}

/* The names in `dir` other than the config a dry run saves there and the config file the run
 * was loaded from, as "a, b, c" (at most a few named); NULL when there are none. */
static char *other_entries(const char *dir, const char *source)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    olive_strbuf b = {0};
    size_t n = 0;
    if (!d)
        return NULL;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, WF_SAVED_CONFIG) ||
            (!strcmp(e->d_name, WF_DRY_RUN_CONFIG) && is_workflow_config(dir, e->d_name)) ||
            is_source_config(dir, e->d_name, source))
            continue;
        if (n < 5)
            olive_strbuf_printf(&b, "%s'%s'", n ? ", " : "", e->d_name);
        n++;
    }
    closedir(d);
    if (n > 5)
        olive_strbuf_printf(&b, " and %zu more", n - 5);
    return n ? olive_strbuf_take(&b) : (olive_strbuf_free(&b), NULL);
}

/* An output folder is new, empty, libolive's earlier output (its files are replaced, the
 * others kept), or holds only the config a dry run saved; anything else is refused before
 * any work, naming what is there. */
static int check_output_dir(const olive_workflow *w, const oir_model *input, const char *input_folder)
{
    char *parent = NULL, *others;
    struct stat st;
    int rc, exists = lstat(w->output_dir, &st) == 0;
    if (exists) {
        if (S_ISLNK(st.st_mode))
            return olive_fail(OLIVE_EINVALID,
                              "output_dir '%s' is a symbolic link; libolive does not write through "
                              "links: give the folder it points to, or remove the link",
                              w->output_dir);
        if (!S_ISDIR(st.st_mode))
            return olive_fail(OLIVE_EEXISTS, "output_dir '%s' exists and is not a folder", w->output_dir);
    }
    OLIVE_TRY(olive_engine_check_apart(input, input_folder, w->output_dir, "output_dir"));
    if (exists && !olive_engine_output_is_ours(w->output_dir) &&
        (others = other_entries(w->output_dir, w->source_path))) {
        rc = olive_fail(OLIVE_EEXISTS,
                        "output_dir '%s' exists, is not empty and was not written by libolive (it holds "
                        "%s); choose another folder or empty it",
                        w->output_dir, others);
        free(others);
        return rc;
    }
    if (!(parent = olive_path_dirname(w->output_dir)))
        return OLIVE_ENOMEM;
    if ((rc = olive_mkdir_p(parent)) != OLIVE_OK)
        olive_fail_context(rc, "output_dir '%s'", w->output_dir);
    else if (access(parent, W_OK) != 0)
        rc = olive_fail(OLIVE_EIO, "output_dir '%s': cannot write in '%s': %s", w->output_dir, parent, strerror(errno));
    free(parent);
    return rc;
}

/* The cache must not live inside the output folder (replacing the output would delete it) nor
 * the output inside the cache; nor may it overlap the input (cleaning it would delete it). */
static int check_cache_dir(const olive_workflow *w, const oir_model *input, const char *input_folder)
{
    char *out = w->output_dir ? olive_path_resolve(w->output_dir) : NULL, *cache = olive_path_resolve(w->cache_dir);
    int rc = OLIVE_OK;
    if (!cache || (w->output_dir && !out))
        rc = olive_fail(OLIVE_EINVALID, "cannot resolve output_dir '%s' or cache_dir '%s'",
                        w->output_dir ? w->output_dir : "", w->cache_dir);
    else if (out && olive_path_relation(out, cache) != OLIVE_PATH_APART)
        rc = olive_fail(OLIVE_EINVALID, "cache_dir '%s' and output_dir '%s' must not contain one another", w->cache_dir,
                        w->output_dir);
    else
        rc = olive_engine_check_apart(input, input_folder, w->cache_dir, "cache_dir");
    free(out);
    free(cache);
    return rc;
}

static int check_checkpoint(const olive_workflow *w, const oir_model *in)
{
    if (!in->checkpoint_path)
        return OLIVE_OK;
    if (!w->n_slots)
        return olive_fail(OLIVE_EINVALID,
                          "input model '%s' is a checkpoint: add a ModelBuilder pass to convert it to "
                          "ONNX",
                          w->model_path);
    for (size_t f = 0; f < wf_flow_count(w); f++) {
        const wf_slot *first = &w->slots[wf_flow_slot(w, f, 0)];
        for (size_t j = 0; j < first->n_choices; j++)
            if (!(first->choices[j].pass->def->flags & OLIVE_PASS_ACCEPTS_CHECKPOINT))
                return olive_fail(OLIVE_EINVALID,
                                  "passes.%s: input model '%s' is a checkpoint; only a ModelBuilder "
                                  "(convert) pass can run on it, and it must come first",
                                  first->name, w->model_path);
    }
    return OLIVE_OK;
}

/* ---- output folder ---- */

static int write_text(const char *dir, const char *name, const char *text)
{
    char *path = olive_path_join(dir, name);
    int rc = path && text ? olive_write_file(path, text, strlen(text)) : olive_fail(OLIVE_ENOMEM, "out of memory");
    free(path);
    return rc;
}

static int write_json(const char *dir, const char *name, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2));
    char *line = text ? olive_asprintf("%s\n", text) : NULL;
    int rc = write_text(dir, name, line);
    free(text);
    free(line);
    return rc;
}

/* Copies the files a cache entry's manifest lists. */
static int copy_entry(run_ctx *r, const char *key, const char *staging)
{
    char *entry = wf_cache_entry_dir(&r->cache, key);
    json_t *files = NULL;
    const char *name;
    json_t *v;
    int rc = entry ? wf_cache_entry_files(&r->cache, key, &files) : OLIVE_ENOMEM;
    json_object_foreach(files, name, v)
    {
        char *src = olive_path_join(entry, name), *dst = olive_path_join(staging, name);
        char hex[OLIVE_SHA256_HEX];
        /* A copy, not a hard link: onnx refuses external data files with several links. The
         * bytes are hashed as they are copied, so that what is published is what the manifest
         * recorded, even if the entry changed after its lookup. */
        rc = src && dst ? olive_copy_file_sha256(src, dst, hex) : OLIVE_ENOMEM;
        if (rc == OLIVE_OK && (!json_is_string(v) || strcmp(hex, json_string_value(v))))
            rc = olive_fail(OLIVE_EIO,
                            "cache entry %s: '%s' changed while it was copied to the output; run again to "
                            "rebuild it",
                            entry, name);
        free(src);
        free(dst);
        if (rc != OLIVE_OK)
            break;
    }
    json_decref(files);
    free(entry);
    return rc;
}

/* A search's own outputs: the frontier footprint, its chart when plot_pareto_frontier asks,
 * and the frontier models in frontier_<k> subfolders (best first) when output_model_num asks
 * for more than one. */
static int write_search_outputs(run_ctx *r, const wf_search_outcome *so, const char *staging)
{
    olive_workflow *w = r->w;
    int rc = so->frontier ? write_json(staging, WF_PARETO_FRONTIER, so->frontier) : OLIVE_OK;
    if (rc == OLIVE_OK && w->plot_pareto_frontier) {
        char *png = olive_path_join(staging, WF_PARETO_CHART ".png"),
             *svg = olive_path_join(staging, WF_PARETO_CHART ".svg");
        rc = png && svg ? ws_chart_write(png, svg, so->chart, so->n_chart, so->x_label, so->y_label) : OLIVE_ENOMEM;
        free(png);
        free(svg);
    }
    for (size_t k = 0; rc == OLIVE_OK && w->output_model_num > 1 && k < so->n_front && k < w->output_model_num; k++) {
        char name[32], *sub;
        snprintf(name, sizeof name, "frontier_%zu", k);
        if (!(sub = olive_path_join(staging, name)))
            return OLIVE_ENOMEM;
        if ((rc = olive_mkdir_p(sub)) == OLIVE_OK)
            rc = copy_entry(r, so->front_ids[k], sub);
        free(sub);
    }
    return rc;
}

static int write_output(run_ctx *r, const oir_model *best, const char *best_id, const json_t *footprints,
                        const char *history, const json_t *metrics, const json_t *input_metrics,
                        const wf_search_outcome *so)
{
    olive_workflow *w = r->w;
    /* The absolute path: the staging folder goes beside the output, and beside "." or "dir/.."
     * as text would be inside it. */
    char *staging = NULL, *dir = olive_path_resolve(w->output_dir);
    json_t *mc = NULL;
    int rc;
    if (!dir)
        return olive_fail(OLIVE_EINVALID, "cannot resolve output_dir '%s'", w->output_dir);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
        dir[n - 1] = '\0';
    if ((rc = olive_engine_make_staging(&staging, dir)) != OLIVE_OK) {
        free(dir);
        return rc;
    }
    if (best_id) {
        rc = copy_entry(r, best_id, staging);
    } else { /* no passes: the input as it is */
        onnx_save_options o;
        char *path = olive_path_join(staging, "model.onnx");
        onnx_save_options_init(&o);
        rc = path ? onnx_save_file(best, path, &o) : OLIVE_ENOMEM;
        if (rc == OLIVE_OK)
            rc = oir_model_write_companions(best, staging);
        free(path);
    }
    if (rc == OLIVE_OK && (rc = wf_model_config_json(&mc, dir, "model.onnx", best)) == OLIVE_OK)
        rc = write_json(staging, WF_MODEL_CONFIG, mc);
    if (rc == OLIVE_OK && !w->no_artifacts) {
        if ((rc = write_json(staging, WF_FOOTPRINT, footprints)) == OLIVE_OK)
            rc = write_text(staging, WF_RUN_HISTORY, history);
    }
    if (rc == OLIVE_OK && metrics)
        rc = write_json(staging, WF_METRICS, metrics);
    if (rc == OLIVE_OK && input_metrics)
        rc = write_json(staging, WF_INPUT_METRICS, input_metrics);
    if (rc == OLIVE_OK && so)
        rc = write_search_outputs(r, so, staging);
    if (rc == OLIVE_OK)
        rc = olive_engine_publish(staging, dir, 0);
    if (rc == OLIVE_OK) {
        /* model_path in model_config.json names the final folder, which exists only now. */
        json_decref(mc);
        mc = NULL;
        if (wf_model_config_json(&mc, dir, "model.onnx", best) == OLIVE_OK)
            write_json(dir, WF_MODEL_CONFIG, mc);
    } else {
        olive_rmtree(staging);
    }
    json_decref(mc);
    free(staging);
    free(dir);
    return rc;
}

/* ---- evaluation ---- */

static size_t flow_of(const olive_workflow *w, size_t c, size_t *sub);
static size_t choice_of(const olive_workflow *w, size_t flow, size_t c, size_t k);

typedef struct eval_progress {
    olive_workflow *w;
    size_t index, count;
} eval_progress;

/* Evaluation progress as PASS_PROGRESS events named "evaluate <metric>". */
static int on_eval_progress(const char *metric, uint64_t done, uint64_t total, double rate, double eta, void *user)
{
    eval_progress *ep = user;
    char label[300];
    (void)rate, (void)eta;
    if (!ep->w->progress)
        return atomic_load(&ep->w->cancelled);
    snprintf(label, sizeof label, "evaluate %s", metric);
    return ep->w->progress(OLIVE_PROGRESS_PASS_PROGRESS, label, ep->index, ep->count,
                           ((double)ep->index + (total ? (double)done / (double)total : 1.0)) / (double)(ep->count + 1),
                           0, ep->w->progress_user);
}

int wf_run_evaluate(json_t **out, olive_workflow *w, const wf_evaluator *e, const char *path, uint64_t size,
                    size_t index, size_t count, const char *what)
{
    eval_progress ep = {w, index, count};
    wf_eval_ctx ctx = {w->acc, on_eval_progress, &ep, &w->cancelled, w->unmeasured};
    int rc;
    OLIVE_INFO("evaluating %s", what);
    if ((rc = wf_evaluate(out, e, path, size, &ctx)) != OLIVE_OK)
        olive_fail_context(rc, "evaluating %s", what);
    return rc;
}

/* The evaluator of a candidate: its last pass's own, else the engine's. */
static const wf_evaluator *candidate_evaluator(const olive_workflow *w, size_t c)
{
    size_t sub, f = flow_of(w, c, &sub), n = wf_flow_length(w, f);
    if (n) {
        const wf_choice *ch = &w->slots[wf_flow_slot(w, f, n - 1)].choices[choice_of(w, f, sub, n - 1)];
        if (ch->evaluator)
            return ch->evaluator;
    }
    return &w->evaluator;
}

/* 1 when results a rank above b by the ranked sub-types (priority 1 first), 0 when not, -1
 * when no sub-type is ranked. */
static int ranks_above(const json_t *a, const json_t *b, const wf_evaluator *e)
{
    int any = 0;
    for (int prio = 1; prio <= 64; prio++)
        for (size_t i = 0; i < e->n_metrics; i++)
            for (size_t j = 0; j < e->metrics[i].n_subs; j++) {
                const wf_sub_metric *sub = &e->metrics[i].subs[j];
                char key[512];
                double va, vb;
                if (sub->priority != prio)
                    continue;
                any = 1;
                snprintf(key, sizeof key, "%s-%s", e->metrics[i].name, sub->name);
                va = json_number_value(json_object_get(json_object_get(a, key), "value"));
                vb = json_number_value(json_object_get(json_object_get(b, key), "value"));
                if (va != vb)
                    return sub->higher_is_better ? va > vb : va < vb;
            }
    return any ? 0 : -1;
}

/* ---- the run ---- */

size_t wf_flow_count(const olive_workflow *w)
{
    return w->n_flows ? w->n_flows : 1;
}

size_t wf_flow_length(const olive_workflow *w, size_t flow)
{
    return w->n_flows ? w->flows[flow].n : w->n_slots;
}

size_t wf_flow_slot(const olive_workflow *w, size_t flow, size_t k)
{
    return w->n_flows ? w->flows[flow].slots[k] : k;
}

/* Candidates of one flow: one per combination of its slots' alternatives (capped). */
static size_t flow_candidates(const olive_workflow *w, size_t flow)
{
    size_t n = 1;
    for (size_t k = 0; k < wf_flow_length(w, flow); k++) {
        n *= w->slots[wf_flow_slot(w, flow, k)].n_choices;
        if (n > MAX_CANDIDATES)
            return MAX_CANDIDATES + 1;
    }
    return n;
}

static size_t candidate_count(const olive_workflow *w)
{
    size_t n = 0;
    for (size_t f = 0; f < wf_flow_count(w); f++) {
        n += flow_candidates(w, f);
        if (n > MAX_CANDIDATES)
            return MAX_CANDIDATES + 1;
    }
    return n;
}

/* The flow of candidate `c`, and c's index within that flow's candidates. */
static size_t flow_of(const olive_workflow *w, size_t c, size_t *sub)
{
    size_t f = 0;
    while (f + 1 < wf_flow_count(w) && c >= flow_candidates(w, f))
        c -= flow_candidates(w, f++);
    *sub = c;
    return f;
}

/* The choice of position `k` of the flow in sub-candidate `c` (mixed radix, first fastest). */
static size_t choice_of(const olive_workflow *w, size_t flow, size_t c, size_t k)
{
    for (size_t i = 0; i < k; i++)
        c /= w->slots[wf_flow_slot(w, flow, i)].n_choices;
    return c % w->slots[wf_flow_slot(w, flow, k)].n_choices;
}

static int run_candidate(run_ctx *r, size_t c, const oir_model *input, const char *input_id, oir_model **out,
                         char last_id[OLIVE_SHA256_HEX])
{
    olive_workflow *w = r->w;
    oir_model *cur = NULL;
    char parent[OLIVE_SHA256_HEX];
    size_t sub, f = flow_of(w, c, &sub);
    snprintf(parent, sizeof parent, "%s", input_id);
    for (size_t k = 0; k < wf_flow_length(w, f); k++) {
        oir_model *next = NULL;
        wf_slot *slot = &w->slots[wf_flow_slot(w, f, k)];
        const wf_choice *ch = &slot->choices[choice_of(w, f, sub, k)];
        int rc = wf_run_step(r, slot, ch, parent, cur ? cur : input, &next);
        oir_model_free(cur);
        if (rc != OLIVE_OK)
            return rc;
        cur = next;
        snprintf(parent, sizeof parent, "%s", r->steps[r->n_steps - 1].id);
    }
    snprintf(last_id, OLIVE_SHA256_HEX, "%s", parent);
    *out = cur;
    return OLIVE_OK;
}


/* A candidate's name: its passes in pipeline text form ("peephole ! quantize block_size=16"). */
static char *candidate_name(const olive_workflow *w, size_t c)
{
    olive_strbuf b = {0};
    size_t sub, f = flow_of(w, c, &sub);
    olive_strbuf_append(&b, "");
    for (size_t k = 0; k < wf_flow_length(w, f); k++) {
        olive_pass *p = w->slots[wf_flow_slot(w, f, k)].choices[choice_of(w, f, sub, k)].pass;
        char *t = olive_pipeline_format(&p, 1);
        olive_strbuf_printf(&b, "%s%s", k ? " ! " : "", t ? t : "?");
        free(t);
    }
    return olive_strbuf_take(&b);
}

static json_t *summary(run_ctx *r, const char *input_id, size_t n_cand, size_t best, const uint64_t *sizes,
                       json_t *const *results, const json_t *input_results, double seconds)
{
    json_t *doc = json_object(), *steps = json_array(), *cands = json_array();
    for (size_t i = 0; i < r->n_steps; i++) {
        const wf_step *s = &r->steps[i];
        json_array_append_new(steps, json_pack("{s:s, s:s, s:s, s:s, s:s, s:f}", "slot", s->slot, "olive_type",
                                               s->olive_type, "pass", s->pass, "id", s->id, "cache",
                                               s->cache_hit ? "hit" : "run", "seconds", s->end - s->start));
    }
    for (size_t c = 0; c < n_cand; c++) {
        char *name = candidate_name(r->w, c);
        json_t *cand = json_pack("{s:I, s:s, s:I}", "index", (json_int_t)c, "name", name ? name : "?", "size_on_disk",
                                 (json_int_t)sizes[c]);
        free(name);
        if (results[c])
            json_object_set(cand, "metrics", results[c]);
        json_array_append_new(cands, cand);
    }
    if (input_results)
        json_object_set(doc, "input_model_metrics", (json_t *)input_results);
    if (results[best])
        json_object_set(doc, "metrics", results[best]);
    json_object_set_new(doc, "input_id", json_string(input_id));
    json_object_set_new(doc, "steps", steps);
    json_object_set_new(doc, "candidates", cands);
    json_object_set_new(doc, "best", json_integer((json_int_t)best));
    json_object_set_new(doc, "output_dir", r->w->output_dir ? json_string(r->w->output_dir) : json_null());
    json_object_set_new(doc, "seconds", json_real(seconds));
    return doc;
}

int wf_run(olive_workflow *w, json_t **result)
{
    run_ctx r;
    oir_model *input = NULL, *best = NULL;
    char input_id[OLIVE_SHA256_HEX], best_id[OLIVE_SHA256_HEX] = "", *folder = NULL, *history = NULL;
    size_t n_cand = candidate_count(w), best_c = 0;
    int searching = wf_is_search(w);
    wf_search_outcome so;
    uint64_t *sizes = NULL, input_size = 0;
    json_t *footprints = NULL, **results = NULL, *input_results = NULL, *input_fp = NULL;
    double t0 = now();
    int rc;
    memset(&r, 0, sizeof r);
    r.w = w;
    atomic_store(&w->cancelled, 0);
    if (w->log_level >= 0)
        OLIVE_TRY(olive_log_set_level(w->log_level)); /* checked 0..4 when parsed */
    memset(&so, 0, sizeof so);
    if (searching && w->n_flows)
        return olive_fail(OLIVE_EUNSUPPORTED, "pass_flows: a search over several pass flows is not supported; "
                                              "search one flow per workflow");
    if (searching)
        n_cand = 1; /* the search enumerates its own points */
    if (n_cand > MAX_CANDIDATES)
        return olive_fail(OLIVE_EUNSUPPORTED, "passes: the alternatives make more than %d candidate pipelines",
                          MAX_CANDIDATES);
    /* Before anything is read or written: a choice that needs metrics the target's provider
     * cannot give is refused now, not after the passes. */
    if ((rc = wf_check_target_provider(w, searching, n_cand)) != OLIVE_OK)
        return rc;
    if ((rc = wf_load_input(&input, &folder, w->model_path, w->onnx_file_name)) != OLIVE_OK) {
        olive_fail_context(rc, "input_model");
        return rc;
    }
    if ((rc = check_checkpoint(w, input)) != OLIVE_OK ||
        (w->output_dir && (rc = check_output_dir(w, input, folder)) != OLIVE_OK) ||
        (rc = check_cache_dir(w, input, folder)) != OLIVE_OK || (rc = wf_composite_check_apart(w)) != OLIVE_OK)
        goto out;

    if ((rc = wf_cache_open(&r.cache, w->cache_dir, w->clean_cache)) != OLIVE_OK)
        goto out;
    if ((rc = wf_cache_model_identity(&r.cache, input, input_id)) != OLIVE_OK)
        goto out;
    if (!(sizes = olive_calloc(n_cand, sizeof *sizes)) || !(results = olive_calloc(n_cand, sizeof *results))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    input_size = wf_model_files_size(input);
    if (w->executor.type == WF_EXEC_TASK) {
        /* A worker's run: one candidate into the cache, no input evaluation, no output. */
        if ((rc = wf_search_task(&r, input, input_id)) == OLIVE_OK && result &&
            !(*result = json_pack("{s:s, s:f}", "input_id", input_id, "seconds", now() - t0)))
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
        goto out;
    }
    /* The input model is evaluated when asked, and when there are no passes to evaluate. */
    /* A search evaluates it first: goals are relative to it. */
    if (w->evaluator.n_metrics && (w->evaluate_input_model || !w->n_slots || searching)) {
        if (input->checkpoint_path && wf_evaluator_needs_runtime(&w->evaluator))
            OLIVE_WARN("evaluate_input_model: the input is a checkpoint, not an ONNX model; it is not evaluated");
        else if (w->components)
            OLIVE_WARN("evaluate_input_model: the input is a CompositeModel, whose parts run only once composed; "
                       "it is not evaluated");
        else if ((rc = wf_run_evaluate(&input_results, w, &w->evaluator,
                                       input->path ? input->path : input->checkpoint_path, input_size, 0, r.step_count,
                                       "the input model")) != OLIVE_OK)
            goto out;
        if (input_results && !(input_fp = wf_footprint_metrics(input_results, &w->evaluator, NULL))) {
            rc = OLIVE_ENOMEM;
            goto out;
        }
    }
    for (size_t c = 0; c < n_cand; c++) {
        size_t sub;
        r.step_count += wf_flow_length(w, flow_of(w, c, &sub));
    }
    if (searching) {
        if ((rc = wf_search_workflow(&so, &r, input, input_id, input_results)) != OLIVE_OK)
            goto out;
        best = so.best;
        so.best = NULL;
        snprintf(best_id, sizeof best_id, "%s", so.best_id);
        results[0] = json_incref(so.best_results);
        sizes[0] = best ? wf_model_files_size(best) : input_size;
    }
    for (size_t c = 0; c < n_cand && rc == OLIVE_OK && !searching; c++) {
        oir_model *m = NULL;
        char last[OLIVE_SHA256_HEX] = "";
        if (!w->n_slots) {
            sizes[c] = input_size;
            break;
        }
        if ((rc = run_candidate(&r, c, input, input_id, &m, last)) != OLIVE_OK)
            break;
        sizes[c] = r.steps[r.n_steps - 1].size_on_disk;
        {
            const wf_evaluator *ev = candidate_evaluator(w, c);
            char what[64];
            snprintf(what, sizeof what, "candidate %zu", c + 1);
            if (ev->n_metrics && (rc = wf_run_evaluate(&results[c], w, ev, m->path, sizes[c], r.step_index,
                                                       r.step_count, what)) != OLIVE_OK) {
                oir_model_free(m);
                break;
            }
            if (results[c] && !(r.steps[r.n_steps - 1].metrics = wf_footprint_metrics(results[c], ev, input_results))) {
                oir_model_free(m);
                rc = OLIVE_ENOMEM;
                break;
            }
        }
        /* The ranked metrics choose (priority 1 first); without them the first candidate is the
         * result, or the smallest when size_on_disk is measured. */
        int above = best && results[c] && results[best_c]
                        ? ranks_above(results[c], results[best_c], candidate_evaluator(w, c))
                        : -1;
        if (!best || above == 1 || (above == -1 && w->size_on_disk && sizes[c] < sizes[best_c])) {
            oir_model_free(best);
            best = m;
            best_c = c;
            snprintf(best_id, sizeof best_id, "%s", last);
        } else {
            oir_model_free(m);
        }
    }
    if (rc != OLIVE_OK)
        goto out;
    if (!w->n_slots && input_results)
        results[0] = json_incref(input_results);
    if (n_cand > 1 && !searching) {
        /* Numbered from 0, as the run summary's "best" and "candidates" are. */
        char *name = candidate_name(w, best_c);
        OLIVE_INFO("best of %zu candidates (numbered from 0): %zu: %s%s", n_cand, best_c, name ? name : "?",
                   w->size_on_disk ? " (smallest size on disk)" : "");
        free(name);
    }
    footprints = wf_footprints_json(input_id, w->evaluate_input_model || w->size_on_disk ? &input_size : NULL, input_fp,
                                    r.steps, r.n_steps, olive_accelerator_provider(w->acc));
    /* A failed candidate has no model: its node records the point, the model it started from
     * and why it failed. */
    for (size_t i = 0; footprints && searching && i < json_array_size(so.candidates); i++) {
        json_t *c = json_array_get(so.candidates, i);
        char id[64];
        if (strcmp(json_string_value(json_object_get(c, "state")), "failed"))
            continue;
        snprintf(id, sizeof id, "failed-%zu", i);
        json_object_set_new(footprints, id,
                            json_pack("{s:s, s:O?, s:s, s:O?, s:O?}", "id", id, "parent", json_object_get(c, "parent"),
                                      "status", "failed", "search_point", json_object_get(c, "point"), "error",
                                      json_object_get(c, "error")));
    }
    history = wf_run_history_text(r.steps, r.n_steps);
    if (!footprints || !history) {
        rc = olive_fail(OLIVE_ENOMEM, "out of memory");
        goto out;
    }
    if (w->output_dir) {
        if ((rc = notify(&r, OLIVE_PROGRESS_SAVING, "save")) != OLIVE_OK ||
            (rc = write_output(&r, best ? best : input, best ? best_id : NULL, footprints, history, results[best_c],
                               w->evaluate_input_model ? input_results : NULL, searching ? &so : NULL)) != OLIVE_OK ||
            (rc = wf_package_output(w)) != OLIVE_OK)
            goto out;
    }
    if (!w->output_dir && w->packaging)
        (void)wf_package_output(w); /* warns that there is nothing to package */
    if (!w->output_dir && best) {
        char *entry = wf_cache_entry_dir(&r.cache, best_id);
        OLIVE_WARN("no output_dir in the config: the result stays in the cache, in %s", entry ? entry : w->cache_dir);
        free(entry);
    }
    if (w->output_dir)
        r.bytes_written += sizes[best_c]; /* the best candidate's files, copied to the output */
    if (w->progress)
        w->progress(OLIVE_PROGRESS_DONE, "save", r.step_count, r.step_count, 1.0, r.bytes_written, w->progress_user);
    if (result) {
        *result = summary(&r, input_id, n_cand, best_c, sizes, results, input_results, now() - t0);
        if (*result && searching) {
            json_object_set(*result, "candidates", so.candidates);
            json_object_set_new(*result, "best", json_integer((json_int_t)so.best_index));
            json_object_set(*result, "pareto_frontier", json_object_get(so.frontier, "nodes"));
        }
    }
out:
    if (w->unmeasured) {
        free(w->unmeasured);
        w->unmeasured = NULL;
    }
    wf_search_outcome_clear(&so);
    if (r.cache.dir)
        wf_cache_close(&r.cache);
    for (size_t i = 0; i < r.n_steps; i++) {
        free(r.steps[i].params);
        json_decref(r.steps[i].metrics);
    }
    free(r.steps);
    for (size_t c = 0; results && c < n_cand; c++)
        json_decref(results[c]);
    free(results);
    json_decref(input_results);
    json_decref(input_fp);
    free(sizes);
    free(history);
    json_decref(footprints);
    oir_model_free(best);
    oir_model_free(input);
    free(folder);
    return rc;
}
