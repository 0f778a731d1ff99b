/* Olive's score-based SelectiveMixedPrecision (snr, snr_relative, iqe, iqe_relative): every
 * Linear weight of the checkpoint is fake-quantized as Olive's WeightQuantizer does (unsigned
 * codes, min/max per group along in_features, including 0), scored, and the most sensitive
 * units (a layer's q/k/v together, as ONNX fuses them; every other Linear alone) get the high
 * settings until they hold (1 - ratio) of the parameters. Weights are read one band of rows at
 * a time: every statistic is a sum or a maximum over rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder_internal.h"
#include "passes/convert/decoder_plan.h"

#define EPS 1e-12

typedef struct score_unit {
    const char *names[3]; /* modules (q, k, v or one) */
    size_t n;
    double numel, signal, noise, high_noise, iqe, high_iqe, score;
    size_t order; /* Olive's insertion order, for ties */
} score_unit;

typedef struct fq {
    int bits, group, sym;
} fq;

void cvt_fake_quant_group(const float *x, size_t n, int bits, int sym, float *scale, float *zp)
{
    const float maxq = (float)((1 << bits) - 1), midq = (float)(1 << (bits - 1));
    float lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    if (sym) {
        hi = fabsf(lo) > hi ? fabsf(lo) : hi;
        if (lo < 0)
            lo = -hi;
    }
    if (lo == 0 && hi == 0) {
        lo = -1;
        hi = 1;
    }
    *scale = (hi - lo) / maxq;
    *zp = sym ? midq : fminf(fmaxf(nearbyintf(0.0f - lo / *scale), 0.0f), maxq);
}

/* One group's fake quantization error, as WeightQuantizer.fake_quantize computes it. */
static double group_error(const float *x, size_t n, const fq *q)
{
    const float maxq = (float)((1 << q->bits) - 1);
    float scale, zp;
    double err = 0;
    cvt_fake_quant_group(x, n, q->bits, q->sym, &scale, &zp);
    for (size_t i = 0; i < n; i++) {
        float c = fminf(fmaxf(nearbyintf(x[i] / scale + zp), 0.0f), maxq);
        double e = (double)x[i] - (double)((c - zp) * scale);
        err += e * e;
    }
    return err;
}

/* Adds one module's statistics to its unit. */
static int score_module(const ofmt_tensor *t, const fq *low, const fq *high, score_unit *u)
{
    const int64_t rows = t->dims[0], cols = t->dims[1];
    const int64_t gl = low->group > 0 ? low->group : cols, gh = high->group > 0 ? high->group : cols;
    int64_t band = (int64_t)(((size_t)4 << 20) / (size_t)cols);
    float *buf;
    int rc = OLIVE_OK;
    if (cols % gl || cols % gh)
        return olive_fail(OLIVE_EINVALID,
                          "SelectiveMixedPrecision: in_features %lld of '%s' is not a multiple of group_size %lld",
                          (long long)cols, t->name, (long long)(cols % gl ? gl : gh));
    band = band < 1 ? 1 : band > rows ? rows : band;
    if (!(buf = olive_malloc((size_t)(band * cols) * sizeof *buf)))
        return OLIVE_ENOMEM;
    for (int64_t r0 = 0; rc == OLIVE_OK && r0 < rows; r0 += band) {
        int64_t n = rows - r0 < band ? rows - r0 : band;
        if ((rc = ofmt_tensor_read_f32(t, (uint64_t)r0, (uint64_t)n, buf)) != OLIVE_OK) {
            olive_fail_context(rc, "tensor '%s'", t->name);
            break;
        }
        for (int64_t r = 0; r < n; r++) {
            const float *x = buf + r * cols;
            double sig = 0, el = 0, eh = 0;
            for (int64_t c = 0; c < cols; c++)
                sig += (double)x[c] * x[c];
            for (int64_t g = 0; g < cols; g += gl)
                el += group_error(x + g, (size_t)gl, low);
            for (int64_t g = 0; g < cols; g += gh)
                eh += group_error(x + g, (size_t)gh, high);
            u->signal += sig;
            u->noise += el;
            u->high_noise += eh;
            u->iqe = fmax(u->iqe, el / (double)cols);
            u->high_iqe = fmax(u->high_iqe, eh / (double)cols);
        }
    }
    u->numel += (double)rows * (double)cols;
    free(buf);
    return rc;
}

static double snr_db(double s, double n)
{
    return 10 * log10(fmax(s, EPS * EPS) / fmax(n, EPS * EPS));
}

