/* lm-eval task definitions on hand-made rows: the requests equal what lm-eval's task YAMLs and
 * their Python helpers make (expected strings written from those definitions: str.strip,
 * str.capitalize, re.sub(r"\[.*?\]", ""), str.replace), and LMEvaluator read into Olive's
 * metric names. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "olive/olive.h"
#include "check.h"
#include "workflow/evaluator.h"
#include "workflow/metrics/lm_tasks.h"

/* The document of `task` for the row `json` (rc OLIVE_OK expected when `want_rc` is 0). */
static int doc_of(wf_lm_doc *d, const char *task, const char *json)
{
    json_t *row = json_loads(json, 0, NULL);
    int rc;
    CHECK(row != NULL);
    rc = wf_lm_task_doc(d, wf_lm_task_find(task), row, "row 0");
    json_decref(row);
    return rc;
}

static void test_hellaswag_clean_up(void)
{
    wf_lm_doc d;
    /* ctx_b.capitalize() lowercases the rest; " [title]" -> ". "; a lazy bracket match spans an
     * inner '['; one that meets a newline first is kept; "   " -> "  " (one replace pass) */
    CHECK_RC(doc_of(&d, "hellaswag",
                    "{\"activity_label\": \" Cooking\", \"ctx_a\": \"Stir [a[b] the pot [title] Then wait.\","
                    " \"ctx_b\": \"tHE COOK\", \"endings\": [\"adds [x\\nsalt].\", \"sings   loudly. \"],"
                    " \"label\": \"1\"}"),
             OLIVE_OK);
    CHECK(d.n == 2 && d.gold == 1);
    if (d.n == 2) {
        CHECK_STR(d.contexts[0], "Cooking: Stir the pot. Then wait. The cook");
        CHECK_STR(d.continuations[0], " adds [x\nsalt].");
        CHECK_STR(d.continuations[1], " sings  loudly.");
        CHECK_STR(d.choices[1], "sings  loudly.");
    }
    wf_lm_doc_clear(&d);
    CHECK_RC(doc_of(&d, "hellaswag",
                    "{\"activity_label\": \"a\", \"ctx_a\": \"b\", \"ctx_b\": \"c\", \"endings\": [\"d\"],"
                    " \"label\": \"4\"}"),
             OLIVE_EFORMAT);
    CHECK_CONTAINS(olive_error_last(), "row 0");
}

static void test_other_tasks(void)
{
    wf_lm_doc d;
    CHECK_RC(doc_of(&d, "openbookqa",
                    "{\"question_stem\": \"Sun is\", \"choices\": {\"text\": [\"hot\", \"cold\"], \"label\": [\"A\","
                    " \"B\"]}, \"answerKey\": \" B\"}"),
             OLIVE_OK);
    CHECK(d.n == 2 && d.gold == 1);
    if (d.n == 2) {
        CHECK_STR(d.contexts[0], "Sun is");
        CHECK_STR(d.continuations[1], " cold");
    }
    wf_lm_doc_clear(&d);
    CHECK_RC(doc_of(&d, "piqa", "{\"goal\": \"Open a jar\", \"sol1\": \"twist\", \"sol2\": \"bite\", \"label\": 0}"),
             OLIVE_OK);
    if (d.n == 2) {
        CHECK_STR(d.contexts[1], "Question: Open a jar\nAnswer:");
        CHECK_STR(d.continuations[1], " bite");
    }
    wf_lm_doc_clear(&d);
    /* text.split(' ')[:-1] joined, and ' ' + the last piece; no space: an empty context */
    CHECK_RC(doc_of(&d, "lambada_openai", "{\"text\": \"one  two three\"}"), OLIVE_OK);
    if (d.n == 1) {
        CHECK_STR(d.contexts[0], "one  two");
        CHECK_STR(d.continuations[0], " three");
    }
    wf_lm_doc_clear(&d);
    CHECK_RC(doc_of(&d, "lambada_openai", "{\"text\": \"alone\"}"), OLIVE_OK);
    if (d.n == 1) {
        CHECK_STR(d.contexts[0], "");
        CHECK_STR(d.continuations[0], " alone");
    }
    wf_lm_doc_clear(&d);
    CHECK_RC(doc_of(&d, "winogrande",
                    "{\"sentence\": \"no blank\", \"option1\": \"a\", \"option2\": \"b\","
                    " \"answer\": \"1\"}"),
             OLIVE_EFORMAT);
    CHECK_RC(doc_of(&d, "arc_easy",
                    "{\"question\": \"q\", \"choices\": {\"text\": [\"a\"], \"label\": [\"A\"]},"
                    " \"answerKey\": \"E\"}"),
             OLIVE_EFORMAT);
    CHECK_CONTAINS(olive_error_last(), "answerKey 'E'");
    CHECK(wf_lm_task_find("mmlu") == NULL);
}

