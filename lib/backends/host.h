/* What this machine offers: CPU model and ISA features, cores, memory, CUDA devices.
 *
 * Detected once per process (the first call does the work, under pthread_once) and then
 * read-only, so every accessor is thread-safe and cheap. */
#ifndef OLIVE_BACKENDS_HOST_H
#define OLIVE_BACKENDS_HOST_H

#include <stddef.h>
#include <stdint.h>

/* ISA features, named as Linux's /proc/cpuinfo names them (x86-64) or after the
 * architecture's own name (aarch64). A bit is set only when both the CPU and the operating
 * system support it (register state saved on context switch). */
typedef enum olive_isa_feature {
    OLIVE_ISA_SSE4_2,
    OLIVE_ISA_AVX,
    OLIVE_ISA_AVX2,
    OLIVE_ISA_FMA,
    OLIVE_ISA_F16C,
    OLIVE_ISA_AVX512F,
    OLIVE_ISA_AVX512BW,
    OLIVE_ISA_AVX512VL,
    OLIVE_ISA_AVX512_VNNI,
    OLIVE_ISA_AVX512_BF16,
    OLIVE_ISA_AVX512_FP16,
    OLIVE_ISA_AVX_VNNI,
    OLIVE_ISA_AMX_TILE,
    OLIVE_ISA_AMX_INT8,
    OLIVE_ISA_AMX_BF16,
    OLIVE_ISA_NEON,
    OLIVE_ISA_DOTPROD, /* aarch64 SDOT/UDOT */
    OLIVE_ISA_I8MM,    /* aarch64 int8 matrix multiply */
    OLIVE_ISA_SVE,
    OLIVE_ISA_BF16, /* aarch64 BFloat16 instructions */
    OLIVE_ISA_COUNT
} olive_isa_feature;

/* The feature's name ("avx512_vnni"), or NULL outside 0..OLIVE_ISA_COUNT-1. */
const char *olive_isa_feature_name(int feature);
/* The feature called `name` (case-insensitive), or -1 if there is none. */
int olive_isa_feature_from_name(const char *name);

/* Bit (1 << feature) for each feature this CPU and OS support. Runs cpuid / getauxval on
 * every call: use olive_host_cpu()->features instead. */
uint64_t olive_isa_detect(void);

typedef struct olive_host_cpu {
    const char *arch;      /* "x86_64", "aarch64", ... (compile-time target) */
    char model[128];       /* "Intel(R) Xeon(R) ..." or "unknown" */
    int logical_cores;     /* online logical CPUs in the system */
    int affinity_cores;    /* logical CPUs this process may run on */
    int physical_cores;    /* distinct (package, core) pairs; logical_cores if unknown */
    uint64_t memory_bytes; /* physical memory */
    uint64_t features;     /* olive_isa_feature bits */
} olive_host_cpu;

/* The host's CPU facts, detected on first use. Never NULL. */
const olive_host_cpu *olive_host_cpu_get(void);

static inline int olive_host_has(const olive_host_cpu *cpu, olive_isa_feature f)
{
    return (int)((cpu->features >> f) & 1u);
}

#endif
