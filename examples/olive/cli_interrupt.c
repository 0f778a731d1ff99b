/* Ctrl-C during a run: ask the engine to stop, so it removes its partial output and returns
 * OLIVE_ECANCELLED instead of the process dying with a temporary folder left behind. */
#include <signal.h>
#include <string.h>

#include "cli_progress.h"

static olive_engine *volatile watched;
static olive_workflow *volatile watched_workflow;
static volatile sig_atomic_t interrupted;
static struct sigaction saved_int, saved_term;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
    if (watched)
        olive_engine_cancel(watched); /* documented as safe in a signal handler */
    if (watched_workflow)
        olive_workflow_cancel(watched_workflow);
}

void cli_interrupt_watch(olive_engine *engine)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* The handler runs once; a second Ctrl-C gets the default action and ends the program
     * for a user who does not want to wait for the cleanup. */
    sa.sa_flags = SA_RESETHAND;
    interrupted = 0;
    watched = engine;
    sigaction(SIGINT, &sa, &saved_int);
    sigaction(SIGTERM, &sa, &saved_term);
}

void cli_interrupt_watch_workflow(olive_workflow *workflow)
{
    cli_interrupt_watch(NULL);
    watched_workflow = workflow;
}

void cli_interrupt_unwatch(void)
{
    sigaction(SIGINT, &saved_int, NULL);
    sigaction(SIGTERM, &saved_term, NULL);
    watched = NULL;
    watched_workflow = NULL;
}

int cli_interrupted(void)
{
    return interrupted != 0;
}
