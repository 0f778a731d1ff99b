/* SIGBUS guards around reads of mapped files (see mapguard.h). */
#include "core/mapguard.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "core/blob.h"
#include "core/status.h"

static __thread olive_map_guard *current;
static __thread void *last_fault;

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static int armed;                 /* guards armed on all threads, under install_lock */
static struct sigaction previous; /* the application's SIGBUS handling, restored when none is armed */

static void on_sigbus(int sig, siginfo_t *info, void *uc)
{
    olive_map_guard *g = current;
    if (g) {
        g->fault_addr = info->si_addr;
        current = g->prev;
        siglongjmp(g->env, 1);
    }
    /* Not ours: hand it to what the application installed, or die as without us. */
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction) {
            previous.sa_sigaction(sig, info, uc);
            return;
        }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    signal(SIGBUS, SIG_DFL); /* the faulting access runs again and ends the process */
}

int olive_map_guard_enter(olive_map_guard *g)
{
    int rc = 0;
    pthread_mutex_lock(&install_lock);
    if (armed++ == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, &previous) != 0) {
            armed--;
            rc = -1;
        }
    }
    pthread_mutex_unlock(&install_lock);
    if (rc == 0) {
        g->prev = current;
        g->fault_addr = NULL;
        current = g;
    }
    return rc;
}

static void disarm(void)
{
    pthread_mutex_lock(&install_lock);
    if (--armed == 0)
        sigaction(SIGBUS, &previous, NULL);
    pthread_mutex_unlock(&install_lock);
}

void olive_map_guard_leave(olive_map_guard *g)
{
    current = g->prev;
    disarm();
}

int olive_map_guard_fault(olive_map_guard *g)
{
    char path[512];
    /* The handler already popped this guard off the thread's chain. */
    disarm();
    last_fault = g->fault_addr;
    if (olive_blob_path_at(g->fault_addr, path, sizeof path))
        return olive_fail(OLIVE_EIO,
                          "'%s' shrank while it was being read (another program truncated or rewrote "
                          "it); nothing was written from it",
                          path);
    return olive_fail(OLIVE_EIO, "a mapped file shrank while it was being read (bus error at %p)", g->fault_addr);
}

void *olive_map_guard_last_fault(void)
{
    return last_fault;
}

void olive_map_guard_rethrow(void *addr)
{
    olive_map_guard *g = current;
    if (!g) {
        raise(SIGBUS);
        return;
    }
    g->fault_addr = addr;
    current = g->prev;
    siglongjmp(g->env, 1);
}
