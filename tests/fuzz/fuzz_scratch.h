/* A scratch file for harnesses whose reader takes a path: one private folder per process
 * (under TMPDIR), removed at exit. */
#ifndef OLIVE_FUZZ_SCRATCH_H
#define OLIVE_FUZZ_SCRATCH_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_PATH_MAX 4096

static char fuzz_scratch_dir[FUZZ_PATH_MAX];
static char fuzz_scratch_last[FUZZ_PATH_MAX];

static void fuzz_scratch_cleanup(void)
{
    if (fuzz_scratch_last[0])
        unlink(fuzz_scratch_last);
    if (fuzz_scratch_dir[0])
        rmdir(fuzz_scratch_dir);
}

/* Writes `data` to <scratch>/<name> and puts that path in `path`. Returns 0 or -1. */
static int fuzz_scratch_file(char *path, const char *name, const uint8_t *data, size_t size)
{
    if (!fuzz_scratch_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        int n = snprintf(fuzz_scratch_dir, sizeof fuzz_scratch_dir, "%s/olive-fuzz-XXXXXX",
                         tmp && *tmp ? tmp : "/tmp");
        if (n < 0 || (size_t)n >= sizeof fuzz_scratch_dir || !mkdtemp(fuzz_scratch_dir))
            return -1;
        atexit(fuzz_scratch_cleanup);
    }
    int len = snprintf(path, FUZZ_PATH_MAX, "%s/%s", fuzz_scratch_dir, name);
    if (len < 0 || len >= FUZZ_PATH_MAX)
        return -1;
    memcpy(fuzz_scratch_last, path, (size_t)len + 1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    return close(fd);
}

#endif
