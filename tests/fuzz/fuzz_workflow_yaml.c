/* Fuzz harness for workflow configs written in YAML: any text must convert to the JSON tree it
 * stands for and parse as a workflow, or be refused with an error (line and column), never
 * crash, leak or hang on deep nesting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "olive/common.h"
#include "workflow/workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    json_t *root = NULL;
    olive_workflow *w = NULL;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (olive_log_set_level(OLIVE_LOG_SILENT) != OLIVE_OK) /* a valid level: cannot fail */
        abort();
    if (wf_yaml_to_json(&root, text, "fuzz.yaml") == OLIVE_OK) {
        /* wf_parse_tree takes the tree, on success and on failure */
        if (wf_parse_tree(&w, root, "fuzz.yaml", 0) == OLIVE_OK) {
            free(wf_pipeline_text(w));
            wf_free(w);
        }
    }
    free(text);
    return 0;
}
