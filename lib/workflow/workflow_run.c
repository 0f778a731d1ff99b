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
#include "workflow/workflow.h"
#include "onnx/onnx_io.h"

#define MAX_CANDIDATES 64

typedef struct run_ctx {
    olive_workflow *w;
    wf_cache cache;
    size_t step_index, step_count; /* across all candidates, for progress */
    uint64_t bytes_written;        /* pass results stored in the cache, then the output, for progress */
    wf_step *steps;
    size_t n_steps, cap_steps;
} run_ctx;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every parameter of the pass, defaults included, one "key=value" per line. */
static char *resolved_params(const olive_pass *p)
{
    olive_strbuf b = {0};
    olive_strbuf_append(&b, "");
    for (size_t i = 0; i < p->def->n_params; i++)
        olive_strbuf_printf(&b, "%s%s=%s", i ? "\n" : "", p->def->params[i].name, p->values[i]);
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

static int do_step(run_ctx *r, const wf_slot *slot, const wf_choice *choice, const char *parent, const oir_model *in,
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
    if (!(st.params = resolved_params(choice->pass)))
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
            return olive_fail(OLIVE_EINVALID, "output_dir '%s' is a symbolic link; libolive does not write through "
                                              "links: give the folder it points to, or remove the link", w->output_dir);
        if (!S_ISDIR(st.st_mode))
            return olive_fail(OLIVE_EEXISTS, "output_dir '%s' exists and is not a folder", w->output_dir);
    }
    OLIVE_TRY(olive_engine_check_apart(input, input_folder, w->output_dir, "output_dir"));
    if (exists && !olive_engine_output_is_ours(w->output_dir) && (others = other_entries(w->output_dir, w->source_path))) {
        rc = olive_fail(OLIVE_EEXISTS, "output_dir '%s' exists, is not empty and was not written by libolive (it holds "
                                       "%s); choose another folder or empty it", w->output_dir, others);
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
        rc = olive_fail(OLIVE_EINVALID, "cache_dir '%s' and output_dir '%s' must not contain one another",
                        w->cache_dir, w->output_dir);
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
        return olive_fail(OLIVE_EINVALID, "input model '%s' is a checkpoint: add a ModelBuilder pass to convert it to "
                                          "ONNX", w->model_path);
    for (size_t f = 0; f < wf_flow_count(w); f++) {
        const wf_slot *first = &w->slots[wf_flow_slot(w, f, 0)];
        for (size_t j = 0; j < first->n_choices; j++)
            if (!(first->choices[j].pass->def->flags & OLIVE_PASS_ACCEPTS_CHECKPOINT))
                return olive_fail(OLIVE_EINVALID, "passes.%s: input model '%s' is a checkpoint; only a ModelBuilder "
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
    json_object_foreach(files, name, v) {
        char *src = olive_path_join(entry, name), *dst = olive_path_join(staging, name);
        char hex[OLIVE_SHA256_HEX];
        /* A copy, not a hard link: onnx refuses external data files with several links. The
         * bytes are hashed as they are copied, so that what is published is what the manifest
         * recorded, even if the entry changed after its lookup. */
        rc = src && dst ? olive_copy_file_sha256(src, dst, hex) : OLIVE_ENOMEM;
        if (rc == OLIVE_OK && (!json_is_string(v) || strcmp(hex, json_string_value(v))))
            rc = olive_fail(OLIVE_EIO, "cache entry %s: '%s' changed while it was copied to the output; run again to "
                                       "rebuild it", entry, name);
        free(src);
        free(dst);
        if (rc != OLIVE_OK)
            break;
    }
    json_decref(files);
    free(entry);
    return rc;
}

static int write_output(run_ctx *r, const oir_model *best, const char *best_id, const json_t *footprints,
                        const char *history)
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

/* ---- the run ---- */

size_t wf_flow_count(const olive_workflow *w) { return w->n_flows ? w->n_flows : 1; }

size_t wf_flow_length(const olive_workflow *w, size_t flow) { return w->n_flows ? w->flows[flow].n : w->n_slots; }

size_t wf_flow_slot(const olive_workflow *w, size_t flow, size_t k) { return w->n_flows ? w->flows[flow].slots[k] : k; }

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
        int rc = do_step(r, slot, ch, parent, cur ? cur : input, &next);
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

static uint64_t model_files_size(const oir_model *m)
{
    uint64_t total = 0;
    struct stat st;
    if (m->checkpoint_path && stat(m->checkpoint_path, &st) == 0 && !S_ISDIR(st.st_mode))
        return (uint64_t)st.st_size;
    if (m->path && stat(m->path, &st) == 0)
        total += (uint64_t)st.st_size;
    for (size_t i = 0; i < m->n_sources; i++)
        if (m->sources[i]->path && (!m->path || strcmp(m->sources[i]->path, m->path)) &&
            stat(m->sources[i]->path, &st) == 0)
            total += (uint64_t)st.st_size;
    return total;
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
                       double seconds)
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
        json_array_append_new(cands, json_pack("{s:I, s:s, s:I}", "index", (json_int_t)c, "name", name ? name : "?",
                                               "size_on_disk", (json_int_t)sizes[c]));
        free(name);
    }
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
    uint64_t *sizes = NULL, input_size = 0;
    json_t *footprints = NULL;
    double t0 = now();
    int rc;
    memset(&r, 0, sizeof r);
    r.w = w;
    atomic_store(&w->cancelled, 0);
    if (w->log_level >= 0)
        OLIVE_TRY(olive_log_set_level(w->log_level)); /* checked 0..4 when parsed */
    if (n_cand > MAX_CANDIDATES)
        return olive_fail(OLIVE_EUNSUPPORTED, "passes: the alternatives make more than %d candidate pipelines",
                          MAX_CANDIDATES);
    if ((rc = wf_load_input(&input, &folder, w->model_path, w->onnx_file_name)) != OLIVE_OK) {
        olive_fail_context(rc, "input_model");
        return rc;
    }
    if ((rc = check_checkpoint(w, input)) != OLIVE_OK ||
        (w->output_dir && (rc = check_output_dir(w, input, folder)) != OLIVE_OK) ||
        (rc = check_cache_dir(w, input, folder)) != OLIVE_OK)
        goto out;

    if ((rc = wf_cache_open(&r.cache, w->cache_dir, w->clean_cache)) != OLIVE_OK)
        goto out;
    if ((rc = wf_cache_model_identity(&r.cache, input, input_id)) != OLIVE_OK)
        goto out;
    if (!(sizes = olive_calloc(n_cand, sizeof *sizes))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    input_size = model_files_size(input);
    for (size_t c = 0; c < n_cand; c++) {
        size_t sub;
        r.step_count += wf_flow_length(w, flow_of(w, c, &sub));
    }
    for (size_t c = 0; c < n_cand && rc == OLIVE_OK; c++) {
        oir_model *m = NULL;
        char last[OLIVE_SHA256_HEX] = "";
        if (!w->n_slots) {
            sizes[c] = input_size;
            break;
        }
        if ((rc = run_candidate(&r, c, input, input_id, &m, last)) != OLIVE_OK)
            break;
        sizes[c] = r.steps[r.n_steps - 1].size_on_disk;
        /* Without a metric the first candidate is the result; size_on_disk picks the smallest. */
        if (!best || (w->size_on_disk && sizes[c] < sizes[best_c])) {
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
    if (n_cand > 1) {
        /* Numbered from 0, as the run summary's "best" and "candidates" are. */
        char *name = candidate_name(w, best_c);
        OLIVE_INFO("best of %zu candidates (numbered from 0): %zu: %s%s", n_cand, best_c, name ? name : "?",
                   w->size_on_disk ? " (smallest size on disk)" : "");
        free(name);
    }
    footprints = wf_footprints_json(input_id, w->evaluate_input_model || w->size_on_disk ? &input_size : NULL, r.steps,
                                    r.n_steps, olive_accelerator_provider(w->acc));
    history = wf_run_history_text(r.steps, r.n_steps);
    if (!footprints || !history) {
        rc = olive_fail(OLIVE_ENOMEM, "out of memory");
        goto out;
    }
    if (w->output_dir) {
        if ((rc = notify(&r, OLIVE_PROGRESS_SAVING, "save")) != OLIVE_OK ||
            (rc = write_output(&r, best ? best : input, best ? best_id : NULL, footprints, history)) != OLIVE_OK ||
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
    if (result)
        *result = summary(&r, input_id, n_cand, best_c, sizes, now() - t0);
out:
    if (r.cache.dir)
        wf_cache_close(&r.cache);
    for (size_t i = 0; i < r.n_steps; i++)
        free(r.steps[i].params);
    free(r.steps);
    free(sizes);
    free(history);
    json_decref(footprints);
    oir_model_free(best);
    oir_model_free(input);
    free(folder);
    return rc;
}
