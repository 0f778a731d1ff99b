/* Olive's kld_gradient SelectiveMixedPrecision without autograd.
 *
 * Olive fake-quantizes every Linear of a copy of the model (the student) to `bits`, runs the
 * float model (the teacher) and the student on calibration samples, and for each Linear sums
 * grad_W(loss) * (W_low - W_high) over the weight, where loss is the KL divergence of the
 * student's next-token distribution from the teacher's (mean over positions) and W_high the
 * weight fake-quantized to high_bits; the alignment is the mean over samples. That sum is the
 * directional derivative of the loss along D = W_low - W_high at the student's weights:
 *   alignment = d/de L(W_low + e D) at e = 0,
 * which is computed here by a central difference, (L(+h) - L(-h)) / 2h, with the model run by
 * ONNX Runtime: the float32 graph of the checkpoint is built once with its Linear weights as
 * graph inputs, so each run feeds the weights it needs (the teacher's, the student's, or the
 * student's with one unit moved by +-h D) without a new session.
 *
 * The difference of the two losses is taken in double from the logits:
 *   L(+h) - L(-h) = mean over positions of [lse(z+) - sum_v p(v) z+(v)] - [same for z-]
 * (p the teacher's probabilities), so the teacher's entropy cancels exactly. L is smooth along
 * the line and the central difference is exact for its quadratic part; its error is
 * h^2/6 L''' (truncation) plus ONNX Runtime's float32 rounding of the logits divided by h.
 * Measured against Olive's torch gradients on the reference checkpoints
 * (tests/data/smp/kld.json), the worst relative error of a unit's alignment is 1.4e-2 at
 * h = 1/2 and 1e-3 at 1/8 (truncation, falling as h^2), 1.5e-4 at 1/32, and 4e-4 at 1/64 and
 * 2e-3 at 1/256 (rounding, growing as 1/h): FD_STEP is 1/32 of the low-to-high difference.
 *
 * q, k and v of a layer are one unit (ONNX fuses them; Olive sums their alignments, which is
 * the derivative along their joint direction), every other Linear its own; tied embeddings
 * move with the head, as in Olive, where they share the head's parameter.
 *
 * The models run in float32 whatever the checkpoint's dtype; Olive's run in the dtype the
 * model is loaded with (load_kwargs' torch_dtype, else the checkpoint's), so on a 16-bit model
 * its gradients carry 16-bit rounding that these do not, and near-equal scores may rank apart.
 *
 * Cost: per calibration sample one teacher run and two runs per unit (a decoder of n layers
 * has about 5n + 1 units), each over the whole sample; memory: the float32 Linear weights
 * twice (the teacher's and the student's) besides ONNX Runtime's copy of the other weights. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "formats/npy.h"
#include "onnx/onnx_io.h"
#include "passes/convert/decoder_internal.h"
#include "passes/convert/decoder_plan.h"

#define FD_STEP 0.03125

typedef struct kld_q {
    int bits, group, sym;
} kld_q;

/* The calibration samples: input_ids and attention_mask [samples, tokens] (int64), one sample
 * per run as Olive batches them, and the model's other inputs (past keys and values) empty. */
typedef struct kld_data {
    olive_npy ids, mask;
    int64_t n_samples, tokens;
    size_t n_inputs;
    char **names;         /* the model's data inputs, in its order */
    olive_tensor **empty; /* per input: the empty past tensor, or NULL for ids / mask */
} kld_data;

/* A selection unit: checkpoint Linears (q, k, v, or one) that share their precision. */
typedef struct kld_unit {
    const ofmt_tensor *t[3];
    const char *module[3]; /* plan names: checkpoint name without ".weight", or "lm_head" */
    size_t n;
    double numel, alignment, score;
    size_t order; /* Olive's order, for ties */
} kld_unit;

