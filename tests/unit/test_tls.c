/* TLS parser tests: hand-built hellos and certificates, every split of a
 * handshake, hostile lengths, and the ClientHellos of real captures checked
 * against nDPI's and Suricata's expected fingerprints. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/event.h"
#include "vigil/meta.h"
#include "vigil/packet.h"
#include "vigil/tls.h"

/* ---- What the parser reported ---- */

#define MAX_TX 8

struct seen_tx {
    uint8_t stage, dir, last;
    uint32_t tx_id;
    char buf[VG_BUF_COUNT][600];
    bool has[VG_BUF_COUNT];
    char json[4096];
};

struct collect {
    unsigned ntx;
    struct seen_tx tx[MAX_TX];
    unsigned events[VG_TLS_EV_COUNT];
    unsigned nevents;
};

static void on_tx(void *user, const struct vg_app_tx *tx)
{
    struct collect *c = user;
    cr_assert_eq(tx->proto, VG_APP_TLS);
    cr_assert_lt(c->ntx, MAX_TX, "too many transactions");
    struct seen_tx *t = &c->tx[c->ntx++];
    t->stage = tx->stage;
    t->dir = tx->dir;
    t->last = tx->last;
    t->tx_id = tx->tx_id;
    for (int b = 0; b < VG_BUF_COUNT; b++) {
        if (tx->buf[b].data == NULL)
            continue;
        cr_assert_lt(tx->buf[b].len, sizeof(t->buf[b]));
        memcpy(t->buf[b], tx->buf[b].data, tx->buf[b].len);
        t->buf[b][tx->buf[b].len] = '\0';
        t->has[b] = true;
    }
    uint8_t m[4096];
    struct vg_meta_writer w;
    vg_meta_init(&w, m, sizeof(m));
    tx->encode(tx->obj, &w);
    uint32_t n = vg_meta_finish(&w);
    cr_assert(!w.overflow);
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_meta_to_json(&j, m, n, false);
    cr_assert_lt(j.len, sizeof(t->json));
    memcpy(t->json, j.buf, j.len);
    t->json[j.len] = '\0';
    vg_jbuf_free(&j);
}

static void on_anomaly(void *user, enum vg_app_proto proto, uint16_t ev)
{
    struct collect *c = user;
    cr_assert_eq(proto, VG_APP_TLS);
    cr_assert_lt(ev, VG_TLS_EV_COUNT);
    cr_assert_not_null(vg_tls_event_name(ev));
    c->events[ev]++;
    c->nevents++;
}

/* A parser with its own state block, sized as a pool would size it. */
struct parser {
    struct vg_tls_shared *sh;
    struct vg_tls_state *st;
    struct collect col;
    struct vg_app_cb cb;
};

static struct parser *parser_new(uint32_t limit)
{
    struct parser *p = calloc(1, sizeof(*p));
    struct vg_tls_config c;
    vg_tls_config_default(&c);
    if (limit != 0)
        c.handshake_limit = limit;
    p->sh = vg_tls_shared_new();
    p->st = malloc(vg_tls_state_size(&c));
    cr_assert_not_null(p->sh);
    cr_assert_not_null(p->st);
    vg_tls_state_init(p->st, &c, p->sh);
    p->cb = (struct vg_app_cb){.user = &p->col, .tx = on_tx, .anomaly = on_anomaly};
    return p;
}

static void parser_free(struct parser *p)
{
    free(p->st);
    vg_tls_shared_free(p->sh);
    free(p);
}

/* Feeds len bytes in a private copy of exactly that size, so a read past
 * the chunk shows under the sanitizers. */
static void feed(struct parser *p, int dir, const uint8_t *d, uint32_t len, uint32_t flags)
{
    uint8_t *copy = len != 0 ? malloc(len) : NULL;
    if (len != 0)
        memcpy(copy, d, len);
    vg_tls_parse(p->st, dir, copy, len, flags, &p->cb);
    free(copy);
}

static void end(struct parser *p)
{
    feed(p, 0, NULL, 0, VG_APP_END);
    feed(p, 1, NULL, 0, VG_APP_END);
}

/* ---- Byte builders ---- */

struct bb {
    uint8_t b[70000];
    uint32_t n;
};

static void put8(struct bb *b, uint32_t v)
{
    b->b[b->n++] = (uint8_t)v;
}

static void put16(struct bb *b, uint32_t v)
{
    put8(b, v >> 8);
    put8(b, v);
}

static void put24(struct bb *b, uint32_t v)
{
    put8(b, v >> 16);
    put16(b, v);
}

static void putn(struct bb *b, const void *d, uint32_t n)
{
    memcpy(b->b + b->n, d, n);
    b->n += n;
}

