/* QuaRot's offline rotation of a decoder (Olive's Quarot pass), applied while convert streams
 * the weights. The residual stream is multiplied by an orthogonal R1 [hidden, hidden]: the
 * RMSNorm weights before Linears are folded into them (the norms become ones), the embedding
 * and every Linear reading the stream take R1 on their input side (W diag(norm) R1), o_proj and
 * down_proj on their output side (R1^T W), and, where v_proj has no bias, each value head is
 * turned by an orthogonal R2 [head_dim, head_dim] of its layer (R2^T on v_proj's rows of the
 * head, R2 on o_proj's columns of it). The model computes the same function in exact arithmetic.
 *
 * "hadamard": R = diag(s) H / sqrt(n), s random signs and H a Hadamard matrix of order n: for
 * n = 2^m Sylvester's, for n = K 2^m (as Olive's hadamard_utils takes 12, 20, 28, 36, 60, 108,
 * 140 times a power of two) Sylvester's times Paley's of order K; "random": the Q of a QR factorization of a Gaussian matrix (R's diagonal made
 * positive). The random draws come from a seeded xoshiro256** generator, not torch's, so the
 * matrices (and the weights) differ from Olive's for the same seed. */
#ifndef OLIVE_PASSES_CONVERT_DECODER_ROTATE_H
#define OLIVE_PASSES_CONVERT_DECODER_ROTATE_H

#include <stddef.h>
#include <stdint.h>

/* One orthogonal matrix of size n: random signs of a Hadamard transform, or a dense matrix. */
typedef struct cvt_orth {
    int64_t n;
    double *signs; /* hadamard: n signs (else NULL) */
    double *hk;    /* hadamard, n not a power of two: Paley's matrix of order k (k * k, else NULL) */
    int64_t k;     /* its order (1: none) */
    double *m;     /* random: n * n, row-major (else NULL) */
} cvt_orth;

typedef struct cvt_rotation {
    cvt_orth r1;  /* hidden */
    cvt_orth *r2; /* head_dim, one a layer; NULL when v_proj has a bias (Olive leaves heads then) */
    int64_t n_layers;
} cvt_rotation;

/* Makes the rotation of mode "hadamard" or "random" from seed for a decoder of `hidden`,
 * `head_dim` and n_layers (per-head rotations only when with_heads). OLIVE_EINVALID names the
 * mode; OLIVE_EUNSUPPORTED a hadamard size with no Hadamard matrix here; OLIVE_ENOMEM. */
int cvt_rotation_new(const char *mode, uint64_t seed, int64_t hidden, int64_t head_dim, int64_t n_layers,
                     int with_heads, cvt_rotation **out);
void cvt_rotation_free(cvt_rotation *r);

/* Each row of rows [n_rows, len] (len a multiple of q->n) becomes row Q, chunk by chunk of q->n.
 * OLIVE_ENOMEM. */
int cvt_orth_rows(const cvt_orth *q, float *rows, int64_t n_rows, int64_t len);
/* Each block of q->n rows of w [n_rows, cols] becomes Q^T block (the rows mixed).
 * OLIVE_ENOMEM. */
int cvt_orth_columns(const cvt_orth *q, float *w, int64_t n_rows, int64_t cols);

#endif
