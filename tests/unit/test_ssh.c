/* SSH parser: banners, KEXINIT and HASSH (checked against OpenSSL's MD5 and
 * against nDPI's values for its ssh.pcap), the order of the two stages,
 * the anomalies, and input split anywhere. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_test_util.h"
#include "vigil/event.h"
#include "vigil/flow.h"
#include "vigil/meta.h"
#include "vigil/packet.h"
#include "vigil/ssh.h"

/* ---- recorder ---- */

#define MAX_TX 8
#define MAX_EV 32

struct seen_buf {
    bool present;
    char text[4200];
};

struct seen_tx {
    uint8_t stage, dir, last;
    uint32_t tx_id;
    struct seen_buf proto, software, hassh, hassh_str, hassh_srv, hassh_srv_str;
    char json[16384];
};

struct rec {
    unsigned ntx, nev;
    struct seen_tx tx[MAX_TX];
    uint16_t ev[MAX_EV];
};

static void copy_buf(struct seen_buf *b, const struct vg_app_buf *src)
{
    b->present = src->data != NULL;
    size_t n = src->data != NULL ? src->len : 0;
    cr_assert_lt(n, sizeof(b->text));
    if (n > 0)
        memcpy(b->text, src->data, n);
    b->text[n] = '\0';
}

static void encode_json(const struct vg_app_tx *tx, char *out, size_t cap)
{
    char *json = app_tx_json(tx);
    snprintf(out, cap, "%s", json);
    free(json);
}

static void on_tx(void *user, const struct vg_app_tx *tx)
{
    struct rec *r = user;
    cr_assert_lt(r->ntx, MAX_TX);
    struct seen_tx *t = &r->tx[r->ntx++];
    cr_assert_eq(tx->proto, VG_APP_SSH);
    t->stage = tx->stage;
    t->dir = tx->dir;
    t->last = tx->last;
    t->tx_id = tx->tx_id;
    copy_buf(&t->proto, &tx->buf[VG_BUF_SSH_PROTO]);
    copy_buf(&t->software, &tx->buf[VG_BUF_SSH_SOFTWARE]);
    copy_buf(&t->hassh, &tx->buf[VG_BUF_SSH_HASSH]);
    copy_buf(&t->hassh_str, &tx->buf[VG_BUF_SSH_HASSH_STRING]);
    copy_buf(&t->hassh_srv, &tx->buf[VG_BUF_SSH_HASSH_SERVER]);
    copy_buf(&t->hassh_srv_str, &tx->buf[VG_BUF_SSH_HASSH_SERVER_STRING]);
    encode_json(tx, t->json, sizeof(t->json));
}

static void on_anomaly(void *user, enum vg_app_proto proto, uint16_t ev)
{
    struct rec *r = user;
    cr_assert_eq(proto, VG_APP_SSH);
    cr_assert_lt(r->nev, MAX_EV);
    r->ev[r->nev++] = ev;
}

#define CB(r)                                                                                      \
    {                                                                                              \
        .user = (r), .tx = on_tx, .anomaly = on_anomaly                                            \
    }

static struct vg_ssh_shared *shared;

static void setup(void)
{
    shared = vg_ssh_shared_new();
    cr_assert_not_null(shared);
}

static void teardown(void)
{
    vg_ssh_shared_free(shared);
}

static struct vg_ssh_state *new_state(void)
{
    struct vg_ssh_state *s = malloc(vg_ssh_state_size());
    cr_assert_not_null(s);
    vg_ssh_state_init(s, shared);
    return s;
}

static void feed(struct vg_ssh_state *s, int dir, const void *p, size_t n,
                 const struct vg_app_cb *cb)
{
    vg_ssh_parse(s, dir, p, (uint32_t)n, 0, cb);
}

static void feed_str(struct vg_ssh_state *s, int dir, const char *str, const struct vg_app_cb *cb)
{
    feed(s, dir, str, strlen(str), cb);
}

/* ---- packets ---- */

