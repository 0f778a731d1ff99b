/* PyTorch zip checkpoints. The central directory gives each record's offset (libarchive does
 * not expose it): storage records are used in place in the mapped file, nothing large is
 * copied. libarchive reads the small records (data.pkl, byteorder). */
#include "formats/torch_zip.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "formats/pickle.h"
#include "ir/ir.h"

#ifdef OFMT_HAVE_LIBARCHIVE

#include <archive.h>
#include <archive_entry.h>

#define ZIP_LOCAL_SIG 0x04034b50u
#define ZIP_CENTRAL_SIG 0x02014b50u
#define ZIP_EOCD_SIG 0x06054b50u
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define ZIP64_EOCD_SIG 0x06064b50u
#define ZIP_LOCAL_HEADER 30u
#define ZIP_CENTRAL_HEADER 46u
#define ZIP_EOCD 22u
#define PICKLE_MAX_BYTES (64u << 20)

typedef struct zip_record {
    char *name;
    uint64_t data_offset; /* in the zip file */
    uint64_t size;        /* uncompressed */
    unsigned method;      /* 0: stored */
} zip_record;

typedef struct zip_reader {
    const char *path;
    const uint8_t *d;
    uint64_t size;
    zip_record *records;
    size_t n_records, cap_records;
    olive_strmap by_name;
    char *prefix; /* "<archive>" of "<archive>/data.pkl" */
    uint8_t *pickle;
    size_t pickle_size;
    int big_endian;
} zip_reader;

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static uint32_t le32(const uint8_t *p)
{
    return le16(p) | le16(p + 2) << 16;
}
static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* [at, at + n) lies inside the file. */
static int in_file(const zip_reader *z, uint64_t at, uint64_t n)
{
    return at <= z->size && n <= z->size - at;
}

static int zip_bad(const zip_reader *z, const char *what)
{
    return olive_fail(OLIVE_EFORMAT, "'%s': not a valid zip file: %s", z->path, what);
}

/* The end-of-central-directory record (and its zip64 form, used by files over 4 GiB). */
static int find_central_directory(const zip_reader *z, uint64_t *offset, uint64_t *size, uint64_t *entries)
{
    uint64_t at, lowest, loc, eocd64;
    if (z->size < ZIP_EOCD)
        return zip_bad(z, "too short");
    lowest = z->size > ZIP_EOCD + 0xffffu ? z->size - ZIP_EOCD - 0xffffu : 0;
    for (at = z->size - ZIP_EOCD;; at--) {
        if (le32(z->d + at) == ZIP_EOCD_SIG && at + ZIP_EOCD + le16(z->d + at + 20) <= z->size)
            break;
        if (at == lowest)
            return zip_bad(z, "no end of central directory record");
    }
    *entries = le16(z->d + at + 10);
    *size = le32(z->d + at + 12);
    *offset = le32(z->d + at + 16);
    if (*entries == 0xffffu || *size == 0xffffffffu || *offset == 0xffffffffu) {
        if (at < 20 || le32(z->d + (loc = at - 20)) != ZIP64_LOCATOR_SIG)
            return zip_bad(z, "zip64 locator missing");
        eocd64 = le64(z->d + loc + 8);
        if (!in_file(z, eocd64, 56) || le32(z->d + eocd64) != ZIP64_EOCD_SIG)
            return zip_bad(z, "zip64 end of central directory is out of range");
        *entries = le64(z->d + eocd64 + 32);
        *size = le64(z->d + eocd64 + 40);
        *offset = le64(z->d + eocd64 + 48);
    }
    if (!in_file(z, *offset, *size))
        return zip_bad(z, "central directory is out of range");
    if (*entries > *size / ZIP_CENTRAL_HEADER)
        return zip_bad(z, "more entries than the central directory holds");
    return OLIVE_OK;
}

/* Fields stored as 0xffffffff are in the zip64 extra field (id 1), in this order. */
static int apply_zip64_extra(const uint8_t *x, uint64_t n, uint64_t *usize, uint64_t *csize, uint64_t *lho)
{
    uint64_t *fields[3] = {usize, csize, lho};
    while (n >= 4) {
        uint64_t id = le16(x), len = le16(x + 2), used = 0;
        if (len > n - 4)
            return 0;
        if (id == 1) {
            for (int i = 0; i < 3; i++) {
                if (*fields[i] != 0xffffffffu)
                    continue;
                if (used + 8 > len)
                    return 0;
                *fields[i] = le64(x + 4 + used);
                used += 8;
            }
            return 1;
        }
        x += 4 + len;
        n -= 4 + len;
    }
    return *usize != 0xffffffffu && *csize != 0xffffffffu && *lho != 0xffffffffu;
}

