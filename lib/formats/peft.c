/* PEFT LoRA adapter folders, read into libolive's transposed, pre-scaled form (peft.h). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "formats/checkpoint.h"
#include "formats/peft.h"
#include "formats/safetensors.h"

#define PREFIX "base_model.model."

void ofmt_lora_free(ofmt_lora *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_targets; i++)
        free(l->targets[i]);
    free(l->targets);
    for (size_t i = 0; i < l->n_layers; i++) {
        free(l->layers[i].module);
        free(l->layers[i].a);
        free(l->layers[i].b);
    }
    free(l->layers);
    free(l);
}

const ofmt_lora_layer *ofmt_lora_find(const ofmt_lora *l, const char *module)
{
    for (size_t i = 0; i < l->n_layers; i++)
        if (!strcmp(l->layers[i].module, module))
            return &l->layers[i];
    return NULL;
}

int ofmt_lora_targets(const ofmt_lora *l, const char *module)
{
    const char *dot = strrchr(module, '.'), *last = dot ? dot + 1 : module;
    for (size_t i = 0; i < l->n_targets; i++)
        if (!strcmp(l->targets[i], last) || !strcmp(l->targets[i], module))
            return 1;
    return 0;
}

static int read_config(ofmt_lora *l, const char *folder)
{
    char *path = olive_path_join(folder, "adapter_config.json");
    json_error_t jerr;
    json_t *root, *v;
    const char *type;
    int rc = OLIVE_OK;
    if (!path)
        return OLIVE_ENOMEM;
    if (!(root = json_load_file(path, 0, &jerr))) {
        struct stat st;
        rc = stat(path, &st) != 0
                 ? olive_fail(OLIVE_ENOTFOUND, "'%s' is not a PEFT adapter folder: no adapter_config.json", folder)
                 : olive_fail(OLIVE_EFORMAT, "%s: %s (line %d)", path, jerr.text, jerr.line);
        free(path);
        return rc;
    }
    type = json_string_value(json_object_get(root, "peft_type"));
    if (!type || strcmp(type, "LORA"))
        rc = olive_fail(OLIVE_EUNSUPPORTED,
                        "%s: peft_type '%s' is not supported: only LoRA adapters convert (LoHa, "
                        "LoKr, IA3, prompt tuning and the rest have no ONNX Runtime adapter form here)",
                        path, type ? type : "(none)");
    else if (json_is_true(json_object_get(root, "use_dora")))
        rc = olive_fail(OLIVE_EUNSUPPORTED,
                        "%s: use_dora is set: DoRA adapters (a learned magnitude per column) are "
                        "not supported, only plain LoRA",
                        path);
    if (rc == OLIVE_OK) {
        l->r = json_integer_value(json_object_get(root, "r"));
        v = json_object_get(root, "lora_alpha");
        l->alpha = json_is_number(v) ? json_number_value(v) : (double)l->r;
        if (l->r < 1 || l->alpha <= 0 || json_object_size(json_object_get(root, "rank_pattern")) ||
            json_object_size(json_object_get(root, "alpha_pattern")))
            rc = olive_fail(l->r < 1 || l->alpha <= 0 ? OLIVE_EFORMAT : OLIVE_EUNSUPPORTED,
                            "%s: needs r >= 1 and lora_alpha > 0 (got r=%lld, lora_alpha=%g), and no rank_pattern "
                            "or alpha_pattern",
                            path, (long long)l->r, l->alpha);
        l->scaling = json_is_true(json_object_get(root, "use_rslora")) ? l->alpha / sqrt((double)l->r)
                                                                       : l->alpha / (double)l->r;
    }
    v = json_object_get(root, "target_modules");
    if (rc == OLIVE_OK && json_is_string(v))
        rc = olive_fail(OLIVE_EUNSUPPORTED, "%s: target_modules as a pattern ('%s') is not supported: list the modules",
                        path, json_string_value(v));
    if (rc == OLIVE_OK && json_is_array(v)) {
        size_t i;
        json_t *t;
        if (!(l->targets = olive_calloc(json_array_size(v) + 1, sizeof(char *))))
            rc = OLIVE_ENOMEM;
        json_array_foreach(v, i, t)
        {
            if (rc == OLIVE_OK && json_is_string(t) &&
                !(l->targets[l->n_targets++] = olive_strdup(json_string_value(t))))
                rc = OLIVE_ENOMEM;
        }
    }
    json_decref(root);
    free(path);
    return rc;
}

static int ends_with(const char *s, const char *suffix, size_t *stem)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n <= m || strcmp(s + n - m, suffix))
        return 0;
    *stem = n - m;
    return 1;
}

/* Reads tensor `t` ([rows, cols]) as floats, transposed to [cols, rows] and multiplied by `k`. */
static int read_transposed(const ofmt_tensor *t, double k, float **out)
{
    int64_t rows = t->dims[0], cols = t->dims[1];
    float *src = olive_malloc((size_t)(rows * cols) * sizeof(float) + 1), *dst;
    if (!src)
        return OLIVE_ENOMEM;
    if (ofmt_tensor_read_f32(t, 0, (uint64_t)rows, src) != OLIVE_OK) {
        free(src);
        return olive_error_code();
    }
    if (!(dst = olive_malloc((size_t)(rows * cols) * sizeof(float) + 1))) {
        free(src);
        return OLIVE_ENOMEM;
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            dst[j * rows + i] = (float)(src[i * cols + j] * k);
    free(src);
    *out = dst;
    return OLIVE_OK;
}

static int read_layers(ofmt_lora *l, ofmt_checkpoint *c, const char *file)
{
    size_t cap = 0;
    for (size_t i = 0; i < c->n_tensors; i++) {
        const ofmt_tensor *a = &c->tensors[i], *b;
        size_t stem;
        char *bname;
        ofmt_lora_layer *ly;
        if (strstr(a->name, "lora_magnitude_vector"))
            return olive_fail(OLIVE_EUNSUPPORTED, "%s: tensor '%s' is a DoRA magnitude: DoRA is not supported", file,
                              a->name);
        if (strstr(a->name, "lora_embedding_"))
            return olive_fail(OLIVE_EUNSUPPORTED, "%s: tensor '%s': LoRA on embeddings is not supported", file,
                              a->name);
        if (ends_with(a->name, ".lora_B.weight", &stem))
            continue; /* read with its A */
        if (!ends_with(a->name, ".lora_A.weight", &stem))
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "%s: tensor '%s' is not a LoRA A or B weight (biases and other "
                              "trained tensors are not supported)",
                              file, a->name);
        if (strncmp(a->name, PREFIX, strlen(PREFIX)))
            return olive_fail(OLIVE_EFORMAT, "%s: tensor '%s' is not named under '" PREFIX "'", file, a->name);
        if (!(bname = olive_asprintf("%.*s.lora_B.weight", (int)stem, a->name)))
            return OLIVE_ENOMEM;
        b = ofmt_checkpoint_find(c, bname);
        if (!b) {
            int rc = olive_fail(OLIVE_EFORMAT, "%s: '%s' has no '%s'", file, a->name, bname);
            free(bname);
            return rc;
        }
        free(bname);
        if (a->rank != 2 || b->rank != 2 || a->dims[0] != l->r || b->dims[1] != l->r)
            return olive_fail(OLIVE_EFORMAT, "%s: '%s' is not [r=%lld, in] or its lora_B is not [out, r]", file,
                              a->name, (long long)l->r);
        if (olive_grow((void **)&l->layers, &cap, l->n_layers + 1, sizeof(*l->layers)) != OLIVE_OK)
            return OLIVE_ENOMEM;
        ly = &l->layers[l->n_layers];
        memset(ly, 0, sizeof(*ly));
        l->n_layers++;
        ly->r = l->r;
        ly->in = a->dims[1];
        ly->out = b->dims[0];
        if (!(ly->module = olive_strndup(a->name + strlen(PREFIX), stem - strlen(PREFIX))))
            return OLIVE_ENOMEM;
        OLIVE_TRY(read_transposed(a, 1.0, &ly->a));
        OLIVE_TRY(read_transposed(b, l->scaling, &ly->b));
    }
    for (size_t i = 0; i < c->n_tensors; i++) {
        size_t stem;
        const char *n = c->tensors[i].name;
        if (ends_with(n, ".lora_B.weight", &stem)) {
            char *aname = olive_asprintf("%.*s.lora_A.weight", (int)stem, n);
            int has = aname && ofmt_checkpoint_find(c, aname);
            free(aname);
            if (!has)
                return olive_fail(OLIVE_EFORMAT, "%s: '%s' has no lora_A beside it", file, n);
        }
    }
    if (!l->n_layers)
        return olive_fail(OLIVE_EFORMAT, "%s holds no LoRA weights", file);
    return OLIVE_OK;
}

int ofmt_lora_read(ofmt_lora **out, const char *folder)
{
    ofmt_lora *l = olive_calloc(1, sizeof(*l));
    ofmt_checkpoint *c = NULL;
    char *file = olive_path_join(folder, "adapter_model.safetensors");
    struct stat st;
    int rc;
    if (!l || !file) {
        free(l);
        free(file);
        return OLIVE_ENOMEM;
    }
    rc = read_config(l, folder);
    if (rc == OLIVE_OK && stat(file, &st) != 0)
        rc = olive_fail(OLIVE_ENOTFOUND,
                        "'%s' has no adapter_model.safetensors (adapter_model.bin is not read: save "
                        "the adapter with safe_serialization=True)",
                        folder);
    if (rc == OLIVE_OK && !(c = ofmt_checkpoint_new(OFMT_HF_FOLDER, folder)))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = ofmt_safetensors_add_file(c, file);
    if (rc == OLIVE_OK)
        rc = read_layers(l, c, file);
    ofmt_checkpoint_free(c);
    free(file);
    if (rc != OLIVE_OK) {
        ofmt_lora_free(l);
        return rc;
    }
    *out = l;
    return OLIVE_OK;
}