static void md5_hex(const char *s, size_t n, char out[33])
{
    uint8_t d[16];
    unsigned dl = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    cr_assert(EVP_DigestInit_ex(c, EVP_md5(), NULL));
    cr_assert(EVP_DigestUpdate(c, s, n));
    cr_assert(EVP_DigestFinal_ex(c, d, &dl));
    EVP_MD_CTX_free(c);
    for (unsigned i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static uint32_t put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return 4;
}

/* A binary packet around payload (message code first), padded to 8. */
static uint32_t build_packet(uint8_t *out, const uint8_t *payload, uint32_t n)
{
    uint32_t pad = 8 - (5 + n) % 8;
    if (pad < 4)
        pad += 8;
    uint32_t o = put32(out, 1 + n + pad);
    out[o++] = (uint8_t)pad;
    memcpy(out + o, payload, n);
    o += n;
    memset(out + o, 0, pad);
    return o + pad;
}

/* KEXINIT with the ten name-lists. */
static uint32_t build_kexinit(uint8_t *out, const char *const lists[10])
{
    static uint8_t payload[16384];
    uint32_t n = 0;
    payload[n++] = 20;
    for (unsigned i = 0; i < 16; i++)
        payload[n++] = (uint8_t)(0xa0 + i);
    for (unsigned i = 0; i < 10; i++) {
        uint32_t l = (uint32_t)strlen(lists[i]);
        n += put32(payload + n, l);
        memcpy(payload + n, lists[i], l);
        n += l;
    }
    payload[n++] = 0;
    n += put32(payload + n, 0);
    return build_packet(out, payload, n);
}

static const char *const client_lists[10] = {
    "curve25519-sha256,ecdh-sha2-nistp256",
    "ssh-ed25519,rsa-sha2-256",
    "aes128-ctr,aes256-gcm@openssh.com",
    "aes128-ctr",
    "hmac-sha2-256",
    "hmac-sha1",
    "none,zlib@openssh.com",
    "none",
    "",
    "",
};

static const char *const server_lists[10] = {
    "curve25519-sha256",
    "ssh-ed25519",
    "aes128-ctr",
    "aes256-gcm@openssh.com",
    "hmac-sha1",
    "hmac-sha2-512",
    "zlib",
    "none",
    "",
    "",
};

#define CLIENT_HASSH_STRING                                                                        \
    "curve25519-sha256,ecdh-sha2-nistp256;aes128-ctr,aes256-gcm@openssh.com;hmac-sha2-256;none,"   \
    "zlib@openssh.com"
#define SERVER_HASSH_STRING "curve25519-sha256;aes256-gcm@openssh.com;hmac-sha2-512;none"

/* The exchange of a whole session, in the order the wire had it. */
struct session {
    uint8_t bytes[2][16384];
    uint32_t len[2];
};

static void build_session(struct session *ss)
{
    memset(ss, 0, sizeof(*ss));
    const char *sb = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", *cbn = "SSH-2.0-Go\r\n";
    memcpy(ss->bytes[1], sb, strlen(sb));
    ss->len[1] = (uint32_t)strlen(sb);
    ss->len[1] += build_kexinit(ss->bytes[1] + ss->len[1], server_lists);
    memcpy(ss->bytes[0], cbn, strlen(cbn));
    ss->len[0] = (uint32_t)strlen(cbn);
    ss->len[0] += build_kexinit(ss->bytes[0] + ss->len[0], client_lists);
    /* then encrypted-looking bytes */
    memset(ss->bytes[0] + ss->len[0], 0xee, 64);
    ss->len[0] += 64;
}

static void check_full_session(const struct rec *r)
{
    char ch[33], sh[33];
    md5_hex(CLIENT_HASSH_STRING, strlen(CLIENT_HASSH_STRING), ch);
    md5_hex(SERVER_HASSH_STRING, strlen(SERVER_HASSH_STRING), sh);
    cr_assert_eq(r->nev, 0);
    cr_assert_eq(r->ntx, 2);
    const struct seen_tx *q = &r->tx[0], *a = &r->tx[1];
    cr_assert_eq(q->stage, VG_STAGE_REQUEST);
    cr_assert_eq(q->dir, VG_DIR_TOSERVER);
    cr_assert_eq(q->last, 0);
    cr_assert_eq(q->tx_id, 0);
    cr_assert_str_eq(q->proto.text, "2.0");
    cr_assert_str_eq(q->software.text, "Go");
    cr_assert_str_eq(q->hassh.text, ch);
    cr_assert_str_eq(q->hassh_str.text, CLIENT_HASSH_STRING);
    cr_assert_not(q->hassh_srv.present);
    cr_assert_not(q->hassh_srv_str.present);

    cr_assert_eq(a->stage, VG_STAGE_RESPONSE);
    cr_assert_eq(a->dir, VG_DIR_TOCLIENT);
    cr_assert_eq(a->last, 1);
    cr_assert_eq(a->tx_id, 0);
    cr_assert_str_eq(a->proto.text, "2.0");
    cr_assert_str_eq(a->software.text, "OpenSSH_9.2p1");
    cr_assert_str_eq(a->hassh_srv.text, sh);
    cr_assert_str_eq(a->hassh_srv_str.text, SERVER_HASSH_STRING);
    cr_assert_str_eq(a->hassh.text, ch);

    char want[2048];
    snprintf(want, sizeof(want),
             "{\"ssh\":{\"client\":{\"proto_version\":\"2.0\",\"software_version\":\"Go\","
             "\"hassh\":{\"hash\":\"%s\",\"string\":\"%s\"}},"
             "\"server\":{\"proto_version\":\"2.0\",\"software_version\":\"OpenSSH_9.2p1\","
             "\"hassh\":{\"hash\":\"%s\",\"string\":\"%s\"}}}}",
             ch, CLIENT_HASSH_STRING, sh, SERVER_HASSH_STRING);
    cr_assert_str_eq(a->json, want);
}

TestSuite(ssh, .init = setup, .fini = teardown);

Test(ssh, session_gives_request_then_response)
{
    static struct session ss;
    build_session(&ss);
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    /* server first: its banner and KEXINIT; RESPONSE must wait for REQUEST */
    feed(s, VG_DIR_TOCLIENT, ss.bytes[1], ss.len[1], &cb);
    cr_assert_eq(r.ntx, 0);
    feed(s, VG_DIR_TOSERVER, ss.bytes[0], ss.len[0], &cb);
    check_full_session(&r);
    /* encrypted traffic afterwards is ignored */
    feed_str(s, VG_DIR_TOCLIENT, "\x00\x00\x00\x0c garbage", &cb);
    vg_ssh_parse(s, VG_DIR_TOSERVER, NULL, 0, VG_APP_END, &cb);
    cr_assert_eq(r.ntx, 2);
    free(s);
}

Test(ssh, byte_at_a_time_gives_the_same)
{
    static struct session ss;
    build_session(&ss);
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    uint32_t o[2] = {0, 0};
    while (o[0] < ss.len[0] || o[1] < ss.len[1]) {
        for (int d = 1; d >= 0; d--)
            if (o[d] < ss.len[d]) {
                feed(s, d, ss.bytes[d] + o[d], 1, &cb);
                o[d]++;
            }
    }
    check_full_session(&r);
    free(s);
}

Test(ssh, request_fires_before_the_server_is_known)
{
    static struct session ss;
    build_session(&ss);
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    feed(s, VG_DIR_TOSERVER, ss.bytes[0], ss.len[0], &cb);
    cr_assert_eq(r.ntx, 1);
    cr_assert_eq(r.tx[0].stage, VG_STAGE_REQUEST);
    cr_assert_str_eq(r.tx[0].json,
                     "{\"ssh\":{\"client\":{\"proto_version\":\"2.0\","
                     "\"software_version\":\"Go\",\"hassh\":{\"hash\":\"d2134446406c"
                     "1efe3cd32a1f400e36b3\",\"string\":\"" CLIENT_HASSH_STRING "\"}}}}");
    feed(s, VG_DIR_TOCLIENT, ss.bytes[1], ss.len[1], &cb);
    cr_assert_eq(r.ntx, 2);
    cr_assert_eq(r.tx[1].stage, VG_STAGE_RESPONSE);
    cr_assert_eq(r.tx[1].last, 1);
    cr_assert_str_eq(r.tx[1].hassh_srv.text, "94a36a91f1b36a6b9ef84f4088f9009b");
    free(s);
}

Test(ssh, server_lines_before_the_banner_and_comments)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    feed_str(s, VG_DIR_TOCLIENT,
             "Welcome\r\nauthorised use only\nSSH-1.99-Cisco-1.25 extra words\r\n", &cb);
    feed_str(s, VG_DIR_TOSERVER, "SSH-2.0-PuTTY_Release_0.78\r\n", &cb);
    vg_ssh_parse(s, VG_DIR_TOSERVER, NULL, 0, VG_APP_END, &cb);
    cr_assert_eq(r.ntx, 1);
    vg_ssh_parse(s, VG_DIR_TOCLIENT, NULL, 0, VG_APP_END, &cb);
    cr_assert_eq(r.nev, 0);
    cr_assert_eq(r.ntx, 2);
    cr_assert_str_eq(r.tx[0].software.text, "PuTTY_Release_0.78");
    cr_assert_not(r.tx[0].hassh.present);
    cr_assert_str_eq(r.tx[1].proto.text, "1.99");
    cr_assert_str_eq(r.tx[1].software.text, "Cisco-1.25");
    cr_assert_str_eq(r.tx[1].json,
                     "{\"ssh\":{\"client\":{\"proto_version\":\"2.0\",\"software_version\":"
                     "\"PuTTY_Release_0.78\"},\"server\":{\"proto_version\":\"1.99\","
                     "\"software_version\":\"Cisco-1.25\"}}}");
    free(s);
}

