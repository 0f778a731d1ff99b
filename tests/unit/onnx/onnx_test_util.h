/* Helpers shared by the ONNX I/O unit tests: scratch folders, files, serialized protobufs. */
#ifndef OLIVE_TEST_ONNX_UTIL_H
#define OLIVE_TEST_ONNX_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/fsutil.h"
#include "onnx.pb-c.h"

/* A new empty folder under $TMPDIR (removed by scratch_free). */
static inline char *scratch_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = malloc(4096);
    snprintf(dir, 4096, "%s/olive-onnx-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    return dir;
}

static inline void scratch_free(char *dir)
{
    olive_rmtree(dir);
    free(dir);
}

static inline char *path_in(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static inline int file_exists(const char *dir, const char *name)
{
    char *p = path_in(dir, name);
    struct stat st;
    int ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

static inline long long file_size(const char *dir, const char *name)
{
    char *p = path_in(dir, name);
    struct stat st;
    long long n = stat(p, &st) == 0 ? (long long)st.st_size : -1;
    free(p);
    return n;
}

/* Entries in `dir` (not counting . and ..). */
static inline int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static inline void write_bytes(const char *dir, const char *name, const void *data, size_t len)
{
    char *p = path_in(dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len)) {
        perror(p);
        exit(2);
    }
    fclose(f);
    free(p);
}

/* Packs a protobuf-c message into `dir/name`. */
static inline void write_message(const char *dir, const char *name, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    protobuf_c_message_pack(msg, buf);
    write_bytes(dir, name, buf, n);
    free(buf);
}

/* Reads a whole file (caller frees). */
static inline uint8_t *read_all(const char *path, size_t *len)
{
    char *buf = NULL;
    if (olive_read_file(&buf, len, path, (size_t)1 << 30) != 0)
        return NULL;
    return (uint8_t *)buf;
}

#endif
