/* Backends: the code that runs a graph on a device (CPU via oneDNN and own kernels, CUDA).
 *
 * Each backend fills one `olive_backend` table. The `api_version` field lets a caller refuse
 * a table laid out for another version. Today a backend reports who it is and which devices
 * it sees; the graph-running entries (supports_op, compile, run, buffers) are declared so the
 * layout is fixed, and stay NULL until a backend implements them. */
#ifndef OLIVE_BACKENDS_BACKEND_H
#define OLIVE_BACKENDS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#define OLIVE_BACKEND_API_VERSION 1u

struct oir_graph;
struct oir_node;
/* Opaque, defined by each backend. */
struct olive_backend_graph;
struct olive_backend_buffer;

typedef struct olive_backend_device_info {
    char name[256];            /* "NVIDIA H100 80GB HBM3", or the CPU model */
    uint64_t memory_bytes;     /* device memory (host memory for the CPU) */
    int cc_major, cc_minor;    /* CUDA compute capability; 0.0 for other devices */
} olive_backend_device_info;

typedef struct olive_backend {
    uint32_t api_version;      /* OLIVE_BACKEND_API_VERSION */
    const char *name;          /* "cpu", "cuda" */
    const char *device;        /* the accelerator device it serves: "cpu", "gpu" */
    const char *library;       /* the library it builds on ("oneDNN", "CUDA runtime"), or NULL */

    /* Version of `library` this process runs ("2.6.3"), or NULL when none is linked. */
    const char *(*library_version)(void);
    /* OLIVE_OK when the backend can run on this host; otherwise an error code with a message
     * saying what is missing (no GPU, library failed to initialise). */
    int (*probe)(void);
    /* Devices this backend sees: 0 when none (no driver, no GPU), never an error. */
    int (*device_count)(void);
    /* Describes device `index`. OLIVE_EINVALID when index is out of range. */
    int (*device_info)(int index, olive_backend_device_info *out);

    /* Running graphs: not implemented by any backend yet, NULL until that capability lands. */

    /* 1 if the backend can run `node` of `graph`, 0 if not. */
    int (*supports_op)(const struct olive_backend *backend, const struct oir_graph *graph,
                       const struct oir_node *node);
    /* Prepares `graph` for `device`; the result runs many times. */
    int (*compile)(struct olive_backend_graph **out, const struct olive_backend *backend,
                   const struct oir_graph *graph, int device);
    /* Runs a compiled graph: inputs and outputs in the graph's declared order. */
    int (*run)(struct olive_backend_graph *compiled, struct olive_backend_buffer *const *inputs,
               size_t n_inputs, struct olive_backend_buffer *const *outputs, size_t n_outputs);
    void (*graph_free)(struct olive_backend_graph *compiled);
    /* Device memory: allocate, copy in and out, release. */
    int (*buffer_alloc)(struct olive_backend_buffer **out, const struct olive_backend *backend,
                        int device, size_t size);
    int (*buffer_write)(struct olive_backend_buffer *buffer, size_t offset, const void *src, size_t size);
    int (*buffer_read)(const struct olive_backend_buffer *buffer, size_t offset, void *dst, size_t size);
    void (*buffer_free)(struct olive_backend_buffer *buffer);
} olive_backend;

/* The backends in this build: the CPU backend always, then CUDA when built with it. */
size_t olive_backend_count(void);
/* Backend `index` (0 <= index < olive_backend_count()), or NULL. */
const olive_backend *olive_backend_get(size_t index);
/* The backend called `name` ("cpu", "cuda"), or NULL. */
const olive_backend *olive_backend_find(const char *name);

/* Each backend's table. cpu/cpu_backend.c (with oneDNN) or cpu/cpu_backend_none.c provides
 * the CPU one; cuda/cuda_device.c provides CUDA's, cuda/cuda_none.c returns NULL. */
const olive_backend *olive_cpu_backend(void);
const olive_backend *olive_cuda_backend(void);

#endif
