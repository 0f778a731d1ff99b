/* Olive's ModelBuilder with metadata_only: no graph is built; the ONNX decoder another pass
 * exported (OnnxConversion, then graph passes) gets the genai_config.json ONNX Runtime GenAI
 * loads it by, and its tokenizer files. The decoder's conversion wrote a genai_config.json for
 * the graph it made; later passes may have changed the graph, so the inputs, outputs, layer
 * count and cache shape are read again from the graph itself, and Olive's `search` settings are
 * merged in. The precision is accepted as Olive takes it: genai_config.json records no dtype
 * (ONNX Runtime GenAI reads those from the graph). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "passes/convert/convert.h"
#include "passes/registry.h"

#define PASS "genai_metadata"
#define MAX_CONFIG (16u << 20)

/* The companion's bytes as a JSON document. */
static int read_companion_json(json_t **out, const oir_companion *c)
{
    json_error_t err;
    char *text = NULL;
    size_t n = 0;
    if (c->data) {
        *out = json_loadb((const char *)c->data->data, c->data->size, 0, &err);
    } else {
        OLIVE_TRY(olive_read_file(&text, &n, c->source_path, MAX_CONFIG));
        *out = json_loadb(text, n, 0, &err);
        free(text);
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        return olive_fail(OLIVE_EFORMAT, "%s: %s is not a JSON object (line %d: %s)", PASS, c->name, err.line,
                          err.text);
    }
    return OLIVE_OK;
}

/* "past_key_values.3.key" -> template "past_key_values.%d.key" and index 3; 0 when the name
 * has no number. */
static int layer_template(const char *name, char *tmpl, size_t cap, long *index)
{
    const char *d = name;
    char *end;
    while (*d && !isdigit((unsigned char)*d))
        d++;
    if (!*d)
        return 0;
    *index = strtol(d, &end, 10);
    return snprintf(tmpl, cap, "%.*s%%d%s", (int)(d - name), name, end) < (int)cap;
}

/* "key" or "value" for a cache name template, by what follows the layer number
 * ("past_key_values.%d.value" is a value), else by what precedes it; NULL for neither. */
static const char *cache_role(const char *tmpl)
{
    const char *after = strstr(tmpl, "%d") + 2;
    if (strstr(after, "value"))
        return "value";
    if (strstr(after, "key"))
        return "key";
    if (strstr(tmpl, "value"))
        return "value";
    return strstr(tmpl, "key") ? "key" : NULL;
}

/* One family of per-layer names ("past ... key"): its template, and which layers were seen. */
typedef struct family {
    const char *role; /* "key" or "value" */
    char tmpl[256];
    size_t count;
    long max_index;
} family;

static int add_to_family(family *f, const char *tmpl, long index, const char *name, const char *what)
{
    if (f->count && strcmp(f->tmpl, tmpl))
        return olive_fail(OLIVE_EFORMAT, "%s: %s '%s' does not follow '%s' like the others", PASS, what, name, f->tmpl);
    snprintf(f->tmpl, sizeof f->tmpl, "%s", tmpl);
    f->count++;
    if (index > f->max_index)
        f->max_index = index;
    return OLIVE_OK;
}

/* Sorts the graph's inputs or outputs into genai_config.json's names: the fixed ones by name,
 * the per-layer caches by their templates. */
static int io_names(json_t *names, family *key, family *value, const oir_value_info *vi, size_t n, int outputs)
{
    static const char *const fixed_in[] = {"input_ids", "inputs_embeds", "attention_mask", "position_ids", NULL};
    static const char *const fixed_out[] = {"logits", "hidden_states", NULL};
    const char *const *fixed = outputs ? fixed_out : fixed_in;
    const char *what = outputs ? "output" : "input";
    for (size_t i = 0; i < n; i++) {
        const char *name = vi[i].name;
        char tmpl[256];
        long index = 0;
        int known = 0;
        const char *role;
        for (const char *const *f = fixed; *f && !known; f++)
            if (!strcmp(name, *f)) {
                json_object_set_new(names, name, json_string(name));
                known = 1;
            }
        if (known)
            continue;
        if (!layer_template(name, tmpl, sizeof tmpl, &index) || index < 0 || !(role = cache_role(tmpl)))
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "%s: the graph's %s '%s' is not one ONNX Runtime GenAI's decoder knows (%s, or a "
                              "per-layer cache such as %s)",
                              PASS, what, name,
                              outputs ? "logits, hidden_states"
                                      : "input_ids, inputs_embeds, attention_mask, position_ids",
                              outputs ? "present.0.key" : "past_key_values.0.key");
        OLIVE_TRY(add_to_family(!strcmp(role, "key") ? key : value, tmpl, index, name, what));
    }
    return OLIVE_OK;
}

