/* Finding and loading ONNX Runtime: a bad OLIVE_ORT_LIBRARY, nothing found (the error lists
 * every place looked at), an explicit path that is missing or not ONNX Runtime, a library
 * older than the C API version requested (simulated by asking for a version no library has),
 * then a real load, after which another library is refused. The steps run in this order in
 * one process, because a successful load is kept for the life of the process.
 *
 * Exits 77 (skipped) when no ONNX Runtime can be found at all (python3 on PATH without the
 * onnxruntime package and none on the loader path): the failure paths are checked first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/ort/ort_loader.h"
#include "olive/session.h"
#include "check.h"

int main(void)
{
    const char *path = getenv("PATH");
    char *saved_path = path ? strdup(path) : NULL;
    char empty_dir[] = "/tmp/olive-no-python-XXXXXX";
    int rc, found_early = 0;
    char *json = NULL;

    CHECK(olive_ort_loaded() == NULL);

    /* 1. OLIVE_ORT_LIBRARY naming a missing file: an error naming it, and no other place tried. */
    setenv("OLIVE_ORT_LIBRARY", "/nonexistent/libonnxruntime.so", 1);
    rc = olive_runtime_load(NULL);
    CHECK(rc == OLIVE_ENOTFOUND);
    CHECK_CONTAINS(olive_error_last(), "OLIVE_ORT_LIBRARY=/nonexistent/libonnxruntime.so");
    CHECK_CONTAINS(olive_error_last(), "No such file");
    CHECK_CONTAINS(olive_error_last(), "the system loader path and python3's onnxruntime package are not searched");
    unsetenv("OLIVE_ORT_LIBRARY");

    /* 2. No python3 on PATH: every place is listed with what went wrong there. */
    CHECK(mkdtemp(empty_dir) != NULL);
    setenv("PATH", empty_dir, 1);
    rc = olive_runtime_load(NULL);
    if (rc == OLIVE_OK) {
        found_early = 1; /* this host has ONNX Runtime on the loader path */
        printf("ONNX Runtime found on the system loader path: the not-found checks are skipped\n");
    } else {
        CHECK(rc == OLIVE_ENOTFOUND);
        CHECK_CONTAINS(olive_error_last(), "ONNX Runtime was not found");
        CHECK_CONTAINS(olive_error_last(), "OLIVE_ORT_LIBRARY: not set");
        CHECK_CONTAINS(olive_error_last(), "system loader: libonnxruntime.so.1");
        CHECK_CONTAINS(olive_error_last(), "python3 on PATH: no python3 on PATH");
        /* The runtime description reports the same error instead of failing. */
        CHECK(olive_runtime_info_json(&json) == OLIVE_OK);
        CHECK_CONTAINS(json, "\"found\": false");
        CHECK_CONTAINS(json, "ONNX Runtime was not found");
        olive_free(json);
        json = NULL;
    }
    rmdir(empty_dir);
    if (saved_path)
        setenv("PATH", saved_path, 1);

    if (!found_early) {
        /* 3. An explicit path that does not exist, and a library that is not ONNX Runtime. */
        CHECK(olive_runtime_load("/nonexistent/libonnxruntime.so.1") == OLIVE_ENOTFOUND);
        CHECK_CONTAINS(olive_error_last(), "/nonexistent/libonnxruntime.so.1");
        CHECK(olive_runtime_load("libm.so.6") == OLIVE_EUNSUPPORTED);
        CHECK_CONTAINS(olive_error_last(), "exports no OrtGetApiBase");

        /* 4. A library older than the API version asked for: both versions are named. */
        olive_ort_test_request_api_version(1000);
        rc = olive_runtime_load(NULL);
        olive_ort_test_request_api_version(0);
        if (rc == OLIVE_ENOTFOUND) {
            printf("ONNX Runtime not found (%s): skipping the checks that load it\n", olive_error_last());
            free(saved_path);
            return check_failures ? check_summary("test_ort_loader") : 77;
        }
        CHECK(rc == OLIVE_EUNSUPPORTED);
        CHECK_CONTAINS(olive_error_last(), "C API version 1000");
        CHECK_CONTAINS(olive_error_last(), "is too old");
        CHECK_CONTAINS(olive_error_last(), "ONNX Runtime 1.");
        CHECK(olive_ort_loaded() == NULL);
    }

    /* 5. A real load, kept: the JSON says what was loaded and how it was found. */
    CHECK(olive_runtime_load(NULL) == OLIVE_OK);
    {
        const olive_ort *ort = olive_ort_loaded();
        CHECK(ort != NULL);
        if (ort) {
            int has_cpu = 0;
            CHECK(ort->api_version == OLIVE_ORT_API_VERSION);
            for (size_t i = 0; i < ort->n_providers; i++)
                has_cpu |= strcmp(ort->providers[i], "CPUExecutionProvider") == 0;
            CHECK(has_cpu);
            CHECK(olive_runtime_info_json(&json) == OLIVE_OK);
            CHECK_CONTAINS(json, "\"found\": true");
            CHECK_CONTAINS(json, ort->version);
            CHECK_CONTAINS(json, "\"api_version\": 12");
            olive_free(json);
            /* Loading again, with or without the same path, is a no-op; another is refused. */
            CHECK(olive_runtime_load(NULL) == OLIVE_OK);
            CHECK(olive_runtime_load(ort->path) == OLIVE_OK);
            CHECK(olive_runtime_load("libm.so.6") == OLIVE_EINVALID);
            CHECK_CONTAINS(olive_error_last(), "already loaded");
        }
    }
    free(saved_path);
    return check_summary("test_ort_loader");
}
