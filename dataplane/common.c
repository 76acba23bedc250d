/* Small helpers shared by every module: address text, timestamps, sizes. */
#include "vigil/common.h"

/* The low-level digest functions are deprecated in OpenSSL 3.0 in favour of
 * EVP, which allocates per hash (see vigil/common.h). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>
#include <openssl/sha.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *vg_ip_addr_str(const struct vg_ip_addr *a, int family, char *buf, size_t len)
{
    if (family == 6) {
        if (inet_ntop(AF_INET6, a->b, buf, (socklen_t)len) == NULL && len > 0)
            buf[0] = '\0';
    } else {
        if (inet_ntop(AF_INET, a->b, buf, (socklen_t)len) == NULL && len > 0)
            buf[0] = '\0';
    }
    return buf;
}

int vg_ip_addr_parse(const char *s, struct vg_ip_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, s, out->b) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, out->b) == 1)
        return 6;
    return 0;
}

void vg_format_timestamp(uint64_t ts_us, char *buf, size_t len)
{
    time_t secs = (time_t)(ts_us / 1000000u);
    unsigned usec = (unsigned)(ts_us % 1000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* Always UTC: results must not depend on the sensor's time zone. */
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06u+0000", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
}

int vg_parse_size(const char *s, uint64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    uint64_t mult = 1;
    if (*end != '\0') {
        if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kb") == 0 || strcasecmp(end, "kib") == 0)
            mult = 1024ull;
        else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mb") == 0 ||
                 strcasecmp(end, "mib") == 0)
            mult = 1024ull * 1024;
        else if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gb") == 0 ||
                 strcasecmp(end, "gib") == 0)
            mult = 1024ull * 1024 * 1024;
        else if (strcasecmp(end, "b") == 0)
            mult = 1;
        else
            return -1;
    }
    if (mult > 1 && v > UINT64_MAX / mult)
        return -1;
    *out = (uint64_t)v * mult;
    return 0;
}

_Static_assert(sizeof(MD5_CTX) <= sizeof(((struct vg_digest *)0)->ctx), "MD5_CTX fits");
_Static_assert(sizeof(SHA_CTX) <= sizeof(((struct vg_digest *)0)->ctx), "SHA_CTX fits");
_Static_assert(sizeof(SHA256_CTX) <= sizeof(((struct vg_digest *)0)->ctx), "SHA256_CTX fits");

void vg_digest_init(struct vg_digest *d, enum vg_digest_kind kind)
{
    d->kind = kind;
    switch (kind) {
    case VG_DIGEST_MD5:
        MD5_Init((MD5_CTX *)d->ctx);
        break;
    case VG_DIGEST_SHA1:
        SHA1_Init((SHA_CTX *)d->ctx);
        break;
    case VG_DIGEST_SHA256:
        SHA256_Init((SHA256_CTX *)d->ctx);
        break;
    }
}

void vg_digest_update(struct vg_digest *d, const void *data, size_t len)
{
    switch (d->kind) {
    case VG_DIGEST_MD5:
        MD5_Update((MD5_CTX *)d->ctx, data, len);
        break;
    case VG_DIGEST_SHA1:
        SHA1_Update((SHA_CTX *)d->ctx, data, len);
        break;
    case VG_DIGEST_SHA256:
        SHA256_Update((SHA256_CTX *)d->ctx, data, len);
        break;
    }
}

size_t vg_digest_final(struct vg_digest *d, uint8_t *out)
{
    switch (d->kind) {
    case VG_DIGEST_MD5:
        MD5_Final(out, (MD5_CTX *)d->ctx);
        return MD5_DIGEST_LENGTH;
    case VG_DIGEST_SHA1:
        SHA1_Final(out, (SHA_CTX *)d->ctx);
        return SHA_DIGEST_LENGTH;
    case VG_DIGEST_SHA256:
        SHA256_Final(out, (SHA256_CTX *)d->ctx);
        return SHA256_DIGEST_LENGTH;
    }
    return 0;
}

size_t vg_digest(enum vg_digest_kind kind, const void *data, size_t len, uint8_t *out)
{
    struct vg_digest d;
    vg_digest_init(&d, kind);
    vg_digest_update(&d, data, len);
    return vg_digest_final(&d, out);
}
