/* Backends: the code that knows a device and, for some, runs models on it.
 *
 * Each backend fills one `olive_backend` table, split into three parts as ggml-backend splits
 * its interface:
 *   device   who it is and what it sees: its library's version, a probe, devices and their info;
 *   buffer   memory it hands out: allocate, write into, read from, free;
 *   runtime  models it runs: load one (from a file, for an execution provider, with options),
 *            describe its inputs and outputs, run it by input names, cancel, free.
 * A part a backend does not provide has all its slots NULL (the CPU and CUDA backends, which
 * serve libolive's own compute, have no runtime; ONNX Runtime's backend has one). The
 * `api_version` field lets the registry refuse a table laid out for another version. */
#ifndef OLIVE_BACKENDS_BACKEND_H
#define OLIVE_BACKENDS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "olive/session.h"

#define OLIVE_BACKEND_API_VERSION 2u

struct olive_backend;
/* Opaque, defined by each backend. */
struct olive_backend_buffer;
struct olive_backend_model;

typedef struct olive_backend_device_info {
    char name[256];         /* "NVIDIA H100 80GB HBM3", the CPU model, or an execution provider */
    uint64_t memory_bytes;  /* device memory (host memory for the CPU; 0 when not known) */
    int cc_major, cc_minor; /* CUDA compute capability; 0.0 for other devices */
} olive_backend_device_info;

typedef struct olive_backend_device_ops {
    /* Version of the backend's library this process runs ("2.6.3"), or NULL when none. */
    const char *(*library_version)(void);
    /* OLIVE_OK when the backend can run on this host; otherwise an error code with a message
     * saying what is missing (no GPU, library not found or failed to initialise). */
    int (*probe)(void);
    /* Devices this backend sees: 0 when none (no driver, no GPU, no library), never an error. */
    int (*device_count)(void);
    /* Describes device `index`. OLIVE_EINVALID when index is out of range. */
    int (*device_info)(int index, olive_backend_device_info *out);
} olive_backend_device_ops;

typedef struct olive_backend_buffer_ops {
    int (*alloc)(struct olive_backend_buffer **out, const struct olive_backend *backend, int device, size_t size);
    /* Copies in/out of [offset, offset+size); OLIVE_EINVALID for a range outside the buffer. */
    int (*write)(struct olive_backend_buffer *buffer, size_t offset, const void *src, size_t size);
    int (*read)(const struct olive_backend_buffer *buffer, size_t offset, void *dst, size_t size);
    void (*free)(struct olive_backend_buffer *buffer);
} olive_backend_buffer_ops;

/* One input or output of a loaded model. Strings are borrowed from the model. */
typedef struct olive_backend_io {
    const char *name;
    olive_dtype dtype; /* OLIVE_DTYPE_UNDEFINED: not a tensor of a supported type */
    size_t rank;
    const int64_t *dims;          /* -1 where not fixed */
    const char *const *dim_names; /* "" where none */
} olive_backend_io;

typedef struct olive_backend_runtime_ops {
    /* Loads the model file at `path` for `provider` (an execution provider name), with the
     * backend's options text (see olive_session_new). */
    int (*load)(struct olive_backend_model **out, const struct olive_backend *backend, const char *path,
                const char *provider, const char *options);
    const char *(*provider)(const struct olive_backend_model *model);
    size_t (*io_count)(const struct olive_backend_model *model, int outputs);
    /* Fills *out for input (outputs == 0) or output `index`; OLIVE_EINVALID when out of range. */
    int (*io_info)(const struct olive_backend_model *model, int outputs, size_t index, olive_backend_io *out);
    /* Runs by names (see olive_session_run); thread-safe for one model. */
    int (*run)(struct olive_backend_model *model, const char *const *input_names, const olive_tensor *const *inputs,
               size_t n_inputs, const char *const *output_names, size_t n_outputs, olive_tensor **outputs);
    /* Stops the runs in progress. Thread-safe. */
    void (*cancel)(struct olive_backend_model *model);
    /* Releases the model; no run may be in progress. */
    void (*free)(struct olive_backend_model *model);
} olive_backend_runtime_ops;

typedef struct olive_backend {
    uint32_t api_version; /* OLIVE_BACKEND_API_VERSION */
    const char *name;     /* "cpu", "cuda", "onnxruntime" */
    const char *device;   /* the accelerator device it serves: "cpu", "gpu", or "any" */
    const char *library;  /* the library it builds on ("oneDNN", "CUDA runtime", "ONNX Runtime"), or NULL */
    olive_backend_device_ops dev;
    olive_backend_buffer_ops buf;
    olive_backend_runtime_ops rt;
} olive_backend;

/* OLIVE_OK for a table of this API version; OLIVE_EUNSUPPORTED naming both versions otherwise. */
int olive_backend_check(const olive_backend *backend);

/* The backends in this build whose tables have this API version: CPU first, then CUDA when
 * built with it, then ONNX Runtime (always present; it finds its library when probed). */
size_t olive_backend_count(void);
/* Backend `index` (0 <= index < olive_backend_count()), or NULL. */
const olive_backend *olive_backend_get(size_t index);
/* The backend called `name` ("cpu", "cuda", "onnxruntime"), or NULL. */
const olive_backend *olive_backend_find(const char *name);

/* Each backend's table. cpu/cpu_backend.c (with oneDNN) or cpu/cpu_backend_none.c provides
 * the CPU one; cuda/cuda_device.c provides CUDA's, cuda/cuda_none.c returns NULL;
 * ort/ort_backend.c provides ONNX Runtime's. */
const olive_backend *olive_cpu_backend(void);
const olive_backend *olive_cuda_backend(void);
const olive_backend *olive_ort_backend(void);

/* Buffers in host memory (host_buffer.c), shared by the backends whose memory is the host's. */
int olive_host_buffer_alloc(struct olive_backend_buffer **out, const olive_backend *backend, int device, size_t size);
int olive_host_buffer_write(struct olive_backend_buffer *buffer, size_t offset, const void *src, size_t size);
int olive_host_buffer_read(const struct olive_backend_buffer *buffer, size_t offset, void *dst, size_t size);
void olive_host_buffer_free(struct olive_backend_buffer *buffer);
#define OLIVE_HOST_BUFFER_OPS                                                                                          \
    {                                                                                                                  \
        .alloc = olive_host_buffer_alloc, .write = olive_host_buffer_write, .read = olive_host_buffer_read,            \
        .free = olive_host_buffer_free                                                                                 \
    }

#endif
