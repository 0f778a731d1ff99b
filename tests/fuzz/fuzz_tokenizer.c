/* libFuzzer harness for the tokenizer: the input is a tokenizer.json, a NUL byte, then a text.
 * Any JSON must load or fail with an error; what loads encodes the text (and the text as a
 * pair) and decodes the ids, never crashing or leaking. Build and run: see README.md beside
 * this file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t json_len = nul ? (size_t)(nul - data) : size;
    const char *text = nul ? (const char *)nul + 1 : "";
    size_t text_len = nul ? size - json_len - 1 : 0;
    json_t *root = json_loadb((const char *)data, json_len, JSON_ALLOW_NUL, NULL);
    otok_tokenizer *t = NULL;
    if (root && otok_tokenizer_from_json(&t, root) == 0) {
        otok_encoding enc;
        memset(&enc, 0, sizeof enc);
        otok_cache cache = {0};
        if (otok_encode(t, text, text_len, text, text_len, 1, &enc, &cache) == 0) {
            char *out = NULL;
            size_t n;
            if (otok_decode_ids(t, enc.ids.v, enc.ids.n, 0, &out, &n) == 0)
                free(out);
            otok_encoding_free(&enc);
        }
        otok_cache_free(&cache);
        otok_tokenizer_free(t);
    }
    json_decref(root);
    return 0;
}