static int by_score(const void *a, const void *b)
{
    const score_unit *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* "model.layers.<i>.self_attn.<q|k|v>_proj.weight": the layer and which (0..2); else -1. */
int cvt_qkv_of(const char *name, long *layer)
{
    static const char prefix[] = "model.layers.";
    char *end;
    if (strncmp(name, prefix, sizeof prefix - 1))
        return -1;
    *layer = strtol(name + sizeof prefix - 1, &end, 10);
    if (!strcmp(end, ".self_attn.q_proj.weight"))
        return 0;
    if (!strcmp(end, ".self_attn.k_proj.weight"))
        return 1;
    if (!strcmp(end, ".self_attn.v_proj.weight"))
        return 2;
    return -1;
}

/* A Linear's weight: 2-D, under a layer's attention or MLP, or the head. */
static int is_linear(const ofmt_tensor *t)
{
    size_t len = strlen(t->name);
    if (t->rank != 2 || len < 8 || strcmp(t->name + len - 7, ".weight"))
        return 0;
    if (!strcmp(t->name, "lm_head.weight"))
        return 1;
    return !strncmp(t->name, "model.layers.", 13) && (strstr(t->name, ".self_attn.") || strstr(t->name, ".mlp."));
}

int cvt_plan_score(cvt_decoder *d, cvt_quant_plan *p, const char *algorithm, const cvt_score_settings *s)
{
    const ofmt_checkpoint *ck = d->ck;
    const fq low = {s->bits, s->group_size, s->symmetric}, high = {s->high_bits, s->high_group_size, s->high_symmetric};
    score_unit *units = olive_calloc(ck->n_tensors + 1, sizeof *units);
    size_t n = 0, order = 0;
    double total = 0, promoted = 0;
    int rc = OLIVE_OK;
    const ofmt_tensor *head = ofmt_checkpoint_find(ck, "lm_head.weight");
    if (!units)
        return OLIVE_ENOMEM;
    /* q/k/v groups first (Olive aggregates them first), then every other Linear, then a tied head. */
    for (size_t i = 0; i < ck->n_tensors && rc == OLIVE_OK; i++) {
        long layer, l2;
        const ofmt_tensor *t = &ck->tensors[i];
        if (cvt_qkv_of(t->name, &layer) != 0)
            continue;
        score_unit *u = &units[n];
        u->names[0] = t->name;
        u->n = 1;
        for (size_t j = 0; j < ck->n_tensors; j++) {
            int w = cvt_qkv_of(ck->tensors[j].name, &l2);
            if (w > 0 && l2 == layer)
                u->names[u->n++] = ck->tensors[j].name;
        }
        if (u->n < 3) {
            memset(u, 0, sizeof *u);
            continue;
        }
        u->order = (size_t)layer;
        n++;
    }
    order = ck->n_tensors; /* others after the groups, in name order */
    for (size_t i = 0; i < ck->n_tensors; i++) {
        long layer = 0;
        int in_group = 0;
        const ofmt_tensor *t = &ck->tensors[i];
        if (!is_linear(t))
            continue;
        for (size_t k = 0; k < n && !in_group; k++)
            for (size_t m = 0; m < units[k].n; m++)
                in_group |= units[k].names[m] == t->name;
        (void)layer;
        if (in_group)
            continue;
        units[n].names[0] = t->name;
        units[n].n = 1;
        units[n].order = order + i;
        n++;
    }
    if (!head && d->cfg.tied_embeddings) {
        units[n].names[0] = "model.embed_tokens.weight"; /* the head's weight */
        units[n].n = 1;
        units[n].order = (size_t)-1;
        n++;
    }
    for (size_t k = 0; k < n && rc == OLIVE_OK; k++) {
        score_unit *u = &units[k];
        for (size_t m = 0; m < u->n && rc == OLIVE_OK; m++)
            rc = score_module(ofmt_checkpoint_find(ck, u->names[m]), &low, &high, u);
        rc = rc == OLIVE_OK ? cvt_check_cancel(d) : rc;
        u->score = !strcmp(algorithm, "snr")            ? snr_db(u->signal, u->noise)
                   : !strcmp(algorithm, "snr_relative") ? snr_db(u->signal, u->noise) - snr_db(u->signal, u->high_noise)
                   : !strcmp(algorithm, "iqe")          ? 1.0 / (u->iqe + EPS)
                                                        : (1.0 / (u->iqe + EPS)) / (1.0 / (u->high_iqe + EPS));
        total += u->numel;
    }
    if (rc == OLIVE_OK) {
        qsort(units, n, sizeof *units, by_score);
        for (size_t k = 0; k < n && rc == OLIVE_OK; k++) {
            promoted += units[k].numel;
            for (size_t m = 0; m < units[k].n && rc == OLIVE_OK; m++) {
                const char *w = units[k].names[m];
                size_t len = strlen(w);
                int tied_head = units[k].order == (size_t)-1;
                rc = cvt_plan_select(p, tied_head ? "lm_head" : cvt_str(d, "%.*s", (int)(len - 7), w));
            }
            if (promoted >= total * (1 - s->ratio))
                break;
        }
    }
    free(units);
    return rc;
}
