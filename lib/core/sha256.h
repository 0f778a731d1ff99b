/* SHA-256 (FIPS 180-4): content hashes for the engine's cache keys and manifests. */
#ifndef OLIVE_CORE_SHA256_H
#define OLIVE_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define OLIVE_SHA256_BYTES 32
#define OLIVE_SHA256_HEX 65 /* 64 hex digits and a NUL */

typedef struct olive_sha256 {
    uint32_t h[8];
    uint64_t length; /* bytes hashed so far */
    uint8_t block[64];
    size_t used; /* bytes waiting in block */
} olive_sha256;

void olive_sha256_init(olive_sha256 *s);
void olive_sha256_update(olive_sha256 *s, const void *data, size_t n);
void olive_sha256_final(olive_sha256 *s, uint8_t digest[OLIVE_SHA256_BYTES]);
/* Finishes and writes the digest as 64 lowercase hex digits. */
void olive_sha256_final_hex(olive_sha256 *s, char hex[OLIVE_SHA256_HEX]);

/* One-shot helper: hex digest of a buffer. */
void olive_sha256_hex(const void *data, size_t n, char hex[OLIVE_SHA256_HEX]);

/* Hex digest of a whole file, read in chunks. Errors: OLIVE_ENOTFOUND, OLIVE_EIO. */
int olive_sha256_file(const char *path, char hex[OLIVE_SHA256_HEX]);

#endif
