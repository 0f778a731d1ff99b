/* What the Hub's clients share: the environment (offline switches, token) and, with libcurl, one
 * HTTP reply's headers and body as the Hub's file API and the dataset viewer answer them. */
#ifndef OLIVE_FORMATS_HUB_HTTP_H
#define OLIVE_FORMATS_HUB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/alloc.h"

/* 1 when the variable is set to 1, on, yes or true (any case). */
int ohub_env_true(const char *name);

/* The access token: $HF_TOKEN, else the first word of the token file ($HF_TOKEN_PATH, else
 * $HF_HOME/token, else ~/.cache/huggingface/token); NULL when there is none. Caller frees. */
char *ohub_read_token(void);

/* The host[:port] of an endpoint URL ("https://host:port/path" -> "host:port"). Caller frees. */
char *ohub_endpoint_host(const char *endpoint);

#ifdef OHUB_HAVE_CURL
#include "formats/hub/curl_dl.h"

/* One response: status, the Hub's headers, and the body (up to body_limit bytes). */
typedef struct ohub_reply {
    long status;
    char *commit, *etag, *linked_etag, *location, *error_code, *error_message;
    uint64_t size, linked_size;
    int has_size, has_linked_size;
    olive_strbuf body;
    size_t body_limit;
} ohub_reply;

void ohub_reply_clear(ohub_reply *r);
/* CURLOPT_HEADERFUNCTION / CURLOPT_WRITEFUNCTION callbacks filling an ohub_reply (the user
 * pointer); a body past body_limit stops the transfer with a write error. */
size_t ohub_on_header(char *line, size_t size, size_t count, void *user);
size_t ohub_on_body(char *data, size_t size, size_t count, void *user);
/* User agent, timeouts (30 s to connect, a minute stalled), error buffer, no compression. */
void ohub_base_options(CURL *c, const char *errbuf);
/* Loads libcurl and runs its global start-up once per process. Errors: OLIVE_EUNSUPPORTED
 * (no libcurl), OLIVE_EIO (start-up failed). */
int ohub_curl_start(void);
#endif

#endif
