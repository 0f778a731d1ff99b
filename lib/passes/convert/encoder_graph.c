/* Graph building the encoders share: nodes named after their output, graph inputs and
 * outputs, int64 constants, the precision parameter and the files that go next to the model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "passes/convert/encoder.h"

#define NAME_MAX_LEN 200

int enc_node(oir_graph *g, oir_node **node, const char *op, const char *domain, size_t n_in, const char *const *in,
             size_t n_out, const char *const *out)
{
    char name[NAME_MAX_LEN + 2];
    oir_node *n;
    snprintf(name, sizeof name, "/%s", out[0]);
    if (!(n = oir_node_new(op, domain, name, n_in, in, n_out, out)))
        return OLIVE_ENOMEM;
    if (oir_graph_add_node(g, n) != OLIVE_OK) {
        oir_node_free(n);
        return OLIVE_ENOMEM;
    }
    if (node)
        *node = n;
    return OLIVE_OK;
}

int enc_io(oir_graph *g, int output, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
           const char *const *params)
{
    oir_type *t = oir_type_new_tensor(dtype, rank, dims, params);
    int rc = !t ? OLIVE_ENOMEM : output ? oir_graph_add_output(g, name, t) : oir_graph_add_input(g, name, t);
    oir_type_free(t);
    return rc;
}

int enc_int64(oir_graph *g, const char *name, size_t rank, const int64_t *dims, const int64_t *values, size_t count)
{
    oir_tensor *t = oir_tensor_new(name, OIR_INT64, rank, dims);
    int rc = t ? oir_tensor_set_copy(t, values, count * sizeof *values) : OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = oir_graph_add_initializer(g, t);
    if (rc != OLIVE_OK)
        oir_tensor_free(t);
    return rc;
}

int enc_precision(const olive_pass_args *args, const char *family, int32_t *dtype, int *bits)
{
    const char *p = args && args->def ? olive_args_string(args, "precision") : "";
    *dtype = OIR_FLOAT;
    *bits = 0;
    if (!strcmp(p, "fp16"))
        *dtype = OIR_FLOAT16;
    else if (!strcmp(p, "int4"))
        *bits = 4;
    else if (!strcmp(p, "int8"))
        *bits = 8;
    else if (p[0] && strcmp(p, "fp32"))
        return olive_fail(OLIVE_EUNSUPPORTED, "precision '%s' is not supported for %s (fp32, fp16, int4 and int8 are)",
                          p, family);
    return OLIVE_OK;
}

int enc_companions(oir_model *m, const ofmt_checkpoint *ck)
{
    char *text;
    int rc;
    for (size_t i = 0; i < ck->n_copy_files; i++)
        OLIVE_TRY(oir_model_add_companion_file(m, olive_path_basename(ck->copy_files[i]), ck->copy_files[i]));
    for (size_t i = 0; i < ck->n_generated; i++)
        OLIVE_TRY(oir_model_add_companion_text(m, ck->generated[i].name, ck->generated[i].text));
    if (!(text = json_dumps(ck->config, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    rc = oir_model_add_companion_text(m, "config.json", text);
    free(text);
    return rc;
}

int enc_gemm(const enc_weights *w, const char *name, int prefixed, int has_bias, const char *in, int64_t in_dim,
             int64_t out_dim, const char *out)
{
    char wname[NAME_MAX_LEN + 8], bname[NAME_MAX_LEN + 8];
    int64_t wdims[2] = {out_dim, in_dim};
    float *data = NULL;
    oir_node *n;

    /* Initializers keep the checkpoint's names (without the base model's prefix). */
    snprintf(wname, sizeof wname, "%s.weight", name);
    snprintf(bname, sizeof bname, "%s.bias", name);
    OLIVE_TRY(enc_read(w, prefixed, wname, 2, wdims, &data));
    OLIVE_TRY(enc_add_init(w, wname, OIR_FLOAT, 2, wdims, data));
    if (has_bias) {
        OLIVE_TRY(enc_read(w, prefixed, bname, 1, &out_dim, &data));
        OLIVE_TRY(enc_add_init(w, bname, OIR_FLOAT, 1, &out_dim, data));
    }
    const char *ins[] = {in, wname, bname};
    OLIVE_TRY(enc_node(w->g, &n, "Gemm", "", has_bias ? 3 : 2, ins, 1, &out));
    return oir_node_set_attr_int(n, "transB", 1);
}

int enc_label_count(const enc_weights *w, const char *weight, int prefixed, int64_t expected, int64_t *out)
{
    char *full = prefixed ? olive_asprintf("%s%s", w->prefix, weight) : olive_strdup(weight);
    const ofmt_tensor *t = full ? ofmt_checkpoint_find(w->ck, full) : NULL;
    int rc = OLIVE_OK;
    if (!full)
        return OLIVE_ENOMEM;
    if (!t)
        rc = olive_fail(OLIVE_EFORMAT, "checkpoint '%s': tensor '%s' is missing", w->ck->path, full);
    else if (t->rank != 2 || t->dims[0] < 1 || t->dims[0] > 1 << 20)
        rc = olive_fail(OLIVE_EFORMAT, "tensor '%s' in '%s' is not a [num_labels, features] matrix", full, t->file);
    else if (expected && t->dims[0] != expected)
        rc = olive_fail(OLIVE_EFORMAT, "tensor '%s' in '%s' has %lld rows, but config.json's id2label has %lld labels",
                        full, t->file, (long long)t->dims[0], (long long)expected);
    else
        *out = t->dims[0];
    free(full);
    return rc;
}