/* One central directory entry at `at` (inside [.., end)): where its data lies. */
static int read_central_entry(zip_reader *z, uint64_t *at, uint64_t end)
{
    const uint8_t *h = z->d + *at, *lh;
    uint64_t nlen, xlen, clen, usize, csize, lho, data;
    zip_record rec = {0};
    int rc;
    if (*at + ZIP_CENTRAL_HEADER > end || le32(h) != ZIP_CENTRAL_SIG)
        return zip_bad(z, "damaged central directory");
    nlen = le16(h + 28);
    xlen = le16(h + 30);
    clen = le16(h + 32);
    if (*at + ZIP_CENTRAL_HEADER + nlen + xlen + clen > end)
        return zip_bad(z, "central directory entry runs past its end");
    rec.method = le16(h + 10);
    csize = le32(h + 20);
    usize = le32(h + 24);
    lho = le32(h + 42);
    if (!apply_zip64_extra(h + ZIP_CENTRAL_HEADER + nlen, xlen, &usize, &csize, &lho))
        return zip_bad(z, "damaged zip64 extra field");
    if (!nlen || memchr(h + ZIP_CENTRAL_HEADER, 0, nlen))
        return zip_bad(z, "entry with an empty name or a NUL byte in its name");
    if (!(rec.name = olive_strndup((const char *)h + ZIP_CENTRAL_HEADER, nlen)))
        return OLIVE_ENOMEM;
    *at += ZIP_CENTRAL_HEADER + nlen + xlen + clen;
    rc = olive_path_check_inside(rec.name, "zip entry");
    if (rc != OLIVE_OK) {
        free(rec.name);
        return olive_fail_context(rc, "'%s'", z->path);
    }
    lh = z->d + lho;
    if (!in_file(z, lho, ZIP_LOCAL_HEADER) || le32(lh) != ZIP_LOCAL_SIG || le16(lh + 26) != nlen ||
        !in_file(z, lho + ZIP_LOCAL_HEADER, nlen) || memcmp(lh + ZIP_LOCAL_HEADER, rec.name, nlen)) {
        rc = olive_fail(OLIVE_EFORMAT, "'%s': zip entry '%s': local header missing or naming another file", z->path,
                        rec.name);
        free(rec.name);
        return rc;
    }
    data = lho + ZIP_LOCAL_HEADER + nlen + le16(lh + 28);
    if (!in_file(z, data, csize) || (rec.method == 0 && csize != usize)) {
        rc = olive_fail(OLIVE_EFORMAT, "'%s': zip entry '%s' runs past the end of the file", z->path, rec.name);
        free(rec.name);
        return rc;
    }
    rec.data_offset = data;
    rec.size = usize;
    if (OLIVE_PUSH(z->records, z->n_records, z->cap_records, rec)) {
        free(rec.name);
        return OLIVE_ENOMEM;
    }
    return OLIVE_OK;
}

static int read_central_directory(zip_reader *z)
{
    uint64_t offset = 0, size = 0, entries = 0, at;
    OLIVE_TRY(find_central_directory(z, &offset, &size, &entries));
    at = offset;
    for (uint64_t i = 0; i < entries; i++)
        OLIVE_TRY(read_central_entry(z, &at, offset + size));
    /* The map points into the array, which no longer moves. */
    for (size_t i = 0; i < z->n_records; i++) {
        if (olive_strmap_has(&z->by_name, z->records[i].name))
            return olive_fail(OLIVE_EFORMAT, "'%s': zip entry '%s' appears twice", z->path, z->records[i].name);
        OLIVE_TRY(olive_strmap_put(&z->by_name, z->records[i].name, &z->records[i]));
    }
    return OLIVE_OK;
}

/* A record named "<prefix>/<leaf>" with a single-component prefix. */
static int is_top_record(const char *name, const char *leaf)
{
    const char *slash = strchr(name, '/');
    return slash && slash != name && !strcmp(slash + 1, leaf);
}

