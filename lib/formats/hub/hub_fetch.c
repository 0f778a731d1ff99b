/* Downloads from the Hugging Face Hub with libcurl, following the Hub's file protocol:
 *   GET  {endpoint}/api/models/{repo}/revision/{revision}   -> {"sha": commit, "siblings": [...]}
 *   HEAD {endpoint}/{repo}/resolve/{commit}/{file}          -> X-Repo-Commit, X-Linked-Etag or
 *        ETag (the blob's name: sha256 for LFS files), X-Linked-Size or Content-Length, and for
 *        LFS files a redirect (Location) to where the bytes are served
 *   GET  that location, with "Range: bytes=N-" to resume blobs/<etag>.incomplete.
 * Errors carry the Hub's X-Error-Code (RepoNotFound, GatedRepo, EntryNotFound, ...). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "olive/version.h"

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/status.h"
#include "formats/hub/hub.h"
#include "formats/hub/hub_http.h"
#include "formats/hub/hub_internal.h"

#ifndef OHUB_HAVE_CURL

int ohub_fetch(char **out, const ohub_ref *ref)
{
    char *cache;
    if (ohub_cache_lookup(out, ref) == OLIVE_OK)
        return OLIVE_OK;
    cache = ohub_cache_dir();
    int rc = olive_fail(ohub_env_true("HF_HUB_OFFLINE") ? OLIVE_ENOTFOUND : OLIVE_EUNSUPPORTED,
                        "'%s' (revision %s) is not in the Hugging Face cache %s, and this libolive was built "
                        "without libcurl: download it with huggingface_hub first",
                        ref->repo, ref->revision, cache ? cache : "(no HOME)");
    free(cache);
    return rc;
}

#else

#include <pthread.h>

#define MAX_PARALLEL 8
#define API_MAX_BYTES (16u << 20)

typedef struct hub {
    const ohub_ref *ref;
    char *endpoint, *host, *token, *repo_dir;
    struct curl_slist *headers;     /* sent to the endpoint */
    struct curl_slist *cdn_headers; /* sent elsewhere: no token */
    CURL *easy;                     /* API and HEAD requests, one kept-alive connection */
} hub;

/* The Hub's error for a request, named the way a user can act on it. */
static int http_error(const hub *h, const ohub_reply *r, const char *file)
{
    const char *repo = h->ref->repo, *rev = h->ref->revision;
    const char *msg = r->error_message ? r->error_message : "";
    const char *code = r->error_code ? r->error_code : "";
    if (r->status == 401 || r->status == 403 || !strcmp(code, "GatedRepo")) {
        if (!strcmp(code, "RepoNotFound"))
            return olive_fail(OLIVE_ENOTFOUND, "repository '%s' not found on %s (HTTP %ld)%s", repo, h->endpoint,
                              r->status, h->token ? "" : "; if it is private, set HF_TOKEN");
        return olive_fail(OLIVE_EINVALID,
                          "access to '%s' refused by %s (HTTP %ld%s%s): the repository is gated or private; %s", repo,
                          h->host, r->status, msg[0] ? ": " : "", msg,
                          h->token ? "the token given (HF_TOKEN or the token file) has no access: accept the "
                                     "model's terms on its page with that account"
                                   : "accept its terms on the model's page and set HF_TOKEN (or the token file "
                                     "$HF_HOME/token) to an access token");
    }
    if (r->status == 404) {
        if (!strcmp(code, "RevisionNotFound"))
            return olive_fail(OLIVE_ENOTFOUND, "revision '%s' not found in '%s' on %s", rev, repo, h->endpoint);
        if (file && strcmp(code, "RepoNotFound"))
            return olive_fail(OLIVE_ENOTFOUND, "file '%s' not found in '%s' at revision '%s' on %s (HTTP 404)", file,
                              repo, rev, h->endpoint);
        return olive_fail(OLIVE_ENOTFOUND, "repository '%s' (revision '%s') not found on %s (HTTP 404)", repo, rev,
                          h->endpoint);
    }
    return olive_fail(OLIVE_EIO, "%s answered HTTP %ld for %s%s%s%s%s", h->host, r->status, repo, file ? "/" : "",
                      file ? file : "", msg[0] ? ": " : "", msg);
}

