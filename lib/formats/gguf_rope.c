/* config.json's rope_scaling rebuilt from a GGUF file. llama.cpp's converter keeps it in three
 * forms: explicit {arch}.rope.scaling.* keys (linear, yarn), per-frequency factor tensors
 * (Phi-3's rope_factors_long/short: LongRoPE), and for Llama 3.1+ only a rope_freqs tensor
 * computed from the "llama3" parameters, which are recovered here by recomputing the tensor
 * from candidate parameters and keeping those that give it back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/status.h"
#include "formats/ggml_dequant.h"
#include "formats/gguf.h"

static const ofmt_gguf_tensor *find_tensor(const ofmt_gguf *g, const char *name)
{
    for (size_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name))
            return &g->tensors[i];
    return NULL;
}

/* The values of a 1-D float32 tensor, or NULL (with *n = 0) when it is not one. */
static const uint8_t *f32_vector(const ofmt_gguf *g, const char *name, uint64_t *n)
{
    const ofmt_gguf_tensor *t = find_tensor(g, name);
    *n = 0;
    if (!t || t->type != OFMT_GGML_F32 || t->n_dims != 1 || t->ne[0] == 0)
        return NULL;
    *n = t->ne[0];
    return g->blob->data + t->offset;
}

static float f32_at(const uint8_t *p, uint64_t i)
{
    float f;
    memcpy(&f, p + 4 * i, 4);
    return f;
}

/* The shortest decimal that reads back as the same float32 (see gguf_checkpoint.c). */
static double short_decimal(float v)
{
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
        float back = strtof(buf, NULL);
        if (back == v)
            return strtod(buf, NULL);
    }
    return v;
}

static json_t *f32_array(const uint8_t *p, uint64_t n)
{
    json_t *arr = json_array();
    for (uint64_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_real(short_decimal(f32_at(p, i))))) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

static int arch_key(char *key, size_t size, const char *arch, const char *suffix)
{
    return snprintf(key, size, "%s.%s", arch, suffix) < (int)size;
}

static int get_f64(const ofmt_gguf *g, const char *arch, const char *suffix, double *out)
{
    char key[160];
    return arch_key(key, sizeof key, arch, suffix) && ofmt_gguf_get_f64(g, key, out);
}

static int get_u64(const ofmt_gguf *g, const char *arch, const char *suffix, uint64_t *out)
{
    char key[160];
    return arch_key(key, sizeof key, arch, suffix) && ofmt_gguf_get_u64(g, key, out);
}

/* Sets both spellings transformers reads: "rope_type" (current) and "type" (older configs,
 * onnxruntime-genai's builder). */
static int new_scaling(json_t **out, const char *type, size_t len)
{
    *out = json_object();
    if (!*out || json_object_set_new(*out, "rope_type", json_stringn(type, len)) ||
        json_object_set_new(*out, "type", json_stringn(type, len))) {
        json_decref(*out);
        *out = NULL;
        return OLIVE_ENOMEM;
    }
    return OLIVE_OK;
}

/* llama.cpp's rope_freqs for Llama 3: per frequency, 1 for short wavelengths, `factor` for
 * long ones, a smooth blend between. */
static double llama3_factor(double freq, double factor, double low, double high, double orig)
{
    const double pi = 3.14159265358979323846;
    double wavelen = 2 * pi / freq;
    if (wavelen < orig / high)
        return 1.0;
    if (wavelen > orig / low)
        return factor;
    double smooth = (orig / wavelen - low) / (high - low);
    return 1.0 / ((1 - smooth) / factor + smooth);
}

/* Whether Llama 3 scaling with these parameters gives the stored factors back. */
static int llama3_matches(const uint8_t *freqs, uint64_t n, double theta, uint64_t dim, double factor, double low,
                          double high, double orig)
{
    for (uint64_t i = 0; i < n; i++) {
        double freq = 1.0 / pow(theta, (double)(2 * i) / (double)dim);
        float want = (float)llama3_factor(freq, factor, low, high, orig);
        if (!(fabsf(want - f32_at(freqs, i)) <= 1e-6f * fabsf(want)))
            return 0;
    }
    return 1;
}

/* The original context lengths worth trying, given low and high: Llama 3.1's 8192 first; then
 * the one each blended factor solves for (its smooth value fixes orig / wavelength); and when no
 * factor is blended, one inside the range that sorts every frequency as the tensor does (any
 * such length gives the same factors, hence the same rotary). */
static size_t llama3_contexts(const uint8_t *freqs, uint64_t n, double theta, uint64_t dim, double factor, double low,
                              double high, double *out, size_t max)
{
    const double pi = 3.14159265358979323846;
    double above = 0, below = INFINITY; /* orig > above (the 1 factors), orig < below (the full ones) */
    size_t k = 0;
    out[k++] = 8192.0;
    for (uint64_t i = 0; i < n; i++) {
        double wavelen = 2 * pi * pow(theta, (double)(2 * i) / (double)dim);
        double v = (double)f32_at(freqs, i);
        if (v == 1.0)
            above = fmax(above, high * wavelen);
        else if (v == factor)
            below = fmin(below, low * wavelen);
        else if (k + 1 < max && factor > 1.0 && v > 1.0 && v < factor) {
            double smooth = (1.0 / v - 1.0 / factor) / (1.0 - 1.0 / factor);
            out[k++] = round(wavelen * (low + smooth * (high - low)));
        }
    }
    if (k < max && floor(above) + 1 < below && floor(above) + 1 < 1e12)
        out[k++] = floor(above) + 1;
    return k;
}

