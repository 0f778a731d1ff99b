/* The CPU backend's one device: the host CPU, whichever library the backend builds on. */
#ifndef OLIVE_BACKENDS_CPU_DEVICE_H
#define OLIVE_BACKENDS_CPU_DEVICE_H

#include "backends/backend.h"

int olive_cpu_device_count(void);
int olive_cpu_device_info(int index, olive_backend_device_info *out);

#endif
