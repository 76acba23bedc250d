/* DNS parser: one walker over a message serves both the parse (anomalies,
 * the first question) and the EVE encoder (the same walk with a writer), so
 * what is checked and what is logged never disagree.
 *
 * Bounds. Every record needs at least 11 bytes (5 for a question), so the
 * counts cannot make the walk longer than the message. A name stops
 * collecting text at VG_DNS_NAME_MAX characters and then follows no more
 * pointers, and each pointer jumps strictly backwards, so one name costs at
 * most a few hundred steps beyond the bytes it occupies in place. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "vigil/common.h"
#include "vigil/dns.h"
#include "vigil/flow.h"
#include "vigil/meta.h"

#define HDR_LEN      12
#define QR_BIT       0x8000u
#define AA_BIT       0x0400u
#define TC_BIT       0x0200u
#define RD_BIT       0x0100u
#define RA_BIT       0x0080u
#define Z_BIT        0x0040u
#define MIN_RR_LEN   11u /* root name, type, class, ttl, rdlength */
#define MIN_Q_LEN    5u  /* root name, type, class */
#define TXT_TEXT_MAX 4096u
#define PROBE_MAX_QD 8u

#define T_A     1
#define T_NS    2
#define T_CNAME 5
#define T_SOA   6
#define T_PTR   12
#define T_MX    15
#define T_TXT   16
#define T_AAAA  28
#define T_SRV   33
#define T_DNAME 39
#define T_SVCB  64
#define T_HTTPS 65

/* A query waiting for its response. */
struct pending {
    bool used;
    bool name_cut;
    uint16_t id;
    uint16_t flags;
    uint16_t qtype;
    uint16_t name_len;
    uint32_t tx_id;
    uint32_t seq; /* arrival order: the smallest is the oldest */
    char name[VG_DNS_NAME_MAX];
};

/* One direction's TCP framing. */
struct tcp_dir {
    uint32_t need; /* length of the message being collected */
    uint32_t have; /* bytes of it collected */
    uint32_t skip; /* bytes of a too-long message still to pass over */
    uint8_t prefix[2];
    uint8_t prefix_have;
    bool in_message; /* need is known */
    bool resync;     /* after a gap: wait for a chunk that starts a message */
    uint8_t buf[VG_DNS_TCP_MSG_MAX];
};

/* What encode needs: a message (query or response), or a pending query
 * closed without its response. */
struct dns_view {
    const uint8_t *msg;
    uint32_t len;
    const struct pending *q;
};

struct vg_dns_state {
    uint32_t next_tx_id;
    uint32_t next_seq;
    struct pending pending[VG_DNS_PENDING];
    struct pending closing; /* the query being closed, valid during its callback */
    struct dns_view view;
    char qname[VG_DNS_NAME_MAX];
    struct tcp_dir tcp[2];
};

static const char *const event_names[VG_DNS_EVENT_COUNT] = {
    [VG_DNS_EV_MALFORMED_DATA] = "MALFORMED_DATA",
    [VG_DNS_EV_NOT_A_REQUEST] = "NOT_A_REQUEST",
    [VG_DNS_EV_NOT_A_RESPONSE] = "NOT_A_RESPONSE",
    [VG_DNS_EV_Z_FLAG_SET] = "Z_FLAG_SET",
    [VG_DNS_EV_INFINITE_LOOP] = "INFINITE_LOOP",
    [VG_DNS_EV_NAME_TOO_LONG] = "NAME_TOO_LONG",
    [VG_DNS_EV_LYING_COUNTS] = "LYING_COUNTS",
    [VG_DNS_EV_UNSOLICITED_RESPONSE] = "UNSOLICITED_RESPONSE",
    [VG_DNS_EV_FLOODED] = "FLOODED",
    [VG_DNS_EV_TCP_MESSAGE_TOO_LONG] = "TCP_MESSAGE_TOO_LONG",
};

