/* Unit tests of the tokenizer's pieces, each against values worked out by hand from the
 * definitions Hugging Face tokenizers implements: the Oniguruma-to-PCRE2 patterns and their
 * match ranges, split behaviours, the byte-level alphabet, UTF-8 repair, the BPE merge loop on
 * a tiny vocabulary, WordPiece's greedy longest match and Unigram's Viterbi. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "olive/common.h"
#include "tokenizer/tok_bytelevel.h"
#include "tokenizer/tok_model.h"
#include "tokenizer/tok_pretok.h"
#include "tokenizer/tok_regex.h"
#include "tokenizer/tok_split.h"
#include "tokenizer/tok_text.h"
#include "tokenizer/tokenizer.h"

/* The pieces of `text` after regex `pattern` and `behavior`, joined by '|'. */
static char *split_with(const char *pattern, const char *text, otok_behavior behavior, int invert)
{
    otok_regex *re = NULL;
    if (otok_regex_compile(&re, pattern, strlen(pattern), "test"))
        return NULL;
    otok_ranges r = {0};
    otok_pieces out = {0};
    otok_piece p = {text, strlen(text), -1, 1};
    olive_strbuf b = {0};
    if (!otok_regex_ranges(re, text, strlen(text), &r) && !otok_split(&out, &p, &r, behavior, invert))
        for (size_t i = 0; i < out.n; i++) {
            if (i)
                olive_strbuf_append(&b, "|");
            olive_strbuf_appendn(&b, out.v[i].s, out.v[i].len);
        }
    otok_ranges_free(&r);
    otok_pieces_free(&out);
    otok_regex_free(re);
    return olive_strbuf_take(&b);
}

#define CHECK_SPLIT(pat, text, beh, inv, want)                                                                         \
    do {                                                                                                               \
        char *got_ = split_with(pat, text, beh, inv);                                                                  \
        CHECK_STR(got_, want);                                                                                         \
        free(got_);                                                                                                    \
    } while (0)

