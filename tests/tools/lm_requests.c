/* lm_requests TASK [LIMIT [MODEL [MAX_LENGTH]]]
 *
 * Builds the documents of an lm-eval task as LMEvaluator does (rows from the Hub's dataset viewer,
 * $HF_DATASETS_SERVER_ENDPOINT) and prints them as JSON:
 *   {"docs": [{"gold": i, "requests": [{"context", "continuation", "choice"[, "ll", "greedy"]}]}]
 *    [, "result": {"acc", "acc_norm", "perplexity", "n"}]}
 * With MODEL (an ONNX decoder file), each request's log-likelihood and the task's scores too.
 *
 * lm_requests --ids MODEL CTX_IDS CONT_IDS   (comma-separated token ids)
 *   prints {"ll", "greedy"} of the continuation's tokens after the context's.
 * Exit 0 on success; 1 with "error CODE: message" on stderr; 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/status.h"
#include "olive/olive.h"
#include "workflow/metrics/lm_score.h"
#include "workflow/metrics/lm_tasks.h"

static int fail(int rc)
{
    fprintf(stderr, "error %d: %s\n", rc, olive_error_last());
    return 1;
}

static size_t parse_ids(int32_t *ids, size_t cap, char *text)
{
    size_t n = 0;
    for (char *tok = strtok(text, ","); tok && n < cap; tok = strtok(NULL, ","))
        ids[n++] = (int32_t)strtol(tok, NULL, 10);
    return n;
}

static int ids_mode(char **argv)
{
    int32_t ctx[256], cont[256];
    size_t n_ctx = parse_ids(ctx, 256, argv[3]), n_cont = parse_ids(cont, 256, argv[4]);
    wf_lm *lm = NULL;
    double ll = 0;
    int greedy = 0, rc = wf_lm_open(&lm, argv[2], NULL, NULL, 0, WF_LM_PREFIX_BOS);
    if (rc == OLIVE_OK)
        rc = wf_lm_loglikelihood_ids(&ll, &greedy, lm, ctx, n_ctx, cont, n_cont);
    wf_lm_free(lm);
    if (rc != OLIVE_OK)
        return fail(rc);
    printf("{\"ll\": %.17g, \"greedy\": %s}\n", ll, greedy ? "true" : "false");
    return 0;
}

int main(int argc, char **argv)
{
    const wf_lm_task *t;
    wf_lm_doc *docs = NULL;
    wf_lm *lm = NULL;
    size_t n = 0;
    json_t *out, *arr;
    int rc;
    if (argc == 5 && !strcmp(argv[1], "--ids"))
        return ids_mode(argv);
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: lm_requests TASK [LIMIT [MODEL [MAX_LENGTH]]]\n");
        return 2;
    }
    if (!(t = wf_lm_task_find(argv[1]))) {
        fprintf(stderr, "unknown task '%s' (known: %s)\n", argv[1], wf_lm_task_names());
        return 2;
    }
    if ((rc = wf_lm_task_docs(&docs, &n, t, argc > 2 ? strtoll(argv[2], NULL, 10) : 0, "lm_requests")) != OLIVE_OK)
        return fail(rc);
    if (argc > 3 && (rc = wf_lm_open(&lm, argv[3], NULL, NULL, argc > 4 ? strtol(argv[4], NULL, 10) : 0, WF_LM_PREFIX_BOS)) != OLIVE_OK) {
        wf_lm_docs_free(docs, n);
        return fail(rc);
    }
    out = json_object();
    arr = json_array();
    json_object_set_new(out, "docs", arr);
    for (size_t d = 0; d < n && rc == OLIVE_OK; d++) {
        json_t *reqs = json_array();
        json_array_append_new(arr, json_pack("{s:I, s:o}", "gold", (json_int_t)docs[d].gold, "requests", reqs));
        for (size_t r = 0; r < docs[d].n && rc == OLIVE_OK; r++) {
            json_t *q = json_pack("{s:s, s:s, s:s}", "context", docs[d].contexts[r], "continuation",
                                  docs[d].continuations[r], "choice", docs[d].choices[r]);
            double ll;
            int greedy;
            if (lm && (rc = wf_lm_loglikelihood(&ll, &greedy, lm, docs[d].contexts[r], docs[d].continuations[r])) ==
                          OLIVE_OK) {
                json_object_set_new(q, "ll", json_real(ll));
                json_object_set_new(q, "greedy", json_boolean(greedy));
            }
            json_array_append_new(reqs, q);
        }
    }
    if (rc == OLIVE_OK && lm) {
        wf_lm_result r;
        if ((rc = wf_lm_score(&r, lm, t->output, docs, n, NULL, NULL)) == OLIVE_OK)
            json_object_set_new(out, "result",
                                json_pack("{s:f, s:f, s:f, s:I}", "acc", r.acc, "acc_norm", r.acc_norm, "perplexity",
                                          r.perplexity, "n", (json_int_t)r.n));
    }
    wf_lm_free(lm);
    wf_lm_docs_free(docs, n);
    if (rc != OLIVE_OK) {
        json_decref(out);
        return fail(rc);
    }
    json_dumpf(out, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17));
    fputc('\n', stdout);
    json_decref(out);
    return 0;
}
