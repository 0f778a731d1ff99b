/* The encoder's description from config.json: which layout family and head, sizes, norm
 * epsilon and activation, with every value range-checked before tensors are sized by it. */
#include <string.h>

#include "core/status.h"
#include "passes/convert/encoder.h"
#include "passes/convert/encoder_bert.h"

typedef struct arch_entry {
    const char *name;
    enc_family family;
    enc_head head;
} arch_entry;

/* Architectures (config.json "architectures"[0]) and model types (when that is absent). */
static const arch_entry known[] = {
    {"BertModel", ENC_BERT, ENC_HEAD_POOLER},
    {"BertForSequenceClassification", ENC_BERT, ENC_HEAD_SEQCLS},
    {"RobertaModel", ENC_ROBERTA, ENC_HEAD_POOLER},
    {"RobertaForSequenceClassification", ENC_ROBERTA, ENC_HEAD_SEQCLS},
    {"XLMRobertaModel", ENC_ROBERTA, ENC_HEAD_POOLER},
    {"XLMRobertaForSequenceClassification", ENC_ROBERTA, ENC_HEAD_SEQCLS},
    {"DistilBertModel", ENC_DISTILBERT, ENC_HEAD_NONE},
    {"DistilBertForSequenceClassification", ENC_DISTILBERT, ENC_HEAD_SEQCLS},
    {"bert", ENC_BERT, ENC_HEAD_POOLER},
    {"roberta", ENC_ROBERTA, ENC_HEAD_POOLER},
    {"xlm-roberta", ENC_ROBERTA, ENC_HEAD_POOLER},
    {"distilbert", ENC_DISTILBERT, ENC_HEAD_NONE},
};

enc_family enc_family_of(const char *architecture, enc_head *head)
{
    for (size_t i = 0; architecture && i < sizeof known / sizeof *known; i++)
        if (!strcmp(known[i].name, architecture)) {
            if (head)
                *head = known[i].head;
            return known[i].family;
        }
    return 0;
}

int cvt_bert_handles(const char *architecture)
{
    return enc_family_of(architecture, NULL) != 0;
}

/* "section." before a key when the value sits in a section of config.json. */
#define KEY_FMT "%s%s%s"
#define KEY_ARGS(section, key) (section), (section)[0] ? "." : "", (key)

int enc_json_int(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key, int64_t fallback,
                 int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (fallback < 0)
            return olive_fail(OLIVE_EFORMAT, "config.json of '%s': missing '" KEY_FMT "'", ck->path,
                              KEY_ARGS(section, key));
        *out = fallback;
        return OLIVE_OK;
    }
    if (!json_is_integer(v))
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '" KEY_FMT "' must be an integer", ck->path,
                          KEY_ARGS(section, key));
    *out = (int64_t)json_integer_value(v);
    if (*out < lo || *out > hi)
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '" KEY_FMT "' is %lld, outside [%lld, %lld]", ck->path,
                          KEY_ARGS(section, key), (long long)*out, (long long)lo, (long long)hi);
    return OLIVE_OK;
}

int enc_json_side(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key, int64_t fallback,
                  int64_t *out)
{
    json_t *v = json_object_get(obj, key), *a, *b;
    if (!json_is_array(v))
        return enc_json_int(ck, obj, section, key, fallback, 1, 1 << 14, out);
    a = json_array_get(v, 0);
    b = json_array_get(v, 1);
    if (json_array_size(v) != 2 || !json_is_integer(a) || !json_is_integer(b))
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '" KEY_FMT "' must be an integer or two", ck->path,
                          KEY_ARGS(section, key));
    if (json_integer_value(a) != json_integer_value(b))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': " KEY_FMT " [%lld, %lld] is not supported (only square sizes are)",
                          ck->path, KEY_ARGS(section, key), (long long)json_integer_value(a),
                          (long long)json_integer_value(b));
    *out = (int64_t)json_integer_value(a);
    if (*out < 1 || *out > 1 << 14)
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '" KEY_FMT "' is %lld, outside [1, 16384]", ck->path,
                          KEY_ARGS(section, key), (long long)*out);
    return OLIVE_OK;
}

int enc_json_string(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key,
                    const char *fallback, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = fallback;
        return OLIVE_OK;
    }
    if (!json_is_string(v))
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '" KEY_FMT "' must be a string", ck->path,
                          KEY_ARGS(section, key));
    *out = json_string_value(v);
    return OLIVE_OK;
}

int enc_json_eps(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key, double fallback,
                 double *out)
{
    json_t *v = json_object_get(obj, key);
    if (v && !json_is_null(v) && !json_is_number(v))
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '" KEY_FMT "' must be a number", ck->path,
                          KEY_ARGS(section, key));
    *out = v && !json_is_null(v) ? json_number_value(v) : fallback;
    if (!(*out > 0 && *out < 1))
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '" KEY_FMT "' %g is not in (0, 1)", ck->path,
                          KEY_ARGS(section, key), *out);
    return OLIVE_OK;
}

int enc_json_act(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key,
                 const char *fallback, int quick, enc_act *out)
{
    const char *act = NULL;
    OLIVE_TRY(enc_json_string(ck, obj, section, key, fallback, &act));
    if (!strcmp(act, "gelu"))
        *out = ENC_ACT_GELU;
    else if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh") || !strcmp(act, "gelu_fast"))
        *out = ENC_ACT_GELU_TANH;
    else if (!strcmp(act, "relu"))
        *out = ENC_ACT_RELU;
    else if (quick && !strcmp(act, "quick_gelu"))
        *out = ENC_ACT_QUICK_GELU;
    else
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': " KEY_FMT " '%s' is not supported (gelu, gelu_new, "
                          "gelu_pytorch_tanh, gelu_fast, relu%s are)",
                          ck->path, KEY_ARGS(section, key), act, quick ? ", quick_gelu" : "");
    return OLIVE_OK;
}

