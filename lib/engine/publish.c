/* Output folders without data loss (see engine.h): staging folders named after their owner
 * process, publishing by one atomic exchange, files libolive did not write carried over, and
 * the leftovers of killed runs removed by the next run. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/status.h"
#include "core/strmap.h"
#include "engine/engine.h"

#define NAME_KEEP 100                        /* characters of the final name kept in a staging name */
#define OTHER_BOOT_STALE_SECONDS (24 * 3600) /* a staging folder lives for one save: minutes */
#define MANIFEST_LIMIT (1u << 20)
#define MANIFEST_HEADER "libolive output 1\n"
#define CARRY_MAX_DEPTH 64

static olive_publish_hook test_hook;
static void *test_hook_user;
static int test_force_fallback;

void olive_engine_publish_test_hook(olive_publish_hook hook, void *user, int force_fallback)
{
    test_hook = hook;
    test_hook_user = user;
    test_force_fallback = force_fallback;
}

static void step(const char *name)
{
    if (test_hook)
        test_hook(name, test_hook_user);
}

/* ---- owners: the process a staging folder belongs to, written in its name ---- */

typedef struct owner {
    char boot[9]; /* the first 8 hex digits of the kernel's boot id */
    long pid;
    unsigned long long start; /* the process's start time, clock ticks after boot */
} owner;

#define INIT_PID_NAMESPACE "pid:[4026531836]" /* the kernel's initial pid namespace (PROC_PID_INIT_INO) */

/* Where a pid means one process: the boot, and the pid namespace when it is not the initial one
 * (containers of one machine share its boot id, not their pids). The first 8 hex digits of the
 * boot id, or of sha256(boot id, namespace) inside another pid namespace. */
static void read_boot(char out[9])
{
    char text[128], ns[64];
    size_t k = 0;
    ssize_t n = -1, m;
    /* read(), not olive_read_file: /proc files report a size of 0. */
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, text, sizeof text - 1);
        close(fd);
    }
    text[n > 0 ? n : 0] = '\0';
    m = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    ns[m > 0 ? m : 0] = '\0';
    if (m > 0 && strcmp(ns, INIT_PID_NAMESPACE)) {
        olive_sha256 h;
        char hex[OLIVE_SHA256_HEX];
        olive_sha256_init(&h);
        olive_sha256_update(&h, text, strlen(text));
        olive_sha256_update(&h, ns, strlen(ns));
        olive_sha256_final_hex(&h, hex);
        snprintf(out, 9, "%.8s", hex);
        return;
    }
    for (const char *p = text; *p && k < 8; p++)
        if (isxdigit((unsigned char)*p))
            out[k++] = (char)tolower((unsigned char)*p);
    out[k] = '\0';
    if (k < 8)
        snprintf(out, 9, "00000000");
}

/* 1 and *start when process `pid` runs, 0 when it does not, -1 when this cannot be told. */
static int process_start(long pid, unsigned long long *start)
{
    char path[64], buf[1024], *p, *save = NULL;
    ssize_t n;
    int fd, field = 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        if (errno != ENOENT)
            return -1;
        /* No /proc entry: gone, unless /proc itself is missing. */
        if (access("/proc/self/stat", F_OK) == 0)
            return 0;
        return kill((pid_t)pid, 0) != 0 && errno == ESRCH ? 0 : -1;
    }
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* "pid (comm) state ...": comm may hold spaces and parentheses, so start after the last ')'. */
    if (!(p = strrchr(buf, ')')))
        return -1;
    for (char *t = strtok_r(p + 1, " ", &save); t; t = strtok_r(NULL, " ", &save), field++) {
        if (field == 19) { /* field 22 of proc(5), the third being the first after ')' */
            *start = strtoull(t, NULL, 10);
            return 1;
        }
    }
    return -1;
}

static void my_owner(owner *o)
{
    read_boot(o->boot);
    o->pid = (long)getpid();
    o->start = 0;
    process_start(o->pid, &o->start);
}

/* Parses "<boot>-<pid>-<start>-XXXXXX", the whole of `s`. */
static int parse_owner(const char *s, owner *o)
{
    int used = 0;
    size_t k;
    if (sscanf(s, "%8[0-9a-f]-%ld-%llu-%n", o->boot, &o->pid, &o->start, &used) != 3 || !used || strlen(o->boot) != 8 ||
        o->pid <= 0)
        return 0;
    for (k = 0; s[used + k]; k++)
        if (!isalnum((unsigned char)s[used + k]))
            return 0;
    return k == 6;
}

/* The newest modification time of a folder and of the entries in it (-1 when it cannot be
 * read): a writer adds files to the folder or grows one of them, so both move while it lives. */
