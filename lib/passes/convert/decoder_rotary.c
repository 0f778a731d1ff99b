/* Rotary caches: inverse frequencies for the rope types the builder supports (default, linear,
 * llama3; dynamic scaling equals default within max_position_embeddings) and the cos/sin
 * tables GroupQueryAttention reads (do_rotary=1), computed in float32 as the references do. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder.h"
#include "passes/convert/decoder_internal.h"

int cvt_rotary_inv_freq(const cvt_decoder *d, double *inv_freq)
{
    const cvt_decoder_config *c = &d->cfg;
    const int64_t dim = c->rotary_dim, half = dim / 2;
    const char *type = c->rope_type;
    double linear = 1.0;
    if (!strcmp(type, "linear"))
        linear = c->rope_factor > 0 ? c->rope_factor : 1.0;
    else if (strcmp(type, "default") && strcmp(type, "llama3") && strcmp(type, "dynamic"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': rope_type '%s' is not supported for %s (supported: default, linear, "
                          "dynamic, llama3)",
                          d->ck->path, type, d->arch->architecture);
    /* float32 arithmetic throughout, as the reference implementations compute the caches */
    for (int64_t i = 0; i < half; i++)
        inv_freq[i] = 1.0f / ((float)linear * powf((float)c->rope_theta, (float)(2 * i) / (float)dim));
    {
        /* GGUF files keep Llama 3 scaling as per-frequency divisors (rope_freqs.weight) instead
         * of config keys; llama.cpp divides each frequency by its factor. */
        const ofmt_tensor *f = strcmp(type, "default") ? NULL : ofmt_checkpoint_find(d->ck, "rope_freqs.weight");
        if (f) {
            float *v;
            int rc;
            if (ofmt_tensor_elements(f) != (uint64_t)half)
                return olive_fail(OLIVE_EFORMAT,
                                  "'%s': rope_freqs.weight has %" PRIu64 " values, not half the rotary "
                                  "size (%" PRId64 ")",
                                  d->ck->path, ofmt_tensor_elements(f), half);
            if (!(v = olive_malloc((size_t)half * sizeof *v)))
                return OLIVE_ENOMEM;
            if ((rc = ofmt_tensor_read_f32(f, 0, ofmt_tensor_elements(f) / ofmt_tensor_row_length(f), v)) != OLIVE_OK) {
                free(v);
                return olive_fail_context(rc, "tensor 'rope_freqs.weight'");
            }
            for (int64_t i = 0; i < half; i++)
                inv_freq[i] = (float)inv_freq[i] / v[i];
            free(v);
        }
    }
    if (!strcmp(type, "llama3")) {
        /* Llama 3.1: long wavelengths slowed by `factor`, short ones kept, a smooth ramp between. */
        const double old = (double)(c->rope_original_context ? c->rope_original_context : c->context_length);
        const double lo = c->rope_low_freq_factor, hi = c->rope_high_freq_factor, f = c->rope_factor;
        if (lo <= 0 || hi <= lo || f <= 0)
            return olive_fail(OLIVE_EFORMAT,
                              "config.json of '%s': llama3 rope scaling needs factor > 0 and 0 < low_freq_factor < "
                              "high_freq_factor",
                              d->ck->path);
        for (int64_t i = 0; i < half; i++) {
            float freq = (float)inv_freq[i], wavelen = (float)(2 * M_PI) / freq;
            if (wavelen < (float)(old / hi))
                continue;
            if (wavelen > (float)(old / lo)) {
                inv_freq[i] = freq / (float)f;
            } else {
                float smooth = ((float)old / wavelen - (float)lo) / (float)(hi - lo);
                inv_freq[i] = (1 - smooth) * freq / (float)f + smooth * freq;
            }
        }
    }
    return OLIVE_OK;
}

void cvt_rotary_fill(const double *inv_freq, int64_t half, int64_t rows, float *cos_out, float *sin_out)
{
    for (int64_t p = 0; p < rows; p++)
        for (int64_t i = 0; i < half; i++) {
            /* float32 angles, as the reference implementations compute them */
            float a = (float)p * (float)inv_freq[i];
            cos_out[p * half + i] = cosf(a);
            sin_out[p * half + i] = sinf(a);
        }
}

int cvt_rotary_caches(cvt_decoder *d)
{
    d->cos_cache = "cos_cache";
    d->sin_cache = "sin_cache";
    return cvt_rotary_cache_pair(d, "cos_cache", "sin_cache");
}

int cvt_rotary_cache_pair(cvt_decoder *d, const char *cos_name, const char *sin_name)
{
    const int64_t half = d->cfg.rotary_dim / 2, rows = d->cfg.context_length;
    double *inv = olive_malloc((size_t)half * sizeof *inv + 1);
    float *c = olive_malloc((size_t)(rows * half) * sizeof *c + 1);
    float *s = olive_malloc((size_t)(rows * half) * sizeof *s + 1);
    int rc = inv && c && s ? OLIVE_OK : OLIVE_ENOMEM;
    const int64_t dims[2] = {rows, half};
    if (rc == OLIVE_OK)
        rc = cvt_rotary_inv_freq(d, inv);
    if (rc == OLIVE_OK) {
        cvt_rotary_fill(inv, half, rows, c, s);
        rc = cvt_init_from_f32(d, cos_name, d->io_dtype, 2, dims, c);
    }
    if (rc == OLIVE_OK)
        rc = cvt_init_from_f32(d, sin_name, d->io_dtype, 2, dims, s);
    free(inv);
    free(c);
    free(s);
    return rc;
}
