/* TLS parser: records, handshake reassembly, hellos, the server's first
 * certificate, JA3/JA3S/JA4, and the EVE tls object. See vigil/tls.h. */
#include "vigil/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/common.h"
#include "vigil/meta.h"

/* ---- Digests ----
 * vg_digest (vigil/common.h): OpenSSL's MD5, SHA-1 and SHA-256 on the
 * stack, without the per-hash allocation of EVP. */

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

static void hex_str(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_lower[b[i] >> 4];
        out[2 * i + 1] = hex_lower[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- Bounded text that is also hashed ----
 * The text is kept up to its capacity, the digest covers all of it, so a
 * fingerprint stays right when its string is cut. */

struct sink {
    char *buf;
    uint32_t cap; /* bytes of buf, the terminating NUL included; 0: nothing kept */
    uint32_t len;
    bool cut;
    struct vg_digest *dg; /* NULL: not hashed */
};

static void sink_put(struct sink *s, const char *p, uint32_t n)
{
    if (s->dg != NULL)
        vg_digest_update(s->dg, p, n);
    if (s->cap == 0)
        return;
    uint32_t room = s->cap - 1 - s->len;
    if (n > room) {
        n = room;
        s->cut = true;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

static void sink_dec(struct sink *s, uint32_t v)
{
    char t[12];
    int n = 0;
    do {
        t[11 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    sink_put(s, t + 12 - n, (uint32_t)n);
}

static void sink_hex16(struct sink *s, uint16_t v)
{
    char t[4] = {hex_lower[v >> 12], hex_lower[(v >> 8) & 15], hex_lower[(v >> 4) & 15],
                 hex_lower[v & 15]};
    sink_put(s, t, 4);
}

/* ---- Shared per worker ---- */

struct vg_tls_shared {
    struct vg_tls_stats st;
    uint16_t sort_a[VG_TLS_SORT_MAX];
    uint16_t sort_b[VG_TLS_SORT_MAX];
};

struct vg_tls_shared *vg_tls_shared_new(void)
{
    return calloc(1, sizeof(struct vg_tls_shared));
}

void vg_tls_shared_free(struct vg_tls_shared *sh)
{
    free(sh);
}

const struct vg_tls_stats *vg_tls_shared_stats(const struct vg_tls_shared *sh)
{
    return &sh->st;
}

/* Sorts ascending: insertion sort for the usual short lists, heapsort
 * beyond, so a hostile hello costs O(n log n) and no allocation. */
static void sort_u16(uint16_t *a, uint32_t n)
{
    if (n <= 32) {
        for (uint32_t i = 1; i < n; i++) {
            uint16_t v = a[i];
            uint32_t j = i;
            for (; j > 0 && a[j - 1] > v; j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    for (uint32_t start = n / 2; start-- > 0;) {
        for (uint32_t root = start;;) {
            uint32_t child = 2 * root + 1;
            if (child >= n)
                break;
            if (child + 1 < n && a[child + 1] > a[child])
                child++;
            if (a[root] >= a[child])
                break;
            uint16_t t = a[root];
            a[root] = a[child];
            a[child] = t;
            root = child;
        }
    }
    for (uint32_t end = n - 1; end > 0; end--) {
        uint16_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        for (uint32_t root = 0;;) {
            uint32_t child = 2 * root + 1;
            if (child >= end)
                break;
            if (child + 1 < end && a[child + 1] > a[child])
                child++;
            if (a[root] >= a[child])
                break;
            t = a[root];
            a[root] = a[child];
            a[child] = t;
            root = child;
        }
    }
}

/* ---- Names ---- */

static const char *const event_names[VG_TLS_EV_COUNT] = {
    [VG_TLS_EV_INVALID_RECORD_TYPE] = "INVALID_RECORD_TYPE",
    [VG_TLS_EV_INVALID_RECORD_VERSION] = "INVALID_RECORD_VERSION",
    [VG_TLS_EV_INVALID_RECORD_LENGTH] = "INVALID_RECORD_LENGTH",
    [VG_TLS_EV_INVALID_HANDSHAKE_MESSAGE] = "INVALID_HANDSHAKE_MESSAGE",
    [VG_TLS_EV_HANDSHAKE_INVALID_LENGTH] = "HANDSHAKE_INVALID_LENGTH",
    [VG_TLS_EV_HANDSHAKE_TOO_LARGE] = "HANDSHAKE_TOO_LARGE",
    [VG_TLS_EV_MULTIPLE_SNI_EXTENSIONS] = "MULTIPLE_SNI_EXTENSIONS",
    [VG_TLS_EV_INVALID_SNI_TYPE] = "INVALID_SNI_TYPE",
    [VG_TLS_EV_INVALID_SNI_LENGTH] = "INVALID_SNI_LENGTH",
    [VG_TLS_EV_INVALID_CERTIFICATE] = "INVALID_CERTIFICATE",
    [VG_TLS_EV_CERTIFICATE_TOO_LARGE] = "CERTIFICATE_TOO_LARGE",
    [VG_TLS_EV_DUPLICATE_CLIENT_HELLO] = "DUPLICATE_CLIENT_HELLO",
    [VG_TLS_EV_HEARTBEAT_MESSAGE] = "HEARTBEAT_MESSAGE",
    [VG_TLS_EV_GAP] = "GAP",
};

const char *vg_tls_event_name(uint16_t ev)
{
    return ev < VG_TLS_EV_COUNT ? event_names[ev] : NULL;
}

const char *vg_tls_version_name(uint16_t v, char *buf, size_t len)
{
    const char *s = NULL;
    switch (v) {
    case 0:
        s = "UNDETERMINED";
        break;
    case 0x0002:
        s = "SSLv2";
        break;
    case 0x0300:
        s = "SSLv3";
        break;
    case 0x0301:
        s = "TLSv1";
        break;
    case 0x0302:
        s = "TLS 1.1";
        break;
    case 0x0303:
        s = "TLS 1.2";
        break;
    case 0x0304:
        s = "TLS 1.3";
        break;
    default:
        break;
    }
    if (s != NULL)
        snprintf(buf, len, "%s", s);
    else if ((v & 0xff00) == 0x7f00)
        snprintf(buf, len, "TLS 1.3 draft-%u", v & 0xffu);
    else
        snprintf(buf, len, "0x%04x", v);
    return buf;
}

/* ---- Configuration and state ---- */

void vg_tls_config_default(struct vg_tls_config *c)
{
    c->handshake_limit = VG_TLS_HANDSHAKE_LIMIT_DEFAULT;
}

static uint32_t effective_limit(const struct vg_tls_config *c)
{
    uint32_t l = c->handshake_limit;
    if (l < VG_TLS_HANDSHAKE_LIMIT_MIN)
        l = VG_TLS_HANDSHAKE_LIMIT_MIN;
    if (l > (1u << 24))
        l = 1u << 24; /* a handshake message is never longer */
    return (l + 7) & ~7u;
}

size_t vg_tls_state_size(const struct vg_tls_config *c)
{
    size_t n = sizeof(struct vg_tls_state) + 2 * (size_t)effective_limit(c);
    return (n + 7) & ~(size_t)7;
}

void vg_tls_state_init(struct vg_tls_state *s, const struct vg_tls_config *c,
                       struct vg_tls_shared *sh)
{
    memset(s, 0, sizeof(*s));
    s->sh = sh;
    s->limit = effective_limit(c);
}

const struct vg_tls_info *vg_tls_info(const struct vg_tls_state *s)
{
    return &s->info;
}

/* ---- Helpers ---- */

#define REC_CCS       20
#define REC_ALERT     21
#define REC_HANDSHAKE 22
#define REC_APPDATA   23
#define REC_HEARTBEAT 24
#define REC_SSLV2     0xff /* pseudo type: an SSLv2 hello being skipped */

#define REC_MAX_LEN (16384u + 2048u)

#define HS_CLIENT_HELLO 1
#define HS_SERVER_HELLO 2
#define HS_HRR_DRAFT    6
#define HS_CERTIFICATE  11

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* RFC 8701: 0x0a0a, 0x1a1a, ..., 0xfafa. */
static inline bool is_grease(uint16_t v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static void event(struct vg_tls_state *s, const struct vg_app_cb *cb, enum vg_tls_event ev)
{
    (void)s;
    if (cb != NULL && cb->anomaly != NULL)
        cb->anomaly(cb->user, VG_APP_TLS, (uint16_t)ev);
}

static bool tls13(uint16_t v)
{
    return v == 0x0304 || (v & 0xff00) == 0x7f00;
}

/* A byte reader over one message: every read is bounds-checked, and the
 * first overrun sets bad. */
struct rd {
    const uint8_t *p;
    const uint8_t *end;
    bool bad;
};

static bool rd_need(struct rd *r, uint32_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return false;
    }
    return true;
}

static uint32_t rd_u8(struct rd *r)
{
    if (!rd_need(r, 1))
        return 0;
    return *r->p++;
}

static uint32_t rd_u16(struct rd *r)
{
    if (!rd_need(r, 2))
        return 0;
    uint32_t v = rd16(r->p);
    r->p += 2;
    return v;
}

/* A sub-reader of n bytes; on overrun it is empty and r is bad. */
static struct rd rd_sub(struct rd *r, uint32_t n)
{
    struct rd sub = {r->p, r->p, true};
    if (!rd_need(r, n))
        return sub;
    sub.end = r->p + n;
    sub.bad = false;
    r->p += n;
    return sub;
}

static void keep_u16(uint16_t *arr, uint16_t *n, uint16_t v)
{
    if (*n < VG_TLS_LIST_MAX)
        arr[*n] = v;
    if (*n < UINT16_MAX)
        (*n)++;
}

/* ---- Transactions ---- */

static void emit(struct vg_tls_state *s, uint8_t stage, int dir, bool last,
                 const struct vg_app_cb *cb)
{
    if (s->closed)
        return; /* the session's record is written: nothing follows it */
    s->stage = stage;
    if (last)
        s->closed = true;
    if (cb == NULL || cb->tx == NULL)
        return;
    const struct vg_tls_info *in = &s->info;
    struct vg_app_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = VG_APP_TLS;
    tx.stage = stage;
    tx.dir = (uint8_t)dir;
    tx.last = last;
    tx.tx_id = 0;
    if (in->flags & VG_TLS_CLIENT_HELLO) {
        if (in->flags & VG_TLS_SNI)
            tx.buf[VG_BUF_TLS_SNI] = (struct vg_app_buf){(const uint8_t *)in->sni, in->sni_len};
        tx.buf[VG_BUF_JA3_HASH] = (struct vg_app_buf){(const uint8_t *)in->ja3_hash, 32};
        tx.buf[VG_BUF_JA3_STRING] = (struct vg_app_buf){(const uint8_t *)in->ja3, in->ja3_len};
        tx.buf[VG_BUF_JA4_HASH] = (struct vg_app_buf){(const uint8_t *)in->ja4, 36};
        if (in->flags & VG_TLS_ALPN)
            tx.buf[VG_BUF_TLS_ALPN] =
                (struct vg_app_buf){(const uint8_t *)in->alpn_str, in->alpn_str_len};
    }
    if (stage == VG_STAGE_RESPONSE) {
        if (in->flags & VG_TLS_SERVER_HELLO) {
            tx.buf[VG_BUF_JA3S_HASH] = (struct vg_app_buf){(const uint8_t *)in->ja3s_hash, 32};
            tx.buf[VG_BUF_JA3S_STRING] =
                (struct vg_app_buf){(const uint8_t *)in->ja3s, in->ja3s_len};
        }
        if (in->flags & VG_TLS_CERTIFICATE) {
            tx.buf[VG_BUF_TLS_CERT_SUBJECT] =
                (struct vg_app_buf){(const uint8_t *)in->subject, in->subject_len};
            tx.buf[VG_BUF_TLS_CERT_ISSUER] =
                (struct vg_app_buf){(const uint8_t *)in->issuer, in->issuer_len};
            tx.buf[VG_BUF_TLS_CERT_SERIAL] =
                (struct vg_app_buf){(const uint8_t *)in->serial, in->serial_len};
            tx.buf[VG_BUF_TLS_CERT_FINGERPRINT] =
                (struct vg_app_buf){(const uint8_t *)in->fingerprint, 59};
        }
    }
    tx.encode = vg_tls_encode;
    tx.obj = s;
    cb->tx(cb->user, &tx);
}

/* The server side is complete: report the response stage once. */
static void respond(struct vg_tls_state *s, const struct vg_app_cb *cb)
{
    if (!s->closed)
        emit(s, VG_STAGE_RESPONSE, 1, true, cb);
}

/* ---- Fingerprints ---- */
/* A list of 16-bit values as JA3 writes it: decimal, dash-separated,
 * GREASE values left out. */
static void sink_u16_list(struct sink *s, struct rd list)
{
    bool first = true;
    while (list.end - list.p >= 2) {
        uint16_t v = (uint16_t)rd_u16(&list);
        if (is_grease(v))
            continue;
        if (!first)
            sink_put(s, "-", 1);
        sink_dec(s, v);
        first = false;
    }
}

/* JA3: "version,ciphers,extensions,groups,point_formats", decimal, '-'
 * between values, GREASE values left out (Salesforce ja3). */
static void build_ja3(struct vg_tls_state *s, struct rd ciphers, struct rd exts)
{
    struct vg_tls_info *in = &s->info;
    struct vg_digest md5;
    vg_digest_init(&md5, VG_DIGEST_MD5);
    struct sink k = {in->ja3, sizeof(in->ja3), 0, false, &md5};
    in->ja3[0] = '\0';
    sink_dec(&k, in->client_version);
    sink_put(&k, ",", 1);
    sink_u16_list(&k, ciphers);
    sink_put(&k, ",", 1);
    /* extensions, then the groups and point formats they carry */
    struct rd e = exts;
    bool first = true;
    while (e.end - e.p >= 4) {
        uint16_t type = (uint16_t)rd_u16(&e);
        uint32_t l = rd_u16(&e);
        (void)rd_sub(&e, l);
        if (e.bad)
            break;
        if (is_grease(type))
            continue;
        if (!first)
            sink_put(&k, "-", 1);
        sink_dec(&k, type);
        first = false;
    }
    sink_put(&k, ",", 1);
    for (int pass = 0; pass < 2; pass++) {
        e = exts;
        first = true;
        while (e.end - e.p >= 4) {
            uint16_t type = (uint16_t)rd_u16(&e);
            struct rd body = rd_sub(&e, rd_u16(&e));
            if (e.bad)
                break;
            if (pass == 0 && type == 10) {
                sink_u16_list(&k, rd_sub(&body, rd_u16(&body)));
            } else if (pass == 1 && type == 11) {
                struct rd l = rd_sub(&body, rd_u8(&body));
                while (l.p < l.end) {
                    if (!first)
                        sink_put(&k, "-", 1);
                    sink_dec(&k, rd_u8(&l));
                    first = false;
                }
            }
        }
        if (pass == 0)
            sink_put(&k, ",", 1);
    }
    uint8_t out[32];
    vg_digest_final(&md5, out);
    hex_str(in->ja3_hash, out, 16);
    in->ja3_len = (uint16_t)k.len;
    if (k.cut)
        in->flags |= VG_TLS_CUT;
}

static const char *ja4_version(uint16_t v)
{
    switch (v) {
    case 0x0304:
        return "13";
    case 0x0303:
        return "12";
    case 0x0302:
        return "11";
    case 0x0301:
        return "10";
    case 0x0300:
        return "s3";
    case 0x0002:
        return "s2";
    case 0xfeff:
        return "d1";
    case 0xfefd:
        return "d2";
    case 0xfefc:
        return "d3";
    default:
        return "00";
    }
}

static bool is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* First 12 hex digits of the SHA-256 of the values as 4-digit lower-case
 * hex joined by ','; with a second list, '_' and that list. */
static void ja4_hash(char *out, const uint16_t *a, uint32_t na, const uint16_t *b, uint32_t nb,
                     bool with_b)
{
    struct vg_digest sha;
    vg_digest_init(&sha, VG_DIGEST_SHA256);
    struct sink k = {NULL, 0, 0, false, &sha};
    for (uint32_t i = 0; i < na; i++) {
        if (i != 0)
            sink_put(&k, ",", 1);
        sink_hex16(&k, a[i]);
    }
    if (with_b) {
        sink_put(&k, "_", 1);
        for (uint32_t i = 0; i < nb; i++) {
            if (i != 0)
                sink_put(&k, ",", 1);
            sink_hex16(&k, b[i]);
        }
    }
    uint8_t d[32];
    vg_digest_final(&sha, d);
    char full[65];
    hex_str(full, d, 32);
    memcpy(out, full, 12);
    out[12] = '\0';
}

/* JA4 (FoxIO): t<version><d|i><ciphers><extensions><alpn>_<ciphers hash>_
 * <extensions hash>. GREASE is ignored throughout; the version is the
 * highest supported_versions entry when there is one; the extension hash
 * leaves SNI and ALPN out and appends the signature algorithms in their
 * order; an empty list hashes to twelve zeros. */
static void build_ja4(struct vg_tls_state *s, struct rd ciphers, struct rd exts,
                      const uint8_t *alpn_first, uint32_t alpn_first_len, bool has_sni)
{
    struct vg_tls_info *in = &s->info;
    struct vg_tls_shared *sh = s->sh;
    uint16_t *ca = sh->sort_a, *ea = sh->sort_b;
    uint32_t nc = 0, ne_all = 0, ne = 0;
    while (ciphers.end - ciphers.p >= 2) {
        uint16_t v = (uint16_t)rd_u16(&ciphers);
        if (!is_grease(v) && nc < VG_TLS_SORT_MAX)
            ca[nc++] = v;
    }
    struct rd e = exts;
    struct rd sig = {NULL, NULL, true};
    while (e.end - e.p >= 4) {
        uint16_t type = (uint16_t)rd_u16(&e);
        struct rd body = rd_sub(&e, rd_u16(&e));
        if (e.bad)
            break;
        if (is_grease(type))
            continue;
        ne_all++;
        if (type == 13 && sig.bad)
            sig = rd_sub(&body, rd_u16(&body));
        if (type != 0 && type != 16 && ne < VG_TLS_SORT_MAX)
            ea[ne++] = type;
    }
    char a[11];
    char alpn[3] = "00";
    if (alpn_first_len > 0) {
        uint8_t f = alpn_first[0], l = alpn_first[alpn_first_len - 1];
        if (is_alnum(f) && is_alnum(l)) {
            alpn[0] = (char)f;
            alpn[1] = (char)l;
        } else {
            alpn[0] = hex_lower[f >> 4];
            alpn[1] = hex_lower[l & 15];
        }
    }
    snprintf(a, sizeof(a), "t%s%c%02u%02u%s", ja4_version(in->client_max_version),
             has_sni ? 'd' : 'i', nc > 99 ? 99 : nc, ne_all > 99 ? 99 : ne_all, alpn);
    char hb[13], hc[13];
    if (nc == 0) {
        memcpy(hb, "000000000000", 13);
    } else {
        sort_u16(ca, nc);
        ja4_hash(hb, ca, nc, NULL, 0, false);
    }
    if (ne == 0) {
        memcpy(hc, "000000000000", 13);
    } else {
        sort_u16(ea, ne);
        /* signature algorithms, in their order, GREASE left out: reuse ca */
        uint32_t ns = 0;
        while (!sig.bad && sig.end - sig.p >= 2) {
            uint16_t v = (uint16_t)rd_u16(&sig);
            if (!is_grease(v) && ns < VG_TLS_SORT_MAX)
                ca[ns++] = v;
        }
        ja4_hash(hc, ea, ne, ca, ns, ns > 0);
    }
    snprintf(in->ja4, sizeof(in->ja4), "%s_%s_%s", a, hb, hc);
}

/* ---- ClientHello ---- */

static void parse_sni(struct vg_tls_state *s, struct rd body, const struct vg_app_cb *cb)
{
    struct vg_tls_info *in = &s->info;
    if (in->flags & VG_TLS_SNI) {
        event(s, cb, VG_TLS_EV_MULTIPLE_SNI_EXTENSIONS);
        return;
    }
    in->flags |= VG_TLS_SNI;
    uint32_t list_len = rd_u16(&body);
    struct rd list = rd_sub(&body, list_len);
    if (body.bad) {
        event(s, cb, VG_TLS_EV_INVALID_SNI_LENGTH);
        return;
    }
    while (list.p < list.end) {
        uint32_t type = rd_u8(&list);
        uint32_t n = rd_u16(&list);
        if (list.bad || (size_t)(list.end - list.p) < n) {
            event(s, cb, VG_TLS_EV_INVALID_SNI_LENGTH);
            return;
        }
        if (type != 0) {
            event(s, cb, VG_TLS_EV_INVALID_SNI_TYPE);
            list.p += n;
            continue;
        }
        if (n > VG_TLS_SNI_MAX) {
            event(s, cb, VG_TLS_EV_INVALID_SNI_LENGTH);
            in->flags |= VG_TLS_CUT;
        }
        uint32_t keep = n > VG_TLS_SNI_MAX ? VG_TLS_SNI_MAX : n;
        memcpy(in->sni, list.p, keep);
        in->sni_len = (uint16_t)keep;
        return; /* one host_name, as RFC 6066 allows */
    }
}

/* Keeps the ALPN list as sent and as "a,b,c"; returns its first name. */
static void parse_alpn(struct vg_tls_info *in, struct rd body, const uint8_t **first,
                       uint32_t *first_len)
{
    in->flags |= VG_TLS_ALPN;
    struct rd list = rd_sub(&body, rd_u16(&body));
    uint32_t n = (uint32_t)(list.end - list.p);
    if (n > VG_TLS_ALPN_MAX) {
        n = VG_TLS_ALPN_MAX;
        in->flags |= VG_TLS_CUT;
    }
    memcpy(in->alpn, list.p, n);
    in->alpn_len = (uint16_t)n;
    struct sink k = {in->alpn_str, sizeof(in->alpn_str), 0, false, NULL};
    in->alpn_str[0] = '\0';
    bool firstname = true;
    while (list.p < list.end) {
        uint32_t l = rd_u8(&list);
        struct rd name = rd_sub(&list, l);
        if (list.bad)
            break;
        if (firstname) {
            *first = name.p;
            *first_len = l;
        } else {
            sink_put(&k, ",", 1);
        }
        sink_put(&k, (const char *)name.p, l);
        firstname = false;
    }
    in->alpn_str_len = (uint16_t)k.len;
    if (k.cut)
        in->flags |= VG_TLS_CUT;
}

static void parse_client_hello(struct vg_tls_state *s, const uint8_t *msg, uint32_t len, bool cut,
                               const struct vg_app_cb *cb)
{
    struct vg_tls_info *in = &s->info;
    struct rd r = {msg, msg + len, false};
    in->client_version = (uint16_t)rd_u16(&r);
    (void)rd_sub(&r, 32);
    uint32_t sid_len = rd_u8(&r);
    struct rd sid = rd_sub(&r, sid_len);
    uint32_t cs_len = rd_u16(&r);
    struct rd ciphers = rd_sub(&r, cs_len);
    struct rd comp = rd_sub(&r, rd_u8(&r));
    (void)comp;
    if (r.bad || sid_len > 32 || (cs_len & 1)) {
        if (!cut)
            event(s, cb, VG_TLS_EV_HANDSHAKE_INVALID_LENGTH);
        return;
    }
    s->sh->st.client_hellos++;
    in->flags |= VG_TLS_CLIENT_HELLO;
    if (sid_len != 0) {
        in->flags |= VG_TLS_SESSION_ID;
        memcpy(in->session_id, sid.p, sid_len);
        in->session_id_len = (uint8_t)sid_len;
    }
    for (struct rd c = ciphers; c.end - c.p >= 2;)
        keep_u16(in->ciphers, &in->n_ciphers, (uint16_t)rd_u16(&c));

    /* Extensions are optional (SSLv3 and old TLS clients send none). */
    struct rd exts = {r.p, r.p, false};
    if (r.p < r.end) {
        uint32_t ext_len = rd_u16(&r);
        if (r.bad || (size_t)(r.end - r.p) < ext_len) {
            if (!cut)
                event(s, cb, VG_TLS_EV_HANDSHAKE_INVALID_LENGTH);
            ext_len = (uint32_t)(r.end - r.p);
            r.bad = false;
        }
        exts.end = exts.p = r.p;
        exts.end += ext_len;
    }
    in->client_max_version = in->client_version;
    const uint8_t *alpn_first = NULL;
    uint32_t alpn_first_len = 0;
    bool max_from_ext = false;
    struct rd e = exts;
    while (e.p < e.end) {
        uint16_t type = (uint16_t)rd_u16(&e);
        uint32_t l = rd_u16(&e);
        struct rd body = rd_sub(&e, l);
        if (e.bad) {
            if (!cut)
                event(s, cb, VG_TLS_EV_HANDSHAKE_INVALID_LENGTH);
            exts.end = body.p; /* fingerprints cover the whole extensions only */
            break;
        }
        keep_u16(in->extensions, &in->n_extensions, type);
        switch (type) {
        case 0:
            parse_sni(s, body, cb);
            break;
        case 10: {
            struct rd lst = rd_sub(&body, rd_u16(&body));
            while (lst.end - lst.p >= 2)
                keep_u16(in->groups, &in->n_groups, (uint16_t)rd_u16(&lst));
            break;
        }
        case 11: {
            struct rd lst = rd_sub(&body, rd_u8(&body));
            while (lst.p < lst.end) {
                uint8_t v = (uint8_t)rd_u8(&lst);
                if (in->n_point_formats < VG_TLS_LIST_MAX)
                    in->point_formats[in->n_point_formats] = v;
                in->n_point_formats++;
            }
            break;
        }
        case 13: {
            struct rd lst = rd_sub(&body, rd_u16(&body));
            while (lst.end - lst.p >= 2)
                keep_u16(in->sigalgs, &in->n_sigalgs, (uint16_t)rd_u16(&lst));
            break;
        }
        case 16:
            if (!(in->flags & VG_TLS_ALPN))
                parse_alpn(in, body, &alpn_first, &alpn_first_len);
            break;
        case 43: {
            struct rd lst = rd_sub(&body, rd_u8(&body));
            while (lst.end - lst.p >= 2) {
                uint16_t v = (uint16_t)rd_u16(&lst);
                keep_u16(in->versions, &in->n_versions, v);
                if (is_grease(v))
                    continue;
                if (!max_from_ext || v > in->client_max_version)
                    in->client_max_version = v;
                max_from_ext = true;
            }
            break;
        }
        default:
            break;
        }
    }
    build_ja3(s, ciphers, exts);
    build_ja4(s, ciphers, exts, alpn_first, alpn_first_len, (in->flags & VG_TLS_SNI) != 0);
    emit(s, VG_STAGE_REQUEST, 0, false, cb);
}

/* ---- ServerHello ---- */

static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

static void parse_server_hello(struct vg_tls_state *s, const uint8_t *msg, uint32_t len, bool cut,
                               const struct vg_app_cb *cb)
{
    struct vg_tls_info *in = &s->info;
    struct rd r = {msg, msg + len, false};
    uint16_t version = (uint16_t)rd_u16(&r);
    struct rd random = rd_sub(&r, 32);
    if (!r.bad && memcmp(random.p, hrr_random, 32) == 0) {
        /* HelloRetryRequest: the client sends a second ClientHello in clear
         * and the real ServerHello follows. */
        in->flags |= VG_TLS_HRR;
        return;
    }
    if (in->flags & VG_TLS_SERVER_HELLO) {
        event(s, cb, VG_TLS_EV_INVALID_HANDSHAKE_MESSAGE);
        return;
    }
    uint32_t sid_len = rd_u8(&r);
    struct rd sid = rd_sub(&r, sid_len);
    uint16_t cipher = (uint16_t)rd_u16(&r);
    (void)rd_u8(&r); /* compression */
    if (r.bad || sid_len > 32) {
        if (!cut)
            event(s, cb, VG_TLS_EV_HANDSHAKE_INVALID_LENGTH);
        return;
    }
    s->sh->st.server_hellos++;
    in->flags |= VG_TLS_SERVER_HELLO;
    in->server_version = version;
    in->version = version;
    in->cipher = cipher;

    struct vg_digest md5;
    vg_digest_init(&md5, VG_DIGEST_MD5);
    struct sink k = {in->ja3s, sizeof(in->ja3s), 0, false, &md5};
    in->ja3s[0] = '\0';
    sink_dec(&k, version);
    sink_put(&k, ",", 1);
    sink_dec(&k, cipher);
    sink_put(&k, ",", 1);
    bool first = true;
    if (r.p < r.end) {
        struct rd exts = rd_sub(&r, rd_u16(&r));
        if (r.bad) {
            if (!cut)
                event(s, cb, VG_TLS_EV_HANDSHAKE_INVALID_LENGTH);
            exts.p = exts.end;
        }
        while (exts.p < exts.end) {
            uint16_t type = (uint16_t)rd_u16(&exts);
            struct rd body = rd_sub(&exts, rd_u16(&exts));
            if (exts.bad) {
                if (!cut)
                    event(s, cb, VG_TLS_EV_HANDSHAKE_INVALID_LENGTH);
                break;
            }
            keep_u16(in->server_extensions, &in->n_server_extensions, type);
            if (!is_grease(type)) {
                if (!first)
                    sink_put(&k, "-", 1);
                sink_dec(&k, type);
                first = false;
            }
            if (type == 43) {
                uint16_t v = (uint16_t)rd_u16(&body);
                if (!body.bad)
                    in->version = v;
            } else if (type == 16 && !(in->flags & VG_TLS_SERVER_ALPN)) {
                struct rd list = rd_sub(&body, rd_u16(&body));
                uint32_t l = rd_u8(&list);
                struct rd name = rd_sub(&list, l);
                if (!list.bad) {
                    if (l > sizeof(in->server_alpn)) {
                        l = sizeof(in->server_alpn);
                        in->flags |= VG_TLS_CUT;
                    }
                    memcpy(in->server_alpn, name.p, l);
                    in->server_alpn_len = (uint16_t)l;
                    in->flags |= VG_TLS_SERVER_ALPN;
                }
            }
        }
    }
    uint8_t out[32];
    vg_digest_final(&md5, out);
    hex_str(in->ja3s_hash, out, 16);
    in->ja3s_len = (uint16_t)k.len;
    if (k.cut)
        in->flags |= VG_TLS_CUT;
    /* The server echoes the offered session id to resume it (TLS 1.3
     * echoes it in any case, for middlebox compatibility). */
    if (!tls13(in->version) && sid_len != 0 && sid_len == in->session_id_len &&
        memcmp(sid.p, in->session_id, sid_len) == 0)
        in->flags |= VG_TLS_RESUMED;
    if (tls13(in->version)) {
        /* Everything the server sends after its ServerHello is encrypted.
         * The client's encrypted records are application data records, so
         * its direction stays readable: a ClientHello delivered after the
         * ServerHello is still decoded. */
        s->d[1].encrypted = true;
        in->flags |= VG_TLS_ENCRYPTED;
        respond(s, cb);
    }
}

/* ---- Certificate: a bounded DER walker ---- */

struct der {
    uint8_t tag;
    const uint8_t *v; /* value */
    uint32_t len;
};

/* Reads one TLV of definite length from r. */
static bool der_next(struct rd *r, struct der *out)
{
    uint32_t tag = rd_u8(r);
    uint32_t l = rd_u8(r);
    if (r->bad || (tag & 0x1f) == 0x1f)
        return false;
    if (l & 0x80) {
        uint32_t nb = l & 0x7f;
        if (nb == 0 || nb > 3)
            return false; /* indefinite, or longer than any certificate kept */
        l = 0;
        for (uint32_t i = 0; i < nb; i++)
            l = l << 8 | rd_u8(r);
        if (r->bad)
            return false;
    }
    if ((size_t)(r->end - r->p) < l)
        return false;
    out->tag = (uint8_t)tag;
    out->v = r->p;
    out->len = l;
    r->p += l;
    return true;
}

static bool der_expect(struct rd *r, uint8_t tag, struct der *out)
{
    return der_next(r, out) && out->tag == tag;
}

/* Dotted form of an OID into k. */
static void oid_text(struct sink *k, const uint8_t *p, uint32_t n)
{
    uint64_t v = 0;
    bool first = true;
    for (uint32_t i = 0; i < n; i++) {
        if (v > (UINT64_MAX >> 8))
            return;
        v = v << 7 | (p[i] & 0x7f);
        if (p[i] & 0x80)
            continue;
        if (first) {
            uint32_t x = v < 80 ? (uint32_t)(v / 40) : 2;
            sink_dec(k, x);
            sink_put(k, ".", 1);
            v -= (uint64_t)x * 40;
            first = false;
        } else {
            sink_put(k, ".", 1);
        }
        if (v > UINT32_MAX) {
            char t[24];
            int m = snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
            sink_put(k, t, (uint32_t)m);
        } else {
            sink_dec(k, (uint32_t)v);
        }
        v = 0;
    }
}

/* Short names of attribute types, as Suricata's x509 module prints them. */
static const char *attr_name(const uint8_t *oid, uint32_t n)
{
    static const struct {
        uint8_t len;
        uint8_t oid[10];
        const char *name;
    } names[] = {
        {3, {0x55, 0x04, 0x03}, "CN"},
        {3, {0x55, 0x04, 0x06}, "C"},
        {3, {0x55, 0x04, 0x07}, "L"},
        {3, {0x55, 0x04, 0x08}, "ST"},
        {3, {0x55, 0x04, 0x0a}, "O"},
        {3, {0x55, 0x04, 0x0b}, "OU"},
        {3, {0x55, 0x04, 0x05}, "serialNumber"},
        {3, {0x55, 0x04, 0x04}, "surname"},
        {3, {0x55, 0x04, 0x2a}, "givenName"},
        {3, {0x55, 0x04, 0x0c}, "title"},
        {10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19}, "DC"},
        {9, {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01}, "Email"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].len == n && memcmp(names[i].oid, oid, n) == 0)
            return names[i].name;
    return NULL;
}

static bool is_string_tag(uint8_t t)
{
    switch (t) {
    case 0x0c: /* UTF8String */
    case 0x12: /* NumericString */
    case 0x13: /* PrintableString */
    case 0x14: /* T61String */
    case 0x15: /* VideotexString */
    case 0x16: /* IA5String */
    case 0x19: /* GraphicString */
    case 0x1a: /* VisibleString */
    case 0x1b: /* GeneralString */
    case 0x07: /* ObjectDescriptor */
        return true;
    default:
        return false;
    }
}

/* Name (SEQUENCE OF SET OF {type, value}) as "C=US, O=Org, CN=name",
 * several values of one RDN joined by " + ". Values that are not strings
 * print as upper-case hex; BMPString is converted to UTF-8. */
static bool name_text(struct sink *k, const struct der *name)
{
    struct rd r = {name->v, name->v + name->len, false};
    bool first_rdn = true;
    while (r.p < r.end) {
        struct der set;
        if (!der_expect(&r, 0x31, &set))
            return false;
        struct rd sr = {set.v, set.v + set.len, false};
        bool first_attr = true;
        while (sr.p < sr.end) {
            struct der atv, oid, val;
            if (!der_expect(&sr, 0x30, &atv))
                return false;
            struct rd ar = {atv.v, atv.v + atv.len, false};
            if (!der_expect(&ar, 0x06, &oid) || !der_next(&ar, &val))
                return false;
            if (!first_attr)
                sink_put(k, " + ", 3);
            else if (!first_rdn)
                sink_put(k, ", ", 2);
            first_attr = false;
            const char *nm = attr_name(oid.v, oid.len);
            if (nm != NULL)
                sink_put(k, nm, (uint32_t)strlen(nm));
            else
                oid_text(k, oid.v, oid.len);
            sink_put(k, "=", 1);
            if (is_string_tag(val.tag)) {
                sink_put(k, (const char *)val.v, val.len);
            } else if (val.tag == 0x1e) { /* BMPString: UCS-2 big-endian */
                for (uint32_t i = 0; i + 1 < val.len; i += 2) {
                    uint32_t c = rd16(val.v + i);
                    char u[3];
                    if (c < 0x80) {
                        u[0] = (char)c;
                        sink_put(k, u, 1);
                    } else if (c < 0x800) {
                        u[0] = (char)(0xc0 | c >> 6);
                        u[1] = (char)(0x80 | (c & 0x3f));
                        sink_put(k, u, 2);
                    } else {
                        u[0] = (char)(0xe0 | c >> 12);
                        u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
                        u[2] = (char)(0x80 | (c & 0x3f));
                        sink_put(k, u, 3);
                    }
                }
            } else {
                for (uint32_t i = 0; i < val.len; i++) {
                    char h[2] = {hex_upper[val.v[i] >> 4], hex_upper[val.v[i] & 15]};
                    sink_put(k, h, 2);
                }
            }
        }
        first_rdn = false;
    }
    return true;
}

static bool digits(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* UTCTime YYMMDDHHMMSSZ (years 50-99 are 19xx) or GeneralizedTime
 * YYYYMMDDHHMMSSZ, as "YYYY-MM-DDTHH:MM:SS". */
static bool time_text(char *out, const struct der *t)
{
    const uint8_t *p = t->v;
    char y[4];
    if (t->tag == 0x17 && t->len == 13 && p[12] == 'Z' && digits(p, 12)) {
        y[0] = p[0] >= '5' ? '1' : '2';
        y[1] = p[0] >= '5' ? '9' : '0';
        y[2] = (char)p[0];
        y[3] = (char)p[1];
        p += 2;
    } else if (t->tag == 0x18 && t->len == 15 && p[14] == 'Z' && digits(p, 14)) {
        memcpy(y, p, 4);
        p += 4;
    } else {
        return false;
    }
    snprintf(out, 20, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s", y, (const char *)p, (const char *)p + 2,
             (const char *)p + 4, (const char *)p + 6, (const char *)p + 8);
    return true;
}

/* Decodes the fields EVE shows; all or nothing. */
static bool parse_certificate_der(struct vg_tls_info *in, const uint8_t *der, uint32_t len)
{
    struct rd r = {der, der + len, false};
    struct der cert, tbs, x, issuer, validity, subject, nb, na;
    if (!der_expect(&r, 0x30, &cert) || r.p != r.end)
        return false;
    struct rd cr = {cert.v, cert.v + cert.len, false};
    if (!der_expect(&cr, 0x30, &tbs))
        return false;
    struct rd tr = {tbs.v, tbs.v + tbs.len, false};
    if (!der_next(&tr, &x))
        return false;
    if (x.tag == 0xa0 && !der_next(&tr, &x)) /* version */
        return false;
    if (x.tag != 0x02 || x.len == 0) /* serialNumber */
        return false;
    struct der serial = x;
    if (!der_expect(&tr, 0x30, &x) || !der_expect(&tr, 0x30, &issuer) ||
        !der_expect(&tr, 0x30, &validity) || !der_expect(&tr, 0x30, &subject))
        return false;
    struct rd vr = {validity.v, validity.v + validity.len, false};
    if (!der_next(&vr, &nb) || !der_next(&vr, &na))
        return false;
    char before[20], after[20];
    if (!time_text(before, &nb) || !time_text(after, &na))
        return false;
    char sub[VG_TLS_NAME_MAX], iss[VG_TLS_NAME_MAX];
    struct sink ks = {sub, sizeof(sub), 0, false, NULL};
    struct sink ki = {iss, sizeof(iss), 0, false, NULL};
    sub[0] = iss[0] = '\0';
    if (!name_text(&ks, &subject) || !name_text(&ki, &issuer))
        return false;

    memcpy(in->subject, sub, ks.len + 1);
    in->subject_len = (uint16_t)ks.len;
    memcpy(in->issuer, iss, ki.len + 1);
    in->issuer_len = (uint16_t)ki.len;
    if (ks.cut || ki.cut)
        in->flags |= VG_TLS_CUT;
    memcpy(in->not_before, before, sizeof(before));
    memcpy(in->not_after, after, sizeof(after));
    uint32_t ns = serial.len;
    if (ns > VG_TLS_SERIAL_MAX) {
        ns = VG_TLS_SERIAL_MAX;
        in->flags |= VG_TLS_CUT;
    }
    for (uint32_t i = 0; i < ns; i++) {
        in->serial[3 * i] = hex_upper[serial.v[i] >> 4];
        in->serial[3 * i + 1] = hex_upper[serial.v[i] & 15];
        in->serial[3 * i + 2] = i + 1 < ns ? ':' : '\0';
    }
    in->serial_len = (uint16_t)(3 * ns - 1);

    struct vg_digest sha;
    uint8_t fp[20];
    vg_digest_init(&sha, VG_DIGEST_SHA1);
    vg_digest_update(&sha, der, len);
    vg_digest_final(&sha, fp);
    for (int i = 0; i < 20; i++) {
        in->fingerprint[3 * i] = hex_lower[fp[i] >> 4];
        in->fingerprint[3 * i + 1] = hex_lower[fp[i] & 15];
        in->fingerprint[3 * i + 2] = i < 19 ? ':' : '\0';
    }
    in->flags |= VG_TLS_CERTIFICATE;
    return true;
}

/* Certificate message (TLS 1.2 and before): a 24-bit list length, then
 * 24-bit length-prefixed DER certificates; the first is the server's. */
static void parse_certificate(struct vg_tls_state *s, const uint8_t *msg, uint32_t kept,
                              uint32_t full, const struct vg_app_cb *cb)
{
    struct vg_tls_info *in = &s->info;
    if (in->flags & VG_TLS_CERTIFICATE)
        return;
    if (kept < 6) {
        if (full != 0 && full < 6)
            event(s, cb, VG_TLS_EV_INVALID_CERTIFICATE);
        return;
    }
    uint32_t list_len = rd24(msg), cert_len = rd24(msg + 3);
    if (list_len + 3 != full || cert_len + 3 > list_len) {
        event(s, cb, VG_TLS_EV_INVALID_CERTIFICATE);
        return;
    }
    if (cert_len + 6 > kept) {
        event(s, cb, VG_TLS_EV_CERTIFICATE_TOO_LARGE);
        return;
    }
    s->sh->st.certificates++;
    if (!parse_certificate_der(in, msg + 6, cert_len))
        event(s, cb, VG_TLS_EV_INVALID_CERTIFICATE);
}

/* ---- Handshake messages ---- */

static bool known_handshake_type(uint8_t t)
{
    switch (t) {
    case 0:   /* hello_request */
    case 1:   /* client_hello */
    case 2:   /* server_hello */
    case 3:   /* hello_verify_request */
    case 4:   /* new_session_ticket */
    case 5:   /* end_of_early_data */
    case 6:   /* hello_retry_request (TLS 1.3 drafts) */
    case 8:   /* encrypted_extensions */
    case 11:  /* certificate */
    case 12:  /* server_key_exchange */
    case 13:  /* certificate_request */
    case 14:  /* server_hello_done */
    case 15:  /* certificate_verify */
    case 16:  /* client_key_exchange */
    case 20:  /* finished */
    case 21:  /* certificate_url */
    case 22:  /* certificate_status */
    case 23:  /* supplemental_data */
    case 24:  /* key_update */
    case 25:  /* compressed_certificate */
    case 67:  /* next_protocol */
    case 254: /* message_hash */
        return true;
    default:
        return false;
    }
}

/* Whether a message of this type in this direction is decoded. */
static bool wanted(const struct vg_tls_state *s, int dir, uint8_t type)
{
    if (dir == 0)
        return type == HS_CLIENT_HELLO;
    if (type == HS_SERVER_HELLO)
        return true;
    return type == HS_CERTIFICATE && !(s->info.flags & VG_TLS_CERTIFICATE);
}

/* A complete handshake message: msg holds kept of its full bytes. */
static void on_message(struct vg_tls_state *s, int dir, uint8_t type, const uint8_t *msg,
                       uint32_t kept, uint32_t full, const struct vg_app_cb *cb)
{
    struct vg_tls_info *in = &s->info;
    bool cut = kept < full;
    if (dir == 0) {
        if (type != HS_CLIENT_HELLO)
            return;
        if (in->flags & VG_TLS_CLIENT_HELLO) {
            if ((in->flags & VG_TLS_HRR) && !s->ch_again)
                s->ch_again = true; /* the retry the server asked for */
            else
                event(s, cb, VG_TLS_EV_DUPLICATE_CLIENT_HELLO);
            return;
        }
        parse_client_hello(s, msg, kept, cut, cb);
        return;
    }
    switch (type) {
    case HS_SERVER_HELLO:
        parse_server_hello(s, msg, kept, cut, cb);
        break;
    case HS_HRR_DRAFT:
        in->flags |= VG_TLS_HRR;
        break;
    case HS_CERTIFICATE:
        parse_certificate(s, msg, kept, full, cb);
        if (in->flags & VG_TLS_SERVER_HELLO)
            respond(s, cb);
        break;
    default:
        /* What follows the ServerHello and certificate: the server side of
         * the clear handshake is complete. */
        if (in->flags & VG_TLS_SERVER_HELLO)
            respond(s, cb);
        break;
    }
}

/* Handshake record bytes of one direction. */
static void feed_handshake(struct vg_tls_state *s, int dir, const uint8_t *p, uint32_t n,
                           const struct vg_app_cb *cb)
{
    struct vg_tls_dir *d = &s->d[dir];
    uint8_t *buf = s->buf + (size_t)dir * s->limit;
    while (n > 0 && !d->skip_record && !d->encrypted) {
        if (d->hs_hdr_len < 4) {
            uint32_t take = 4u - d->hs_hdr_len < n ? 4u - d->hs_hdr_len : n;
            memcpy(d->hs_hdr + d->hs_hdr_len, p, take);
            d->hs_hdr_len = (uint8_t)(d->hs_hdr_len + take);
            p += take;
            n -= take;
            if (d->hs_hdr_len < 4)
                return;
            d->hs_type = d->hs_hdr[0];
            d->hs_len = rd24(d->hs_hdr + 1);
            d->hs_got = d->hs_kept = 0;
            if (!known_handshake_type(d->hs_type) || (dir == 1 && d->hs_type == HS_CLIENT_HELLO) ||
                (dir == 0 && d->hs_type == HS_SERVER_HELLO)) {
                event(s, cb, VG_TLS_EV_INVALID_HANDSHAKE_MESSAGE);
                d->skip_record = true;
                d->hs_hdr_len = 0;
                return;
            }
            d->hs_keep = wanted(s, dir, d->hs_type);
            if (d->hs_keep && d->hs_len > s->limit) {
                s->sh->st.cut++;
                if (d->hs_type != HS_CERTIFICATE)
                    event(s, cb, VG_TLS_EV_HANDSHAKE_TOO_LARGE);
            }
            if (d->hs_len == 0) {
                d->hs_hdr_len = 0;
                on_message(s, dir, d->hs_type, p, 0, 0, cb);
                continue;
            }
        }
        uint32_t want = d->hs_len - d->hs_got;
        uint32_t take = want < n ? want : n;
        if (d->hs_keep) {
            if (d->hs_got == 0 && take == d->hs_len) {
                /* whole message in this chunk: decode in place */
                d->hs_got = take;
                d->hs_hdr_len = 0;
                /* decoded as if copied: only the first limit bytes count */
                on_message(s, dir, d->hs_type, p, take < s->limit ? take : s->limit, take, cb);
                p += take;
                n -= take;
                continue;
            }
            uint32_t room = s->limit - d->hs_kept;
            uint32_t copy = take < room ? take : room;
            if (d->hs_got == 0)
                s->sh->st.copied++;
            memcpy(buf + d->hs_kept, p, copy);
            d->hs_kept += copy;
        }
        d->hs_got += take;
        p += take;
        n -= take;
        if (d->hs_got == d->hs_len) {
            d->hs_hdr_len = 0;
            on_message(s, dir, d->hs_type, buf, d->hs_kept, d->hs_len, cb);
        }
    }
}

/* ---- Records ---- */

/* The direction's framing is lost: from here on bytes are only counted. */
static void lose(struct vg_tls_state *s, int dir)
{
    if (!s->d[dir].dead)
        s->sh->st.lost++;
    s->d[dir].dead = true;
}

/* A record header has been gathered: check it and start the record. */
static void start_record(struct vg_tls_state *s, int dir, const struct vg_app_cb *cb)
{
    struct vg_tls_dir *d = &s->d[dir];
    struct vg_tls_info *in = &s->info;
    const uint8_t *h = d->hdr;
    bool resync = d->resync;
    d->resync = false;

    /* An SSLv2 hello: two-byte header with the top bit set, then the
     * message type (1 client hello, 4 server hello). */
    if (!d->first_seen && (h[0] & 0x80) && (h[2] == 1 || h[2] == 4)) {
        d->first_seen = true;
        in->flags |= VG_TLS_SSLV2;
        if (h[2] == 4 || dir == 1) {
            /* The server answers in SSLv2: the session is SSLv2 throughout. */
            in->version = 0x0002;
            lose(s, 0);
            lose(s, 1);
            return;
        }
        in->client_version = rd16(h + 3);
        in->client_max_version = in->client_version;
        uint32_t l = (uint32_t)(h[0] & 0x7f) << 8 | h[1];
        d->rec_type = REC_SSLV2;
        d->rec_left = l > 3 ? l - 3 : 0; /* type and version were in the header */
        return;
    }

    uint8_t type = h[0];
    uint16_t version = rd16(h + 1);
    uint32_t len = rd16(h + 3);
    enum vg_tls_event ev = VG_TLS_EV_COUNT;
    if (type < REC_CCS || type > REC_HEARTBEAT)
        ev = VG_TLS_EV_INVALID_RECORD_TYPE;
    else if ((version >> 8) != 3 || (version & 0xff) > 4)
        ev = VG_TLS_EV_INVALID_RECORD_VERSION;
    else if (len > REC_MAX_LEN)
        ev = VG_TLS_EV_INVALID_RECORD_LENGTH;
    if (ev != VG_TLS_EV_COUNT) {
        if (!resync) /* after a gap, garbage is expected */
            event(s, cb, ev);
        lose(s, dir);
        return;
    }
    if (!d->first_seen) {
        d->first_seen = true;
        if (dir == 0)
            in->client_record_version = version;
        else
            in->server_record_version = version;
    }
    in->records[dir]++;
    s->sh->st.records++;
    d->rec_type = type;
    d->rec_left = len;
    d->skip_record = false;

    if (type != REC_HANDSHAKE && d->hs_hdr_len != 0 && !d->encrypted) {
        /* another record type inside a handshake message */
        event(s, cb, VG_TLS_EV_INVALID_HANDSHAKE_MESSAGE);
        d->hs_hdr_len = 0;
    }
    if (len == 0 && type != REC_APPDATA)
        event(s, cb, VG_TLS_EV_INVALID_RECORD_LENGTH);
    switch (type) {
    case REC_CCS:
        /* Before TLS 1.3 what follows is encrypted. TLS 1.3 sends it only
         * for middlebox compatibility (also around a HelloRetryRequest). */
        if (!(in->flags & VG_TLS_HRR) && !tls13(in->version)) {
            d->encrypted = true;
            in->flags |= VG_TLS_ENCRYPTED;
        }
        if (dir == 1 && (in->flags & VG_TLS_SERVER_HELLO))
            respond(s, cb);
        break;
    case REC_ALERT:
    case REC_APPDATA:
        if (dir == 1 && (in->flags & VG_TLS_SERVER_HELLO))
            respond(s, cb);
        break;
    case REC_HEARTBEAT:
        event(s, cb, VG_TLS_EV_HEARTBEAT_MESSAGE);
        break;
    default:
        break;
    }
}

static void parse_dir(struct vg_tls_state *s, int dir, const uint8_t *p, uint32_t len,
                      const struct vg_app_cb *cb)
{
    struct vg_tls_dir *d = &s->d[dir];
    while (len > 0 && !d->dead) {
        if (d->rec_left == 0 && d->hdr_len < 5) {
            uint32_t take = 5u - d->hdr_len < len ? 5u - d->hdr_len : len;
            memcpy(d->hdr + d->hdr_len, p, take);
            d->hdr_len = (uint8_t)(d->hdr_len + take);
            p += take;
            len -= take;
            if (d->hdr_len < 5)
                return;
            d->hdr_len = 0;
            start_record(s, dir, cb);
            continue;
        }
        uint32_t take = d->rec_left < len ? d->rec_left : len;
        if (d->rec_type == REC_HANDSHAKE && !d->encrypted)
            feed_handshake(s, dir, p, take, cb);
        p += take;
        len -= take;
        d->rec_left -= take;
    }
}

void vg_tls_parse(struct vg_tls_state *s, int dir, const uint8_t *data, uint32_t len,
                  uint32_t flags, const struct vg_app_cb *cb)
{
    dir = dir != 0;
    struct vg_tls_dir *d = &s->d[dir];
    if (data == NULL)
        len = 0;
    s->info.bytes[dir] += len;
    s->sh->st.bytes += len;
    if (flags & VG_APP_GAP) {
        event(s, cb, VG_TLS_EV_GAP);
        /* The partial record and message are gone; the next chunk is taken
         * as a record start if it looks like one. */
        d->hdr_len = 0;
        d->rec_left = 0;
        d->hs_hdr_len = 0;
        d->skip_record = false;
        if (s->info.version != 0x0002) { /* SSLv2 sessions are never framed */
            d->dead = false;
            d->resync = true;
        }
        if (dir == 1 && (s->info.flags & VG_TLS_SERVER_HELLO))
            respond(s, cb);
    }
    if (len != 0)
        parse_dir(s, dir, data, len, cb);
    if (flags & VG_APP_END) {
        d->ended = true;
        if (!s->closed && (dir == 1 || s->d[1].ended) &&
            (s->info.flags & (VG_TLS_CLIENT_HELLO | VG_TLS_SERVER_HELLO)))
            emit(s, VG_STAGE_RESPONSE, dir, true, cb);
    }
}

/* ---- Probe ---- */

int vg_tls_probe(int dir, const uint8_t *data, uint32_t len)
{
    if (len == 0)
        return -1;
    const uint8_t *p = data;
    if (p[0] == REC_HANDSHAKE) {
        if (len >= 2 && p[1] != 3)
            return 0;
        if (len >= 3 && p[2] > 4)
            return 0;
        if (len < 5)
            return -1;
        uint32_t l = rd16(p + 3);
        if (l == 0 || l > REC_MAX_LEN)
            return 0;
        if (len < 6)
            return -1;
        return p[5] == (dir == 0 ? HS_CLIENT_HELLO : HS_SERVER_HELLO) ? 1 : 0;
    }
    /* SSLv2-compatible ClientHello: length with the top bit, type 1, then
     * version 0.2 or 3.x. */
    if (dir == 0 && (p[0] & 0x80)) {
        if (len < 5)
            return -1;
        uint32_t l = (uint32_t)(p[0] & 0x7f) << 8 | p[1];
        if (p[2] != 1 || l < 9)
            return 0;
        if ((p[3] == 0 && p[4] == 2) || (p[3] == 3 && p[4] <= 4))
            return 1;
        return 0;
    }
    return 0;
}

/* ---- EVE ---- */

void vg_tls_encode(const void *state, struct vg_meta_writer *w)
{
    const struct vg_tls_state *s = state;
    const struct vg_tls_info *in = &s->info;
    vg_meta_obj(w, "tls");
    if (in->flags & VG_TLS_CERTIFICATE) {
        vg_meta_str(w, "subject", in->subject, in->subject_len);
        vg_meta_str(w, "issuerdn", in->issuer, in->issuer_len);
    }
    if (in->flags & VG_TLS_RESUMED)
        vg_meta_bool(w, "session_resumed", true);
    if (in->flags & VG_TLS_CERTIFICATE) {
        vg_meta_str(w, "serial", in->serial, in->serial_len);
        vg_meta_str(w, "fingerprint", in->fingerprint, 59);
    }
    if (in->flags & VG_TLS_SNI)
        vg_meta_str(w, "sni", in->sni, in->sni_len);
    char v[24];
    vg_meta_cstr(w, "version", vg_tls_version_name(in->version, v, sizeof(v)));
    if (in->flags & VG_TLS_CERTIFICATE) {
        vg_meta_cstr(w, "notbefore", in->not_before);
        vg_meta_cstr(w, "notafter", in->not_after);
    }
    if (in->flags & VG_TLS_CLIENT_HELLO) {
        vg_meta_obj(w, "ja3");
        vg_meta_str(w, "hash", in->ja3_hash, 32);
        vg_meta_str(w, "string", in->ja3, in->ja3_len);
        vg_meta_end(w);
    }
    if (in->flags & VG_TLS_SERVER_HELLO) {
        vg_meta_obj(w, "ja3s");
        vg_meta_str(w, "hash", in->ja3s_hash, 32);
        vg_meta_str(w, "string", in->ja3s, in->ja3s_len);
        vg_meta_end(w);
    }
    if (in->flags & VG_TLS_CLIENT_HELLO)
        vg_meta_cstr(w, "ja4", in->ja4);
    if (in->flags & VG_TLS_ALPN) {
        vg_meta_arr(w, "client_alpns");
        struct rd r = {in->alpn, in->alpn + in->alpn_len, false};
        while (r.p < r.end) {
            uint32_t l = rd_u8(&r);
            struct rd name = rd_sub(&r, l);
            if (r.bad)
                break;
            vg_meta_str(w, NULL, name.p, l);
        }
        vg_meta_end(w);
    }
    if (in->flags & VG_TLS_SERVER_ALPN) {
        vg_meta_arr(w, "server_alpns");
        vg_meta_str(w, NULL, in->server_alpn, in->server_alpn_len);
        vg_meta_end(w);
    }
    vg_meta_end(w);
}