static int llama3_scaling(json_t **out, const ofmt_gguf *g, const char *arch, const uint8_t *freqs, uint64_t n)
{
    /* Llama 3.1, 3.2 and 3.3 all use low 1 and high 4; the factor is the largest stored value */
    const double low = 1.0, high = 4.0;
    double theta = 10000.0, factor = 0, contexts[8];
    uint64_t dim;
    if (!get_f64(g, arch, "rope.freq_base", &theta))
        theta = 10000.0;
    if (!get_u64(g, arch, "rope.dimension_count", &dim) || dim != 2 * n)
        dim = 2 * n;
    for (uint64_t i = 0; i < n; i++)
        factor = fmax(factor, (double)f32_at(freqs, i));
    size_t n_contexts = llama3_contexts(freqs, n, theta, dim, factor, low, high, contexts, 8);
    for (size_t c = 0; c < n_contexts; c++) {
        /* hostile metadata (a huge or NaN freq_base) can give any value here */
        if (!(contexts[c] >= 1.0 && contexts[c] <= 1e12) ||
            !llama3_matches(freqs, n, theta, dim, factor, low, high, contexts[c]))
            continue;
        OLIVE_TRY(new_scaling(out, "llama3", 6));
        if (json_object_set_new(*out, "factor", json_real(short_decimal((float)factor))) ||
            json_object_set_new(*out, "low_freq_factor", json_real(low)) ||
            json_object_set_new(*out, "high_freq_factor", json_real(high)) ||
            json_object_set_new(*out, "original_max_position_embeddings", json_integer((json_int_t)contexts[c]))) {
            json_decref(*out);
            *out = NULL;
            return OLIVE_ENOMEM;
        }
        return OLIVE_OK;
    }
    OLIVE_WARN(
        "GGUF file '%s': rope_freqs.weight does not match Llama 3's rope scaling; config.json has no rope_scaling",
        g->path);
    return OLIVE_OK;
}

/* JSON has no NaN or infinity: such a factor is an error, not a failed allocation. */
static int check_finite(const ofmt_gguf *g, const char *name, const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(f32_at(p, i)))
            return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': tensor '%s' holds %g at [%llu], not a finite number",
                              g->path, name, (double)f32_at(p, i), (unsigned long long)i);
    return OLIVE_OK;
}

static int longrope_scaling(json_t **out, const ofmt_gguf *g, const uint8_t *lng, uint64_t n_long, const uint8_t *shrt,
                            uint64_t n_short)
{
    OLIVE_TRY(check_finite(g, "rope_factors_long.weight", lng, n_long));
    OLIVE_TRY(check_finite(g, "rope_factors_short.weight", shrt, n_short));
    OLIVE_TRY(new_scaling(out, "longrope", 8));
    if (json_object_set_new(*out, "long_factor", f32_array(lng, n_long)) ||
        json_object_set_new(*out, "short_factor", f32_array(shrt, n_short))) {
        json_decref(*out);
        *out = NULL;
        return OLIVE_ENOMEM;
    }
    return OLIVE_OK;
}

int ofmt_gguf_rope_scaling(json_t *cfg, const ofmt_gguf *g, const char *arch)
{
    char key[160];
    json_t *rs = NULL;
    double factor;
    uint64_t orig, n_long, n_short, n_freqs;
    const uint8_t *lng = f32_vector(g, "rope_factors_long.weight", &n_long);
    const uint8_t *shrt = f32_vector(g, "rope_factors_short.weight", &n_short);
    const uint8_t *freqs = f32_vector(g, "rope_freqs.weight", &n_freqs);
    const ofmt_gguf_str *type = arch_key(key, sizeof key, arch, "rope.scaling.type") ? ofmt_gguf_get_str(g, key) : NULL;

    if (type && !ofmt_gguf_str_utf8(type))
        return olive_fail(OLIVE_EFORMAT, "GGUF file '%s': '%s' is not valid UTF-8", g->path, key);
    if (lng && shrt) {
        OLIVE_TRY(longrope_scaling(&rs, g, lng, n_long, shrt, n_short));
        /* Phi-3 keeps the pre-training length at the top level of its config */
        if (get_u64(g, arch, "rope.scaling.original_context_length", &orig) &&
            json_object_set_new(cfg, "original_max_position_embeddings", json_integer((json_int_t)orig))) {
            json_decref(rs);
            return OLIVE_ENOMEM;
        }
    } else if (type && !ofmt_gguf_str_eq(type, "none")) {
        OLIVE_TRY(new_scaling(&rs, type->ptr, (size_t)type->len));
        int rc = OLIVE_OK;
        if (get_f64(g, arch, "rope.scaling.factor", &factor))
            rc = json_object_set_new(rs, "factor",
                                     json_real((double)(float)factor == factor ? short_decimal((float)factor) : factor))
                     ? OLIVE_ENOMEM
                     : OLIVE_OK;
        if (!rc && get_u64(g, arch, "rope.scaling.original_context_length", &orig))
            rc = json_object_set_new(rs, "original_max_position_embeddings", json_integer((json_int_t)orig))
                     ? OLIVE_ENOMEM
                     : OLIVE_OK;
        if (rc) {
            json_decref(rs);
            return rc;
        }
    } else if (freqs) {
        OLIVE_TRY(llama3_scaling(&rs, g, arch, freqs, n_freqs));
    }
    if (rs && json_object_set_new(cfg, "rope_scaling", rs))
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}