static int parse(wf_evaluator *e, const char *json)
{
    json_t *cfg = json_loads(json, 0, NULL);
    int rc;
    CHECK(cfg != NULL);
    rc = wf_evaluator_parse(e, cfg, NULL, "evaluators.lm");
    json_decref(cfg);
    return rc;
}

static void test_lmevaluator_config(void)
{
    wf_evaluator e;
    CHECK_RC(parse(&e, "{\"type\": \"LMEvaluator\", \"tasks\": [\"arc_easy\", \"boolq\", \"lambada_openai\","
                       " \"size_on_disk\"], \"limit\": 5, \"batch_size\": 8}"),
             OLIVE_OK);
    CHECK(e.n_metrics == 4);
    if (e.n_metrics == 4) {
        CHECK_STR(e.metrics[0].name, "arc_easy");
        CHECK(e.metrics[0].type == WF_METRIC_LM_TASK && e.metrics[0].lm_limit == 5 && e.metrics[0].n_subs == 2);
        CHECK_STR(e.metrics[0].subs[1].name, "acc_norm");
        CHECK(e.metrics[0].subs[0].priority == -1 && e.metrics[0].subs[0].higher_is_better);
        CHECK(e.metrics[1].n_subs == 1); /* boolq: acc */
        CHECK_STR(e.metrics[2].subs[1].name, "perplexity");
        CHECK(e.metrics[3].type == WF_METRIC_SIZE_ON_DISK);
        CHECK_STR(e.metrics[3].subs[0].name, "bytes");
    }
    wf_evaluator_clear(&e);
    CHECK_RC(parse(&e, "{\"type\": \"LMEvaluator\", \"tasks\": [\"arc_easy\", \"mmlu\"]}"), OLIVE_EUNSUPPORTED);
    CHECK_CONTAINS(olive_error_last(), "evaluators.lm.tasks[1]");
    CHECK_CONTAINS(olive_error_last(), "'mmlu'");
    CHECK_CONTAINS(olive_error_last(), "winogrande");
    CHECK_RC(parse(&e, "{\"type\": \"LMEvaluator\", \"tasks\": [\"piqa\"], \"limit\": 0.5}"), OLIVE_EUNSUPPORTED);
    CHECK_RC(parse(&e, "{\"type\": \"LMEvaluator\", \"tasks\": [\"piqa\", \"piqa\"]}"), OLIVE_EINVALID);
    CHECK_RC(parse(&e, "{\"type\": \"LMEvaluator\", \"tasks\": []}"), OLIVE_EINVALID);
    CHECK_RC(parse(&e, "{\"type\": \"LMEvaluator\", \"tasks\": [\"piqa\"], \"model_class\": \"hf\"}"),
             OLIVE_EUNSUPPORTED);
    CHECK_RC(parse(&e, "{\"type\": \"MTEBEvaluator\", \"metrics\": []}"), OLIVE_EUNSUPPORTED);
    CHECK_CONTAINS(olive_error_last(), "LMEvaluator");
}

int main(void)
{
    test_hellaswag_clean_up();
    test_other_tasks();
    test_lmevaluator_config();
    return check_summary("test_lm_tasks");
}
