/* BIG-IP fingerprints (parsers/bigip.c): the BIGipServer persistence cookie
 * in all its encodings (F5 K6917), and the management-plane URIs.
 *
 * The cookie leaks the pool name and an internal pool member's address and
 * port; when the member address is private (RFC 1918, RFC 4193, loopback,
 * link-local) the leak is a finding of its own. Pure functions: no state,
 * no allocation. */
#ifndef VIGIL_BIGIP_H
#define VIGIL_BIGIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/common.h"

struct vg_meta_writer;

enum vg_bigip_cookie_format {
    VG_BIGIP_COOKIE_IPV4 = 1,      /* <A>.<P>.0000 */
    VG_BIGIP_COOKIE_IPV4_RD = 2,   /* rd<N>o00000000000000000000ffff<8 hex>o<port> */
    VG_BIGIP_COOKIE_IPV6 = 3,      /* vi<32 hex>.<P> */
    VG_BIGIP_COOKIE_IPV6_RD = 4,   /* rd<N>o<32 hex>o<port> */
    VG_BIGIP_COOKIE_ENCRYPTED = 5, /* !<base64> */
};

#define VG_BIGIP_POOL_MAX 128

struct vg_bigip_cookie {
    uint8_t format; /* enum vg_bigip_cookie_format */
    uint8_t family; /* 4 or 6; 0 when encrypted */
    bool encrypted;
    bool private_member; /* the member address is not routable on the internet */
    bool default_name;   /* the cookie is named BIGipServer<pool> */
    uint16_t port;
    uint32_t route_domain; /* 0: the default route domain */
    struct vg_ip_addr addr;
    uint32_t pool_len;
    char pool[VG_BIGIP_POOL_MAX]; /* pool name from BIGipServer<pool>, cut to fit; NUL-ended */
};

/* Decodes one cookie (name and value as they appear in Cookie or
 * Set-Cookie, value without attributes). A cookie whose name is not
 * BIGipServer* still decodes when its value has one of the grammars (the
 * name can be changed on the appliance). Returns 0 when decoded, -1 when the
 * value is not a BIG-IP persistence cookie (out is then unspecified). */
int vg_bigip_cookie_decode(const uint8_t *name, size_t name_len, const uint8_t *value,
                           size_t value_len, struct vg_bigip_cookie *out);

/* Writes the cookie's members (pool_name, member_ip, member_port,
 * route_domain, cookie_encrypted, private_member, format) into the object
 * open on w. */
void vg_bigip_cookie_encode(const struct vg_bigip_cookie *c, struct vg_meta_writer *w);

/* Management-plane classes of a request path (threat-model section 3.2). */
enum vg_bigip_mgmt {
    VG_BIGIP_MGMT_NONE = 0,
    VG_BIGIP_MGMT_TMUI = 1, /* /tmui/..., /hsqldb */
    VG_BIGIP_MGMT_REST = 2, /* /mgmt/... (iControl REST) */
    VG_BIGIP_MGMT_SOAP = 3, /* /iControl/... */
};

/* Classifies a normalised path (case-insensitive, as the appliance's own
 * matching is). */
enum vg_bigip_mgmt vg_bigip_mgmt_classify(const uint8_t *path, size_t len);
/* "tmui", "icontrol_rest", "icontrol_soap"; NULL for none. */
const char *vg_bigip_mgmt_name(enum vg_bigip_mgmt m);

/* True for a cookie name of the ASM / Advanced WAF kind: TS + 8 hex digits
 * (optionally followed by more characters, as later versions add). */
bool vg_bigip_is_ts_cookie(const uint8_t *name, size_t len);

#endif
