/* Fuzz harness for workflow configs in Olive's JSON schema: any text must become a workflow
 * or be refused with an error, never crash or leak (strict and lenient parsing both). A
 * workflow that parses must print its pipeline. Nothing is run: parsing reads no files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "olive/common.h"
#include "workflow/workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (olive_log_set_level(OLIVE_LOG_SILENT) != OLIVE_OK) /* a valid level: cannot fail */
        abort();
    for (int strict = 0; strict <= 1; strict++) {
        olive_workflow *w = NULL;
        if (wf_parse(&w, text, "fuzz.json", strict) == OLIVE_OK) {
            free(wf_pipeline_text(w));
            wf_free(w);
        }
    }
    free(text);
    return 0;
}