static int net_error(const hub *h, CURLcode cc, const char *errbuf, const char *what)
{
    return olive_fail(OLIVE_EIO, "cannot reach %s for %s: %s (endpoint %s; set HF_HUB_OFFLINE=1 to use only the cache)",
                      h->host, what, errbuf[0] ? errbuf : curl_easy_strerror(cc), h->endpoint);
}

/* One request on the shared handle; `nobody` for HEAD. Fills *r; HTTP errors are the caller's. */
static int request(hub *h, ohub_reply *r, const char *url, int nobody, const char *what)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode cc;
    curl_easy_reset(h->easy);
    ohub_base_options(h->easy, errbuf);
    curl_easy_setopt(h->easy, CURLOPT_URL, url);
    curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, ohub_on_header);
    curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, ohub_on_body);
    curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h->easy, CURLOPT_NOBODY, (long)nobody);
    r->body_limit = API_MAX_BYTES;
    if ((cc = curl_easy_perform(h->easy)) != CURLE_OK)
        return net_error(h, cc, errbuf, what);
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &r->status);
    return OLIVE_OK;
}

/* Escapes each path segment of `s`, keeping the slashes. */
static char *escape_path(CURL *c, const char *s)
{
    olive_strbuf b = {0};
    while (*s) {
        size_t n = strcspn(s, "/");
        char *seg = curl_easy_escape(c, s, (int)n);
        if (!seg) {
            olive_strbuf_free(&b);
            return NULL;
        }
        olive_strbuf_append(&b, seg);
        curl_free(seg);
        s += n;
        if (*s == '/') {
            olive_strbuf_append(&b, "/");
            s++;
        }
    }
    return olive_strbuf_take(&b);
}

/* --- one file to fetch --- */

/* The sha256 of a blob is computed by a thread of its own that reads the .incomplete file behind
 * the writer (from the page cache): hashing then overlaps the transfer instead of adding to it,
 * and a resumed file's first part is hashed while the rest arrives. */
typedef struct hasher {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;         /* a read-only descriptor of the file */
    uint64_t ready; /* bytes in the file (the writer's count, under mu) */
    uint64_t unfed; /* bytes written but not yet handed over (the writer's own) */
    uint64_t done;  /* bytes hashed (the thread's; read after it is joined) */
    int closing;    /* under mu: no more bytes will come */
    int running, failed;
    olive_sha256 sha;
} hasher;

static void *hasher_main(void *arg)
{
    hasher *hs = arg;
    const size_t cap = 1 << 18;
    char *buf = malloc(cap);
    if (!buf) {
        hs->failed = 1;
        return NULL;
    }
    for (;;) {
        uint64_t target;
        int closing;
        pthread_mutex_lock(&hs->mu);
        while (hs->done == hs->ready && !hs->closing)
            pthread_cond_wait(&hs->cv, &hs->mu);
        target = hs->ready;
        closing = hs->closing;
        pthread_mutex_unlock(&hs->mu);
        while (hs->done < target) {
            size_t want = target - hs->done < cap ? (size_t)(target - hs->done) : cap;
            ssize_t n = pread(hs->fd, buf, want, (off_t)hs->done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                hs->failed = 1;
                free(buf);
                return NULL;
            }
            olive_sha256_update(&hs->sha, buf, (size_t)n);
            hs->done += (uint64_t)n;
        }
        if (closing) {
            free(buf);
            return NULL;
        }
    }
}

