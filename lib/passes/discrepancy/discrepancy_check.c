/* discrepancy_check: runs the model and a reference model in ONNX Runtime on the same inputs
 * and compares their first outputs element-wise, as Olive's OnnxDiscrepancyCheck does: the
 * largest absolute difference and the counts of elements that differ by more than 0.1 and
 * 0.01 are reported, and the pass fails when one exceeds its limit (max_mae,
 * max_elements_above_0_1, max_elements_above_0_01; an empty limit is not checked). The model
 * is left as it is.
 *
 * The inputs are Olive's: ones, of each graph input's type and shape, its symbolic dimensions
 * set by Olive's table (batch_size 1, past_sequence_length 2, total_sequence_length 3,
 * sequence_length 1). Olive's reference is a PyTorch checkpoint run by transformers; here it is
 * an ONNX model (a file, or a folder holding model.onnx), or a Hugging Face checkpoint that
 * libolive's convert pass turns into a float32 ONNX model first. Olive's generation
 * comparison (genai_model_path) needs transformers' generate and is refused. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backends/backend.h"
#include "backends/tensor.h"
#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/half.h"
#include "core/log.h"
#include "core/status.h"
#include "formats/checkpoint.h"
#include "onnx/onnx_io.h"
#include "passes/convert/convert.h"
#include "passes/discrepancy/discrepancy_check.h"

#define PASS "discrepancy_check"

/* Olive's sizes of the symbolic dimensions of decoder inputs. */
static const struct {
    const char *name;
    int64_t value;
} known_dims[] = {{"batch_size", 1}, {"past_sequence_length", 2}, {"total_sequence_length", 3}, {"sequence_length", 1}};

typedef struct feeds {
    size_t n;
    char **names;
    olive_tensor **tensors;
} feeds;

static void feeds_free(feeds *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->names[i]);
        olive_tensor_free(f->tensors[i]);
    }
    free(f->names);
    free(f->tensors);
}

static int dim_of(const oir_value_info *in, const oir_dim *d, int64_t *out)
{
    if (d->has_value) {
        *out = d->value;
        return OLIVE_OK;
    }
    for (size_t k = 0; k < sizeof known_dims / sizeof *known_dims; k++)
        if (d->param && !strcmp(d->param, known_dims[k].name)) {
            *out = known_dims[k].value;
            return OLIVE_OK;
        }
    return olive_fail(OLIVE_EUNSUPPORTED,
                      "%s: input '%s' has the dimension '%s', which has no size here; known symbols: "
                      "batch_size, past_sequence_length, sequence_length, total_sequence_length",
                      PASS, in->name, d->param ? d->param : "(unnamed)");
}

/* A tensor of ones of the input's type. */
static int ones(olive_tensor **out, const oir_value_info *in)
{
    const oir_type *t = in->type;
    int64_t shape[OLIVE_TENSOR_MAX_RANK];
    olive_tensor *x;
    uint8_t *p;
    if (!t || t->kind != OIR_TYPE_TENSOR || !t->has_shape || t->rank > OLIVE_TENSOR_MAX_RANK)
        return olive_fail(OLIVE_EUNSUPPORTED, "%s: input '%s' is not a tensor of known rank", PASS, in->name);
    for (size_t d = 0; d < t->rank; d++)
        OLIVE_TRY(dim_of(in, &t->dims[d], &shape[d]));
    OLIVE_TRY(olive_tensor_new(&x, (olive_dtype)t->elem_type, shape, t->rank));
    p = x->data;
    for (uint64_t i = 0; i < x->count; i++) {
        switch (x->dtype) {
        case OLIVE_DTYPE_FLOAT32: ((float *)p)[i] = 1.0f; break;
        case OLIVE_DTYPE_DOUBLE: ((double *)p)[i] = 1.0; break;
        case OLIVE_DTYPE_FLOAT16: ((uint16_t *)p)[i] = olive_float_to_half(1.0f); break;
        case OLIVE_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = olive_float_to_bfloat16(1.0f); break;
        case OLIVE_DTYPE_INT64: ((int64_t *)p)[i] = 1; break;
        case OLIVE_DTYPE_INT32: ((int32_t *)p)[i] = 1; break;
        case OLIVE_DTYPE_INT16: ((int16_t *)p)[i] = 1; break;
        case OLIVE_DTYPE_UINT16: ((uint16_t *)p)[i] = 1; break;
        case OLIVE_DTYPE_UINT32: ((uint32_t *)p)[i] = 1; break;
        case OLIVE_DTYPE_UINT64: ((uint64_t *)p)[i] = 1; break;
        case OLIVE_DTYPE_INT8:
        case OLIVE_DTYPE_UINT8:
        case OLIVE_DTYPE_BOOL: p[i] = 1; break;
        default:
            olive_tensor_free(x);
            return olive_fail(OLIVE_EUNSUPPORTED, "%s: input '%s' has a type (%d) the check cannot fill", PASS,
                              in->name, (int)t->elem_type);
        }
    }
    *out = x;
    return OLIVE_OK;
}