Test(ssh, client_line_that_is_not_a_banner)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    feed_str(s, VG_DIR_TOSERVER, "GET / HTTP/1.1\r\n", &cb);
    cr_assert_eq(r.nev, 1);
    cr_assert_eq(r.ev[0], VG_SSH_EV_INVALID_BANNER);
    cr_assert_eq(r.ntx, 1);
    cr_assert_not(r.tx[0].proto.present);
    cr_assert_not(r.tx[0].software.present);
    cr_assert_str_eq(r.tx[0].json, "{\"ssh\":{}}");
    free(s);
}

Test(ssh, banner_without_software_version)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    feed_str(s, VG_DIR_TOSERVER, "SSH-2.0\r\n", &cb);
    cr_assert_eq(r.nev, 1);
    cr_assert_eq(r.ev[0], VG_SSH_EV_INVALID_BANNER);
    cr_assert_eq(r.ntx, 1);
    cr_assert_str_eq(r.tx[0].proto.text, "2.0");
    cr_assert_str_eq(r.tx[0].software.text, "");
    free(s);
}

Test(ssh, long_banner_is_cut)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    char line[400];
    strcpy(line, "SSH-2.0-");
    memset(line + 8, 'A', 300);
    strcpy(line + 308, "\r\n");
    feed_str(s, VG_DIR_TOSERVER, line, &cb);
    cr_assert_eq(r.nev, 1);
    cr_assert_eq(r.ev[0], VG_SSH_EV_LONG_BANNER);
    vg_ssh_parse(s, VG_DIR_TOSERVER, NULL, 0, VG_APP_END, &cb);
    cr_assert_eq(r.ntx, 1);
    cr_assert_eq(strlen(r.tx[0].software.text), VG_SSH_BANNER_MAX - 8);

    /* exactly 255 characters and CR LF is not long, however it is split */
    for (unsigned cut = 250; cut <= 257; cut++) {
        memset(&r, 0, sizeof(r));
        vg_ssh_state_init(s, shared);
        memset(line + 8, 'B', 247);
        strcpy(line + 255, "\r\n");
        feed(s, VG_DIR_TOSERVER, line, cut, &cb);
        feed(s, VG_DIR_TOSERVER, line + cut, 257 - cut, &cb);
        vg_ssh_parse(s, VG_DIR_TOSERVER, NULL, 0, VG_APP_END, &cb);
        cr_assert_eq(r.nev, 0, "cut %u", cut);
        cr_assert_eq(strlen(r.tx[0].software.text), 247);
    }
    free(s);
}