/* Starts hashing `path`, of which `ready` bytes are written already. */
static int hasher_start(hasher *hs, const char *path, uint64_t ready)
{
    memset(hs, 0, sizeof(*hs));
    olive_sha256_init(&hs->sha);
    hs->ready = ready;
    if ((hs->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return olive_fail_errno(errno, "cannot read back", path);
    pthread_mutex_init(&hs->mu, NULL);
    pthread_cond_init(&hs->cv, NULL);
    if (pthread_create(&hs->thread, NULL, hasher_main, hs) != 0) {
        pthread_mutex_destroy(&hs->mu);
        pthread_cond_destroy(&hs->cv);
        close(hs->fd);
        return olive_fail(OLIVE_ENOMEM, "cannot start a thread to hash %s", path);
    }
    hs->running = 1;
    return OLIVE_OK;
}

/* Hands over written bytes a MiB at a time: libcurl passes 16 KiB per call, and waking the
 * thread for each would cost more in switches than the hashing gains by overlapping. */
#define HASHER_STEP (1u << 20)

static void hasher_hand_over(hasher *hs)
{
    pthread_mutex_lock(&hs->mu);
    hs->ready += hs->unfed;
    hs->unfed = 0;
    pthread_cond_signal(&hs->cv);
    pthread_mutex_unlock(&hs->mu);
}

static void hasher_feed(hasher *hs, uint64_t n)
{
    hs->unfed += n;
    if (hs->unfed >= HASHER_STEP)
        hasher_hand_over(hs);
}

/* Waits for the thread to hash everything fed so far; accepts a hasher never started. */
static void hasher_stop(hasher *hs)
{
    if (!hs->running)
        return;
    pthread_mutex_lock(&hs->mu);
    hs->ready += hs->unfed;
    hs->unfed = 0;
    hs->closing = 1;
    pthread_cond_signal(&hs->cv);
    pthread_mutex_unlock(&hs->mu);
    pthread_join(hs->thread, NULL);
    pthread_mutex_destroy(&hs->mu);
    pthread_cond_destroy(&hs->cv);
    close(hs->fd);
    hs->running = 0;
}

typedef struct item {
    char *file, *etag, *url, *blob, *partial;
    uint64_t size, have;
    int lfs, fd, started, wanted;
    hasher hs; /* LFS files: their sha256 */
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *range;
    ohub_progress *progress;
} item;

static void item_clear(item *it)
{
    hasher_stop(&it->hs);
    if (it->fd >= 0)
        close(it->fd);
    if (it->easy)
        curl_easy_cleanup(it->easy);
    curl_slist_free_all(it->range);
    free(it->file);
    free(it->etag);
    free(it->url);
    free(it->blob);
    free(it->partial);
}

static int is_sha256(const char *s)
{
    size_t n = strlen(s);
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", s[i]))
            return 0;
    return 1;
}

/* HEAD on the file: its blob name, size and where its bytes are. */
static int describe(hub *h, item *it, const char *commit)
{
    ohub_reply r = {0};
    char *path = escape_path(h->easy, it->file), *url;
    int rc;
    if (!path || !(url = olive_asprintf("%s/%s/resolve/%s/%s", h->endpoint, h->ref->repo, commit, path))) {
        free(path);
        return OLIVE_ENOMEM;
    }
    free(path);
    rc = request(h, &r, url, 1, it->file);
    if (rc == OLIVE_OK && (r.status < 200 || r.status >= 400))
        rc = http_error(h, &r, it->file);
    const char *etag = r.linked_etag ? r.linked_etag : r.etag;
    if (rc == OLIVE_OK && (!etag || !etag[0] || strchr(etag, '/') || etag[0] == '.'))
        rc = olive_fail(OLIVE_EFORMAT, "%s sent no usable ETag for %s/%s: cannot name it in the cache", h->host,
                        h->ref->repo, it->file);
    if (rc == OLIVE_OK && r.commit && strcmp(r.commit, commit))
        rc = olive_fail(OLIVE_EFORMAT, "%s served %s/%s from commit %s, not %s", h->host, h->ref->repo, it->file,
                        r.commit, commit);
    if (rc == OLIVE_OK) {
        it->etag = olive_strdup(etag);
        it->lfs = is_sha256(etag);
        it->size = r.has_linked_size ? r.linked_size : r.size;
        if (r.location &&
            (r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308)) {
            if (r.location[0] == '/')
                it->url = olive_asprintf("%s%s", h->endpoint, r.location);
            else
                it->url = olive_strdup(r.location);
            free(url);
        } else {
            it->url = url;
        }
        url = NULL;
        it->blob = olive_asprintf("%s/blobs/%s", h->repo_dir, it->etag);
        it->partial = olive_asprintf("%s/blobs/%s.incomplete", h->repo_dir, it->etag);
        if (!it->etag || !it->url || !it->blob || !it->partial)
            rc = OLIVE_ENOMEM;
    }
    free(url);
    ohub_reply_clear(&r);
    return rc;
}

static size_t on_blob(char *data, size_t size, size_t count, void *user)
{
    item *it = user;
    size_t n = size * count;
    long status = 0;
    if (!it->started) {
        it->started = 1;
        curl_easy_getinfo(it->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200 && it->have) { /* the server ignored the range: start again */
            hasher_stop(&it->hs);
            if (ftruncate(it->fd, 0) != 0 || lseek(it->fd, 0, SEEK_SET) != 0)
                return 0;
            it->have = 0;
            if (it->lfs && hasher_start(&it->hs, it->partial, 0) != OLIVE_OK)
                return 0;
        } else if (status != 200 && status != 206) {
            return n; /* an error page: not written */
        }
    }
    curl_easy_getinfo(it->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200 && status != 206)
        return n;
    if (it->size && it->have + n > it->size)
        return 0; /* more bytes than the Hub announced */
    for (size_t off = 0; off < n;) {
        ssize_t w = write(it->fd, data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        off += (size_t)w;
    }
    if (it->lfs)
        hasher_feed(&it->hs, n);
    it->have += n;
    ohub_progress_add(it->progress, n);
    return n;
}

/* Opens blobs/<etag>.incomplete for appending; what an earlier run left there is kept (and
 * hashed first). */
static int open_partial(hub *h, item *it)
{
    struct stat st;
    it->fd = open(it->partial, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (it->fd < 0 || fstat(it->fd, &st) != 0)
        return olive_fail_errno(errno, "cannot write to the Hugging Face cache", it->partial);
    /* one writer per blob: another process fetching the same file is waited for by no one */
    if (flock(it->fd, LOCK_EX | LOCK_NB) != 0)
        return olive_fail(OLIVE_EIO, "%s is being downloaded by another process (%s): run again once it is done",
                          it->partial, strerror(errno));
    it->have = (uint64_t)st.st_size;
    if (it->size && it->have > it->size)
        it->have = 0;
    /* Truncated only when there is something to cut: on ext4 a truncate to zero, even of an
     * empty file, marks it to be flushed when it is closed (auto_da_alloc): the close after the
     * download then allocated and queued the write-back of the whole blob (0.3 s per 500 MB). */
    if (((uint64_t)st.st_size != it->have && ftruncate(it->fd, (off_t)it->have) != 0) ||
        lseek(it->fd, (off_t)it->have, SEEK_SET) < 0)
        return olive_fail_errno(errno, "cannot write to the Hugging Face cache", it->partial);
    if (it->have)
        OLIVE_INFO("resuming %s/%s at byte %llu", h->ref->repo, it->file, (unsigned long long)it->have);
    return it->lfs ? hasher_start(&it->hs, it->partial, it->have) : OLIVE_OK;
}

static int start(hub *h, CURLM *multi, item *it)
{
    char range[48];
    OLIVE_TRY(open_partial(h, it));
    if (!(it->easy = curl_easy_init()))
        return OLIVE_ENOMEM;
    ohub_base_options(it->easy, it->errbuf);
    curl_easy_setopt(it->easy, CURLOPT_URL, it->url);
    curl_easy_setopt(it->easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(it->easy, CURLOPT_BUFFERSIZE, 512L * 1024); /* fewer, larger writes */
    curl_easy_setopt(it->easy, CURLOPT_WRITEFUNCTION, on_blob);
    curl_easy_setopt(it->easy, CURLOPT_WRITEDATA, it);
    curl_easy_setopt(it->easy, CURLOPT_PRIVATE, it);
    /* the token goes to the endpoint only, never to the host a blob redirect names */
    struct curl_slist *base = !strncmp(it->url, h->endpoint, strlen(h->endpoint)) ? h->headers : h->cdn_headers;
    for (struct curl_slist *s = base; s; s = s->next)
        it->range = curl_slist_append(it->range, s->data);
    if (it->have) {
        snprintf(range, sizeof range, "Range: bytes=%llu-", (unsigned long long)it->have);
        it->range = curl_slist_append(it->range, range);
    }
    curl_easy_setopt(it->easy, CURLOPT_HTTPHEADER, it->range);
    if (curl_multi_add_handle(multi, it->easy) != CURLM_OK)
        return olive_fail(OLIVE_EIO, "cannot start the download of %s", it->file);
    return OLIVE_OK;
}

/* Checks a finished transfer against what the Hub announced and moves it to its blob name. */
static int finish(hub *h, item *it, CURLcode cc)
{
    long status = 0;
    char hex[OLIVE_SHA256_HEX];
    curl_easy_getinfo(it->easy, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK && status >= 200 && status < 300) {
        if (cc == CURLE_WRITE_ERROR && it->size && it->have >= it->size) {
            unlink(it->partial);
            return olive_fail(OLIVE_EFORMAT, "%s sent more than the %llu bytes it announced for %s/%s: not kept",
                              h->host, (unsigned long long)it->size, h->ref->repo, it->file);
        }
        return olive_fail(OLIVE_EIO,
                          "download of %s/%s from %s stopped after %llu of %llu bytes: %s (run again to "
                          "resume)",
                          h->ref->repo, it->file, h->host, (unsigned long long)it->have, (unsigned long long)it->size,
                          it->errbuf[0] ? it->errbuf : curl_easy_strerror(cc));
    }
    if (cc != CURLE_OK)
        return net_error(h, cc, it->errbuf, it->file);
    if (status == 416 && it->size && it->have == it->size)
        status = 206; /* everything was already there */
    if (status != 200 && status != 206) {
        ohub_reply r = {.status = status};
        return http_error(h, &r, it->file);
    }
    if (it->size && it->have != it->size)
        return olive_fail(OLIVE_EIO, "download of %s/%s from %s ended after %llu of %llu bytes (run again to resume)",
                          h->ref->repo, it->file, h->host, (unsigned long long)it->have, (unsigned long long)it->size);
    if (it->lfs) {
        hasher_stop(&it->hs);
        if (it->hs.failed || it->hs.done != it->have)
            return olive_fail(OLIVE_EIO, "cannot read back %s to check its sha256", it->partial);
        olive_sha256_final_hex(&it->hs.sha, hex);
        if (strcmp(hex, it->etag)) {
            unlink(it->partial);
            return olive_fail(OLIVE_EFORMAT,
                              "%s/%s from %s is corrupt: its sha256 is %s, the Hub announced %s; "
                              "nothing kept in the cache",
                              h->ref->repo, it->file, h->host, hex, it->etag);
        }
    }
    if (rename(it->partial, it->blob) != 0)
        return olive_fail_errno(errno, "cannot write to the Hugging Face cache", it->blob);
    ohub_progress_file_done(it->progress, it->file, it->have);
    return OLIVE_OK;
}

/* snapshots/<commit>/<file> -> ../../blobs/<etag>, relative, replaced atomically. */
static int link_file(hub *h, const char *commit, const char *file, const char *etag)
{
    olive_strbuf target = {0};
    char *link = olive_asprintf("%s/snapshots/%s/%s", h->repo_dir, commit, file), *dir, *tmp;
    int rc = OLIVE_OK;
    if (!link)
        return OLIVE_ENOMEM;
    olive_strbuf_append(&target, "../../");
    for (const char *s = file; (s = strchr(s, '/')); s++)
        olive_strbuf_append(&target, "../");
    olive_strbuf_printf(&target, "blobs/%s", etag);
    dir = olive_path_dirname(link);
    tmp = olive_asprintf("%s.olive-link.%ld", link, (long)getpid());
    if (!target.data || !dir || !tmp)
        rc = OLIVE_ENOMEM;
    else if (olive_mkdir_p(dir) != OLIVE_OK)
        rc = olive_error_code();
    else {
        unlink(tmp);
        if (symlink(target.data, tmp) != 0 || rename(tmp, link) != 0) {
            rc = olive_fail_errno(errno, "cannot link into the Hugging Face cache", link);
            unlink(tmp);
        }
    }
    free(tmp);
    free(dir);
    free(link);
    olive_strbuf_free(&target);
    return rc;
}

/* Makes `files` present in snapshots/<commit>: described one by one, fetched concurrently. */
static int fetch_files(hub *h, const char *commit, char **files, size_t n)
{
    item *items = olive_calloc(n ? n : 1, sizeof(*items));
    ohub_progress progress;
    CURLM *multi = NULL;
    uint64_t total = 0;
    size_t next = 0, running_count = 0, todo = 0;
    int rc = OLIVE_OK;
    struct stat st;
    if (!items)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        items[i].fd = -1;
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        items[i].progress = &progress;
        if (!(items[i].file = olive_strdup(files[i])))
            rc = OLIVE_ENOMEM;
        else
            rc = describe(h, &items[i], commit);
        if (rc == OLIVE_OK && stat(items[i].blob, &st) != 0) {
            total += items[i].size;
            todo++;
        }
    }
    if (rc == OLIVE_OK && todo) {
        char *blobs = olive_asprintf("%s/blobs", h->repo_dir);
        rc = !blobs ? OLIVE_ENOMEM : olive_mkdir_p(blobs);
        free(blobs);
    }
    if (rc == OLIVE_OK && todo && !(multi = curl_multi_init()))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK && todo) {
        ohub_progress_start(&progress, h->ref->repo, total, todo);
        for (size_t i = 0; i < n; i++)
            items[i].wanted = stat(items[i].blob, &st) != 0;
        int still = 0;
        for (;;) {
            while (rc == OLIVE_OK && running_count < MAX_PARALLEL && next < n) {
                item *it = &items[next++];
                if (!it->wanted)
                    continue;
                if ((rc = start(h, multi, it)) == OLIVE_OK)
                    running_count++;
            }
            if (running_count == 0)
                break;
            if (curl_multi_perform(multi, &still) != CURLM_OK && rc == OLIVE_OK)
                rc = olive_fail(OLIVE_EIO, "download from %s failed", h->host);
            CURLMsg *msg;
            int left;
            while ((msg = curl_multi_info_read(multi, &left))) {
                item *it = NULL;
                if (msg->msg != CURLMSG_DONE)
                    continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&it);
                int frc = finish(h, it, msg->data.result);
                curl_multi_remove_handle(multi, it->easy);
                close(it->fd);
                it->fd = -1;
                running_count--;
                if (frc != OLIVE_OK && rc == OLIVE_OK) {
                    rc = frc;
                    next = n; /* start nothing more; what runs ends, kept for resuming */
                }
            }
            if (running_count && curl_multi_poll(multi, NULL, 0, 200, NULL) != CURLM_OK && rc == OLIVE_OK)
                rc = olive_fail(OLIVE_EIO, "download from %s failed", h->host);
            if (rc != OLIVE_OK) {
                /* stop the transfers still running; their .incomplete files stay for a resume */
                for (size_t i = 0; i < n; i++)
                    if (items[i].easy && items[i].fd >= 0) {
                        curl_multi_remove_handle(multi, items[i].easy);
                        close(items[i].fd);
                        items[i].fd = -1;
                    }
                break;
            }
        }
        ohub_progress_end(&progress, rc == OLIVE_OK);
    }
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++)
        rc = link_file(h, commit, items[i].file, items[i].etag);
    for (size_t i = 0; i < n; i++)
        item_clear(&items[i]);
    free(items);
    if (multi)
        curl_multi_cleanup(multi);
    return rc;
}

/* --- the revision and the files a conversion needs --- */

static const char *const wanted_files[] = {"config.json",
                                           "generation_config.json",
                                           "tokenizer.json",
                                           "tokenizer_config.json",
                                           "special_tokens_map.json",
                                           "tokenizer.model",
                                           "vocab.json",
                                           "merges.txt",
                                           "added_tokens.json",
                                           "chat_template.jinja",
                                           "chat_template.json",
                                           "preprocessor_config.json",
                                           NULL};

static int has_sibling(json_t *siblings, const char *name)
{
    size_t i;
    json_t *s;
    json_array_foreach(siblings, i, s)
    {
        const char *f = json_string_value(json_object_get(s, "rfilename"));
        if (f && !strcmp(f, name))
            return 1;
    }
    return 0;
}

static int resolve_revision(hub *h, char **commit, json_t **siblings)
{
    ohub_reply r = {0};
    json_error_t jerr;
    json_t *root = NULL;
    char *rev = curl_easy_escape(h->easy, h->ref->revision, 0);
    char *url = rev ? olive_asprintf("%s/api/models/%s/revision/%s", h->endpoint, h->ref->repo, rev) : NULL;
    int rc = url ? request(h, &r, url, 0, h->ref->repo) : OLIVE_ENOMEM;
    curl_free(rev);
    free(url);
    if (rc == OLIVE_OK && r.status != 200)
        rc = http_error(h, &r, NULL);
    if (rc == OLIVE_OK) {
        const char *sha;
        root = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
        sha = root ? json_string_value(json_object_get(root, "sha")) : NULL;
        if (!sha || !ohub_is_commit(sha) || !json_is_array(json_object_get(root, "siblings")))
            rc = olive_fail(OLIVE_EFORMAT, "%s answered the revision query for '%s' without a commit and file list",
                            h->host, h->ref->repo);
        else if (!(*commit = olive_strdup(sha)))
            rc = OLIVE_ENOMEM;
        else
            *siblings = json_incref(json_object_get(root, "siblings"));
    }
    json_decref(root);
    ohub_reply_clear(&r);
    return rc;
}

static int write_ref(hub *h, const char *commit)
{
    char *dir, *path;
    int rc;
    if (!strcmp(h->ref->revision, commit))
        return OLIVE_OK;
    dir = olive_asprintf("%s/refs", h->repo_dir);
    path = dir ? olive_path_join(dir, h->ref->revision) : NULL;
    if (!path)
        rc = OLIVE_ENOMEM;
    else if ((rc = olive_mkdir_p(dir)) == OLIVE_OK)
        rc = olive_write_file(path, commit, strlen(commit));
    free(path);
    free(dir);
    return rc;
}

static int fetch_checkpoint(hub *h, const char *commit, json_t *siblings)
{
    char *list[32], **shards = NULL, *index_path = NULL;
    size_t n = 0, nshards = 0;
    const char *index = NULL;
    int rc;
    if (!has_sibling(siblings, "config.json"))
        return olive_fail(OLIVE_ENOTFOUND,
                          "'%s' at revision '%s' has no config.json: not a transformers checkpoint "
                          "(name a .gguf file in it as org/name/file.gguf)",
                          h->ref->repo, h->ref->revision);
    for (const char *const *f = wanted_files; *f; f++)
        if (has_sibling(siblings, *f))
            list[n++] = (char *)*f;
    const char *single = NULL;
    for (size_t w = 0; ohub_weight_indexes[w] && !index && !single; w++) {
        if (has_sibling(siblings, ohub_weight_indexes[w]))
            index = ohub_weight_indexes[w];
        else if (has_sibling(siblings, ohub_weight_files[w]))
            single = ohub_weight_files[w];
    }
    if (index || single)
        list[n++] = (char *)(index ? index : single);
    else
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "'%s' at revision '%s' has no model.safetensors (nor an index of "
                          "shards, nor pytorch_model.bin)",
                          h->ref->repo, h->ref->revision);
    OLIVE_TRY(fetch_files(h, commit, list, n));
    if (!index)
        return OLIVE_OK;
    if (!(index_path = olive_asprintf("%s/snapshots/%s/%s", h->repo_dir, commit, index)))
        return OLIVE_ENOMEM;
    rc = ohub_index_shards(index_path, &shards, &nshards);
    free(index_path);
    if (rc != OLIVE_OK)
        return rc;
    for (size_t i = 0; i < nshards && rc == OLIVE_OK; i++)
        if (!has_sibling(siblings, shards[i]))
            rc = olive_fail(OLIVE_ENOTFOUND, "'%s' names shard '%s', which is not in '%s' at revision '%s'", index,
                            shards[i], h->ref->repo, h->ref->revision);
    if (rc == OLIVE_OK)
        rc = fetch_files(h, commit, shards, nshards);
    for (size_t i = 0; i < nshards; i++)
        free(shards[i]);
    free(shards);
    return rc;
}

