#include "core/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/sha256.h"
#include "core/status.h"

int olive_outfile_open(olive_outfile *f, const char *final_path)
{
    char *dir = olive_path_dirname(final_path);
    f->fd = -1;
    f->written = 0;
    f->flushed = 0;
    f->scratch = 0;
    f->final_path = NULL;
    f->temp_path = NULL;
    if (!dir)
        return OLIVE_ENOMEM;
    f->final_path = olive_strdup(final_path);
    f->temp_path = olive_asprintf("%s/.%s.tmp-XXXXXX", dir, olive_path_basename(final_path));
    free(dir);
    if (!f->final_path || !f->temp_path) {
        olive_outfile_abort(f);
        return OLIVE_ENOMEM;
    }
    f->fd = mkostemp(f->temp_path, O_CLOEXEC);
    if (f->fd < 0) {
        int e = errno;
        free(f->temp_path);
        f->temp_path = NULL;
        olive_fail_errno(e, "cannot create a file beside", final_path);
        olive_outfile_abort(f);
        return e == ENOENT ? OLIVE_ENOTFOUND : OLIVE_EIO;
    }
    fchmod(f->fd, 0644);
    return OLIVE_OK;
}

int olive_outfile_write(olive_outfile *f, const void *data, size_t size)
{
    const uint8_t *p = data;
    while (size) {
        ssize_t n = write(f->fd, p, size > (1u << 30) ? (1u << 30) : size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return olive_fail_errno(errno, "cannot write", f->final_path);
        }
        p += n;
        size -= (size_t)n;
        f->written += (uint64_t)n;
    }
    return OLIVE_OK;
}

int olive_outfile_copy_from_fd(olive_outfile *f, int src_fd, uint64_t offset, uint64_t size)
{
    loff_t in_off = (loff_t)offset;
    char buf[1 << 16];
    while (size) {
        ssize_t n = copy_file_range(src_fd, &in_off, f->fd, NULL, size > (1u << 30) ? (1u << 30) : size, 0);
        if (n > 0) {
            size -= (uint64_t)n;
            f->written += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return olive_fail(OLIVE_EIO, "source file ended early while writing '%s'", f->final_path);
        break; /* unsupported across these file systems: fall back to read/write */
    }
    while (size) {
        ssize_t n = pread(src_fd, buf, size > sizeof buf ? sizeof buf : size, in_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return olive_fail_errno(errno, "cannot read source data for", f->final_path);
        if (n == 0)
            return olive_fail(OLIVE_EIO, "source file ended early while writing '%s'", f->final_path);
        OLIVE_TRY(olive_outfile_write(f, buf, (size_t)n));
        in_off += n;
        size -= (uint64_t)n;
    }
    return OLIVE_OK;
}

void olive_outfile_start_writeback(olive_outfile *f)
{
    /* Small pieces are left for the final flush: a writeback request per tensor would cost
     * more than it saves. */
    if (f->scratch || f->written - f->flushed < (8u << 20))
        return;
    sync_file_range(f->fd, (off64_t)f->flushed, (off64_t)(f->written - f->flushed), SYNC_FILE_RANGE_WRITE);
    f->flushed = f->written;
}

int olive_outfile_pad(olive_outfile *f, uint64_t count)
{
    static const uint8_t zeros[4096];
    while (count) {
        size_t n = count > sizeof zeros ? sizeof zeros : (size_t)count;
        OLIVE_TRY(olive_outfile_write(f, zeros, n));
        count -= n;
    }
    return OLIVE_OK;
}

int olive_outfile_commit(olive_outfile *f)
{
    int rc = OLIVE_OK;
    if (!f->scratch && fsync(f->fd) != 0 && errno != EINVAL)
        rc = olive_fail_errno(errno, "cannot flush", f->final_path);
    if (close(f->fd) != 0 && rc == OLIVE_OK)
        rc = olive_fail_errno(errno, "cannot close", f->final_path);
    f->fd = -1;
    if (rc == OLIVE_OK && rename(f->temp_path, f->final_path) != 0)
        rc = olive_fail_errno(errno, "cannot rename into place", f->final_path);
    if (rc != OLIVE_OK) {
        olive_outfile_abort(f);
        return rc;
    }
    free(f->temp_path);
    free(f->final_path);
    f->temp_path = f->final_path = NULL;
    return OLIVE_OK;
}

void olive_outfile_abort(olive_outfile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->temp_path)
        unlink(f->temp_path);
    free(f->temp_path);
    free(f->final_path);
    f->temp_path = f->final_path = NULL;
}

int olive_write_file(const char *path, const void *data, size_t size)
{
    olive_outfile f;
    int rc;
    OLIVE_TRY(olive_outfile_open(&f, path));
    if ((rc = olive_outfile_write(&f, data, size)) != OLIVE_OK) {
        olive_outfile_abort(&f);
        return rc;
    }
    return olive_outfile_commit(&f);
}

int olive_open_regular(const char *path, struct stat *st)
{
    struct stat own;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), flags;
    if (!st)
        st = &own;
    if (fd < 0) {
        olive_fail_errno(errno, "cannot open", path);
        return -1;
    }
    if (fstat(fd, st) != 0) {
        olive_fail_errno(errno, "cannot read", path);
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        const char *kind = S_ISFIFO(st->st_mode)                          ? "a FIFO"
                           : S_ISDIR(st->st_mode)                         ? "a folder"
                           : S_ISSOCK(st->st_mode)                        ? "a socket"
                           : S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ? "a device"
                                                                          : "not a regular file";
        olive_fail(OLIVE_EFORMAT, "'%s' is %s, not a regular file", path, kind);
        close(fd);
        return -1;
    }
    if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
        olive_fail_errno(errno, "cannot read", path);
        close(fd);
        return -1;
    }
    return fd;
}

