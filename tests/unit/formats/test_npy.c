/* The .npy reader: headers numpy writes (format 1.0 and 2.0) parsed to dtype, shape and data,
 * and hostile headers refused with OLIVE_EFORMAT, never read past the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "formats/npy.h"

/* An image: magic, version, header padded as numpy pads it (to 64 bytes, newline last), data. */
static size_t image(uint8_t *out, int version, const char *dict, const void *data, size_t n)
{
    size_t head = version == 1 ? 10 : 12, len = strlen(dict), total = head + len + 1;
    size_t pad = (64 - total % 64) % 64, hlen = len + pad + 1;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)version;
    out[7] = 0;
    out[8] = (uint8_t)(hlen & 0xff);
    out[9] = (uint8_t)(hlen >> 8);
    if (version != 1) {
        out[10] = (uint8_t)(hlen >> 16);
        out[11] = (uint8_t)(hlen >> 24);
    }
    memcpy(out + head, dict, len);
    memset(out + head + len, ' ', pad);
    out[head + len + pad] = '\n';
    memcpy(out + head + hlen, data, n);
    return head + hlen + n;
}

static int parse(const char *dict, int version, const void *data, size_t n, olive_npy *out)
{
    uint8_t buf[1024];
    size_t size = image(buf, version, dict, data, n);
    return olive_npy_parse(out, buf, size, "test.npy");
}

int main(void)
{
    float f[6] = {1, 2, 3, 4, 5, 6};
    int64_t ids[4] = {1, 2, 3, 4};
    olive_npy a;
    uint8_t buf[256];

    CHECK_RC(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, f, sizeof f, &a), OLIVE_OK);
    CHECK(a.dtype == 1 && a.rank == 2 && a.dims[0] == 2 && a.dims[1] == 3 && a.count == 6 && a.elem_size == 4);
    CHECK_RC(parse("{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }", 2, ids, sizeof ids, &a), OLIVE_OK);
    CHECK(a.dtype == 7 && a.rank == 1 && a.dims[0] == 4);
    CHECK_RC(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 1, f, 4, &a), OLIVE_OK);
    CHECK(a.rank == 0 && a.count == 1);
    CHECK_RC(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", 1, f, 0, &a), OLIVE_OK);
    CHECK(a.count == 0);

    /* Refused: big-endian, Fortran order, object dtype, data that does not fit the shape,
     * shapes that overflow or are not integers, missing keys, a header past the end. */
    CHECK_RC(parse("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 1, f, sizeof f, &a), OLIVE_EFORMAT);
    CHECK_RC(parse("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 1, f, sizeof f, &a), OLIVE_EFORMAT);
    CHECK_RC(parse("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 1, f, 8, &a), OLIVE_EFORMAT);
    CHECK_RC(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", 1, f, sizeof f, &a), OLIVE_EFORMAT);
    CHECK_RC(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, f, sizeof f - 1, &a),
             OLIVE_EFORMAT);
    CHECK_RC(
        parse("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }", 1, f, sizeof f, &a),
        OLIVE_EFORMAT);
    CHECK_RC(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 1, f, 4, &a),
             OLIVE_EFORMAT);
    CHECK_RC(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (a, 3), }", 1, f, sizeof f, &a), OLIVE_EFORMAT);
    CHECK_RC(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3", 1, f, sizeof f, &a), OLIVE_EFORMAT);
    CHECK_RC(parse("{'fortran_order': False, 'shape': (2, 3), }", 1, f, sizeof f, &a), OLIVE_EFORMAT);
    CHECK_RC(parse("{'descr': '<f4', 'shape': (2, 3), }", 1, f, sizeof f, &a), OLIVE_EFORMAT);
    CHECK_RC(parse("{'descr': '<f4, 'fortran_order': False}", 1, f, sizeof f, &a), OLIVE_EFORMAT);
    CHECK_RC(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
                   "1, 1, 1), }",
                   1, f, 4, &a),
             OLIVE_EFORMAT);
    memcpy(buf, "\x93NUMPY\x01\x00\xff\xff", 10);
    CHECK_RC(olive_npy_parse(&a, buf, 10, "short.npy"), OLIVE_EFORMAT);
    memcpy(buf, "\x93NUMPY\x09\x00\x00\x00", 10);
    CHECK_RC(olive_npy_parse(&a, buf, 10, "version.npy"), OLIVE_EFORMAT);
    CHECK_RC(olive_npy_parse(&a, (const uint8_t *)"PK\x03\x04", 4, "zip.npy"), OLIVE_EFORMAT);
    CHECK_RC(olive_npy_load(&a, "/nonexistent/x.npy"), OLIVE_ENOTFOUND);

    fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
    return check_failures != 0;
}