/* Ones for every graph input that has no initializer for a default. */
static int make_feeds(const oir_graph *g, feeds *f)
{
    f->names = olive_calloc(g->n_inputs ? g->n_inputs : 1, sizeof *f->names);
    f->tensors = olive_calloc(g->n_inputs ? g->n_inputs : 1, sizeof *f->tensors);
    if (!f->names || !f->tensors)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < g->n_inputs; i++) {
        if (oir_graph_initializer(g, g->inputs[i].name))
            continue;
        OLIVE_TRY(ones(&f->tensors[f->n], &g->inputs[i]));
        if (!(f->names[f->n] = olive_strdup(g->inputs[i].name))) {
            olive_tensor_free(f->tensors[f->n]);
            return OLIVE_ENOMEM;
        }
        f->n++;
    }
    return OLIVE_OK;
}

static char *temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = olive_asprintf("%s/olive-discrepancy-XXXXXX", base && base[0] ? base : "/tmp");
    if (dir && !mkdtemp(dir)) {
        olive_fail_errno(errno, "cannot create a temporary folder for the discrepancy check", dir);
        free(dir);
        return NULL;
    }
    return dir;
}

static int save_into(const oir_model *m, const char *dir, char **path)
{
    onnx_save_options so;
    if (!(*path = olive_path_join(dir, "model.onnx")))
        return OLIVE_ENOMEM;
    onnx_save_options_init(&so);
    return onnx_save_file(m, *path, &so);
}

/* The reference as an ONNX file: itself, the model.onnx of a folder, or a checkpoint converted
 * to float32 into `dir`. *path is owned by the caller. */
static int reference_file(const char *ref, const char *dir, char **path)
{
    struct stat st;
    *path = NULL;
    if (ofmt_checkpoint_probe(ref)) {
        static const char *const keys[] = {"precision", "execution_provider"};
        static const char *const vals[] = {"fp32", "cpu"};
        const olive_pass_def *d = &olive_pass_convert;
        char **values = olive_calloc(d->n_params ? d->n_params : 1, sizeof *values);
        olive_pass_args args = {.def = d, .values = values};
        oir_model *m = oir_model_new();
        int rc = values && m ? OLIVE_OK : OLIVE_ENOMEM;
        if (rc == OLIVE_OK && !(m->checkpoint_path = olive_strdup(ref)))
            rc = OLIVE_ENOMEM;
        for (size_t i = 0; values && i < d->n_params; i++) {
            values[i] = (char *)d->params[i].default_value;
            for (size_t k = 0; k < 2; k++)
                if (!strcmp(keys[k], d->params[i].name))
                    values[i] = (char *)vals[k];
        }
        if (rc == OLIVE_OK)
            rc = olive_pass_run_def(d, &args, m, NULL);
        if (rc == OLIVE_OK)
            rc = save_into(m, dir, path);
        if (rc != OLIVE_OK)
            olive_fail_context(rc, "%s: converting the reference checkpoint '%s' to float32", PASS, ref);
        oir_model_free(m);
        free(values);
        return rc;
    }
    if (stat(ref, &st) != 0)
        return olive_fail(OLIVE_ENOTFOUND, "%s: reference_model_path '%s' does not exist", PASS, ref);
    if (S_ISDIR(st.st_mode)) {
        if (!(*path = olive_path_join(ref, "model.onnx")))
            return OLIVE_ENOMEM;
        if (stat(*path, &st) != 0 || !S_ISREG(st.st_mode))
            return olive_fail(OLIVE_ENOTFOUND,
                              "%s: reference_model_path '%s' is a folder with neither model.onnx nor a Hugging Face "
                              "checkpoint",
                              PASS, ref);
        return OLIVE_OK;
    }
    return (*path = olive_strdup(ref)) ? OLIVE_OK : OLIVE_ENOMEM;
}

