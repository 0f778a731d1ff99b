/* The byte-level alphabet, computed rather than tabled. */
#include "tokenizer/tok_bytelevel.h"

static int printable(unsigned b)
{
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t otok_byte_to_char(unsigned char b)
{
    if (printable(b))
        return b;
    /* the n-th non-printable byte maps to 256 + n */
    unsigned n = 0;
    for (unsigned k = 0; k < b; k++)
        n += !printable(k);
    return 256 + n;
}

int otok_char_to_byte(uint32_t cp)
{
    if (cp < 256)
        return printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68)
        return -1;
    unsigned n = cp - 256;
    for (unsigned k = 0; k < 256; k++)
        if (!printable(k) && n-- == 0)
            return (int)k;
    return -1;
}
