/* Small text helpers: key=value settings and human-readable numbers. */
#include <string.h>

#include "cli.h"

int cli_split_setting(const char *setting, char *key, size_t key_size, const char **value)
{
    const char *eq = strchr(setting, '=');
    if (!eq || eq == setting)
        return -1;
    size_t len = (size_t)(eq - setting);
    if (len >= key_size)
        return -1;
    memcpy(key, setting, len);
    key[len] = '\0';
    *value = eq + 1;
    return 0;
}

/* Scales `value` by `base` until it is below it; gives the unit index. */
static unsigned scale(uint64_t value, double base, double *scaled)
{
    double v = (double)value;
    unsigned unit = 0;
    while (v >= base && unit < 5) {
        v /= base;
        unit++;
    }
    *scaled = v;
    return unit;
}

const char *cli_format_bytes(char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v;
    unsigned unit = scale(bytes, 1024.0, &v);
    if (unit == 0)
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, size, "%.1f %s", v, units[unit]);
    return buf;
}

const char *cli_format_count(char *buf, size_t size, uint64_t count)
{
    /* Model sizes are quoted as 7B, 125M: thousand-based, no "i". */
    static const char *const units[] = {"", "K", "M", "B", "T", "Q"};
    double v;
    unsigned unit = scale(count, 1000.0, &v);
    if (unit == 0)
        snprintf(buf, size, "%llu", (unsigned long long)count);
    else
        snprintf(buf, size, "%.1f%s", v, units[unit]);
    return buf;
}
