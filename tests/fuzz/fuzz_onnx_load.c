/* libFuzzer harness for the ONNX loader: any byte string must load or fail with an error,
 * never crash or leak; what loads is validated and saved again into a scratch folder, then
 * reloaded from there. Build and run: see README.md beside this file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/ir.h"
#include "onnx/onnx_io.h"

static char scratch[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oir_model *m = NULL, *back = NULL;
    char path[128], data_path[160];
    onnx_save_options o;

    if (!scratch[0]) {
        strcpy(scratch, "/tmp/olive-fuzz-XXXXXX");
        if (!mkdtemp(scratch))
            abort();
    }
    if (onnx_load_buffer(&m, data, size, NULL) != 0)
        return 0;
    snprintf(path, sizeof path, "%s/model.onnx", scratch);
    snprintf(data_path, sizeof data_path, "%s.data", path);
    onnx_save_options_init(&o);
    o.size_threshold = 64; /* exercise the external data writer on small inputs too */
    (void)oir_model_validate(m);
    /* A loaded model must save, and the saved copy must load again. */
    if (onnx_save_file(m, path, &o) != 0 || onnx_load_file(&back, path) != 0)
        abort();
    oir_model_free(back);
    oir_model_free(m);
    unlink(path);
    unlink(data_path);
    return 0;
}
