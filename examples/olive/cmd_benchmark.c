/* `olive benchmark`: lm-eval's measures on local task files for a decoder model folder, run
 * with ONNX Runtime through libolive's sessions and tokenizer:
 *   - a JSONL multiple-choice task ({"context", "choices", "gold"} per line): acc and acc_norm as
 *     lm-eval's loglikelihood tasks define them (the choice with the highest log-likelihood, raw
 *     or divided by the choice's length in characters), with their standard errors;
 *   - a text file: lm-eval's rolling log-likelihood (windows of max_length tokens predicting the
 *     whole text), reported as word_perplexity, byte_perplexity and bits_per_byte;
 * plus tokens per second of greedy generation through ONNX Runtime GenAI. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_workflow.h"

#define MAX_TASKS 32

static const cli_option options[] = {
    {"model_name_or_path", 'm', "DIR", "the decoder model folder (model.onnx, tokenizer.json, genai_config.json)"},
    {"tasks", 0, "FILE",
     "a task file: .jsonl multiple choice (context, choices, gold) or a text file for "
     "rolling perplexity (repeat the flag, or list more files after it)"},
    {"device", 0, "DEVICE", "cpu (default) or gpu"},
    {"provider", 0, "EP", "the execution provider (default: the device's)"},
    {"batch_size", 0, "N", "accepted for compatibility; requests run one at a time"},
    {"limit", 0, "N", "score only the first N documents of each task"},
    {"max_length", 0, "N", "the longest token window (default: the model's context length, else 2048)"},
    {"gen_tokens", 0, "N", "tokens to generate for the tokens/s figure (default 32; 0: skip)"},
    {"output_path", 'o', "FILE", "write the results as JSON to FILE (default benchmark.json)"},
    {NULL, 0, NULL, NULL},
};

static const cli_help help = {
    "benchmark",
    "-m DIR --tasks FILE... [--device cpu|gpu] [--limit N] [-o FILE]",
    "Evaluates a decoder model folder on local tasks as lm-eval does, with ONNX Runtime.\n"
    "A .jsonl task holds one {\"context\": ..., \"choices\": [...], \"gold\": index} per line; each\n"
    "choice is scored as the continuation \" <choice>\" of the context (acc, acc_norm). Any other\n"
    "file is one text document scored by rolling windows (word_perplexity, byte_perplexity,\n"
    "bits_per_byte). Generation speed (tokens/s) comes from ONNX Runtime GenAI when the folder has\n"
    "a genai_config.json.",
    options,
    "Example:\n  olive benchmark -m out/model --tasks arc.jsonl /usr/share/common-licenses/GPL-3 --limit 100",
};

typedef struct bench_args {
    const char *model, *device, *provider, *output;
    const char *tasks[MAX_TASKS];
    size_t n_tasks;
    long limit, max_length, gen_tokens;
    int in_tasks;
} bench_args;

static int parse_long(long *out, const char *v, const char *flag)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0)
        return cli_usage("benchmark", "--%s expects a number >= 0, not '%s'", flag, v);
    *out = n;
    return CLI_EXIT_OK;
}

static int on_arg(void *ctx, const cli_option *opt, const char *value)
{
    bench_args *a = ctx;
    if (!opt) {
        if (!a->in_tasks)
            return cli_usage("benchmark", "unexpected argument '%s'", value);
        opt = &options[1];
    }
    a->in_tasks = !strcmp(opt->long_name, "tasks");
    if (!strcmp(opt->long_name, "model_name_or_path"))
        a->model = value;
    else if (!strcmp(opt->long_name, "tasks")) {
        if (a->n_tasks == MAX_TASKS)
            return cli_usage("benchmark", "at most %d task files", MAX_TASKS);
        a->tasks[a->n_tasks++] = value;
    } else if (!strcmp(opt->long_name, "device"))
        a->device = value;
    else if (!strcmp(opt->long_name, "provider"))
        a->provider = value;
    else if (!strcmp(opt->long_name, "output_path"))
        a->output = value;
    else if (!strcmp(opt->long_name, "limit"))
        return parse_long(&a->limit, value, "limit");
    else if (!strcmp(opt->long_name, "max_length"))
        return parse_long(&a->max_length, value, "max_length");
    else if (!strcmp(opt->long_name, "gen_tokens"))
        return parse_long(&a->gen_tokens, value, "gen_tokens");
    else if (!strcmp(opt->long_name, "batch_size")) {
        long unused;
        return parse_long(&unused, value, "batch_size");
    }
    return CLI_EXIT_OK;
}

/* ---- the model ---- */