/* The cache dims of a past key input [batch, kv_heads, past_sequence, head_size], when fixed. */
static void cache_dims(const oir_graph *g, const char *tmpl, int64_t *kv_heads, int64_t *head_size)
{
    char name[300];
    snprintf(name, sizeof name, tmpl, 0);
    for (size_t i = 0; i < g->n_inputs; i++) {
        const oir_type *t = g->inputs[i].type;
        if (strcmp(g->inputs[i].name, name) || !t || t->kind != OIR_TYPE_TENSOR || !t->has_shape || t->rank != 4)
            continue;
        if (t->dims[1].has_value && t->dims[1].value > 0)
            *kv_heads = t->dims[1].value;
        if (t->dims[3].has_value && t->dims[3].value > 0)
            *head_size = t->dims[3].value;
    }
}

static int check_layers(const family *f, const char *what)
{
    if (!f->count)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: the graph has no %s %s cache: it is not a decoder with a "
                          "key/value cache, which ONNX Runtime GenAI runs",
                          PASS, what, f->role);
    if ((size_t)f->max_index + 1 != f->count)
        return olive_fail(OLIVE_EFORMAT, "%s: the graph's %s %s caches '%s' are not numbered 0 to %zu", PASS, what,
                          f->role, f->tmpl, f->count - 1);
    return OLIVE_OK;
}

static int has_tokenizer(const oir_model *m)
{
    return oir_model_companion(m, "tokenizer.json") || oir_model_companion(m, "tokenizer.model");
}

