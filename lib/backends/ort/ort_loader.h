/* Finding and loading ONNX Runtime and ONNX Runtime GenAI at run time.
 *
 * Neither library is a build or link dependency: each is dlopen'ed the first time a session or
 * generator is asked for. The lookup order is the same for both:
 *   1. a path named by the caller (olive_runtime_load, the `ort_library` session option, the
 *      CLI's flag);
 *   2. the environment: OLIVE_ORT_LIBRARY / OLIVE_ORT_GENAI_LIBRARY (a path to the .so);
 *   3. the system loader path (libonnxruntime.so.1, libonnxruntime.so / libonnxruntime-genai.so);
 *   4. the onnxruntime (or onnxruntime-gpu) / onnxruntime-genai Python packages of the python3
 *      on PATH, whose wheels ship the shared libraries (found by running python3 once).
 * A path named in 1 or 2 that cannot be loaded is an error: no other place is tried then, so
 * that a library the user did not choose is never used silently. When nothing is found the
 * error lists every place looked at and why each failed.
 *
 * A library that loaded stays loaded for the life of the process (ONNX Runtime does not
 * support being unloaded); a failed attempt leaves nothing behind and may be retried, e.g.
 * with an explicit path. Everything here is thread-safe. */
#ifndef OLIVE_BACKENDS_ORT_LOADER_H
#define OLIVE_BACKENDS_ORT_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "backends/ort/ort_api.h"
#include "backends/ort/ort_genai_api.h"

/* The loaded ONNX Runtime: never freed. */
typedef struct olive_ort {
    const ort_api *api;
    const char *path;     /* the file that was loaded */
    const char *found_by; /* "olive_runtime_load", "OLIVE_ORT_LIBRARY", "system loader", "python3 package" */
    const char *version;  /* "1.32.0", from OrtGetApiBase()->GetVersionString() */
    uint32_t api_version; /* the OrtApi version requested */
    char **providers;     /* GetAvailableProviders(), in ONNX Runtime's order */
    size_t n_providers;
    OrtEnv *env;               /* the process's one environment */
    OrtMemoryInfo *cpu_memory; /* describes host buffers handed to ONNX Runtime */
    OrtAllocator *allocator;   /* ONNX Runtime's default allocator (names it returns) */
} olive_ort;

/* The loaded ONNX Runtime GenAI: never freed. */
typedef struct olive_ort_genai {
    const oga_api *api;
    const char *path;
    const char *found_by;
} olive_ort_genai;

/* Loads ONNX Runtime (once per process) and sets *out. `path` names the library to load, or
 * NULL to look it up. When a library is already loaded, a `path` naming another file is
 * refused (OLIVE_EINVALID: a process holds one ONNX Runtime).
 * Errors: OLIVE_ENOTFOUND (nothing found: the message lists every place looked at),
 * OLIVE_EUNSUPPORTED (the library is too old for the API version libolive declares, or is not
 * ONNX Runtime), OLIVE_EINVALID, OLIVE_ENOMEM. */
int olive_ort_load(const olive_ort **out, const char *path);

/* Loads ONNX Runtime GenAI, after ONNX Runtime (which it runs on; `ort_path` is passed to
 * olive_ort_load). Errors as olive_ort_load's; a GenAI library missing one of the functions
 * libolive calls is OLIVE_EUNSUPPORTED naming the function. */
int olive_ort_genai_load(const olive_ort_genai **out, const char *path, const char *ort_path);

/* The loaded libraries, or NULL when none has been loaded yet (loads nothing). */
const olive_ort *olive_ort_loaded(void);
const olive_ort_genai *olive_ort_genai_loaded(void);

/* Turns a status returned by ONNX Runtime into libolive's error: `code` with the message
 * "<what>: <ONNX Runtime's message>". Releases the status. Returns `code`. */
int olive_ort_fail(const olive_ort *ort, OrtStatus *status, int code, const char *what);

/* Tests only: the OrtApi version requested from the next library loaded (0 restores
 * OLIVE_ORT_API_VERSION), to check that a library older than the request is refused. */
void olive_ort_test_request_api_version(uint32_t version);

#endif
