/* Which rotation each checkpoint weight of a Llama-like decoder takes under QuaRot, by its
 * name (decoder_rotate.h has the rules): the converter asks here as it streams a Linear, an
 * embedding band, a bias or a norm weight. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder.h"
#include "passes/convert/decoder_internal.h"
#include "passes/convert/decoder_rotate.h"

typedef enum role { ROLE_NONE, ROLE_HEAD, ROLE_EMBED, ROLE_QK, ROLE_V, ROLE_O, ROLE_MLP_IN, ROLE_DOWN } role;

/* The role of checkpoint weight `name` and its layer. */
static role role_of(const char *name, int64_t *layer)
{
    static const struct {
        const char *suffix;
        role r;
    } rules[] = {{"self_attn.q_proj.weight", ROLE_QK},  {"self_attn.k_proj.weight", ROLE_QK},
                 {"self_attn.v_proj.weight", ROLE_V},   {"self_attn.o_proj.weight", ROLE_O},
                 {"mlp.gate_proj.weight", ROLE_MLP_IN}, {"mlp.up_proj.weight", ROLE_MLP_IN},
                 {"mlp.down_proj.weight", ROLE_DOWN}};
    long long l;
    int at = 0;
    *layer = -1;
    if (!strcmp(name, "model.embed_tokens.weight"))
        return ROLE_EMBED;
    if (sscanf(name, "model.layers.%lld.%n", &l, &at) != 1 || !at)
        return ROLE_NONE;
    *layer = (int64_t)l;
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
        if (!strcmp(name + at, rules[i].suffix))
            return rules[i].r;
    return ROLE_NONE;
}

/* Reads 1-D tensor `name` of n values. */
static int read_norm(const cvt_decoder *d, const char *name, int64_t n, float **out)
{
    const ofmt_tensor *t = ofmt_checkpoint_find(d->ck, name);
    float *v;
    int rc;
    *out = NULL;
    if (!t || t->rank != 1 || t->dims[0] != n)
        return olive_fail(OLIVE_EFORMAT, "rotation: checkpoint '%s' has no norm weight '%s' of %" PRId64 " values",
                          d->ck->path, name, n);
    if (!(v = olive_malloc((size_t)n * sizeof *v)))
        return OLIVE_ENOMEM;
    if ((rc = ofmt_tensor_read_f32(t, 0, 1, v)) != OLIVE_OK) {
        free(v);
        return olive_fail_context(rc, "tensor '%s'", name);
    }
    *out = v;
    return OLIVE_OK;
}

/* Reads the part whole and turns its rows by Q^T, block by block of Q's size. */
static int turn_output_side(cvt_linear_src *s, const cvt_orth *q, int64_t in)
{
    const size_t n = (size_t)s->count * (size_t)in;
    int rc;
    if (s->count % q->n)
        return olive_fail(OLIVE_EFORMAT, "rotation: tensor '%s' has %" PRId64 " rows, not a multiple of %" PRId64,
                          s->t->name, s->count, q->n);
    if (!(s->mem = olive_malloc(n * sizeof *s->mem)))
        return OLIVE_ENOMEM;
    if ((rc = ofmt_tensor_read_f32(s->t, (uint64_t)s->first, (uint64_t)s->count, s->mem)) != OLIVE_OK)
        return olive_fail_context(rc, "tensor '%s'", s->t->name);
    return cvt_orth_columns(q, s->mem, s->count, in);
}

static int prepare_part(cvt_decoder *d, const char *path, cvt_linear_src *s, int64_t in)
{
    const cvt_rotation *rot = d->rot;
    int64_t layer;
    const role r = !strcmp(path, "/lm_head") ? ROLE_HEAD : role_of(s->t->name, &layer);
    const cvt_orth *r2 = rot->r2 && r != ROLE_HEAD && r != ROLE_EMBED && layer >= 0 && layer < rot->n_layers
                             ? &rot->r2[layer]
                             : NULL;
    const char *norm = NULL;
    switch (r) {
    case ROLE_NONE:
        return olive_fail(OLIVE_EUNSUPPORTED, "rotation: no rule for weight '%s' of %s (%s)", s->t->name,
                          d->arch->architecture, path);
    case ROLE_HEAD: norm = "model.norm.weight"; break;
    case ROLE_EMBED: break;
    case ROLE_QK:
    case ROLE_V: norm = cvt_str(d, "model.layers.%" PRId64 ".input_layernorm.weight", layer); break;
    case ROLE_MLP_IN: norm = cvt_str(d, "model.layers.%" PRId64 ".post_attention_layernorm.weight", layer); break;
    case ROLE_O:
    case ROLE_DOWN: break;
    }
    if ((r == ROLE_QK || r == ROLE_V || r == ROLE_MLP_IN) && !norm)
        return OLIVE_ENOMEM;
    if (norm)
        OLIVE_TRY(read_norm(d, norm, in, &s->norm));
    if (r == ROLE_O) {
        s->pre = r2;
        return turn_output_side(s, &rot->r1, in);
    }
    if (r == ROLE_DOWN)
        return turn_output_side(s, &rot->r1, in);
    s->pre = &rot->r1;
    if (r == ROLE_V && r2)
        return turn_output_side(s, r2, in);
    return OLIVE_OK;
}

int cvt_rotate_parts(cvt_decoder *d, const char *path, cvt_linear_src *src, size_t n, int64_t in)
{
    for (size_t i = 0; i < n; i++)
        OLIVE_TRY(prepare_part(d, path, &src[i], in));
    return OLIVE_OK;
}

void cvt_rotate_parts_free(cvt_linear_src *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(src[i].mem);
        free(src[i].norm);
        src[i].mem = src[i].norm = NULL;
    }
}

int cvt_rotate_band(const cvt_linear_src *s, float *band, int64_t rows, int64_t in)
{
    if (s->norm)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < in; k++)
                band[r * in + k] *= s->norm[k];
    return s->pre ? cvt_orth_rows(s->pre, band, rows, in) : OLIVE_OK;
}

int cvt_rotate_folds_norm(const cvt_decoder *d, const char *tensor)
{
    size_t n = strlen(tensor);
    if (!d->rot)
        return 0;
    if (!strcmp(tensor, "model.norm.weight"))
        return 1;
    return !strncmp(tensor, "model.layers.", 13) &&
           ((n > 23 && !strcmp(tensor + n - 23, ".input_layernorm.weight")) ||
            (n > 32 && !strcmp(tensor + n - 32, ".post_attention_layernorm.weight")));
}

int cvt_rotate_bias(const cvt_decoder *d, const char *path, float *bias, int64_t n)
{
    size_t len = strlen(path);
    if (!d->rot)
        return OLIVE_OK;
    /* a bias added after the rows turn by R1^T turns with them: (R1^T b) as the row b R1 */
    if ((len > 7 && !strcmp(path + len - 7, "/o_proj")) || (len > 10 && !strcmp(path + len - 10, "/down_proj")))
        return cvt_orth_rows(&d->rot->r1, bias, 1, n);
    return OLIVE_OK;
}

int cvt_rotate_embedding(const cvt_decoder *d, float *rows, int64_t n_rows)
{
    return d->rot ? cvt_orth_rows(&d->rot->r1, rows, n_rows, d->rot->r1.n) : OLIVE_OK;
}