static double newest_mtime(int parent, const char *name)
{
    struct stat st;
    double newest;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d;
    struct dirent *e;
    if (fd < 0 || fstat(fd, &st) != 0 || !(d = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    newest = (double)st.st_mtim.tv_sec;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (double)st.st_mtim.tv_sec > newest)
            newest = (double)st.st_mtim.tv_sec;
    closedir(d);
    return newest;
}

/* A staging folder is stale when its owner process is gone (same boot), or, made under
 * another boot or on another machine sharing the folder, when neither it nor any file in it
 * was written for a day (a live writer on another node cannot be asked). */
static int is_stale(int dirfd, const char *name, const owner *o, const owner *me)
{
    unsigned long long start = 0;
    double newest;
    if (!strcmp(o->boot, me->boot)) {
        int r = process_start(o->pid, &start);
        return r == 0 || (r == 1 && o->start && start && start != o->start);
    }
    newest = newest_mtime(dirfd, name);
    return newest >= 0 && (double)time(NULL) - newest > OTHER_BOOT_STALE_SECONDS;
}

/* ".<name>.<kind>-" with the name cut as staging names cut it. */
static char *staging_prefix(const char *name, const char *kind)
{
    return olive_asprintf(".%.*s.%s-", NAME_KEEP, name, kind);
}

void olive_engine_clean_staging(const char *folder, const char *name)
{
    char *tmp = name ? staging_prefix(name, "tmp") : NULL, *old = name ? staging_prefix(name, "old") : NULL;
    DIR *d = opendir(folder);
    struct dirent *e;
    owner me;
    if (!d || (name && (!tmp || !old))) {
        if (d)
            closedir(d);
        free(tmp);
        free(old);
        olive_error_clear();
        return;
    }
    my_owner(&me);
    while ((e = readdir(d))) {
        const char *n = e->d_name, *suffix = NULL;
        int aside = 0;
        struct stat st;
        owner o;
        if (n[0] != '.')
            continue;
        if (name) {
            if (!strncmp(n, tmp, strlen(tmp)))
                suffix = n + strlen(tmp);
            else if (!strncmp(n, old, strlen(old)))
                suffix = n + strlen(old), aside = 1;
        } else {
            const char *t = strstr(n, ".tmp-");
            while (t && strstr(t + 1, ".tmp-"))
                t = strstr(t + 1, ".tmp-");
            suffix = t ? t + 5 : NULL;
        }
        if (!suffix || !parse_owner(suffix, &o) || fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode) || !is_stale(dirfd(d), n, &o, &me))
            continue;
        if (aside && faccessat(dirfd(d), name, F_OK, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT &&
            renameat(dirfd(d), n, dirfd(d), name) == 0) {
            /* Killed between the two renames of the fallback: the old output goes back. */
            OLIVE_WARN("restored output folder %s/%s, moved aside by an interrupted run", folder, name);
            continue;
        }
        OLIVE_INFO("removing %s/%s, left by an interrupted run", folder, n);
        olive_rmtree_at(dirfd(d), n);
    }
    closedir(d);
    free(tmp);
    free(old);
}

/* The process's umask, read without changing it (umask() would race with other threads). */
static mode_t current_umask(void)
{
    char line[128];
    unsigned mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Umask: %o", &mask) == 1)
            break;
    if (f)
        fclose(f);
    return (mode_t)mask;
}

int olive_engine_make_staging(char **out, const char *output_dir)
{
    char *parent = olive_path_dirname(output_dir);
    char *tmpl;
    owner me;
    if (!parent)
        return OLIVE_ENOMEM;
    if (olive_mkdir_p(parent) != OLIVE_OK) {
        free(parent);
        return olive_error_code();
    }
    olive_engine_clean_staging(parent, olive_path_basename(output_dir));
    my_owner(&me);
    tmpl = olive_asprintf("%s/.%.*s.tmp-%s-%ld-%llu-XXXXXX", parent, NAME_KEEP, olive_path_basename(output_dir),
                          me.boot, me.pid, me.start);
    free(parent);
    if (!tmpl)
        return OLIVE_ENOMEM;
    if (!mkdtemp(tmpl)) {
        int rc = olive_fail_errno(errno, "cannot create a folder beside", output_dir);
        free(tmpl);
        return rc;
    }
    /* mkdtemp makes the folder private; the published output gets the usual permissions. */
    chmod(tmpl, 0777 & ~current_umask());
    *out = tmpl;
    return OLIVE_OK;
}

/* ---- the manifest: the names libolive wrote in an output folder ---- */

typedef struct names {
    char **v;
    size_t n, cap;
} names;

static void names_free(names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int names_add(names *l, const char *name)
{
    char *copy = olive_strdup(name);
    if (!copy || OLIVE_PUSH(l->v, l->n, l->cap, copy) != OLIVE_OK) {
        free(copy);
        return OLIVE_ENOMEM;
    }
    return OLIVE_OK;
}

static int names_has(const names *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], name))
            return 1;
    return 0;
}