typedef struct kld_state {
    cvt_decoder *d;
    const cvt_float_log *log;
    kld_q low, high;
    kld_unit *units;
    size_t n_units;
    float **teacher, **student; /* per logged weight: W^T and W_low^T [in, cols] */
    olive_tensor **t_teacher, **t_student;
    const olive_backend *backend;
    struct olive_backend_model *model;
    kld_data data;
    const char **names; /* data inputs, then the weights */
    const olive_tensor **inputs;
    float *probs; /* the teacher's next-token probabilities of the current sample */
    int64_t positions, vocab;
} kld_state;

/* WeightQuantizer.fake_quantize on n values (unsigned codes, min/max per group including 0). */
static void fake_quant(const float *x, int64_t n, const kld_q *q, float *out)
{
    const int64_t g = q->group > 0 ? q->group : n;
    const float maxq = (float)((1 << q->bits) - 1);
    for (int64_t s = 0; s < n; s += g) {
        float scale, zp;
        cvt_fake_quant_group(x + s, (size_t)g, q->bits, q->sym, &scale, &zp);
        for (int64_t i = s; i < s + g; i++) {
            float c = fminf(fmaxf(nearbyintf(x[i] / scale + zp), 0.0f), maxq);
            out[i] = (c - zp) * scale;
        }
    }
}

static int unit_has(const kld_unit *u, const ofmt_tensor *t)
{
    for (size_t m = 0; m < u->n; m++)
        if (u->t[m] == t)
            return 1;
    return 0;
}

static void data_close(kld_data *k)
{
    for (size_t i = 0; i < k->n_inputs; i++) {
        free(k->names[i]);
        olive_tensor_free(k->empty[i]);
    }
    free(k->names);
    free(k->empty);
    olive_npy_clear(&k->ids);
    olive_npy_clear(&k->mask);
    memset(k, 0, sizeof *k);
}

/* Only input_ids.npy and attention_mask.npy: anything else is data this model does not take. */
static int check_files(const char *folder)
{
    DIR *dir = opendir(folder);
    struct dirent *e;
    int rc = OLIVE_OK;
    if (!dir)
        return olive_fail_errno(errno, "kld_gradient: cannot open the calibration data folder", folder);
    while (rc == OLIVE_OK && (e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && !strcmp(e->d_name + n - 4, ".npy") && strcmp(e->d_name, "input_ids.npy") &&
            strcmp(e->d_name, "attention_mask.npy"))
            rc = olive_fail(OLIVE_EINVALID,
                            "kld_gradient: calibration data '%s' has %s, but the float32 model takes input_ids and "
                            "attention_mask only",
                            folder, e->d_name);
    }
    closedir(dir);
    return rc;
}

static int load_array(olive_npy *a, const char *folder, const char *name)
{
    char *path = olive_asprintf("%s/%s.npy", folder, name);
    int rc = path ? olive_npy_load(a, path) : OLIVE_ENOMEM;
    if (rc == OLIVE_OK && (a->dtype != OIR_INT64 || a->rank != 2 || a->dims[0] < 1 || a->dims[1] < 1))
        rc = olive_fail(OLIVE_EINVALID, "kld_gradient: %s: expected int64 [samples, tokens] with at least one of each",
                        path);
    else if (rc != OLIVE_OK)
        olive_fail_context(rc, "kld_gradient: calibration data");
    free(path);
    return rc;
}

