/* Reads of mapped files that shrink under us.
 *
 * Weights are read through memory mappings. When another process truncates a mapped file,
 * touching a page past its new end raises SIGBUS, which would kill the process. Code that
 * reads mapped bytes runs inside OLIVE_MAP_GUARDED: while it runs, a SIGBUS handler is
 * installed (chained to any handler the application had) and a fault on this thread jumps
 * back to the guard, which returns OLIVE_EIO naming the file that shrank. Faults in
 * olive_parallel_for's worker threads are carried to the calling thread's guard once the
 * workers are joined. Memory the interrupted code had allocated is lost (the process lives
 * on; the file it was reading is damaged anyway). Code without a guard behaves as before. */
#ifndef OLIVE_CORE_MAPGUARD_H
#define OLIVE_CORE_MAPGUARD_H

#include <setjmp.h>

typedef struct olive_map_guard {
    sigjmp_buf env;
    struct olive_map_guard *prev; /* the guard this one is nested in, on this thread */
    void *fault_addr;             /* where the fault happened, after a jump back */
} olive_map_guard;

/* Arms `g` on this thread (installing the handler if no guard is armed anywhere). Call only
 * through OLIVE_MAP_GUARDED. Returns 0, or -1 when the handler cannot be installed. */
int olive_map_guard_enter(olive_map_guard *g);
/* Disarms `g` after the guarded code returned normally. */
void olive_map_guard_leave(olive_map_guard *g);
/* After a jump back: disarms `g` and sets the error (OLIVE_EIO naming the mapped file that
 * holds the fault address, when one does). Returns OLIVE_EIO. */
int olive_map_guard_fault(olive_map_guard *g);
/* The fault address of the last olive_map_guard_fault on this thread. */
void *olive_map_guard_last_fault(void);
/* Jumps to this thread's innermost guard as if a SIGBUS at `addr` had happened here; with no
 * guard armed, raises SIGBUS. For faults caught on worker threads. Does not return. */
void olive_map_guard_rethrow(void *addr);

/* rc = call, evaluated under a guard: `rc` receives call's result, or OLIVE_EIO when a mapped
 * file shrank while `call` read it. */
#define OLIVE_MAP_GUARDED(rc, call)                                                                                    \
    do {                                                                                                               \
        olive_map_guard olive_guard_;                                                                                  \
        if (olive_map_guard_enter(&olive_guard_) != 0) {                                                               \
            (rc) = (call);                                                                                             \
        } else if (sigsetjmp(olive_guard_.env, 1) == 0) {                                                              \
            (rc) = (call);                                                                                             \
            olive_map_guard_leave(&olive_guard_);                                                                      \
        } else {                                                                                                       \
            (rc) = olive_map_guard_fault(&olive_guard_);                                                               \
        }                                                                                                              \
    } while (0)

#endif
