/* libFuzzer harness for the GGUF reader: any byte string must parse or fail with an error,
 * never crash or leak. What parses has every dequantizable tensor converted, and its tokenizer
 * metadata rebuilt into tokenizer.json. Build and run: see README.md beside this file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/blob.h"
#include "formats/checkpoint.h"
#include "formats/ggml_dequant.h"
#include "formats/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    olive_blob *blob;
    ofmt_gguf *g = NULL;
    if (olive_blob_wrap(&blob, data, size, NULL, NULL) != 0)
        return 0;
    if (ofmt_gguf_parse(&g, blob, "fuzz.gguf") == 0) {
        for (size_t i = 0; i < g->n_tensors; i++) {
            const ofmt_gguf_tensor *t = &g->tensors[i];
            /* one row, when it is small enough to convert quickly */
            if (!ofmt_ggml_can_dequant(t->type) || t->ne[0] > 4096 || !t->nbytes)
                continue;
            float *row = malloc(t->ne[0] * sizeof *row + 1);
            if (row)
                ofmt_ggml_dequant_rows(t->type, g->blob->data + t->offset, t->ne[0], 1, row);
            free(row);
        }
        ofmt_checkpoint *c = ofmt_checkpoint_new(OFMT_GGUF_FILE, "fuzz.gguf");
        if (c)
            ofmt_gguf_tokenizer_files(c, g);
        ofmt_checkpoint_free(c);
        ofmt_gguf_free(g);
    }
    olive_blob_unref(blob);
    return 0;
}
