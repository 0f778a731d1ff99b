/* See blas_kernels.h. OpenBLAS releases choose kernels by CPU model; one that does not know a
 * model (Debian 12's 0.3.21 on recent Xeons) falls back to "Prescott", SSE3, 1.7x slower
 * for GPTQ's factorizations than the CPU's AVX-512 or AVX2 allow. */
#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kernels/blas_kernels.h"

static const char *pass_name;

static void check(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    const char *core = openblas_get_corename(), *better = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        better = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        better = "Haswell";
    if (core && better && !strcmp(core, "Prescott") && !getenv("OPENBLAS_CORETYPE"))
        OLIVE_WARN("%s: OpenBLAS does not know this CPU and runs its generic SSE3 kernels; start the program with "
                   "OPENBLAS_CORETYPE=%s in its environment for faster factorizations (the olive command does this "
                   "itself)",
                   pass_name, better);
#endif
}

void olive_blas_check_kernels(const char *pass)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pass_name = pass;
    pthread_once(&once, check);
}