Test(ssh, banner_only_fires_at_end)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    feed_str(s, VG_DIR_TOCLIENT, "SSH-2.0-dropbear_2022.83\r\n", &cb);
    feed_str(s, VG_DIR_TOSERVER, "SSH-2.0-libssh_0.10.4\r\n", &cb);
    cr_assert_eq(r.ntx, 0);
    vg_ssh_parse(s, VG_DIR_TOCLIENT, NULL, 0, VG_APP_END, &cb);
    cr_assert_eq(r.ntx, 0);
    vg_ssh_parse(s, VG_DIR_TOSERVER, NULL, 0, VG_APP_END, &cb);
    cr_assert_eq(r.ntx, 2);
    cr_assert_eq(r.tx[0].stage, VG_STAGE_REQUEST);
    cr_assert_eq(r.tx[1].stage, VG_STAGE_RESPONSE);
    cr_assert_str_eq(r.tx[1].software.text, "dropbear_2022.83");
    cr_assert_not(r.tx[1].hassh_srv.present);
    free(s);
}

Test(ssh, other_packet_first_fires_the_stage)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    static uint8_t buf[256];
    uint32_t n = 0;
    memcpy(buf, "SSH-2.0-x\r\n", 11);
    n = 11;
    /* SSH_MSG_IGNORE is skipped, SSH_MSG_SERVICE_REQUEST (5) is not a KEXINIT */
    n += build_packet(buf + n,
                      (const uint8_t *)"\x02\x00\x00\x00\x03"
                                       "abc",
                      8);
    cr_assert_eq(r.ntx, 0);
    feed(s, VG_DIR_TOSERVER, buf, n, &cb);
    cr_assert_eq(r.ntx, 0);
    n = build_packet(buf, (const uint8_t *)"\x05\x00\x00\x00\x00", 5);
    feed(s, VG_DIR_TOSERVER, buf, n, &cb);
    cr_assert_eq(r.ntx, 1);
    cr_assert_eq(r.nev, 0);
    cr_assert_not(r.tx[0].hassh.present);
    free(s);
}

