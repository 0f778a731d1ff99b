/* A stand-in for libFuzzer's main, for compilers without it (gcc): runs a harness's
 * LLVMFuzzerTestOneInput on every seed file given (folders: every regular file inside, at any
 * depth), then, with -max_total_time=N, on mutations of those seeds for N seconds (bit flips,
 * byte changes, insertions, deletions, copies and splices, as libFuzzer's default mutators do,
 * without its coverage feedback). Accepts libFuzzer's flag syntax, so scripts call either kind
 * the same way:
 *     fuzz_x [-max_total_time=N] [-max_len=N] [-seed=N] [-runs=N] PATH...
 * When a sanitizer reports an error, the input that caused it is written to
 * ./crash-<target>-<n> for replay (run the target on that file). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The sanitizer runtimes call this before they exit on an error (weak: absent without one). */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

typedef struct {
    uint8_t *data;
    size_t size;
} input;

static input *corpus;
static size_t n_corpus, cap_corpus;
static const uint8_t *current;
static size_t current_size;
static const char *target = "fuzz";

static void save_current(void)
{
    char name[256];
    if (!current)
        return;
    snprintf(name, sizeof name, "crash-%s-%ld", target, (long)getpid());
    FILE *f = fopen(name, "wb");
    if (f) {
        fwrite(current, 1, current_size, f);
        fclose(f);
        fprintf(stderr, "driver: the failing input is in %s\n", name);
    }
}

static int run_one(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so reading past the end is caught. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return -1;
    if (size)
        memcpy(copy, data, size);
    current = copy;
    current_size = size;
    LLVMFuzzerTestOneInput(copy, size);
    current = NULL;
    free(copy);
    return 0;
}

static void add_file(const char *path, size_t max_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    uint8_t *buf = malloc(max_len ? max_len : 1);
    size_t n = buf ? fread(buf, 1, max_len, f) : 0;
    fclose(f);
    if (!buf)
        return;
    if (n_corpus == cap_corpus) {
        cap_corpus = cap_corpus ? 2 * cap_corpus : 64;
        input *grown = realloc(corpus, cap_corpus * sizeof *corpus);
        if (!grown) {
            free(buf);
            return;
        }
        corpus = grown;
    }
    corpus[n_corpus].data = buf;
    corpus[n_corpus].size = n;
    n_corpus++;
}

static void add_path(const char *path, size_t max_len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "driver: %s: not found\n", path);
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        add_file(path, max_len);
        return;
    }
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            char *child;
            if (asprintf(&child, "%s/%s", path, names[i]->d_name) >= 0) {
                add_path(child, max_len);
                free(child);
            }
        }
        free(names[i]);
    }
    free(names);
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Applies one random mutation to buf[0..*size) (capacity max_len). */
static void mutate(uint8_t *buf, size_t *size, size_t max_len)
{
    static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0x10, 0x40};
    size_t n = *size;
    switch (rnd() % 8) {
    case 0: /* flip a bit */
        if (n)
            buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
        break;
    case 1: /* a random byte */
        if (n)
            buf[rnd() % n] = (uint8_t)rnd();
        break;
    case 2: /* an interesting byte */
        if (n)
            buf[rnd() % n] = interesting[rnd() % sizeof interesting];
        break;
    case 3: /* insert bytes */
        if (n < max_len) {
            size_t at = n ? rnd() % (n + 1) : 0, k = 1 + rnd() % 8;
            if (k > max_len - n)
                k = max_len - n;
            memmove(buf + at + k, buf + at, n - at);
            for (size_t i = 0; i < k; i++)
                buf[at + i] = (uint8_t)rnd();
            *size = n + k;
        }
        break;
    case 4: /* delete a range */
        if (n) {
            size_t at = rnd() % n, k = 1 + rnd() % (n - at < 16 ? n - at : 16);
            memmove(buf + at, buf + at + k, n - at - k);
            *size = n - k;
        }
        break;
    case 5: /* copy a range over another place */
        if (n > 1) {
            size_t from = rnd() % n, to = rnd() % n, k = 1 + rnd() % 32;
            if (k > n - from)
                k = n - from;
            if (k > n - to)
                k = n - to;
            memmove(buf + to, buf + from, k);
        }
        break;
    case 6: /* a little-endian integer changed a little */
        if (n >= 4) {
            size_t at = rnd() % (n - 3);
            uint32_t v;
            memcpy(&v, buf + at, 4);
            v += (uint32_t)(rnd() % 33) - 16;
            memcpy(buf + at, &v, 4);
        }
        break;
    default: { /* splice with another seed */
        const input *o = &corpus[rnd() % n_corpus];
        if (o->size) {
            size_t at = n ? rnd() % n : 0, from = rnd() % o->size, k = o->size - from;
            if (at + k > max_len)
                k = max_len - at;
            memcpy(buf + at, o->data + from, k);
            if (at + k > n)
                *size = at + k;
        }
    } break;
    }
}

int main(int argc, char **argv)
{
    long max_time = 0, runs = -1;
    size_t max_len = 1 << 20;
    uint64_t seed = (uint64_t)time(NULL);
    const char *slash = strrchr(argv[0], '/');
    target = slash ? slash + 1 : argv[0];
    int first_path = 1;
    for (; first_path < argc && argv[first_path][0] == '-'; first_path++) {
        const char *a = argv[first_path];
        if (!strncmp(a, "-max_total_time=", 16))
            max_time = atol(a + 16);
        else if (!strncmp(a, "-max_len=", 9))
            max_len = (size_t)atol(a + 9);
        else if (!strncmp(a, "-seed=", 6))
            seed = (uint64_t)atoll(a + 6);
        else if (!strncmp(a, "-runs=", 6))
            runs = atol(a + 6);
        /* other libFuzzer flags mean nothing here */
    }
    if (max_len == 0)
        max_len = 1;
    for (int i = first_path; i < argc; i++)
        add_path(argv[i], max_len);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(save_current);

    for (size_t i = 0; i < n_corpus; i++)
        run_one(corpus[i].data, corpus[i].size);
    printf("%s: %zu seed inputs replayed\n", target, n_corpus);

    if (max_time > 0 && n_corpus) {
        uint8_t *buf = malloc(max_len);
        long done = 0;
        time_t end = time(NULL) + max_time;
        rng_state = seed ? seed : 88172645463325252ull;
        printf("%s: mutating for %ld s (seed %llu)\n", target, max_time, (unsigned long long)seed);
        while (buf && time(NULL) < end && (runs < 0 || done < runs)) {
            for (int batch = 0; batch < 64; batch++, done++) {
                const input *s = &corpus[rnd() % n_corpus];
                size_t size = s->size < max_len ? s->size : max_len;
                memcpy(buf, s->data, size);
                for (int m = 1 + (int)(rnd() % 8); m > 0; m--)
                    mutate(buf, &size, max_len);
                run_one(buf, size);
            }
        }
        printf("%s: %ld mutated inputs run\n", target, done);
        free(buf);
    }
    for (size_t i = 0; i < n_corpus; i++)
        free(corpus[i].data);
    free(corpus);
    return 0;
}
