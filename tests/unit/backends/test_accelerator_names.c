/* Accelerator creation: every device/provider pair accepted or rejected as Olive's
 * device-to-provider table says, defaults, case rules, error messages and NULL arguments. */
#include <stdlib.h>
#include <string.h>

#include "olive/olive.h"
#include "api/accelerator_internal.h"
#include "check.h"

/* Olive's DEVICE_TO_EXECUTION_PROVIDERS (olive/hardware/constants.py), with
 * CPUExecutionProvider allowed on every device as Olive's lookup appends it. CoreML is not in
 * Olive's table: ONNX Runtime's CoreML provider runs on Apple GPUs and the Neural Engine. */
static const struct {
    const char *provider;
    const char *devices; /* space-separated */
} expected[] = {
    {"CPUExecutionProvider", "cpu gpu npu"},   {"OpenVINOExecutionProvider", "cpu gpu npu"},
    {"CUDAExecutionProvider", "gpu"},          {"ROCMExecutionProvider", "gpu"},
    {"MIGraphXExecutionProvider", "gpu"},      {"TensorrtExecutionProvider", "gpu"},
    {"NvTensorRTRTXExecutionProvider", "gpu"}, {"JsExecutionProvider", "gpu"},
    {"WebGpuExecutionProvider", "gpu"},        {"DmlExecutionProvider", "gpu npu"},
    {"QNNExecutionProvider", "gpu npu"},       {"VitisAIExecutionProvider", "npu"},
    {"CoreMLExecutionProvider", "gpu npu"},
};
#define N_EXPECTED (sizeof expected / sizeof expected[0])

static const char *const devices[] = {"cpu", "gpu", "npu"};

