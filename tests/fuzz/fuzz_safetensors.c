/* Fuzz harness for the safetensors reader: any byte string, as a .safetensors file, must be
 * read or refused with an error, never crash or leak. Every tensor of a file that reads is
 * touched end to end, so a byte range the reader let through outside the file is caught by
 * AddressSanitizer (the file is mapped; reading past it faults). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "olive/common.h"
#include "formats/checkpoint.h"
#include "formats/safetensors.h"
#include "fuzz_scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[FUZZ_PATH_MAX];
    volatile uint8_t sink = 0;
    if (olive_log_set_level(OLIVE_LOG_SILENT) != OLIVE_OK) /* a valid level: cannot fail */
        abort();
    if (fuzz_scratch_file(path, "model.safetensors", data, size) != 0)
        abort();
    ofmt_checkpoint *c = ofmt_checkpoint_new(OFMT_HF_FOLDER, path);
    if (!c)
        return 0;
    if (ofmt_safetensors_add_file(c, path) == OLIVE_OK) {
        for (size_t i = 0; i < c->n_tensors; i++) {
            const ofmt_tensor *t = &c->tensors[i];
            if (t->offset > t->blob->size || t->nbytes > t->blob->size - t->offset)
                abort(); /* a range outside the mapped file was accepted */
            for (uint64_t b = 0; b < t->nbytes; b += 97)
                sink ^= t->blob->data[t->offset + b];
            if (t->nbytes)
                sink ^= t->blob->data[t->offset + t->nbytes - 1];
        }
    }
    ofmt_checkpoint_free(c);
    (void)sink;
    return 0;
}