int olive_copy_file(const char *src, const char *dst)
{
    olive_outfile f;
    struct stat st;
    int fd = olive_open_regular(src, &st), rc;
    if (fd < 0)
        return olive_error_code();
    if ((rc = olive_outfile_open(&f, dst)) == OLIVE_OK) {
        fchmod(f.fd, st.st_mode & 0777); /* a private file stays private */
        if ((rc = olive_outfile_copy_from_fd(&f, fd, 0, (uint64_t)st.st_size)) == OLIVE_OK)
            rc = olive_outfile_commit(&f);
        else
            olive_outfile_abort(&f);
    }
    close(fd);
    return rc;
}

int olive_copy_file_sha256(const char *src, const char *dst, char hex[OLIVE_SHA256_HEX])
{
    olive_outfile f;
    olive_sha256 s;
    char buf[1 << 16];
    ssize_t n;
    struct stat st;
    int fd = olive_open_regular(src, &st), rc;
    if (fd < 0)
        return olive_error_code();
    if ((rc = olive_outfile_open(&f, dst)) != OLIVE_OK) {
        close(fd);
        return rc;
    }
    fchmod(f.fd, st.st_mode & 0777); /* as olive_copy_file: a private file stays private */
    olive_sha256_init(&s);
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = olive_fail_errno(errno, "cannot read", src);
            break;
        }
        olive_sha256_update(&s, buf, (size_t)n);
        if ((rc = olive_outfile_write(&f, buf, (size_t)n)) != OLIVE_OK)
            break;
    }
    close(fd);
    if (rc != OLIVE_OK) {
        olive_outfile_abort(&f);
        return rc;
    }
    olive_sha256_final_hex(&s, hex);
    return olive_outfile_commit(&f);
}

char *olive_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return olive_strdup(".");
    if (slash == path)
        return olive_strdup("/");
    return olive_strndup(path, (size_t)(slash - path));
}

const char *olive_path_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

char *olive_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    return olive_asprintf("%s%s%s", dir, (n && dir[n - 1] == '/') ? "" : "/", name);
}

int olive_path_check_inside(const char *rel, const char *what)
{
    const char *p = rel;
    if (!rel || !*rel)
        return olive_fail(OLIVE_EFORMAT, "%s has an empty location", what);
    if (rel[0] == '/' || strchr(rel, '\\') || strchr(rel, ':'))
        return olive_fail(OLIVE_EFORMAT, "%s location '%s' is not a relative path inside the model folder", what, rel);
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return olive_fail(OLIVE_EFORMAT, "%s location '%s' escapes the model folder", what, rel);
        if (!end)
            break;
        p = end + 1;
    }
    return OLIVE_OK;
}

/* 1 if the resolved path `real` lies inside the resolved folder `root`. */
static int real_inside(const char *real, const char *root)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return real[0] == '/';
    return !strncmp(real, root, n) && real[n] == '/';
}

/* 1 if `root` is a hub snapshot (<repo>/snapshots/<revision>) and `real` lies in <repo>/blobs. */
static int in_hub_blobs(const char *real, const char *root)
{
    char blobs[PATH_MAX];
    char *parent = olive_path_dirname(root), *up = parent ? olive_path_dirname(parent) : NULL;
    char *hub_blobs = up ? olive_path_join(up, "blobs") : NULL;
    int in = parent && !strcmp(olive_path_basename(parent), "snapshots") && hub_blobs && realpath(hub_blobs, blobs) &&
             real_inside(real, blobs);
    free(parent);
    free(up);
    free(hub_blobs);
    return in;
}

