/* libcurl loaded at run time: see curl_dl.h. */
#include <dlfcn.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "formats/hub/curl_dl.h"

ohub_curl_api ohub_curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[512];

static void load(void)
{
    static const struct {
        const char *name;
        size_t offset;
    } symbols[] = {
#define SYM(field, name) {name, offsetof(ohub_curl_api, field)}
        SYM(global_init, "curl_global_init"),
        SYM(easy_init, "curl_easy_init"),
        SYM(easy_cleanup, "curl_easy_cleanup"),
        SYM(easy_reset, "curl_easy_reset"),
        SYM(easy_setopt, "curl_easy_setopt"),
        SYM(easy_getinfo, "curl_easy_getinfo"),
        SYM(easy_perform, "curl_easy_perform"),
        SYM(easy_strerror, "curl_easy_strerror"),
        SYM(easy_escape, "curl_easy_escape"),
        SYM(free, "curl_free"),
        SYM(slist_append, "curl_slist_append"),
        SYM(slist_free_all, "curl_slist_free_all"),
        SYM(multi_init, "curl_multi_init"),
        SYM(multi_cleanup, "curl_multi_cleanup"),
        SYM(multi_add_handle, "curl_multi_add_handle"),
        SYM(multi_remove_handle, "curl_multi_remove_handle"),
        SYM(multi_perform, "curl_multi_perform"),
        SYM(multi_poll, "curl_multi_poll"),
        SYM(multi_info_read, "curl_multi_info_read"),
#undef SYM
    };
    const char *path = getenv("OLIVE_CURL_LIBRARY");
    ohub_curl_api api;
    void *lib;
    if (!path || !path[0])
        path = "libcurl.so.4";
    if (!(lib = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        snprintf(load_error, sizeof load_error,
                 "cannot load libcurl (%s): %s; install libcurl4 (Debian) to "
                 "download from the Hugging Face Hub, or set OLIVE_CURL_LIBRARY",
                 path, dlerror());
        return;
    }
    for (size_t i = 0; i < sizeof symbols / sizeof *symbols; i++) {
        void *f = dlsym(lib, symbols[i].name);
        if (!f) {
            snprintf(load_error, sizeof load_error, "%s has no %s (libcurl 7.66 or later is needed)", path,
                     symbols[i].name);
            dlclose(lib);
            return;
        }
        memcpy((char *)&api + symbols[i].offset, &f, sizeof f);
    }
    ohub_curl = api; /* complete, or left empty */
}

int ohub_curl_load(void)
{
    pthread_once(&once, load);
    if (!ohub_curl.multi_info_read)
        return olive_fail(OLIVE_EUNSUPPORTED, "%s", load_error);
    return OLIVE_OK;
}
