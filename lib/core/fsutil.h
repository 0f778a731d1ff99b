/* File-system helpers: atomic output files, path handling, whole-file copies. */
#ifndef OLIVE_CORE_FSUTIL_H
#define OLIVE_CORE_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* A file written under a temporary name beside its final path and renamed by commit. */
typedef struct olive_outfile {
    int fd;
    char *final_path;
    char *temp_path;
    uint64_t written;
    uint64_t flushed; /* bytes handed to writeback so far */
    int scratch;      /* a file read back at once and then removed: never forced to disk */
} olive_outfile;

/* Creates "<dir>/.<name>.tmp-XXXXXX" for `final_path`. Errors: OLIVE_EIO, OLIVE_ENOMEM. */
int olive_outfile_open(olive_outfile *f, const char *final_path);
/* Writes all of `data`. Errors: OLIVE_EIO (message names the final path). */
int olive_outfile_write(olive_outfile *f, const void *data, size_t size);
/* Writes `size` bytes starting at `offset` of the open file `src_fd` (kernel copy when
 * possible). Errors: OLIVE_EIO. */
int olive_outfile_copy_from_fd(olive_outfile *f, int src_fd, uint64_t offset, uint64_t size);
/* Starts writing what was written since the last call to disk, without waiting, so that the
 * flush at commit has less left to do. Best effort: errors surface at commit. */
void olive_outfile_start_writeback(olive_outfile *f);
/* Writes `count` zero bytes. */
int olive_outfile_pad(olive_outfile *f, uint64_t count);
/* Flushes to disk and renames over the final path. The file is closed either way. */
int olive_outfile_commit(olive_outfile *f);
/* Closes and removes the temporary file (safe after commit or a failed open: no-op). */
void olive_outfile_abort(olive_outfile *f);

/* Writes `size` bytes as the whole of `path`, atomically (an outfile). Errors: OLIVE_EIO,
 * OLIVE_ENOMEM; on failure `path` is untouched. */
int olive_write_file(const char *path, const void *data, size_t size);
/* Copies file `src` to `dst`, atomically, in the kernel where it can. Errors: OLIVE_ENOTFOUND
 * or OLIVE_EIO naming the file, OLIVE_ENOMEM. */
int olive_copy_file(const char *src, const char *dst);
/* As olive_copy_file, through user space, and writes the sha256 of the bytes copied to `hex`
 * (65 bytes): a copy whose source must match a known hash is checked as it is read. */
int olive_copy_file_sha256(const char *src, const char *dst, char hex[65]);

/* Opens `path` read-only (close-on-exec) for reading a user's file. The open does not block
 * (a FIFO with no writer would wait forever), and anything but a regular file (FIFO, device,
 * socket, folder) is refused; the descriptor returned blocks again. *st, when not NULL,
 * receives the file's status. Returns the descriptor, or -1 after setting the error:
 * OLIVE_ENOTFOUND, OLIVE_EIO (cannot open), OLIVE_EFORMAT (not a regular file). */
int olive_open_regular(const char *path, struct stat *st);

/* Directory part of `path` ("." when it has none); owned by the caller. NULL on ENOMEM. */
char *olive_path_dirname(const char *path);
/* Final component of `path` (borrowed pointer into it). */
const char *olive_path_basename(const char *path);
/* "<dir>/<name>"; owned by the caller. */
char *olive_path_join(const char *dir, const char *name);

/* Checks that `relative` (a location found inside a model file) names a file inside the
 * model's folder: not absolute, no ".." component, no empty name, no NUL, no backslash
 * separators. Returns OLIVE_OK or OLIVE_EFORMAT with a message naming `what` and the path. */
int olive_path_check_inside(const char *relative, const char *what);

/* Checks that file `path` of model folder `folder` stays inside that folder once symlinks are
 * followed: a link to /etc/passwd or to another model's folder is refused. The one exception is
 * the Hugging Face hub cache, where every file of snapshots/<revision>/ links into the
 * repository's blobs/ folder. A path that does not exist passes (opening it reports that).
 * Errors: OLIVE_EFORMAT naming `what`, the path and where it leads; OLIVE_EIO when the folder
 * cannot be resolved. */
int olive_path_check_contained(const char *folder, const char *path, const char *what);

/* 1 if `path` exists and has the given device/inode pair. */
int olive_path_is_file(const char *path, uint64_t dev, uint64_t ino);

/* Creates a directory and its parents (like mkdir -p). Errors: OLIVE_EIO. */
int olive_mkdir_p(const char *path);
/* Removes `path` and, when it is a folder, everything below it, never following a symbolic
 * link: a link met anywhere (`path` itself included) is removed, its target is untouched.
 * Best effort; for libolive's own folders only. */
void olive_rmtree(const char *path);
/* olive_rmtree for the entry `name` of the open folder `dirfd` (or AT_FDCWD). */
void olive_rmtree_at(int dirfd, const char *name);

/* The absolute form of `path`, which need not exist: links resolved in its longest existing
 * prefix, "." and ".." of the rest resolved as text. Owned by the caller; NULL when out of
 * memory or when no prefix resolves. */
char *olive_path_resolve(const char *path);

/* How two resolved absolute paths relate (olive_path_relation). */
enum { OLIVE_PATH_APART, OLIVE_PATH_SAME, OLIVE_PATH_INSIDE, OLIVE_PATH_CONTAINS };
/* OLIVE_PATH_SAME, OLIVE_PATH_INSIDE (`a` is below `b`), OLIVE_PATH_CONTAINS (`b` is below
 * `a`) or OLIVE_PATH_APART, compared component by component. */
int olive_path_relation(const char *a, const char *b);
/* 1 if `path` is a directory with no entries, 0 if it has entries, -1 if it does not exist
 * (or is not a directory). */
int olive_dir_is_empty(const char *path);

/* Reads a whole small file into a NUL-terminated heap buffer (release with free()).
 * Refuses files larger than `limit` bytes. Errors: OLIVE_ENOTFOUND, OLIVE_EIO, OLIVE_EFORMAT. */
int olive_read_file(char **out, size_t *size, const char *path, size_t limit);

#endif
