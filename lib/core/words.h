/* Splitting option and pipeline text into words. */
#ifndef OLIVE_CORE_WORDS_H
#define OLIVE_CORE_WORDS_H

#include <stddef.h>

/* Splits `text` on whitespace into *out (count in *count). A double-quoted part keeps its
 * spaces (key="a b" gives the word key=a b); a backslash escapes the next character inside
 * quotes. Errors: OLIVE_EINVALID (unterminated quote), OLIVE_ENOMEM. */
int olive_split_words(char ***out, size_t *count, const char *text);
void olive_free_words(char **words, size_t count);

#endif