/* The entries of an open folder (without "." and ".."); the folder's fd stays open. */
static int list_entries(names *out, int fd, const char *path)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    struct dirent *e;
    int rc = OLIVE_OK;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return olive_fail_errno(errno, "cannot list", path);
    }
    rewinddir(d);
    while (rc == OLIVE_OK && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            rc = names_add(out, e->d_name);
    closedir(d);
    return rc;
}

static int open_dir(const char *path)
{
    return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int write_manifest(const char *staging)
{
    names l = {0};
    olive_strbuf b = {0};
    char *text = NULL, *path = NULL;
    int fd = open_dir(staging), rc;
    if (fd < 0)
        return olive_fail_errno(errno, "cannot open", staging);
    rc = list_entries(&l, fd, staging);
    close(fd);
    olive_strbuf_append(&b, MANIFEST_HEADER);
    for (size_t i = 0; rc == OLIVE_OK && i < l.n; i++) {
        if (strchr(l.v[i], '\n'))
            rc = olive_fail(OLIVE_EINVALID, "output file name '%s' holds a line break", l.v[i]);
        olive_strbuf_printf(&b, "%s\n", l.v[i]);
    }
    text = olive_strbuf_take(&b);
    if (rc == OLIVE_OK)
        rc = text && (path = olive_path_join(staging, OLIVE_OUTPUT_MANIFEST))
                 ? olive_write_file(path, text, strlen(text))
                 : OLIVE_ENOMEM;
    free(text);
    free(path);
    names_free(&l);
    return rc;
}

/* The names an output folder's manifest lists; 0 when it has no readable manifest. */
static int read_manifest(names *own, int dirfd)
{
    char buf[4096];
    olive_strbuf b = {0};
    struct stat st;
    char *text, *line, *save = NULL;
    ssize_t n;
    int fd = openat(dirfd, OLIVE_OUTPUT_MANIFEST, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), ok = 0;
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MANIFEST_LIMIT) {
        close(fd);
        return 0;
    }
    olive_strbuf_append(&b, "");
    while ((n = read(fd, buf, sizeof buf)) > 0 && b.len < MANIFEST_LIMIT)
        olive_strbuf_appendn(&b, buf, (size_t)n);
    close(fd);
    if (!(text = olive_strbuf_take(&b)))
        return 0;
    if (!strncmp(text, MANIFEST_HEADER, strlen(MANIFEST_HEADER))) {
        ok = 1;
        for (line = strtok_r(text + strlen(MANIFEST_HEADER), "\n", &save); line && ok;
             line = strtok_r(NULL, "\n", &save))
            if (strcmp(line, ".") && strcmp(line, "..") && !strchr(line, '/') && names_add(own, line) != OLIVE_OK)
                ok = 0;
    }
    free(text);
    return ok;
}

int olive_engine_output_is_ours(const char *dir)
{
    names own = {0};
    int fd = open_dir(dir), ours;
    if (fd < 0)
        return 0;
    ours = read_manifest(&own, fd);
    close(fd);
    names_free(&own);
    return ours;
}

/* ---- carrying the files libolive did not write into the new output ---- */

static int copy_at(int from, int to, const char *name, mode_t mode, const char *dir)
{
    char buf[1 << 16];
    int in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1, rc = OLIVE_OK;
    ssize_t n = 0;
    if (in < 0 || (out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777)) < 0)
        rc = olive_fail(OLIVE_EIO, "cannot keep '%s' of output folder '%s': %s", name, dir, strerror(errno));
    while (rc == OLIVE_OK && (n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        for (ssize_t done = 0, w; rc == OLIVE_OK && n > 0 && done < n; done += w)
            if ((w = write(out, buf + done, (size_t)(n - done))) < 0)
                rc = olive_fail(OLIVE_EIO, "cannot keep '%s' of output folder '%s': %s", name, dir, strerror(errno));
        if (n < 0)
            rc = olive_fail(OLIVE_EIO, "cannot keep '%s' of output folder '%s': %s", name, dir, strerror(errno));
    }
    if (in >= 0)
        close(in);
    if (out >= 0)
        fchmod(out, mode & 07777); /* the mode it had, whatever the umask */
    if (out >= 0 && close(out) != 0 && rc == OLIVE_OK)
        rc = olive_fail(OLIVE_EIO, "cannot keep '%s' of output folder '%s': %s", name, dir, strerror(errno));
    return rc;
}

