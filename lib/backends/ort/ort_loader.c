/* Finds and loads ONNX Runtime and ONNX Runtime GenAI (see ort_loader.h for the order). */
#include "backends/ort/ort_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"

extern char **environ;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static olive_ort ort_state;
static olive_ort_genai genai_state;
static oga_api genai_table;
/* Set (under load_lock) once a library is fully loaded; read without the lock afterwards. */
static const olive_ort *volatile ort_ready;
static const olive_ort_genai *volatile genai_ready;
static uint32_t requested_api_version;

/* The package folders of python3 on PATH, looked up once. */
static int python_asked;
static char *python_ort_dir, *python_genai_dir;
static char python_problem[512];

/* Asks python3 where its onnxruntime and onnxruntime_genai packages are. find_spec locates a
 * package without importing it, so this is quick and has no side effects. The child gets
 * /dev/null for stdin and stderr; its stdout comes back through a pipe. */
#define PYTHON_FIND_PACKAGES                                                                                           \
    "import importlib.util as u\n"                                                                                     \
    "for n in ('onnxruntime', 'onnxruntime_genai'):\n"                                                                 \
    "    try:\n"                                                                                                       \
    "        s = u.find_spec(n)\n"                                                                                     \
    "        print((s.submodule_search_locations or [''])[0] if s else '')\n"                                          \
    "    except Exception:\n"                                                                                          \
    "        print('')\n"

/* How long python3 may take to answer before it is stopped (a wedged interpreter must not
 * hang the caller forever). */
#define PYTHON_DEADLINE_MS 60000

static void ask_python(void)
{
    char *argv[] = {"python3", "-c", PYTHON_FIND_PACKAGES, NULL};
    char out[8192];
    size_t used = 0;
    int fds[2], status = 0, rc;
    pid_t pid;
    posix_spawn_file_actions_t actions;
    struct timespec start, now;

    /* An earlier answer that found nothing is asked again: PATH may have changed since. */
    python_asked = 1;
    python_problem[0] = '\0';
    free(python_ort_dir);
    free(python_genai_dir);
    python_ort_dir = python_genai_dir = NULL;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(python_problem, sizeof python_problem, "python3 on PATH: cannot create a pipe (%s)", strerror(errno));
        return;
    }
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    rc = posix_spawnp(&pid, "python3", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(python_problem, sizeof python_problem, "python3 on PATH: %s",
                 rc == ENOENT ? "no python3 on PATH" : strerror(rc));
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        long waited;
        ssize_t n;
        clock_gettime(CLOCK_MONOTONIC, &now);
        waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited >= PYTHON_DEADLINE_MS) {
            kill(pid, SIGKILL);
            snprintf(python_problem, sizeof python_problem, "python3 on PATH: no answer within %d s",
                     PYTHON_DEADLINE_MS / 1000);
            break;
        }
        rc = poll(&p, 1, (int)(PYTHON_DEADLINE_MS - waited));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            continue;
        n = read(fds[0], out + used, sizeof out - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        if (used == sizeof out - 1)
            break;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (python_problem[0])
        return;
    out[used] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(python_problem, sizeof python_problem, "python3 on PATH: the package lookup failed (exit status %d)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return;
    }
    char *line2 = strchr(out, '\n');
    if (!line2) {
        snprintf(python_problem, sizeof python_problem, "python3 on PATH: unexpected answer to the package lookup");
        return;
    }
    *line2++ = '\0';
    char *end = strchr(line2, '\n');
    if (end)
        *end = '\0';
    python_ort_dir = out[0] ? olive_strdup(out) : NULL;
    python_genai_dir = line2[0] ? olive_strdup(line2) : NULL;
}

/* The first file in `dir` whose name is `stem` or starts with "<stem>." (e.g.
 * libonnxruntime.so.1.32.0), in name order; owned by the caller, NULL if none. */
static char *find_library_in(const char *dir, const char *stem)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *best = NULL;
    size_t stem_len = strlen(stem);
    if (!d)
        return NULL;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, stem, stem_len) != 0 || (e->d_name[stem_len] && e->d_name[stem_len] != '.'))
            continue;
        if (!best || strcmp(e->d_name, best) < 0) {
            free(best);
            best = olive_strdup(e->d_name);
        }
    }
    closedir(d);
    if (!best)
        return NULL;
    char *path = olive_asprintf("%s/%s", dir, best);
    free(best);
    return path;
}

