/* The Hub clients' shared pieces: environment, token, and (with libcurl) one reply's parsing. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "olive/version.h"

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "formats/hub/hub_http.h"

int ohub_env_true(const char *name)
{
    const char *v = getenv(name);
    return v && (!strcmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true"));
}

char *ohub_read_token(void)
{
    const char *v = getenv("HF_TOKEN"), *home;
    char *path = NULL, *text = NULL;
    size_t size;
    if (v && v[0])
        return olive_strdup(v);
    if ((v = getenv("HF_TOKEN_PATH")) && v[0])
        path = olive_strdup(v);
    else if ((home = getenv("HF_HOME")) && home[0])
        path = olive_path_join(home, "token");
    else if ((home = getenv("HOME")) && home[0])
        path = olive_asprintf("%s/.cache/huggingface/token", home);
    if (path && olive_read_file(&text, &size, path, 4096) == OLIVE_OK) {
        text[strcspn(text, " \t\r\n")] = '\0';
        if (!text[0]) {
            free(text);
            text = NULL;
        }
    }
    olive_error_clear();
    free(path);
    return text;
}

char *ohub_endpoint_host(const char *endpoint)
{
    const char *host = strstr(endpoint, "://");
    host = host ? host + 3 : endpoint;
    return olive_strndup(host, strcspn(host, "/"));
}

#ifdef OHUB_HAVE_CURL

#include <pthread.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void ohub_reply_clear(ohub_reply *r)
{
    free(r->commit);
    free(r->etag);
    free(r->linked_etag);
    free(r->location);
    free(r->error_code);
    free(r->error_message);
    olive_strbuf_free(&r->body);
    memset(r, 0, sizeof(*r));
}

/* An ETag as a bare name: no W/ prefix, no quotes. */
static char *etag_name(const char *v, size_t n)
{
    if (n >= 2 && !strncmp(v, "W/", 2)) {
        v += 2;
        n -= 2;
    }
    while (n && *v == '"') {
        v++;
        n--;
    }
    while (n && v[n - 1] == '"')
        n--;
    return olive_strndup(v, n);
}

size_t ohub_on_header(char *line, size_t size, size_t count, void *user)
{
    ohub_reply *r = user;
    size_t n = size * count, klen;
    const char *colon = memchr(line, ':', n), *v;
    if (n >= 5 && !strncmp(line, "HTTP/", 5)) { /* a new response (after a redirect): start over */
        olive_strbuf body = r->body;
        size_t limit = r->body_limit;
        r->body = (olive_strbuf){0};
        ohub_reply_clear(r);
        r->body = body;
        r->body_limit = limit;
        return n;
    }
    if (!colon)
        return n;
    klen = (size_t)(colon - line);
    v = colon + 1;
    size_t vlen = n - klen - 1;
    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
#define IS(name) (klen == sizeof(name) - 1 && !strncasecmp(line, name, klen))
    char **slot = NULL;
    if (IS("x-repo-commit"))
        slot = &r->commit;
    else if (IS("location"))
        slot = &r->location;
    else if (IS("x-error-code"))
        slot = &r->error_code;
    else if (IS("x-error-message"))
        slot = &r->error_message;
    if (slot) {
        free(*slot);
        *slot = olive_strndup(v, vlen);
    } else if (IS("etag")) {
        free(r->etag);
        r->etag = etag_name(v, vlen);
    } else if (IS("x-linked-etag")) {
        free(r->linked_etag);
        r->linked_etag = etag_name(v, vlen);
    } else if (IS("content-length") || IS("x-linked-size")) {
        char buf[32];
        if (vlen && vlen < sizeof buf) {
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            uint64_t value = strtoull(buf, NULL, 10);
            if (IS("content-length")) {
                r->size = value;
                r->has_size = 1;
            } else {
                r->linked_size = value;
                r->has_linked_size = 1;
            }
        }
    }
#undef IS
    return n;
}

size_t ohub_on_body(char *data, size_t size, size_t count, void *user)
{
    ohub_reply *r = user;
    size_t n = size * count;
    if (r->body.len + n > r->body_limit)
        return 0; /* curl stops with a write error */
    olive_strbuf_appendn(&r->body, data, n);
    return n;
}

void ohub_base_options(CURL *c, const char *errbuf)
{
    curl_easy_setopt(c, CURLOPT_USERAGENT, "libolive/" OLIVE_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer fails after a minute */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL);
}

int ohub_curl_start(void)
{
    OLIVE_TRY(ohub_curl_load());
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return olive_fail(OLIVE_EIO, "libcurl failed to start: %s", curl_easy_strerror(curl_init_rc));
    return OLIVE_OK;
}

#endif
