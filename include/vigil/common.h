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

#endif
