/* BIG-IP fingerprints: the persistence cookie's five value grammars (F5
 * K6917 and what appliances send in practice) and the management-plane URI
 * classes.
 *
 * Every grammar is matched whole: a value with anything left after its last
 * field, a decimal field that overflows its type, or a hex field of the wrong
 * length is not a BIG-IP cookie. */
#include <string.h>
#include <strings.h>

#include "vigil/bigip.h"
#include "vigil/meta.h"

#define DEFAULT_PREFIX     "BIGipServer"
#define DEFAULT_PREFIX_LEN (sizeof(DEFAULT_PREFIX) - 1)
#define ADDR_HEX_LEN       32

/* A cursor over the value. */
struct cur {
    const uint8_t *p;
    size_t n;
};

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Reads 1..max_digits decimal digits whose value is at most max. */
static bool take_decimal(struct cur *c, unsigned max_digits, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    unsigned digits = 0;
    while (c->n > 0 && is_digit(c->p[0])) {
        if (++digits > max_digits)
            return false;
        v = v * 10 + (uint64_t)(c->p[0] - '0');
        if (v > max)
            return false;
        c->p++;
        c->n--;
    }
    *out = v;
    return digits > 0;
}

static bool take_char(struct cur *c, uint8_t ch)
{
    if (c->n == 0 || c->p[0] != ch)
        return false;
    c->p++;
    c->n--;
    return true;
}

/* Reads exactly 32 hex digits as 16 bytes in network order; the digit after
 * them must not be hex (a longer field is the wrong length). */
