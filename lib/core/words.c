#include "core/words.h"

#include <stdlib.h>

#include "core/alloc.h"
#include "core/status.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int olive_split_words(char ***out, size_t *count, const char *text)
{
    char **words = NULL;
    size_t n = 0, cap = 0;
    const char *p = text;
    for (;;) {
        olive_strbuf w = {0};
        int quoted = 0;
        char *word;
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        olive_strbuf_append(&w, "");
        while (*p && (quoted || !is_space(*p))) {
            if (*p == '"') {
                quoted = !quoted;
                p++;
                continue;
            }
            if (quoted && *p == '\\' && p[1])
                p++;
            olive_strbuf_appendn(&w, p, 1);
            p++;
        }
        if (quoted) {
            olive_strbuf_free(&w);
            olive_free_words(words, n);
            return olive_fail(OLIVE_EINVALID, "unterminated quote in '%s'", text);
        }
        if (!(word = olive_strbuf_take(&w)) || OLIVE_PUSH(words, n, cap, word)) {
            free(word);
            olive_free_words(words, n);
            return OLIVE_ENOMEM;
        }
    }
    *out = words;
    *count = n;
    return OLIVE_OK;
}

void olive_free_words(char **words, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(words[i]);
    free(words);
}