/* Runs `path` on the feeds it declares (each must be among them); its first output into *out. */
static int run_model(const olive_backend *be, const char *path, const char *provider, const feeds *f, const char *what,
                     olive_tensor **out)
{
    struct olive_backend_model *model = NULL;
    const char **names = NULL;
    const olive_tensor **ins = NULL;
    size_t n = 0, count;
    olive_backend_io io;
    int rc = be->rt.load(&model, be, path, provider, "");
    if (rc != OLIVE_OK)
        return olive_fail_context(rc, "%s: loading the %s in ONNX Runtime", PASS, what);
    count = be->rt.io_count(model, 0);
    names = olive_calloc(count ? count : 1, sizeof *names);
    ins = olive_calloc(count ? count : 1, sizeof *ins);
    if (!names || !ins)
        rc = OLIVE_ENOMEM;
    for (size_t i = 0; i < count && rc == OLIVE_OK; i++) {
        size_t k = 0;
        if ((rc = be->rt.io_info(model, 0, i, &io)) != OLIVE_OK)
            break;
        while (k < f->n && strcmp(f->names[k], io.name))
            k++;
        if (k == f->n)
            rc = olive_fail(OLIVE_EINVALID, "%s: the %s's input '%s' is not an input of the model checked", PASS, what,
                            io.name);
        else {
            names[n] = f->names[k];
            ins[n++] = f->tensors[k];
        }
    }
    if (rc == OLIVE_OK && be->rt.io_count(model, 1) == 0)
        rc = olive_fail(OLIVE_EFORMAT, "%s: the %s has no output", PASS, what);
    if (rc == OLIVE_OK && (rc = be->rt.io_info(model, 1, 0, &io)) == OLIVE_OK) {
        const char *first = io.name;
        rc = be->rt.run(model, names, ins, n, &first, 1, out);
        if (rc != OLIVE_OK)
            olive_fail_context(rc, "%s: running the %s", PASS, what);
    }
    free(names);
    free(ins);
    be->rt.free(model);
    return rc;
}

static int value_at(const olive_tensor *t, uint64_t i, double *v)
{
    switch (t->dtype) {
    case OLIVE_DTYPE_FLOAT32: *v = ((const float *)t->data)[i]; return 1;
    case OLIVE_DTYPE_DOUBLE: *v = ((const double *)t->data)[i]; return 1;
    case OLIVE_DTYPE_FLOAT16: *v = olive_half_to_float(((const uint16_t *)t->data)[i]); return 1;
    case OLIVE_DTYPE_BFLOAT16: *v = olive_bfloat16_to_float(((const uint16_t *)t->data)[i]); return 1;
    default: return 0;
    }
}

/* An optional limit: "" is none; otherwise a number (an integer when `integer`). */
static int limit_of(const olive_pass_args *args, const char *name, int integer, int *set, double *value)
{
    const char *s = olive_args_string(args, name);
    char *end;
    *set = 0;
    if (!s[0] || !strcmp(s, "null") || !strcmp(s, "None"))
        return OLIVE_OK;
    errno = 0;
    *value = integer ? (double)strtoll(s, &end, 10) : strtod(s, &end);
    if (*end || errno || !isfinite(*value) || *value < 0)
        return olive_fail(OLIVE_EINVALID, "%s: %s must be a non-negative %s, not '%s'", PASS, name,
                          integer ? "integer" : "number", s);
    *set = 1;
    return OLIVE_OK;
}

