/* libcurl, loaded at run time (dlopen) on the first download, never linked: a process that
 * never downloads never loads libcurl and what it pulls in (TLS, LDAP, p11-kit), and libolive
 * runs where libcurl is missing, saying so when a download is asked for. The functions hub_fetch.c
 * calls are reached through `ohub_curl`; the macros below keep its code in libcurl's own names. */
#ifndef OLIVE_FORMATS_HUB_CURL_DL_H
#define OLIVE_FORMATS_HUB_CURL_DL_H

#define CURL_DISABLE_TYPECHECK /* the setopt/getinfo type-check macros would hide the pointers */
#include <curl/curl.h>

typedef struct ohub_curl_api {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *h);
    void (*easy_reset)(CURL *h);
    CURLcode (*easy_setopt)(CURL *h, CURLoption option, ...);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    CURLcode (*easy_perform)(CURL *h);
    const char *(*easy_strerror)(CURLcode code);
    char *(*easy_escape)(CURL *h, const char *s, int length);
    void (*free)(void *p);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *m);
    CURLMcode (*multi_add_handle)(CURLM *m, CURL *h);
    CURLMcode (*multi_remove_handle)(CURLM *m, CURL *h);
    CURLMcode (*multi_perform)(CURLM *m, int *running);
    CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd extra[], unsigned n, int timeout_ms, int *ret);
    CURLMsg *(*multi_info_read)(CURLM *m, int *queued);
} ohub_curl_api;

extern ohub_curl_api ohub_curl;

/* Loads libcurl (libcurl.so.4, or the path in OLIVE_CURL_LIBRARY) and resolves the functions
 * above, once per process; thread-safe. Returns OLIVE_OK, or OLIVE_EUNSUPPORTED naming the
 * library and what is missing (the message is set). */
int ohub_curl_load(void);

#define curl_global_init ohub_curl.global_init
#define curl_easy_init ohub_curl.easy_init
#define curl_easy_cleanup ohub_curl.easy_cleanup
#define curl_easy_reset ohub_curl.easy_reset
#undef curl_easy_setopt /* curl.h makes these two function-like macros of themselves */
#undef curl_easy_getinfo
#define curl_easy_setopt ohub_curl.easy_setopt
#define curl_easy_getinfo ohub_curl.easy_getinfo
#define curl_easy_perform ohub_curl.easy_perform
#define curl_easy_strerror ohub_curl.easy_strerror
#define curl_easy_escape ohub_curl.easy_escape
#define curl_free ohub_curl.free
#define curl_slist_append ohub_curl.slist_append
#define curl_slist_free_all ohub_curl.slist_free_all
#define curl_multi_init ohub_curl.multi_init
#define curl_multi_cleanup ohub_curl.multi_cleanup
#define curl_multi_add_handle ohub_curl.multi_add_handle
#define curl_multi_remove_handle ohub_curl.multi_remove_handle
#define curl_multi_perform ohub_curl.multi_perform
#define curl_multi_poll ohub_curl.multi_poll
#define curl_multi_info_read ohub_curl.multi_info_read

#endif
