/* Publishing output folders: removal never follows links, the old or the new output is at the
 * path at every step (a child killed with SIGKILL at each step shows it), files libolive did
 * not write are kept, and stale staging folders are removed while live ones stay. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "engine/engine.h"

static char base[64];
static char outdir[128]; /* <base>/out */

static char *at(const char *rel)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", base, rel);
    return p;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* 1 if the file holds exactly `text`. */
static int holds(const char *path, const char *text)
{
    char buf[256] = {0};
    FILE *f = fopen(path, "r");
    size_t n;
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(text) && !memcmp(buf, text, n);
}

/* An output whose two files both hold `tag`: a model and its data, which must match. */
static int output_is(const char *dir, const char *tag)
{
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/model.onnx", dir);
    snprintf(b, sizeof b, "%s/model.onnx.data", dir);
    return holds(a, tag) && holds(b, tag);
}

static char *staged(const char *dir, const char *tag)
{
    char *st = NULL, path[512];
    if (olive_engine_make_staging(&st, dir) != OLIVE_OK)
        return NULL;
    snprintf(path, sizeof path, "%s/model.onnx", st);
    put(path, tag);
    snprintf(path, sizeof path, "%s/model.onnx.data", st);
    put(path, tag);
    return st;
}

static int publish_tag(const char *dir, const char *tag, int flags)
{
    char *st = staged(dir, tag);
    int rc = st ? olive_engine_publish(st, dir, flags) : OLIVE_EIO;
    if (st && rc != OLIVE_OK)
        olive_rmtree(st);
    free(st);
    return rc;
}

/* Entries of `base` whose names begin with `prefix`; the last one's name in *last. */
static int count_prefixed_last(const char *prefix, const char *except, char **last)
{
    DIR *d = opendir(base);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && (!except || strcmp(e->d_name, except))) {
            n++;
            if (last) {
                free(*last);
                *last = olive_asprintf("%s/%s", base, e->d_name);
            }
        }
    if (d)
        closedir(d);
    return n;
}

static int count_prefixed(const char *prefix)
{
    return count_prefixed_last(prefix, NULL, NULL);
}

static void reset(void)
{
    olive_rmtree(base);
    mkdir(base, 0700);
    mkdir(at("target"), 0755);
    mkdir(at("target/sub"), 0755);
    put(at("target/a.txt"), "precious");
    put(at("target/sub/b.txt"), "precious too");
}

static int target_intact(void)
{
    return holds(at("target/a.txt"), "precious") && holds(at("target/sub/b.txt"), "precious too");
}

static void test_rmtree_never_follows_links(void)
{
    reset();
    mkdir(at("tree"), 0755);
    mkdir(at("tree/sub"), 0755);
    put(at("tree/f"), "x");
    CHECK(symlink(at("target"), at("tree/link_dir")) == 0);
    CHECK(symlink(at("target/a.txt"), at("tree/link_file")) == 0);
    CHECK(symlink("../../target", at("tree/sub/up")) == 0);
    olive_rmtree(at("tree"));
    CHECK(access(at("tree"), F_OK) != 0);
    CHECK(target_intact());
    /* The path itself a link: the link goes, the folder it names stays whole. */
    CHECK(symlink("target", at("link")) == 0);
    olive_rmtree(at("link"));
    CHECK(faccessat(AT_FDCWD, at("link"), F_OK, AT_SYMLINK_NOFOLLOW) != 0);
    CHECK(target_intact());
}

static void add_user_files(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    put(p, "mine");
    snprintf(p, sizeof p, "%s/eval", dir);
    mkdir(p, 0750);
    snprintf(p, sizeof p, "%s/eval/scores.csv", dir);
    put(p, "1,2");
    snprintf(p, sizeof p, "%s/shared", dir);
    CHECK(symlink("../target", p) == 0);
}