/* Opens the data for the inputs of graph g (before its weights become inputs). */
static int data_open(kld_data *k, const oir_graph *g, const char *folder)
{
    OLIVE_TRY(check_files(folder));
    OLIVE_TRY(load_array(&k->ids, folder, "input_ids"));
    OLIVE_TRY(load_array(&k->mask, folder, "attention_mask"));
    if (k->ids.dims[0] != k->mask.dims[0] || k->ids.dims[1] != k->mask.dims[1])
        return olive_fail(OLIVE_EINVALID,
                          "kld_gradient: calibration data '%s': input_ids is [%" PRId64 ", %" PRId64
                          "] but attention_mask [%" PRId64 ", %" PRId64 "]",
                          folder, k->ids.dims[0], k->ids.dims[1], k->mask.dims[0], k->mask.dims[1]);
    k->n_samples = k->ids.dims[0];
    k->tokens = k->ids.dims[1];
    if (!(k->names = olive_calloc(g->n_inputs + 1, sizeof *k->names)) ||
        !(k->empty = olive_calloc(g->n_inputs + 1, sizeof *k->empty)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < g->n_inputs; i++) {
        const oir_value_info *vi = &g->inputs[i];
        const oir_type *t = vi->type;
        if (oir_graph_initializer(g, vi->name))
            continue;
        if (!(k->names[k->n_inputs] = olive_strdup(vi->name)))
            return OLIVE_ENOMEM;
        k->n_inputs++;
        if (!strcmp(vi->name, "input_ids") || !strcmp(vi->name, "attention_mask"))
            continue;
        if (strncmp(vi->name, "past_key_values.", 16) || !t || !t->has_shape || t->rank != 4 || !t->dims[1].has_value ||
            !t->dims[3].has_value)
            return olive_fail(OLIVE_EINTERNAL, "kld_gradient: the float32 model takes '%s', which has no data",
                              vi->name);
        OLIVE_TRY(olive_tensor_new(&k->empty[k->n_inputs - 1], OLIVE_DTYPE_FLOAT32,
                                   (const int64_t[]){1, t->dims[1].value, 0, t->dims[3].value}, 4));
    }
    return OLIVE_OK;
}

/* Sample s's tensors (views of the mapped files; the past inputs borrowed) into out. */
static int data_sample(const kld_data *k, int64_t s, olive_tensor **views, const olive_tensor **out)
{
    const size_t row = (size_t)k->tokens * sizeof(int64_t);
    for (size_t i = 0; i < k->n_inputs; i++) {
        const olive_npy *a = !strcmp(k->names[i], "input_ids")        ? &k->ids
                             : !strcmp(k->names[i], "attention_mask") ? &k->mask
                                                                      : NULL;
        views[i] = NULL;
        if (!a) {
            out[i] = k->empty[i];
            continue;
        }
        OLIVE_TRY(olive_tensor_wrap(&views[i], OLIVE_DTYPE_INT64, (const int64_t[]){1, k->tokens}, 2,
                                    (void *)(a->data + (size_t)s * row), row));
        out[i] = views[i];
    }
    return OLIVE_OK;
}

/* The units, from the Linear weights the float build wrote: q/k/v groups first (Olive
 * aggregates them first), then every other Linear in build order, the head last. */
static int make_units(kld_state *st)
{
    const cvt_float_log *log = st->log;
    size_t parts = 0;
    for (size_t i = 0; i < log->n; i++)
        parts += log->w[i].n_parts;
    if (!(st->units = olive_calloc(parts + 1, sizeof *st->units)))
        return OLIVE_ENOMEM;
    for (int qkv_pass = 1; qkv_pass >= 0; qkv_pass--)
        for (size_t i = 0; i < log->n; i++)
            for (size_t k = 0; k < log->w[i].n_parts; k++) {
                const ofmt_tensor *t = log->w[i].parts[k].t;
                long layer = -1, l2 = -1;
                const int is_qkv = cvt_qkv_of(t->name, &layer) >= 0;
                kld_unit *u = NULL;
                int seen = 0;
                if (is_qkv != qkv_pass)
                    continue;
                for (size_t j = 0; j < st->n_units && !seen; j++)
                    seen = unit_has(&st->units[j], t);
                if (seen)
                    continue; /* a Linear split over several MatMuls */
                for (size_t j = 0; is_qkv && j < st->n_units && !u; j++)
                    if (cvt_qkv_of(st->units[j].t[0]->name, &l2) >= 0 && l2 == layer)
                        u = &st->units[j];
                if (!u) {
                    if (st->n_units >= parts)
                        return olive_fail(OLIVE_EINTERNAL, "kld_gradient: more units than Linears");
                    u = &st->units[st->n_units++];
                    u->order = log->w[i].head ? (size_t)-1 : st->n_units;
                }
                if (u->n >= 3)
                    return olive_fail(OLIVE_EINTERNAL, "kld_gradient: a q/k/v group of more than three");
                u->t[u->n] = t;
                u->module[u->n] = log->w[i].head ? "lm_head"
                                                 : cvt_str(st->d, "%.*s", (int)(strlen(t->name) - 7), t->name);
                if (!u->module[u->n])
                    return OLIVE_ENOMEM;
                u->n++;
                u->numel += (double)ofmt_tensor_elements(t);
            }
    return OLIVE_OK;
}

/* The teacher's and the student's weights, transposed as the graph takes them. */
static int make_weights(kld_state *st)
{
    const cvt_float_log *log = st->log;
    if (!(st->teacher = olive_calloc(log->n, sizeof *st->teacher)) ||
        !(st->student = olive_calloc(log->n, sizeof *st->student)) ||
        !(st->t_teacher = olive_calloc(log->n, sizeof *st->t_teacher)) ||
        !(st->t_student = olive_calloc(log->n, sizeof *st->t_student)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < log->n; i++) {
        const cvt_float_weight *w = &log->w[i];
        const int64_t in = w->in, cols = w->cols;
        const size_t bytes = (size_t)in * (size_t)cols * sizeof(float);
        float *row, *low;
        int rc = OLIVE_OK;
        if (in % (st->low.group > 0 ? st->low.group : in) || in % (st->high.group > 0 ? st->high.group : in))
            return olive_fail(
                OLIVE_EINVALID,
                "SelectiveMixedPrecision: in_features %" PRId64 " of '%s' is not a multiple of group_size %d", in,
                w->parts[0].t->name, in % (st->low.group > 0 ? st->low.group : in) ? st->low.group : st->high.group);
        if (!(st->teacher[i] = olive_malloc(bytes)) || !(st->student[i] = olive_malloc(bytes)))
            return OLIVE_ENOMEM;
        row = olive_malloc((size_t)in * 2 * sizeof *row);
        if (!row)
            return OLIVE_ENOMEM;
        low = row + in;
        for (size_t k = 0; k < w->n_parts && rc == OLIVE_OK; k++) {
            const cvt_float_part *p = &w->parts[k];
            for (int64_t r = 0; r < p->count && rc == OLIVE_OK; r++) {
                const int64_t c = p->col0 + r;
                if ((rc = ofmt_tensor_read_f32(p->t, (uint64_t)(p->first + r), 1, row)) != OLIVE_OK) {
                    olive_fail_context(rc, "tensor '%s'", p->t->name);
                    break;
                }
                fake_quant(row, in, &st->low, low);
                for (int64_t j = 0; j < in; j++) {
                    st->teacher[i][j * cols + c] = row[j];
                    st->student[i][j * cols + c] = low[j];
                }
            }
        }
        free(row);
        OLIVE_TRY(rc);
        OLIVE_TRY(olive_tensor_wrap(&st->t_teacher[i], OLIVE_DTYPE_FLOAT32, (const int64_t[]){in, cols}, 2,
                                    st->teacher[i], bytes));
        OLIVE_TRY(olive_tensor_wrap(&st->t_student[i], OLIVE_DTYPE_FLOAT32, (const int64_t[]){in, cols}, 2,
                                    st->student[i], bytes));
        OLIVE_TRY(cvt_check_cancel(st->d));
    }
    return OLIVE_OK;
}

/* The float graph with its Linear weights as inputs, loaded in ONNX Runtime on the CPU. */
static int load_model(kld_state *st, oir_model *m)
{
    const char *base = getenv("TMPDIR");
    char *dir = olive_asprintf("%s/olive-kld-XXXXXX", base && base[0] ? base : "/tmp"), *path = NULL;
    onnx_save_options so;
    int rc = OLIVE_OK;
    st->backend = olive_backend_find("onnxruntime");
    if (!st->backend || !st->backend->rt.load) {
        free(dir);
        return olive_fail(OLIVE_EINTERNAL, "the onnxruntime backend is missing from this build");
    }
    for (size_t i = 0; i < st->log->n && rc == OLIVE_OK; i++) {
        const cvt_float_weight *w = &st->log->w[i];
        long at = oir_graph_initializer_index(m->graph, w->name);
        oir_type *t = oir_type_new_tensor(OIR_FLOAT, 2, (const int64_t[]){w->in, w->cols}, NULL);
        if (!t)
            rc = OLIVE_ENOMEM;
        else if (at < 0)
            rc = olive_fail(OLIVE_EINTERNAL, "kld_gradient: the float graph has no weight '%s'", w->name);
        else {
            oir_graph_remove_initializer(m->graph, (size_t)at);
            rc = oir_graph_add_input(m->graph, w->name, t);
        }
        oir_type_free(t);
    }
    if (rc != OLIVE_OK) {
        free(dir);
        return rc;
    }
    if (!dir)
        return OLIVE_ENOMEM;
    if (!mkdtemp(dir)) {
        rc = olive_fail_errno(errno, "cannot create a temporary folder for the kld_gradient model", dir);
        free(dir);
        return rc;
    }
    if (!(path = olive_path_join(dir, "model.onnx")))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK) {
        onnx_save_options_init(&so);
        rc = onnx_save_file(m, path, &so);
    }
    if (rc == OLIVE_OK)
        rc = st->backend->rt.load(&st->model, st->backend, path, "CPUExecutionProvider", "");
    if (rc != OLIVE_OK)
        olive_fail_context(rc, "kld_gradient: loading the float32 model in ONNX Runtime");
    olive_rmtree(dir);
    free(dir);
    free(path);
    return rc;
}

/* Runs the model on the current sample with the weights in st->inputs; *out gets the logits. */
static int run_logits(kld_state *st, olive_tensor **out)
{
    static const char *const logits[] = {"logits"};
    const size_t n = st->data.n_inputs + st->log->n;
    int rc = st->backend->rt.run(st->model, st->names, st->inputs, n, logits, 1, out);
    if (rc != OLIVE_OK)
        return olive_fail_context(rc, "kld_gradient: running the float32 model");
    if (olive_tensor_dtype(*out) != OLIVE_DTYPE_FLOAT32 || olive_tensor_rank(*out) != 3) {
        olive_tensor_free(*out);
        *out = NULL;
        return olive_fail(OLIVE_EINTERNAL, "kld_gradient: the model's logits are not float [batch, sequence, vocab]");
    }
    return cvt_check_cancel(st->d);
}

/* The teacher's probabilities of the current sample, in st->probs. */
static int teacher_probs(kld_state *st)
{
    olive_tensor *out = NULL;
    const float *z;
    OLIVE_TRY(run_logits(st, &out));
    z = olive_tensor_data(out);
    st->vocab = olive_tensor_dim(out, 2);
    st->positions = olive_tensor_dim(out, 0) * olive_tensor_dim(out, 1);
    free(st->probs);
    if (!(st->probs = olive_malloc((size_t)(st->positions * st->vocab) * sizeof *st->probs))) {
        olive_tensor_free(out);
        return OLIVE_ENOMEM;
    }
    for (int64_t p = 0; p < st->positions; p++) {
        const float *zp = z + p * st->vocab;
        double mx = -INFINITY, sum = 0;
        for (int64_t v = 0; v < st->vocab; v++)
            mx = zp[v] > mx ? zp[v] : mx;
        for (int64_t v = 0; v < st->vocab; v++)
            sum += exp((double)zp[v] - mx);
        for (int64_t v = 0; v < st->vocab; v++)
            st->probs[p * st->vocab + v] = (float)(exp((double)zp[v] - mx) / sum);
    }
    olive_tensor_free(out);
    return OLIVE_OK;
}

/* sum over positions of the cross-entropy part of KL(teacher || model): lse(z) - sum_v p(v) z(v). */
static int cross_entropy(kld_state *st, double *out)
{
    olive_tensor *o = NULL;
    const float *z;
    double total = 0;
    OLIVE_TRY(run_logits(st, &o));
    if (olive_tensor_dim(o, 2) != st->vocab || olive_tensor_dim(o, 0) * olive_tensor_dim(o, 1) != st->positions) {
        olive_tensor_free(o);
        return olive_fail(OLIVE_EINTERNAL, "kld_gradient: the student's logits differ in shape from the teacher's");
    }
    z = olive_tensor_data(o);
    for (int64_t p = 0; p < st->positions; p++) {
        const float *zp = z + p * st->vocab, *pp = st->probs + p * st->vocab;
        double mx = -INFINITY, sum = 0, dot = 0;
        for (int64_t v = 0; v < st->vocab; v++)
            mx = zp[v] > mx ? zp[v] : mx;
        for (int64_t v = 0; v < st->vocab; v++) {
            sum += exp((double)zp[v] - mx);
            dot += (double)pp[v] * (double)zp[v];
        }
        total += mx + log(sum) - dot;
    }
    olive_tensor_free(o);
    *out = total;
    return OLIVE_OK;
}

static int weight_has(const cvt_float_weight *w, const kld_unit *u)
{
    for (size_t k = 0; k < w->n_parts; k++)
        if (unit_has(u, w->parts[k].t))
            return 1;
    return 0;
}

/* The student's weight `at` with unit u's rows moved by +h D (moved[0]) and -h D (moved[1]). */
static int move_weight(kld_state *st, size_t at, const kld_unit *u, float *moved[2])
{
    const cvt_float_weight *w = &st->log->w[at];
    const int64_t in = w->in, cols = w->cols;
    const size_t n = (size_t)in * (size_t)cols;
    float *row = olive_malloc((size_t)in * 3 * sizeof *row);
    if (!row || !(moved[0] = olive_malloc(n * sizeof(float))) || !(moved[1] = olive_malloc(n * sizeof(float)))) {
        free(row);
        return OLIVE_ENOMEM;
    }
    memcpy(moved[0], st->student[at], n * sizeof(float));
    memcpy(moved[1], st->student[at], n * sizeof(float));
    for (size_t k = 0; k < w->n_parts; k++) {
        const cvt_float_part *p = &w->parts[k];
        if (!unit_has(u, p->t))
            continue;
        for (int64_t r = 0; r < p->count; r++) {
            const int64_t c = p->col0 + r;
            float *x = row, *lo = row + in, *hi = row + 2 * in;
            for (int64_t j = 0; j < in; j++)
                x[j] = st->teacher[at][j * cols + c];
            fake_quant(x, in, &st->low, lo);
            fake_quant(x, in, &st->high, hi);
            for (int64_t j = 0; j < in; j++) {
                const double dir = (double)lo[j] - (double)hi[j];
                moved[0][j * cols + c] = (float)((double)lo[j] + FD_STEP * dir);
                moved[1][j * cols + c] = (float)((double)lo[j] - FD_STEP * dir);
            }
        }
    }
    free(row);
    return OLIVE_OK;
}

/* The alignment of unit u on the current sample: the central difference along D (on every
 * weight that holds rows of the unit's Linears). */
static int unit_alignment(kld_state *st, const kld_unit *u, double *out)
{
    const cvt_float_log *log = st->log;
    const size_t base = st->data.n_inputs;
    float **moved = olive_calloc(2 * log->n, sizeof *moved);
    olive_tensor **tm = olive_calloc(2 * log->n, sizeof *tm);
    double ce[2] = {0, 0};
    int rc = OLIVE_OK;
    if (!moved || !tm)
        rc = OLIVE_ENOMEM;
    for (size_t i = 0; i < log->n && rc == OLIVE_OK; i++) {
        const cvt_float_weight *w = &log->w[i];
        if (!weight_has(w, u))
            continue;
        rc = move_weight(st, i, u, &moved[2 * i]);
        for (int s = 0; s < 2 && rc == OLIVE_OK; s++)
            rc = olive_tensor_wrap(&tm[2 * i + (size_t)s], OLIVE_DTYPE_FLOAT32, (const int64_t[]){w->in, w->cols}, 2,
                                   moved[2 * i + (size_t)s], (size_t)(w->in * w->cols) * sizeof(float));
    }
    for (int s = 0; s < 2 && rc == OLIVE_OK; s++) {
        for (size_t i = 0; i < log->n; i++)
            st->inputs[base + i] = tm[2 * i + (size_t)s] ? tm[2 * i + (size_t)s] : st->t_student[i];
        rc = cross_entropy(st, &ce[s]);
    }
    for (size_t i = 0; i < log->n; i++)
        st->inputs[base + i] = st->t_student[i];
    if (rc == OLIVE_OK)
        *out = (ce[0] - ce[1]) / ((double)st->positions * 2.0 * FD_STEP);
    for (size_t i = 0; tm && moved && i < 2 * log->n; i++) {
        olive_tensor_free(tm[i]);
        free(moved[i]);
    }
    free(tm);
    free(moved);
    return rc;
}

static int by_score(const void *a, const void *b)
{
    const kld_unit *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int score_samples(kld_state *st)
{
    const cvt_float_log *log = st->log;
    const size_t nd = st->data.n_inputs;
    const int64_t samples = st->data.n_samples;
    olive_tensor **views = olive_calloc(nd ? nd : 1, sizeof *views);
    int rc = OLIVE_OK;
    if (!views || !(st->names = olive_calloc(nd + log->n, sizeof *st->names)) ||
        !(st->inputs = olive_calloc(nd + log->n, sizeof *st->inputs))) {
        free(views);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < nd; i++)
        st->names[i] = st->data.names[i];
    for (size_t i = 0; i < log->n; i++)
        st->names[nd + i] = log->w[i].name;
    OLIVE_INFO("kld_gradient: %zu units on %" PRId64 " calibration samples: %" PRId64
               " runs of the float32 model in ONNX Runtime (per sample, the teacher once and each unit twice)",
               st->n_units, samples, samples * (int64_t)(1 + 2 * st->n_units));
    for (int64_t s = 0; s < samples && rc == OLIVE_OK; s++) {
        rc = data_sample(&st->data, s, views, st->inputs);
        for (size_t i = 0; i < log->n; i++)
            st->inputs[nd + i] = st->t_teacher[i];
        if (rc == OLIVE_OK)
            rc = teacher_probs(st);
        for (size_t i = 0; i < log->n; i++)
            st->inputs[nd + i] = st->t_student[i];
        for (size_t k = 0; k < st->n_units && rc == OLIVE_OK; k++) {
            double a = 0;
            rc = unit_alignment(st, &st->units[k], &a);
            st->units[k].alignment += a;
        }
        for (size_t i = 0; i < nd; i++) {
            olive_tensor_free(views[i]);
            views[i] = NULL;
        }
        if (rc != OLIVE_OK)
            olive_fail_context(rc, "kld_gradient: calibration sample %" PRId64, s);
        else
            OLIVE_INFO("kld_gradient: sample %" PRId64 " of %" PRId64 " scored", s + 1, samples);
    }
    free(views);
    return rc;
}

/* A progress callback for the float build: it reports nothing new, but passes a request to stop. */
static int quiet_progress(olive_pass_ctx *ctx, double fraction)
{
    (void)fraction;
    return olive_pass_progress(ctx->user, 0);
}

static void state_free(kld_state *st)
{
    for (size_t i = 0; st->log && i < st->log->n; i++) {
        if (st->t_teacher)
            olive_tensor_free(st->t_teacher[i]);
        if (st->t_student)
            olive_tensor_free(st->t_student[i]);
        if (st->teacher)
            free(st->teacher[i]);
        if (st->student)
            free(st->student[i]);
    }
    free(st->t_teacher);
    free(st->t_student);
    free(st->teacher);
    free(st->student);
    if (st->model)
        st->backend->rt.free(st->model);
    data_close(&st->data);
    free(st->names);
    free(st->inputs);
    free(st->probs);
    free(st->units);
}

int cvt_plan_kld(cvt_decoder *d, cvt_quant_plan *p, const cvt_score_settings *s)
{
    kld_state st;
    cvt_float_log log = {0};
    olive_pass_ctx quiet = {d->ctx ? d->ctx->accelerator : NULL, quiet_progress, d->ctx};
    oir_model *m = oir_model_new();
    double total = 0, promoted = 0;
    int rc;
    memset(&st, 0, sizeof st);
    st.d = d;
    st.log = &log;
    st.low = (kld_q){s->bits, s->group_size, s->symmetric};
    st.high = (kld_q){s->high_bits, s->high_group_size, s->high_symmetric};
    if (!m)
        return OLIVE_ENOMEM;
    if (!d->opt.selection_data || !d->opt.selection_data[0]) {
        oir_model_free(m);
        return olive_fail(OLIVE_EINVALID,
                          "quant_plan: the kld_gradient selection needs calibration data (selection_data: a folder "
                          "of input_ids.npy and attention_mask.npy); a workflow gives it the "
                          "SelectiveMixedPrecision pass's data");
    }
    OLIVE_INFO("kld_gradient: building the float32 model of the checkpoint");
    rc = cvt_decoder_build_float(m, d->ck, d->arch, &quiet, &log);
    if (rc == OLIVE_OK)
        rc = data_open(&st.data, m->graph, d->opt.selection_data);
    if (rc == OLIVE_OK)
        rc = make_units(&st);
    if (rc == OLIVE_OK)
        rc = make_weights(&st);
    if (rc == OLIVE_OK)
        rc = load_model(&st, m);
    oir_model_free(m);
    if (rc == OLIVE_OK)
        rc = score_samples(&st);
    if (rc == OLIVE_OK) {
        for (size_t k = 0; k < st.n_units; k++) {
            kld_unit *u = &st.units[k];
            u->alignment /= (double)st.data.n_samples;
            u->score = -u->alignment / (fmax(u->numel, 1) / 1e6);
            total += u->numel;
            OLIVE_DEBUG("kld_gradient: unit %s%s%s%s%s alignment %.9g score %.9g", u->module[0], u->n > 1 ? "+" : "",
                        u->n > 1 ? u->module[1] : "", u->n > 2 ? "+" : "", u->n > 2 ? u->module[2] : "", u->alignment,
                        u->score);
        }
        qsort(st.units, st.n_units, sizeof *st.units, by_score);
        for (size_t k = 0; k < st.n_units && rc == OLIVE_OK; k++) {
            promoted += st.units[k].numel;
            for (size_t j = 0; j < st.units[k].n && rc == OLIVE_OK; j++)
                rc = cvt_plan_select(p, st.units[k].module[j]);
            if (promoted >= total * (1 - s->ratio))
                break;
        }
        OLIVE_INFO("kld_gradient: %.4f of the Linear parameters stay at %d bits", 1 - promoted / total, s->bits);
    }
    state_free(&st);
    cvt_float_log_clear(&log);
    return rc;
}
