/* Float32 tensor data to float16 / bfloat16. Like onnxruntime's converter, non-zero finite
 * values are clamped into float16's range first so that none turns into 0 or infinity. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/float16/f16_internal.h"
#include "core/half.h"

static float clamp(const f16_run *r, float x)
{
    if (x > 0 && x < r->min_positive)
        return r->min_positive;
    if (x < 0 && x > -r->min_positive)
        return -r->min_positive;
    if (x > r->max_finite && x <= 3.4028234663852886e38f)
        return r->max_finite;
    if (x < -r->max_finite && x >= -3.4028234663852886e38f)
        return -r->max_finite;
    return x;
}

int f16_convert_tensor(f16_run *r, oir_tensor *t)
{
    uint64_t numel;
    const uint8_t *src;
    uint16_t *out;
    int rc;
    if (t->dtype != OIR_FLOAT)
        return OLIVE_OK;
    OLIVE_TRY(oir_tensor_numel(t, &numel));
    src = oir_tensor_data(t);
    if (numel == 0 || !src) {
        if (numel != 0 || t->nbytes != 0)
            return olive_fail(OLIVE_EFORMAT, "tensor '%s' has no data", t->name ? t->name : "");
        t->dtype = r->target;
        return OLIVE_OK;
    }
    if (numel > SIZE_MAX / 4 || t->nbytes != numel * 4)
        return olive_fail(OLIVE_EFORMAT, "tensor '%s' holds %llu bytes for %llu floats", t->name ? t->name : "",
                          (unsigned long long)t->nbytes, (unsigned long long)numel);
    out = olive_malloc((size_t)numel * 2);
    if (!out)
        return olive_fail(OLIVE_ENOMEM, "out of memory converting tensor '%s'", t->name ? t->name : "");
    for (uint64_t i = 0; i < numel; i++) {
        float x;
        memcpy(&x, src + i * 4, 4);
        if (r->clamp)
            x = clamp(r, x);
        out[i] = r->target == OIR_BFLOAT16 ? olive_float_to_bfloat16(x) : olive_float_to_half(x);
    }
    t->dtype = r->target;
    rc = oir_tensor_set_copy(t, out, numel * 2);
    free(out);
    if (rc != OLIVE_OK)
        return rc;
    r->converted_tensors++;
    return OLIVE_OK;
}