Test(ssh, impossible_packet_lengths)
{
    static const char *const heads[] = {
        "\x00\x10\x00\x00\x04\x14", /* over VG_SSH_PACKET_MAX */
        "\x00\x00\x00\x01\x04\x14", /* shorter than its padding */
        "\x00\x00\x00\x05\x04\x14", /* no room for the message code */
    };
    for (unsigned i = 0; i < 3; i++) {
        static struct rec r;
        memset(&r, 0, sizeof(r));
        struct vg_app_cb cb = CB(&r);
        struct vg_ssh_state *s = new_state();
        feed_str(s, VG_DIR_TOSERVER, "SSH-2.0-x\r\n", &cb);
        feed(s, VG_DIR_TOSERVER, heads[i], 6, &cb);
        cr_assert_eq(r.nev, 1, "case %u", i);
        cr_assert_eq(r.ev[0], VG_SSH_EV_INVALID_RECORD_LENGTH);
        cr_assert_eq(r.ntx, 1);
        free(s);
    }
}

Test(ssh, long_and_broken_kexinit)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    static char big[6000];
    memset(big, 'k', 5000);
    big[5000] = '\0';
    const char *lists[10] = {big, "a", "b", "c", "d", "e", "f", "g", "", ""};
    static uint8_t buf[8192];
    uint32_t n = build_kexinit(buf, lists);
    feed_str(s, VG_DIR_TOSERVER, "SSH-2.0-x\r\n", &cb);
    feed(s, VG_DIR_TOSERVER, buf, n, &cb);
    cr_assert_eq(r.nev, 1);
    cr_assert_eq(r.ev[0], VG_SSH_EV_LONG_KEX_RECORD);
    cr_assert_eq(r.ntx, 1);
    cr_assert_not(r.tx[0].hassh.present);

    /* a name-list longer than the packet */
    memset(&r, 0, sizeof(r));
    vg_ssh_state_init(s, shared);
    n = build_kexinit(buf, client_lists);
    buf[5 + 1 + 16] = 0x7f; /* first list's length */
    feed_str(s, VG_DIR_TOSERVER, "SSH-2.0-x\r\n", &cb);
    feed(s, VG_DIR_TOSERVER, buf, n, &cb);
    cr_assert_eq(r.nev, 1);
    cr_assert_eq(r.ev[0], VG_SSH_EV_INVALID_KEXINIT);
    cr_assert_eq(r.ntx, 1);
    cr_assert_not(r.tx[0].hassh.present);
    free(s);
}

