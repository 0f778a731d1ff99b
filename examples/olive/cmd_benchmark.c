/* `olive benchmark`: lm-eval's measures of a decoder model folder (olive_lm_eval: lm-eval tasks
 * by name, local .jsonl multiple-choice files, text files for rolling perplexity), plus tokens
 * per second of greedy generation through ONNX Runtime GenAI. */
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
    {"tasks", 0, "TASK",
     "an lm-eval task (arc_easy, hellaswag, ...), a .jsonl multiple-choice file or a text file "
     "for rolling perplexity (repeat the flag, or list more after it)"},
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
    "-m DIR --tasks TASK... [--device cpu|gpu] [--limit N] [-o FILE]",
    "Evaluates a decoder model folder on tasks as lm-eval does, with ONNX Runtime.\n"
    "A task is an lm-eval task libolive knows (arc_easy, arc_challenge, hellaswag, piqa, boolq,\n"
    "winogrande, openbookqa, lambada_openai; rows from the Hugging Face Hub's dataset viewer), a\n"
    ".jsonl file of {\"context\": ..., \"choices\": [...], \"gold\": index} lines, each choice scored\n"
    "as the continuation \" <choice>\" of the context (acc, acc_norm), or any other file: one text\n"
    "scored by rolling windows (word_perplexity, byte_perplexity, bits_per_byte). Generation speed\n"
    "(tokens/s) comes from ONNX Runtime GenAI when the folder has a genai_config.json.",
    options,
    "Example:\n  olive benchmark -m out/model --tasks arc_easy arc.jsonl /usr/share/common-licenses/GPL-3 "
    "--limit 100",
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
            return cli_usage("benchmark", "at most %d tasks", MAX_TASKS);
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
    json_t *tasks, *cfg, *results, *doc, *gen;
    char *cfg_text, *out = NULL;
    int rc;
    memset(&a, 0, sizeof a);
    a.gen_tokens = 32;
    rc = cli_parse(argc, argv, &help, on_arg, &a);
    if (rc == CLI_PARSED_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!a.model)
        return cli_usage("benchmark", "missing -m/--model_name_or_path DIR");
    if (!a.n_tasks)
        return cli_usage("benchmark", "missing --tasks TASK");
    if (!(tasks = json_array()))
        return cli_fail(OLIVE_ENOMEM);
    for (size_t t = 0; t < a.n_tasks; t++)
        json_array_append_new(tasks, json_string(a.tasks[t]));
    cfg = json_pack("{s:o, s:I, s:I}", "tasks", tasks, "limit", (json_int_t)a.limit, "max_length",
                    (json_int_t)a.max_length);
    cfg_text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    json_decref(cfg);
    if (!cfg_text)
        return cli_fail(OLIVE_ENOMEM);
    if ((rc = olive_accelerator_new(&acc, a.device ? a.device : "cpu", a.provider)) == OLIVE_OK)
        rc = olive_lm_eval(&out, a.model, cfg_text, acc, NULL, NULL);
    free(cfg_text);
    if (rc != OLIVE_OK) {
        olive_accelerator_free(acc);
        return cli_fail(rc);
    }
    if (!(results = cli_json_take(out, "results"))) {
        olive_accelerator_free(acc);
        return CLI_EXIT_FAILURE;
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