static void hub_clear(hub *h)
{
    curl_slist_free_all(h->headers);
    curl_slist_free_all(h->cdn_headers);
    if (h->easy)
        curl_easy_cleanup(h->easy);
    free(h->endpoint);
    free(h->host);
    free(h->token);
    free(h->repo_dir);
}

static int hub_open(hub *h, const ohub_ref *ref, const char *cache)
{
    const char *ep = getenv("HF_ENDPOINT");
    memset(h, 0, sizeof(*h));
    h->ref = ref;
    if (!ep || !ep[0])
        ep = "https://huggingface.co";
    if (!(h->endpoint = olive_strdup(ep)))
        return OLIVE_ENOMEM;
    for (size_t n = strlen(h->endpoint); n && h->endpoint[n - 1] == '/'; n--)
        h->endpoint[n - 1] = '\0';
    h->host = ohub_endpoint_host(h->endpoint);
    h->token = ohub_read_token();
    h->repo_dir = ohub_repo_dir(cache, ref->repo);
    if (!h->host || !h->repo_dir || !(h->easy = curl_easy_init()))
        return OLIVE_ENOMEM;
    if (h->token) {
        char *auth = olive_asprintf("Authorization: Bearer %s", h->token);
        if (!auth)
            return OLIVE_ENOMEM;
        h->headers = curl_slist_append(h->headers, auth);
        free(auth);
    }
    h->headers = curl_slist_append(h->headers, "Accept-Encoding: identity");
    h->cdn_headers = curl_slist_append(h->cdn_headers, "Accept-Encoding: identity");
    return h->headers && h->cdn_headers ? OLIVE_OK : OLIVE_ENOMEM;
}