Test(ssh, ssh1_has_no_kexinit)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    feed_str(s, VG_DIR_TOSERVER, "SSH-1.5-OldClient\n", &cb);
    cr_assert_eq(r.ntx, 1);
    cr_assert_str_eq(r.tx[0].proto.text, "1.5");
    free(s);
}

Test(ssh, gap_completes_the_side)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_ssh_state *s = new_state();
    feed_str(s, VG_DIR_TOSERVER, "SSH-2.0-x\r\n\x00\x00", &cb);
    vg_ssh_parse(s, VG_DIR_TOSERVER, (const uint8_t *)"zz", 2, VG_APP_GAP, &cb);
    cr_assert_eq(r.ntx, 1);
    cr_assert_str_eq(r.tx[0].software.text, "x");
    free(s);
}

/* HASSH strings of every length around MD5's block boundaries. */
Test(ssh, hassh_matches_openssl_md5_at_every_length)
{
    static char kex[300];
    for (unsigned len = 0; len < 200; len++) {
        for (unsigned i = 0; i < len; i++)
            kex[i] = (char)('a' + (i * 7 + len) % 26);
        kex[len] = '\0';
        const char *lists[10] = {kex, "h", "e", "e", "m", "m", "c", "c", "", ""};
        static uint8_t buf[1024];
        uint32_t n = build_kexinit(buf, lists);
        static struct rec r;
        memset(&r, 0, sizeof(r));
        struct vg_app_cb cb = CB(&r);
        struct vg_ssh_state *s = new_state();
        feed_str(s, VG_DIR_TOSERVER, "SSH-2.0-x\r\n", &cb);
        feed(s, VG_DIR_TOSERVER, buf, n, &cb);
        char str[400], want[33];
        snprintf(str, sizeof(str), "%s;e;m;c", kex);
        md5_hex(str, strlen(str), want);
        cr_assert_eq(r.ntx, 1);
        cr_assert_str_eq(r.tx[0].hassh_str.text, str);
        cr_assert_str_eq(r.tx[0].hassh.text, want, "length %u", len);
        free(s);
    }
}

Test(ssh, probe)
{
    cr_assert_eq(vg_ssh_probe(0, (const uint8_t *)"SSH-2.0-x\r\n", 11), 1);
    cr_assert_eq(vg_ssh_probe(1, (const uint8_t *)"SSH-", 4), 1);
    cr_assert_eq(vg_ssh_probe(0, (const uint8_t *)"SS", 2), 0);
    cr_assert_eq(vg_ssh_probe(0, (const uint8_t *)"", 0), 0);
    cr_assert_eq(vg_ssh_probe(0, (const uint8_t *)"SSH_2.0", 7), -1);
    cr_assert_eq(vg_ssh_probe(0, (const uint8_t *)"GET /", 5), -1);
}

Test(ssh, event_names)
{
    cr_assert_str_eq(vg_ssh_event_name(VG_SSH_EV_INVALID_BANNER), "INVALID_BANNER");
    cr_assert_str_eq(vg_ssh_event_name(VG_SSH_EV_LONG_BANNER), "LONG_BANNER");
    cr_assert_str_eq(vg_ssh_event_name(VG_SSH_EV_INVALID_RECORD_LENGTH), "INVALID_RECORD_LENGTH");
    cr_assert_str_eq(vg_ssh_event_name(VG_SSH_EV_LONG_KEX_RECORD), "LONG_KEX_RECORD");
    cr_assert_str_eq(vg_ssh_event_name(VG_SSH_EV_INVALID_KEXINIT), "INVALID_KEXINIT");
    cr_assert_str_eq(vg_ssh_event_name(VG_SSH_EVENT_COUNT), "UNKNOWN");
}

/* ---- nDPI's ssh.pcap: two sessions, HASSH values from result/ssh.pcap.out ----
 * (nDPI names the banners by the order they appear, so its "Hostname" of the
 * first session is the server's OpenSSH_5.3; its HASSH-C and HASSH-S are the
 * client's and the server's.) */