static int read_small(zip_reader *z, struct archive *a, const char *name, uint64_t size, uint8_t **out, size_t *n)
{
    uint8_t *buf;
    la_ssize_t got = 0;
    size_t have = 0;
    if (size > PICKLE_MAX_BYTES)
        return olive_fail(OLIVE_EFORMAT, "'%s': zip entry '%s' is larger than %u bytes", z->path, name,
                          PICKLE_MAX_BYTES);
    if (!(buf = olive_malloc((size_t)size + 1)))
        return OLIVE_ENOMEM;
    while (have < size && (got = archive_read_data(a, buf + have, (size_t)size - have)) > 0)
        have += (size_t)got;
    if (have != size || got < 0) {
        free(buf);
        return olive_fail(OLIVE_EFORMAT, "'%s': cannot read zip entry '%s': %s", z->path, name,
                          archive_error_string(a) ? archive_error_string(a) : "truncated");
    }
    *out = buf;
    *n = have;
    return OLIVE_OK;
}

/* libarchive walks the entries (sizes checked against the central directory) and reads the
 * small records whatever their compression. */
static int scan_records(zip_reader *z, struct archive *a)
{
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *name = archive_entry_pathname(e);
        const zip_record *rec = name ? olive_strmap_get(&z->by_name, name) : NULL;
        if (!rec)
            return olive_fail(OLIVE_EFORMAT, "'%s': zip entry '%s' is not in the central directory", z->path,
                              name ? name : "");
        if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) != rec->size)
            return olive_fail(OLIVE_EFORMAT, "'%s': zip entry '%s': sizes disagree", z->path, name);
        if (is_top_record(name, "data.pkl")) {
            if (z->prefix)
                return olive_fail(OLIVE_EFORMAT, "'%s': more than one data.pkl", z->path);
            if (!(z->prefix = olive_strndup(name, (size_t)(strchr(name, '/') - name))))
                return OLIVE_ENOMEM;
            OLIVE_TRY(read_small(z, a, name, rec->size, &z->pickle, &z->pickle_size));
        } else if (is_top_record(name, "byteorder")) {
            uint8_t *bo;
            size_t n;
            OLIVE_TRY(read_small(z, a, name, rec->size, &bo, &n));
            z->big_endian = n == 3 && !memcmp(bo, "big", 3);
            free(bo);
        } else if (archive_read_data_skip(a) != ARCHIVE_OK) {
            return olive_fail(OLIVE_EFORMAT, "'%s': cannot read zip entry '%s': %s", z->path, name,
                              archive_error_string(a) ? archive_error_string(a) : "?");
        }
    }
    if (r != ARCHIVE_EOF)
        return olive_fail(OLIVE_EFORMAT, "'%s': not a readable zip file: %s", z->path,
                          archive_error_string(a) ? archive_error_string(a) : "?");
    return OLIVE_OK;
}

static int is_contiguous(const ofmt_pickle_tensor *t)
{
    int64_t want = 1;
    for (size_t i = t->rank; i-- > 0;) {
        if (t->dims[i] == 0)
            return 1;
        if (t->dims[i] != 1 && t->strides[i] != want)
            return 0;
        want *= t->dims[i];
    }
    return 1;
}

/* Points a checkpoint tensor at its bytes inside its storage record. */
static int add_tensor(ofmt_checkpoint *c, zip_reader *z, olive_blob *blob, const ofmt_pickle_tensor *pt)
{
    char *record_name = olive_asprintf("%s/data/%s", z->prefix, pt->storage_key);
    const zip_record *rec;
    uint64_t elem = oir_dtype_bits(pt->dtype) / 8, numel = 1, first, nbytes, end;
    if (!record_name)
        return OLIVE_ENOMEM;
    rec = olive_strmap_get(&z->by_name, record_name);
    free(record_name);
    if (!rec)
        return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s': storage record '%s/data/%s' is missing", z->path, pt->name,
                          z->prefix, pt->storage_key);
    if (rec->method != 0)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "'%s': tensor '%s': zip entry '%s' is compressed (method %u); only stored entries are read",
                          z->path, pt->name, rec->name, rec->method);
    if (!is_contiguous(pt))
        return olive_fail(OLIVE_EUNSUPPORTED, "'%s': tensor '%s' is not contiguous (strided views are not read)",
                          z->path, pt->name);
    for (size_t i = 0; i < pt->rank; i++)
        if (!olive_mul_ok(numel, (uint64_t)pt->dims[i], &numel) || numel > ((uint64_t)1 << 62))
            return olive_fail(OLIVE_EFORMAT, "'%s': tensor '%s' has too many elements", z->path, pt->name);
    if (!olive_mul_ok(pt->storage_offset, elem, &first) || !olive_mul_ok(numel, elem, &nbytes) ||
        __builtin_add_overflow(first, nbytes, &end) || end > rec->size)
        return olive_fail(
            OLIVE_EFORMAT,
            "'%s': tensor '%s' (offset %llu, %llu elements) runs past its storage record '%s' of %llu bytes", z->path,
            pt->name, (unsigned long long)pt->storage_offset, (unsigned long long)numel, rec->name,
            (unsigned long long)rec->size);
    return ofmt_checkpoint_add_plain(c, pt->name, blob, pt->dtype, pt->rank, pt->dims, rec->data_offset + first,
                                     nbytes);
}

