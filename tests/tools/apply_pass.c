/* apply_pass PASS IN.onnx OUT.onnx [key=value ...]: runs one pass through the public API and
 * saves the result. Exit 0 on success; 1 with one error line on stderr; 2 on usage errors. */
#include <stdio.h>

#include "olive/olive.h"

int main(int argc, char **argv)
{
    olive_model *in = NULL, *out = NULL;
    olive_pass *pass = NULL;
    int rc;
    if (argc < 4) {
        fprintf(stderr, "usage: apply_pass PASS IN.onnx OUT.onnx [key=value ...]\n");
        return 2;
    }
    rc = olive_pass_new(&pass, argv[1]);
    for (int i = 4; i < argc && rc == OLIVE_OK; i++)
        rc = olive_pass_set_many(pass, argv[i]);
    if (rc == OLIVE_OK)
        rc = olive_model_load(&in, argv[2]);
    if (rc == OLIVE_OK)
        rc = olive_pass_apply(&out, pass, in);
    if (rc == OLIVE_OK)
        rc = olive_model_validate(out);
    if (rc == OLIVE_OK)
        rc = olive_model_save(out, argv[3], NULL);
    olive_model_free(out);
    olive_model_free(in);
    olive_pass_free(pass);
    if (rc != OLIVE_OK) {
        fprintf(stderr, "apply_pass: error: %s\n", olive_error_last());
        return 1;
    }
    return 0;
}
