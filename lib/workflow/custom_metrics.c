/* The registry of custom metric functions, by the names configs give in user_config. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "workflow/evaluator.h"

typedef struct entry {
    char *name;
    wf_custom_fn fn;
    void *user;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *entries;
static size_t n_entries, cap_entries;

int wf_custom_register(const char *name, wf_custom_fn fn, void *user)
{
    int rc = OLIVE_OK;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_entries; i++)
        if (!strcmp(entries[i].name, name)) {
            entries[i].fn = fn;
            entries[i].user = user;
            pthread_mutex_unlock(&lock);
            return OLIVE_OK;
        }
    {
        entry e = {olive_strdup(name), fn, user};
        if (!e.name || OLIVE_PUSH(entries, n_entries, cap_entries, e) != OLIVE_OK) {
            free(e.name);
            rc = OLIVE_ENOMEM;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int wf_custom_unregister(const char *name)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_entries; i++)
        if (!strcmp(entries[i].name, name)) {
            free(entries[i].name);
            entries[i] = entries[--n_entries];
            pthread_mutex_unlock(&lock);
            return OLIVE_OK;
        }
    pthread_mutex_unlock(&lock);
    return olive_fail(OLIVE_ENOTFOUND, "no custom metric function named '%s' is registered", name);
}

int wf_custom_lookup(wf_custom_fn *fn, void **user, const char *name)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_entries; i++)
        if (!strcmp(entries[i].name, name)) {
            *fn = entries[i].fn;
            *user = entries[i].user;
            pthread_mutex_unlock(&lock);
            return OLIVE_OK;
        }
    pthread_mutex_unlock(&lock);
    return olive_fail(OLIVE_ENOTFOUND, "no custom metric function named '%s' is registered (olive_metric_register)",
                      name);
}
