/*
 * bench_tls: TLS parser throughput on one core, in handshakes per second and MB/s.
 *
 *   bench_tls [SECONDS]      (default 3 per measurement)
 *
 * The sessions are TLS 1.2 as browsers and servers send them: a 517-byte ClientHello
 * (GREASE, SNI, ALPN, 16 ciphers, 16 extensions, padding), then ChangeCipherSpec and
 * Finished; a ServerHello, a Certificate message with a three-certificate chain (made by
 * OpenSSL at start-up, RSA-2048 leaf), ServerHelloDone, ChangeCipherSpec and Finished.
 * Each session starts from a freshly initialised state, as a new flow would. Measurements:
 *   handshake        each flight in one chunk (messages decoded in place);
 *   handshake/1460   each flight cut into 1460-byte segments (hellos and certificate
 *                    rebuilt in the buffer);
 *   +encode          as handshake, and the transaction's EVE object written at each stage;
 *   +64KiB data      as handshake, then 64 KiB of application data records each way in
 *                    1460-byte segments (the steady state of a flow: records only counted).
 * Prints one line per measurement: handshakes/s, MB/s of TLS bytes parsed, ns per session.
 */
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "vigil/meta.h"
#include "vigil/tls.h"

struct buf {
    uint8_t b[65536 + 16384];
    uint32_t n;
};

static struct buf client, server, data_c, data_s;

static void put8(struct buf *b, uint32_t v)
{
    b->b[b->n++] = (uint8_t)v;
}

static void put16(struct buf *b, uint32_t v)
{
    put8(b, v >> 8);
    put8(b, v);
}

static void put24(struct buf *b, uint32_t v)
{
    put8(b, v >> 16);
    put16(b, v);
}

