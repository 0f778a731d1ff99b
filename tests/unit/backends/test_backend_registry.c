/* The backend registry: the CPU backend always first, CUDA exactly when built with it, the
 * table laid out for this API version, graph-running entries still absent. */
#include <string.h>

#include "olive/common.h"
#include "backends/backend.h"
#include "backends/host.h"
#include "check.h"

static void test_table(const olive_backend *b)
{
    CHECK(b->api_version == OLIVE_BACKEND_API_VERSION);
    CHECK(b->name && b->device);
    CHECK(b->library_version && b->probe && b->device_count && b->device_info);
    /* Not implemented yet: a caller must see that, not a stub that pretends. */
    CHECK(!b->supports_op && !b->compile && !b->run && !b->graph_free);
    CHECK(!b->buffer_alloc && !b->buffer_write && !b->buffer_read && !b->buffer_free);
    CHECK(b->device_count() >= 0);
    for (int i = 0; i < b->device_count(); i++) {
        olive_backend_device_info info;
        CHECK(b->device_info(i, &info) == OLIVE_OK);
        CHECK(info.name[0] != '\0');
        CHECK(info.memory_bytes > 0);
    }
    olive_backend_device_info info;
    CHECK(b->device_info(-1, &info) == OLIVE_EINVALID);
    CHECK(b->device_info(b->device_count(), &info) == OLIVE_EINVALID);
    CHECK_CONTAINS(olive_error_last(), "out of range");
    CHECK(b->device_info(0, NULL) == OLIVE_EINVALID);
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

    /* The CPU backend has one device: the host CPU. */
    olive_backend_device_info info;
    CHECK(cpu->device_count() == 1);
    CHECK(cpu->device_info(0, &info) == OLIVE_OK);
    CHECK(strcmp(info.name, olive_host_cpu_get()->model) == 0);
    CHECK(info.memory_bytes == olive_host_cpu_get()->memory_bytes);

#ifdef OLIVE_TEST_HAVE_DNNL
    CHECK(cpu->library && strcmp(cpu->library, "oneDNN") == 0);
    CHECK(cpu->library_version() != NULL);
    CHECK(cpu->probe() == OLIVE_OK);
#else
    CHECK(cpu->library == NULL);
    CHECK(cpu->library_version() == NULL);
#endif

#ifdef OLIVE_TEST_HAVE_CUDA
    const olive_backend *cuda = olive_backend_find("cuda");
    CHECK(olive_backend_count() == 2);
    CHECK(cuda != NULL && cuda == olive_cuda_backend() && cuda == olive_backend_get(1));
    if (cuda) {
        CHECK(strcmp(cuda->device, "gpu") == 0);
        CHECK(cuda->library_version() != NULL);
        test_table(cuda);
        /* probe agrees with the device count, and says why when there is nothing to use. */
        if (cuda->device_count() == 0) {
            CHECK(cuda->probe() == OLIVE_EUNSUPPORTED);
            CHECK_CONTAINS(olive_error_last(), "cuda");
        } else {
            CHECK(cuda->probe() == OLIVE_OK);
        }
    }
#else
    CHECK(olive_backend_count() == 1);
    CHECK(olive_backend_find("cuda") == NULL);
    CHECK(olive_cuda_backend() == NULL);
#endif
    return check_summary("test_backend_registry");
}
