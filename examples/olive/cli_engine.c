/* See cli_progress.h: cli_run_engine. */
#include <stdio.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_progress.h"

int cli_run_engine(olive_engine *engine, int rc, const char *model_path, const char *output, int overwrite)
{
    olive_model *model = NULL;
    cli_progress progress;
    int status;
    if (rc == OLIVE_OK)
        rc = olive_model_load(&model, model_path);
    if (rc == OLIVE_OK) {
        if (cli_progress_init(&progress))
            olive_engine_set_progress(engine, cli_progress_report, &progress);
        cli_interrupt_watch(engine);
        rc = olive_engine_run(engine, model, output, NULL);
        cli_interrupt_unwatch();
        cli_progress_end(&progress);
        if (rc != OLIVE_OK && cli_interrupted())
            rc = OLIVE_ECANCELLED;
    }
    /* The library names its own option (overwrite=true); point to the flag instead. */
    status = rc == OLIVE_OK                      ? CLI_EXIT_OK
             : rc == OLIVE_EEXISTS && !overwrite ? cli_fail_hint(rc, "use --overwrite")
                                                 : cli_fail(rc);
    if (rc == OLIVE_OK && cli_log_level() < OLIVE_LOG_SILENT)
        printf("Saved to %s\n", output);
    olive_model_free(model);
    return status;
}
