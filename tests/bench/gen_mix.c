/*
 * gen_mix: writes a classic pcap (Ethernet, microsecond timestamps) holding a large synthetic
 * traffic mix for throughput measurements: thousands of interleaved flows of HTTP/1.1, TLS
 * (1.2 and 1.3) and DNS over UDP, some of them over IPv6 and some 802.1Q-tagged. Every packet
 * is well formed: three-way handshakes, consistent sequence and acknowledgement numbers, FIN or
 * RST closes, valid IPv4/TCP/UDP checksums. Output depends only on the arguments (the seed).
 *
 * Addresses come from 10.0.0.0/8 (clients), 192.0.2.0/24 and 198.51.100.0/24 (servers) and
 * 2001:db8::/32 (IPv6). Hostnames and URIs are benign: the mix also serves to check that the
 * shipped rules raise no false positives.
 *
 * Interleaving: every flow keeps its own virtual clock (round trips, server think time,
 * serialisation at the flow's bottleneck rate, slow start windows) and a heap always emits the
 * packet of the flow whose virtual time is earliest. Capture timestamps come from a separate
 * wire clock advancing at the target link rate, so the file holds a steady rate whatever the
 * concurrency.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FRAME       1600
#define MIN_FRAME       60 /* Ethernet minimum without FCS: shorter frames are padded */
#define FLOW_BUF        1536
#define OUT_BUF         (16u << 20)
#define POOL_BITS       20
#define POOL_SIZE       (1u << POOL_BITS)
#define N_CLIENTS       20000
#define CAPTURE_EPOCH   1717243200u /* 2024-06-01 12:00:00 UTC */
#define WIRE_OVERHEAD   24u         /* preamble, inter-frame gap and FCS per frame */
#define CWND_INITIAL    10
#define CWND_MAX        256
#define CHANCE(per_mil) (rng_below(1000) < (per_mil))

enum { C2S = 0, S2C = 1 };
enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10 };
enum flow_kind { KIND_HTTP, KIND_TLS, KIND_DNS, KIND_COUNT };
static const char *const kind_names[KIND_COUNT] = {"http", "tls", "dns"};

/* Share of new flows per kind, per mille. */
static const uint32_t kind_weights[KIND_COUNT] = {430, 370, 200};

/* ------------------------------------------------------------------------------------------ */
/* Random numbers: xoshiro256** seeded through splitmix64. */