typedef struct lm {
    olive_session *session;
    olive_tokenizer *tok;
    int32_t prefix_id; /* lm-eval's prefix token: bos, else eos */
    long max_length;
    size_t logits_index;
} lm;

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static const char *token_text(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "content"));
}

static int lm_open(lm *m, const char *dir, const olive_accelerator *acc, long max_length)
{
    char *path = join(dir, "model.onnx"), *cfg_path = join(dir, "tokenizer_config.json"),
         *gc_path = join(dir, "genai_config.json");
    json_t *cfg = cfg_path ? json_load_file(cfg_path, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
    json_t *gc = gc_path ? json_load_file(gc_path, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
    const char *bos = token_text(json_object_get(cfg, "bos_token")),
               *eos = token_text(json_object_get(cfg, "eos_token"));
    int rc = path ? olive_session_new_from_path(&m->session, path, acc, NULL) : OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = olive_tokenizer_load(&m->tok, dir);
    m->prefix_id = -1;
    if (rc == OLIVE_OK && (bos || eos) &&
        olive_tokenizer_token_to_id(&m->prefix_id, m->tok, bos ? bos : eos) != OLIVE_OK)
        m->prefix_id = -1;
    if (rc == OLIVE_OK && m->prefix_id < 0) {
        /* genai_config.json's bos/eos ids */
        const json_t *mc = json_object_get(gc, "model");
        const json_t *id = json_object_get(mc, "bos_token_id");
        if (!json_is_number(id))
            id = json_object_get(mc, "eos_token_id");
        if (json_is_array(id))
            id = json_array_get(id, 0);
        m->prefix_id = json_is_number(id) ? (int32_t)json_number_value(id) : 0;
    }
    m->max_length = max_length;
    if (!m->max_length) {
        const json_t *cl = json_object_get(json_object_get(gc, "model"), "context_length");
        m->max_length = json_is_number(cl) ? (long)json_number_value(cl) : 2048;
    }
    m->logits_index = 0;
    for (size_t i = 0; rc == OLIVE_OK && i < olive_session_output_count(m->session); i++)
        if (!strcmp(olive_session_output_name(m->session, i), "logits"))
            m->logits_index = i;
    json_decref(cfg);
    json_decref(gc);
    free(path);
    free(cfg_path);
    free(gc_path);
    return rc;
}

static void lm_close(lm *m)
{
    olive_session_free(m->session);
    olive_tokenizer_free(m->tok);
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    float f;
    if (exp == 0) {
        f = ldexpf((float)man, -24);
        return sign ? -f : f;
    }
    bits = sign | ((exp == 31 ? 255 : exp + 112) << 23) | (man << 13);
    memcpy(&f, &bits, 4);
    return f;
}

/* Log-likelihood of `cont` after `ctx` (lm-eval: the last max_length + 1 tokens, the final one
 * only predicted), and whether every continuation token is the greedy choice. */
static int loglikelihood(double *ll, int *greedy, lm *m, const int32_t *ctx, size_t n_ctx, const int32_t *cont,
                         size_t n_cont)
{
    size_t total = n_ctx + n_cont, start, n, n_in = olive_session_input_count(m->session);
    const char **names = calloc(n_in + 1, sizeof *names);
    olive_tensor **feeds = calloc(n_in + 1, sizeof *feeds), *out = NULL;
    const char *lname = olive_session_output_name(m->session, m->logits_index);
    int rc = OLIVE_OK;
    if (!names || !feeds || !n_cont) {
        free(names);
        free(feeds);
        return n_cont ? OLIVE_ENOMEM : OLIVE_EINVALID;
    }
    start = total > (size_t)m->max_length + 1 ? total - (size_t)m->max_length - 1 : 0;
    n = total - start - 1;
    if (n_cont > n) {
        free(names);
        free(feeds);
        fprintf(stderr, "olive: error: a continuation of %zu tokens does not fit max_length %ld\n", n_cont,
                m->max_length);
        return OLIVE_EINVALID;
    }
    for (size_t i = 0; i < n_in && rc == OLIVE_OK; i++) {
        const char *name = olive_session_input_name(m->session, i);
        olive_dtype dt = olive_session_input_dtype(m->session, i);
        int64_t shape[8];
        size_t rank = olive_session_input_rank(m->session, i);
        names[i] = name;
        if (!strcmp(name, "input_ids") || !strcmp(name, "attention_mask") || !strcmp(name, "position_ids")) {
            shape[0] = 1, shape[1] = (int64_t)n;
            if ((rc = olive_tensor_new(&feeds[i], dt, shape, 2)) != OLIVE_OK)
                break;
            for (size_t j = 0; j < n; j++) {
                int64_t v = !strcmp(name, "input_ids") ? (j + start < n_ctx ? ctx[j + start] : cont[j + start - n_ctx])
                            : !strcmp(name, "attention_mask") ? 1
                                                              : (int64_t)j;
                if (dt == OLIVE_DTYPE_INT32)
                    ((int32_t *)olive_tensor_data(feeds[i]))[j] = (int32_t)v;
                else
                    ((int64_t *)olive_tensor_data(feeds[i]))[j] = v;
            }
        } else if (!strncmp(name, "past_key", 8) || !strncmp(name, "past_value", 10)) {
            for (size_t d = 0; d < rank && d < 8; d++) {
                int64_t v = olive_session_input_dim(m->session, i, d);
                shape[d] = v >= 0 ? v : d == 0 ? 1 : 0;
            }
            rc = olive_tensor_new(&feeds[i], dt, shape, rank);
        } else {
            fprintf(stderr, "olive: error: the model's input '%s' is not one a decoder benchmark can feed\n", name);
            rc = OLIVE_EUNSUPPORTED;
        }
    }
    if (rc == OLIVE_OK)
        rc = olive_session_run(&out, m->session, names, (const olive_tensor *const *)feeds, n_in, &lname, 1);
    if (rc == OLIVE_OK) {
        size_t vocab = (size_t)olive_tensor_dim(out, 2);
        olive_dtype dt = olive_tensor_dtype(out);
        double sum = 0;
        int all = 1;
        for (size_t k = 0; k < n_cont; k++) {
            size_t pos = n - n_cont + k;
            double mx = -INFINITY, s = 0, best = -INFINITY, target = 0;
            size_t arg = 0;
            for (size_t v = 0; v < vocab; v++) {
                size_t at = pos * vocab + v;
                double x = dt == OLIVE_DTYPE_FLOAT16 ? half_to_float(((uint16_t *)olive_tensor_data(out))[at])
                                                     : ((float *)olive_tensor_data(out))[at];
                if (x > mx)
                    mx = x;
                if (x > best)
                    best = x, arg = v;
            }
            for (size_t v = 0; v < vocab; v++) {
                size_t at = pos * vocab + v;
                double x = dt == OLIVE_DTYPE_FLOAT16 ? half_to_float(((uint16_t *)olive_tensor_data(out))[at])
                                                     : ((float *)olive_tensor_data(out))[at];
                s += exp(x - mx);
                if (v == (size_t)cont[k])
                    target = x;
            }
            sum += target - mx - log(s);
            all &= arg == (size_t)cont[k];
        }
        *ll = sum;
        if (greedy)
            *greedy = all;
    }
    olive_tensor_free(out);
    for (size_t i = 0; i < n_in; i++)
        olive_tensor_free(feeds[i]);
    free(feeds);
    free(names);
    return rc;
}

static int encode(int32_t **ids, size_t *n, lm *m, const char *text, size_t len)
{
    *ids = NULL;
    *n = 0;
    if (!len)
        return OLIVE_OK;
    return olive_tokenizer_encode(ids, n, m->tok, text, len, NULL, 0, 0);
}

/* ---- tasks ---- */

static double mean_of(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return n ? s / (double)n : NAN;
}

/* lm-eval's mean_stderr: the sample standard deviation over sqrt(n). */
static json_t *stderr_of(const double *v, size_t n)
{
    double mu = mean_of(v, n), s = 0;
    if (n < 2)
        return json_null();
    for (size_t i = 0; i < n; i++)
        s += (v[i] - mu) * (v[i] - mu);
    return json_real(sqrt(s / (double)(n - 1)) / sqrt((double)n));
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int multiple_choice(json_t **out, lm *m, const char *path, long limit)
{
    size_t len = 0, n_docs = 0, cap = 0;
    char *text = read_text(path, &len), *line, *next;
    double *acc = NULL, *acc_norm = NULL;
    int rc = OLIVE_OK;
    size_t lineno = 0;
    if (!text) {
        fprintf(stderr, "olive: error: cannot read task file '%s'\n", path);
        return OLIVE_ENOTFOUND;
    }
    for (line = text; line && *line && rc == OLIVE_OK; line = next) {
        json_error_t err;
        json_t *doc;
        const json_t *choices, *gold;
        const char *context;
        double best = -INFINITY, best_norm = -INFINITY;
        size_t arg = 0, arg_norm = 0;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if (strspn(line, " \t\r") == strlen(line))
            continue;
        if (limit && (long)n_docs >= limit)
            break;
        if (!(doc = json_loads(line, 0, &err))) {
            fprintf(stderr, "olive: error: %s:%zu: invalid JSON: %s\n", path, lineno, err.text);
            rc = OLIVE_EFORMAT;
            break;
        }
        context = json_string_value(json_object_get(doc, "context"));
        choices = json_object_get(doc, "choices");
        gold = json_object_get(doc, "gold");
        if (!context || !json_is_array(choices) || !json_array_size(choices) || !json_is_integer(gold) ||
            json_integer_value(gold) < 0 || (size_t)json_integer_value(gold) >= json_array_size(choices)) {
            fprintf(stderr,
                    "olive: error: %s:%zu: expected {\"context\": text, \"choices\": [text, ...], \"gold\": "
                    "index of the right choice}\n",
                    path, lineno);
            json_decref(doc);
            rc = OLIVE_EFORMAT;
            break;
        }
        for (size_t c = 0; c < json_array_size(choices) && rc == OLIVE_OK; c++) {
            const char *choice = json_string_value(json_array_get(choices, c));
            size_t cl = strlen(context), spaces = 0;
            char *whole, *ctx_text;
            int32_t *whole_ids = NULL, *ctx_ids = NULL;
            size_t n_whole = 0, n_ctx = 0;
            double ll = 0;
            if (!choice) {
                fprintf(stderr, "olive: error: %s:%zu: choice %zu is not text\n", path, lineno, c);
                rc = OLIVE_EFORMAT;
                break;
            }
            /* lm-eval's _encode_pair: trailing spaces of the context move to the continuation
             * (" " + choice, its default target delimiter). */
            while (spaces < cl && context[cl - 1 - spaces] == ' ')
                spaces++;
            whole = malloc(cl + strlen(choice) + 2);
            ctx_text = malloc(cl + 1);
            if (!whole || !ctx_text) {
                free(whole);
                free(ctx_text);
                rc = OLIVE_ENOMEM;
                break;
            }
            snprintf(ctx_text, cl + 1, "%.*s", (int)(cl - spaces), context);
            snprintf(whole, cl + strlen(choice) + 2, "%s %s", context, choice);
            if ((rc = encode(&whole_ids, &n_whole, m, whole, strlen(whole))) == OLIVE_OK &&
                (rc = encode(&ctx_ids, &n_ctx, m, ctx_text, strlen(ctx_text))) == OLIVE_OK) {
                if (n_ctx == 0) {
                    /* An empty context is the prefix token alone. */
                    int32_t prefix = m->prefix_id;
                    rc = loglikelihood(&ll, NULL, m, &prefix, 1, whole_ids, n_whole);
                } else {
                    rc = loglikelihood(&ll, NULL, m, ctx_ids, n_ctx, whole_ids + n_ctx, n_whole - n_ctx);
                }
            }
            if (rc == OLIVE_OK) {
                double norm = ll / (double)utf8_chars(choice);
                if (ll > best)
                    best = ll, arg = c;
                if (norm > best_norm)
                    best_norm = norm, arg_norm = c;
            }
            olive_free(whole_ids);
            olive_free(ctx_ids);
            free(whole);
            free(ctx_text);
        }
        if (rc == OLIVE_OK) {
            if (n_docs == cap) {
                size_t nc = cap ? cap * 2 : 64;
                double *a = realloc(acc, nc * sizeof *a), *b;
                if (!a) {
                    rc = OLIVE_ENOMEM;
                    json_decref(doc);
                    break;
                }
                acc = a;
                if (!(b = realloc(acc_norm, nc * sizeof *b))) {
                    rc = OLIVE_ENOMEM;
                    json_decref(doc);
                    break;
                }
                acc_norm = b;
                cap = nc;
            }
            acc[n_docs] = arg == (size_t)json_integer_value(gold);
            acc_norm[n_docs] = arg_norm == (size_t)json_integer_value(gold);
            n_docs++;
        }
        json_decref(doc);
    }
    if (rc == OLIVE_OK && !n_docs) {
        fprintf(stderr, "olive: error: %s: no documents\n", path);
        rc = OLIVE_EINVALID;
    }
    if (rc == OLIVE_OK)
        *out = json_pack("{s:f, s:o, s:f, s:o, s:I}", "acc", mean_of(acc, n_docs), "acc_stderr", stderr_of(acc, n_docs),
                         "acc_norm", mean_of(acc_norm, n_docs), "acc_norm_stderr", stderr_of(acc_norm, n_docs),
                         "samples", (json_int_t)n_docs);
    free(acc);
    free(acc_norm);
    free(text);
    return rc;
}

/* lm-eval's loglikelihood_rolling over the whole text: the first window predicts its tokens
 * after the prefix token, later ones predict the next max_length tokens with one token of
 * context before them (disjoint windows). */
static int rolling(json_t **out, lm *m, const char *path)
{
    size_t len = 0, n = 0, words = 1, predicted;
    char *text = read_text(path, &len);
    int32_t *ids = NULL;
    double total = 0;
    long L = m->max_length;
    int rc;
    if (!text) {
        fprintf(stderr, "olive: error: cannot read task file '%s'\n", path);
        return OLIVE_ENOTFOUND;
    }
    /* Python's len(re.split(r"\s+", text)): one more than the runs of whitespace. */
    for (size_t i = 0; i < len;) {
        if (strchr(" \t\n\r\f\v\x1c\x1d\x1e\x1f", text[i]) && text[i]) {
            words++;
            while (i < len && text[i] && strchr(" \t\n\r\f\v\x1c\x1d\x1e\x1f", text[i]))
                i++;
        } else {
            i++;
        }
    }
    rc = encode(&ids, &n, m, text, len);
    if (rc == OLIVE_OK && !n) {
        fprintf(stderr, "olive: error: %s: the text has no tokens\n", path);
        rc = OLIVE_EINVALID;
    }
    if (rc == OLIVE_OK) {
        /* first window: [prefix] + tokens[:first-1] predicting tokens[:first] */
        size_t first = n < (size_t)L ? n : (size_t)L;
        double ll = 0;
        rc = loglikelihood(&ll, NULL, m, &m->prefix_id, 1, ids, first);
        total += ll;
        predicted = first;
        while (rc == OLIVE_OK && predicted < n) {
            size_t pred = n - predicted < (size_t)L ? n - predicted : (size_t)L, end = predicted + pred;
            /* lm-eval's disjoint window: tokens[end - max_length - 1 : end - pred] as context (one
             * token, more for a shorter last window) */
            rc = loglikelihood(&ll, NULL, m, ids + end - (size_t)L - 1, (size_t)L - pred + 1, ids + end - pred, pred);
            total += ll;
            predicted += pred;
        }
    }
    if (rc == OLIVE_OK)
        *out = json_pack("{s:f, s:f, s:f, s:I, s:I, s:I}", "word_perplexity", exp(-total / (double)words),
                         "byte_perplexity", exp(-total / (double)len), "bits_per_byte", -total / (double)len / log(2.0),
                         "tokens", (json_int_t)n, "words", (json_int_t)words, "bytes", (json_int_t)len);
    olive_free(ids);
    free(text);
    return rc;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static json_t *generation_speed(const char *dir, const olive_accelerator *acc, long tokens)
{
    olive_generator *g = NULL;
    char *text = NULL;
    json_t *doc = NULL;
    if (!tokens)
        return NULL;
    if (olive_generator_new(&g, dir, acc, "chat_template=false") != OLIVE_OK ||
        olive_generator_generate_json(&text, g, "The meaning of life is", (size_t)tokens) != OLIVE_OK) {
        fprintf(stderr, "olive: warning: no generation speed: %s\n", olive_error_last());
        olive_generator_free(g);
        return NULL;
    }
    doc = cli_json_take(text, "generation");
    olive_generator_free(g);
    return doc;
}

int cli_cmd_benchmark(int argc, char **argv)
{
    bench_args a;
    olive_accelerator *acc = NULL;
    lm m;
    json_t *results, *doc, *gen;
    int rc;
    memset(&a, 0, sizeof a);
    memset(&m, 0, sizeof m);
    a.gen_tokens = 32;
    rc = cli_parse(argc, argv, &help, on_arg, &a);
    if (rc == CLI_PARSED_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!a.model)
        return cli_usage("benchmark", "missing -m/--model_name_or_path DIR");
    if (!a.n_tasks)
        return cli_usage("benchmark", "missing --tasks FILE");
    if ((rc = olive_accelerator_new(&acc, a.device ? a.device : "cpu", a.provider)) != OLIVE_OK)
        return cli_fail(rc);
    if (!(results = json_object())) {
        olive_accelerator_free(acc);
        return cli_fail(OLIVE_ENOMEM);
    }
    if ((rc = lm_open(&m, a.model, acc, a.max_length)) != OLIVE_OK) {
        lm_close(&m);
        json_decref(results);
        olive_accelerator_free(acc);
        return cli_fail(rc);
    }
    olive_error_clear(); /* errors printed here are not the library's */
    for (size_t t = 0; t < a.n_tasks && rc == OLIVE_OK; t++) {
        json_t *r = NULL;
        char name[256];
        snprintf(name, sizeof name, "%s", base_name(a.tasks[t]));
        if (ends_with(name, ".jsonl")) {
            name[strlen(name) - 6] = '\0';
            rc = multiple_choice(&r, &m, a.tasks[t], a.limit);
        } else {
            rc = rolling(&r, &m, a.tasks[t]);
        }
        if (rc == OLIVE_OK)
            json_object_set_new(results, name, r);
    }
    lm_close(&m);
    if (rc != OLIVE_OK) {
        json_decref(results);
        olive_accelerator_free(acc);
        return olive_error_last()[0] && rc != OLIVE_EFORMAT && rc != OLIVE_ENOTFOUND ? cli_fail(rc) : CLI_EXIT_FAILURE;
    }
    gen = generation_speed(a.model, acc, a.gen_tokens);
    olive_accelerator_free(acc);
    doc = json_pack("{s:s, s:o}", "model", a.model, "results", results);
    if (gen) {
        json_object_set_new(doc, "generation",
                            json_pack("{s:O, s:O, s:O}", "decode_tokens_per_s",
                                      json_object_get(gen, "decode_tokens_per_s"), "prefill_tokens_per_s",
                                      json_object_get(gen, "prefill_tokens_per_s"), "time_to_first_token_s",
                                      json_object_get(gen, "time_to_first_token_s")));
        json_decref(gen);
    }
    {
        const char *key;
        json_t *r;
        printf("%-24s %-18s %12s %12s\n", "task", "metric", "value", "stderr");
        json_object_foreach(results, key, r)
        {
            static const char *const metrics[] = {"acc",           "acc_norm", "word_perplexity", "byte_perplexity",
                                                  "bits_per_byte", NULL};
            for (const char *const *mt = metrics; *mt; mt++) {
                char se[32];
                const json_t *v = json_object_get(r, *mt), *e;
                if (!v)
                    continue;
                snprintf(se, sizeof se, "%s_stderr", *mt);
                e = json_object_get(r, se);
                printf("%-24s %-18s %12.6g %12s\n", key, *mt, json_number_value(v),
                       json_is_number(e) ? (snprintf(se, sizeof se, "%.4f", json_number_value(e)), se) : "");
            }
        }
        if (json_object_get(doc, "generation"))
            printf("%-24s %-18s %12.1f\n", "generation", "tokens/s",
                   json_number_value(json_object_get(json_object_get(doc, "generation"), "decode_tokens_per_s")));
    }
    {
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        const char *path = a.output ? a.output : "benchmark.json";
        rc = text && cli_write_text_file(path, text) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
        free(text);
        if (rc == CLI_EXIT_OK)
            printf("Saved to %s\n", path);
    }
    json_decref(doc);
    return rc;
}
