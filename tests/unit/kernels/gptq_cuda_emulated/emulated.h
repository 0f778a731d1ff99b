/* Controls of the emulated CUDA runtime (cudart_shim.c). */
#ifndef OLIVE_TEST_GPTQ_CUDA_EMULATED_H
#define OLIVE_TEST_GPTQ_CUDA_EMULATED_H

extern long emu_mallocs;     /* cudaMalloc calls so far */
extern long emu_fail_malloc; /* the call (counted from 0) that fails as out of memory; -1: none */

#endif
