/* optimization_options: onnxruntime's FusionOptions switches, given as a flat JSON object
 * ({"enable_gelu": false, ...}) or a k=v list ("enable_gelu=false,enable_attention=0"). */
#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

typedef struct {
    const char *name;
    size_t offset; /* of the int in fuse_options; SIZE_MAX: accepted and ignored */
} option_key;

#define OPT(f) offsetof(fuse_options, f)
#define IGNORED ((size_t)-1)

static const option_key keys[] = {
    {"enable_gelu", OPT(enable_gelu)},
    {"enable_layer_norm", OPT(enable_layer_norm)},
    {"enable_attention", OPT(enable_attention)},
    {"enable_skip_layer_norm", OPT(enable_skip_layer_norm)},
    {"enable_embed_layer_norm", OPT(enable_embed_layer_norm)},
    {"enable_bias_skip_layer_norm", OPT(enable_bias_skip_layer_norm)},
    {"enable_bias_gelu", OPT(enable_bias_gelu)},
    {"enable_gelu_approximation", OPT(enable_gelu_approximation)},
    {"enable_rotary_embeddings", OPT(enable_rotary_embeddings)},
    {"use_multi_head_attention", OPT(use_multi_head_attention)},
    {"use_raw_attention_mask", OPT(use_raw_attention_mask)},
    /* onnxruntime switches for fusions this pass does not have (quantized ops, convolution
     * models) or for its own tooling: accepted so that Olive configurations load. */
    {"enable_qordered_matmul", IGNORED},
    {"enable_shape_inference", IGNORED},
    {"enable_gemm_fast_gelu", IGNORED},
    {"group_norm_channels_last", IGNORED},
    {"enable_nhwc_conv", IGNORED},
    {"enable_group_norm", IGNORED},
    {"enable_skip_group_norm", IGNORED},
    {"enable_bias_splitgelu", IGNORED},
    {"enable_packed_qkv", IGNORED},
    {"enable_packed_kv", IGNORED},
    {"enable_bias_add", IGNORED},
    {"disable_multi_head_attention_bias", IGNORED},
};

static int parse_flag(const char *v, size_t n, int *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"}, *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strlen(yes[i]) == n && !strncasecmp(v, yes[i], n)) {
            *out = 1;
            return 1;
        }
        if (strlen(no[i]) == n && !strncasecmp(v, no[i], n)) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

/* Trims spaces and one pair of double quotes. */
static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
    if (*n >= 2 && (*s)[0] == '"' && (*s)[*n - 1] == '"')
        (*s)++, *n -= 2;
}

static int apply(fuse_options *o, const char *item, size_t len)
{
    const char *sep = NULL, *k, *v;
    size_t kn, vn;
    int flag;
    for (size_t i = 0; i < len && !sep; i++)
        if (item[i] == '=' || item[i] == ':')
            sep = item + i;
    k = item;
    kn = sep ? (size_t)(sep - item) : len;
    trim(&k, &kn);
    if (!kn)
        return sep ? olive_fail(OLIVE_EINVALID, "parameter 'optimization_options': an entry has no name") : OLIVE_OK;
    if (!sep)
        return olive_fail(OLIVE_EINVALID, "parameter 'optimization_options': '%.*s' has no value (use name=true|false)",
                          (int)kn, k);
    v = sep + 1;
    vn = len - (size_t)(v - item);
    trim(&v, &vn);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (strlen(keys[i].name) != kn || strncmp(keys[i].name, k, kn))
            continue;
        if (!parse_flag(v, vn, &flag))
            return olive_fail(OLIVE_EINVALID,
                              "parameter 'optimization_options': '%.*s' must be true or false, not '%.*s'", (int)kn, k,
                              (int)vn, v);
        if (keys[i].offset != IGNORED)
            *(int *)((char *)o + keys[i].offset) = flag;
        return OLIVE_OK;
    }
    {
        olive_strbuf known = {0};
        int rc;
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            if (keys[i].offset == IGNORED)
                continue;
            olive_strbuf_append(&known, known.len ? ", " : "");
            olive_strbuf_append(&known, keys[i].name);
        }
        rc = olive_fail(OLIVE_EINVALID, "parameter 'optimization_options': unknown option '%.*s'; known: %s", (int)kn,
                        k, known.data ? known.data : "");
        olive_strbuf_free(&known);
        return rc;
    }
}

int fuse_parse_options(fuse_options *o, const char *text)
{
    const char *s = text, *end;
    size_t n = strlen(text);
    trim(&s, &n);
    if (n && s[0] == '{') {
        if (s[n - 1] != '}')
            return olive_fail(OLIVE_EINVALID, "parameter 'optimization_options': a JSON object must end with '}'");
        s++, n -= 2;
    }
    end = s + n;
    while (s < end) {
        const char *e = s;
        while (e < end && *e != ',' && *e != ';')
            e++;
        OLIVE_TRY(apply(o, s, (size_t)(e - s)));
        s = e + 1;
    }
    return OLIVE_OK;
}