const char *vg_dns_event_name(uint16_t ev)
{
    if (ev < VG_DNS_EVENT_COUNT)
        return event_names[ev];
    return "UNKNOWN";
}

size_t vg_dns_state_size(void)
{
    return sizeof(struct vg_dns_state);
}

void vg_dns_state_init(struct vg_dns_state *s)
{
    s->next_tx_id = 0;
    s->next_seq = 0;
    for (unsigned i = 0; i < VG_DNS_PENDING; i++)
        s->pending[i].used = false;
    s->closing.used = false;
    for (unsigned d = 0; d < 2; d++) {
        struct tcp_dir *t = &s->tcp[d];
        t->need = t->have = t->skip = 0;
        t->prefix_have = 0;
        t->in_message = false;
        t->resync = false;
    }
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

/* ---- names ---- */

enum name_result { NAME_OK = 0, NAME_BAD, NAME_LOOP };

struct name {
    char text[VG_DNS_NAME_MAX];
    uint32_t len;
    bool cut;
};

/* Reads the name at *off and moves *off past it (its in-place bytes: up to
 * the root label or the first pointer). */
static enum name_result read_name(const uint8_t *m, uint32_t n, uint32_t *off, struct name *out)
{
    uint32_t pos = *off, seg_start = pos, end = 0;
    bool jumped = false;
    unsigned hops = 0;
    out->len = 0;
    out->cut = false;
    for (;;) {
        if (pos >= n)
            return NAME_BAD;
        uint8_t c = m[pos];
        if (c == 0) {
            if (!jumped)
                end = pos + 1;
            break;
        }
        if ((c & 0xc0) == 0xc0) {
            if (pos + 1 >= n)
                return NAME_BAD;
            if (!jumped) {
                end = pos + 2;
                jumped = true;
            }
            if (out->cut)
                break; /* the text is complete: nothing more to follow */
            uint32_t target = (uint32_t)(c & 0x3f) << 8 | m[pos + 1];
            if (target >= seg_start || ++hops > VG_DNS_MAX_HOPS)
                return NAME_LOOP;
            pos = seg_start = target;
            continue;
        }
        if (c & 0xc0)
            return NAME_BAD; /* extended label types (RFC 6891 obsoleted them) */
        if (pos + 1 + c > n)
            return NAME_BAD;
        if (!out->cut) {
            uint32_t room = VG_DNS_NAME_MAX - out->len;
            uint32_t want = c + (out->len > 0 ? 1u : 0u);
            if (want > room) {
                out->cut = true;
                want = room;
            }
            char *dst = out->text + out->len;
            const uint8_t *src = m + pos + 1;
            uint32_t k = want;
            if (out->len > 0 && k > 0) {
                *dst++ = '.';
                k--;
            }
            memcpy(dst, src, k);
            out->len += want;
        } else if (jumped) {
            break;
        }
        pos += 1u + c;
    }
    *off = end;
    return NAME_OK;
}

/* ---- text of types and codes ---- */

static const char *rrtype_name(uint16_t t)
{
    switch (t) {
    case 1:
        return "A";
    case 2:
        return "NS";
    case 3:
        return "MD";
    case 4:
        return "MF";
    case 5:
        return "CNAME";
    case 6:
        return "SOA";
    case 7:
        return "MB";
    case 8:
        return "MG";
    case 9:
        return "MR";
    case 10:
        return "NULL";
    case 11:
        return "WKS";
    case 12:
        return "PTR";
    case 13:
        return "HINFO";
    case 14:
        return "MINFO";
    case 15:
        return "MX";
    case 16:
        return "TXT";
    case 17:
        return "RP";
    case 18:
        return "AFSDB";
    case 24:
        return "SIG";
    case 25:
        return "KEY";
    case 28:
        return "AAAA";
    case 29:
        return "LOC";
    case 33:
        return "SRV";
    case 35:
        return "NAPTR";
    case 37:
        return "CERT";
    case 39:
        return "DNAME";
    case 41:
        return "OPT";
    case 43:
        return "DS";
    case 44:
        return "SSHFP";
    case 46:
        return "RRSIG";
    case 47:
        return "NSEC";
    case 48:
        return "DNSKEY";
    case 50:
        return "NSEC3";
    case 51:
        return "NSEC3PARAM";
    case 52:
        return "TLSA";
    case 64:
        return "SVCB";
    case 65:
        return "HTTPS";
    case 99:
        return "SPF";
    case 249:
        return "TKEY";
    case 250:
        return "TSIG";
    case 251:
        return "IXFR";
    case 252:
        return "AXFR";
    case 255:
        return "ANY";
    case 256:
        return "URI";
    case 257:
        return "CAA";
    default:
        return NULL;
    }
}

static const char *rcode_name(unsigned rc)
{
    static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                        "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                        "NXRRSET", "NOTAUTH", "NOTZONE"};
    return rc < VG_ARRAY_SIZE(names) ? names[rc] : NULL;
}

/* Writes a type or code as its name, or as its number in decimal. */
static void meta_code(struct vg_meta_writer *w, const char *key, const char *name, unsigned v)
{
    if (name != NULL) {
        vg_meta_cstr(w, key, name);
        return;
    }
    char num[12];
    snprintf(num, sizeof(num), "%u", v);
    vg_meta_cstr(w, key, num);
}

/* ---- the message walker ---- */

#define EV(e) (1u << (e))

struct walk {
    const uint8_t *m;
    uint32_t n;
    uint32_t off;
    uint32_t events; /* EV() bits */
    bool stop;       /* the rest of the message cannot be read */
    struct vg_meta_writer *w;
    /* the first question */
    bool have_q;
    uint16_t qtype;
    struct name qname;
};

static bool take_name(struct walk *k, uint32_t *off, struct name *out)
{
    enum name_result r = read_name(k->m, k->n, off, out);
    if (r == NAME_LOOP) {
        k->events |= EV(VG_DNS_EV_INFINITE_LOOP);
        k->stop = true;
        return false;
    }
    if (r == NAME_BAD) {
        k->events |= EV(VG_DNS_EV_MALFORMED_DATA);
        k->stop = true;
        return false;
    }
    if (out->cut)
        k->events |= EV(VG_DNS_EV_NAME_TOO_LONG);
    return true;
}

/* A name inside rdata: must end inside the rdata. */
static bool rdata_name(struct walk *k, uint32_t *off, uint32_t rd_end, struct name *out)
{
    if (!take_name(k, off, out))
        return false;
    if (*off > rd_end) {
        k->events |= EV(VG_DNS_EV_MALFORMED_DATA);
        return false;
    }
    return true;
}

/* Validates and writes one record's data. Malformed data of a known type is
 * raised and logged by its length; the walk goes on at the next record. */
static void walk_rdata(struct walk *k, uint16_t type, uint32_t start, uint32_t rdlen)
{
    struct vg_meta_writer *w = k->w;
    const uint8_t *d = k->m + start;
    uint32_t end = start + rdlen, off = start;
    struct name nm, nm2;
    char addr[64];

    switch (type) {
    case T_A:
    case T_AAAA:
        if (rdlen != (type == T_A ? 4u : 16u))
            break;
        if (w != NULL)
            vg_meta_cstr(w, "rdata",
                         inet_ntop(type == T_A ? AF_INET : AF_INET6, d, addr, sizeof(addr)));
        return;
    case T_CNAME:
    case T_NS:
    case T_PTR:
    case T_DNAME:
        if (!rdata_name(k, &off, end, &nm))
            break;
        if (w != NULL)
            vg_meta_str(w, "rdata", nm.text, nm.len);
        return;
    case T_MX:
        off += 2;
        if (rdlen < 3 || !rdata_name(k, &off, end, &nm))
            break;
        if (w != NULL)
            vg_meta_str(w, "rdata", nm.text, nm.len);
        return;
    case T_TXT: {
        char text[TXT_TEXT_MAX];
        uint32_t tl = 0, p = 0;
        while (p < rdlen) {
            uint32_t sl = d[p];
            if (p + 1 + sl > rdlen)
                break;
            if (w != NULL) {
                uint32_t k2 = sl < TXT_TEXT_MAX - tl ? sl : TXT_TEXT_MAX - tl;
                memcpy(text + tl, d + p + 1, k2);
                tl += k2;
            }
            p += 1 + sl;
        }
        if (p != rdlen || rdlen == 0)
            break;
        if (w != NULL)
            vg_meta_str(w, "rdata", text, tl);
        return;
    }
    case T_SOA:
        if (!rdata_name(k, &off, end, &nm) || !rdata_name(k, &off, end, &nm2) || end - off != 20)
            break;
        if (w != NULL) {
            const uint8_t *t = k->m + off;
            vg_meta_obj(w, "soa");
            vg_meta_str(w, "mname", nm.text, nm.len);
            vg_meta_str(w, "rname", nm2.text, nm2.len);
            vg_meta_uint(w, "serial", rd32(t));
            vg_meta_uint(w, "refresh", rd32(t + 4));
            vg_meta_uint(w, "retry", rd32(t + 8));
            vg_meta_uint(w, "expire", rd32(t + 12));
            vg_meta_uint(w, "minimum", rd32(t + 16));
            vg_meta_end(w);
        }
        return;
    case T_SRV:
        off += 6;
        if (rdlen < 7 || !rdata_name(k, &off, end, &nm))
            break;
        if (w != NULL) {
            vg_meta_obj(w, "srv");
            vg_meta_uint(w, "priority", rd16(d));
            vg_meta_uint(w, "weight", rd16(d + 2));
            vg_meta_uint(w, "port", rd16(d + 4));
            vg_meta_str(w, "name", nm.text, nm.len);
            vg_meta_end(w);
        }
        return;
    case T_SVCB:
    case T_HTTPS:
        /* priority and target; the SvcParams that follow are not decoded */
        off += 2;
        if (rdlen < 3 || !rdata_name(k, &off, end, &nm))
            break;
        if (w != NULL) {
            vg_meta_obj(w, "svcb");
            vg_meta_uint(w, "priority", rd16(d));
            vg_meta_str(w, "target", nm.text, nm.len);
            vg_meta_end(w);
        }
        return;
    default:
        if (w != NULL)
            vg_meta_uint(w, "rdlength", rdlen);
        return;
    }
    /* a known type whose data does not parse; a name loop has stopped the
     * walk already */
    if (!k->stop)
        k->events |= EV(VG_DNS_EV_MALFORMED_DATA);
    if (w != NULL)
        vg_meta_uint(w, "rdlength", rdlen);
}

/* Walks count questions; writes them as {rrname, rrtype} when w is set. */
static void walk_questions(struct walk *k, uint32_t count)
{
    for (uint32_t i = 0; i < count && !k->stop; i++) {
        if (k->off >= k->n) {
            k->events |= EV(VG_DNS_EV_LYING_COUNTS);
            k->stop = true;
            return;
        }
        struct name nm;
        if (!take_name(k, &k->off, &nm))
            return;
        if (k->n - k->off < 4) {
            k->events |= EV(VG_DNS_EV_MALFORMED_DATA);
            k->stop = true;
            return;
        }
        uint16_t type = rd16(k->m + k->off);
        k->off += 4;
        if (i == 0) {
            k->have_q = true;
            k->qtype = type;
            k->qname = nm;
        }
        if (k->w != NULL) {
            vg_meta_obj(k->w, NULL);
            vg_meta_str(k->w, "rrname", nm.text, nm.len);
            meta_code(k->w, "rrtype", rrtype_name(type), type);
            vg_meta_end(k->w);
        }
    }
}

/* Walks count resource records; writes them when w is set. */
static void walk_records(struct walk *k, uint32_t count)
{
    for (uint32_t i = 0; i < count && !k->stop; i++) {
        if (k->off >= k->n) {
            k->events |= EV(VG_DNS_EV_LYING_COUNTS);
            k->stop = true;
            return;
        }
        struct name nm;
        if (!take_name(k, &k->off, &nm))
            return;
        if (k->n - k->off < 10) {
            k->events |= EV(VG_DNS_EV_MALFORMED_DATA);
            k->stop = true;
            return;
        }
        const uint8_t *f = k->m + k->off;
        uint16_t type = rd16(f), rdlen = rd16(f + 8);
        uint32_t ttl = rd32(f + 4);
        k->off += 10;
        if (k->n - k->off < rdlen) {
            k->events |= EV(VG_DNS_EV_MALFORMED_DATA);
            k->stop = true;
            return;
        }
        if (k->w != NULL) {
            vg_meta_obj(k->w, NULL);
            vg_meta_str(k->w, "rrname", nm.text, nm.len);
            meta_code(k->w, "rrtype", rrtype_name(type), type);
            vg_meta_uint(k->w, "ttl", ttl);
        }
        walk_rdata(k, type, k->off, rdlen);
        if (k->w != NULL)
            vg_meta_end(k->w);
        k->off += rdlen;
    }
}

struct header {
    uint16_t id, flags, qd, an, ns, ar;
};

static void read_header(const uint8_t *m, struct header *h)
{
    h->id = rd16(m);
    h->flags = rd16(m + 2);
    h->qd = rd16(m + 4);
    h->an = rd16(m + 6);
    h->ns = rd16(m + 8);
    h->ar = rd16(m + 10);
}

/* The header members of the dns object. */
static void encode_header(struct vg_meta_writer *w, uint16_t id, uint16_t flags, const char *rrname,
                          uint32_t rrname_len, bool have_q, uint16_t qtype)
{
    char hex[8];
    vg_meta_uint(w, "version", 2);
    vg_meta_cstr(w, "type", (flags & QR_BIT) ? "answer" : "query");
    vg_meta_uint(w, "id", id);
    snprintf(hex, sizeof(hex), "%x", flags);
    vg_meta_cstr(w, "flags", hex);
    static const struct {
        uint16_t bit;
        const char *name;
    } bits[] = {{QR_BIT, "qr"}, {AA_BIT, "aa"}, {TC_BIT, "tc"},
                {RD_BIT, "rd"}, {RA_BIT, "ra"}, {Z_BIT, "z"}};
    for (unsigned i = 0; i < VG_ARRAY_SIZE(bits); i++)
        if (flags & bits[i].bit)
            vg_meta_bool(w, bits[i].name, true);
    vg_meta_uint(w, "opcode", (flags >> 11) & 0xfu);
    if (have_q) {
        vg_meta_str(w, "rrname", rrname, rrname_len);
        meta_code(w, "rrtype", rrtype_name(qtype), qtype);
    }
    meta_code(w, "rcode", rcode_name(flags & 0xfu), flags & 0xfu);
}

static void encode_message(const uint8_t *m, uint32_t n, struct vg_meta_writer *w)
{
    struct header h;
    read_header(m, &h);
    /* the first question goes in the header members, before the arrays */
    struct walk k = {.m = m, .n = n, .off = HDR_LEN};
    walk_questions(&k, h.qd > 0 ? 1 : 0);
    encode_header(w, h.id, h.flags, k.qname.text, k.qname.len, k.have_q, k.qtype);

    k = (struct walk){.m = m, .n = n, .off = HDR_LEN, .w = w};
    if (h.qd > 0) {
        vg_meta_arr(w, "queries");
        walk_questions(&k, h.qd);
        vg_meta_end(w);
    }
    if (!(h.flags & QR_BIT))
        return;
    if (h.an > 0 && !k.stop) {
        vg_meta_arr(w, "answers");
        walk_records(&k, h.an);
        vg_meta_end(w);
    }
    if (h.ns > 0 && !k.stop) {
        vg_meta_arr(w, "authorities");
        walk_records(&k, h.ns);
        vg_meta_end(w);
    }
}

static void encode_tx(const void *obj, struct vg_meta_writer *w)
{
    const struct dns_view *v = obj;
    vg_meta_obj(w, "dns");
    if (v->msg != NULL) {
        encode_message(v->msg, v->len, w);
    } else if (v->q != NULL) {
        const struct pending *q = v->q;
        bool have_q = q->qtype != 0 || q->name_len > 0;
        encode_header(w, q->id, q->flags, q->name, q->name_len, have_q, q->qtype);
        if (have_q) {
            vg_meta_arr(w, "queries");
            vg_meta_obj(w, NULL);
            vg_meta_str(w, "rrname", q->name, q->name_len);
            meta_code(w, "rrtype", rrtype_name(q->qtype), q->qtype);
            vg_meta_end(w);
            vg_meta_end(w);
        }
    }
    vg_meta_end(w);
}

/* ---- transactions ---- */

static void raise_events(uint32_t events, const struct vg_app_cb *cb)
{
    if (cb->anomaly == NULL)
        return;
    for (uint16_t e = 0; e < VG_DNS_EVENT_COUNT; e++)
        if (events & EV(e))
            cb->anomaly(cb->user, VG_APP_DNS, e);
}

static void emit(struct vg_dns_state *s, const struct vg_app_cb *cb, int dir, uint8_t stage,
                 bool last, uint32_t tx_id, const uint8_t *payload, uint32_t payload_len,
                 const char *query, uint32_t query_len)
{
    if (cb->tx == NULL)
        return;
    struct vg_app_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = VG_APP_DNS;
    tx.stage = stage;
    tx.dir = (uint8_t)dir;
    tx.last = last;
    tx.tx_id = tx_id;
    if (payload != NULL) {
        tx.buf[VG_BUF_PAYLOAD].data = payload;
        tx.buf[VG_BUF_PAYLOAD].len = payload_len;
    }
    if (query != NULL) {
        /* an empty name (the root) is present, with length 0 */
        tx.buf[VG_BUF_DNS_QUERY].data = (const uint8_t *)query;
        tx.buf[VG_BUF_DNS_QUERY].len = query_len;
    }
    tx.encode = encode_tx;
    tx.obj = &s->view;
    cb->tx(cb->user, &tx);
}

/* Closes a pending query without its response. */
static void close_pending(struct vg_dns_state *s, struct pending *q, const struct vg_app_cb *cb)
{
    s->closing = *q;
    q->used = false;
    s->view = (struct dns_view){.q = &s->closing};
    emit(s, cb, VG_DIR_TOSERVER, VG_STAGE_REQUEST, true, s->closing.tx_id, NULL, 0, NULL, 0);
    s->closing.used = false;
}

static struct pending *oldest_pending(struct vg_dns_state *s, bool match_id, uint16_t id)
{
    struct pending *best = NULL;
    for (unsigned i = 0; i < VG_DNS_PENDING; i++) {
        struct pending *q = &s->pending[i];
        if (!q->used || (match_id && q->id != id))
            continue;
        if (best == NULL || (int32_t)(q->seq - best->seq) < 0)
            best = q;
    }
    return best;
}

static void on_query(struct vg_dns_state *s, int dir, const uint8_t *m, uint32_t n,
                     const struct header *h, const struct walk *k, const struct vg_app_cb *cb)
{
    struct pending *slot = NULL;
    for (unsigned i = 0; i < VG_DNS_PENDING && slot == NULL; i++)
        if (!s->pending[i].used)
            slot = &s->pending[i];
    if (slot == NULL) {
        /* table full: the oldest query will get no response we can pair */
        slot = oldest_pending(s, false, 0);
        close_pending(s, slot, cb);
        raise_events(EV(VG_DNS_EV_FLOODED), cb);
    }
    slot->used = true;
    slot->id = h->id;
    slot->flags = h->flags;
    slot->qtype = k->have_q ? k->qtype : 0;
    slot->name_len = k->have_q ? (uint16_t)k->qname.len : 0;
    slot->name_cut = k->have_q && k->qname.cut;
    if (slot->name_len > 0)
        memcpy(slot->name, k->qname.text, slot->name_len);
    slot->tx_id = s->next_tx_id++;
    slot->seq = s->next_seq++;

    uint32_t qlen = 0;
    if (k->have_q) {
        qlen = k->qname.len;
        memcpy(s->qname, k->qname.text, qlen);
    }
    s->view = (struct dns_view){.msg = m, .len = n};
    emit(s, cb, dir, VG_STAGE_REQUEST, false, slot->tx_id, m, n, k->have_q ? s->qname : NULL, qlen);
}

static void on_response(struct vg_dns_state *s, int dir, const uint8_t *m, uint32_t n,
                        const struct header *h, const struct vg_app_cb *cb)
{
    uint32_t tx_id;
    struct pending *q = oldest_pending(s, true, h->id);
    if (q != NULL) {
        tx_id = q->tx_id;
        q->used = false;
    } else {
        raise_events(EV(VG_DNS_EV_UNSOLICITED_RESPONSE), cb);
        tx_id = s->next_tx_id++;
    }
    s->view = (struct dns_view){.msg = m, .len = n};
    emit(s, cb, dir, VG_STAGE_RESPONSE, true, tx_id, m, n, NULL, 0);
}

static void parse_message(struct vg_dns_state *s, int dir, const uint8_t *m, uint32_t n,
                          const struct vg_app_cb *cb)
{
    if (n < HDR_LEN) {
        raise_events(EV(VG_DNS_EV_MALFORMED_DATA), cb);
        return;
    }
    struct header h;
    read_header(m, &h);
    struct walk k = {.m = m, .n = n, .off = HDR_LEN};
    walk_questions(&k, h.qd);
    walk_records(&k, h.an);
    walk_records(&k, h.ns);
    walk_records(&k, h.ar);

    bool qr = h.flags & QR_BIT;
    uint32_t ev = k.events;
    if (dir == VG_DIR_TOSERVER && qr)
        ev |= EV(VG_DNS_EV_NOT_A_REQUEST);
    if (dir == VG_DIR_TOCLIENT && !qr)
        ev |= EV(VG_DNS_EV_NOT_A_RESPONSE);
    if (h.flags & Z_BIT)
        ev |= EV(VG_DNS_EV_Z_FLAG_SET);
    raise_events(ev, cb);
    /* The QR bit, not the direction, says what the message is: a flow whose
     * first packet seen was a response still pairs its messages. */
    if (qr)
        on_response(s, dir, m, n, &h, cb);
    else
        on_query(s, dir, m, n, &h, &k, cb);
}

void vg_dns_parse_udp(struct vg_dns_state *s, int dir, const uint8_t *msg, uint32_t len,
                      const struct vg_app_cb *cb)
{
    if (msg == NULL)
        len = 0;
    parse_message(s, dir & 1, msg, len, cb);
}

void vg_dns_flush(struct vg_dns_state *s, const struct vg_app_cb *cb)
{
    struct pending *q;
    while ((q = oldest_pending(s, false, 0)) != NULL)
        close_pending(s, q, cb);
}

/* ---- TCP framing ---- */

static void tcp_reset(struct tcp_dir *t)
{
    t->need = t->have = t->skip = 0;
    t->prefix_have = 0;
    t->in_message = false;
}

/* Takes a complete length prefix: the message is collected, or skipped when
 * it cannot fit. */
static void tcp_start_message(struct tcp_dir *t, uint32_t need, const struct vg_app_cb *cb)
{
    t->prefix_have = 0;
    if (need > VG_DNS_TCP_MSG_MAX) {
        raise_events(EV(VG_DNS_EV_TCP_MESSAGE_TOO_LONG), cb);
        t->skip = need;
        return;
    }
    t->need = need;
    t->have = 0;
    t->in_message = true;
}

void vg_dns_parse_tcp(struct vg_dns_state *s, int dir, const uint8_t *data, uint32_t len,
                      uint32_t flags, const struct vg_app_cb *cb)
{
    dir &= 1;
    struct tcp_dir *t = &s->tcp[dir];
    if (data == NULL)
        len = 0;
    if (flags & VG_APP_GAP) {
        tcp_reset(t);
        t->resync = true;
    }
    if (t->resync && len > 0) {
        /* framing is lost: take this chunk only if it starts a message */
        if (vg_dns_probe(dir, data, len, true) != 1)
            len = 0;
        else
            t->resync = false;
    }
    while (len > 0) {
        if (t->skip > 0) {
            uint32_t k = t->skip < len ? t->skip : len;
            t->skip -= k;
            data += k;
            len -= k;
            continue;
        }
        if (!t->in_message) {
            if (t->prefix_have == 0 && len >= 2) {
                uint32_t need = rd16(data);
                if (need <= VG_DNS_TCP_MSG_MAX && len - 2 >= need) {
                    /* the whole message is here: parse it in place */
                    parse_message(s, dir, data + 2, need, cb);
                    data += 2 + need;
                    len -= 2 + need;
                    continue;
                }
                data += 2;
                len -= 2;
                tcp_start_message(t, need, cb);
                continue;
            }
            t->prefix[t->prefix_have++] = *data++;
            len--;
            if (t->prefix_have == 2)
                tcp_start_message(t, rd16(t->prefix), cb);
            continue;
        }
        uint32_t k = t->need - t->have;
        if (k > len)
            k = len;
        memcpy(t->buf + t->have, data, k);
        t->have += k;
        data += k;
        len -= k;
        if (t->have == t->need) {
            t->in_message = false;
            parse_message(s, dir, t->buf, t->need, cb);
        }
    }
    /* a zero-length message completes as soon as its prefix does */
    if (t->in_message && t->need == 0) {
        t->in_message = false;
        parse_message(s, dir, t->buf, 0, cb);
    }
    if (flags & VG_APP_END)
        tcp_reset(t);
}

/* ---- detection ---- */

static bool plausible_class(uint16_t c)
{
    c &= 0x7fff; /* mDNS: the top bit asks for a unicast response */
    return c == 1 || c == 3 || c == 4 || c == 254 || c == 255;
}

int vg_dns_probe(int dir, const uint8_t *data, uint32_t len, bool tcp)
{
    const uint8_t *m = data;
    uint32_t n = len, msg_len = len;
    bool incomplete = false;
    if (data == NULL)
        return -1;
    if (tcp) {
        if (len < 2)
            return 0;
        msg_len = rd16(data);
        m = data + 2;
        n = len - 2;
        if (n < msg_len)
            incomplete = true;
        else
            n = msg_len;
    }
    if (msg_len < HDR_LEN)
        return -1;
    if (n < HDR_LEN)
        return incomplete ? 0 : -1;
    struct header h;
    read_header(m, &h);
    unsigned opcode = (h.flags >> 11) & 0xfu;
    if (opcode == 3 || opcode > 6)
        return -1;
    bool qr = h.flags & QR_BIT;
    if (qr != ((dir & 1) == VG_DIR_TOCLIENT))
        return -1;
    if (h.qd == 0 || h.qd > PROBE_MAX_QD)
        return -1;
    uint64_t min_len =
        HDR_LEN + (uint64_t)h.qd * MIN_Q_LEN + ((uint64_t)h.an + h.ns + h.ar) * MIN_RR_LEN;
    if (min_len > msg_len)
        return -1;
    uint32_t off = HDR_LEN;
    struct name nm;
    enum name_result r = read_name(m, n, &off, &nm);
    if (r == NAME_LOOP)
        return -1;
    if (r == NAME_BAD)
        return incomplete ? 0 : -1;
    if (n - off < 4)
        return incomplete ? 0 : -1;
    if (!plausible_class(rd16(m + off + 2)))
        return -1;
    return 1;
}
