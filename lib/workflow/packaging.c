/* packaging_config: after the output folder is written, Olive's Zipfile packaging puts the
 * output model in <output_dir>/<name>.zip. Here the zip holds the output folder's files under
 * a folder of the package's name. Written to a temporary name and renamed, so a failed run
 * leaves no half-written zip. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef OFMT_HAVE_LIBARCHIVE
#include <archive.h>
#include <archive_entry.h>
#endif

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "workflow/workflow.h"

#define DEFAULT_NAME "OutputModels"

static const char *const packaging_keys[] = {
    "type", "name", "config", "include_runtime_packages", "include_sample_code", "export_in_mlflow_format", NULL};

/* The entries of packaging_config: one object or a list of them. */
static const json_t *entry_at(const json_t *config, size_t i)
{
    return json_is_array(config) ? json_array_get(config, i) : i == 0 ? config : NULL;
}

static const char *package_name(const json_t *entry)
{
    const json_t *name = json_object_get(entry, "name");
    return json_is_string(name) ? json_string_value(name) : DEFAULT_NAME;
}

int wf_packaging_check(const json_t *config, int strict)
{
    const json_t *e;
    if (!json_is_object(config) && !json_is_array(config))
        return olive_fail(OLIVE_EINVALID, "packaging_config: expected an object ({\"type\": \"Zipfile\"}) or a list");
    for (size_t i = 0; (e = entry_at(config, i)); i++) {
        const json_t *type = json_object_get(e, "type"), *name = json_object_get(e, "name");
        if (!json_is_object(e))
            return olive_fail(OLIVE_EINVALID, "packaging_config[%zu]: expected an object", i);
        OLIVE_TRY(wf_check_keys(e, packaging_keys, "packaging_config", strict));
        if (type && !json_is_string(type))
            return olive_fail(OLIVE_EINVALID, "packaging_config[%zu].type: expected a string", i);
        if (type && strcasecmp(json_string_value(type), "Zipfile"))
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "packaging_config[%zu].type: packaging type '%s' is not supported (supported: Zipfile)",
                              i, json_string_value(type));
        if (name && (!json_is_string(name) || !json_string_value(name)[0] || strchr(json_string_value(name), '/') ||
                     json_string_value(name)[0] == '.'))
            return olive_fail(OLIVE_EINVALID, "packaging_config[%zu].name: expected a file name (no '/', not hidden)",
                              i);
    }
#ifndef OFMT_HAVE_LIBARCHIVE
    return olive_fail(OLIVE_EUNSUPPORTED, "packaging_config: Zipfile packaging needs libarchive, which this build does "
                                          "not have");
#else
    return OLIVE_OK;
#endif
}

#ifdef OFMT_HAVE_LIBARCHIVE
static int add_file(struct archive *a, const char *path, const char *entry_name)
{
    struct archive_entry *e = archive_entry_new();
    char buf[1 << 16];
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_NOFOLLOW), rc = OLIVE_OK;
    if (!e) {
        if (fd >= 0)
            close(fd);
        return OLIVE_ENOMEM;
    }
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = olive_fail_errno(errno, "cannot read", path);
        goto out;
    }
    archive_entry_set_pathname(e, entry_name);
    archive_entry_set_size(e, st.st_size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, st.st_mtime, 0);
    if (archive_write_header(a, e) != ARCHIVE_OK) {
        rc = olive_fail(OLIVE_EIO, "packaging: cannot add '%s': %s", path, archive_error_string(a));
        goto out;
    }
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (archive_write_data(a, buf, (size_t)n) != n) {
            rc = olive_fail(OLIVE_EIO, "packaging: cannot write '%s': %s", path, archive_error_string(a));
            goto out;
        }
    if (n < 0)
        rc = olive_fail_errno(errno, "cannot read", path);
out:
    if (fd >= 0)
        close(fd);
    archive_entry_free(e);
    return rc;
}

/* The regular files of the output folder, except hidden ones and the packages themselves. */
static int add_folder(struct archive *a, const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = OLIVE_OK;
    if (!d)
        return olive_fail_errno(errno, "cannot list", dir);
    while (rc == OLIVE_OK && (e = readdir(d))) {
        struct stat st;
        size_t len = strlen(e->d_name);
        char *path, *entry;
        if (e->d_name[0] == '.' || (len > 4 && !strcmp(e->d_name + len - 4, ".zip")) ||
            (len > 8 && !strcmp(e->d_name + len - 8, ".zip.tmp")))
            continue;
        if (!(path = olive_path_join(dir, e->d_name)))
            return closedir(d), OLIVE_ENOMEM;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            entry = olive_asprintf("%s/%s", prefix, e->d_name);
            rc = entry ? add_file(a, path, entry) : OLIVE_ENOMEM;
            free(entry);
        }
        free(path);
    }
    closedir(d);
    return rc;
}

static int write_zip(const char *dir, const char *name)
{
    char *final = olive_asprintf("%s/%s.zip", dir, name), *tmp = olive_asprintf("%s/.%s.zip.tmp", dir, name);
    struct archive *a = archive_write_new();
    struct stat st;
    int rc = OLIVE_OK;
    if (!final || !tmp || !a) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    if (lstat(final, &st) == 0 && !S_ISREG(st.st_mode)) {
        rc = olive_fail(OLIVE_EEXISTS, "packaging_config: '%s' exists and is not a file", final);
        goto out;
    }
    if (archive_write_set_format_zip(a) != ARCHIVE_OK || archive_write_open_filename(a, tmp) != ARCHIVE_OK) {
        rc = olive_fail(OLIVE_EIO, "packaging_config: cannot write '%s': %s", tmp, archive_error_string(a));
        goto out;
    }
    rc = add_folder(a, dir, name);
    if (archive_write_close(a) != ARCHIVE_OK && rc == OLIVE_OK)
        rc = olive_fail(OLIVE_EIO, "packaging_config: cannot write '%s': %s", tmp, archive_error_string(a));
    if (rc == OLIVE_OK && rename(tmp, final) != 0)
        rc = olive_fail_errno(errno, "cannot rename", tmp);
    if (rc != OLIVE_OK)
        unlink(tmp);
    else
        OLIVE_INFO("packaging_config: output packaged in %s", final);
out:
    if (a)
        archive_write_free(a);
    free(final);
    free(tmp);
    return rc;
}
#endif

int wf_package_output(const olive_workflow *w)
{
    const json_t *e;
    if (!w->packaging)
        return OLIVE_OK;
    if (!w->output_dir) {
        OLIVE_WARN("packaging_config: no output_dir, so nothing is packaged");
        return OLIVE_OK;
    }
#ifdef OFMT_HAVE_LIBARCHIVE
    for (size_t i = 0; (e = entry_at(w->packaging, i)); i++)
        OLIVE_TRY(write_zip(w->output_dir, package_name(e)));
    return OLIVE_OK;
#else
    (void)e;
    return olive_fail(OLIVE_EUNSUPPORTED, "packaging_config: Zipfile packaging needs libarchive");
#endif
}
