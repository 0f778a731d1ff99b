/* lm-eval-harness tasks that Olive's LMEvaluator names ("arc_easy", "hellaswag", ...), defined
 * as lm-eval's task YAMLs define them for zero-shot runs: the Hub dataset, config and split the
 * task reads (test_split when the task has one, else validation_split), and how each row becomes
 * the log-likelihood requests scored on it:
 *   multiple choice   one request per choice: (doc_to_text, " " + choice), or for tasks whose
 *                     choices are contexts (winogrande) (choice, " " + doc_to_target); the gold
 *                     index from doc_to_target; reported as acc (and acc_norm: log-likelihood
 *                     over the choice's length in characters)
 *   loglikelihood     one request (doc_to_text, doc_to_target); reported as perplexity
 *                     (exp of the mean negative log-likelihood) and acc (the continuation is
 *                     the greedy one)
 * Rows come through the workflow's table loader (wf_table_load: the Hub's dataset viewer, its
 * verified cache and offline mode). */
#ifndef OLIVE_WORKFLOW_METRICS_LM_TASKS_H
#define OLIVE_WORKFLOW_METRICS_LM_TASKS_H

#include <stddef.h>

#include <jansson.h>

typedef enum {
    WF_LM_MULTIPLE_CHOICE,
    WF_LM_LOGLIKELIHOOD,
} wf_lm_output;

/* One document: its requests (contexts[i], continuations[i]), the choice texts whose lengths
 * make acc_norm (multiple choice), and the gold index. Everything is owned by the document. */
typedef struct wf_lm_doc {
    size_t n;
    char **contexts, **continuations, **choices;
    size_t gold;
} wf_lm_doc;

typedef struct wf_lm_task {
    const char *name;             /* lm-eval's task name */
    const char *dataset, *config; /* Hub dataset and its config (NULL: the default one) */
    const char *split;            /* the split scored */
    wf_lm_output output;
    int acc_norm; /* the task reports acc_norm */
    /* Builds a document from a row; `where` names the row in messages. */
    int (*make_doc)(wf_lm_doc *out, const json_t *row, const char *where);
} wf_lm_task;

/* The task named `name`, or NULL. */
const wf_lm_task *wf_lm_task_find(const char *name);
/* "arc_easy, arc_challenge, ..." (static). */
const char *wf_lm_task_names(void);

/* The documents of a task: the first `limit` rows of its split (limit <= 0: all), fetched through
 * the table loader. Errors: those of wf_table_load; OLIVE_EFORMAT for a row that does not have
 * the task's fields (named by row index). */
int wf_lm_task_docs(wf_lm_doc **out, size_t *n, const wf_lm_task *t, long long limit, const char *where);
/* Builds the document of one row (exposed for tests and local task files). */
int wf_lm_task_doc(wf_lm_doc *out, const wf_lm_task *t, const json_t *row, const char *where);
/* The documents of a local multiple-choice task file (lm_task_files.c): one JSON object
 * {"context": text, "choices": [text, ...], "gold": index} per line, each choice scored as
 * " " + choice after the context; the first `limit` (<= 0: all). Errors: OLIVE_ENOTFOUND /
 * OLIVE_EIO (the file), OLIVE_EFORMAT (a line, named path:line), OLIVE_EINVALID (no documents). */
int wf_lm_file_docs(wf_lm_doc **out, size_t *n, const char *path, long long limit);
void wf_lm_doc_clear(wf_lm_doc *d);
void wf_lm_docs_free(wf_lm_doc *docs, size_t n);

#endif