int ohub_fetch(char **out, const ohub_ref *ref)
{
    hub h;
    char *cache, *commit = NULL;
    json_t *siblings = NULL;
    int rc;
    if (ohub_cache_lookup(out, ref) == OLIVE_OK)
        return OLIVE_OK;
    if (!(cache = ohub_cache_dir()))
        return olive_fail(OLIVE_EINVALID, "no Hugging Face cache folder: set HF_HOME or HF_HUB_CACHE");
    if (ohub_env_true("HF_HUB_OFFLINE")) {
        rc = olive_fail(OLIVE_ENOTFOUND,
                        "'%s' (revision '%s'%s%s) is not in the Hugging Face cache %s and "
                        "HF_HUB_OFFLINE is set: nothing is downloaded",
                        ref->repo, ref->revision, ref->file ? ", file " : "", ref->file ? ref->file : "", cache);
        free(cache);
        return rc;
    }
    if ((rc = ohub_curl_start()) != OLIVE_OK) {
        free(cache);
        return rc;
    }
    rc = hub_open(&h, ref, cache);
    free(cache);
    if (rc == OLIVE_OK)
        rc = resolve_revision(&h, &commit, &siblings);
    if (rc == OLIVE_OK && ohub_snapshot_ready(out, h.repo_dir, commit, ref->file) == OLIVE_OK) {
        rc = write_ref(&h, commit);
        if (rc != OLIVE_OK) {
            free(*out);
            *out = NULL;
        }
    } else if (rc == OLIVE_OK) {
        if (ref->file) {
            char *one = ref->file;
            rc = has_sibling(siblings, ref->file)
                     ? fetch_files(&h, commit, &one, 1)
                     : olive_fail(OLIVE_ENOTFOUND, "file '%s' not found in '%s' at revision '%s' on %s", ref->file,
                                  ref->repo, ref->revision, h.endpoint);
        } else {
            rc = fetch_checkpoint(&h, commit, siblings);
        }
        if (rc == OLIVE_OK)
            rc = write_ref(&h, commit);
        if (rc == OLIVE_OK && ohub_snapshot_ready(out, h.repo_dir, commit, ref->file) != OLIVE_OK)
            rc = olive_fail(OLIVE_EINTERNAL, "'%s' was downloaded but its snapshot is incomplete", ref->repo);
    }
    json_decref(siblings);
    free(commit);
    hub_clear(&h);
    return rc;
}

#endif