static int listed(const char *devs, const char *dev)
{
    size_t n = strlen(dev);
    for (const char *p = devs; (p = strstr(p, dev)) != NULL; p += n)
        if ((p == devs || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

static void test_every_pair(void)
{
    for (size_t i = 0; i < N_EXPECTED; i++) {
        for (size_t d = 0; d < 3; d++) {
            olive_accelerator *acc = NULL;
            int want = listed(expected[i].devices, devices[d]);
            int rc = olive_accelerator_new(&acc, devices[d], expected[i].provider);
            if (want) {
                CHECK_MSG(rc == OLIVE_OK, "%s on %s: rc %d: %s", expected[i].provider, devices[d], rc,
                          olive_error_last());
                if (rc == OLIVE_OK) {
                    CHECK(strcmp(olive_accelerator_device(acc), devices[d]) == 0);
                    CHECK(strcmp(olive_accelerator_provider(acc), expected[i].provider) == 0);
                }
            } else {
                CHECK_MSG(rc == OLIVE_EINVALID, "%s on %s should be refused, rc %d", expected[i].provider, devices[d],
                          rc);
                CHECK(acc == NULL);
                CHECK(olive_error_code() == OLIVE_EINVALID);
                CHECK_CONTAINS(olive_error_last(), expected[i].provider);
                CHECK_CONTAINS(olive_error_last(), devices[d]);
                /* The message names what does run on that device. */
                for (size_t k = 0; k < N_EXPECTED; k++) {
                    if (listed(expected[k].devices, devices[d]))
                        CHECK_CONTAINS(olive_error_last(), expected[k].provider);
                }
            }
            olive_accelerator_free(acc);
        }
    }
}

static void test_defaults_and_case(void)
{
    static const struct {
        const char *device, *canonical, *provider;
    } cases[] = {
        {"cpu", "cpu", "CPUExecutionProvider"},  {"CPU", "cpu", "CPUExecutionProvider"},
        {"gpu", "gpu", "CUDAExecutionProvider"}, {"Gpu", "gpu", "CUDAExecutionProvider"},
        {"npu", "npu", "QNNExecutionProvider"},  {"NPU", "npu", "QNNExecutionProvider"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        olive_accelerator *acc = NULL;
        int rc = olive_accelerator_new(&acc, cases[i].device, NULL);
        CHECK_MSG(rc == OLIVE_OK, "device %s: %s", cases[i].device, olive_error_last());
        if (rc != OLIVE_OK)
            continue;
        CHECK(strcmp(olive_accelerator_device(acc), cases[i].canonical) == 0);
        CHECK(strcmp(olive_accelerator_provider(acc), cases[i].provider) == 0);
        olive_accelerator_free(acc);
    }
}

static void test_unknown_names(void)
{
    olive_accelerator *acc = (olive_accelerator *)&acc; /* sentinel: must stay untouched */
    olive_accelerator *const sentinel = acc;

    CHECK(olive_accelerator_new(&acc, "xpu", NULL) == OLIVE_EINVALID);
    CHECK(acc == sentinel);
    CHECK_CONTAINS(olive_error_last(), "'xpu'");
    for (size_t d = 0; d < 3; d++)
        CHECK_CONTAINS(olive_error_last(), devices[d]);

    CHECK(olive_accelerator_new(&acc, "", NULL) == OLIVE_EINVALID);
    CHECK(acc == sentinel);

    CHECK(olive_accelerator_new(&acc, "cpu", "FooExecutionProvider") == OLIVE_EINVALID);
    CHECK(acc == sentinel);
    CHECK_CONTAINS(olive_error_last(), "'FooExecutionProvider'");
    for (size_t i = 0; i < N_EXPECTED; i++)
        CHECK_CONTAINS(olive_error_last(), expected[i].provider);

    CHECK(olive_accelerator_new(&acc, "cpu", "") == OLIVE_EINVALID);
    CHECK(acc == sentinel);

    /* Provider names are case-sensitive in ONNX Runtime; the message points at the right one. */
    CHECK(olive_accelerator_new(&acc, "gpu", "cudaexecutionprovider") == OLIVE_EINVALID);
    CHECK(acc == sentinel);
    CHECK_CONTAINS(olive_error_last(), "did you mean 'CUDAExecutionProvider'");

    /* A very long name is cut in the message, and the list of known names still follows it. */
    char long_name[5000];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK(olive_accelerator_new(&acc, "cpu", long_name) == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "VitisAIExecutionProvider");
    CHECK(olive_accelerator_new(&acc, long_name, NULL) == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "npu");
    CHECK(acc == sentinel);
}

static void test_null_arguments(void)
{
    olive_accelerator *acc = NULL;
    char *json = NULL;

    CHECK(olive_accelerator_new(NULL, "cpu", NULL) == OLIVE_EINVALID);
    CHECK(olive_accelerator_new(&acc, NULL, NULL) == OLIVE_EINVALID);
    CHECK(acc == NULL);
    CHECK_CONTAINS(olive_error_last(), "cpu, gpu, npu");
    CHECK(olive_accelerator_new(&acc, NULL, "CPUExecutionProvider") == OLIVE_EINVALID);
    CHECK(acc == NULL);

    olive_accelerator_free(NULL);
    CHECK(olive_accelerator_ref(NULL) == NULL);
    /* Accessors never fail: a NULL handle gives NULL or 0, never an error code as a count,
     * and the last error stays the caller's. */
    olive_error_clear();
    CHECK(olive_accelerator_device(NULL) == NULL);
    CHECK(olive_accelerator_provider(NULL) == NULL);
    CHECK(olive_accelerator_cpu_model(NULL) == NULL);
    CHECK(olive_accelerator_cpu_cores(NULL) == 0);
    CHECK(olive_accelerator_memory_bytes(NULL) == 0);
    CHECK(olive_accelerator_cuda_device_count(NULL) == 0);
    CHECK(olive_error_code() == OLIVE_OK);
    CHECK(olive_accelerator_has_feature(NULL, "avx") == 0);
    CHECK(olive_accelerator_describe_json(&json, NULL) == OLIVE_EINVALID);
    CHECK(json == NULL);

    CHECK(olive_accelerator_new(&acc, "cpu", NULL) == OLIVE_OK);
    CHECK(olive_accelerator_describe_json(NULL, acc) == OLIVE_EINVALID);
    CHECK(olive_accelerator_has_feature(acc, NULL) == 0);
    CHECK(olive_accelerator_has_feature(acc, "") == 0);
    CHECK(olive_accelerator_has_feature(acc, "not_a_feature") == 0);
    olive_accelerator_free(acc);
}

/* The engine keeps references; freeing in any order must release exactly once (ASan checks
 * for the double free and the leak). */
static void test_references(void)
{
    olive_accelerator *acc = NULL;
    CHECK(olive_accelerator_new(&acc, "gpu", "TensorrtExecutionProvider") == OLIVE_OK);
    CHECK(olive_accelerator_ref(acc) == acc);
    CHECK(olive_accelerator_ref(acc) == acc);
    olive_accelerator_free(acc);
    olive_accelerator_free(acc);
    CHECK(strcmp(olive_accelerator_provider(acc), "TensorrtExecutionProvider") == 0);
    olive_accelerator_free(acc);
}

int main(void)
{
    test_every_pair();
    test_defaults_and_case();
    test_unknown_names();
    test_null_arguments();
    test_references();
    return check_summary("test_accelerator_names");
}
