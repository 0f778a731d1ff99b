/* dataset_rows PARAMS_JSON [MAX_ROWS]
 *
 * Loads one split as a workflow's load_dataset_config does (local files, or a dataset on the
 * Hugging Face Hub through the dataset viewer and its cache) and prints the rows as a JSON array.
 * MAX_ROWS is how many rows of the selection the caller would use (-1, the default: all).
 * Exit 0 on success; 1 with "error CODE: message" on stderr; 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "core/status.h"
#include "olive/olive.h"
#include "workflow/data/table.h"

int main(int argc, char **argv)
{
    json_t *params, *rows = NULL;
    json_error_t err;
    int rc;
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: dataset_rows PARAMS_JSON [MAX_ROWS]\n");
        return 2;
    }
    if (!(params = json_loads(argv[1], 0, &err))) {
        fprintf(stderr, "PARAMS_JSON: %s\n", err.text);
        return 2;
    }
    rc = wf_table_load(&rows, params, argc == 3 ? strtoll(argv[2], NULL, 10) : -1, "load_dataset_config");
    json_decref(params);
    if (rc != OLIVE_OK) {
        fprintf(stderr, "error %d: %s\n", rc, olive_error_last());
        return 1;
    }
    json_dumpf(rows, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(rows);
    return 0;
}
