/* Host CPU facts: model name, core counts and memory, detected once per process. */
#include "backends/host.h"

#include <ctype.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static olive_host_cpu host;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static const char *compiled_arch(void)
{
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__i386__)
    return "x86";
#elif defined(__aarch64__)
    return "aarch64";
#elif defined(__arm__)
    return "arm";
#elif defined(__powerpc64__)
    return "ppc64";
#elif defined(__riscv)
    return "riscv";
#else
    return "unknown";
#endif
}

/* Copies `src` into `dst` without leading/trailing blanks and with inner runs of blanks
 * squeezed (cpuid brand strings are padded). */
static void copy_trimmed(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    int pending_space = 0;
    for (; *src && n + 1 < cap; src++) {
        if (isspace((unsigned char)*src)) {
            pending_space = n > 0;
            continue;
        }
        if (pending_space && n + 2 < cap)
            dst[n++] = ' ';
        pending_space = 0;
        dst[n++] = *src;
    }
    dst[n] = '\0';
}

/* The value of the first "key<blanks>: value" line of /proc/cpuinfo whose key is `key`. */
static int cpuinfo_value(const char *key, char *out, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[512];
    size_t klen = strlen(key);
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof line, f)) {
        const char *p = line + klen;
        if (strncmp(line, key, klen) != 0)
            continue;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ':')
            continue;
        copy_trimmed(out, cap, p + 1);
        found = out[0] != '\0';
    }
    fclose(f);
    return found;
}

static int cpuid_brand(char *out, size_t cap)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned regs[12];
    char brand[sizeof regs + 1];
    if (__get_cpuid_max(0x80000000u, NULL) < 0x80000004u)
        return 0;
    for (unsigned i = 0; i < 3; i++)
        __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
    memcpy(brand, regs, sizeof regs);
    brand[sizeof regs] = '\0';
    copy_trimmed(out, cap, brand);
    return out[0] != '\0';
#else
    (void)out;
    (void)cap;
    return 0;
#endif
}

static void detect_model(char *out, size_t cap)
{
    if (cpuinfo_value("model name", out, cap) || cpuid_brand(out, cap))
        return;
    snprintf(out, cap, "unknown");
}

static int affinity_cores(int fallback)
{
#ifdef CPU_ALLOC
    /* Grow the set until the kernel accepts its size: machines may have more than 1024 CPUs. */
    for (int n = 1024; n <= (1 << 20); n *= 2) {
        cpu_set_t *set = CPU_ALLOC(n);
        size_t size = CPU_ALLOC_SIZE(n);
        int count = -1;
        if (!set)
            break;
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0)
            count = CPU_COUNT_S(size, set);
        CPU_FREE(set);
        if (count > 0)
            return count;
    }
#endif
    return fallback;
}

static int read_int_file(const char *path, long *out)
{
    FILE *f = fopen(path, "re");
    int ok;
    if (!f)
        return 0;
    ok = fscanf(f, "%ld", out) == 1;
    fclose(f);
    return ok;
}

typedef struct core_key {
    long package, core;
} core_key;

/* Counts distinct (package, core) pairs among the online CPUs that sysfs describes; 0 when
 * the topology is not available. */
static int physical_cores(void)
{
    long conf = sysconf(_SC_NPROCESSORS_CONF);
    core_key *keys;
    int n = 0, found_any = 0;
    if (conf <= 0 || conf > (1L << 20))
        return 0;
    keys = calloc((size_t)conf, sizeof *keys);
    if (!keys)
        return 0;
    for (long cpu = 0; cpu < conf; cpu++) {
        char path[128];
        long online = 1;
        core_key k;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/online", cpu);
        /* cpu0 often has no "online" file: it cannot be taken offline. */
        if (read_int_file(path, &online) && !online)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", cpu);
        if (!read_int_file(path, &k.core))
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", cpu);
        if (!read_int_file(path, &k.package))
            k.package = 0;
        found_any = 1;
        int seen = 0;
        for (int i = 0; i < n && !seen; i++)
            seen = keys[i].package == k.package && keys[i].core == k.core;
        if (!seen)
            keys[n++] = k;
    }
    free(keys);
    return found_any ? n : 0;
}

static uint64_t physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGESIZE);
    uint64_t bytes;
    if (pages <= 0 || page_size <= 0)
        return 0;
    if (__builtin_mul_overflow((uint64_t)pages, (uint64_t)page_size, &bytes))
        return UINT64_MAX;
    return bytes;
}

static void detect(void)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    host.arch = compiled_arch();
    detect_model(host.model, sizeof host.model);
    host.logical_cores = online > 0 && online < (1L << 30) ? (int)online : 1;
    host.affinity_cores = affinity_cores(host.logical_cores);
    host.physical_cores = physical_cores();
    if (host.physical_cores <= 0 || host.physical_cores > host.logical_cores)
        host.physical_cores = host.logical_cores;
    host.memory_bytes = physical_memory();
    host.features = olive_isa_detect();
}

const olive_host_cpu *olive_host_cpu_get(void)
{
    pthread_once(&host_once, detect);
    return &host;
}