/* One candidate library tried: what happened, for the error that lists every place. */
static void note(olive_strbuf *tried, const char *fmt, const char *a, const char *b)
{
    if (tried->len)
        olive_strbuf_append(tried, "; ");
    olive_strbuf_printf(tried, fmt, a, b);
}

static const char *dl_error(void)
{
    const char *e = dlerror();
    return e ? e : "unknown error";
}

/* ---- ONNX Runtime ---- */

/* Opens the library at `path` (or a bare soname for the system loader) and fills ort_state.
 * OLIVE_ENOTFOUND when dlopen fails (the reason goes to `tried`), another code when the
 * library opened but cannot be used (error already set). */
static int open_ort(const char *path, const char *found_by, olive_strbuf *tried)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ort_get_api_base_fn get_base;
    const ort_api_base *base;
    const ort_api *api;
    const char *version;
    uint32_t want = requested_api_version ? requested_api_version : OLIVE_ORT_API_VERSION;
    OrtStatus *st;
    char **names = NULL;
    int count = 0;

    if (!h) {
        note(tried, "%s: %s", found_by, dl_error());
        return OLIVE_ENOTFOUND;
    }
    *(void **)&get_base = dlsym(h, "OrtGetApiBase");
    if (!get_base) {
        dlclose(h);
        return olive_fail(OLIVE_EUNSUPPORTED, "%s (found by %s) is not ONNX Runtime: it exports no OrtGetApiBase", path,
                          found_by);
    }
    /* ONNX Runtime is never unloaded once its code ran: it does not support that. */
    base = get_base();
    version = base && base->GetVersionString ? base->GetVersionString() : NULL;
    api = base && base->GetApi ? base->GetApi(want) : NULL;
    if (!api)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "ONNX Runtime %s at %s (found by %s) is too old: libolive needs C API version %u "
                          "(ONNX Runtime 1.%u or later), which this library does not provide",
                          version ? version : "(unknown version)", path, found_by, want, want);
    ort_state.api = api;
    ort_state.api_version = want;
    if ((st = api->CreateEnv(ORT_LOG_FATAL, "libolive", &ort_state.env)) != NULL)
        return olive_ort_fail(&ort_state, st, OLIVE_EUNSUPPORTED, "ONNX Runtime: creating the environment");
    if ((st = api->CreateCpuMemoryInfo(ORT_ALLOCATOR_DEVICE, ORT_MEM_DEFAULT, &ort_state.cpu_memory)) != NULL ||
        (st = api->GetAllocatorWithDefaultOptions(&ort_state.allocator)) != NULL ||
        (st = api->GetAvailableProviders(&names, &count)) != NULL) {
        /* The environment and memory description made so far stay: like the library, they
         * live as long as the process (a retry makes new ones; this path is exceptional). */
        int rc = olive_ort_fail(&ort_state, st, OLIVE_EUNSUPPORTED, "ONNX Runtime: initialising");
        memset(&ort_state, 0, sizeof ort_state);
        return rc;
    }
    ort_state.providers = olive_calloc(count > 0 ? (size_t)count : 1, sizeof *ort_state.providers);
    for (int i = 0; ort_state.providers && i < count; i++)
        if (!(ort_state.providers[ort_state.n_providers] = olive_strdup(names[i])))
            break;
        else
            ort_state.n_providers++;
    if ((st = api->ReleaseAvailableProviders(names, count)) != NULL)
        api->ReleaseStatus(st);
    ort_state.path = olive_strdup(path);
    ort_state.found_by = found_by;
    ort_state.version = olive_strdup(version ? version : "unknown");
    if (!ort_state.providers || ort_state.n_providers != (size_t)count || !ort_state.path || !ort_state.version)
        return olive_fail(OLIVE_ENOMEM, "out of memory loading ONNX Runtime");
    OLIVE_INFO("ONNX Runtime %s loaded from %s (%s)", ort_state.version, path, found_by);
    return OLIVE_OK;
}