/* Puts entry `name` of `from` into `to` without touching the original: a hard link for a file
 * (a copy where links are not possible), the same link for a link, a folder rebuilt entry by
 * entry. Until the old folder is removed the original stays where it was, so a run killed at
 * any point loses nothing. */
static int carry(int from, int to, const char *name, const char *dir, int depth)
{
    struct stat st;
    if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return olive_fail(OLIVE_EIO, "cannot keep '%s' of output folder '%s': %s", name, dir, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        if (linkat(from, name, to, name, 0) == 0)
            return OLIVE_OK;
        if (errno != EPERM && errno != EMLINK && errno != ENOTSUP && errno != EXDEV && errno != EACCES)
            return olive_fail(OLIVE_EIO, "cannot keep '%s' of output folder '%s': %s", name, dir, strerror(errno));
        return copy_at(from, to, name, st.st_mode, dir);
    }
    if (S_ISLNK(st.st_mode)) {
        size_t cap = (size_t)st.st_size + 2;
        char *target = olive_malloc(cap);
        ssize_t n = target ? readlinkat(from, name, target, cap) : -1;
        int rc = OLIVE_OK;
        if (!target)
            return OLIVE_ENOMEM;
        if (n < 0 || (size_t)n >= cap)
            rc = olive_fail(OLIVE_EIO, "cannot keep link '%s' of output folder '%s'", name, dir);
        else {
            target[n] = '\0';
            if (symlinkat(target, to, name) != 0)
                rc = olive_fail(OLIVE_EIO, "cannot keep link '%s' of output folder '%s': %s", name, dir,
                                strerror(errno));
        }
        free(target);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        names l = {0};
        int sub_from = -1, sub_to = -1, rc = OLIVE_OK;
        if (depth >= CARRY_MAX_DEPTH)
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "cannot keep '%s' of output folder '%s': folders nested deeper "
                              "than %d",
                              name, dir, CARRY_MAX_DEPTH);
        if (mkdirat(to, name, 0700) != 0 ||
            (sub_from = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
            (sub_to = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
            rc = olive_fail(OLIVE_EIO, "cannot keep folder '%s' of output folder '%s': %s", name, dir, strerror(errno));
        if (rc == OLIVE_OK)
            rc = list_entries(&l, sub_from, dir);
        for (size_t i = 0; rc == OLIVE_OK && i < l.n; i++)
            rc = carry(sub_from, sub_to, l.v[i], dir, depth + 1);
        if (rc == OLIVE_OK)
            fchmod(sub_to, st.st_mode & 07777);
        if (sub_from >= 0)
            close(sub_from);
        if (sub_to >= 0)
            close(sub_to);
        names_free(&l);
        return rc;
    }
    return olive_fail(OLIVE_EUNSUPPORTED,
                      "cannot keep '%s' of output folder '%s': it is not a file, folder or link; "
                      "move it away",
                      name, dir);
}

/* Removes from the replaced folder what was listed in it (libolive's files and the originals of
 * what was carried); an entry that appeared since is moved to the new output if its name is
 * free, so the folder is removed only when nothing of a user's is left in it. */
static void remove_old(const char *old, const names *listed, const char *dir)
{
    int fd = open_dir(old), newfd;
    names left = {0};
    if (fd < 0)
        return;
    for (size_t i = 0; i < listed->n; i++)
        olive_rmtree_at(fd, listed->v[i]);
    olive_rmtree_at(fd, OLIVE_OUTPUT_MANIFEST);
    if (list_entries(&left, fd, old) == OLIVE_OK && left.n && (newfd = open_dir(dir)) >= 0) {
        for (size_t i = 0; i < left.n; i++)
            if (renameat2(fd, left.v[i], newfd, left.v[i], RENAME_NOREPLACE) != 0)
                OLIVE_WARN("'%s' appeared in output folder '%s' while it was replaced; it is kept in %s", left.v[i],
                           dir, old);
        close(newfd);
    }
    olive_error_clear();
    names_free(&left);
    close(fd);
    rmdir(old);
}

static int publish_new(const char *staging, const char *dir)
{
    OLIVE_TRY(write_manifest(staging));
    step("before-rename");
    if (renameat2(AT_FDCWD, staging, AT_FDCWD, dir, RENAME_NOREPLACE) == 0)
        return OLIVE_OK;
    if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
        /* No RENAME_NOREPLACE here: a folder made meanwhile is replaced only if empty. */
        if (rename(staging, dir) == 0)
            return OLIVE_OK;
    }
    return olive_fail_errno(errno, "cannot move the result into place at", dir);
}

/* Without RENAME_EXCHANGE (some network and older file systems) the old folder is moved aside
 * to ".<name>.old-<owner>-XXXXXX" and the new one renamed into place. A run killed between the
 * two renames leaves no folder at `dir` for a moment, but the old output stays whole beside it,
 * and the next run's olive_engine_clean_staging renames it back. */
static int publish_fallback(const char *staging, const char *dir, char **aside)
{
    char *tag = strstr(staging + strlen(staging) - strlen(olive_path_basename(staging)), ".tmp-");
    char *t;
    while (tag && (t = strstr(tag + 1, ".tmp-")))
        tag = t;
    if (!tag)
        return olive_fail(OLIVE_EINTERNAL, "staging folder '%s' has an unexpected name", staging);
    if (!(*aside = olive_strdup(staging)))
        return OLIVE_ENOMEM;
    memcpy(*aside + (tag - staging), ".old-", 5);
    step("before-aside");
    if (rename(dir, *aside) != 0)
        return olive_fail_errno(errno, "cannot move aside old output folder", dir);
    step("aside");
    if (rename(staging, dir) != 0) {
        int rc = olive_fail_errno(errno, "cannot move the result into place at", dir);
        rename(*aside, dir);
        return rc;
    }
    return OLIVE_OK;
}

int olive_engine_check_output_kind(const char *dir, const struct stat *st)
{
    if (S_ISLNK(st->st_mode))
        return olive_fail(OLIVE_EINVALID,
                          "output path '%s' is a symbolic link; libolive does not write through "
                          "links: give the folder it points to, or remove the link",
                          dir);
    if (!S_ISDIR(st->st_mode))
        return olive_fail(OLIVE_EEXISTS, "output path '%s' exists and is not a folder", dir);
    return OLIVE_OK;
}

int olive_engine_publish(const char *staging, const char *dir, int flags)
{
    struct stat st;
    names own = {0}, listed = {0};
    char *aside = NULL;
    int sfd = -1, ofd = -1, rc = OLIVE_OK;
    if (lstat(dir, &st) != 0) {
        if (errno != ENOENT)
            return olive_fail_errno(errno, "cannot read", dir);
        return publish_new(staging, dir);
    }
    OLIVE_TRY(olive_engine_check_output_kind(dir, &st));
    /* The manifest lists what is in the staging folder now: libolive's files, not the kept ones. */
    OLIVE_TRY(write_manifest(staging));
    if ((sfd = open_dir(staging)) < 0 || (ofd = open_dir(dir)) < 0) {
        rc = olive_fail_errno(errno, "cannot open", sfd < 0 ? staging : dir);
        goto out;
    }
    read_manifest(&own, ofd);
    if ((rc = list_entries(&listed, ofd, dir)) != OLIVE_OK)
        goto out;
    for (size_t i = 0; rc == OLIVE_OK && i < listed.n; i++) {
        const char *n = listed.v[i];
        struct stat sst;
        if (!strcmp(n, OLIVE_OUTPUT_MANIFEST) || names_has(&own, n))
            continue; /* libolive's own: replaced */
        if (fstatat(sfd, n, &sst, AT_SYMLINK_NOFOLLOW) == 0) {
            if (!(flags & OLIVE_PUBLISH_REPLACE_FOREIGN))
                rc = olive_fail(OLIVE_EEXISTS,
                                "output folder '%s' holds '%s', which libolive did not write and the "
                                "new output would replace; move it away",
                                dir, n);
            continue;
        }
        rc = carry(ofd, sfd, n, dir, 0);
    }
    if (rc != OLIVE_OK)
        goto out;
    fchmod(sfd, st.st_mode & 07777); /* the folder keeps the permissions it was given */
    step("carried");
    if (!test_force_fallback && renameat2(AT_FDCWD, staging, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        /* One step: `dir` is the old output or the new one at every instant. */
        step("exchanged");
        remove_old(staging, &listed, dir);
        goto out;
    }
    if (!test_force_fallback && errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) {
        rc = olive_fail_errno(errno, "cannot move the result into place at", dir);
        goto out;
    }
    if ((rc = publish_fallback(staging, dir, &aside)) == OLIVE_OK) {
        step("renamed");
        remove_old(aside, &listed, dir);
    }
out:
    if (sfd >= 0)
        close(sfd);
    if (ofd >= 0)
        close(ofd);
    free(aside);
    names_free(&own);
    names_free(&listed);
    return rc;
}
