/* The check harness of every C unit test: CHECK records a failure with its location and goes
 * on; a test's main ends with `return check_summary("test_name");`, which prints the counts and
 * returns non-zero when any check failed. CHECK_RC and CHECK_ERROR_HAS read olive_error_last(),
 * so a test using them includes a libolive header first. */
#ifndef OLIVE_TEST_CHECK_H
#define OLIVE_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        check_count++;                                                                                                 \
        if (!(cond)) {                                                                                                 \
            check_failures++;                                                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                                   \
        }                                                                                                              \
    } while (0)

#define CHECK_RC(expr, want)                                                                                           \
    do {                                                                                                               \
        int check_rc_ = (expr);                                                                                        \
        check_count++;                                                                                                 \
        if (check_rc_ != (want)) {                                                                                     \
            check_failures++;                                                                                          \
            fprintf(stderr, "%s:%d: %s returned %d, expected %d (last error: %s)\n", __FILE__, __LINE__, #expr,        \
                    check_rc_, (want), olive_error_last());                                                            \
        }                                                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                                                \
    do {                                                                                                               \
        const char *check_a_ = (a), *check_b_ = (b);                                                                   \
        check_count++;                                                                                                 \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_)) {                                                    \
            check_failures++;                                                                                          \
            fprintf(stderr, "%s:%d: '%s' != '%s'\n", __FILE__, __LINE__, check_a_ ? check_a_ : "(null)",               \
                    check_b_ ? check_b_ : "(null)");                                                                   \
        }                                                                                                              \
    } while (0)

/* A check that explains itself: on failure prints the printf-style message after the condition. */
#define CHECK_MSG(cond, ...)                                                                                           \
    do {                                                                                                               \
        check_count++;                                                                                                 \
        if (!(cond)) {                                                                                                 \
            check_failures++;                                                                                          \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);                                   \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
        }                                                                                                              \
    } while (0)

/* `haystack` contains `needle`. */
#define CHECK_CONTAINS(haystack, needle)                                                                               \
    CHECK_MSG(strstr((haystack), (needle)) != NULL, "'%s' does not contain '%s'", (haystack), (needle))

/* The error message contains `needle`. */
#define CHECK_ERROR_HAS(needle) CHECK(strstr(olive_error_last(), (needle)) != NULL)

static inline int check_summary(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