static int lookup_ort(const char *explicit_path)
{
    olive_strbuf tried = {0};
    const char *env = getenv("OLIVE_ORT_LIBRARY");
    int rc;

    if (explicit_path) {
        rc = open_ort(explicit_path, "olive_runtime_load", &tried);
        if (rc == OLIVE_ENOTFOUND)
            olive_fail(OLIVE_ENOTFOUND, "ONNX Runtime could not be loaded from the path given: %s", tried.data);
        olive_strbuf_free(&tried);
        return rc;
    }
    if (env && env[0]) {
        rc = open_ort(env, "OLIVE_ORT_LIBRARY", &tried);
        if (rc == OLIVE_ENOTFOUND)
            olive_fail(OLIVE_ENOTFOUND,
                       "ONNX Runtime could not be loaded: OLIVE_ORT_LIBRARY=%s: %s (while OLIVE_ORT_LIBRARY is "
                       "set, the system loader path and python3's onnxruntime package are not searched)",
                       env, strchr(tried.data, ':') ? strchr(tried.data, ':') + 2 : tried.data);
        olive_strbuf_free(&tried);
        return rc;
    }
    note(&tried, "%s%s", "OLIVE_ORT_LIBRARY: not set", "");
    static const char *const sonames[] = {"libonnxruntime.so.1", "libonnxruntime.so"};
    for (size_t i = 0; i < sizeof sonames / sizeof sonames[0]; i++) {
        rc = open_ort(sonames[i], "system loader", &tried);
        if (rc != OLIVE_ENOTFOUND) {
            olive_strbuf_free(&tried);
            return rc;
        }
    }
    if (!python_asked || !python_ort_dir)
        ask_python();
    if (python_problem[0]) {
        note(&tried, "%s%s", python_problem, "");
    } else if (!python_ort_dir) {
        note(&tried, "%s%s", "python3 on PATH: no onnxruntime (or onnxruntime-gpu) package", "");
    } else {
        char *capi = olive_asprintf("%s/capi", python_ort_dir);
        char *lib = capi ? find_library_in(capi, "libonnxruntime.so") : NULL;
        if (!lib) {
            note(&tried, "python3's onnxruntime package: no libonnxruntime.so* in %s%s", capi ? capi : "", "");
        } else {
            rc = open_ort(lib, "python3 package", &tried);
            if (rc != OLIVE_ENOTFOUND) {
                free(capi);
                free(lib);
                olive_strbuf_free(&tried);
                return rc;
            }
        }
        free(capi);
        free(lib);
    }
    rc = olive_fail(OLIVE_ENOTFOUND,
                    "ONNX Runtime was not found (install the onnxruntime Python package, or set OLIVE_ORT_LIBRARY "
                    "to the path of libonnxruntime.so); looked at: %s",
                    tried.data ? tried.data : "nothing");
    olive_strbuf_free(&tried);
    return rc;
}

int olive_ort_load(const olive_ort **out, const char *path)
{
    int rc = OLIVE_OK;
    if (!out)
        return olive_fail(OLIVE_EINVALID, "olive_ort_load: out must not be NULL");
    pthread_mutex_lock(&load_lock);
    if (!ort_ready) {
        rc = lookup_ort(path);
        if (rc == OLIVE_OK)
            ort_ready = &ort_state;
    } else if (path && strcmp(path, ort_state.path) != 0) {
        char *want = realpath(path, NULL), *have = realpath(ort_state.path, NULL);
        if (!want || !have || strcmp(want, have) != 0)
            rc = olive_fail(OLIVE_EINVALID,
                            "ONNX Runtime is already loaded from %s; a process holds one ONNX Runtime, so %s "
                            "cannot be loaded too",
                            ort_state.path, path);
        free(want);
        free(have);
    }
    pthread_mutex_unlock(&load_lock);
    if (rc == OLIVE_OK)
        *out = ort_ready;
    return rc;
}

const olive_ort *olive_ort_loaded(void)
{
    return ort_ready;
}

int olive_ort_fail(const olive_ort *ort, OrtStatus *status, int code, const char *what)
{
    const char *msg = status && ort && ort->api ? ort->api->GetErrorMessage(status) : NULL;
    olive_fail(code, "%s: %s", what, msg && msg[0] ? msg : "ONNX Runtime gave no message");
    if (status && ort && ort->api)
        ort->api->ReleaseStatus(status);
    return code;
}

void olive_ort_test_request_api_version(uint32_t version)
{
    pthread_mutex_lock(&load_lock);
    requested_api_version = version;
    pthread_mutex_unlock(&load_lock);
}

/* ---- ONNX Runtime GenAI ---- */

static int open_genai(const char *path, const char *found_by, olive_strbuf *tried)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    oga_api t;
    if (!h) {
        note(tried, "%s: %s", found_by, dl_error());
        return OLIVE_ENOTFOUND;
    }
#define OLIVE_OGA_RESOLVE(ret, name, params) *(void **)&t.name = dlsym(h, #name);
    OLIVE_OGA_FUNCTIONS(OLIVE_OGA_RESOLVE)
