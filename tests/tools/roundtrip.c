/* roundtrip IN.onnx OUT.onnx [save options]: loads a model and saves it through the public
 * API. Exit 0 on success; 1 with one error line on stderr on failure; 2 on usage errors. */
#include <stdio.h>

#include "olive/olive.h"

int main(int argc, char **argv)
{
    olive_model *m = NULL;
    int rc;
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: roundtrip IN.onnx OUT.onnx [save options]\n");
        return 2;
    }
    rc = olive_model_load(&m, argv[1]);
    if (rc == OLIVE_OK)
        rc = olive_model_validate(m);
    if (rc == OLIVE_OK)
        rc = olive_model_save(m, argv[2], argc == 4 ? argv[3] : NULL);
    olive_model_free(m);
    if (rc != OLIVE_OK) {
        fprintf(stderr, "roundtrip: error: %s\n", olive_error_last());
        return 1;
    }
    return 0;
}
