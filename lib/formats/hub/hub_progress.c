/* Download progress on stderr: bytes, rate and time left, redrawn in place on a terminal; on
 * anything else one log line per finished file, so logs and CI output stay readable. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "formats/hub/hub_internal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void human(char *buf, size_t n, double bytes)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000.0 && u < 4) {
        bytes /= 1000.0;
        u++;
    }
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void draw(ohub_progress *p, int final)
{
    char done[32], total[32], rate[32], eta[32] = "";
    double elapsed = now_s() - p->start, bps = elapsed > 0 ? (double)p->done / elapsed : 0;
    int width = 30, filled = p->total ? (int)((double)p->done * width / (double)p->total) : width;
    human(done, sizeof done, (double)p->done);
    human(total, sizeof total, (double)p->total);
    human(rate, sizeof rate, bps);
    if (!final && bps > 0 && p->total > p->done)
        snprintf(eta, sizeof eta, " ETA %.0fs", (double)(p->total - p->done) / bps);
    fprintf(stderr, "\r%s [%.*s%*s] %s / %s %s/s%s%s", p->repo, filled, "##############################",
            width - filled, "", done, total, rate, final ? " in " : eta, "");
    if (final)
        fprintf(stderr, "%.1fs\n", elapsed);
    else
        fprintf(stderr, "\033[K");
    fflush(stderr);
}

void ohub_progress_start(ohub_progress *p, const char *repo, uint64_t total, size_t files)
{
    char size[32];
    p->repo = repo;
    p->tty = isatty(STDERR_FILENO);
    p->total = total;
    p->done = 0;
    p->start = p->last_draw = now_s();
    human(size, sizeof size, (double)total);
    if (!p->tty)
        OLIVE_INFO("downloading %zu file%s (%s) of %s", files, files == 1 ? "" : "s", size, repo);
}

void ohub_progress_add(ohub_progress *p, uint64_t bytes)
{
    double t;
    p->done += bytes;
    if (p->tty && (t = now_s()) - p->last_draw >= 0.1) {
        p->last_draw = t;
        draw(p, 0);
    }
}

void ohub_progress_file_done(ohub_progress *p, const char *file, uint64_t size)
{
    char s[32];
    if (p->tty)
        return;
    human(s, sizeof s, (double)size);
    OLIVE_INFO("downloaded %s/%s (%s)", p->repo, file, s);
}

void ohub_progress_end(ohub_progress *p, int ok)
{
    if (p->tty) {
        draw(p, ok);
        if (!ok)
            fputc('\n', stderr);
    } else if (ok) {
        char s[32], r[32];
        double elapsed = now_s() - p->start;
        human(s, sizeof s, (double)p->done);
        human(r, sizeof r, elapsed > 0 ? (double)p->done / elapsed : 0);
        OLIVE_INFO("downloaded %s of %s in %.1fs (%s/s)", s, p->repo, elapsed, r);
    }
}