static int run(oir_model *m, const olive_pass_args *a, olive_pass_ctx *ctx)
{
    const oir_companion *c = oir_model_companion(m, "genai_config.json");
    const char *search = olive_args_string(a, "search");
    family pk = {"key", "", 0, -1}, pv = {"value", "", 0, -1}, ok = {"key", "", 0, -1}, ov = {"value", "", 0, -1};
    json_t *doc = NULL, *decoder, *inputs = json_object(), *outputs = json_object(), *extra = NULL;
    int64_t kv_heads = 0, head_size = 0;
    char *text = NULL;
    int rc;
    if (!olive_args_bool(a, "metadata_only"))
        rc = olive_fail(OLIVE_EINVALID,
                        "%s: metadata_only is false: ModelBuilder builds the decoder then (the "
                        "convert pass), from a checkpoint",
                        PASS);
    else if (!c)
        rc = olive_fail(OLIVE_EUNSUPPORTED,
                        "%s: the model has no genai_config.json: libolive writes it when it converts the decoder "
                        "(OnnxConversion or ModelBuilder on the Hugging Face checkpoint), and metadata_only keeps it "
                        "true to the graph; an ONNX decoder exported elsewhere is not supported",
                        PASS);
    else if (!has_tokenizer(m))
        rc = olive_fail(OLIVE_EUNSUPPORTED,
                        "%s: the model has no tokenizer.json or tokenizer.model beside it, which ONNX Runtime GenAI "
                        "loads with genai_config.json; convert from a checkpoint folder that has its tokenizer",
                        PASS);
    else
        rc = read_companion_json(&doc, c);
    if (rc == OLIVE_OK && (!inputs || !outputs))
        rc = olive_fail(OLIVE_ENOMEM, "out of memory");
    if (rc == OLIVE_OK && search[0]) {
        json_error_t err;
        extra = json_loads(search, 0, &err); /* json_is_object reads its argument twice */
        if (!json_is_object(extra))
            rc = olive_fail(OLIVE_EINVALID, "%s: search: expected a JSON object of generation settings", PASS);
    }
    if (rc == OLIVE_OK)
        rc = io_names(inputs, &pk, &pv, m->graph->inputs, m->graph->n_inputs, 0);
    if (rc == OLIVE_OK)
        rc = io_names(outputs, &ok, &ov, m->graph->outputs, m->graph->n_outputs, 1);
    if (rc == OLIVE_OK && (rc = check_layers(&pk, "past")) == OLIVE_OK &&
        (rc = check_layers(&pv, "past")) == OLIVE_OK && (rc = check_layers(&ok, "present")) == OLIVE_OK)
        rc = check_layers(&ov, "present");
    if (rc == OLIVE_OK && (pk.count != pv.count || pk.count != ok.count || pk.count != ov.count))
        rc = olive_fail(OLIVE_EFORMAT,
                        "%s: the graph's caches disagree on the layer count (past %zu keys, %zu values; "
                        "present %zu keys, %zu values)",
                        PASS, pk.count, pv.count, ok.count, ov.count);
    if (rc == OLIVE_OK && !json_object_get(inputs, "input_ids") && !json_object_get(inputs, "inputs_embeds"))
        rc = olive_fail(OLIVE_EUNSUPPORTED, "%s: the graph takes neither input_ids nor inputs_embeds", PASS);
    decoder = rc == OLIVE_OK ? json_object_get(json_object_get(doc, "model"), "decoder") : NULL;
    if (rc == OLIVE_OK && !json_is_object(decoder))
        rc = olive_fail(OLIVE_EFORMAT, "%s: genai_config.json has no model.decoder object", PASS);
    if (rc == OLIVE_OK) {
        json_object_set_new(inputs, "past_key_names", json_string(pk.tmpl));
        json_object_set_new(inputs, "past_value_names", json_string(pv.tmpl));
        json_object_set_new(outputs, "present_key_names", json_string(ok.tmpl));
        json_object_set_new(outputs, "present_value_names", json_string(ov.tmpl));
        json_object_set(decoder, "inputs", inputs);
        json_object_set(decoder, "outputs", outputs);
        /* The workflow saves the graph as model.onnx. */
        json_object_set_new(decoder, "filename", json_string("model.onnx"));
        json_object_set_new(decoder, "num_hidden_layers", json_integer((json_int_t)pk.count));
        cache_dims(m->graph, pk.tmpl, &kv_heads, &head_size);
        if (kv_heads)
            json_object_set_new(decoder, "num_key_value_heads", json_integer(kv_heads));
        if (head_size)
            json_object_set_new(decoder, "head_size", json_integer(head_size));
        /* Olive merges its search settings over the builder's. */
        if (extra) {
            json_t *s = json_object_get(doc, "search");
            if (!json_is_object(s))
                json_object_set_new(doc, "search", s = json_object());
            json_object_update(s, extra);
        }
        if (!(text = json_dumps(doc, JSON_INDENT(4) | JSON_PRESERVE_ORDER)))
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    if (rc == OLIVE_OK)
        rc = oir_model_add_companion_text(m, "genai_config.json", text);
    free(text);
    json_decref(doc);
    json_decref(inputs);
    json_decref(outputs);
    json_decref(extra);
    return rc == OLIVE_OK ? olive_pass_progress(ctx, 1.0) : rc;
}

static const olive_param_spec params[] = {
    {.name = "metadata_only",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .help = "Olive's ModelBuilder switch; this pass is its true setting"},
    {.name = "precision",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "ModelBuilder's precision (int, int4, fp16, ...): accepted, not used",
     .details = "genai_config.json records no dtype: ONNX Runtime GenAI reads the dtypes from the graph, which the "
                "passes before this one made"},
    {.name = "search",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .help = "Generation settings (a JSON object) merged over genai_config.json's search, as Olive does"},
};

const olive_pass_def olive_pass_genai_metadata = {
    .name = PASS,
    .summary = "genai_config.json and tokenizer for an ONNX decoder (ModelBuilder metadata_only)",
    .details = "For Olive's ModelBuilder with metadata_only: true after OnnxConversion: the decoder's "
               "genai_config.json is made to match the graph as it is (inputs, outputs, per-layer cache names, "
               "layer count), with the tokenizer files beside it; the graph is not changed",
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