static int user_files_kept(const char *dir)
{
    char p[512], link[64] = {0};
    struct stat st;
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    if (!holds(p, "mine"))
        return 0;
    snprintf(p, sizeof p, "%s/eval/scores.csv", dir);
    if (!holds(p, "1,2"))
        return 0;
    snprintf(p, sizeof p, "%s/eval", dir);
    if (stat(p, &st) != 0 || (st.st_mode & 07777) != 0750)
        return 0;
    snprintf(p, sizeof p, "%s/shared", dir);
    return readlink(p, link, sizeof link - 1) > 0 && !strcmp(link, "../target") && target_intact();
}

/* At every step of a publish, the path holds a whole output, old or new. */
static int steps_seen, steps_bad;

static void check_step(const char *step, void *user)
{
    const char *dir = user;
    steps_seen++;
    if (!strcmp(step, "aside")) {
        /* The fallback's one moment without a folder at the path: the old one is beside it,
         * where the next run's cleanup finds it. */
        if (count_prefixed(".out.old-") != 1)
            steps_bad++;
        return;
    }
    if (!(output_is(dir, "v1") || output_is(dir, "v2")) || !user_files_kept(dir))
        steps_bad++;
}

static void test_publish_keeps_an_output_and_user_files(int fallback)
{
    const char *dir;
    reset();
    dir = outdir;
    CHECK_RC(publish_tag(dir, "v1", 0), OLIVE_OK);
    CHECK(output_is(dir, "v1"));
    add_user_files(dir);
    steps_seen = steps_bad = 0;
    olive_engine_publish_test_hook(check_step, (void *)dir, fallback);
    CHECK_RC(publish_tag(dir, "v2", 0), OLIVE_OK);
    olive_engine_publish_test_hook(NULL, NULL, 0);
    CHECK(steps_seen >= 2 && steps_bad == 0);
    CHECK(output_is(dir, "v2"));
    CHECK(user_files_kept(dir));
    CHECK(count_prefixed(".out.") == 0); /* nothing left beside it */

    /* A file the user put there under a name the new output also writes: refused unless
     * replacing was asked for. */
    put(at("out/extra.bin"), "user's");
    {
        char *st = staged(dir, "v3"), p[512];
        snprintf(p, sizeof p, "%s/extra.bin", st);
        put(p, "libolive's");
        CHECK_RC(olive_engine_publish(st, dir, 0), OLIVE_EEXISTS);
        CHECK_ERROR_HAS("extra.bin");
        CHECK(output_is(dir, "v2") && holds(at("out/extra.bin"), "user's"));
        CHECK_RC(olive_engine_publish(st, dir, OLIVE_PUBLISH_REPLACE_FOREIGN), OLIVE_OK);
        CHECK(output_is(dir, "v3") && holds(at("out/extra.bin"), "libolive's") && user_files_kept(dir));
        free(st);
    }
    /* A link at the output path is refused and nothing behind it changes. */
    CHECK(symlink("target", at("lnk")) == 0);
    CHECK_RC(publish_tag(at("lnk"), "v4", OLIVE_PUBLISH_REPLACE_FOREIGN), OLIVE_EINVALID);
    CHECK_ERROR_HAS("symbolic link");
    CHECK(target_intact() && access(at("target/model.onnx"), F_OK) != 0);
}

static const char *kill_at;

static void kill_step(const char *step, void *user)
{
    (void)user;
    if (!strcmp(step, kill_at))
        raise(SIGKILL);
}

/* A child publishing v2 over v1 is killed at `step`: afterwards the path holds v1 or v2 with
 * the user's files, and the next cleanup leaves nothing of the child behind. */
static void test_kill_at(const char *step, int fallback)
{
    const char *dir;
    int status = 0;
    pid_t pid;
    reset();
    dir = outdir;
    CHECK_RC(publish_tag(dir, "v1", 0), OLIVE_OK);
    add_user_files(dir);
    fflush(NULL);
    if ((pid = fork()) == 0) {
        kill_at = step;
        olive_engine_publish_test_hook(kill_step, NULL, fallback);
        publish_tag(dir, "v2", 0);
        _exit(3); /* the step was never reached */
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        fprintf(stderr, "step '%s' (fallback %d) not reached\n", step, fallback);
        CHECK(0);
        return;
    }
    if (!fallback || strcmp(step, "aside"))
        CHECK(output_is(dir, "v1") || output_is(dir, "v2"));
    olive_engine_clean_staging(base, "out");
    CHECK(output_is(dir, "v1") || output_is(dir, "v2"));
    CHECK(user_files_kept(dir));
    CHECK(count_prefixed(".out.") == 0);
}

