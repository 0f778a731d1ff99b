#include "workflow/executor/command.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"

extern char **environ;

/* Reads both pipes until both close, so neither child stream can fill and block it. */
static void drain(int out_fd, int err_fd, olive_strbuf *out, olive_strbuf *err)
{
    struct pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    olive_strbuf *dst[2] = {out, err};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            char buf[4096];
            ssize_t n;
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(p[i].fd, buf, sizeof buf);
            if (n > 0) {
                olive_strbuf_appendn(dst[i], buf, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
}

static int start_failed(int err, const char *cmd, const char *hint)
{
    if (err == ENOENT)
        return olive_fail(OLIVE_ENOTFOUND, "cannot run '%s': command not found on PATH%s%s", cmd, hint ? "; " : "",
                          hint ? hint : "");
    return olive_fail(OLIVE_EIO, "cannot run '%s': %s", cmd, strerror(err));
}

static int wait_child(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

int wf_command_run(char **out, char *const argv[], const char *hint)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, status = 0, err, rc = OLIVE_OK;
    posix_spawn_file_actions_t fa;
    olive_strbuf so = {0}, se = {0};
    pid_t pid;
    if (out)
        *out = NULL;
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        err = errno;
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0)
                close(po[i]);
            if (pe[i] >= 0)
                close(pe[i]);
        }
        return olive_fail(OLIVE_EIO, "cannot run '%s': %s", argv[0], strerror(err));
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (err != 0) {
        close(po[0]);
        close(pe[0]);
        return start_failed(err, argv[0], hint);
    }
    drain(po[0], pe[0], &so, &se);
    if (wait_child(pid, &status) != 0) {
        rc = olive_fail(OLIVE_EIO, "'%s': cannot wait for it: %s", argv[0], strerror(errno));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *e = olive_strbuf_take(&se);
        size_t n = e ? strlen(e) : 0;
        while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
            e[--n] = '\0';
        if (WIFEXITED(status))
            rc = olive_fail(OLIVE_EIO, "'%s' exited with status %d%s%s", argv[0], WEXITSTATUS(status), n ? ": " : "",
                            n ? e : "");
        else
            rc = olive_fail(OLIVE_EIO, "'%s' was killed by signal %d", argv[0], WTERMSIG(status));
        free(e);
    }
    olive_strbuf_free(&se);
    if (rc == OLIVE_OK && out) {
        if (!(*out = olive_strbuf_take(&so)) && !(*out = olive_strdup("")))
            rc = OLIVE_ENOMEM;
    }
    olive_strbuf_free(&so);
    return rc;
}

int wf_command_start(pid_t *pid, char *const argv[], const char *log_path)
{
    posix_spawn_file_actions_t fa;
    int err;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    err = posix_spawnp(pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return err ? start_failed(err, argv[0], NULL) : OLIVE_OK;
}

int wf_command_olive(char **out)
{
    const char *env = getenv("OLIVE_CLI");
    char self[PATH_MAX];
    ssize_t n;
    const char *base;
    if (env && env[0])
        return (*out = olive_strdup(env)) ? OLIVE_OK : OLIVE_ENOMEM;
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        base = strrchr(self, '/');
        base = base ? base + 1 : self;
        if (!strcmp(base, "olive"))
            return (*out = olive_strdup(self)) ? OLIVE_OK : OLIVE_ENOMEM;
    }
    return olive_fail(OLIVE_ENOTFOUND, "executor: the workers run the olive command, and this program is not it; "
                                       "set OLIVE_CLI to the olive command's path");
}