int olive_path_check_contained(const char *folder, const char *path, const char *what)
{
    char root[PATH_MAX], real[PATH_MAX];
    if (!realpath(path, real))
        return OLIVE_OK; /* missing: opening it reports that */
    if (!realpath(folder, root))
        return olive_fail_errno(errno, "cannot resolve", folder);
    if (real_inside(real, root) || in_hub_blobs(real, root))
        return OLIVE_OK;
    return olive_fail(OLIVE_EFORMAT, "%s '%s' leads outside the model folder (to '%s')", what, path, real);
}

int olive_path_is_file(const char *path, uint64_t dev, uint64_t ino)
{
    struct stat st;
    return stat(path, &st) == 0 && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

int olive_mkdir_p(const char *path)
{
    char *copy = olive_strdup(path);
    char *p;
    if (!copy)
        return OLIVE_ENOMEM;
    for (p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            int rc = olive_fail_errno(errno, "cannot create folder", copy);
            free(copy);
            return rc;
        }
        *p = '/';
    }
    if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
        int rc = olive_fail_errno(errno, "cannot create folder", copy);
        free(copy);
        return rc;
    }
    free(copy);
    return OLIVE_OK;
}

/* Deep enough for any folder libolive writes; deeper trees are left in place rather than
 * holding a file descriptor per level without bound. */
#define RMTREE_MAX_DEPTH 64

static void rmtree_at(int parent, const char *name, int depth)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlinkat(parent, name, 0); /* a link goes, its target stays */
        return;
    }
    if (depth < RMTREE_MAX_DEPTH) {
        /* O_NOFOLLOW: if the folder was swapped for a link since fstatat, nothing is opened. */
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *e;
        if (!d && fd >= 0)
            close(fd);
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                rmtree_at(dirfd(d), e->d_name, depth + 1);
        if (d)
            closedir(d);
    }
    unlinkat(parent, name, AT_REMOVEDIR);
}

void olive_rmtree_at(int dirfd, const char *name)
{
    rmtree_at(dirfd, name, 0);
}

void olive_rmtree(const char *path)
{
    rmtree_at(AT_FDCWD, path, 0);
}

char *olive_path_resolve(const char *path)
{
    char *dir = olive_strdup(path), *abs = NULL, *rest = NULL;
    olive_strbuf b = {0};
    while (dir && !(abs = realpath(dir, NULL))) {
        char *parent = olive_path_dirname(dir);
        char *joined = rest ? olive_path_join(olive_path_basename(dir), rest) : olive_strdup(olive_path_basename(dir));
        free(rest);
        rest = joined;
        if (!parent || !rest || !strcmp(parent, dir)) {
            free(parent);
            break;
        }
        free(dir);
        dir = parent;
    }
    free(dir);
    if (!abs) {
        free(rest);
        return NULL;
    }
    /* The part that does not exist yet holds no links: "." and ".." are resolved as text, so
     * that "new/../in" is seen to be "in". */
    olive_strbuf_append(&b, strcmp(abs, "/") ? abs : "");
    free(abs);
    for (char *p = rest; p && *p;) {
        char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (b.len && b.data[b.len - 1] != '/')
                b.len--;
            if (b.len)
                b.len--;
            if (b.data)
                b.data[b.len] = '\0';
        } else if (len && !(len == 1 && p[0] == '.')) {
            olive_strbuf_append(&b, "/");
            olive_strbuf_appendn(&b, p, len);
        }
        p = end ? end + 1 : p + len;
    }
    free(rest);
    if (!b.len)
        olive_strbuf_append(&b, "/");
    return olive_strbuf_take(&b);
}

int olive_path_relation(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (!strcmp(a, b))
        return OLIVE_PATH_SAME;
    if (nb < na && !strncmp(a, b, nb) && (a[nb] == '/' || !strcmp(b, "/")))
        return OLIVE_PATH_INSIDE;
    if (na < nb && !strncmp(b, a, na) && (b[na] == '/' || !strcmp(a, "/")))
        return OLIVE_PATH_CONTAINS;
    return OLIVE_PATH_APART;
}

int olive_dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int empty = 1;
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}

int olive_read_file(char **out, size_t *size, const char *path, size_t limit)
{
    struct stat st;
    int fd = olive_open_regular(path, &st);
    size_t len, got = 0;
    char *buf;
    if (fd < 0)
        return olive_error_code();
    if ((uint64_t)st.st_size > limit) {
        close(fd);
        return olive_fail(OLIVE_EFORMAT, "'%s' is %lld bytes, more than the %zu accepted", path, (long long)st.st_size,
                          limit);
    }
    len = (size_t)st.st_size;
    if (!(buf = olive_malloc(len + 1))) {
        close(fd);
        return OLIVE_ENOMEM;
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : 0;
            free(buf);
            close(fd);
            return e ? olive_fail_errno(e, "cannot read", path)
                     : olive_fail(OLIVE_EIO, "cannot read '%s': the file shrank while it was read", path);
        }
        got += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    if (size)
        *size = len;
    return OLIVE_OK;
}
