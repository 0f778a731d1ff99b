/* The backend registry: the CPU backend always first, CUDA exactly when built with it, ONNX
 * Runtime's last; every table of this API version, with the parts each backend provides: the
 * CPU backend host buffers and no runtime, ONNX Runtime's a runtime, a table of another
 * version refused. */
#include <stdint.h>
#include <string.h>

#include "olive/common.h"
#include "backends/backend.h"
#include "backends/host.h"
#include "check.h"

static void test_table(const olive_backend *b)
{
    CHECK(b->api_version == OLIVE_BACKEND_API_VERSION);
    CHECK(b->name && b->device);
    CHECK(olive_backend_check(b) == OLIVE_OK);
    CHECK(b->dev.library_version && b->dev.probe && b->dev.device_count && b->dev.device_info);
    /* A part is all there or all absent: a caller never meets half a table. */
    CHECK(!b->buf.alloc == !b->buf.write && !b->buf.alloc == !b->buf.read && !b->buf.alloc == !b->buf.free);
    CHECK(!b->rt.load == !b->rt.run && !b->rt.load == !b->rt.free && !b->rt.load == !b->rt.io_info &&
          !b->rt.load == !b->rt.io_count && !b->rt.load == !b->rt.cancel && !b->rt.load == !b->rt.provider);
    CHECK(b->dev.device_count() >= 0);
    for (int i = 0; i < b->dev.device_count(); i++) {
        olive_backend_device_info info;
        CHECK(b->dev.device_info(i, &info) == OLIVE_OK);
        CHECK(info.name[0] != '\0');
        if (strcmp(b->name, "onnxruntime") != 0)
            CHECK(info.memory_bytes > 0);
    }
    olive_backend_device_info info;
    CHECK(b->dev.device_info(-1, &info) == OLIVE_EINVALID);
    CHECK(b->dev.device_info(b->dev.device_count(), &info) == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "out of range");
    CHECK(b->dev.device_info(0, NULL) == OLIVE_EINVALID);
}

/* Host buffers: what is written reads back; ranges outside the buffer are refused. */
static void test_host_buffers(const olive_backend *b)
{
    struct olive_backend_buffer *buf = NULL;
    unsigned char in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, back[8] = {0};
    CHECK(b->buf.alloc(&buf, b, 0, sizeof in) == OLIVE_OK);
    CHECK(b->buf.write(buf, 0, in, sizeof in) == OLIVE_OK);
    CHECK(b->buf.read(buf, 2, back, 4) == OLIVE_OK);
    CHECK(memcmp(back, in + 2, 4) == 0);
    CHECK(b->buf.write(buf, 6, in, 4) == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "outside the buffer");
    CHECK(b->buf.read(buf, SIZE_MAX, back, 1) == OLIVE_EINVALID);
    b->buf.free(buf);
    b->buf.free(NULL);
    CHECK(b->buf.alloc(&buf, b, 1, 8) == OLIVE_EINVALID);
}

/* ONNX Runtime's backend: a runtime, host buffers, and its execution providers as devices
 * when the library can be found (it is looked up at run time, so it may be absent). */
static void test_ort(void)
{
    const olive_backend *ort = olive_backend_find("onnxruntime");
    CHECK(ort != NULL && ort == olive_ort_backend() && ort == olive_backend_get(olive_backend_count() - 1));
    if (!ort)
        return;
    CHECK(strcmp(ort->library, "ONNX Runtime") == 0);
    CHECK(ort->rt.load && ort->buf.alloc);
    test_table(ort);
    test_host_buffers(ort);
    if (ort->dev.probe() == OLIVE_OK) {
        int has_cpu = 0;
        CHECK(ort->dev.library_version() != NULL);
        for (int i = 0; i < ort->dev.device_count(); i++) {
            olive_backend_device_info info;
            CHECK(ort->dev.device_info(i, &info) == OLIVE_OK);
            has_cpu |= strcmp(info.name, "CPUExecutionProvider") == 0;
        }
        CHECK(has_cpu);
    } else {
        CHECK_CONTAINS(olive_error_last(), "ONNX Runtime");
        CHECK(ort->dev.device_count() == 0);
        CHECK(ort->dev.library_version() == NULL);
    }
}

/* A table of another API version is refused with both versions named. */
static void test_version_check(void)
{
    olive_backend other = *olive_cpu_backend();
    other.api_version = OLIVE_BACKEND_API_VERSION + 1;
    CHECK(olive_backend_check(&other) == OLIVE_EUNSUPPORTED);
    CHECK_CONTAINS(olive_error_last(), "API version");
    CHECK(olive_backend_check(NULL) == OLIVE_EINVALID);
}

int main(void)
{
    const olive_backend *cpu = olive_backend_get(0);
    CHECK(cpu != NULL);
    if (!cpu)
        return check_summary("test_backend_registry");
    CHECK(strcmp(cpu->name, "cpu") == 0);
    CHECK(strcmp(cpu->device, "cpu") == 0);
    CHECK(cpu == olive_cpu_backend());
    CHECK(olive_backend_find("cpu") == cpu);
    CHECK(olive_backend_find("tpu") == NULL);
    CHECK(olive_backend_find(NULL) == NULL);
    CHECK(olive_backend_get(olive_backend_count()) == NULL);
    test_table(cpu);
    /* The CPU backend serves libolive's own kernels: host buffers, no model runtime. */
    CHECK(cpu->buf.alloc && !cpu->rt.load);
    test_host_buffers(cpu);
    test_version_check();
    test_ort();

    /* The CPU backend has one device: the host CPU. */
    olive_backend_device_info info;
    CHECK(cpu->dev.device_count() == 1);
    CHECK(cpu->dev.device_info(0, &info) == OLIVE_OK);
    CHECK(strcmp(info.name, olive_host_cpu_get()->model) == 0);
    CHECK(info.memory_bytes == olive_host_cpu_get()->memory_bytes);

#ifdef OLIVE_TEST_HAVE_DNNL
    CHECK(cpu->library && strcmp(cpu->library, "oneDNN") == 0);
    CHECK(cpu->dev.library_version() != NULL);
    CHECK(cpu->dev.probe() == OLIVE_OK);
#else
    CHECK(cpu->library == NULL);
    CHECK(cpu->dev.library_version() == NULL);
#endif

#ifdef OLIVE_TEST_HAVE_CUDA
    const olive_backend *cuda = olive_backend_find("cuda");
    CHECK(olive_backend_count() == 3);
    CHECK(cuda != NULL && cuda == olive_cuda_backend() && cuda == olive_backend_get(1));
    if (cuda)
        CHECK(!cuda->rt.load);
    if (cuda) {
        CHECK(strcmp(cuda->device, "gpu") == 0);
        CHECK(cuda->dev.library_version() != NULL);
        test_table(cuda);
        /* probe agrees with the device count, and says why when there is nothing to use. */
        if (cuda->dev.device_count() == 0) {
            CHECK(cuda->dev.probe() == OLIVE_EUNSUPPORTED);
            CHECK_CONTAINS(olive_error_last(), "cuda");
        } else {
            CHECK(cuda->dev.probe() == OLIVE_OK);
        }
    }
#else
    CHECK(olive_backend_count() == 2);
    CHECK(olive_backend_find("cuda") == NULL);
    CHECK(olive_cuda_backend() == NULL);
#endif
    return check_summary("test_backend_registry");
}
