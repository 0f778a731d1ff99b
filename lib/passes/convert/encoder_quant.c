/* int4 / int8 encoders: the float32 graph's MatMul weights become com.microsoft MatMulNBits by
 * running the quantize pass itself on it, so the result is bit-identical to converting to fp32
 * and then quantizing with the same block_size, symmetry and accuracy_level (0: 4 on the CPU
 * and WebGPU providers, as the decoder builder sets it). The packed QKV weights stay float:
 * com.microsoft Attention reads them as float, as ONNX Runtime's own MatMulNBits quantizer
 * leaves them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/encoder.h"
#include "passes/quant/quantize.h"

/* Maps the quantize pass's progress into [from, 1] of the convert pass's. */
typedef struct scaled_ctx {
    olive_pass_ctx ctx;
    olive_pass_ctx *outer;
    double from;
} scaled_ctx;

static int scaled_progress(olive_pass_ctx *ctx, double fraction)
{
    scaled_ctx *s = (scaled_ctx *)ctx;
    return olive_pass_progress(s->outer, s->from + (1.0 - s->from) * fraction);
}

/* The convert pass's value of `name` when it declares it, else `fallback`. */
static const char *convert_arg(const olive_pass_args *args, const char *name, const char *fallback)
{
    if (args && args->def && olive_param_find(args->def, name))
        return olive_args_string(args, name);
    return fallback;
}

/* int4_block_size (the builder's name) wins over block_size when set. */
static const char *block_size_arg(const olive_pass_args *args)
{
    const char *v = convert_arg(args, "int4_block_size", "0");
    return strcmp(v, "0") && v[0] ? v : convert_arg(args, "block_size", "32");
}

/* accuracy_level 0 means the builder's default for the provider: int8 compute (4) on the
 * CPU and WebGPU, unset elsewhere. */
static const char *accuracy_arg(const olive_pass_args *args)
{
    const char *v = convert_arg(args, "accuracy_level", "0");
    const char *ep = convert_arg(args, "execution_provider", "cpu");
    if (strcmp(v, "0"))
        return v;
    return !ep[0] || !strcmp(ep, "cpu") || !strcmp(ep, "webgpu") ? "4" : "0";
}

int enc_quantize(oir_model *m, const olive_pass_args *args, int bits, olive_pass_ctx *ctx, double from)
{
    const olive_pass_def *def = &olive_pass_quantize;
    char **values = olive_calloc(def->n_params, sizeof *values);
    char bits_text[8];
    scaled_ctx sctx;
    olive_pass_args qargs;
    int rc = OLIVE_OK;

    if (!values)
        return OLIVE_ENOMEM;
    snprintf(bits_text, sizeof bits_text, "%d", bits);
    for (size_t i = 0; i < def->n_params && rc == OLIVE_OK; i++) {
        const olive_param_spec *s = &def->params[i];
        const char *v = s->default_value;
        if (!strcmp(s->name, "bits"))
            v = bits_text;
        else if (!strcmp(s->name, "block_size"))
            v = block_size_arg(args);
        else if (!strcmp(s->name, "accuracy_level"))
            v = accuracy_arg(args);
        else if (!strcmp(s->name, "is_symmetric"))
            v = convert_arg(args, s->name, s->default_value);
        if ((rc = olive_param_check(def, s, v)) == OLIVE_OK && !(values[i] = olive_param_canonical(s, v)))
            rc = OLIVE_ENOMEM;
    }
    if (rc == OLIVE_OK) {
        memset(&sctx, 0, sizeof sctx);
        sctx.ctx.accelerator = ctx ? ctx->accelerator : NULL;
        sctx.ctx.progress = scaled_progress;
        sctx.outer = ctx;
        sctx.from = from;
        qargs.def = def;
        qargs.values = values;
        rc = def->run(m, &qargs, &sctx.ctx);
    }
    for (size_t i = 0; i < def->n_params; i++)
        free(values[i]);
    free(values);
    return rc;
}