static void test_regex_and_split(void)
{
    /* GPT-2's pattern: contractions, a leading space kept with words, whitespace runs before
     * a word leave their last space to it */
    CHECK_SPLIT(OTOK_GPT2_PATTERN, "I'm  here 42x", OTOK_ISOLATED, 0, "I|'m| | here| 42|x");
    /* \s is White_Space (U+3000 included), \p{L} letters of any script */
    CHECK_SPLIT(OTOK_GPT2_PATTERN, "日本\u3000語", OTOK_ISOLATED, 0, "日本|\u3000|語");
    /* case-insensitive contractions (Llama 3) */
    CHECK_SPLIT("(?i:'s|'t)|\\p{L}+", "IT'S", OTOK_ISOLATED, 0, "IT|'S");
    /* behaviours on "a-b--c" split at "-" */
    CHECK_SPLIT("-", "a-b--c", OTOK_REMOVED, 0, "a|b|c");
    CHECK_SPLIT("-", "a-b--c", OTOK_ISOLATED, 0, "a|-|b|-|-|c");
    CHECK_SPLIT("-", "a-b--c", OTOK_MERGED_WITH_PREVIOUS, 0, "a-|b-|-|c");
    CHECK_SPLIT("-", "a-b--c", OTOK_MERGED_WITH_NEXT, 0, "a|-b|-|-c");
    CHECK_SPLIT("-", "a-b--c", OTOK_CONTIGUOUS, 0, "a|-|b|--|c");
    CHECK_SPLIT("-", "a-b--c", OTOK_REMOVED, 1, "-|-|-");
    /* \w is Unicode's word class (marks included) and \uHHHH an escape */
    CHECK_SPLIT("\\w+", "e\u0301t\u00e9 x", OTOK_REMOVED, 1, "e\u0301t\u00e9|x");
    CHECK_SPLIT("\\u0041", "bAb", OTOK_REMOVED, 0, "b|b");
    /* Oniguruma's \w (as probed from tokenizers): superscript two is a word character on its
     * own but not inside a class; ZWNJ is not one; Kawi letters (Unicode 15, newer than
     * PCRE2's tables) are letters */
    CHECK_SPLIT("\\w+", "x\u00b2 y", OTOK_REMOVED, 1, "x\u00b2|y");
    CHECK_SPLIT("[\\w]+", "x\u00b2 y", OTOK_REMOVED, 1, "x|y");
    CHECK_SPLIT("\\w+", "a\u200cb", OTOK_REMOVED, 1, "a|b");
    CHECK_SPLIT("\\p{L}+", "a\U00011F04b", OTOK_REMOVED, 1, "a\U00011F04b");
    /* a pattern that matches the empty string: Oniguruma's iterator steps over it */
    CHECK_SPLIT("x*", "ab", OTOK_ISOLATED, 0, "a|b");
    otok_regex *re = NULL;
    CHECK_RC(otok_regex_compile(&re, "(a", 2, "pre_tokenizer.pattern"), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("pre_tokenizer.pattern");
    CHECK_RC(otok_regex_compile(&re, "[\\W]", 4, "p"), OLIVE_EUNSUPPORTED);
}

static void test_bytelevel_and_utf8(void)
{
    CHECK(otok_byte_to_char('A') == 'A');
    CHECK(otok_byte_to_char(' ') == 0x120);  /* 'Ġ' */
    CHECK(otok_byte_to_char('\n') == 0x10A); /* 'Ċ' */
    CHECK(otok_byte_to_char(0xAD) == 0x143); /* the soft hyphen is not printable */
    CHECK(otok_byte_to_char(0xFF) == 0xFF);
    for (int b = 0; b < 256; b++)
        CHECK(otok_char_to_byte(otok_byte_to_char((unsigned char)b)) == b);
    CHECK(otok_char_to_byte(0x20) == -1 && otok_char_to_byte(0x144) == -1);

    size_t n;
    char *s = otok_utf8_repair("a\xff"
                               "b\xe2\x82"
                               "c\xed\xa0\x80",
                               9, &n);
    CHECK_STR(s, "a\xef\xbf\xbd"
                 "b\xef\xbf\xbd"
                 "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    free(s);
    s = otok_utf8_repair("\xf0\x9f\x98\x80", 4, &n);
    CHECK(n == 4 && !memcmp(s, "\xf0\x9f\x98\x80", 4));
    free(s);
}

static otok_model *model_from(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    otok_model *m = NULL;
    if (!j || otok_model_parse(&m, j))
        m = NULL;
    json_decref(j);
    return m;
}

static char *ids_of(const otok_model *m, const char *word)
{
    otok_ids ids = {0};
    olive_strbuf b = {0};
    if (otok_model_tokenize(m, word, strlen(word), &ids, NULL) == OLIVE_OK)
        for (size_t i = 0; i < ids.n; i++)
            olive_strbuf_printf(&b, "%s%d", i ? " " : "", ids.v[i]);
    else
        olive_strbuf_append(&b, "error");
    otok_ids_free(&ids);
    return olive_strbuf_take(&b);
}

#define CHECK_IDS(m, word, want)                                                                                       \
    do {                                                                                                               \
        char *got_ = ids_of(m, word);                                                                                  \
        CHECK_STR(got_, want);                                                                                         \
        free(got_);                                                                                                    \
    } while (0)

static void test_bpe(void)
{
    /* ranks: "a b" 0, "ab c" 1, "b c" 2, "a bc" 3: "abc" merges a+b first, then ab+c */
    otok_model *m = model_from("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,\"bc\":4,\"abc\":5,"
                               "\"<unk>\":6,\"<0x7A>\":7},\"merges\":[\"a b\",\"ab c\",\"b c\",\"a bc\"],"
                               "\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"fuse_unk\":true}");
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_IDS(m, "abc", "5");
    CHECK_IDS(m, "bca", "4 0");
    CHECK_IDS(m, "aaa", "0 0 0");
    CHECK_IDS(m, "abab", "3 3");
    /* 'z' through byte fallback, 'x' and 'y' unknown and fused into one unk */
    CHECK_IDS(m, "azxyb", "0 7 6 1");
    int32_t ids[] = {0, 1, 2, 0, 1};
    size_t n = 5;
    CHECK_RC(otok_bpe_merge(m, ids, &n), OLIVE_OK);
    CHECK(n == 2 && ids[0] == 5 && ids[1] == 3);
    otok_model_free(m);
    /* an unknown character with neither byte fallback nor unk token is dropped */
    m = model_from("{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}");
    CHECK_IDS(m, "xa", "0");
    otok_model_free(m);
}

static void test_wordpiece(void)
{
    otok_model *m = model_from("{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"max_input_chars_per_word\":9,"
                               "\"vocab\":{\"[UNK]\":0,\"un\":1,\"##aff\":2,\"##able\":3,\"una\":4,\"##ff\":5}}");
    CHECK(m != NULL);
    if (!m)
        return;
    /* greedy longest match from the left: "una" then "##ff" then "##able" */
    CHECK_IDS(m, "unaffable", "4 5 3");
    CHECK_IDS(m, "unaffables", "0"); /* ten characters: over max_input_chars_per_word */
    CHECK_IDS(m, "unaff", "4 5");
    CHECK_IDS(m, "unable", "0"); /* "una" then nothing matches "ble": the whole word is [UNK] */
    otok_model_free(m);
}

static void test_unigram(void)
{
    /* "ab" scores -1 against -2 + -2 for "a" "b"; "abc" as "ab" "c" (-1 + -2) beats "a" "bc"
     * (-2 + -2.5); an unknown character costs min_score - 10 and runs of them fuse */
    otok_model *m = model_from("{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0.0],[\"a\",-2.0],"
                               "[\"b\",-2.0],[\"c\",-2.0],[\"ab\",-1.0],[\"bc\",-2.5]]}");
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_IDS(m, "ab", "4");
    CHECK_IDS(m, "abc", "4 3");
    CHECK_IDS(m, "bc", "5");
    CHECK_IDS(m, "axyb", "1 0 2");
    otok_model_free(m);
    m = model_from("{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1.0]]}");
    CHECK_IDS(m, "ax", "error"); /* no unk_id: Hugging Face refuses too */
    otok_model_free(m);
}

int main(void)
{
    test_regex_and_split();
    test_bytelevel_and_utf8();
    test_bpe();
    test_wordpiece();
    test_unigram();
    return check_summary("tokenizer parts");
}