int enc_json_require_bool(const ofmt_checkpoint *ck, const json_t *obj, const char *section, const char *key, int want)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_boolean(v))
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '" KEY_FMT "' must be true or false", ck->path,
                          KEY_ARGS(section, key));
    if (json_is_true(v) != !!want)
        return olive_fail(OLIVE_EUNSUPPORTED, "config.json of '%s': " KEY_FMT " %s is not supported (only %s is)",
                          ck->path, KEY_ARGS(section, key), want ? "false" : "true", want ? "true" : "false");
    return OLIVE_OK;
}

static int get_int(const ofmt_checkpoint *ck, const char *key, int64_t fallback, int64_t lo, int64_t hi, int64_t *out)
{
    return enc_json_int(ck, ck->config, "", key, fallback, lo, hi, out);
}

static int get_string(const ofmt_checkpoint *ck, const char *key, const char *fallback, const char **out)
{
    return enc_json_string(ck, ck->config, "", key, fallback, out);
}

static int get_activation(const ofmt_checkpoint *ck, const char *key, enc_act *out)
{
    return enc_json_act(ck, ck->config, "", key, "gelu", 0, out);
}

/* The architecture name: "architectures"[0], else model_type. */
static const char *architecture_of(const ofmt_checkpoint *ck)
{
    json_t *archs = json_object_get(ck->config, "architectures");
    json_t *first = json_is_array(archs) ? json_array_get(archs, 0) : NULL;
    if (json_is_string(first))
        return json_string_value(first);
    first = json_object_get(ck->config, "model_type");
    return json_is_string(first) ? json_string_value(first) : NULL;
}

int enc_config_read(enc_config *c, const ofmt_checkpoint *ck)
{
    const int64_t big = (int64_t)1 << 24;
    json_t *labels;

    memset(c, 0, sizeof *c);
    if (!json_is_object(ck->config))
        return olive_fail(OLIVE_EFORMAT, "checkpoint '%s' has no config.json object", ck->path);
    c->architecture = architecture_of(ck);
    if (!(c->family = enc_family_of(c->architecture, &c->head)))
        return olive_fail(OLIVE_EUNSUPPORTED, "checkpoint '%s': architecture '%s' is not a BERT-family encoder",
                          ck->path, c->architecture ? c->architecture : "(none)");

    if (c->family == ENC_DISTILBERT) {
        int64_t sinusoidal = 0;
        json_t *s = json_object_get(ck->config, "sinusoidal_pos_embds");
        OLIVE_TRY(get_int(ck, "dim", -1, 1, 65536, &c->hidden));
        OLIVE_TRY(get_int(ck, "n_heads", -1, 1, 1024, &c->heads));
        OLIVE_TRY(get_int(ck, "n_layers", -1, 1, 1024, &c->layers));
        OLIVE_TRY(get_int(ck, "hidden_dim", -1, 1, 1 << 20, &c->intermediate));
        OLIVE_TRY(get_activation(ck, "activation", &c->act));
        if (s && !json_is_boolean(s))
            return olive_fail(OLIVE_EFORMAT, "config.json of '%s': 'sinusoidal_pos_embds' must be true or false",
                              ck->path);
        sinusoidal = json_is_true(s);
        c->sinusoidal = (int)sinusoidal;
        c->type_vocab = 0;
        c->eps = 1e-12; /* fixed in DistilBERT's modeling code */
    } else {
        const char *pos = NULL;
        OLIVE_TRY(get_int(ck, "hidden_size", -1, 1, 65536, &c->hidden));
        OLIVE_TRY(get_int(ck, "num_attention_heads", -1, 1, 1024, &c->heads));
        OLIVE_TRY(get_int(ck, "num_hidden_layers", -1, 1, 1024, &c->layers));
        OLIVE_TRY(get_int(ck, "intermediate_size", -1, 1, 1 << 20, &c->intermediate));
        OLIVE_TRY(get_int(ck, "type_vocab_size", 2, 0, 1024, &c->type_vocab));
        OLIVE_TRY(get_activation(ck, "hidden_act", &c->act));
        OLIVE_TRY(get_string(ck, "position_embedding_type", "absolute", &pos));
        if (strcmp(pos, "absolute"))
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "config.json of '%s': position_embedding_type '%s' is not supported "
                              "(only 'absolute' is)",
                              ck->path, pos);
        OLIVE_TRY(enc_json_eps(ck, ck->config, "", "layer_norm_eps", 1e-12, &c->eps));
    }
    OLIVE_TRY(get_int(ck, "vocab_size", -1, 1, big, &c->vocab));
    OLIVE_TRY(get_int(ck, "max_position_embeddings", -1, 1, 1 << 20, &c->max_positions));
    OLIVE_TRY(get_int(ck, "pad_token_id", c->family == ENC_ROBERTA ? 1 : 0, 0, big, &c->pad_id));
    if (c->hidden % c->heads)
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': hidden size %lld is not a multiple of the %lld heads",
                          ck->path, (long long)c->hidden, (long long)c->heads);
    if (c->family == ENC_ROBERTA && c->pad_id + 1 >= c->max_positions)
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': pad_token_id %lld leaves no positions among %lld",
                          ck->path, (long long)c->pad_id, (long long)c->max_positions);

    labels = json_object_get(ck->config, "id2label");
    if (json_is_object(labels))
        c->num_labels = (int64_t)json_object_size(labels);
    return OLIVE_OK;
}