static int read_zip(ofmt_checkpoint *c, zip_reader *z, olive_blob *blob)
{
    struct archive *a = archive_read_new();
    ofmt_pickle_tensor *ts = NULL;
    size_t n = 0;
    char *pkl_name = NULL;
    int rc;
    if (!a)
        return olive_fail(OLIVE_ENOMEM, "out of memory opening '%s'", z->path);
    if ((rc = read_central_directory(z)) != OLIVE_OK) {
        archive_read_free(a);
        return rc;
    }
    if (archive_read_support_format_zip_seekable(a) != ARCHIVE_OK ||
        archive_read_open_memory(a, blob->data, blob->size) != ARCHIVE_OK) {
        rc = olive_fail(OLIVE_EFORMAT, "'%s': not a readable zip file: %s", z->path,
                        archive_error_string(a) ? archive_error_string(a) : "?");
        archive_read_free(a);
        return rc;
    }
    rc = scan_records(z, a);
    archive_read_free(a);
    if (rc != OLIVE_OK)
        return rc;
    if (!z->prefix)
        return olive_fail(OLIVE_EFORMAT, "'%s': no <archive>/data.pkl record: not a torch.save checkpoint", z->path);
    if (z->big_endian)
        return olive_fail(OLIVE_EUNSUPPORTED, "'%s': big-endian checkpoints are not supported", z->path);
    if (!(pkl_name = olive_asprintf("%s:%s/data.pkl", z->path, z->prefix)))
        return OLIVE_ENOMEM;
    rc = ofmt_pickle_state_dict(&ts, &n, z->pickle, z->pickle_size, pkl_name);
    free(pkl_name);
    if (rc == OLIVE_OK)
        rc = ofmt_checkpoint_keep_blob(c, blob);
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++)
        rc = add_tensor(c, z, blob, &ts[i]);
    ofmt_pickle_tensors_free(ts, n);
    return rc;
}

int ofmt_torch_zip_add_file(ofmt_checkpoint *c, const char *path)
{
    olive_blob *blob = NULL;
    zip_reader z = {.path = path};
    int rc = olive_blob_map_file(&blob, path);
    if (rc != OLIVE_OK)
        return rc;
    z.d = blob->data;
    z.size = blob->size;
    if (blob->size >= 2 && blob->data[0] == 0x80 && blob->data[1] <= 5)
        rc = olive_fail(OLIVE_EUNSUPPORTED,
                        "'%s' uses the legacy (before PyTorch 1.6) torch.save format; re-save it with a recent PyTorch",
                        path);
    else if (blob->size < 4 || le32(blob->data) != ZIP_LOCAL_SIG)
        rc = olive_fail(OLIVE_EFORMAT, "'%s' is not a zip file (a PyTorch checkpoint is one)", path);
    else
        rc = read_zip(c, &z, blob);
    for (size_t i = 0; i < z.n_records; i++)
        free(z.records[i].name);
    free(z.records);
    olive_strmap_free(&z.by_name);
    free(z.prefix);
    free(z.pickle);
    olive_blob_unref(blob);
    return rc;
}

#else

int ofmt_torch_zip_add_file(ofmt_checkpoint *c, const char *path)
{
    (void)c;
    return olive_fail(OLIVE_EUNSUPPORTED, "'%s': reading PyTorch checkpoints needs libarchive, which this build lacks",
                      path);
}

#endif