static int compare(const olive_tensor *cand, const olive_tensor *ref, const olive_pass_args *args)
{
    double max_abs = 0, mae = 0, above1 = 0, above01 = 0;
    uint64_t n1 = 0, n01 = 0;
    int set_mae, set1, set01;
    olive_strbuf fails = {0};
    int rc;
    OLIVE_TRY(limit_of(args, "max_mae", 0, &set_mae, &mae));
    OLIVE_TRY(limit_of(args, "max_elements_above_0_1", 1, &set1, &above1));
    OLIVE_TRY(limit_of(args, "max_elements_above_0_01", 1, &set01, &above01));
    if (cand->rank != ref->rank || memcmp(cand->shape, ref->shape, cand->rank * sizeof *cand->shape))
        return olive_fail(OLIVE_EINVALID,
                          "%s: the first outputs differ in shape (rank %zu, %llu elements against "
                          "the reference's rank %zu, %llu elements)",
                          PASS, cand->rank, (unsigned long long)cand->count, ref->rank, (unsigned long long)ref->count);
    for (uint64_t i = 0; i < cand->count; i++) {
        double a, b, d;
        if (!value_at(cand, i, &a) || !value_at(ref, i, &b))
            return olive_fail(OLIVE_EUNSUPPORTED, "%s: the first outputs are not floating-point tensors", PASS);
        d = fabs(a - b);
        if (isnan(d)) /* NaN on one side only is as far apart as it gets */
            d = isnan(a) && isnan(b) ? 0 : INFINITY;
        if (d > max_abs)
            max_abs = d;
        n1 += d > 0.1;
        n01 += d > 0.01;
    }
    OLIVE_INFO("%s: max_abs_error=%.6f, elements_above_0.1=%llu/%llu, elements_above_0.01=%llu/%llu", PASS, max_abs,
               (unsigned long long)n1, (unsigned long long)cand->count, (unsigned long long)n01,
               (unsigned long long)cand->count);
    olive_strbuf_append(&fails, "");
    if (set_mae && max_abs > mae)
        olive_strbuf_printf(&fails, "; max absolute error %.6f exceeds max_mae %.6f", max_abs, mae);
    if (set1 && (double)n1 > above1)
        olive_strbuf_printf(&fails, "; %llu elements differ by more than 0.1, over max_elements_above_0_1 %.0f",
                            (unsigned long long)n1, above1);
    if (set01 && (double)n01 > above01)
        olive_strbuf_printf(&fails, "; %llu elements differ by more than 0.01, over max_elements_above_0_01 %.0f",
                            (unsigned long long)n01, above01);
    if (!fails.data)
        return OLIVE_ENOMEM;
    rc = fails.len
             ? olive_fail(OLIVE_EINVALID, "%s: the model's outputs differ from the reference's%s", PASS, fails.data)
             : OLIVE_OK;
    olive_strbuf_free(&fails);
    return rc;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    const char *ref = olive_args_string(args, "reference_model_path");
    const char *provider = ctx && ctx->accelerator ? olive_accelerator_provider(ctx->accelerator)
                                                   : "CPUExecutionProvider";
    const olive_backend *be = olive_backend_find("onnxruntime");
    feeds f = {0};
    char *dir = NULL, *cand_path = NULL, *ref_path = NULL;
    olive_tensor *cand = NULL, *want = NULL;
    int set;
    double unused;
    int rc;
    if (!ref[0])
        return olive_fail(OLIVE_EINVALID, "%s: reference_model_path is required", PASS);
    if (olive_args_string(args, "genai_model_path")[0] ||
        (olive_args_string(args, "min_longest_common_tokens")[0] &&
         strcmp(olive_args_string(args, "min_longest_common_tokens"), "null")))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: genai_model_path / min_longest_common_tokens compare transformers' generation with "
                          "ONNX Runtime GenAI's, which needs PyTorch; compare outputs with the max_* limits",
                          PASS);
    /* the limits are checked before anything runs */
    OLIVE_TRY(limit_of(args, "max_mae", 0, &set, &unused));
    OLIVE_TRY(limit_of(args, "max_elements_above_0_1", 1, &set, &unused));
    OLIVE_TRY(limit_of(args, "max_elements_above_0_01", 1, &set, &unused));
    if (!be || !be->rt.load)
        return olive_fail(OLIVE_EINTERNAL, "the onnxruntime backend is missing from this build");
    rc = make_feeds(m->graph, &f);
    if (rc == OLIVE_OK && !(dir = temp_dir()))
        rc = olive_error_code() ? olive_error_code() : OLIVE_ENOMEM;
    if (rc == OLIVE_OK) {
        char *cdir = olive_path_join(dir, "candidate"), *rdir = olive_path_join(dir, "reference");
        if (!cdir || !rdir || mkdir(cdir, 0700) || mkdir(rdir, 0700))
            rc = cdir && rdir ? olive_fail_errno(errno, "cannot create a temporary folder", dir) : OLIVE_ENOMEM;
        if (rc == OLIVE_OK && (rc = save_into(m, cdir, &cand_path)) != OLIVE_OK)
            olive_fail_context(rc, "%s: writing the model to run it", PASS);
        if (rc == OLIVE_OK)
            rc = reference_file(ref, rdir, &ref_path);
        free(cdir);
        free(rdir);
    }
    if (rc == OLIVE_OK)
        rc = run_model(be, cand_path, provider, &f, "model", &cand);
    if (rc == OLIVE_OK)
        rc = run_model(be, ref_path, provider, &f, "reference model", &want);
    if (rc == OLIVE_OK)
        rc = compare(cand, want, args);
    olive_tensor_free(cand);
    olive_tensor_free(want);
    if (dir)
        olive_rmtree(dir);
    free(dir);
    free(cand_path);
    free(ref_path);
    feeds_free(&f);
    if (rc == OLIVE_OK)
        rc = olive_pass_progress(ctx, 1.0);
    return rc;
}

