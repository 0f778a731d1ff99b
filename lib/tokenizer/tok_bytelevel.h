/* GPT-2's byte-level alphabet: every byte as a printable character (printable Latin-1 bytes
 * as themselves, the others as U+0100 onwards in byte order). */
#ifndef OLIVE_TOKENIZER_TOK_BYTELEVEL_H
#define OLIVE_TOKENIZER_TOK_BYTELEVEL_H

#include <stddef.h>
#include <stdint.h>

/* The character of byte b. */
uint32_t otok_byte_to_char(unsigned char b);
/* The byte of character cp, or -1 when cp is not in the alphabet. */
int otok_char_to_byte(uint32_t cp);

#endif