static int have_exchange(void)
{
    int ok;
    mkdir(at("x1"), 0755);
    mkdir(at("x2"), 0755);
    ok = renameat2(AT_FDCWD, at("x1"), AT_FDCWD, at("x2"), RENAME_EXCHANGE) == 0;
    rmdir(at("x1"));
    rmdir(at("x2"));
    return ok;
}

static void test_stale_staging(void)
{
    char *live = NULL, *dead = NULL, *copy, other_boot[600], unrelated[600];
    struct timespec old[2];
    int status;
    pid_t pid;
    reset();
    CHECK_RC(olive_engine_make_staging(&live, at("out")), OLIVE_OK);
    fflush(NULL);
    if ((pid = fork()) == 0) {
        char *st = NULL;
        if (olive_engine_make_staging(&st, at("out")) == OLIVE_OK) {
            char p[600];
            snprintf(p, sizeof p, "%s/model.onnx.data", st);
            put(p, "half written");
        }
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    /* The dead child's folder: the one that is not ours. */
    count_prefixed_last(".out.tmp-", olive_path_basename(live), &dead);
    CHECK(dead != NULL);
    /* Another machine's (another boot id): young ones stay, a day-old one goes. */
    snprintf(other_boot, sizeof other_boot, "%s/.out.tmp-00000001-1-1-abcdef", base);
    mkdir(other_boot, 0755);
    copy = olive_asprintf("%s/.out.tmp-00000001-2-1-abcdeg", base);
    mkdir(copy, 0755);
    old[0].tv_sec = old[1].tv_sec = time(NULL) - 3 * 24 * 3600;
    old[0].tv_nsec = old[1].tv_nsec = 0;
    utimensat(AT_FDCWD, copy, old, 0);
    snprintf(unrelated, sizeof unrelated, "%s/.out.tmp-notes", base);
    mkdir(unrelated, 0755);
    CHECK_RC(publish_tag(at("out"), "v1", 0), OLIVE_OK); /* making its staging cleans */
    CHECK(access(live, F_OK) == 0);
    CHECK(dead && access(dead, F_OK) != 0);
    CHECK(access(other_boot, F_OK) == 0);
    CHECK(access(copy, F_OK) != 0);
    CHECK(access(unrelated, F_OK) == 0);
    CHECK(output_is(at("out"), "v1"));
    olive_rmtree(live);
    free(live);
    free(dead);
    free(copy);
}

int main(void)
{
    static const char *exchange_steps[] = {"carried", "exchanged"};
    static const char *fallback_steps[] = {"carried", "before-aside", "aside", "renamed"};
    snprintf(base, sizeof base, "/tmp/olive-publish-XXXXXX");
    if (!mkdtemp(base))
        return 1;
    snprintf(outdir, sizeof outdir, "%s/out", base);
    test_rmtree_never_follows_links();
    if (have_exchange()) {
        test_publish_keeps_an_output_and_user_files(0);
        for (size_t i = 0; i < sizeof exchange_steps / sizeof *exchange_steps; i++)
            test_kill_at(exchange_steps[i], 0);
    } else {
        printf("no RENAME_EXCHANGE on %s: only the fallback is checked\n", base);
    }
    test_publish_keeps_an_output_and_user_files(1);
    for (size_t i = 0; i < sizeof fallback_steps / sizeof *fallback_steps; i++)
        test_kill_at(fallback_steps[i], 1);
    test_stale_staging();
    olive_rmtree(base);
    return check_summary("test_publish");
}