static void putn(struct buf *b, const void *p, uint32_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void patch16(struct buf *b, uint32_t at)
{
    uint32_t v = b->n - at - 2;
    b->b[at] = (uint8_t)(v >> 8);
    b->b[at + 1] = (uint8_t)v;
}

static void patch24(struct buf *b, uint32_t at)
{
    uint32_t v = b->n - at - 3;
    b->b[at] = (uint8_t)(v >> 16);
    b->b[at + 1] = (uint8_t)(v >> 8);
    b->b[at + 2] = (uint8_t)v;
}

/* Wraps m in handshake records of at most 16384 bytes. */
static void records(struct buf *out, uint8_t type, const struct buf *m)
{
    for (uint32_t off = 0; off < m->n;) {
        uint32_t l = m->n - off < 16384 ? m->n - off : 16384;
        put8(out, type);
        put16(out, 0x0303);
        put16(out, l);
        putn(out, m->b + off, l);
        off += l;
    }
}

static void finish_flight(struct buf *out)
{
    static const uint8_t ccs[] = {20, 3, 3, 0, 1, 1};
    putn(out, ccs, sizeof(ccs));
    put8(out, 22);
    put16(out, 0x0303);
    put16(out, 40);
    for (int i = 0; i < 40; i++)
        put8(out, 0x5a);
}

static void ext_u16s(struct buf *m, uint16_t type, const uint16_t *v, uint32_t n, int width)
{
    put16(m, type);
    uint32_t at = m->n;
    put16(m, 0);
    if (width == 2)
        put16(m, n * 2);
    else
        put8(m, n * 2);
    for (uint32_t i = 0; i < n; i++)
        put16(m, v[i]);
    patch16(m, at);
}

static void build_client(void)
{
    static struct buf m;
    static const uint16_t ciphers[] = {0x8a8a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f,
                                       0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
                                       0x009c, 0x009d, 0x002f, 0x0035};
    static const uint16_t groups[] = {0x5a5a, 0x001d, 0x0017, 0x0018};
    static const uint16_t sigs[] = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};
    static const uint16_t versions[] = {0x2a2a, 0x0304, 0x0303};
    m.n = 0;
    put8(&m, 1);
    put24(&m, 0);
    put16(&m, 0x0303);
    for (int i = 0; i < 32; i++)
        put8(&m, i * 7);
    put8(&m, 32);
    for (int i = 0; i < 32; i++)
        put8(&m, i * 11);
    put16(&m, sizeof(ciphers));
    for (size_t i = 0; i < sizeof(ciphers) / 2; i++)
        put16(&m, ciphers[i]);
    put8(&m, 1);
    put8(&m, 0);
    uint32_t ext_at = m.n;
    put16(&m, 0);
    put16(&m, 0xaaaa);
    put16(&m, 0);
    const char *sni = "www.example-bank.com";
    put16(&m, 0);
    put16(&m, (uint32_t)strlen(sni) + 5);
    put16(&m, (uint32_t)strlen(sni) + 3);
    put8(&m, 0);
    put16(&m, (uint32_t)strlen(sni));
    putn(&m, sni, (uint32_t)strlen(sni));
    put16(&m, 23);
    put16(&m, 0);
    put16(&m, 0xff01);
    put16(&m, 1);
    put8(&m, 0);
    ext_u16s(&m, 10, groups, 4, 2);
    put16(&m, 11);
    put16(&m, 2);
    put8(&m, 1);
    put8(&m, 0);
    put16(&m, 35);
    put16(&m, 0);
    static const uint8_t alpn[] = {0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    put16(&m, 16);
    put16(&m, sizeof(alpn));
    putn(&m, alpn, sizeof(alpn));
    put16(&m, 5);
    put16(&m, 5);
    putn(&m, "\x01\x00\x00\x00\x00", 5);
    ext_u16s(&m, 13, sigs, 8, 2);
    put16(&m, 18);
    put16(&m, 0);
    put16(&m, 51);
    put16(&m, 38);
    put16(&m, 36);
    put16(&m, 0x001d);
    put16(&m, 32);
    for (int i = 0; i < 32; i++)
        put8(&m, 0x90 + i);
    put16(&m, 45);
    put16(&m, 2);
    put8(&m, 1);
    put8(&m, 1);
    ext_u16s(&m, 43, versions, 3, 1);
    put16(&m, 0x1a1a);
    put16(&m, 1);
    put8(&m, 0);
    /* padding to 512 bytes of handshake, as Chrome does */
    put16(&m, 21);
    uint32_t pad_at = m.n;
    put16(&m, 0);
    while (m.n < 512)
        put8(&m, 0);
    patch16(&m, pad_at);
    patch16(&m, ext_at);
    patch24(&m, 1);
    records(&client, 22, &m);
    finish_flight(&client);
}

static int make_cert(uint8_t **der, const char *cn, const char *issuer, EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set_int64(X509_get_serialNumber(x), 0x1234567890abcdefLL);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 90);
    X509_NAME *sub = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(sub, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0);
    X509_NAME_add_entry_by_txt(sub, "O", MBSTRING_ASC, (const unsigned char *)"Example Bank", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(sub, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_NAME *iss = X509_get_issuer_name(x);
    X509_NAME_add_entry_by_txt(iss, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0);
    X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_ASC, (const unsigned char *)issuer, -1, -1, 0);
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    *der = NULL;
    int n = i2d_X509(x, der);
    X509_free(x);
    return n;
}

static void build_server(void)
{
    static struct buf m;
    m.n = 0;
    put8(&m, 2);
    put24(&m, 0);
    put16(&m, 0x0303);
    for (int i = 0; i < 32; i++)
        put8(&m, 0x30 + i);
    put8(&m, 32);
    for (int i = 0; i < 32; i++)
        put8(&m, 0x70 + i);
    put16(&m, 0xc02f);
    put8(&m, 0);
    uint32_t ext_at = m.n;
    put16(&m, 0);
    put16(&m, 0xff01);
    put16(&m, 1);
    put8(&m, 0);
    put16(&m, 16);
    put16(&m, 5);
    put16(&m, 3);
    put8(&m, 2);
    put8(&m, 'h');
    put8(&m, '2');
    put16(&m, 11);
    put16(&m, 2);
    put8(&m, 1);
    put8(&m, 0);
    put16(&m, 23);
    put16(&m, 0);
    patch16(&m, ext_at);
    patch24(&m, 1);

    EVP_PKEY *key = EVP_RSA_gen(2048);
    if (key == NULL) {
        fprintf(stderr, "bench_tls: no RSA key\n");
        exit(1);
    }
    uint32_t cert_at = m.n;
    put8(&m, 11);
    put24(&m, 0);
    uint32_t list_at = m.n;
    put24(&m, 0);
    const char *names[3][2] = {{"www.example-bank.com", "Example Issuing CA R3"},
                               {"Example Issuing CA R3", "Example Root CA"},
                               {"Example Root CA", "Example Root CA"}};
    for (int i = 0; i < 3; i++) {
        uint8_t *der;
        int n = make_cert(&der, names[i][0], names[i][1], key);
        put24(&m, (uint32_t)n);
        putn(&m, der, (uint32_t)n);
        OPENSSL_free(der);
    }
    patch24(&m, list_at);
    patch24(&m, cert_at + 1);
    EVP_PKEY_free(key);
    put8(&m, 14);
    put24(&m, 0);
    records(&server, 22, &m);
    finish_flight(&server);
}

static void build_data(struct buf *b)
{
    b->n = 0;
    while (b->n + 16384 + 5 <= 65536 + 5 * 4) {
        put8(b, 23);
        put16(b, 0x0303);
        put16(b, 16384);
        memset(b->b + b->n, 0xc3, 16384);
        b->n += 16384;
    }
}

enum mode { ONE_CHUNK, SEGMENTS, ENCODE, DATA };

static void feed(struct vg_tls_state *st, int dir, const struct buf *b, uint32_t seg,
                 const struct vg_app_cb *cb)
{
    for (uint32_t off = 0; off < b->n; off += seg) {
        uint32_t l = b->n - off < seg ? b->n - off : seg;
        vg_tls_parse(st, dir, b->b + off, l, 0, cb);
    }
}

static void measure(enum mode mode, double seconds, struct vg_tls_shared *sh)
{
    struct vg_tls_config cfg;
    vg_tls_config_default(&cfg);
    struct vg_tls_state *st = malloc(vg_tls_state_size(&cfg));
    if (st == NULL)
        exit(1);
    struct sink sink = {.encode = mode == ENCODE};
    const struct vg_app_cb cb = {&sink, on_tx, on_anomaly};
    uint32_t seg = mode == ONE_CHUNK || mode == ENCODE ? UINT32_MAX : 1460;
    uint64_t sessions = 0, bytes = 0;
    double start = now(), end = start;
    while (end - start < seconds) {
        for (unsigned rep = 0; rep < 64; rep++) {
            vg_tls_state_init(st, &cfg, sh);
            feed(st, 0, &client, seg, &cb);
            feed(st, 1, &server, seg, &cb);
            bytes += client.n + server.n;
            if (mode == DATA) {
                feed(st, 0, &data_c, 1460, &cb);
                feed(st, 1, &data_s, 1460, &cb);
                bytes += data_c.n + data_s.n;
            }
            vg_tls_parse(st, 0, NULL, 0, VG_APP_END, &cb);
            vg_tls_parse(st, 1, NULL, 0, VG_APP_END, &cb);
            sessions++;
        }
        end = now();
    }
    if (sink.tx != sessions * 2) {
        fprintf(stderr, "bench_tls: %llu transaction stages for %llu sessions\n",
                (unsigned long long)sink.tx, (unsigned long long)sessions);
        exit(1);
    }
    const char *names[] = {"handshake", "handshake/1460", "+encode", "+64KiB data"};
    double t = end - start;
    printf("%-16s %10.0f handshakes/s %9.1f MB/s %8.0f ns/session\n", names[mode],
           (double)sessions / t, (double)bytes / t / 1e6, t * 1e9 / (double)sessions);
    free(st);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    if (seconds <= 0)
        seconds = 3.0;
    build_client();
    build_server();
    build_data(&data_c);
    build_data(&data_s);
    printf("client flight %u bytes, server flight %u bytes\n", client.n, server.n);
    struct vg_tls_shared *sh = vg_tls_shared_new();
    if (sh == NULL)
        return 1;
    measure(ONE_CHUNK, seconds, sh);
    measure(SEGMENTS, seconds, sh);
    measure(ENCODE, seconds, sh);
    measure(DATA, seconds, sh);
    vg_tls_shared_free(sh);
    return 0;
}
