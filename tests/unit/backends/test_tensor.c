/* olive_tensor: owned tensors are zeroed and freed with the tensor, wrapped ones borrow the
 * caller's buffer (which survives the tensor), held ones release their holder exactly once;
 * bad shapes, sizes and dtypes are refused with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/tensor.h"
#include "olive/session.h"
#include "check.h"

static int released;
static void count_release(void *holder)
{
    released++;
    free(holder);
}

int main(void)
{
    olive_tensor *t = NULL;
    int64_t shape[] = {2, 3, 4};

    /* Names and sizes of every dtype. */
    CHECK(strcmp(olive_dtype_name(OLIVE_DTYPE_FLOAT32), "float32") == 0 && olive_dtype_size(OLIVE_DTYPE_FLOAT32) == 4);
    CHECK(strcmp(olive_dtype_name(OLIVE_DTYPE_BFLOAT16), "bfloat16") == 0 &&
          olive_dtype_size(OLIVE_DTYPE_BFLOAT16) == 2);
    CHECK(olive_dtype_size(OLIVE_DTYPE_BOOL) == 1 && olive_dtype_size(OLIVE_DTYPE_UINT64) == 8);
    CHECK(olive_dtype_name((olive_dtype)8) == NULL && olive_dtype_size((olive_dtype)8) == 0); /* strings: not held */
    CHECK(olive_dtype_name(OLIVE_DTYPE_UNDEFINED) == NULL);

    /* Owned: zero-filled, writable, freed with the tensor (ASan checks the release). */
    CHECK(olive_tensor_new(&t, OLIVE_DTYPE_INT64, shape, 3) == OLIVE_OK);
    CHECK(olive_tensor_dtype(t) == OLIVE_DTYPE_INT64 && olive_tensor_rank(t) == 3);
    CHECK(olive_tensor_dim(t, 0) == 2 && olive_tensor_dim(t, 2) == 4 && olive_tensor_dim(t, 3) == -1);
    CHECK(olive_tensor_element_count(t) == 24 && olive_tensor_byte_size(t) == 24 * 8);
    {
        int64_t *d = olive_tensor_data(t);
        int zero = 1;
        for (int i = 0; i < 24; i++)
            zero &= d[i] == 0;
        CHECK(zero);
        d[23] = 7;
    }
    /* The shape was copied: changing the caller's array changes nothing. */
    shape[0] = 100;
    CHECK(olive_tensor_dim(t, 0) == 2);
    shape[0] = 2;
    olive_tensor_free(t);
    olive_tensor_free(NULL);

    /* A scalar and an empty tensor. */
    CHECK(olive_tensor_new(&t, OLIVE_DTYPE_FLOAT32, NULL, 0) == OLIVE_OK);
    CHECK(olive_tensor_element_count(t) == 1 && olive_tensor_byte_size(t) == 4 && olive_tensor_data(t));
    olive_tensor_free(t);
    {
        int64_t empty[] = {3, 0};
        CHECK(olive_tensor_new(&t, OLIVE_DTYPE_FLOAT16, empty, 2) == OLIVE_OK);
        CHECK(olive_tensor_element_count(t) == 0 && olive_tensor_byte_size(t) == 0 && olive_tensor_data(t));
        olive_tensor_free(t);
        CHECK(olive_tensor_wrap(&t, OLIVE_DTYPE_FLOAT16, empty, 2, NULL, 0) == OLIVE_OK);
        CHECK(olive_tensor_data(t) != NULL);
        olive_tensor_free(t);
    }

    /* Borrowed: the caller's buffer, untouched by free. */
    {
        float *buf = malloc(24 * sizeof *buf);
        for (int i = 0; i < 24; i++)
            buf[i] = (float)i;
        CHECK(olive_tensor_wrap(&t, OLIVE_DTYPE_FLOAT32, shape, 3, buf, 24 * sizeof *buf) == OLIVE_OK);
        CHECK(olive_tensor_data(t) == buf);
        olive_tensor_free(t);
        CHECK(buf[23] == 23.0f); /* still the caller's, still alive */
        t = (olive_tensor *)0x1;
        CHECK(olive_tensor_wrap(&t, OLIVE_DTYPE_FLOAT32, shape, 3, buf, 23 * sizeof *buf) == OLIVE_EINVALID);
        CHECK_CONTAINS(olive_error_last(), "needs 96");
        CHECK(t == (olive_tensor *)0x1); /* untouched on failure */
        CHECK(olive_tensor_wrap(&t, OLIVE_DTYPE_FLOAT32, shape, 3, NULL, 96) == OLIVE_EINVALID);
        free(buf);
    }

    /* Held: the holder is released once, when the tensor is freed, and also when making the
     * tensor fails. */
    CHECK(olive_tensor_hold(&t, OLIVE_DTYPE_UINT8, shape, 1, malloc(2), count_release, malloc(1)) == OLIVE_OK);
    CHECK(released == 0);
    free(olive_tensor_data(t));
    olive_tensor_free(t);
    CHECK(released == 1);
    {
        int64_t bad[] = {-1};
        CHECK(olive_tensor_hold(&t, OLIVE_DTYPE_UINT8, bad, 1, NULL, count_release, malloc(1)) == OLIVE_EINVALID);
        CHECK(released == 2);
    }

    /* Refusals. */
    {
        int64_t neg[] = {2, -3}, huge[] = {INT64_MAX, INT64_MAX};
        int64_t many[40] = {0};
        CHECK(olive_tensor_new(&t, OLIVE_DTYPE_FLOAT32, neg, 2) == OLIVE_EINVALID);
        CHECK_CONTAINS(olive_error_last(), "dim 1 is negative");
        CHECK(olive_tensor_new(&t, (olive_dtype)8, shape, 1) == OLIVE_EINVALID);
        CHECK_CONTAINS(olive_error_last(), "unknown dtype");
        CHECK(olive_tensor_new(&t, OLIVE_DTYPE_FLOAT32, huge, 2) == OLIVE_ENOMEM);
        CHECK(olive_tensor_new(&t, OLIVE_DTYPE_FLOAT32, many, 40) == OLIVE_EINVALID);
        CHECK_CONTAINS(olive_error_last(), "rank 40");
        CHECK(olive_tensor_new(&t, OLIVE_DTYPE_FLOAT32, NULL, 2) == OLIVE_EINVALID);
        CHECK(olive_tensor_new(NULL, OLIVE_DTYPE_FLOAT32, shape, 1) == OLIVE_EINVALID);
    }
    /* Accessors on NULL. */
    CHECK(olive_tensor_dtype(NULL) == OLIVE_DTYPE_UNDEFINED && olive_tensor_rank(NULL) == 0);
    CHECK(olive_tensor_dim(NULL, 0) == -1 && olive_tensor_data(NULL) == NULL && olive_tensor_byte_size(NULL) == 0);
    return check_summary("test_tensor");
}
