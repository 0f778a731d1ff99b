/* The CPU backend's device list: exactly one device, the host CPU. */
#include "backends/cpu/cpu_device.h"

#include <stdio.h>
#include <string.h>

#include "backends/host.h"
#include "core/status.h"

int olive_cpu_device_count(void)
{
    return 1;
}

int olive_cpu_device_info(int index, olive_backend_device_info *out)
{
    const olive_host_cpu *cpu = olive_host_cpu_get();
    if (!out)
        return olive_fail(OLIVE_EINVALID, "cpu backend: device info output is NULL");
    if (index != 0)
        return olive_fail(OLIVE_EINVALID, "cpu backend: device index %d out of range (1 device)", index);
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", cpu->model);
    out->memory_bytes = cpu->memory_bytes;
    return OLIVE_OK;
}
