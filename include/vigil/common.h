/* Shared helpers for every vigil module. */
#ifndef VIGIL_COMMON_H
#define VIGIL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define VG_LIKELY(x)     __builtin_expect(!!(x), 1)
#define VG_UNLIKELY(x)   __builtin_expect(!!(x), 0)
#define VG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define VG_CACHE_LINE    64
#define VG_CACHE_ALIGNED __attribute__((aligned(VG_CACHE_LINE)))

#define VG_VERSION "0.1.0"

/* An IPv4 or IPv6 address in network byte order. IPv4 lives in the first
 * four bytes and the rest is zero, so one comparison works for both. */
struct vg_ip_addr {
    uint8_t b[16];
};

/* Renders an address as text (dotted quad or RFC 5952 IPv6). Returns buf. */
const char *vg_ip_addr_str(const struct vg_ip_addr *a, int family, char *buf, size_t len);

/* Parses "1.2.3.4" or an IPv6 literal. Returns the family (4 or 6) or 0. */
int vg_ip_addr_parse(const char *s, struct vg_ip_addr *out);

/* Formats a packet time (microseconds since the epoch) as Suricata's EVE
 * timestamp, e.g. 2016-01-11T05:10:54.612110+0000. buf needs 32 bytes. */
void vg_format_timestamp(uint64_t ts_us, char *buf, size_t len);

/* Parses a byte size with an optional kb/mb/gb suffix (case-insensitive,
 * powers of 1024). Returns 0 on success. */
int vg_parse_size(const char *s, uint64_t *out);

/* ---- Message digests on the caller's stack ----
 * OpenSSL 3.0's EVP frees and recreates its digest context on every init
 * (one allocation per hash); the packet path uses OpenSSL's low-level MD5,
 * SHA-1 and SHA-256 instead, whose contexts live in this struct. */
enum vg_digest_kind { VG_DIGEST_MD5 = 0, VG_DIGEST_SHA1 = 1, VG_DIGEST_SHA256 = 2 };

struct vg_digest {
    int kind;
    _Alignas(16) uint8_t ctx[128]; /* MD5_CTX, SHA_CTX or SHA256_CTX */
};

void vg_digest_init(struct vg_digest *d, enum vg_digest_kind kind);
void vg_digest_update(struct vg_digest *d, const void *data, size_t len);
/* Writes the digest (16, 20 or 32 bytes) to out; returns its length. */
size_t vg_digest_final(struct vg_digest *d, uint8_t *out);
/* One call: data to its digest. */
size_t vg_digest(enum vg_digest_kind kind, const void *data, size_t len, uint8_t *out);

/* Value of a hexadecimal digit, or -1. */
static inline int vg_hex_value(unsigned c)
{
    if (c >= '0' && c <= '9')
        return (int)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (int)(c - 'A' + 10);
    return -1;
}

#endif
