/* Which kernels OpenBLAS (the BLAS and LAPACK behind GPTQ and AWQ) runs on this CPU. */
#ifndef OLIVE_KERNELS_BLAS_KERNELS_H
#define OLIVE_KERNELS_BLAS_KERNELS_H

/* Warns once per process when OpenBLAS runs its generic SSE3 kernels (it did not know this
 * CPU's model) on a CPU with AVX2 or AVX-512, naming the OPENBLAS_CORETYPE value that picks
 * the faster ones (read when OpenBLAS is loaded: the environment of the program's start).
 * `pass` names the caller in the message. */
void olive_blas_check_kernels(const char *pass);

#endif