static bool take_addr_hex(struct cur *c, uint8_t out[16])
{
    if (c->n < ADDR_HEX_LEN)
        return false;
    for (unsigned i = 0; i < 16; i++) {
        int hi = vg_hex_value((unsigned char)c->p[2 * i]),
            lo = vg_hex_value((unsigned char)c->p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    c->p += ADDR_HEX_LEN;
    c->n -= ADDR_HEX_LEN;
    return c->n == 0 || vg_hex_value((unsigned char)c->p[0]) < 0;
}

static uint16_t swap16(uint64_t v)
{
    return (uint16_t)((v & 0xff) << 8 | (v >> 8 & 0xff));
}

static bool v4_private(const uint8_t *a)
{
    return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
           (a[0] == 100 && (a[1] & 0xc0) == 64) || a[0] == 127 || (a[0] == 169 && a[1] == 254);
}

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool v6_private(const uint8_t *a)
{
    static const uint8_t loopback[16] = {[15] = 1};
    if ((a[0] & 0xfe) == 0xfc)
        return true; /* fc00::/7 unique local */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return true; /* fe80::/10 link-local */
    if (memcmp(a, loopback, 16) == 0)
        return true;
    return memcmp(a, v4_mapped_prefix, 12) == 0 && v4_private(a + 12);
}

static void set_v4(struct vg_bigip_cookie *out, const uint8_t octets[4])
{
    memset(&out->addr, 0, sizeof(out->addr));
    memcpy(out->addr.b, octets, 4);
    out->family = 4;
    out->private_member = v4_private(octets);
}

/* <A>.<P>.0000: address octets little-endian in A, port byte-swapped. */
static bool decode_ipv4(struct cur c, struct vg_bigip_cookie *out)
{
    uint64_t a, p;
    if (!take_decimal(&c, 10, UINT32_MAX, &a) || !take_char(&c, '.') ||
        !take_decimal(&c, 5, 65535, &p) || !take_char(&c, '.'))
        return false;
    if (c.n != 4 || memcmp(c.p, "0000", 4) != 0)
        return false;
    const uint8_t octets[4] = {(uint8_t)a, (uint8_t)(a >> 8), (uint8_t)(a >> 16),
                               (uint8_t)(a >> 24)};
    set_v4(out, octets);
    out->format = VG_BIGIP_COOKIE_IPV4;
    out->port = swap16(p);
    return true;
}

/* rd<N>o<32 hex>o<port>: address in network order, port plain decimal. An
 * IPv4-mapped address is the IPv4 route-domain form. */
static bool decode_rd(struct cur c, struct vg_bigip_cookie *out)
{
    uint64_t rd, p;
    uint8_t a[16];
    if (!take_char(&c, 'r') || !take_char(&c, 'd') || !take_decimal(&c, 10, UINT32_MAX, &rd) ||
        !take_char(&c, 'o') || !take_addr_hex(&c, a) || !take_char(&c, 'o') ||
        !take_decimal(&c, 5, 65535, &p) || c.n != 0)
        return false;
    if (memcmp(a, v4_mapped_prefix, 12) == 0) {
        set_v4(out, a + 12);
        out->format = VG_BIGIP_COOKIE_IPV4_RD;
    } else {
        memcpy(out->addr.b, a, 16);
        out->family = 6;
        out->private_member = v6_private(a);
        out->format = VG_BIGIP_COOKIE_IPV6_RD;
    }
    out->route_domain = (uint32_t)rd;
    out->port = (uint16_t)p;
    return true;
}

/* vi<32 hex>.<P>: address in network order, port byte-swapped. */
static bool decode_ipv6(struct cur c, struct vg_bigip_cookie *out)
{
    uint64_t p;
    uint8_t a[16];
    if (!take_char(&c, 'v') || !take_char(&c, 'i') || !take_addr_hex(&c, a) ||
        !take_char(&c, '.') || !take_decimal(&c, 5, 65535, &p) || c.n != 0)
        return false;
    memcpy(out->addr.b, a, 16);
    out->family = 6;
    out->private_member = v6_private(a);
    out->format = VG_BIGIP_COOKIE_IPV6;
    out->port = swap16(p);
    return true;
}

static bool is_base64_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '+' || c == '/';
}

/* !<base64>: AES-encrypted, undecodable, but still a BIG-IP. */
static bool decode_encrypted(struct cur c, struct vg_bigip_cookie *out)
{
    if (!take_char(&c, '!'))
        return false;
    size_t chars = 0;
    while (c.n > 0 && is_base64_char(c.p[0])) {
        chars++;
        c.p++;
        c.n--;
    }
    size_t pad = 0;
    while (c.n > 0 && c.p[0] == '=' && pad < 2) {
        pad++;
        c.p++;
        c.n--;
    }
    if (chars == 0 || c.n != 0)
        return false;
    out->format = VG_BIGIP_COOKIE_ENCRYPTED;
    out->encrypted = true;
    return true;
}

int vg_bigip_cookie_decode(const uint8_t *name, size_t name_len, const uint8_t *value,
                           size_t value_len, struct vg_bigip_cookie *out)
{
    memset(out, 0, sizeof(*out));
    if (value == NULL || value_len == 0)
        return -1;
    struct cur c = {value, value_len};
    bool ok;
    switch (value[0]) {
    case '!':
        ok = decode_encrypted(c, out);
        break;
    case 'r':
        ok = decode_rd(c, out);
        break;
    case 'v':
        ok = decode_ipv6(c, out);
        break;
    default:
        ok = decode_ipv4(c, out);
        break;
    }
    if (!ok)
        return -1;
    if (name != NULL && name_len >= DEFAULT_PREFIX_LEN &&
        strncasecmp((const char *)name, DEFAULT_PREFIX, DEFAULT_PREFIX_LEN) == 0) {
        out->default_name = true;
        size_t n = name_len - DEFAULT_PREFIX_LEN;
        if (n > VG_BIGIP_POOL_MAX - 1)
            n = VG_BIGIP_POOL_MAX - 1;
        memcpy(out->pool, name + DEFAULT_PREFIX_LEN, n);
        out->pool[n] = '\0';
        out->pool_len = (uint32_t)n;
    }
    return 0;
}

static const char *format_name(uint8_t f)
{
    switch (f) {
    case VG_BIGIP_COOKIE_IPV4:
        return "ipv4";
    case VG_BIGIP_COOKIE_IPV4_RD:
        return "ipv4_rd";
    case VG_BIGIP_COOKIE_IPV6:
        return "ipv6";
    case VG_BIGIP_COOKIE_IPV6_RD:
        return "ipv6_rd";
    case VG_BIGIP_COOKIE_ENCRYPTED:
        return "encrypted";
    default:
        return "unknown";
    }
}

void vg_bigip_cookie_encode(const struct vg_bigip_cookie *c, struct vg_meta_writer *w)
{
    if (c->default_name && c->pool_len > 0)
        vg_meta_str(w, "pool_name", c->pool, c->pool_len);
    if (!c->encrypted) {
        char ip[64];
        vg_meta_cstr(w, "member_ip", vg_ip_addr_str(&c->addr, c->family, ip, sizeof(ip)));
        vg_meta_uint(w, "member_port", c->port);
        vg_meta_uint(w, "route_domain", c->route_domain);
    }
    vg_meta_bool(w, "cookie_encrypted", c->encrypted);
    if (!c->encrypted)
        vg_meta_bool(w, "private_member", c->private_member);
    vg_meta_cstr(w, "format", format_name(c->format));
}

/* Case-insensitive prefix test. */
static bool has_prefix(const uint8_t *p, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && strncasecmp((const char *)p, prefix, k) == 0;
}

static bool equals(const uint8_t *p, size_t n, const char *s)
{
    return n == strlen(s) && strncasecmp((const char *)p, s, n) == 0;
}

enum vg_bigip_mgmt vg_bigip_mgmt_classify(const uint8_t *path, size_t len)
{
    if (path == NULL || len == 0 || path[0] != '/')
        return VG_BIGIP_MGMT_NONE;
    /* /hsqldb is TMUI's database servlet: /hsqldb; and the decoded /hsqldb%0a
     * of CVE-2020-5902 reach it too, so any path starting so counts. */
    if (has_prefix(path, len, "/tmui/") || equals(path, len, "/tmui") ||
        has_prefix(path, len, "/hsqldb"))
        return VG_BIGIP_MGMT_TMUI;
    if (has_prefix(path, len, "/mgmt/") || equals(path, len, "/mgmt"))
        return VG_BIGIP_MGMT_REST;
    if (has_prefix(path, len, "/icontrol/"))
        return VG_BIGIP_MGMT_SOAP;
    return VG_BIGIP_MGMT_NONE;
}

const char *vg_bigip_mgmt_name(enum vg_bigip_mgmt m)
{
    switch (m) {
    case VG_BIGIP_MGMT_TMUI:
        return "tmui";
    case VG_BIGIP_MGMT_REST:
        return "icontrol_rest";
    case VG_BIGIP_MGMT_SOAP:
        return "icontrol_soap";
    default:
        return NULL;
    }
}

bool vg_bigip_is_ts_cookie(const uint8_t *name, size_t len)
{
    if (name == NULL || len < 10 || name[0] != 'T' || name[1] != 'S')
        return false;
    for (size_t i = 2; i < 10; i++)
        if (vg_hex_value((unsigned char)name[i]) < 0)
            return false;
    return true;
}