/* Patches a big-endian length of width bytes at off to cover up to the end. */
static void patch_len(struct bb *b, uint32_t off, int width)
{
    uint32_t v = b->n - off - (uint32_t)width;
    for (int i = 0; i < width; i++)
        b->b[off + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
}

struct hello {
    uint16_t version;
    const uint16_t *ciphers;
    uint32_t n_ciphers;
    uint8_t sid_len;
    struct bb *exts; /* extension block without its length; NULL: none */
};

static void ext_begin(struct bb *e, uint16_t type, uint32_t *at)
{
    put16(e, type);
    *at = e->n;
    put16(e, 0);
}

static void ext_end(struct bb *e, uint32_t at)
{
    patch_len(e, at, 2);
}

/* A handshake message body (no header) for a ClientHello. */
static void client_hello_body(struct bb *m, const struct hello *h)
{
    put16(m, h->version);
    for (int i = 0; i < 32; i++)
        put8(m, i);
    put8(m, h->sid_len);
    for (int i = 0; i < h->sid_len; i++)
        put8(m, 0xa0 + i);
    put16(m, h->n_ciphers * 2);
    for (uint32_t i = 0; i < h->n_ciphers; i++)
        put16(m, h->ciphers[i]);
    put8(m, 1);
    put8(m, 0);
    if (h->exts != NULL) {
        put16(m, h->exts->n);
        putn(m, h->exts->b, h->exts->n);
    }
}

static void handshake(struct bb *out, uint8_t type, const struct bb *body)
{
    put8(out, type);
    put24(out, body->n);
    putn(out, body->b, body->n);
}

/* Wraps bytes in records of at most frag bytes each. */
static void records(struct bb *out, uint8_t type, uint16_t version, const uint8_t *d, uint32_t n,
                    uint32_t frag)
{
    do {
        uint32_t l = n < frag ? n : frag;
        put8(out, type);
        put16(out, version);
        put16(out, l);
        putn(out, d, l);
        d += l;
        n -= l;
    } while (n > 0);
}

static void sni_ext(struct bb *e, const char *name)
{
    uint32_t at, at2;
    ext_begin(e, 0, &at);
    at2 = e->n;
    put16(e, 0);
    put8(e, 0);
    put16(e, (uint32_t)strlen(name));
    putn(e, name, (uint32_t)strlen(name));
    patch_len(e, at2, 2);
    ext_end(e, at);
}

static void u16_list_ext(struct bb *e, uint16_t type, const uint16_t *v, uint32_t n)
{
    uint32_t at;
    ext_begin(e, type, &at);
    put16(e, n * 2);
    for (uint32_t i = 0; i < n; i++)
        put16(e, v[i]);
    ext_end(e, at);
}

static void alpn_ext(struct bb *e, const char *const *names, uint32_t n)
{
    uint32_t at, at2;
    ext_begin(e, 16, &at);
    at2 = e->n;
    put16(e, 0);
    for (uint32_t i = 0; i < n; i++) {
        put8(e, (uint32_t)strlen(names[i]));
        putn(e, names[i], (uint32_t)strlen(names[i]));
    }
    patch_len(e, at2, 2);
    ext_end(e, at);
}

static void empty_ext(struct bb *e, uint16_t type)
{
    put16(e, type);
    put16(e, 0);
}

/* ---- Digests through OpenSSL, to check the parser's own ---- */

static void openssl_hex(const char *md, const void *d, size_t n, char *out)
{
    unsigned char dg[64];
    unsigned int l = 0;
    cr_assert(EVP_Digest(d, n, dg, &l, EVP_get_digestbyname(md), NULL));
    for (unsigned i = 0; i < l; i++)
        sprintf(out + 2 * i, "%02x", dg[i]);
}

static void expect_ja4_part(const char *got12, const char *list)
{
    char h[129];
    openssl_hex("SHA256", list, strlen(list), h);
    h[12] = '\0';
    cr_assert_str_eq(got12, h, "hash of \"%s\"", list);
}

/* ---- The published JA3 example, with GREASE added ---- */

/* Salesforce's README: "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,
 * 0-10-11,23-24-25,0" has MD5 ada70206e40642a3e4461f35503241d5. */
static uint32_t build_readme_hello(struct bb *stream, bool grease)
{
    static const uint16_t c_plain[] = {47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4};
    static const uint16_t c_grease[] = {0x2a2a, 47,    53, 5,  10, 49161, 49162,
                                        49171,  49172, 50, 56, 19, 4};
    static const uint16_t groups_plain[] = {23, 24, 25};
    static const uint16_t groups_grease[] = {0xfafa, 23, 24, 25};
    struct bb *e = calloc(1, sizeof(*e));
    if (grease)
        empty_ext(e, 0x0a0a);
    sni_ext(e, "example.com");
    if (grease)
        u16_list_ext(e, 10, groups_grease, 4);
    else
        u16_list_ext(e, 10, groups_plain, 3);
    uint32_t at;
    ext_begin(e, 11, &at);
    put8(e, 1);
    put8(e, 0);
    ext_end(e, at);
    if (grease)
        empty_ext(e, 0x1a1a);
    struct hello h = {0x0301, grease ? c_grease : c_plain, grease ? 13 : 12, 0, e};
    struct bb *m = calloc(1, sizeof(*m)), *hs = calloc(1, sizeof(*hs));
    client_hello_body(m, &h);
    handshake(hs, 1, m);
    records(stream, 22, 0x0301, hs->b, hs->n, 16384);
    uint32_t n = hs->n;
    free(e);
    free(m);
    free(hs);
    return n;
}

Test(tls, readme_ja3_example)
{
    for (int grease = 0; grease < 2; grease++) {
        struct bb *s = calloc(1, sizeof(*s));
        build_readme_hello(s, grease);
        struct parser *p = parser_new(0);
        feed(p, 0, s->b, s->n, 0);
        cr_assert_eq(p->col.ntx, 1);
        struct seen_tx *t = &p->col.tx[0];
        cr_assert_eq(t->stage, VG_STAGE_REQUEST);
        cr_assert_eq(t->dir, 0);
        cr_assert_eq(t->last, 0);
        cr_assert_str_eq(t->buf[VG_BUF_JA3_STRING],
                         "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0");
        cr_assert_str_eq(t->buf[VG_BUF_JA3_HASH], "ada70206e40642a3e4461f35503241d5");
        cr_assert_str_eq(t->buf[VG_BUF_TLS_SNI], "example.com");
        cr_assert(!t->has[VG_BUF_TLS_ALPN]);
        /* JA4: TLS 1.0, SNI, 12 ciphers, 3 extensions, no ALPN; the
         * extension hash leaves SNI out and there are no signature
         * algorithms, so no '_' */
        const char *ja4 = t->buf[VG_BUF_JA4_HASH];
        cr_assert_eq(strlen(ja4), 36);
        cr_assert_eq(strncmp(ja4, "t10d120300_", 11), 0, "%s", ja4);
        char part[13];
        memcpy(part, ja4 + 11, 12);
        part[12] = '\0';
        expect_ja4_part(part, "0004,0005,000a,0013,002f,0032,0035,0038,c009,c00a,c013,c014");
        expect_ja4_part(ja4 + 24, "000a,000b");
        const struct vg_tls_info *in = vg_tls_info(p->st);
        cr_assert_eq(in->n_ciphers, grease ? 13 : 12);
        cr_assert_eq(in->n_extensions, grease ? 5 : 3);
        cr_assert_eq(in->n_groups, grease ? 4 : 3);
        cr_assert_eq(in->n_point_formats, 1);
        cr_assert_eq(p->col.nevents, 0);
        parser_free(p);
        free(s);
    }
}

/* ---- A TLS 1.3-style hello with every decoded extension ---- */

static const uint16_t modern_ciphers[] = {0x3a3a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0x009c};

static void modern_exts(struct bb *e, const char *const *alpn, uint32_t nalpn)
{
    static const uint16_t groups[] = {0x4a4a, 0x001d, 0x0017, 0x0018};
    static const uint16_t sigs[] = {0x0403, 0x0804, 0x0401, 0x0503};
    empty_ext(e, 0xdada);
    sni_ext(e, "www.example.org");
    empty_ext(e, 23);
    empty_ext(e, 0xff01);
    u16_list_ext(e, 10, groups, 4);
    uint32_t at;
    ext_begin(e, 11, &at);
    put8(e, 1);
    put8(e, 0);
    ext_end(e, at);
    empty_ext(e, 35);
    if (alpn != NULL)
        alpn_ext(e, alpn, nalpn);
    u16_list_ext(e, 13, sigs, 4);
    ext_begin(e, 43, &at);
    put8(e, 6);
    put16(e, 0x6a6a);
    put16(e, 0x0304);
    put16(e, 0x0303);
    ext_end(e, at);
    ext_begin(e, 45, &at);
    put8(e, 1);
    put8(e, 1);
    ext_end(e, at);
    empty_ext(e, 0x2a2a);
}

static void modern_hello(struct bb *hs, const char *const *alpn, uint32_t nalpn)
{
    struct bb *e = calloc(1, sizeof(*e)), *m = calloc(1, sizeof(*m));
    modern_exts(e, alpn, nalpn);
    struct hello h = {0x0303, modern_ciphers, 7, 32, e};
    client_hello_body(m, &h);
    handshake(hs, 1, m);
    free(e);
    free(m);
}

Test(tls, grease_and_ja4_modern_hello)
{
    static const char *const alpn[] = {"h2", "http/1.1"};
    struct bb *hs = calloc(1, sizeof(*hs)), *s = calloc(1, sizeof(*s));
    modern_hello(hs, alpn, 2);
    records(s, 22, 0x0301, hs->b, hs->n, 16384);
    struct parser *p = parser_new(0);
    feed(p, 0, s->b, s->n, 0);
    cr_assert_eq(p->col.ntx, 1);
    struct seen_tx *t = &p->col.tx[0];
    cr_assert_str_eq(
        t->buf[VG_BUF_JA3_STRING],
        "771,4865-4866-4867-49195-49199-156,0-23-65281-10-11-35-16-13-43-45,29-23-24,0");
    char md5[33];
    openssl_hex("MD5", t->buf[VG_BUF_JA3_STRING], strlen(t->buf[VG_BUF_JA3_STRING]), md5);
    cr_assert_str_eq(t->buf[VG_BUF_JA3_HASH], md5);
    cr_assert_str_eq(t->buf[VG_BUF_TLS_ALPN], "h2,http/1.1");
    /* 6 ciphers and 10 extensions without GREASE; version from
     * supported_versions; ALPN "h2" gives h2 */
    const char *ja4 = t->buf[VG_BUF_JA4_HASH];
    cr_assert_eq(strncmp(ja4, "t13d0610h2_", 11), 0, "%s", ja4);
    char part[13];
    memcpy(part, ja4 + 11, 12);
    part[12] = '\0';
    expect_ja4_part(part, "009c,1301,1302,1303,c02b,c02f");
    expect_ja4_part(ja4 + 24, "000a,000b,000d,0017,0023,002b,002d,ff01_0403,0804,0401,0503");
    const struct vg_tls_info *in = vg_tls_info(p->st);
    cr_assert_eq(in->client_version, 0x0303);
    cr_assert_eq(in->client_max_version, 0x0304);
    cr_assert_eq(in->n_versions, 3);
    cr_assert_eq(in->n_sigalgs, 4);
    cr_assert(in->flags & VG_TLS_SESSION_ID);
    cr_assert_eq(in->session_id_len, 32);
    parser_free(p);
    free(hs);
    free(s);
}

Test(tls, ja4_alpn_edge_cases)
{
    static const char *const one[] = {"h"};
    static const char *const odd[] = {"\x01z\xab"};
    static const char *const web[] = {"webrtc", "c-webrtc"};
    const char *const *lists[] = {one, odd, web, NULL};
    const char *want[] = {"hh", "0b", "wc", "00"};
    for (int i = 0; i < 4; i++) {
        struct bb *hs = calloc(1, sizeof(*hs)), *s = calloc(1, sizeof(*s));
        modern_hello(hs, lists[i], lists[i] == web ? 2 : 1);
        records(s, 22, 0x0301, hs->b, hs->n, 16384);
        struct parser *p = parser_new(0);
        feed(p, 0, s->b, s->n, 0);
        cr_assert_eq(p->col.ntx, 1);
        cr_assert_eq(strncmp(p->col.tx[0].buf[VG_BUF_JA4_HASH] + 8, want[i], 2), 0, "%s vs %s",
                     p->col.tx[0].buf[VG_BUF_JA4_HASH], want[i]);
        parser_free(p);
        free(hs);
        free(s);
    }
}

/* ---- A certificate made by OpenSSL ---- */

static X509 *make_cert(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    cr_assert_not_null(key);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    /* a serial with the top bit set: DER puts a 00 in front */
    static const unsigned char serial[] = {0x8f, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    ASN1_TIME_set_string(X509_getm_notBefore(x), "490102030405Z");
    ASN1_TIME_set_string(X509_getm_notAfter(x), "20510607080910Z");
    X509_NAME *sub = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(sub, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0);
    X509_NAME_add_entry_by_txt(sub, "ST", MBSTRING_ASC, (const unsigned char *)"Washington", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(sub, "O", MBSTRING_UTF8,
                               (const unsigned char *)"F\xc3\xbc\x6e\x66 Networks, Inc.", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(sub, "OU", MBSTRING_ASC, (const unsigned char *)"Edge", -1, -1, 0);
    X509_NAME_add_entry_by_txt(sub, "OU", MBSTRING_ASC, (const unsigned char *)"Ops", -1, -1, -1);
    X509_NAME_add_entry_by_txt(sub, "CN", MBSTRING_ASC, (const unsigned char *)"vip.example.com",
                               -1, -1, 0);
    X509_NAME *iss = X509_get_issuer_name(x);
    X509_NAME_add_entry_by_txt(iss, "C", MBSTRING_ASC, (const unsigned char *)"GB", -1, -1, 0);
    X509_NAME_add_entry_by_txt(iss, "L", MBSTRING_ASC, (const unsigned char *)"Salford", -1, -1, 0);
    X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_ASC, (const unsigned char *)"Test CA R3", -1, -1,
                               0);
    /* enough alternative names to make it larger than the smallest limit */
    char san[1024] = "DNS:vip.example.com";
    for (int i = 0; i < 40; i++)
        snprintf(san + strlen(san), sizeof(san) - strlen(san), ",DNS:n%02d.example.com", i);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
    cr_assert_not_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    X509_set_pubkey(x, key);
    cr_assert(X509_sign(x, key, EVP_sha256()) > 0);
    EVP_PKEY_free(key);
    return x;
}

/* OpenSSL's view of a name in Suricata's form: forward order, "SN=value",
 * ", " between RDNs and " + " inside one, values as their raw bytes. */
static void openssl_name(X509_NAME *n, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(b, n, 0, XN_FLAG_SEP_CPLUS_SPC | ASN1_STRFLGS_UTF8_CONVERT);
    int l = BIO_read(b, out, (int)cap - 1);
    out[l < 0 ? 0 : l] = '\0';
    BIO_free(b);
}

static void openssl_time(const ASN1_TIME *t, char *out)
{
    struct tm tm;
    cr_assert(ASN1_TIME_to_tm(t, &tm));
    snprintf(out, 20, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void server_flight(struct bb *s, uint16_t version, const uint8_t *der, uint32_t der_len,
                          uint32_t frag)
{
    struct bb *m = calloc(1, sizeof(*m)), *hs = calloc(1, sizeof(*hs));
    put16(m, version);
    for (int i = 0; i < 32; i++)
        put8(m, 0x40 + i);
    put8(m, 0);
    put16(m, 0xc02f);
    put8(m, 0);
    uint32_t at = m->n;
    put16(m, 0);
    empty_ext(m, 0xff01);
    static const char *const alpn[] = {"h2"};
    alpn_ext(m, alpn, 1);
    uint32_t at2;
    ext_begin(m, 11, &at2);
    put8(m, 1);
    put8(m, 0);
    ext_end(m, at2);
    patch_len(m, at, 2);
    handshake(hs, 2, m);
    if (der != NULL) {
        m->n = 0;
        put24(m, der_len + 3);
        put24(m, der_len);
        putn(m, der, der_len);
        handshake(hs, 11, m);
    }
    m->n = 0;
    handshake(hs, 14, m); /* ServerHelloDone */
    records(s, 22, version, hs->b, hs->n, frag);
    free(m);
    free(hs);
}

struct cert_expect {
    char subject[512], issuer[512], serial[128], fp[64], nb[20], na[20];
};

/* OpenSSL's view of the certificate as encoded: decoded again from its
 * DER, so names come in DER order (a multi-valued RDN is a sorted SET). */
static void cert_expectations(X509 *orig, struct cert_expect *e)
{
    unsigned char *enc = NULL;
    int enc_len = i2d_X509(orig, &enc);
    const unsigned char *q = enc;
    X509 *x = d2i_X509(NULL, &q, enc_len);
    cr_assert_not_null(x);
    OPENSSL_free(enc);
    openssl_name(X509_get_subject_name(x), e->subject, sizeof(e->subject));
    openssl_name(X509_get_issuer_name(x), e->issuer, sizeof(e->issuer));
    unsigned char *der = NULL;
    int n = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &der);
    cr_assert_gt(n, 2);
    /* content bytes: after the tag and the (short) length */
    size_t o = 0;
    for (int i = 2; i < n; i++)
        o += (size_t)sprintf(e->serial + o, "%s%02X", i > 2 ? ":" : "", der[i]);
    OPENSSL_free(der);
    unsigned char md[20];
    unsigned int mdl;
    X509_digest(x, EVP_sha1(), md, &mdl);
    for (unsigned i = 0; i < mdl; i++)
        sprintf(e->fp + 3 * i, "%02x%s", md[i], i + 1 < mdl ? ":" : "");
    openssl_time(X509_get0_notBefore(x), e->nb);
    openssl_time(X509_get0_notAfter(x), e->na);
    X509_free(x);
}

Test(tls, certificate_matches_openssl)
{
    X509 *x = make_cert();
    unsigned char *der = NULL;
    int der_len = i2d_X509(x, &der);
    cr_assert_gt(der_len, 100);
    struct cert_expect e;
    cert_expectations(x, &e);
    /* the comparison form, spelled out once */
    cr_assert_str_eq(e.subject, "C=US, ST=Washington, O=F\xc3\xbcnf Networks, Inc., OU=Ops + "
                                "OU=Edge, CN=vip.example.com");
    cr_assert_str_eq(e.issuer, "C=GB, L=Salford, CN=Test CA R3");
    cr_assert_str_eq(e.serial, "00:8F:01:02:03:04:05:06:07:08");
    cr_assert_str_eq(e.nb, "2049-01-02T03:04:05");
    cr_assert_str_eq(e.na, "2051-06-07T08:09:10");

    struct bb *c = calloc(1, sizeof(*c)), *s = calloc(1, sizeof(*s));
    build_readme_hello(c, false);
    server_flight(s, 0x0303, der, (uint32_t)der_len, 16384);
    struct parser *p = parser_new(0);
    feed(p, 0, c->b, c->n, 0);
    feed(p, 1, s->b, s->n, 0);
    cr_assert_eq(p->col.ntx, 2);
    struct seen_tx *t = &p->col.tx[1];
    cr_assert_eq(t->stage, VG_STAGE_RESPONSE);
    cr_assert_eq(t->dir, 1);
    cr_assert_eq(t->last, 1);
    cr_assert_str_eq(t->buf[VG_BUF_TLS_CERT_SUBJECT], e.subject);
    cr_assert_str_eq(t->buf[VG_BUF_TLS_CERT_ISSUER], e.issuer);
    cr_assert_str_eq(t->buf[VG_BUF_TLS_CERT_SERIAL], e.serial);
    cr_assert_str_eq(t->buf[VG_BUF_TLS_CERT_FINGERPRINT], e.fp);
    cr_assert_str_eq(t->buf[VG_BUF_JA3S_STRING], "771,49199,65281-16-11");
    cr_assert_str_eq(t->buf[VG_BUF_TLS_SNI], "example.com", "request buffers stay");
    const struct vg_tls_info *in = vg_tls_info(p->st);
    cr_assert_str_eq(in->not_before, e.nb);
    cr_assert_str_eq(in->not_after, e.na);
    cr_assert_eq(in->cipher, 0xc02f);
    cr_assert_eq(in->version, 0x0303);
    cr_assert_eq(p->col.nevents, 0);
    char json[1024];
    snprintf(json, sizeof(json),
             "\"tls\":{\"subject\":\"%s\",\"issuerdn\":\"%s\",\"serial\":\"%s\","
             "\"fingerprint\":\"%s\",\"sni\":\"example.com\",\"version\":\"TLS 1.2\","
             "\"notbefore\":\"%s\",\"notafter\":\"%s\",\"ja3\":{\"hash\":"
             "\"ada70206e40642a3e4461f35503241d5\",\"string\":\"769,47-53-5-10-49161-49162-"
             "49171-49172-50-56-19-4,0-10-11,23-24-25,0\"},\"ja3s\":{\"hash\":\"%s\","
             "\"string\":\"771,49199,65281-16-11\"},\"ja4\":\"%s\",\"server_alpns\":[\"h2\"]}",
             e.subject, e.issuer, e.serial, e.fp, e.nb, e.na, t->buf[VG_BUF_JA3S_HASH],
             t->buf[VG_BUF_JA4_HASH]);
    cr_assert_str_eq(t->json, json);
    char md5[33];
    openssl_hex("MD5", "771,49199,65281-16-11", 21, md5);
    cr_assert_str_eq(t->buf[VG_BUF_JA3S_HASH], md5);

    /* Nothing more is reported: the session's record is written. */
    end(p);
    cr_assert_eq(p->col.ntx, 2);
    parser_free(p);
    free(c);
    free(s);
    OPENSSL_free(der);
    X509_free(x);
}

/* ---- Every split gives the same result ---- */

static void session_stream(struct bb *c, struct bb *s, uint32_t frag, uint8_t **der_out,
                           int *der_len)
{
    static const char *const alpn[] = {"h2", "http/1.1"};
    struct bb *hs = calloc(1, sizeof(*hs));
    modern_hello(hs, alpn, 2);
    records(c, 22, 0x0301, hs->b, hs->n, frag);
    put8(c, 20);
    put16(c, 0x0303);
    put16(c, 1);
    put8(c, 1);
    X509 *x = make_cert();
    unsigned char *der = NULL;
    *der_len = i2d_X509(x, &der);
    X509_free(x);
    server_flight(s, 0x0303, der, (uint32_t)*der_len, frag);
    put8(s, 20);
    put16(s, 0x0303);
    put16(s, 1);
    put8(s, 1);
    put8(s, 22);
    put16(s, 0x0303);
    put16(s, 40);
    for (int i = 0; i < 40; i++)
        put8(s, 0xee); /* encrypted Finished */
    *der_out = der;
    free(hs);
}

static void compare_runs(const struct parser *a, const struct parser *b, const char *what)
{
    cr_assert_eq(a->col.ntx, b->col.ntx, "%s: transactions", what);
    for (unsigned i = 0; i < a->col.ntx; i++) {
        const struct seen_tx *x = &a->col.tx[i], *y = &b->col.tx[i];
        cr_assert_eq(x->stage, y->stage, "%s", what);
        cr_assert_eq(x->last, y->last, "%s", what);
        for (int k = 0; k < VG_BUF_COUNT; k++) {
            cr_assert_eq(x->has[k], y->has[k], "%s: buffer %d", what, k);
            cr_assert_str_eq(x->buf[k], y->buf[k], "%s: buffer %d", what, k);
        }
        cr_assert_str_eq(x->json, y->json, "%s", what);
    }
    cr_assert_eq(a->col.nevents, b->col.nevents, "%s: events", what);
    const struct vg_tls_info *p = vg_tls_info(a->st), *q = vg_tls_info(b->st);
    cr_assert_eq(memcmp(p, q, sizeof(*p)), 0, "%s: info", what);
}

Test(tls, every_split_is_the_same)
{
    static const uint32_t frags[] = {16384, 300, 50};
    for (size_t fi = 0; fi < sizeof(frags) / sizeof(frags[0]); fi++) {
        uint32_t frag = frags[fi];
        struct bb *c = calloc(1, sizeof(*c)), *s = calloc(1, sizeof(*s));
        uint8_t *der;
        int der_len;
        session_stream(c, s, frag, &der, &der_len);
        struct parser *ref = parser_new(0);
        feed(ref, 0, c->b, c->n, 0);
        feed(ref, 1, s->b, s->n, 0);
        end(ref);
        cr_assert_eq(ref->col.ntx, 2);
        cr_assert_eq(ref->col.nevents, 0);
        cr_assert(vg_tls_info(ref->st)->flags & VG_TLS_CERTIFICATE);
        cr_assert(vg_tls_info(ref->st)->flags & VG_TLS_ENCRYPTED);
        /* two chunks, split at every byte of each direction */
        for (int dir = 0; dir < 2; dir++) {
            struct bb *d = dir == 0 ? c : s;
            for (uint32_t cut = 0; cut <= d->n; cut++) {
                struct parser *p = parser_new(0);
                if (dir == 0) {
                    feed(p, 0, c->b, cut, 0);
                    feed(p, 0, c->b + cut, c->n - cut, 0);
                    feed(p, 1, s->b, s->n, 0);
                } else {
                    feed(p, 0, c->b, c->n, 0);
                    feed(p, 1, s->b, cut, 0);
                    feed(p, 1, s->b + cut, s->n - cut, 0);
                }
                end(p);
                compare_runs(ref, p, "two chunks");
                parser_free(p);
            }
        }
        /* one byte at a time */
        struct parser *p = parser_new(0);
        for (uint32_t i = 0; i < c->n; i++)
            feed(p, 0, c->b + i, 1, 0);
        for (uint32_t i = 0; i < s->n; i++)
            feed(p, 1, s->b + i, 1, 0);
        end(p);
        compare_runs(ref, p, "one byte");
        cr_assert_gt(vg_tls_shared_stats(p->sh)->copied, 0);
        parser_free(p);
        parser_free(ref);
        OPENSSL_free(der);
        free(c);
        free(s);
    }
}

/* ---- Stages ---- */

Test(tls, tls13_response_at_server_hello)
{
    struct bb *c = calloc(1, sizeof(*c)), *s = calloc(1, sizeof(*s)), *m = calloc(1, sizeof(*m)),
              *hs = calloc(1, sizeof(*hs));
    static const char *const alpn[] = {"h2"};
    modern_hello(hs, alpn, 1);
    records(c, 22, 0x0301, hs->b, hs->n, 16384);
    put16(m, 0x0303);
    for (int i = 0; i < 32; i++)
        put8(m, i);
    put8(m, 32);
    for (int i = 0; i < 32; i++)
        put8(m, 0xa0 + i); /* echoes the client's session id (compatibility mode) */
    put16(m, 0x1301);
    put8(m, 0);
    put16(m, 6);
    put16(m, 43);
    put16(m, 2);
    put16(m, 0x0304);
    hs->n = 0;
    handshake(hs, 2, m);
    records(s, 22, 0x0303, hs->b, hs->n, 16384);
    put8(s, 20);
    put16(s, 0x0303);
    put16(s, 1);
    put8(s, 1);
    /* encrypted extensions etc., in application data records */
    put8(s, 23);
    put16(s, 0x0303);
    put16(s, 4);
    put16(s, 0x1603);
    put16(s, 0x0300);
    struct parser *p = parser_new(0);
    feed(p, 0, c->b, c->n, 0);
    feed(p, 1, s->b, hs->n + 5, 0);
    cr_assert_eq(p->col.ntx, 2, "the response stage comes with the ServerHello");
    cr_assert_eq(p->col.tx[1].last, 1);
    cr_assert_str_eq(p->col.tx[1].buf[VG_BUF_JA3S_STRING], "771,4865,43");
    feed(p, 1, s->b + hs->n + 5, s->n - hs->n - 5, 0);
    end(p);
    cr_assert_eq(p->col.ntx, 2);
    cr_assert_eq(p->col.nevents, 0);
    const struct vg_tls_info *in = vg_tls_info(p->st);
    cr_assert_eq(in->version, 0x0304);
    cr_assert(!(in->flags & VG_TLS_RESUMED), "TLS 1.3 echoes the session id without resuming");
    cr_assert(strstr(p->col.tx[1].json, "\"version\":\"TLS 1.3\"") != NULL);
    parser_free(p);
    free(c);
    free(s);
    free(m);
    free(hs);
}

Test(tls, end_without_response)
{
    struct bb *c = calloc(1, sizeof(*c));
    build_readme_hello(c, false);
    struct parser *p = parser_new(0);
    feed(p, 0, c->b, c->n, VG_APP_END);
    cr_assert_eq(p->col.ntx, 1, "the server side is still open");
    feed(p, 1, NULL, 0, VG_APP_END);
    cr_assert_eq(p->col.ntx, 2);
    cr_assert_eq(p->col.tx[1].stage, VG_STAGE_RESPONSE);
    cr_assert_eq(p->col.tx[1].last, 1);
    cr_assert(!p->col.tx[1].has[VG_BUF_JA3S_HASH]);
    cr_assert(strstr(p->col.tx[1].json, "\"version\":\"UNDETERMINED\"") != NULL);
    parser_free(p);

    /* nothing decoded: no record */
    p = parser_new(0);
    static const uint8_t junk[] = {23, 3, 3, 0, 2, 1, 2};
    feed(p, 0, junk, sizeof(junk), 0);
    end(p);
    cr_assert_eq(p->col.ntx, 0);
    parser_free(p);
    free(c);
}

Test(tls, duplicate_client_hello)
{
    struct bb *c = calloc(1, sizeof(*c));
    build_readme_hello(c, false);
    uint32_t n = c->n;
    putn(c, c->b, n);
    struct parser *p = parser_new(0);
    feed(p, 0, c->b, c->n, 0);
    cr_assert_eq(p->col.ntx, 1);
    cr_assert_eq(p->col.events[VG_TLS_EV_DUPLICATE_CLIENT_HELLO], 1);
    cr_assert_eq(p->col.nevents, 1);
    parser_free(p);
    free(c);
}

/* ---- Hostile input ---- */

static struct parser *run_client(const struct bb *c, uint32_t limit)
{
    struct parser *p = parser_new(limit);
    feed(p, 0, c->b, c->n, 0);
    return p;
}

Test(tls, lying_lengths)
{
    /* extension block longer than the message */
    struct bb *hs = calloc(1, sizeof(*hs)), *c = calloc(1, sizeof(*c));
    modern_hello(hs, NULL, 0);
    uint32_t ext_len_at = 4 + 2 + 32 + 1 + 32 + 2 + 14 + 2;
    hs->b[ext_len_at] = 0xff;
    records(c, 22, 0x0301, hs->b, hs->n, 16384);
    struct parser *p = run_client(c, 0);
    cr_assert_eq(p->col.events[VG_TLS_EV_HANDSHAKE_INVALID_LENGTH], 1);
    cr_assert_eq(p->col.ntx, 1, "the extensions that are there still count");
    cr_assert_str_eq(p->col.tx[0].buf[VG_BUF_TLS_SNI], "www.example.org");
    parser_free(p);

    /* one extension's length overruns the block: the fingerprint stops before it */
    hs->n = 0;
    c->n = 0;
    modern_hello(hs, NULL, 0);
    /* the SNI extension is the second: after GREASE (4 bytes) */
    uint32_t sni_len_at = ext_len_at + 2 + 4 + 2;
    hs->b[sni_len_at] = 0x7f;
    records(c, 22, 0x0301, hs->b, hs->n, 16384);
    p = run_client(c, 0);
    cr_assert_eq(p->col.events[VG_TLS_EV_HANDSHAKE_INVALID_LENGTH], 1);
    cr_assert_eq(p->col.ntx, 1);
    cr_assert_str_eq(p->col.tx[0].buf[VG_BUF_JA3_STRING], "771,4865-4866-4867-49195-49199-156,,,");
    parser_free(p);

    /* a session id longer than 32 and a cipher list past the end */
    for (int which = 0; which < 2; which++) {
        hs->n = 0;
        c->n = 0;
        modern_hello(hs, NULL, 0);
        if (which == 0)
            hs->b[4 + 34] = 33;
        else
            hs->b[4 + 34 + 1 + 32] = 0x40;
        records(c, 22, 0x0301, hs->b, hs->n, 16384);
        p = run_client(c, 0);
        cr_assert_eq(p->col.events[VG_TLS_EV_HANDSHAKE_INVALID_LENGTH], 1);
        cr_assert_eq(p->col.ntx, 0);
        parser_free(p);
    }
    free(hs);
    free(c);
}

Test(tls, sni_anomalies)
{
    struct bb *e = calloc(1, sizeof(*e)), *m = calloc(1, sizeof(*m)), *hs = calloc(1, sizeof(*hs)),
              *c = calloc(1, sizeof(*c));
    static const uint16_t ciphers[] = {0x1301};
    sni_ext(e, "a.example");
    sni_ext(e, "b.example");
    /* a name longer than its extension */
    uint32_t at;
    ext_begin(e, 0, &at);
    put16(e, 5);
    put8(e, 0);
    put16(e, 200);
    put16(e, 0x4142);
    ext_end(e, at);
    struct hello h = {0x0303, ciphers, 1, 0, e};
    client_hello_body(m, &h);
    handshake(hs, 1, m);
    records(c, 22, 0x0301, hs->b, hs->n, 16384);
    struct parser *p = run_client(c, 0);
    cr_assert_eq(p->col.events[VG_TLS_EV_MULTIPLE_SNI_EXTENSIONS], 2);
    cr_assert_str_eq(p->col.tx[0].buf[VG_BUF_TLS_SNI], "a.example");
    parser_free(p);

    /* overlong name and a wrong name type */
    e->n = m->n = hs->n = c->n = 0;
    char longname[300];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    sni_ext(e, longname);
    h.exts = e;
    client_hello_body(m, &h);
    handshake(hs, 1, m);
    records(c, 22, 0x0301, hs->b, hs->n, 16384);
    p = run_client(c, 0);
    cr_assert_eq(p->col.events[VG_TLS_EV_INVALID_SNI_LENGTH], 1);
    cr_assert_eq(strlen(p->col.tx[0].buf[VG_BUF_TLS_SNI]), VG_TLS_SNI_MAX);
    cr_assert(vg_tls_info(p->st)->flags & VG_TLS_CUT);
    parser_free(p);

    e->n = m->n = hs->n = c->n = 0;
    ext_begin(e, 0, &at);
    put16(e, 4);
    put8(e, 1);
    put16(e, 1);
    put8(e, 'z');
    ext_end(e, at);
    client_hello_body(m, &h);
    handshake(hs, 1, m);
    records(c, 22, 0x0301, hs->b, hs->n, 16384);
    p = run_client(c, 0);
    cr_assert_eq(p->col.events[VG_TLS_EV_INVALID_SNI_TYPE], 1);
    cr_assert_eq(p->col.tx[0].buf[VG_BUF_TLS_SNI][0], '\0');
    parser_free(p);
    free(e);
    free(m);
    free(hs);
    free(c);
}

Test(tls, record_anomalies)
{
    /* zero-length handshake record, then a hello: parsing goes on */
    struct bb *c = calloc(1, sizeof(*c));
    put8(c, 22);
    put16(c, 0x0301);
    put16(c, 0);
    build_readme_hello(c, false);
    struct parser *p = run_client(c, 0);
    cr_assert_eq(p->col.events[VG_TLS_EV_INVALID_RECORD_LENGTH], 1);
    cr_assert_eq(p->col.ntx, 1);
    parser_free(p);

    static const uint8_t bad_type[] = {0x30, 3, 1, 0, 4, 1, 0, 0, 0};
    static const uint8_t bad_version[] = {22, 4, 1, 0, 4, 1, 0, 0, 0};
    static const uint8_t bad_length[] = {22, 3, 1, 0x50, 0x01, 1, 0, 0, 0};
    const uint8_t *cases[] = {bad_type, bad_version, bad_length};
    enum vg_tls_event want[] = {VG_TLS_EV_INVALID_RECORD_TYPE, VG_TLS_EV_INVALID_RECORD_VERSION,
                                VG_TLS_EV_INVALID_RECORD_LENGTH};
    for (int i = 0; i < 3; i++) {
        p = parser_new(0);
        feed(p, 0, cases[i], 9, 0);
        c->n = 0;
        build_readme_hello(c, false);
        feed(p, 0, c->b, c->n, 0); /* framing is lost: not decoded */
        cr_assert_eq(p->col.events[want[i]], 1);
        cr_assert_eq(p->col.nevents, 1);
        cr_assert_eq(p->col.ntx, 0);
        cr_assert_eq(vg_tls_shared_stats(p->sh)->lost, 1);
        /* after a gap, a chunk that starts a record is decoded again */
        feed(p, 0, c->b, c->n, VG_APP_GAP);
        cr_assert_eq(p->col.ntx, 1);
        cr_assert_eq(p->col.events[VG_TLS_EV_GAP], 1);
        parser_free(p);
    }

    /* unknown handshake type: the rest of the record is skipped */
    static const uint8_t bad_hs[] = {22, 3, 1, 0, 8, 0x63, 0, 0, 0, 1, 0, 0, 0};
    p = parser_new(0);
    feed(p, 0, bad_hs, sizeof(bad_hs), 0);
    cr_assert_eq(p->col.events[VG_TLS_EV_INVALID_HANDSHAKE_MESSAGE], 1);
    c->n = 0;
    build_readme_hello(c, false);
    feed(p, 0, c->b, c->n, 0);
    cr_assert_eq(p->col.ntx, 1);
    parser_free(p);

    /* heartbeat */
    static const uint8_t hb[] = {24, 3, 3, 0, 3, 1, 0x40, 0};
    p = parser_new(0);
    feed(p, 0, hb, sizeof(hb), 0);
    cr_assert_eq(p->col.events[VG_TLS_EV_HEARTBEAT_MESSAGE], 1);
    parser_free(p);
    free(c);
}

Test(tls, huge_handshake_length)
{
    /* a ClientHello announcing 2^24 - 1 bytes: kept up to the limit, the
     * rest skipped; a ChangeCipherSpec inside the message is an anomaly */
    struct bb *c = calloc(1, sizeof(*c));
    uint8_t body[16384 + 4];
    memset(body, 0x41, sizeof(body));
    body[0] = 1;
    body[1] = body[2] = body[3] = 0xff;
    records(c, 22, 0x0301, body, sizeof(body), 16384);
    put8(c, 20);
    put16(c, 0x0303);
    put16(c, 1);
    put8(c, 1);
    struct parser *p = parser_new(1024);
    feed(p, 0, c->b, c->n, 0);
    cr_assert_eq(p->col.events[VG_TLS_EV_HANDSHAKE_TOO_LARGE], 1);
    cr_assert_eq(p->col.events[VG_TLS_EV_INVALID_HANDSHAKE_MESSAGE], 1);
    cr_assert_eq(p->col.ntx, 0);
    end(p);
    cr_assert_eq(p->col.ntx, 0);
    parser_free(p);

    /* a hello over the limit is decoded from what was kept */
    c->n = 0;
    struct bb *hs = calloc(1, sizeof(*hs));
    modern_hello(hs, NULL, 0);
    uint32_t real = hs->n;
    hs->n = 0;
    struct bb *e = calloc(1, sizeof(*e)), *m = calloc(1, sizeof(*m));
    modern_exts(e, NULL, 0);
    uint32_t at;
    ext_begin(e, 21, &at); /* padding */
    for (int i = 0; i < 2000; i++)
        put8(e, 0);
    ext_end(e, at);
    struct hello h = {0x0303, modern_ciphers, 7, 32, e};
    client_hello_body(m, &h);
    handshake(hs, 1, m);
    cr_assert_gt(hs->n, real + 2000);
    records(c, 22, 0x0301, hs->b, hs->n, 1000);
    p = parser_new(512);
    feed(p, 0, c->b, c->n, 0);
    cr_assert_eq(p->col.events[VG_TLS_EV_HANDSHAKE_TOO_LARGE], 1);
    cr_assert_eq(p->col.events[VG_TLS_EV_HANDSHAKE_INVALID_LENGTH], 0, "cut, not lying");
    cr_assert_eq(p->col.ntx, 1);
    cr_assert_str_eq(p->col.tx[0].buf[VG_BUF_TLS_SNI], "www.example.org");
    cr_assert_eq(vg_tls_shared_stats(p->sh)->cut, 1);
    parser_free(p);
    free(c);
    free(hs);
    free(e);
    free(m);
}

Test(tls, certificate_anomalies)
{
    X509 *x = make_cert();
    unsigned char *der = NULL;
    int der_len = i2d_X509(x, &der);
    X509_free(x);
    struct bb *c = calloc(1, sizeof(*c)), *s = calloc(1, sizeof(*s));
    build_readme_hello(c, false);

    /* truncated DER inside a consistent Certificate message */
    for (int cut = 1; cut < der_len; cut += 7) {
        s->n = 0;
        server_flight(s, 0x0303, der, (uint32_t)cut, 16384);
        struct parser *p = parser_new(0);
        feed(p, 0, c->b, c->n, 0);
        feed(p, 1, s->b, s->n, 0);
        cr_assert_eq(p->col.events[VG_TLS_EV_INVALID_CERTIFICATE], 1, "cut at %d", cut);
        cr_assert_eq(p->col.ntx, 2);
        cr_assert(!p->col.tx[1].has[VG_BUF_TLS_CERT_SUBJECT]);
        cr_assert(p->col.tx[1].has[VG_BUF_JA3S_HASH]);
        parser_free(p);
    }
    /* a certificate larger than the handshake limit */
    s->n = 0;
    server_flight(s, 0x0303, der, (uint32_t)der_len, 16384);
    struct parser *p = parser_new(VG_TLS_HANDSHAKE_LIMIT_MIN);
    cr_assert_gt((uint32_t)der_len, VG_TLS_HANDSHAKE_LIMIT_MIN);
    feed(p, 0, c->b, c->n, 0);
    feed(p, 1, s->b, s->n, 0);
    cr_assert_eq(p->col.events[VG_TLS_EV_CERTIFICATE_TOO_LARGE], 1);
    cr_assert_eq(p->col.events[VG_TLS_EV_HANDSHAKE_TOO_LARGE], 0);
    cr_assert_eq(p->col.ntx, 2);
    parser_free(p);
    free(c);
    free(s);
    OPENSSL_free(der);
}

Test(tls, probe)
{
    static const uint8_t ch[] = {22, 3, 1, 0, 200, 1};
    static const uint8_t sh[] = {22, 3, 3, 0, 90, 2};
    cr_assert_eq(vg_tls_probe(0, ch, 6), 1);
    cr_assert_eq(vg_tls_probe(1, sh, 6), 1);
    cr_assert_eq(vg_tls_probe(1, ch, 6), 0);
    for (uint32_t n = 1; n < 6; n++)
        cr_assert_eq(vg_tls_probe(0, ch, n), -1, "%u bytes", n);
    static const uint8_t v2[] = {0x80, 0x2e, 1, 3, 1, 0, 0x15};
    cr_assert_eq(vg_tls_probe(0, v2, sizeof(v2)), 1);
    static const uint8_t http[] = "GET / HTTP/1.1\r\n";
    cr_assert_eq(vg_tls_probe(0, http, 16), 0);
    static const uint8_t bad_ver[] = {22, 2, 0, 0, 10, 1};
    cr_assert_eq(vg_tls_probe(0, bad_ver, 6), 0);
    static const uint8_t too_long[] = {22, 3, 1, 0xff, 0xff, 1};
    cr_assert_eq(vg_tls_probe(0, too_long, 6), 0);
}

Test(tls, sslv2_hello)
{
    /* an SSLv2-compatible ClientHello, then the server answers in TLS */
    static const uint8_t v2[] = {0x80, 0x1f, 1, 3, 1, 0, 6, 0, 0, 0,  16, 0,  0,  0x2f, 0,  0, 0x35,
                                 1,    2,    3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,   15, 16};
    struct parser *p = parser_new(0);
    feed(p, 0, v2, sizeof(v2), 0);
    cr_assert_eq(p->col.nevents, 0);
    const struct vg_tls_info *in = vg_tls_info(p->st);
    cr_assert(in->flags & VG_TLS_SSLV2);
    cr_assert_eq(in->client_version, 0x0301);
    struct bb *s = calloc(1, sizeof(*s));
    server_flight(s, 0x0301, NULL, 0, 16384);
    feed(p, 1, s->b, s->n, 0);
    cr_assert_eq(p->col.ntx, 1);
    cr_assert_eq(in->version, 0x0301);
    cr_assert(strstr(p->col.tx[0].json, "\"version\":\"TLSv1\"") != NULL);
    /* the client goes on with TLS records */
    static const uint8_t ccs[] = {20, 3, 1, 0, 1, 1};
    feed(p, 0, ccs, sizeof(ccs), 0);
    cr_assert_eq(p->col.nevents, 0);
    parser_free(p);
    free(s);
}

Test(tls, names)
{
    char b[24];
    cr_assert_str_eq(vg_tls_version_name(0x0300, b, sizeof(b)), "SSLv3");
    cr_assert_str_eq(vg_tls_version_name(0x0301, b, sizeof(b)), "TLSv1");
    cr_assert_str_eq(vg_tls_version_name(0x0302, b, sizeof(b)), "TLS 1.1");
    cr_assert_str_eq(vg_tls_version_name(0x7f17, b, sizeof(b)), "TLS 1.3 draft-23");
    cr_assert_str_eq(vg_tls_version_name(0x1234, b, sizeof(b)), "0x1234");
    cr_assert_str_eq(vg_tls_event_name(VG_TLS_EV_INVALID_RECORD_TYPE), "INVALID_RECORD_TYPE");
    cr_assert_null(vg_tls_event_name(VG_TLS_EV_COUNT));
    for (uint16_t e = 0; e < VG_TLS_EV_COUNT; e++)
        cr_assert_not_null(vg_tls_event_name(e));
}

/* ---- Captures ---- */

#define MAX_SEGS 512

struct seg {
    uint32_t off, len;
    uint8_t *data;
};

/* One TCP flow of a capture, rebuilt per direction as a receiver would:
 * in order, each byte once; a hole the receiver acknowledged (lost from the
 * capture) is skipped with VG_APP_GAP. Directions are interleaved in
 * capture order. */
struct flow_feed {
    struct parser *p;
    uint16_t cport, sport;
    bool have_base[2];
    uint32_t base[2];
    uint32_t next[2];  /* next offset to deliver */
    uint32_t acked[2]; /* highest offset the other side acknowledged */
    struct seg segs[2][MAX_SEGS];
    unsigned nsegs[2];
};

static void deliver(struct flow_feed *f, int dir)
{
    for (;;) {
        bool progress = false;
        unsigned best = MAX_SEGS;
        for (unsigned i = 0; i < f->nsegs[dir]; i++) {
            struct seg *g = &f->segs[dir][i];
            if (g->data == NULL)
                continue;
            if (g->off + g->len <= f->next[dir]) {
                free(g->data);
                g->data = NULL;
                continue;
            }
            if (g->off <= f->next[dir]) {
                uint32_t skip = f->next[dir] - g->off;
                feed(f->p, dir, g->data + skip, g->len - skip, 0);
                f->next[dir] = g->off + g->len;
                free(g->data);
                g->data = NULL;
                progress = true;
            } else if (best == MAX_SEGS || g->off < f->segs[dir][best].off) {
                best = i;
            }
        }
        if (progress)
            continue;
        if (best != MAX_SEGS && f->acked[dir] >= f->segs[dir][best].off) {
            struct seg *g = &f->segs[dir][best];
            feed(f->p, dir, g->data, g->len, VG_APP_GAP);
            f->next[dir] = g->off + g->len;
            free(g->data);
            g->data = NULL;
            continue;
        }
        return;
    }
}

static struct parser *run_pcap(const char *rel, uint16_t cport, uint16_t sport)
{
    char path[512], err[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof(path), "%s/%s", VG_SOURCE_ROOT, rel);
    pcap_t *pc = pcap_open_offline(path, err);
    cr_assert_not_null(pc, "%s: %s", path, err);
    struct flow_feed *f = calloc(1, sizeof(*f));
    f->p = parser_new(0);
    f->cport = cport;
    f->sport = sport;
    struct pcap_pkthdr *h;
    const u_char *d;
    struct vg_decode_stats ds;
    memset(&ds, 0, sizeof(ds));
    while (pcap_next_ex(pc, &h, &d) == 1) {
        struct vg_packet pk;
        memset(&pk, 0, sizeof(pk));
        pk.data = d;
        pk.caplen = h->caplen;
        pk.wirelen = h->len;
        if (vg_decode(&pk, pcap_datalink(pc), VG_CSUM_NONE, &ds) != 0 || pk.proto != 6 ||
            !(pk.flags & VG_PKT_HAS_L4))
            continue;
        int dir;
        if (pk.sport == cport && pk.dport == sport)
            dir = 0;
        else if (pk.sport == sport && pk.dport == cport)
            dir = 1;
        else
            continue;
        uint32_t seq = pk.tcp_seq + ((pk.tcp_flags & 0x02) ? 1 : 0);
        if (!f->have_base[dir]) {
            f->have_base[dir] = true;
            f->base[dir] = seq;
        }
        if ((pk.tcp_flags & 0x10) && f->have_base[!dir]) {
            uint32_t a = pk.tcp_ack - f->base[!dir];
            if (a < 0x80000000u && a > f->acked[!dir])
                f->acked[!dir] = a;
        }
        if (pk.payload_len != 0) {
            cr_assert_lt(f->nsegs[dir], MAX_SEGS);
            struct seg *g = &f->segs[dir][f->nsegs[dir]++];
            g->off = seq - f->base[dir];
            g->len = pk.payload_len;
            g->data = malloc(pk.payload_len);
            memcpy(g->data, pk.payload, pk.payload_len);
        }
        deliver(f, dir);
        deliver(f, !dir);
    }
    for (int dir = 0; dir < 2; dir++) {
        f->acked[dir] = UINT32_MAX;
        deliver(f, dir);
    }
    end(f->p);
    pcap_close(pc);
    struct parser *p = f->p;
    free(f);
    return p;
}

struct ndpi_expect {
    const char *pcap;
    uint16_t cport, sport;
    const char *sni, *ja3, *ja4_ndpi, *ja4, *ja3s, *issuer, *subject, *sha1, *validity;
    const char *alpn, *server_alpn, *version;
};

/* From pcaps/ndpi/result/ (the .out files). nDPI 4.x takes the first two characters of
 * the first ALPN for JA4, where FoxIO's spec takes its first and last: for
 * "http/1.1" nDPI prints "ht" and the spec "h1"; the rest is the same. */
static const struct ndpi_expect ndpi_flows[] = {
    {"pcaps/ndpi/pcap/443-curl.pcap", 55523, 443, "www.ntop.org",
     "2a26b1a62e40d25d4de3babc9d532f30", "t12d6707h2_2955a3196ffa_c83f907a73d3",
     "t12d6707h2_2955a3196ffa_c83f907a73d3", "ae53107a2e47ea20c72ac44821a728bf",
     "C=US, O=Let's Encrypt, CN=Let's Encrypt Authority X3", "CN=www.ntop.org",
     "DB:A7:E4:3E:6D:BB:21:AB:68:47:35:E8:0B:8F:15:DF:DB:C7:C9:6F",
     "2019-12-17 01:17:28 - 2020-03-16 01:17:28", "h2,http/1.1", "h2", "TLS 1.2"},
    {"pcaps/ndpi/pcap/http_ipv6.pcap", 37506, 443, "www.ntop.org",
     "d3e627f423a33ea41841c19b8af79293", "t12d1612ht_94fc43e2fc61_c9eaec7dbab4",
     "t12d1612h1_94fc43e2fc61_c9eaec7dbab4", "389ed42c02ebecc32e73aa31def07e14",
     "C=GB, ST=Greater Manchester, L=Salford, O=COMODO CA Limited, CN=COMODO RSA Domain "
     "Validation Secure Server CA",
     "OU=Domain Control Validated, OU=PositiveSSL, CN=shop.ntop.org",
     "FB:A6:FF:A7:58:F3:9D:54:24:45:E5:A0:C4:04:18:D5:58:91:E0:34",
     "2015-11-15 00:00:00 - 2018-11-14 23:59:59", "http/1.1,spdy/3.1,h2-14,h2", NULL, "TLS 1.2"},
    {"pcaps/ndpi/pcap/http_ipv6.pcap", 53132, 443, "s-static.ak.facebook.com",
     "d3e627f423a33ea41841c19b8af79293", "t12d1612ht_94fc43e2fc61_c9eaec7dbab4",
     "t12d1612h1_94fc43e2fc61_c9eaec7dbab4", "b898351eb5e266aefd3723d466935494",
     "C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert High Assurance CA-3",
     "C=US, ST=CA, L=Menlo Park, O=Facebook, Inc., CN=*.ak.fbcdn.net",
     "E7:62:76:74:8D:09:F7:E9:69:05:B8:1A:37:A1:30:2D:FF:3B:BC:0A",
     "2015-08-12 00:00:00 - 2015-12-31 12:00:00", "http/1.1,spdy/3.1,h2-14,h2", "http/1.1",
     "TLS 1.2"},
    {"pcaps/ndpi/pcap/vxlan.pcap", 45228, 443, "www.facebook.com",
     "40adfd923eb82b89d8836ba37a19bca1", "t13d311000_e8f1e7e78f70_5ac7197df9d2",
     "t13d311000_e8f1e7e78f70_5ac7197df9d2", "475c9302dc42b2751db9edcac3b74891", NULL, NULL, NULL,
     NULL, NULL, NULL, "TLS 1.3"},
    /* nDPI prints no JA3S here (the record holding the ServerHello is cut
     * by the capture's end); this one is the ServerHello's "771,49199,
     * 16-23-65281", decoded from the packet bytes by hand */
    {"pcaps/ndpi/pcap/4in6tunnel.pcap", 64455, 443, "www.bing.com",
     "9e10692f1b7f78228b2d4e424db3a98c", "t12d1909h2_d83cc789557e_652f19f1cfc7",
     "t12d1909h2_d83cc789557e_652f19f1cfc7", "82cf931f45acd5e7e3aedbc069be2807", NULL, NULL, NULL,
     NULL, "h2,http/1.1", NULL, "TLS 1.2"},
};

static void lower_copy(char *out, const char *in)
{
    for (; *in != '\0'; in++)
        *out++ = (char)(*in >= 'A' && *in <= 'Z' ? *in + 32 : *in);
    *out = '\0';
}

Test(tls, ndpi_captures)
{
    for (size_t i = 0; i < sizeof(ndpi_flows) / sizeof(ndpi_flows[0]); i++) {
        const struct ndpi_expect *x = &ndpi_flows[i];
        struct parser *p = run_pcap(x->pcap, x->cport, x->sport);
        const struct vg_tls_info *in = vg_tls_info(p->st);
        cr_assert_eq(p->col.ntx, 2, "%s:%u", x->pcap, x->cport);
        const struct seen_tx *rq = &p->col.tx[0], *rs = &p->col.tx[1];
        cr_assert_eq(rq->stage, VG_STAGE_REQUEST);
        cr_assert_eq(rs->stage, VG_STAGE_RESPONSE);
        cr_assert_eq(rs->last, 1);
        cr_assert_str_eq(rq->buf[VG_BUF_TLS_SNI], x->sni);
        cr_assert_str_eq(rq->buf[VG_BUF_JA3_HASH], x->ja3, "%s:%u", x->pcap, x->cport);
        cr_assert_str_eq(rq->buf[VG_BUF_JA4_HASH], x->ja4, "%s:%u (nDPI: %s)", x->pcap, x->cport,
                         x->ja4_ndpi);
        /* nDPI's form differs only in the ALPN characters */
        cr_assert_eq(memcmp(rq->buf[VG_BUF_JA4_HASH], x->ja4_ndpi, 8), 0);
        cr_assert_str_eq(rq->buf[VG_BUF_JA4_HASH] + 10, x->ja4_ndpi + 10);
        char md5[33];
        openssl_hex("MD5", rq->buf[VG_BUF_JA3_STRING], strlen(rq->buf[VG_BUF_JA3_STRING]), md5);
        cr_assert_str_eq(md5, x->ja3);
        if (x->alpn != NULL)
            cr_assert_str_eq(rq->buf[VG_BUF_TLS_ALPN], x->alpn);
        if (x->ja3s != NULL)
            cr_assert_str_eq(rs->buf[VG_BUF_JA3S_HASH], x->ja3s, "%s:%u", x->pcap, x->cport);
        else
            cr_assert(!rs->has[VG_BUF_JA3S_HASH]);
        if (x->subject != NULL) {
            cr_assert_str_eq(rs->buf[VG_BUF_TLS_CERT_SUBJECT], x->subject);
            cr_assert_str_eq(rs->buf[VG_BUF_TLS_CERT_ISSUER], x->issuer);
            char fp[64];
            lower_copy(fp, x->sha1);
            cr_assert_str_eq(rs->buf[VG_BUF_TLS_CERT_FINGERPRINT], fp);
            char validity[64];
            snprintf(validity, sizeof(validity), "%.10s %s - %.10s %s", in->not_before,
                     in->not_before + 11, in->not_after, in->not_after + 11);
            cr_assert_str_eq(validity, x->validity);
        } else {
            cr_assert(!rs->has[VG_BUF_TLS_CERT_SUBJECT]);
        }
        if (x->server_alpn != NULL)
            cr_assert(strstr(rs->json, x->server_alpn) != NULL);
        if (x->version != NULL) {
            char v[64];
            snprintf(v, sizeof(v), "\"version\":\"%s\"", x->version);
            cr_assert(strstr(rs->json, v) != NULL, "%s", rs->json);
        }
        cr_assert_eq(p->col.nevents, 0, "%s:%u", x->pcap, x->cport);
        parser_free(p);
    }
}

Test(tls, ndpi_missing_client_hello_fragment)
{
    /* The second segment of the ClientHello is not in the capture: the
     * hello is lost (nDPI shows no JA3C either), the server side decodes. */
    struct parser *p = run_pcap("pcaps/ndpi/pcap/tls_missing_ch_frag.pcap", 33063, 443);
    cr_assert_eq(p->col.events[VG_TLS_EV_GAP], 1);
    cr_assert_eq(p->col.nevents, 1);
    cr_assert_eq(p->col.ntx, 1);
    const struct seen_tx *t = &p->col.tx[0];
    cr_assert_eq(t->stage, VG_STAGE_RESPONSE);
    cr_assert_eq(t->last, 1);
    cr_assert(!t->has[VG_BUF_JA3_HASH]);
    cr_assert_str_eq(t->buf[VG_BUF_JA3S_HASH], "907bf3ecef1c987c889946b737b43de8");
    cr_assert(strstr(t->json, "\"version\":\"TLS 1.3\"") != NULL);
    const struct vg_tls_info *in = vg_tls_info(p->st);
    cr_assert_eq(in->cipher, 0x1302); /* TLS_AES_256_GCM_SHA384 */
    /* the client's records after the hole were read again */
    cr_assert_gt(in->records[0], 1);
    parser_free(p);
}

Test(tls, suricata_verify_duplicate_hello)
{
    /* the rule `ja3.string; content:"771,"` must alert once: one request
     * stage, the second hello is an anomaly */
    struct parser *p =
        run_pcap("pcaps/suricata-verify/tls-duplicate-hello/input.pcap", 49954, 8443);
    cr_assert_eq(p->col.ntx, 2);
    cr_assert_eq(p->col.tx[0].stage, VG_STAGE_REQUEST);
    cr_assert_str_eq(p->col.tx[0].buf[VG_BUF_JA3_STRING],
                     "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-"
                     "52392-49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-"
                     "49310-51,5-10-11-13-22-23-35-51-43-65281-0-45,23,0");
    cr_assert_eq(p->col.events[VG_TLS_EV_DUPLICATE_CLIENT_HELLO], 1);
    cr_assert_eq(p->col.nevents, 1);
    cr_assert_eq(p->col.tx[1].stage, VG_STAGE_RESPONSE);
    cr_assert_eq(p->col.tx[1].last, 1);
    parser_free(p);
}

Test(tls, suricata_verify_hello_retry)
{
    /* bug-5758: HelloRetryRequest and ChangeCipherSpec, a second hello,
     * then the real ServerHello; tls.sni must match once */
    struct parser *p = run_pcap("pcaps/suricata-verify/bug-5758/input.pcap", 34792, 443);
    cr_assert_eq(p->col.ntx, 2);
    cr_assert_str_eq(p->col.tx[0].buf[VG_BUF_TLS_SNI], "ftp.nluug.nl");
    cr_assert_eq(p->col.nevents, 0);
    const struct vg_tls_info *in = vg_tls_info(p->st);
    cr_assert(in->flags & VG_TLS_HRR);
    cr_assert(in->flags & VG_TLS_SERVER_HELLO);
    cr_assert_eq(in->version, 0x0304);
    cr_assert(p->col.tx[1].has[VG_BUF_JA3S_HASH]);
    parser_free(p);
}

Test(tls, app_split_hello_capture)
{
    struct parser *p = run_pcap("pcaps/app/tls-split-hello.pcap", 40050, 443);
    cr_assert_eq(p->col.ntx, 2);
    cr_assert_str_eq(p->col.tx[0].buf[VG_BUF_TLS_SNI], "split.example.com");
    cr_assert_str_eq(p->col.tx[0].buf[VG_BUF_TLS_ALPN], "http/1.1");
    cr_assert(strstr(p->col.tx[1].json, "\"version\":\"TLS 1.3\"") != NULL);
    cr_assert_eq(p->col.nevents, 0);
    parser_free(p);
}
