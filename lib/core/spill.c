#include "core/spill.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"

#define TMPFS_MAGIC_NUMBER 0x01021994UL

/* Regions start on this boundary so that a region's pages can be dropped or mapped alone. */
#define SPILL_ALIGN 4096u

struct olive_spill {
    int fd;
    char *dir;
    uint64_t end;
};

/* /tmp, unless it lives in memory (tmpfs) and /var/tmp, kept on disk by convention, is
 * usable: a spill file holds a whole model. */
static const char *default_dir(void)
{
    struct statfs fs;
    if (statfs("/tmp", &fs) == 0 && (unsigned long)fs.f_type == TMPFS_MAGIC_NUMBER &&
        access("/var/tmp", W_OK | X_OK) == 0)
        return "/var/tmp";
    return "/tmp";
}

int olive_spill_open(olive_spill **out, const char *dir)
{
    olive_spill *s;
    char *tmpl;
    if (!dir || !dir[0])
        dir = getenv("TMPDIR");
    if (!dir || !dir[0])
        dir = default_dir();
    if (!(s = olive_calloc(1, sizeof *s)))
        return OLIVE_ENOMEM;
    if (!(s->dir = olive_strdup(dir)) || !(tmpl = olive_asprintf("%s/.olive-spill-XXXXXX", dir))) {
        free(s->dir);
        free(s);
        return OLIVE_ENOMEM;
    }
    s->fd = mkstemp(tmpl);
    if (s->fd < 0) {
        int rc = olive_fail_errno(errno, "cannot create a temporary file in", dir);
        free(tmpl);
        free(s->dir);
        free(s);
        return rc;
    }
    /* Nameless from now on: nothing is left behind whatever happens. */
    unlink(tmpl);
    free(tmpl);
    (void)fcntl(s->fd, F_SETFD, FD_CLOEXEC);
    *out = s;
    return OLIVE_OK;
}

int olive_spill_reserve(olive_spill *s, uint64_t size, uint64_t *offset)
{
    uint64_t at = s->end;
    if (at % SPILL_ALIGN)
        at += SPILL_ALIGN - at % SPILL_ALIGN;
    if (at < s->end || at > UINT64_MAX - size || at + size > (uint64_t)INT64_MAX)
        return olive_fail(OLIVE_ENOMEM, "temporary file in '%s' would exceed the largest file size", s->dir);
    *offset = at;
    s->end = at + size;
    return OLIVE_OK;
}

int olive_spill_write(olive_spill *s, uint64_t offset, const void *data, size_t size)
{
    const uint8_t *p = data;
    if (offset > s->end || size > s->end - offset)
        return olive_fail(OLIVE_EINVALID, "write outside the reserved part of the temporary file");
    while (size) {
        ssize_t n = pwrite(s->fd, p, size, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return olive_fail_errno(n < 0 ? errno : ENOSPC, "cannot write a temporary file in", s->dir);
        p += n;
        offset += (uint64_t)n;
        size -= (size_t)n;
    }
    return OLIVE_OK;
}

uint64_t olive_spill_size(const olive_spill *s)
{
    return s->end;
}

int olive_spill_map(olive_spill *s, olive_blob **out)
{
    struct stat st;
    olive_blob *b;
    void *map = NULL;
    int fd;
    if (s->end > SIZE_MAX)
        return olive_fail(OLIVE_ENOMEM, "temporary file too large to map");
    if (fstat(s->fd, &st) != 0)
        return olive_fail_errno(errno, "cannot stat a temporary file in", s->dir);
    /* Regions reserved but never written past the end read as zeros. */
    if ((uint64_t)st.st_size < s->end && ftruncate(s->fd, (off_t)s->end) != 0)
        return olive_fail_errno(errno, "cannot extend a temporary file in", s->dir);
    if ((fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0)) < 0)
        return olive_fail_errno(errno, "cannot duplicate the descriptor of a temporary file in", s->dir);
    if (s->end) {
        map = mmap(NULL, (size_t)s->end, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) {
            int rc = olive_fail_errno(errno, "cannot map a temporary file in", s->dir);
            close(fd);
            return rc;
        }
    }
    if (!(b = olive_calloc(1, sizeof *b))) {
        if (map)
            munmap(map, (size_t)s->end);
        close(fd);
        return OLIVE_ENOMEM;
    }
    atomic_init(&b->refs, 1);
    b->data = map;
    b->size = (size_t)s->end;
    b->fd = fd;
    b->dev = (uint64_t)st.st_dev;
    b->ino = (uint64_t)st.st_ino;
    *out = b;
    return OLIVE_OK;
}

void olive_spill_close(olive_spill *s)
{
    if (!s)
        return;
    close(s->fd);
    free(s->dir);
    free(s);
}
