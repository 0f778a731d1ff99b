/* A spill file: an append-only temporary file that holds tensors built one at a time, so that
 * a converter never keeps more than one tensor in memory and the ONNX writer copies them file
 * to file.
 *
 * The file is created in a folder (default $TMPDIR, else /tmp, or /var/tmp when /tmp is a
 * tmpfs, which would hold the file in memory) and unlinked at once, so it
 * disappears when the last user closes it, even after a crash. Each tensor gets a page-aligned
 * region (olive_spill_reserve); its bytes are written with olive_spill_write, in any order.
 * olive_spill_map then maps everything written so far as one read-only blob whose offsets are
 * the file's offsets (what the writer expects of a mapped blob), holding its own descriptor. */
#ifndef OLIVE_CORE_SPILL_H
#define OLIVE_CORE_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "core/blob.h"

typedef struct olive_spill olive_spill;

/* Creates a spill file in `dir` (NULL or "": the default above). Errors: OLIVE_EIO naming
 * the folder, OLIVE_ENOMEM. */
int olive_spill_open(olive_spill **out, const char *dir);

/* Reserves `size` bytes at the next page-aligned offset (*offset). Errors: OLIVE_ENOMEM on
 * overflow. */
int olive_spill_reserve(olive_spill *s, uint64_t size, uint64_t *offset);

/* Writes `size` bytes at file offset `offset` (inside a reserved region). Errors: OLIVE_EIO
 * (disk full, ...). */
int olive_spill_write(olive_spill *s, uint64_t offset, const void *data, size_t size);

/* Bytes reserved so far (the file's size once mapped). */
uint64_t olive_spill_size(const olive_spill *s);

/* Maps the whole file (every region reserved so far; unwritten bytes read as zeros) into a new
 * blob. The spill stays usable. Errors: OLIVE_EIO, OLIVE_ENOMEM. */
int olive_spill_map(olive_spill *s, olive_blob **out);

/* Closes the spill's descriptor (blobs from olive_spill_map keep their own). NULL is fine. */
void olive_spill_close(olive_spill *s);

#endif
