/* OpenBLAS (libolive's BLAS and LAPACK) picks its kernels once, when it is loaded, by the CPU
 * model. Releases that do not know a CPU (Debian 12's 0.3.21 on recent Xeons) fall back to
 * their generic SSE3 kernels, which ran SmolLM2's GPTQ factorizations 1.7x and its GEMMs 3.6x
 * slower than the AVX-512 ones this CPU has (bench/README.md: calibrate.py). OpenBLAS reads
 * OPENBLAS_CORETYPE only when it starts, before main(), so the commands that calibrate set it
 * by the CPU's vector features and start this program once more. */
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

void cli_pick_blas_kernels(char **argv)
{
#if defined(__x86_64__) && defined(__GNUC__)
    const char *core = NULL;
    if (getenv("OPENBLAS_CORETYPE"))
        return; /* the user's choice, or this program started again */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        core = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        core = "Haswell";
    if (!core || setenv("OPENBLAS_CORETYPE", core, 0) != 0)
        return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* not started again (no /proc): the kernels OpenBLAS chose */
#else
    (void)argv;
#endif
}