#undef OLIVE_OGA_RESOLVE
#define OLIVE_OGA_REQUIRE(ret, name, params)                                                                           \
    if (!t.name && strcmp(#name, "OgaTokenizerApplyChatTemplate") != 0) {                                              \
        dlclose(h);                                                                                                    \
        return olive_fail(OLIVE_EUNSUPPORTED, "%s (found by %s) is not a usable ONNX Runtime GenAI: it exports no %s", \
                          path, found_by, #name);                                                                      \
    }
    OLIVE_OGA_FUNCTIONS(OLIVE_OGA_REQUIRE)
#undef OLIVE_OGA_REQUIRE
    genai_table = t;
    genai_state.api = &genai_table;
    genai_state.found_by = found_by;
    if (!(genai_state.path = olive_strdup(path)))
        return OLIVE_ENOMEM;
    OLIVE_INFO("ONNX Runtime GenAI loaded from %s (%s)", path, found_by);
    return OLIVE_OK;
}

static int lookup_genai(const char *explicit_path)
{
    olive_strbuf tried = {0};
    const char *env = getenv("OLIVE_ORT_GENAI_LIBRARY");
    int rc;
    if (explicit_path || (env && env[0])) {
        const char *by = explicit_path ? "olive_generator_new" : "OLIVE_ORT_GENAI_LIBRARY";
        rc = open_genai(explicit_path ? explicit_path : env, by, &tried);
        if (rc == OLIVE_ENOTFOUND)
            olive_fail(OLIVE_ENOTFOUND,
                       "ONNX Runtime GenAI could not be loaded: %s (a library named by the caller or by "
                       "OLIVE_ORT_GENAI_LIBRARY is the only place searched)",
                       tried.data);
        olive_strbuf_free(&tried);
        return rc;
    }
    note(&tried, "%s%s", "OLIVE_ORT_GENAI_LIBRARY: not set", "");
    rc = open_genai("libonnxruntime-genai.so", "system loader", &tried);
    if (rc != OLIVE_ENOTFOUND) {
        olive_strbuf_free(&tried);
        return rc;
    }
    if (!python_asked || !python_genai_dir)
        ask_python();
    if (python_problem[0]) {
        note(&tried, "%s%s", python_problem, "");
    } else if (!python_genai_dir) {
        note(&tried, "%s%s", "python3 on PATH: no onnxruntime-genai package", "");
    } else {
        char *lib = find_library_in(python_genai_dir, "libonnxruntime-genai.so");
        if (!lib) {
            note(&tried, "python3's onnxruntime_genai package: no libonnxruntime-genai.so in %s%s", python_genai_dir,
                 "");
        } else {
            rc = open_genai(lib, "python3 package", &tried);
            free(lib);
            if (rc != OLIVE_ENOTFOUND) {
                olive_strbuf_free(&tried);
                return rc;
            }
        }
    }
    rc = olive_fail(OLIVE_ENOTFOUND,
                    "ONNX Runtime GenAI was not found (install the onnxruntime-genai Python package, or set "
                    "OLIVE_ORT_GENAI_LIBRARY to the path of libonnxruntime-genai.so); looked at: %s",
                    tried.data ? tried.data : "nothing");
    olive_strbuf_free(&tried);
    return rc;
}

int olive_ort_genai_load(const olive_ort_genai **out, const char *path, const char *ort_path)
{
    const olive_ort *ort;
    int rc = OLIVE_OK;
    if (!out)
        return olive_fail(OLIVE_EINVALID, "olive_ort_genai_load: out must not be NULL");
    /* GenAI runs on ONNX Runtime and opens it by its soname, which finds the one loaded here. */
    OLIVE_TRY(olive_ort_load(&ort, ort_path));
    pthread_mutex_lock(&load_lock);
    if (!genai_ready) {
        rc = lookup_genai(path);
        if (rc == OLIVE_OK)
            genai_ready = &genai_state;
    } else if (path && strcmp(path, genai_state.path) != 0) {
        rc = olive_fail(OLIVE_EINVALID, "ONNX Runtime GenAI is already loaded from %s; %s cannot be loaded too",
                        genai_state.path, path);
    }
    pthread_mutex_unlock(&load_lock);
    if (rc == OLIVE_OK)
        *out = genai_ready;
    return rc;
}

const olive_ort_genai *olive_ort_genai_loaded(void)
{
    return genai_ready;
}