static uint64_t rng_state[4];

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng_state[i] = splitmix64(&seed);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(void)
{
    uint64_t *s = rng_state;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

/* Uniform in [0, n). */
static inline uint32_t rng_below(uint32_t n)
{
    return (uint32_t)(((rng_next() >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static inline uint32_t rng_range(uint32_t lo, uint32_t hi)
{
    return lo + rng_below(hi - lo + 1);
}

/* Log-uniform in [2^lo_exp, 2^hi_exp): sizes and delays spread over orders of magnitude. */
static uint64_t rng_octaves(unsigned lo_exp, unsigned hi_exp)
{
    unsigned e = lo_exp + rng_below(hi_exp - lo_exp);
    return (1ull << e) + (rng_next() & ((1ull << e) - 1));
}

static void rng_fill(uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint64_t v = rng_next();
        memcpy(p, &v, 8);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = rng_next();
        memcpy(p, &v, n);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Byte helpers. */

static inline void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void put24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void die(const char *msg)
{
    fprintf(stderr, "gen_mix: %s\n", msg);
    exit(1);
}

/* A growable-within-capacity byte buffer used to assemble messages. */
struct sbuf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

static void sb_put(struct sbuf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap)
        die("message buffer overflow");
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void sb_u8(struct sbuf *b, uint32_t v)
{
    uint8_t c = (uint8_t)v;
    sb_put(b, &c, 1);
}

static void sb_u16(struct sbuf *b, uint32_t v)
{
    uint8_t c[2];
    put16(c, v);
    sb_put(b, c, 2);
}

static void sb_u32(struct sbuf *b, uint32_t v)
{
    uint8_t c[4];
    put32(c, v);
    sb_put(b, c, 4);
}

static void sb_random(struct sbuf *b, size_t n)
{
    if (b->len + n > b->cap)
        die("message buffer overflow");
    rng_fill(b->p + b->len, n);
    b->len += n;
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len)
        die("message buffer overflow");
    b->len += (size_t)n;
}

/* Writes a 16-bit big-endian length at `at` covering everything appended after at + 2. */
static void sb_patch16(struct sbuf *b, size_t at)
{
    put16(b->p + at, (uint32_t)(b->len - at - 2));
}

static void sb_patch24(struct sbuf *b, size_t at)
{
    put24(b->p + at, (uint32_t)(b->len - at - 3));
}

/* ------------------------------------------------------------------------------------------ */
/* Internet checksum (RFC 1071). Words are loaded in host order and the folded sum is stored in
 * host order, which gives the right bytes on the wire whatever the endianness. */

static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        sum += (w & 0xffffffffu) + (w >> 32);
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        sum += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        sum += w;
        p += 2;
        len -= 2;
    }
    if (len) {
        uint16_t w = 0;
        memcpy(&w, p, 1);
        sum += w;
    }
    return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* ------------------------------------------------------------------------------------------ */
/* Content pools: bodies are slices of these, copied straight into segments. */

enum pool_id { POOL_HTML, POOL_CODE, POOL_JSON, POOL_BINARY, POOL_COUNT };
static uint8_t *pools[POOL_COUNT];

static const char *const words[] = {
    "lorem",    "ipsum",    "dolor",    "sit",     "amet",    "consectetur", "adipiscing",
    "elit",     "sed",      "do",       "eiusmod", "tempor",  "incididunt",  "labore",
    "magna",    "aliqua",   "enim",     "minim",   "veniam",  "quis",        "nostrud",
    "weather",  "forecast", "garden",   "recipe",  "travel",  "library",     "morning",
    "market",   "river",    "mountain", "coffee",  "bicycle", "concert",     "museum",
    "schedule", "report",   "summary",  "update",  "project", "meeting",     "holiday",
    "station",  "orchard",  "harbour",  "lantern", "meadow",  "violet",      "amber",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

static const char *word(void)
{
    return words[rng_below(N_WORDS)];
}

static void pool_fill_text(uint8_t *dst, int kind)
{
    char line[512];
    size_t off = 0;
    while (off < POOL_SIZE) {
        int n = 0;
        uint32_t r = rng_below(8);
        if (kind == POOL_HTML) {
            switch (r) {
            case 0:
                n = snprintf(line, sizeof line, "<div class=\"card %s\">\n", word());
                break;
            case 1:
            case 2: {
                n = snprintf(line, sizeof line, "<p>");
                for (uint32_t i = 0, w = rng_range(8, 30); i < w; i++)
                    n += snprintf(line + n, sizeof line - (size_t)n, "%s%s", i ? " " : "", word());
                n += snprintf(line + n, sizeof line - (size_t)n, ".</p>\n");
                break;
            }
            case 3:
                n = snprintf(line, sizeof line,
                             "<a href=\"/news/2024/%02u/%s-%u.html\">%s %s</a>\n", rng_range(1, 12),
                             word(), rng_below(100000), word(), word());
                break;
            case 4:
                n = snprintf(line, sizeof line,
                             "<img src=\"/images/gallery/%u.jpg\" alt=\"%s\" loading=\"lazy\">\n",
                             rng_below(100000), word());
                break;
            case 5:
                n = snprintf(line, sizeof line, "<li class=\"nav-item\"><span>%s</span></li>\n",
                             word());
                break;
            case 6:
                n = snprintf(line, sizeof line,
                             "<h2>%s %s</h2>\n<span class=\"date\">2024-05-%02u</span>\n", word(),
                             word(), rng_range(1, 28));
                break;
            default:
                n = snprintf(line, sizeof line, "</div>\n");
                break;
            }
        } else if (kind == POOL_CODE) {
            switch (r) {
            case 0:
            case 1:
                n = snprintf(line, sizeof line,
                             "function update_%s(a, b) {\n  return a + b * %u;\n}\n", word(),
                             rng_below(1000));
                break;
            case 2:
                n = snprintf(line, sizeof line, "const %sList = [%u, %u, %u];\n", word(),
                             rng_below(999), rng_below(999), rng_below(999));
                break;
            case 3:
            case 4:
                n = snprintf(line, sizeof line, ".%s-%s { margin: %upx %upx; color: #%06x; }\n",
                             word(), word(), rng_below(32), rng_below(32), rng_below(1u << 24));
                break;
            case 5:
                n = snprintf(line, sizeof line,
                             "export const %s = { name: \"%s\", version: \"%u.%u.%u\" };\n", word(),
                             word(), rng_below(10), rng_below(30), rng_below(100));
                break;
            case 6:
                n = snprintf(line, sizeof line, "  el.classList.toggle(\"%s-%s\", state.%s);\n",
                             word(), word(), word());
                break;
            default:
                n = snprintf(line, sizeof line,
                             "@media (max-width: %upx) { .%s { display: none; } }\n",
                             rng_range(320, 1200), word());
                break;
            }
        } else {
            n = snprintf(line, sizeof line,
                         "{\"id\":%u,\"name\":\"%s %s\",\"price\":%u.%02u,\"tags\":[\"%s\",\"%s\"],"
                         "\"in_stock\":%s},\n",
                         rng_below(1000000), word(), word(), rng_below(500), rng_below(100), word(),
                         word(), CHANCE(700) ? "true" : "false");
        }
        if (n <= 0)
            continue;
        size_t take = (size_t)n < POOL_SIZE - off ? (size_t)n : POOL_SIZE - off;
        memcpy(dst + off, line, take);
        off += take;
    }
}

static void pools_init(void)
{
    for (int i = 0; i < POOL_COUNT; i++) {
        pools[i] = malloc(POOL_SIZE);
        if (!pools[i])
            die("out of memory");
        if (i == POOL_BINARY)
            rng_fill(pools[i], POOL_SIZE);
        else
            pool_fill_text(pools[i], i);
    }
}

static void pool_copy(int pool, uint32_t off, uint8_t *dst, uint32_t n)
{
    const uint8_t *src = pools[pool];
    off &= POOL_SIZE - 1;
    while (n) {
        uint32_t take = POOL_SIZE - off < n ? POOL_SIZE - off : n;
        memcpy(dst, src + off, take);
        dst += take;
        n -= take;
        off = 0;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Hosts. Each one has fixed addresses, so DNS answers agree with the flows to the host. */

struct host {
    const char *name;
    const char *server; /* HTTP Server header */
    const char *cname;  /* DNS answers go through this alias when set */
    bool internal;      /* short round trips */
    uint8_t ip4[4];
    uint8_t ip6[16];
    uint8_t ttl;       /* remaining IP TTL of its packets when they reach the sensor */
    uint8_t *tls_blob; /* TLS 1.2 Certificate, ServerKeyExchange, ServerHelloDone records */
    uint32_t tls_blob_len;
};

#define HOST(n, srv, alias, intern)                                                                \
    {                                                                                              \
        .name = n, .server = srv, .cname = alias, .internal = intern                               \
    }
static struct host hosts[] = {
    HOST("www.example.com", "nginx", "www.example.com.edge.example.net", false),
    HOST("static.example.com", "nginx", "static.cdn.example.net", false),
    HOST("cdn.example.net", "ExampleCDN", NULL, false),
    HOST("img.example.net", "ExampleCDN", NULL, false),
    HOST("api.example.org", "nginx", NULL, false),
    HOST("news.example.org", "Apache", NULL, false),
    HOST("shop.example.com", "nginx", "shop.example.com.edge.example.net", false),
    HOST("docs.example.org", "Apache", NULL, false),
    HOST("mail.example.com", "nginx", NULL, false),
    HOST("video.example.net", "ExampleCDN", "video.cdn.example.net", false),
    HOST("updates.example.com", "nginx", NULL, false),
    HOST("download.example.net", "ExampleCDN", NULL, false),
    HOST("maps.example.org", "nginx", NULL, false),
    HOST("weather.example.net", "nginx", NULL, false),
    HOST("blog.example.com", "Apache", NULL, false),
    HOST("forum.example.org", "nginx", NULL, false),
    HOST("media.example.net", "ExampleCDN", "media.cdn.example.net", false),
    HOST("fonts.example.net", "ExampleCDN", NULL, false),
    HOST("calendar.example.com", "nginx", NULL, false),
    HOST("files.example.org", "nginx", NULL, false),
    HOST("status.example.net", "nginx", NULL, false),
    HOST("time.example.org", "nginx", NULL, false),
    HOST("portal.corp.example", "Apache", NULL, true),
    HOST("wiki.corp.example", "Apache", NULL, true),
    HOST("intranet.corp.example", "nginx", NULL, true),
    HOST("git.corp.example", "nginx", NULL, true),
    HOST("tickets.corp.example", "nginx", NULL, true),
    HOST("reports.corp.example", "Apache", NULL, true),
};
#define N_HOSTS (sizeof(hosts) / sizeof(hosts[0]))

/* Names that do not resolve (NXDOMAIN), as seen from any office network. */
static const char *const missing_names[] = {
    "wpad.corp.example", "printer-2.corp.example", "old-intranet.corp.example",
    "nas.corp.example",  "isatap.corp.example",    "scanner-4.corp.example",
};
#define N_MISSING (sizeof(missing_names) / sizeof(missing_names[0]))

static const uint8_t resolver4[2][4] = {{192, 0, 2, 53}, {198, 51, 100, 53}};
static const uint8_t resolver6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x53, 0, 0,
                                      0,    0,    0,    0,    0, 0,    0, 0x53};

/* ------------------------------------------------------------------------------------------ */
/* DER certificates, so that the TLS 1.2 Certificate messages decode like real ones. */

/* Wraps everything appended since `start` into one TLV with the given tag (minimal length). */
static void der_wrap(struct sbuf *b, size_t start, uint8_t tag)
{
    size_t clen = b->len - start;
    uint8_t hdr[4];
    size_t hl = 0;
    hdr[hl++] = tag;
    if (clen < 0x80) {
        hdr[hl++] = (uint8_t)clen;
    } else if (clen < 0x100) {
        hdr[hl++] = 0x81;
        hdr[hl++] = (uint8_t)clen;
    } else {
        hdr[hl++] = 0x82;
        hdr[hl++] = (uint8_t)(clen >> 8);
        hdr[hl++] = (uint8_t)clen;
    }
    if (b->len + hl > b->cap)
        die("certificate buffer overflow");
    memmove(b->p + start + hl, b->p + start, clen);
    memcpy(b->p + start, hdr, hl);
    b->len += hl;
}

static void der_string(struct sbuf *b, uint8_t tag, const char *s)
{
    size_t start = b->len;
    sb_str(b, s);
    der_wrap(b, start, tag);
}

/* One RelativeDistinguishedName with one attribute of the 2.5.4.x arc. */
static void der_rdn(struct sbuf *b, uint8_t attr, uint8_t str_tag, const char *value)
{
    size_t start = b->len;
    const uint8_t oid[] = {0x06, 0x03, 0x55, 0x04, attr};
    sb_put(b, oid, sizeof oid);
    der_string(b, str_tag, value);
    der_wrap(b, start, 0x30);
    der_wrap(b, start, 0x31);
}

static void der_name(struct sbuf *b, const char *cn, const char *org)
{
    size_t start = b->len;
    der_rdn(b, 0x06, 0x13, "US");
    der_rdn(b, 0x0a, 0x0c, org);
    der_rdn(b, 0x03, 0x0c, cn);
    der_wrap(b, start, 0x30);
}

static const uint8_t der_sha256_rsa[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                         0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
static const uint8_t der_rsa_key[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                      0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

static void der_certificate(struct sbuf *b, const char *subject, const char *subject_org,
                            const char *issuer, const char *san, bool ca)
{
    size_t cert = b->len;
    size_t tbs = b->len;
    const uint8_t version[] = {0xa0, 0x03, 0x02, 0x01, 0x02};
    sb_put(b, version, sizeof version);

    size_t serial = b->len;
    sb_random(b, 16);
    b->p[serial] = (uint8_t)((b->p[serial] & 0x3f) | 0x10);
    der_wrap(b, serial, 0x02);

    sb_put(b, der_sha256_rsa, sizeof der_sha256_rsa);
    der_name(b, issuer, "Example Trust Services");

    size_t validity = b->len;
    der_string(b, 0x17, "240415000000Z");
    der_string(b, 0x17, "250515235959Z");
    der_wrap(b, validity, 0x30);

    der_name(b, subject, subject_org);

    size_t spki = b->len;
    sb_put(b, der_rsa_key, sizeof der_rsa_key);
    size_t bits = b->len;
    sb_u8(b, 0);
    size_t rsa = b->len;
    size_t modulus = b->len;
    sb_u8(b, 0);
    sb_random(b, 256);
    b->p[modulus + 1] |= 0x80;
    b->p[b->len - 1] |= 0x01;
    der_wrap(b, modulus, 0x02);
    const uint8_t exponent[] = {0x02, 0x03, 0x01, 0x00, 0x01};
    sb_put(b, exponent, sizeof exponent);
    der_wrap(b, rsa, 0x30);
    der_wrap(b, bits, 0x03);
    der_wrap(b, spki, 0x30);

    size_t exts = b->len;
    size_t ext_list = b->len;
    size_t bc = b->len;
    const uint8_t bc_oid[] = {0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff};
    sb_put(b, bc_oid, sizeof bc_oid);
    size_t bc_val = b->len;
    size_t bc_seq = b->len;
    if (ca) {
        const uint8_t is_ca[] = {0x01, 0x01, 0xff};
        sb_put(b, is_ca, sizeof is_ca);
    }
    der_wrap(b, bc_seq, 0x30);
    der_wrap(b, bc_val, 0x04);
    der_wrap(b, bc, 0x30);
    if (san) {
        size_t ext = b->len;
        const uint8_t san_oid[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
        sb_put(b, san_oid, sizeof san_oid);
        size_t val = b->len;
        size_t names = b->len;
        der_string(b, 0x82, san);
        der_wrap(b, names, 0x30);
        der_wrap(b, val, 0x04);
        der_wrap(b, ext, 0x30);
    }
    der_wrap(b, ext_list, 0x30);
    der_wrap(b, exts, 0xa3);
    der_wrap(b, tbs, 0x30);

    sb_put(b, der_sha256_rsa, sizeof der_sha256_rsa);
    size_t sig = b->len;
    sb_u8(b, 0);
    sb_random(b, 256);
    der_wrap(b, sig, 0x03);
    der_wrap(b, cert, 0x30);
}

/* TLS 1.2 server records after the ServerHello: Certificate (leaf and intermediate),
 * ServerKeyExchange (ECDHE x25519, RSA-PSS signature), ServerHelloDone. */
static void host_build_tls_blob(struct host *h)
{
    static uint8_t scratch[8192];
    struct sbuf b = {scratch, 0, sizeof scratch};

    sb_put(&b, "\x16\x03\x03", 3);
    size_t rec = b.len;
    sb_u16(&b, 0);
    sb_u8(&b, 0x0b);
    size_t hs = b.len;
    sb_put(&b, "\0\0\0", 3);
    size_t list = b.len;
    sb_put(&b, "\0\0\0", 3);
    size_t c1 = b.len;
    sb_put(&b, "\0\0\0", 3);
    der_certificate(&b, h->name, "Example Services", "Example TLS Issuing CA", h->name, false);
    sb_patch24(&b, c1);
    size_t c2 = b.len;
    sb_put(&b, "\0\0\0", 3);
    der_certificate(&b, "Example TLS Issuing CA", "Example Trust Services", "Example Root CA", NULL,
                    true);
    sb_patch24(&b, c2);
    sb_patch24(&b, list);
    sb_patch24(&b, hs);
    sb_patch16(&b, rec);

    sb_put(&b, "\x16\x03\x03", 3);
    rec = b.len;
    sb_u16(&b, 0);
    sb_u8(&b, 0x0c);
    hs = b.len;
    sb_put(&b, "\0\0\0", 3);
    sb_put(&b, "\x03\x00\x1d\x20", 4);
    sb_random(&b, 32);
    sb_put(&b, "\x08\x04\x01\x00", 4);
    sb_random(&b, 256);
    sb_patch24(&b, hs);
    sb_patch16(&b, rec);

    sb_put(&b, "\x16\x03\x03\x00\x04\x0e\x00\x00\x00", 9);

    h->tls_blob = malloc(b.len);
    if (!h->tls_blob)
        die("out of memory");
    memcpy(h->tls_blob, b.p, b.len);
    h->tls_blob_len = (uint32_t)b.len;
}

static void hosts_init(void)
{
    static const uint8_t remote_ttls[] = {52, 55, 57, 116, 119, 243};
    for (size_t i = 0; i < N_HOSTS; i++) {
        struct host *h = &hosts[i];
        if (i % 2 == 0)
            memcpy(h->ip4, (uint8_t[]){192, 0, 2, (uint8_t)(10 + i)}, 4);
        else
            memcpy(h->ip4, (uint8_t[]){198, 51, 100, (uint8_t)(10 + i)}, 4);
        const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x02, 0x00, 0, 0,
                                 0,    0,    0,    0,    0,    0,    0, (uint8_t)(10 + i)};
        memcpy(h->ip6, ip6, 16);
        h->ttl = h->internal ? 62 : remote_ttls[rng_below(sizeof remote_ttls)];
        host_build_tls_blob(h);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Clients: fixed address, MAC, VLAN, operating system traits, sequential ephemeral ports. */

enum client_os { OS_LINUX, OS_WINDOWS, OS_MACOS, OS_ANDROID, OS_COUNT };

static const char *const user_agents[OS_COUNT] = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.6422.113 Mobile Safari/537.36",
};

static uint16_t client_port_next[N_CLIENTS];

static void clients_init(void)
{
    for (uint32_t c = 0; c < N_CLIENTS; c++)
        client_port_next[c] = (uint16_t)(c % OS_COUNT == OS_WINDOWS ? rng_range(49152, 65000)
                                                                    : rng_range(32768, 60000));
}

static uint16_t client_take_port(uint32_t c)
{
    uint16_t p = client_port_next[c];
    bool windows = c % OS_COUNT == OS_WINDOWS;
    uint16_t lo = windows ? 49152 : 32768, hi = windows ? 65535 : 60999;
    client_port_next[c] = p >= hi ? lo : (uint16_t)(p + 1);
    return p;
}

static uint16_t client_vlan(uint32_t c)
{
    /* One office in ten sits behind a trunk whose mirror keeps the 802.1Q tag. */
    return c % 10 == 7 ? (uint16_t)(100 * (1 + (c / 10) % 3)) : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP content types. */

enum content_type {
    CT_HTML,
    CT_JS,
    CT_CSS,
    CT_JSON,
    CT_JPEG,
    CT_PNG,
    CT_WEBP,
    CT_ICON,
    CT_FONT,
    CT_PDF,
    CT_VIDEO,
    CT_TEXT,
    CT_BINARY,
    CT_COUNT
};

struct content_info {
    const char *mime;
    uint8_t pool;
    uint8_t lo_exp, hi_exp; /* body size is log-uniform in [2^lo, 2^hi) */
    uint16_t weight;        /* per mille of requests */
    const char *magic;
    uint8_t magic_len;
};

#define MAGIC(s) s, (uint8_t)(sizeof(s) - 1)
static const struct content_info content[CT_COUNT] = {
    [CT_HTML] = {"text/html; charset=utf-8", POOL_HTML, 10, 15, 140,
                 MAGIC("<!DOCTYPE html>\n<html lang=\"en\">\n")},
    [CT_JS] = {"application/javascript", POOL_CODE, 9, 16, 110, MAGIC("\"use strict\";\n")},
    [CT_CSS] = {"text/css", POOL_CODE, 9, 14, 70, MAGIC(":root { --accent: #2a6df4; }\n")},
    [CT_JSON] = {"application/json", POOL_JSON, 6, 12, 260, MAGIC("{\"items\":[")},
    [CT_JPEG] = {"image/jpeg", POOL_BINARY, 10, 17, 140, MAGIC("\xff\xd8\xff\xe0\x00\x10JFIF\x00")},
    [CT_PNG] = {"image/png", POOL_BINARY, 8, 14, 100, MAGIC("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")},
    [CT_WEBP] = {"image/webp", POOL_BINARY, 10, 15, 60, MAGIC("RIFF\x00\x10\x00\x00WEBPVP8 ")},
    [CT_ICON] = {"image/x-icon", POOL_BINARY, 9, 12, 40, MAGIC("\x00\x00\x01\x00\x01\x00")},
    [CT_FONT] = {"font/woff2", POOL_BINARY, 13, 16, 30, MAGIC("wOF2\x00\x01\x00\x00")},
    [CT_PDF] = {"application/pdf", POOL_BINARY, 16, 20, 5, MAGIC("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")},
    [CT_VIDEO] = {"video/mp2t", POOL_BINARY, 16, 19, 8, MAGIC("\x47\x40\x00\x10\x00")},
    [CT_TEXT] = {"text/plain; charset=utf-8", POOL_HTML, 7, 10, 10, MAGIC("User-agent: *\n")},
    [CT_BINARY] = {"application/octet-stream", POOL_BINARY, 13, 18, 12, MAGIC("\x7f\x45\x4c\x46")},
};

static enum content_type pick_content_type(void)
{
    uint32_t r = rng_below(1000), acc = 0;
    for (int i = 0; i < CT_COUNT; i++) {
        acc += content[i].weight;
        if (r < acc)
            return (enum content_type)i;
    }
    return CT_JSON;
}

static uint32_t content_size(enum content_type t)
{
    const struct content_info *ci = &content[t];
    uint32_t n = (uint32_t)rng_octaves(ci->lo_exp, ci->hi_exp);
    return n < ci->magic_len ? ci->magic_len : n;
}

static void put_uri(struct sbuf *b, enum content_type t)
{
    static const char *const sections[] = {"news", "products", "guides", "events", "sport"};
    static const char *const bundles[] = {"main", "vendor", "runtime", "app", "polyfills"};
    static const char *const apis[] = {"items", "news", "products", "comments", "notifications"};
    static const char *const cities[] = {"oslo", "lisbon", "nairobi", "lima", "osaka", "perth"};
    static const char *const fonts[] = {"roboto", "inter", "noto-sans", "source-serif"};
    switch (t) {
    case CT_HTML:
        switch (rng_below(5)) {
        case 0:
            sb_str(b, "/");
            break;
        case 1:
            sb_printf(b, "/%s/2024/%02u/%s-%s-%u.html", sections[rng_below(5)], rng_range(1, 6),
                      word(), word(), rng_below(100000));
            break;
        case 2:
            sb_printf(b, "/search?q=%s+%s&page=%u", word(), word(), rng_range(1, 5));
            break;
        case 3:
            sb_printf(b, "/%s/", sections[rng_below(5)]);
            break;
        default:
            sb_printf(b, "/docs/guide/%s.html", word());
            break;
        }
        break;
    case CT_JS:
        sb_printf(b, "/static/js/%s.%08x.js", bundles[rng_below(5)], (uint32_t)rng_next());
        break;
    case CT_CSS:
        sb_printf(b, "/static/css/%s.%08x.css", bundles[rng_below(5)], (uint32_t)rng_next());
        break;
    case CT_JSON:
        if (CHANCE(200))
            sb_printf(b, "/api/v2/weather?city=%s&units=metric", cities[rng_below(6)]);
        else
            sb_printf(b, "/api/v1/%s?page=%u&limit=%u", apis[rng_below(5)], rng_range(1, 20),
                      10u << rng_below(4));
        break;
    case CT_JPEG:
        sb_printf(b, "/images/%s/%u.jpg", sections[rng_below(5)], rng_below(1000000));
        break;
    case CT_PNG:
        sb_printf(b, "/img/icons/%s-%ux%u.png", word(), 16u << rng_below(4), 16u << rng_below(4));
        break;
    case CT_WEBP:
        sb_printf(b, "/img/thumbs/%u.webp", rng_below(1000000));
        break;
    case CT_ICON:
        sb_str(b, "/favicon.ico");
        break;
    case CT_FONT:
        sb_printf(b, "/fonts/%s-%s.woff2", fonts[rng_below(4)], CHANCE(500) ? "regular" : "bold");
        break;
    case CT_PDF:
        sb_printf(b, "/downloads/%s-handbook-v%u.%u.pdf", word(), rng_range(1, 9), rng_below(10));
        break;
    case CT_VIDEO:
        sb_printf(b, "/video/hls/%u/720p/segment-%05u.ts", rng_below(10000), rng_below(2000));
        break;
    case CT_TEXT:
        sb_str(b, "/robots.txt");
        break;
    default:
        sb_printf(b, "/updates/packages/%s-%u.%u.%u.bin", word(), rng_below(10), rng_below(30),
                  rng_below(100));
        break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Flows. */

/* A message is the byte stream one side sends in one go (an HTTP request or response, a TLS
 * flight): up to four literal pieces followed by a body that is generated while segmenting. */
enum body_kind { BODY_NONE, BODY_PLAIN, BODY_CHUNKED, BODY_TLS_RECORDS };

struct piece {
    const uint8_t *p;
    uint32_t len;
};

struct message {
    struct piece pieces[4];
    uint8_t npieces;
    uint8_t dir;
    uint8_t body_kind;
    uint8_t pool;
    uint8_t magic_len;
    const char *magic;
    uint32_t body_len; /* payload bytes of the body, excluding chunk or record framing */
    uint32_t frame;    /* chunk size or record payload size */
    uint32_t pool_off;
    uint32_t total; /* bytes on the stream, framing included */
    uint32_t sent;
};

enum tcp_state {
    ST_SYN,
    ST_SYN_ACK,
    ST_HANDSHAKE_ACK,
    ST_DATA,
    ST_PURE_ACK,
    ST_CLOSE,
    ST_FIN_REPLY,
    ST_FIN_SECOND,
    ST_LAST_ACK,
};

enum app_phase {
    PH_HTTP_REQUEST,
    PH_HTTP_RESPONSE,
    PH_TLS_CLIENT_HELLO,
    PH_TLS_SERVER_FLIGHT,
    PH_TLS_CLIENT_FINISHED,
    PH_TLS_SERVER_FINISHED,
    PH_TLS_REQUEST,
    PH_TLS_RESPONSE,
    PH_DONE,
};

struct flow {
    uint8_t kind;
    uint8_t state;
    uint8_t after_ack; /* state after a pure ACK */
    uint8_t ack_from;  /* side sending the pending pure ACK */
    uint8_t is_ipv6;
    uint8_t use_ts;
    uint8_t closer; /* side sending the first FIN */
    uint8_t end_with_rst;
    uint8_t app_phase;
    uint8_t tls13;
    uint8_t tx_left;
    uint8_t os;
    uint8_t in_capture; /* has written a packet */
    uint16_t vlan_id;
    uint16_t host;
    uint32_t client;
    uint8_t ip[2][16]; /* [C2S] client address, [S2C] server address */
    uint8_t ttl[2];
    uint16_t port[2];
    uint16_t ip_id[2];
    uint32_t flow_label[2];
    uint32_t seq[2]; /* next sequence number each side sends */
    uint32_t ts_base[2];
    uint32_t ts_last[2];
    uint16_t win[2];
    uint16_t mss[2];
    uint16_t seg_size;
    uint16_t unacked[2]; /* data segments each side sent that the peer has not acknowledged */
    uint16_t cwnd, window_sent;
    uint32_t rtt_ns;
    uint32_t seg_gap_ns;
    uint64_t next_gap_ns;      /* delay before the first segment of the pending message */
    uint64_t after_ack_gap_ns; /* delay between a pure ACK and the packet after it */
    /* pending HTTP response, chosen with its request */
    uint8_t resp_type;
    uint16_t resp_status;
    uint8_t resp_chunked;
    uint32_t resp_len;
    uint32_t etag;
    /* DNS exchange */
    uint8_t dns_step;
    uint8_t dns_queries;
    uint8_t dns_edns;
    int16_t dns_name; /* host index, or -1 - index into missing_names */
    uint16_t dns_id[2];
    uint16_t dns_qtype[2];
    struct message msg;
    uint8_t buf[FLOW_BUF];
};

/* ------------------------------------------------------------------------------------------ */
/* Output and the generator state. */

struct stats {
    uint64_t packets;
    uint64_t frame_bytes;
    uint64_t flows[KIND_COUNT];
    uint64_t flow_packets[KIND_COUNT];
    uint64_t flow_bytes[KIND_COUNT];
    uint64_t flows_ipv6;
    uint64_t flows_vlan;
    uint64_t flows_closed;
    uint64_t http_transactions;
    uint64_t tls_transactions;
    uint64_t dns_queries;
};

struct gen {
    FILE *out;
    uint8_t *obuf;
    size_t olen;
    uint64_t written;
    uint64_t vt;        /* virtual time of the flow being stepped, ns */
    uint64_t wire_ns;   /* capture clock, ns since CAPTURE_EPOCH */
    uint32_t rate_mbps; /* capture clock rate */
    time_t date_sec;    /* cached HTTP Date header */
    char date[40];
    struct stats st;
};

static void out_flush(struct gen *g)
{
    if (g->olen && fwrite(g->obuf, 1, g->olen, g->out) != g->olen) {
        fprintf(stderr, "gen_mix: write failed: %s\n", strerror(errno));
        exit(1);
    }
    g->olen = 0;
}

static void write_file_header(struct gen *g)
{
    struct {
        uint32_t magic;
        uint16_t major, minor;
        int32_t thiszone;
        uint32_t sigfigs, snaplen, linktype;
    } hdr = {0xa1b2c3d4, 2, 4, 0, 0, 65535, 1};
    memcpy(g->obuf, &hdr, sizeof hdr);
    g->olen = sizeof hdr;
    g->written = sizeof hdr;
}

/* Returns where the next frame is built; its 16-byte record header precedes it. */
static uint8_t *frame_start(struct gen *g)
{
    if (g->olen + 16 + MAX_FRAME > OUT_BUF)
        out_flush(g);
    return g->obuf + g->olen + 16;
}

static void frame_finish(struct gen *g, struct flow *f, uint8_t *frame, uint32_t len)
{
    if (len < MIN_FRAME) {
        memset(frame + len, 0, MIN_FRAME - len);
        len = MIN_FRAME;
    }
    uint32_t rec[4] = {CAPTURE_EPOCH + (uint32_t)(g->wire_ns / 1000000000u),
                       (uint32_t)(g->wire_ns % 1000000000u / 1000u), len, len};
    memcpy(frame - 16, rec, 16);
    g->olen += 16 + len;
    g->written += 16 + len;

    /* The capture clock moves by this frame's time on the wire at the target rate, with
     * jitter (x0.25 .. x1.75) so that arrivals are not perfectly even. */
    uint64_t wire = (uint64_t)(len + WIRE_OVERHEAD) * 8000u / g->rate_mbps;
    g->wire_ns += wire / 4 + wire * rng_below(1536) / 1024;

    if (!f->in_capture) { /* flows count from their first packet */
        f->in_capture = 1;
        g->st.flows[f->kind]++;
        g->st.flows_ipv6 += f->is_ipv6;
        g->st.flows_vlan += f->vlan_id != 0;
    }
    g->st.packets++;
    g->st.frame_bytes += len;
    g->st.flow_packets[f->kind]++;
    g->st.flow_bytes[f->kind] += len;
}

/* Writes Ethernet (and 802.1Q) and IP headers for a packet from side `from` carrying an L4
 * segment of l4_len bytes; returns the L4 header position and the pseudo-header sum. */
static uint8_t *put_l2_l3(struct flow *f, uint8_t *frame, int from, uint8_t proto, uint32_t l4_len,
                          uint64_t *pseudo)
{
    static const uint8_t gateway_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    uint8_t client_mac[6] = {0x02, 0x00, 0x0a};
    put24(client_mac + 3, f->client);
    uint8_t *p = frame;
    memcpy(p, from == C2S ? gateway_mac : client_mac, 6);
    memcpy(p + 6, from == C2S ? client_mac : gateway_mac, 6);
    p += 12;
    if (f->vlan_id) {
        put16(p, 0x8100);
        put16(p + 2, f->vlan_id);
        p += 4;
    }
    int to = !from;
    if (!f->is_ipv6) {
        put16(p, 0x0800);
        p += 2;
        p[0] = 0x45;
        p[1] = 0;
        put16(p + 2, 20 + l4_len);
        put16(p + 4, f->ip_id[from]++);
        put16(p + 6, 0x4000); /* DF */
        p[8] = f->ttl[from];
        p[9] = proto;
        p[10] = p[11] = 0;
        memcpy(p + 12, f->ip[from], 4);
        memcpy(p + 16, f->ip[to], 4);
        uint16_t c = csum_fold(csum_add(0, p, 20));
        memcpy(p + 10, &c, 2);
        const uint8_t tail[4] = {0, proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len};
        *pseudo = csum_add(csum_add(0, p + 12, 8), tail, 4);
        return p + 20;
    }
    put16(p, 0x86dd);
    p += 2;
    put32(p, 0x60000000u | f->flow_label[from]);
    put16(p + 4, l4_len);
    p[6] = proto;
    p[7] = f->ttl[from];
    memcpy(p + 8, f->ip[from], 16);
    memcpy(p + 24, f->ip[to], 16);
    const uint8_t tail[8] = {0, 0, (uint8_t)(l4_len >> 8), (uint8_t)l4_len, 0, 0, 0, proto};
    *pseudo = csum_add(csum_add(0, p + 8, 32), tail, 8);
    return p + 40;
}

/* ------------------------------------------------------------------------------------------ */
/* Message bodies: plain (with a file-type prefix), chunked, or a run of TLS records. */

struct frame_part {
    uint8_t hdr[16];
    uint32_t hdr_len;
    uint32_t data_len;
    uint32_t data_off; /* into the body payload */
    uint32_t trailer_len;
};

static uint32_t body_frame_overhead(const struct message *m, uint32_t data_len)
{
    if (m->body_kind == BODY_TLS_RECORDS)
        return 5;
    char tmp[16];
    return (uint32_t)snprintf(tmp, sizeof tmp, "%x", data_len) + 4; /* "<hex>\r\n" + "\r\n" */
}

static uint32_t body_total(const struct message *m)
{
    if (m->body_kind == BODY_NONE)
        return 0;
    if (m->body_kind == BODY_PLAIN)
        return m->body_len;
    uint32_t full = m->body_len / m->frame, rem = m->body_len % m->frame;
    uint32_t total = full * (m->frame + body_frame_overhead(m, m->frame));
    if (rem)
        total += rem + body_frame_overhead(m, rem);
    if (m->body_kind == BODY_CHUNKED)
        total += 5; /* "0\r\n\r\n" */
    return total;
}

static void body_frame(const struct message *m, uint32_t idx, struct frame_part *fp)
{
    uint32_t full = m->body_len / m->frame, rem = m->body_len % m->frame;
    uint32_t len = idx < full ? m->frame : (idx == full ? rem : 0);
    fp->data_off = idx * m->frame;
    if (m->body_kind == BODY_TLS_RECORDS) {
        fp->hdr[0] = 0x17;
        fp->hdr[1] = 0x03;
        fp->hdr[2] = 0x03;
        put16(fp->hdr + 3, len);
        fp->hdr_len = 5;
        fp->data_len = len;
        fp->trailer_len = 0;
        return;
    }
    if (len == 0) { /* last chunk */
        memcpy(fp->hdr, "0\r\n\r\n", 5);
        fp->hdr_len = 5;
        fp->data_len = 0;
        fp->trailer_len = 0;
        return;
    }
    fp->hdr_len = (uint32_t)snprintf((char *)fp->hdr, sizeof fp->hdr, "%x\r\n", len);
    fp->data_len = len;
    fp->trailer_len = 2;
}

static void body_copy(const struct message *m, uint32_t off, uint8_t *dst, uint32_t n)
{
    if (m->body_kind == BODY_PLAIN) {
        if (off < m->magic_len) {
            uint32_t take = m->magic_len - off < n ? m->magic_len - off : n;
            memcpy(dst, m->magic + off, take);
            dst += take;
            n -= take;
            off += take;
        }
        pool_copy(m->pool, m->pool_off + off, dst, n);
        return;
    }
    /* Locate the frame holding `off`: all frames but the last two have the same size. */
    uint32_t full = m->body_len / m->frame;
    uint32_t full_size = m->frame + body_frame_overhead(m, m->frame);
    uint32_t idx, in;
    if (off < full * full_size) {
        idx = off / full_size;
        in = off % full_size;
    } else {
        idx = full;
        in = off - full * full_size;
    }
    while (n) {
        struct frame_part fp;
        body_frame(m, idx, &fp);
        uint32_t size = fp.hdr_len + fp.data_len + fp.trailer_len;
        if (in >= size) { /* only possible past a short last frame */
            in -= size;
            idx++;
            continue;
        }
        while (n && in < size) {
            uint32_t take;
            if (in < fp.hdr_len) {
                take = fp.hdr_len - in < n ? fp.hdr_len - in : n;
                memcpy(dst, fp.hdr + in, take);
            } else if (in < fp.hdr_len + fp.data_len) {
                uint32_t d = in - fp.hdr_len;
                take = fp.data_len - d < n ? fp.data_len - d : n;
                pool_copy(m->pool, m->pool_off + fp.data_off + d, dst, take);
            } else {
                uint32_t t = in - fp.hdr_len - fp.data_len;
                take = fp.trailer_len - t < n ? fp.trailer_len - t : n;
                memcpy(dst, &"\r\n"[t], take);
            }
            dst += take;
            n -= take;
            in += take;
        }
        idx++;
        in = 0;
    }
}

static void message_copy(const struct message *m, uint32_t off, uint8_t *dst, uint32_t n)
{
    for (unsigned i = 0; i < m->npieces && n; i++) {
        const struct piece *pc = &m->pieces[i];
        if (off >= pc->len) {
            off -= pc->len;
            continue;
        }
        uint32_t take = pc->len - off < n ? pc->len - off : n;
        memcpy(dst, pc->p + off, take);
        dst += take;
        n -= take;
        off = 0;
    }
    if (n)
        body_copy(m, off, dst, n);
}

static void message_begin(struct flow *f, int dir)
{
    memset(&f->msg, 0, sizeof f->msg);
    f->msg.dir = (uint8_t)dir;
}

static void message_piece(struct flow *f, const uint8_t *p, size_t len)
{
    if (f->msg.npieces == 4)
        die("too many message pieces");
    f->msg.pieces[f->msg.npieces++] = (struct piece){p, (uint32_t)len};
}

static void message_body(struct flow *f, int kind, int pool, uint32_t len, uint32_t frame)
{
    f->msg.body_kind = (uint8_t)kind;
    f->msg.pool = (uint8_t)pool;
    f->msg.body_len = len;
    f->msg.frame = frame;
    f->msg.pool_off = rng_below(POOL_SIZE);
}

static void message_end(struct flow *f)
{
    uint32_t total = body_total(&f->msg);
    for (unsigned i = 0; i < f->msg.npieces; i++)
        total += f->msg.pieces[i].len;
    f->msg.total = total;
    f->msg.sent = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* TCP packets. */

static void emit_tcp(struct gen *g, struct flow *f, int from, uint8_t flags, uint32_t payload_len)
{
    int to = !from;
    bool syn = flags & TH_SYN;
    uint32_t opt_len = syn ? (f->use_ts ? 20 : 12) : (f->use_ts ? 12 : 0);
    uint32_t l4_len = 20 + opt_len + payload_len;
    uint8_t *frame = frame_start(g);
    uint64_t sum;
    uint8_t *t = put_l2_l3(f, frame, from, 6, l4_len, &sum);

    put16(t, f->port[from]);
    put16(t + 2, f->port[to]);
    put32(t + 4, f->seq[from]);
    put32(t + 8, (flags & TH_ACK) ? f->seq[to] : 0);
    t[12] = (uint8_t)(((20 + opt_len) / 4) << 4);
    t[13] = flags;
    put16(t + 14, syn ? (from == C2S ? 64240 : 65160) : f->win[from]);
    memset(t + 16, 0, 4);

    uint8_t *o = t + 20;
    uint32_t tsval = f->ts_base[from] + (uint32_t)(g->wire_ns / 1000000u);
    if (syn) {
        o[0] = 2;
        o[1] = 4;
        put16(o + 2, f->mss[from]);
        if (f->use_ts) { /* Linux order: MSS, SACK_PERM, TS, NOP, WS */
            o[4] = 4;
            o[5] = 2;
            o[6] = 8;
            o[7] = 10;
            put32(o + 8, tsval);
            put32(o + 12, f->ts_last[to]);
            o[16] = 1;
            o[17] = 3;
            o[18] = 3;
            o[19] = from == C2S ? 7 : 9;
        } else { /* Windows order: MSS, NOP, WS, NOP, NOP, SACK_PERM */
            o[4] = 1;
            o[5] = 3;
            o[6] = 3;
            o[7] = 8;
            o[8] = 1;
            o[9] = 1;
            o[10] = 4;
            o[11] = 2;
        }
    } else if (f->use_ts) {
        o[0] = 1;
        o[1] = 1;
        o[2] = 8;
        o[3] = 10;
        put32(o + 4, tsval);
        put32(o + 8, f->ts_last[to]);
    }
    f->ts_last[from] = tsval;

    if (payload_len)
        message_copy(&f->msg, f->msg.sent, t + 20 + opt_len, payload_len);
    uint16_t c = csum_fold(csum_add(sum, t, l4_len));
    memcpy(t + 16, &c, 2);

    f->seq[from] += payload_len + (syn ? 1 : 0) + ((flags & TH_FIN) ? 1 : 0);
    if (flags & TH_ACK)
        f->unacked[to] = 0;
    if (payload_len)
        f->unacked[from]++;
    frame_finish(g, f, frame, (uint32_t)(t - frame) + l4_len);
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP/1.1. */

static const char *http_date(struct gen *g)
{
    time_t now = (time_t)(CAPTURE_EPOCH + g->wire_ns / 1000000000u);
    if (now != g->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(g->date, sizeof g->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        g->date_sec = now;
    }
    return g->date;
}

static void http_build_request(struct flow *f)
{
    const struct host *h = &hosts[f->host];
    struct sbuf b = {f->buf, 0, FLOW_BUF};
    enum content_type t = pick_content_type();
    bool post = t == CT_JSON && CHANCE(150);
    bool revalidate = !post && t != CT_JSON && CHANCE(90);

    f->resp_type = (uint8_t)t;
    f->resp_chunked = 0;
    f->etag = (uint32_t)rng_next();
    uint32_t r = rng_below(1000);
    if (post) {
        f->resp_status = CHANCE(500) ? 204 : 200;
    } else if (revalidate) {
        f->resp_status = 304;
    } else if (r < 30) {
        f->resp_status = 404;
    } else if (r < 45 && t == CT_HTML) {
        f->resp_status = 301;
    } else {
        f->resp_status = 200;
        f->resp_chunked = (t == CT_JSON || t == CT_HTML) && CHANCE(300);
    }
    f->resp_len = f->resp_status == 200 ? content_size(t) : 0;
    if (f->resp_status == 404)
        f->resp_len = rng_range(150, 600);
    if (f->resp_status == 301)
        f->resp_len = rng_range(162, 230);

    sb_str(&b, post ? "POST " : "GET ");
    if (post)
        sb_printf(&b, "/api/v1/%s", CHANCE(500) ? "events" : "cart/items");
    else
        put_uri(&b, t);
    sb_printf(&b, " HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n", h->name, user_agents[f->os]);
    switch (t) {
    case CT_HTML:
        sb_str(&b, "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
                   "image/avif,image/webp,*/*;q=0.8\r\n");
        break;
    case CT_JPEG:
    case CT_PNG:
    case CT_WEBP:
    case CT_ICON:
        sb_str(&b, "Accept: image/avif,image/webp,image/apng,image/*,*/*;q=0.8\r\n");
        break;
    case CT_JSON:
        sb_str(&b, "Accept: application/json, text/plain, */*\r\n");
        break;
    default:
        sb_str(&b, "Accept: */*\r\n");
        break;
    }
    sb_str(&b, "Accept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n");
    if (t != CT_HTML && CHANCE(800))
        sb_printf(&b, "Referer: http://%s/\r\n", h->name);
    if (CHANCE(400))
        sb_printf(&b, "Cookie: sid=%016" PRIx64 "; lang=en; theme=%s\r\n", rng_next(),
                  CHANCE(500) ? "light" : "dark");
    if (revalidate)
        sb_printf(&b, "If-None-Match: \"%08x-%x\"\r\n", f->etag, rng_range(1000, 90000));
    if (post) {
        char body[200];
        int n = snprintf(
            body, sizeof body,
            "{\"event\":\"page_view\",\"section\":\"%s\",\"item\":%u,\"ts\":%" PRIu64 "}", word(),
            rng_below(100000), (uint64_t)CAPTURE_EPOCH * 1000u + rng_below(1u << 20));
        sb_printf(&b,
                  "Content-Type: application/json\r\nContent-Length: %d\r\nOrigin: http://%s\r\n"
                  "Connection: keep-alive\r\n\r\n%s",
                  n, h->name, body);
    } else {
        sb_str(&b, "Connection: keep-alive\r\n\r\n");
    }
    message_begin(f, C2S);
    message_piece(f, f->buf, b.len);
    message_end(f);
}

static const char *http_reason(unsigned status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 304:
        return "Not Modified";
    default:
        return "Not Found";
    }
}

static void http_build_response(struct gen *g, struct flow *f)
{
    const struct host *h = &hosts[f->host];
    const struct content_info *ci = &content[f->resp_type];
    struct sbuf b = {f->buf, 0, FLOW_BUF};
    unsigned status = f->resp_status;
    bool last = f->tx_left == 0;

    sb_printf(&b, "HTTP/1.1 %u %s\r\nDate: %s\r\nServer: %s\r\n", status, http_reason(status),
              http_date(g), h->server);
    message_begin(f, S2C);
    if (status == 200 || status == 404 || status == 301) {
        bool html_page = status != 200;
        sb_printf(&b, "Content-Type: %s\r\n", html_page ? "text/html" : ci->mime);
        if (f->resp_chunked)
            sb_str(&b, "Transfer-Encoding: chunked\r\n");
        else
            sb_printf(&b, "Content-Length: %u\r\n", f->resp_len);
        if (status == 301)
            sb_printf(&b, "Location: http://%s/news/\r\n", h->name);
        if (status == 200 && f->resp_type != CT_JSON) {
            sb_printf(&b, "Last-Modified: Wed, 15 May 2024 %02u:%02u:%02u GMT\r\n", rng_below(24),
                      rng_below(60), rng_below(60));
            sb_printf(&b, "ETag: \"%08x-%x\"\r\nCache-Control: public, max-age=%u\r\n", f->etag,
                      f->resp_len, 60u << rng_below(10));
            sb_str(&b, "Accept-Ranges: bytes\r\n");
        } else {
            sb_str(&b, "Cache-Control: no-cache\r\n");
        }
    } else if (status == 304) {
        sb_printf(&b, "ETag: \"%08x-%x\"\r\nCache-Control: public, max-age=3600\r\n", f->etag,
                  rng_range(1000, 90000));
    }
    sb_printf(&b, "Connection: %s\r\n\r\n",
              last && f->closer == S2C && !f->end_with_rst ? "close" : "keep-alive");
    message_piece(f, f->buf, b.len);
    if (f->resp_len) {
        if (f->resp_chunked) {
            static const uint32_t chunk_sizes[] = {1024, 4096, 8192, 16384};
            message_body(f, BODY_CHUNKED, ci->pool, f->resp_len, chunk_sizes[rng_below(4)]);
        } else if (status == 200) {
            message_body(f, BODY_PLAIN, ci->pool, f->resp_len, 0);
            f->msg.magic = ci->magic;
            f->msg.magic_len = (uint8_t)(ci->magic_len < f->resp_len ? ci->magic_len : f->resp_len);
        } else {
            message_body(f, BODY_PLAIN, POOL_HTML, f->resp_len, 0);
            f->msg.magic = "<html>\r\n<head><title>";
            f->msg.magic_len = 21;
        }
    }
    message_end(f);
}

/* Delay before the client sends its next request on a kept-alive connection. */
static uint64_t client_think_ns(void)
{
    return CHANCE(700) ? rng_octaves(14, 21) : rng_octaves(21, 26);
}

static uint64_t server_think_ns(void)
{
    return rng_octaves(15, 23);
}

static bool http_next(struct gen *g, struct flow *f)
{
    if (f->app_phase == PH_HTTP_REQUEST) {
        if (f->tx_left == 0)
            return false;
        bool first = f->next_gap_ns == 0;
        f->tx_left--;
        http_build_request(f);
        f->app_phase = PH_HTTP_RESPONSE;
        f->next_gap_ns = first ? rng_octaves(10, 16) : client_think_ns();
        g->st.http_transactions++;
        return true;
    }
    http_build_response(g, f);
    f->app_phase = PH_HTTP_REQUEST;
    f->next_gap_ns = f->rtt_ns + server_think_ns();
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* TLS. */

static const uint8_t tls_ccs[] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01};

static void tls_client_hello(struct flow *f)
{
    const char *sni = hosts[f->host].name;
    size_t sni_len = strlen(sni);
    struct sbuf b = {f->buf, 0, FLOW_BUF};
    static const uint16_t suites[] = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f,
                                      0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                                      0xc014, 0x009c, 0x009d, 0x002f, 0x0035};

    sb_put(&b, "\x16\x03\x01", 3);
    size_t rec = b.len;
    sb_u16(&b, 0);
    sb_u8(&b, 0x01);
    size_t hs = b.len;
    sb_put(&b, "\0\0\0", 3);
    sb_u16(&b, 0x0303);
    sb_random(&b, 32);
    sb_u8(&b, 32);
    sb_random(&b, 32);
    sb_u16(&b, sizeof suites);
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        sb_u16(&b, suites[i]);
    sb_put(&b, "\x01\x00", 2);
    size_t exts = b.len;
    sb_u16(&b, 0);

    sb_u16(&b, 0x0000); /* server_name */
    sb_u16(&b, (uint32_t)sni_len + 5);
    sb_u16(&b, (uint32_t)sni_len + 3);
    sb_u8(&b, 0);
    sb_u16(&b, (uint32_t)sni_len);
    sb_put(&b, sni, sni_len);
    sb_put(&b, "\x00\x17\x00\x00", 4);                                  /* extended_master_secret */
    sb_put(&b, "\xff\x01\x00\x01\x00", 5);                              /* renegotiation_info */
    sb_put(&b, "\x00\x0a\x00\x08\x00\x06\x00\x1d\x00\x17\x00\x18", 12); /* supported_groups */
    sb_put(&b, "\x00\x0b\x00\x02\x01\x00", 6);                          /* ec_point_formats */
    sb_put(&b, "\x00\x23\x00\x00", 4);                                  /* session_ticket */
    sb_put(&b, "\x00\x10\x00\x0e\x00\x0c\x02h2\x08http/1.1", 18);       /* ALPN */
    sb_put(&b, "\x00\x05\x00\x05\x01\x00\x00\x00\x00", 9);              /* status_request */
    sb_put(&b,
           "\x00\x0d\x00\x12\x00\x10\x04\x03\x08\x04\x04\x01\x05\x03\x08\x05\x05\x01\x08"
           "\x06\x06\x01",
           22);                        /* signature_algorithms */
    sb_put(&b, "\x00\x12\x00\x00", 4); /* signed_certificate_timestamp */
    if (f->tls13) {
        sb_put(&b, "\x00\x33\x00\x26\x00\x24\x00\x1d\x00\x20", 10); /* key_share x25519 */
        sb_random(&b, 32);
        sb_put(&b, "\x00\x2d\x00\x02\x01\x01", 6);             /* psk_key_exchange_modes */
        sb_put(&b, "\x00\x2b\x00\x05\x04\x03\x04\x03\x03", 9); /* supported_versions */
    }
    /* padding (RFC 7685) to a 512-byte handshake message, as browsers do */
    size_t hs_len = b.len - hs + 1;
    if (hs_len + 4 < 512) {
        size_t pad = 512 - hs_len - 4;
        sb_u16(&b, 0x0015);
        sb_u16(&b, (uint32_t)pad);
        static const uint8_t zeros[512];
        sb_put(&b, zeros, pad);
    }
    sb_patch16(&b, exts);
    sb_patch24(&b, hs);
    sb_patch16(&b, rec);

    message_begin(f, C2S);
    message_piece(f, f->buf, b.len);
    message_end(f);
}

static void tls_server_hello(struct flow *f)
{
    struct sbuf b = {f->buf, 0, FLOW_BUF};
    sb_put(&b, "\x16\x03\x03", 3);
    size_t rec = b.len;
    sb_u16(&b, 0);
    sb_u8(&b, 0x02);
    size_t hs = b.len;
    sb_put(&b, "\0\0\0", 3);
    sb_u16(&b, 0x0303);
    sb_random(&b, 32);
    sb_u8(&b, 32);
    /* TLS 1.3 echoes the client's legacy session id; both are random here */
    sb_random(&b, 32);
    sb_u16(&b, f->tls13 ? 0x1301 : 0xc02f);
    sb_u8(&b, 0);
    size_t exts = b.len;
    sb_u16(&b, 0);
    if (f->tls13) {
        sb_put(&b, "\x00\x2b\x00\x02\x03\x04", 6);
        sb_put(&b, "\x00\x33\x00\x24\x00\x1d\x00\x20", 8);
        sb_random(&b, 32);
    } else {
        sb_put(&b, "\xff\x01\x00\x01\x00", 5);
        sb_put(&b, "\x00\x17\x00\x00", 4);
        sb_put(&b, "\x00\x0b\x00\x02\x01\x00", 6);
        sb_put(&b, "\x00\x10\x00\x0b\x00\x09\x08http/1.1", 15);
    }
    sb_patch16(&b, exts);
    sb_patch24(&b, hs);
    sb_patch16(&b, rec);

    message_begin(f, S2C);
    message_piece(f, f->buf, b.len);
    if (f->tls13) {
        /* EncryptedExtensions, Certificate, CertificateVerify, Finished in one record */
        message_piece(f, tls_ccs, sizeof tls_ccs);
        message_body(f, BODY_TLS_RECORDS, POOL_BINARY, 0, 0);
        f->msg.body_len = f->msg.frame = rng_range(2200, 4800);
    } else {
        message_piece(f, hosts[f->host].tls_blob, hosts[f->host].tls_blob_len);
    }
    message_end(f);
}

static void tls_client_finished(struct flow *f)
{
    message_begin(f, C2S);
    if (f->tls13) {
        message_piece(f, tls_ccs, sizeof tls_ccs);
        message_body(f, BODY_TLS_RECORDS, POOL_BINARY, 53, 53);
    } else {
        struct sbuf b = {f->buf, 0, FLOW_BUF};
        sb_put(&b, "\x16\x03\x03\x00\x25\x10\x00\x00\x21\x20", 10); /* ClientKeyExchange */
        sb_random(&b, 32);
        sb_put(&b, tls_ccs, sizeof tls_ccs);
        sb_put(&b, "\x16\x03\x03\x00\x28", 5); /* encrypted Finished */
        sb_random(&b, 40);
        message_piece(f, f->buf, b.len);
    }
    message_end(f);
}

static void tls_server_finished(struct flow *f)
{
    struct sbuf b = {f->buf, 0, FLOW_BUF};
    sb_put(&b, "\x16\x03\x03\x00\xca\x04\x00\x00\xc6", 9); /* NewSessionTicket */
    sb_u32(&b, 7200);
    sb_u16(&b, 192);
    sb_random(&b, 192);
    sb_put(&b, tls_ccs, sizeof tls_ccs);
    sb_put(&b, "\x16\x03\x03\x00\x28", 5);
    sb_random(&b, 40);
    message_begin(f, S2C);
    message_piece(f, f->buf, b.len);
    message_end(f);
}

/* Application data: records of at most 2^14 bytes of plaintext plus the AEAD overhead. */
static void tls_app_data(struct flow *f, int dir, uint32_t len)
{
    message_begin(f, dir);
    message_body(f, BODY_TLS_RECORDS, POOL_BINARY, len, f->tls13 ? 16401 : 16408);
    message_end(f);
}

static bool tls_next(struct gen *g, struct flow *f)
{
    switch (f->app_phase) {
    case PH_TLS_CLIENT_HELLO:
        tls_client_hello(f);
        f->app_phase = PH_TLS_SERVER_FLIGHT;
        f->next_gap_ns = rng_octaves(10, 16);
        return true;
    case PH_TLS_SERVER_FLIGHT:
        tls_server_hello(f);
        f->app_phase = PH_TLS_CLIENT_FINISHED;
        f->next_gap_ns = f->rtt_ns + rng_octaves(14, 20);
        return true;
    case PH_TLS_CLIENT_FINISHED:
        tls_client_finished(f);
        f->app_phase = f->tls13 ? PH_TLS_REQUEST : PH_TLS_SERVER_FINISHED;
        f->next_gap_ns = rng_octaves(14, 18);
        return true;
    case PH_TLS_SERVER_FINISHED:
        tls_server_finished(f);
        f->app_phase = PH_TLS_REQUEST;
        f->next_gap_ns = f->rtt_ns + rng_octaves(14, 18);
        return true;
    case PH_TLS_REQUEST:
        if (f->tx_left == 0) {
            f->app_phase = PH_DONE;
            if (f->end_with_rst || f->closer != C2S || !CHANCE(600))
                return false;
            /* close_notify alert from the client */
            message_begin(f, C2S);
            if (f->tls13) {
                message_body(f, BODY_TLS_RECORDS, POOL_BINARY, 19, 19);
            } else {
                struct sbuf b = {f->buf, 0, FLOW_BUF};
                sb_put(&b, "\x15\x03\x03\x00\x1a", 5);
                sb_random(&b, 26);
                message_piece(f, f->buf, b.len);
            }
            message_end(f);
            f->next_gap_ns = client_think_ns();
            return true;
        }
        f->tx_left--;
        tls_app_data(f, C2S, rng_range(90, 1400));
        f->app_phase = PH_TLS_RESPONSE;
        f->next_gap_ns = client_think_ns();
        g->st.tls_transactions++;
        return true;
    case PH_TLS_RESPONSE: {
        enum content_type t = pick_content_type();
        tls_app_data(f, S2C, content_size(t) + rng_range(100, 400));
        f->app_phase = PH_TLS_REQUEST;
        f->next_gap_ns = f->rtt_ns + server_think_ns();
        return true;
    }
    default:
        return false;
    }
}

static bool app_next(struct gen *g, struct flow *f)
{
    return f->kind == KIND_HTTP ? http_next(g, f) : tls_next(g, f);
}

/* ------------------------------------------------------------------------------------------ */
/* TCP state machine: each step sends one packet and returns the delay to the flow's next one,
 * or UINT64_MAX when the flow is over. */

static uint64_t tiny_gap(const struct flow *f)
{
    return f->seg_gap_ns / 4 + rng_below(20000);
}

static uint64_t pure_ack(struct flow *f, int from, uint8_t then, uint64_t then_gap)
{
    f->state = ST_PURE_ACK;
    f->ack_from = (uint8_t)from;
    f->after_ack = then;
    f->after_ack_gap_ns = then_gap;
    return tiny_gap(f);
}

/* A message has been sent in full: queue the next one or the close. The receiver acknowledges
 * on its own when it has nothing to send right away (or, half the time, even when it has). */
static uint64_t tcp_message_done(struct gen *g, struct flow *f)
{
    int done_dir = f->msg.dir;
    bool more = app_next(g, f);
    uint8_t next = more ? ST_DATA : ST_CLOSE;
    uint64_t gap = more ? f->next_gap_ns : client_think_ns();
    f->window_sent = 0;
    if (f->unacked[done_dir] && (!more || f->msg.dir == done_dir || CHANCE(500)))
        return pure_ack(f, !done_dir, next, gap);
    f->state = next;
    return gap;
}

static uint64_t tcp_step(struct gen *g, struct flow *f)
{
    switch (f->state) {
    case ST_SYN:
        emit_tcp(g, f, C2S, TH_SYN, 0);
        f->state = ST_SYN_ACK;
        return f->rtt_ns;
    case ST_SYN_ACK:
        emit_tcp(g, f, S2C, TH_SYN | TH_ACK, 0);
        f->state = ST_HANDSHAKE_ACK;
        return tiny_gap(f);
    case ST_HANDSHAKE_ACK:
        emit_tcp(g, f, C2S, TH_ACK, 0);
        f->state = app_next(g, f) ? ST_DATA : ST_CLOSE;
        return f->next_gap_ns;
    case ST_DATA: {
        struct message *m = &f->msg;
        uint32_t left = m->total - m->sent;
        uint32_t n = left < f->seg_size ? left : f->seg_size;
        bool last = n == left;
        emit_tcp(g, f, m->dir, (uint8_t)(TH_ACK | (last ? TH_PSH : 0)), n);
        m->sent += n;
        if (last)
            return tcp_message_done(g, f);
        uint64_t gap = f->seg_gap_ns;
        if (++f->window_sent >= f->cwnd) {
            /* window exhausted: the next segments leave one round trip later */
            f->window_sent = 0;
            f->cwnd = f->cwnd * 2 > CWND_MAX ? CWND_MAX : (uint16_t)(f->cwnd * 2);
            gap = f->rtt_ns;
        }
        if (f->unacked[m->dir] >= 2) /* the receiver acknowledges every second segment */
            return pure_ack(f, !m->dir, ST_DATA, gap);
        return gap;
    }
    case ST_PURE_ACK:
        emit_tcp(g, f, f->ack_from, TH_ACK, 0);
        f->state = f->after_ack;
        return f->after_ack_gap_ns;
    case ST_CLOSE:
        if (f->end_with_rst) { /* browsers often reset instead of closing */
            emit_tcp(g, f, C2S, TH_RST | TH_ACK, 0);
            return UINT64_MAX;
        }
        emit_tcp(g, f, f->closer, TH_FIN | TH_ACK, 0);
        f->state = CHANCE(700) ? ST_FIN_REPLY : ST_FIN_SECOND;
        if (f->state == ST_FIN_SECOND) /* the peer acknowledges first, closes its side later */
            return pure_ack(f, !f->closer, ST_FIN_SECOND, rng_octaves(12, 18)) + f->rtt_ns / 2;
        return f->rtt_ns / 2 + tiny_gap(f);
    case ST_FIN_REPLY:
    case ST_FIN_SECOND:
        emit_tcp(g, f, !f->closer, TH_FIN | TH_ACK, 0);
        f->state = ST_LAST_ACK;
        return f->closer == C2S ? tiny_gap(f) : f->rtt_ns / 2 + tiny_gap(f);
    case ST_LAST_ACK:
        emit_tcp(g, f, f->closer, TH_ACK, 0);
        return UINT64_MAX;
    default:
        return UINT64_MAX;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* DNS over UDP. */

static void dns_put_name(struct sbuf *b, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t n = dot ? (size_t)(dot - name) : strlen(name);
        sb_u8(b, (uint32_t)n);
        sb_put(b, name, n);
        name += n + (dot ? 1 : 0);
    }
    sb_u8(b, 0);
}

static const char *dns_qname(const struct flow *f)
{
    return f->dns_name >= 0 ? hosts[f->dns_name].name : missing_names[-1 - f->dns_name];
}

static const uint8_t dns_opt_rr[11] = {0x00, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};

static void dns_question(struct sbuf *b, const struct flow *f, int i, uint32_t flags)
{
    sb_u16(b, f->dns_id[i]);
    sb_u16(b, flags);
    sb_u16(b, 1);
    sb_put(b, "\0\0\0\0\0\0", 6); /* counts, patched by responses */
    dns_put_name(b, dns_qname(f));
    sb_u16(b, f->dns_qtype[i]);
    sb_u16(b, 1);
}

static size_t dns_build_query(struct flow *f, int i)
{
    struct sbuf b = {f->buf, 0, FLOW_BUF};
    dns_question(&b, f, i, 0x0100);
    if (f->dns_edns) {
        put16(b.p + 10, 1);
        sb_put(&b, dns_opt_rr, sizeof dns_opt_rr);
    }
    return b.len;
}

static void dns_rr_header(struct sbuf *b, uint32_t name_ptr, uint32_t type, uint32_t ttl)
{
    sb_u16(b, 0xc000 | name_ptr);
    sb_u16(b, type);
    sb_u16(b, 1);
    sb_u32(b, ttl);
}

static size_t dns_build_response(struct flow *f, int i)
{
    struct sbuf b = {f->buf, 0, FLOW_BUF};
    uint16_t qtype = f->dns_qtype[i];
    bool missing = f->dns_name < 0;
    bool nodata = !missing && qtype != 1 && qtype != 28;
    dns_question(&b, f, i, missing ? 0x8183 : 0x8180);
    uint32_t answers = 0, authority = 0;

    if (missing || nodata) {
        /* SOA of the enclosing zone in the authority section */
        const char *name = dns_qname(f);
        const char *zone = strchr(name, '.') + 1;
        char tmp[128];
        dns_put_name(&b, zone);
        sb_u16(&b, 6);
        sb_u16(&b, 1);
        sb_u32(&b, 300);
        size_t rdlen = b.len;
        sb_u16(&b, 0);
        snprintf(tmp, sizeof tmp, "ns1.%s", zone);
        dns_put_name(&b, tmp);
        snprintf(tmp, sizeof tmp, "hostmaster.%s", zone);
        dns_put_name(&b, tmp);
        sb_u32(&b, 2024053101);
        sb_u32(&b, 7200);
        sb_u32(&b, 3600);
        sb_u32(&b, 1209600);
        sb_u32(&b, 300);
        sb_patch16(&b, rdlen);
        authority = 1;
    } else {
        const struct host *h = &hosts[f->dns_name];
        uint32_t owner = 12; /* the question name */
        if (h->cname) {
            dns_rr_header(&b, owner, 5, rng_range(60, 3600));
            size_t rdlen = b.len;
            sb_u16(&b, 0);
            owner = (uint32_t)b.len;
            dns_put_name(&b, h->cname);
            sb_patch16(&b, rdlen);
            answers++;
        }
        uint32_t addrs = h->cname ? rng_range(1, 4) : 1;
        uint32_t ttl = rng_range(20, 300);
        for (uint32_t k = 0; k < addrs; k++) {
            dns_rr_header(&b, owner, qtype, ttl);
            if (qtype == 1) {
                uint8_t a[4];
                memcpy(a, h->ip4, 4);
                a[3] = (uint8_t)(a[3] + 40 * k);
                sb_u16(&b, 4);
                sb_put(&b, a, 4);
            } else {
                uint8_t a[16];
                memcpy(a, h->ip6, 16);
                a[14] = (uint8_t)k;
                sb_u16(&b, 16);
                sb_put(&b, a, 16);
            }
            answers++;
        }
    }
    put16(b.p + 6, answers);
    put16(b.p + 8, authority);
    if (f->dns_edns) {
        put16(b.p + 10, 1);
        sb_put(&b, dns_opt_rr, sizeof dns_opt_rr);
    }
    return b.len;
}

static void emit_udp(struct gen *g, struct flow *f, int from, uint32_t payload_len)
{
    uint32_t l4_len = 8 + payload_len;
    uint8_t *frame = frame_start(g);
    uint64_t sum;
    uint8_t *u = put_l2_l3(f, frame, from, 17, l4_len, &sum);
    put16(u, f->port[from]);
    put16(u + 2, f->port[!from]);
    put16(u + 4, l4_len);
    u[6] = u[7] = 0;
    memcpy(u + 8, f->buf, payload_len);
    uint16_t c = csum_fold(csum_add(sum, u, l4_len));
    if (c == 0)
        c = 0xffff; /* zero means "no checksum" in UDP */
    memcpy(u + 6, &c, 2);
    frame_finish(g, f, frame, (uint32_t)(u - frame) + l4_len);
}

static uint64_t dns_step(struct gen *g, struct flow *f)
{
    switch (f->dns_step++) {
    case 0: /* first query; a resolver library often asks for A and AAAA back to back */
        emit_udp(g, f, C2S, (uint32_t)dns_build_query(f, 0));
        g->st.dns_queries++;
        if (f->dns_queries == 1)
            f->dns_step = 2;
        return f->dns_queries == 2 ? tiny_gap(f) : f->rtt_ns;
    case 1:
        emit_udp(g, f, C2S, (uint32_t)dns_build_query(f, 1));
        g->st.dns_queries++;
        return f->rtt_ns;
    case 2:
        emit_udp(g, f, S2C, (uint32_t)dns_build_response(f, 0));
        return f->dns_queries == 2 ? tiny_gap(f) : UINT64_MAX;
    default:
        emit_udp(g, f, S2C, (uint32_t)dns_build_response(f, 1));
        return UINT64_MAX;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Flow set-up. */

static void flow_start(struct flow *f)
{
    memset(f, 0, offsetof(struct flow, msg));
    uint32_t r = rng_below(1000);
    f->kind = r < kind_weights[KIND_HTTP]                            ? KIND_HTTP
              : r < kind_weights[KIND_HTTP] + kind_weights[KIND_TLS] ? KIND_TLS
                                                                     : KIND_DNS;
    uint32_t c = rng_below(N_CLIENTS);
    f->client = c;
    f->os = (uint8_t)(c % OS_COUNT);
    f->vlan_id = client_vlan(c);
    f->is_ipv6 = CHANCE(120);
    f->host = (uint16_t)rng_below(N_HOSTS);
    const struct host *h = &hosts[f->host];

    if (f->is_ipv6) {
        /* SLAAC-style interface id derived from the client's MAC address */
        static const uint8_t prefix[6] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x10};
        uint8_t *a = f->ip[C2S];
        memcpy(a, prefix, 6);
        put16(a + 6, f->vlan_id);
        put32(a + 8, 0x00000affu);
        put32(a + 12, 0xfe000000u | c);
        memcpy(f->ip[S2C], f->kind == KIND_DNS ? resolver6 : h->ip6, 16);
        f->flow_label[C2S] = rng_below(1u << 20);
        f->flow_label[S2C] = rng_below(1u << 20);
    } else {
        const uint8_t ip4[4] = {10, (uint8_t)(16 + c / 62500), (uint8_t)(c / 250 % 250),
                                (uint8_t)(2 + c % 250)};
        memcpy(f->ip[C2S], ip4, 4);
        memcpy(f->ip[S2C], f->kind == KIND_DNS ? resolver4[c % 2] : h->ip4, 4);
    }
    f->port[C2S] = client_take_port(c);
    f->port[S2C] = f->kind == KIND_DNS ? 53 : f->kind == KIND_TLS ? 443 : CHANCE(50) ? 8080 : 80;
    f->ttl[C2S] = f->os == OS_WINDOWS ? 128 : 64;
    f->ttl[S2C] = f->kind == KIND_DNS ? 63 : h->ttl;
    f->ip_id[C2S] = (uint16_t)rng_next();
    f->ip_id[S2C] = (uint16_t)rng_next();

    if (f->kind == KIND_DNS) {
        f->rtt_ns = (uint32_t)(CHANCE(800) ? rng_octaves(17, 21) : rng_octaves(23, 26));
        f->seg_gap_ns = (uint32_t)rng_octaves(13, 17);
        f->dns_queries = CHANCE(450) ? 2 : 1;
        f->dns_name = CHANCE(60) ? (int16_t)(-1 - (int)rng_below(N_MISSING)) : (int16_t)f->host;
        f->dns_qtype[0] = f->dns_queries == 1 && f->is_ipv6 ? 28 : 1;
        f->dns_qtype[1] = 28;
        if (f->dns_queries == 1 && f->dns_name >= 0 && CHANCE(100))
            f->dns_qtype[0] = 65; /* HTTPS record: answered with NODATA */
        f->dns_edns = CHANCE(700);
        f->dns_id[0] = (uint16_t)rng_next();
        f->dns_id[1] = (uint16_t)rng_next();
        return;
    }

    f->use_ts = f->os != OS_WINDOWS;
    f->seq[C2S] = (uint32_t)rng_next();
    f->seq[S2C] = (uint32_t)rng_next();
    f->ts_base[C2S] = (uint32_t)rng_next();
    f->ts_base[S2C] = (uint32_t)rng_next();
    f->win[C2S] = (uint16_t)rng_range(500, 2050);
    f->win[S2C] = (uint16_t)rng_range(250, 1000);
    uint16_t base_mss = f->is_ipv6 ? 1440 : 1460;
    f->mss[C2S] =
        CHANCE(50) ? (uint16_t)(base_mss - 80) : base_mss; /* some clients sit behind a VPN */
    f->mss[S2C] = base_mss;
    f->seg_size =
        (uint16_t)((f->mss[C2S] < f->mss[S2C] ? f->mss[C2S] : f->mss[S2C]) - (f->use_ts ? 12 : 0));
    f->rtt_ns = (uint32_t)(h->internal ? rng_octaves(17, 21) : rng_octaves(21, 26));
    f->seg_gap_ns = (uint32_t)rng_octaves(13, 20);
    f->cwnd = CWND_INITIAL;
    f->tx_left = 1;
    while (f->tx_left < 12 && CHANCE(600))
        f->tx_left++;
    f->closer = CHANCE(f->kind == KIND_TLS ? 700 : 600) ? C2S : S2C;
    f->end_with_rst = CHANCE(30);
    f->tls13 = CHANCE(750);
    f->app_phase = f->kind == KIND_HTTP ? PH_HTTP_REQUEST : PH_TLS_CLIENT_HELLO;
    f->state = ST_SYN;
}

/* ------------------------------------------------------------------------------------------ */
/* Scheduling: a binary min-heap of flows keyed by the virtual time of their next packet. */

struct heap_entry {
    uint64_t t;
    uint32_t slot;
};

static void heap_sift_down(struct heap_entry *h, uint32_t n, uint32_t i)
{
    struct heap_entry e = h[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1].t < h[c].t)
            c++;
        if (h[c].t >= e.t)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

/* ------------------------------------------------------------------------------------------ */

struct options {
    const char *out;
    uint64_t bytes;
    uint64_t seed;
    uint32_t flows;
    uint32_t rate_mbps;
};

static void usage(FILE *to)
{
    fprintf(to, "usage: gen_mix --out FILE [--bytes N] [--seed S] [--flows-concurrent N]\n"
                "               [--rate-mbps R]\n"
                "  --bytes N             target capture size (suffix k, M, G: powers of 1000;\n"
                "                        default 300M)\n"
                "  --seed S              output is a function of the seed (default 1)\n"
                "  --flows-concurrent N  flows open at any time (default 10000)\n"
                "  --rate-mbps R         link rate of the capture timestamps (default 1500)\n");
}

static uint64_t parse_size(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1000, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1000000, end++;
    else if (*end == 'g' || *end == 'G')
        mult = 1000000000, end++;
    if (errno || end == s || *end || v == 0) {
        fprintf(stderr, "gen_mix: invalid %s: %s\n", what, s);
        exit(2);
    }
    return (uint64_t)v * mult;
}

static void parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){NULL, 300000000, 1, 10000, 1500};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            usage(stderr);
            exit(2);
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--out")) {
            o->out = v;
        } else if (!strcmp(a, "--bytes")) {
            o->bytes = parse_size(v, "--bytes");
        } else if (!strcmp(a, "--seed")) {
            o->seed = parse_size(v, "--seed");
        } else if (!strcmp(a, "--flows-concurrent")) {
            uint64_t n = parse_size(v, "--flows-concurrent");
            if (n > 2000000) {
                fprintf(stderr, "gen_mix: --flows-concurrent at most 2000000\n");
                exit(2);
            }
            o->flows = (uint32_t)n;
        } else if (!strcmp(a, "--rate-mbps")) {
            uint64_t r = parse_size(v, "--rate-mbps");
            o->rate_mbps = r > 1000000 ? 1000000 : (uint32_t)r;
        } else {
            usage(stderr);
            exit(2);
        }
    }
    if (!o->out) {
        usage(stderr);
        exit(2);
    }
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void print_report(const struct gen *g, const struct options *o, double elapsed)
{
    const struct stats *s = &g->st;
    double span = (double)g->wire_ns / 1e9;
    uint64_t flows = s->flows[KIND_HTTP] + s->flows[KIND_TLS] + s->flows[KIND_DNS];
    printf("gen_mix: wrote %s (seed %" PRIu64 ")\n", o->out, o->seed);
    printf("  file size           %" PRIu64 " bytes\n", g->written);
    printf("  packets             %" PRIu64 "\n", s->packets);
    printf("  frame bytes         %" PRIu64 "\n", s->frame_bytes);
    printf("  average frame       %.1f bytes\n",
           s->packets ? (double)s->frame_bytes / (double)s->packets : 0.0);
    printf("  capture span        %.3f s at %.2f Gbit/s\n", span,
           span > 0 ? (double)s->frame_bytes * 8 / span / 1e9 : 0.0);
    printf("  concurrent flows    %u\n", o->flows);
    printf("  flows               %" PRIu64 " (closed %" PRIu64 ", ipv6 %" PRIu64
           ", 802.1Q %" PRIu64 ")\n",
           flows, s->flows_closed, s->flows_ipv6, s->flows_vlan);
    for (int k = 0; k < KIND_COUNT; k++)
        printf("    %-4s  flows %8" PRIu64 "  packets %10" PRIu64 "  avg frame %6.1f\n",
               kind_names[k], s->flows[k], s->flow_packets[k],
               s->flow_packets[k] ? (double)s->flow_bytes[k] / (double)s->flow_packets[k] : 0.0);
    printf("  http transactions   %" PRIu64 ", tls transactions %" PRIu64 ", dns queries %" PRIu64
           "\n",
           s->http_transactions, s->tls_transactions, s->dns_queries);
    printf("  generated in        %.2f s (%.0f MB/s)\n", elapsed,
           elapsed > 0 ? (double)g->written / elapsed / 1e6 : 0.0);
}

int main(int argc, char **argv)
{
    struct options o;
    parse_args(argc, argv, &o);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rng_seed(o.seed);
    pools_init();
    hosts_init();
    clients_init();

    struct flow *flows = calloc(o.flows, sizeof *flows);
    struct heap_entry *heap = calloc(o.flows, sizeof *heap);
    struct gen g = {.rate_mbps = o.rate_mbps};
    g.obuf = malloc(OUT_BUF);
    if (!flows || !heap || !g.obuf)
        die("out of memory");
    g.out = fopen(o.out, "wb");
    if (!g.out) {
        fprintf(stderr, "gen_mix: %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    setvbuf(g.out, NULL, _IONBF, 0);
    write_file_header(&g);

    /* All flows open within the first 20 ms of virtual time, so that their phases spread early. */
    for (uint32_t i = 0; i < o.flows; i++) {
        flow_start(&flows[i]);
        heap[i] = (struct heap_entry){rng_below(20000000u), i};
    }
    for (uint32_t i = o.flows / 2; i-- > 0;)
        heap_sift_down(heap, o.flows, i);

    while (g.written < o.bytes) {
        struct heap_entry *top = &heap[0];
        struct flow *f = &flows[top->slot];
        g.vt = top->t;
        uint64_t gap = f->kind == KIND_DNS ? dns_step(&g, f) : tcp_step(&g, f);
        if (gap == UINT64_MAX) {
            g.st.flows_closed++;
            flow_start(f);
            gap = rng_octaves(10, 20);
        }
        top->t += gap;
        heap_sift_down(heap, o.flows, 0);
    }
    out_flush(&g);
    if (fclose(g.out) != 0) {
        fprintf(stderr, "gen_mix: %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    print_report(&g, &o, seconds_since(&t0));
    free(flows);
    free(heap);
    free(g.obuf);
    return 0;
}