struct pcap_flow {
    uint16_t client_port;
    bool syn_seen[2];
    uint32_t next_seq[2];
    struct vg_ssh_state *s;
    struct rec r;
};

Test(ssh, ndpi_capture_hassh)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(VG_SOURCE_ROOT "/pcaps/ndpi/pcap/ssh.pcap", err);
    cr_assert_not_null(pc, "%s", err);
    int linktype = pcap_datalink(pc);
    static struct pcap_flow flows[2];
    memset(flows, 0, sizeof(flows));
    flows[0].client_port = 58395;
    flows[1].client_port = 58496;
    for (unsigned i = 0; i < 2; i++)
        flows[i].s = new_state();

    struct pcap_pkthdr *h;
    const u_char *data;
    struct vg_decode_stats ds;
    memset(&ds, 0, sizeof(ds));
    while (pcap_next_ex(pc, &h, &data) == 1) {
        struct vg_packet p;
        memset(&p, 0, sizeof(p));
        p.data = data;
        p.caplen = h->caplen;
        p.wirelen = h->len;
        if (vg_decode(&p, linktype, VG_CSUM_NONE, &ds) != 0 || p.proto != 6)
            continue;
        struct pcap_flow *f = NULL;
        int dir = 0;
        for (unsigned i = 0; i < 2; i++) {
            if (p.sport == flows[i].client_port) {
                f = &flows[i];
                dir = VG_DIR_TOSERVER;
            } else if (p.dport == flows[i].client_port) {
                f = &flows[i];
                dir = VG_DIR_TOCLIENT;
            }
        }
        if (f == NULL)
            continue;
        /* naive reassembly: in order, retransmitted bytes cut off */
        if (p.tcp_flags & 0x02) {
            f->syn_seen[dir] = true;
            f->next_seq[dir] = p.tcp_seq + 1;
            continue;
        }
        if (!f->syn_seen[dir] || p.payload_len == 0)
            continue;
        uint32_t skip = f->next_seq[dir] - p.tcp_seq;
        if ((int32_t)skip < 0)
            continue; /* a hole: none in this capture before the KEXINITs */
        if (skip >= p.payload_len)
            continue;
        struct vg_app_cb cb = CB(&f->r);
        vg_ssh_parse(f->s, dir, p.payload + skip, p.payload_len - skip, 0, &cb);
        f->next_seq[dir] += p.payload_len - skip;
    }
    pcap_close(pc);

    static const struct {
        const char *client_sw, *server_sw, *hassh, *hassh_server;
    } want[2] = {
        {"OpenSSH_5.6", "OpenSSH_5.3", "21b457a327ce7a2d4fce5ef2c42400bd",
         "b1c6c0d56317555b85c7005a3de29325"},
        {"OpenSSH_8.2p1", "APACHE-SSHD-2.5.0", "c11b200866cf918393e62ea25d851d90",
         "ca6dd86b2d9a44e4a3f1a55c53e6b0fa"},
    };
    for (unsigned i = 0; i < 2; i++) {
        const struct rec *r = &flows[i].r;
        cr_assert_eq(r->nev, 0, "flow %u", i);
        cr_assert_eq(r->ntx, 2, "flow %u", i);
        cr_assert_eq(r->tx[0].stage, VG_STAGE_REQUEST);
        cr_assert_str_eq(r->tx[0].proto.text, "2.0");
        cr_assert_str_eq(r->tx[0].software.text, want[i].client_sw);
        cr_assert_str_eq(r->tx[0].hassh.text, want[i].hassh, "flow %u", i);
        cr_assert_eq(r->tx[1].stage, VG_STAGE_RESPONSE);
        cr_assert_eq(r->tx[1].last, 1);
        cr_assert_str_eq(r->tx[1].software.text, want[i].server_sw);
        cr_assert_str_eq(r->tx[1].hassh_srv.text, want[i].hassh_server, "flow %u", i);
        char md5[33];
        md5_hex(r->tx[1].hassh_srv_str.text, strlen(r->tx[1].hassh_srv_str.text), md5);
        cr_assert_str_eq(md5, want[i].hassh_server);
        free(flows[i].s);
    }
}