static const olive_param_spec params[] = {
    {.name = "reference_model_path",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "The reference: an ONNX model (file or folder) or a Hugging Face checkpoint (required)"},
    {.name = "max_mae",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Fails when the largest absolute difference exceeds this number (empty: not checked)"},
    {.name = "max_elements_above_0_1",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Fails when more elements than this differ by more than 0.1 (empty: not checked)"},
    {.name = "max_elements_above_0_01",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Fails when more elements than this differ by more than 0.01 (empty: not checked)"},
    {.name = "genai_model_path",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Olive's generation comparison with transformers (refused: it needs PyTorch)"},
    {.name = "generate_prompt",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Olive's prompt for the generation comparison (unused here)",
     .details = "Olive's default is \"The capital of France is\"; empty here, since the comparison is refused"},
    {.name = "generate_max_new_tokens",
     .type = OLIVE_PARAM_INT,
     .default_value = "32",
     .min = 1,
     .max = 1e9,
     .help = "Olive's token count for the generation comparison (unused here)"},
    {.name = "min_longest_common_tokens",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Olive's generation limit (refused when set: it needs PyTorch)"},
};

static const olive_pass_type olive_types[] = {{"OnnxDiscrepancyCheck", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_discrepancy_check = {
    .name = "discrepancy_check",
    .summary = "Fails when the model's first output differs from a reference model's beyond the limits",
    .details = "Runs the model and the reference in ONNX Runtime on Olive's inputs (ones; symbolic dimensions "
               "batch_size 1, past_sequence_length 2, total_sequence_length 3, sequence_length 1) and compares "
               "their first outputs: the largest absolute difference and the elements that differ by more than 0.1 "
               "and 0.01, logged, and checked against max_mae, max_elements_above_0_1 and "
               "max_elements_above_0_01. The reference is an ONNX model or a Hugging Face checkpoint, which is "
               "converted to float32 first (Olive runs it in transformers instead). The model is not changed.",
    .flags = OLIVE_PASS_DEPENDS_ON_ACCELERATOR,
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
