/* olive_adapter_convert: PEFT LoRA folder -> .onnx_adapter. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "olive/adapter.h"

#include "core/alloc.h"
#include "core/half.h"
#include "core/status.h"
#include "core/words.h"
#include "formats/checkpoint.h"
#include "formats/onnx_adapter.h"
#include "formats/peft.h"
#include "ir/ir.h"

/* Every LoRA module must be a Linear of the base with the adapter's in and out sizes. */
static int check_base(const ofmt_lora *l, const char *base)
{
    ofmt_checkpoint *c = NULL;
    int rc = ofmt_checkpoint_open(&c, base);
    for (size_t i = 0; rc == OLIVE_OK && i < l->n_layers; i++) {
        const ofmt_lora_layer *ly = &l->layers[i];
        char *w = olive_asprintf("%s.weight", ly->module);
        const ofmt_tensor *t = w ? ofmt_checkpoint_find(c, w) : NULL;
        if (!w)
            rc = OLIVE_ENOMEM;
        else if (!t)
            rc = olive_fail(OLIVE_ENOTFOUND, "the adapter's module '%s' is not in the base model '%s' (no tensor '%s')",
                            ly->module, base, w);
        else if (t->rank != 2 || t->dims[0] != ly->out || t->dims[1] != ly->in)
            rc = olive_fail(OLIVE_EFORMAT,
                            "the adapter's module '%s' maps %lld to %lld features, but '%s' in the "
                            "base model '%s' is [%lld, %lld] (out, in)",
                            ly->module, (long long)ly->in, (long long)ly->out, w, base, (long long)t->dims[0],
                            (long long)(t->rank > 1 ? t->dims[1] : 0));
        free(w);
    }
    ofmt_checkpoint_free(c);
    return rc;
}

static int parse_options(const char *options, int *half, const char **base, char ***words, size_t *n)
{
    *half = 0;
    *base = NULL;
    *words = NULL;
    *n = 0;
    if (!options)
        return OLIVE_OK;
    OLIVE_TRY(olive_split_words(words, n, options));
    for (size_t i = 0; i < *n; i++) {
        char *kv = (*words)[i], *eq = strchr(kv, '=');
        if (!eq)
            return olive_fail(OLIVE_EINVALID, "adapter option '%s' is not key=value", kv);
        *eq = '\0';
        if (!strcmp(kv, "dtype") && (!strcmp(eq + 1, "float32") || !strcmp(eq + 1, "float16")))
            *half = !strcmp(eq + 1, "float16");
        else if (!strcmp(kv, "dtype"))
            return olive_fail(OLIVE_EINVALID, "adapter option dtype: '%s' is not float32 or float16", eq + 1);
        else if (!strcmp(kv, "base") && eq[1])
            *base = eq + 1;
        else
            return olive_fail(OLIVE_EINVALID, "unknown adapter option '%s' (dtype, base)", kv);
    }
    return OLIVE_OK;
}

int olive_adapter_convert(const char *adapter_folder, const char *output_file, const char *options)
{
    ofmt_lora *l = NULL;
    ofmt_adapter_param *params = NULL;
    uint16_t **halves = NULL;
    int64_t *dims = NULL;
    char **names = NULL, **words = NULL;
    const char *base;
    size_t nwords = 0, n = 0;
    int half, rc;
    struct stat st;
    olive_error_clear();
    if (!adapter_folder || !output_file)
        return olive_fail(OLIVE_EINVALID, "olive_adapter_convert: adapter_folder and output_file are required");
    rc = parse_options(options, &half, &base, &words, &nwords);
    if (rc == OLIVE_OK && (lstat(output_file, &st) == 0 || errno != ENOENT))
        rc = olive_fail(OLIVE_EEXISTS, "'%s' exists: the adapter file is not written over it", output_file);
    if (rc == OLIVE_OK)
        rc = ofmt_lora_read(&l, adapter_folder);
    if (rc == OLIVE_OK && base)
        rc = check_base(l, base);
    if (rc == OLIVE_OK) {
        n = 2 * l->n_layers;
        params = olive_calloc(n, sizeof(*params));
        names = olive_calloc(n, sizeof(*names));
        dims = olive_calloc(2 * n, sizeof(*dims));
        halves = olive_calloc(n, sizeof(*halves));
        if (!params || !names || !dims || !halves)
            rc = OLIVE_ENOMEM;
    }
    for (size_t i = 0; rc == OLIVE_OK && i < n; i++) {
        const ofmt_lora_layer *ly = &l->layers[i / 2];
        int is_b = (int)(i % 2);
        const float *data = is_b ? ly->b : ly->a;
        size_t count = (size_t)(ly->r * (is_b ? ly->out : ly->in));
        dims[2 * i] = is_b ? ly->r : ly->in;
        dims[2 * i + 1] = is_b ? ly->out : ly->r;
        if (!(names[i] = olive_asprintf("%s.lora_%c.weight", ly->module, is_b ? 'B' : 'A'))) {
            rc = OLIVE_ENOMEM;
            break;
        }
        params[i] = (ofmt_adapter_param){names[i], half ? OIR_FLOAT16 : OIR_FLOAT, 2, &dims[2 * i],
                                         data,     count * (half ? 2 : 4)};
        if (half) {
            if (!(halves[i] = olive_malloc(count * 2 + 1))) {
                rc = OLIVE_ENOMEM;
                break;
            }
            for (size_t k = 0; k < count; k++)
                halves[i][k] = olive_float_to_half(data[k]);
            params[i].data = halves[i];
        }
    }
    if (rc == OLIVE_OK)
        rc = ofmt_adapter_write(output_file, params, n, 0, 0);
    for (size_t i = 0; names && i < n; i++) {
        free(names[i]);
        free(halves[i]);
    }
    free(names);
    free(halves);
    free(dims);
    free(params);
    olive_free_words(words, nwords);
    ofmt_lora_free(l);
    return rc;
}
