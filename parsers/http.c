/* HTTP/1.x: one state machine per direction over the reassembled stream.
 *
 * Headers. Every byte of the start line and the header lines is appended
 * to the message's raw buffer (up to header_limit; a line keeps at most
 * line_limit bytes). The first 256 bytes of each line are also copied to a
 * scratch buffer, where the framing headers (Content-Length,
 * Transfer-Encoding, Connection, Upgrade, Content-Encoding) are read as each
 * line completes, so framing holds even for headers past the cut. A framing
 * header is applied when the next line shows it is not folded further.
 * At the blank line, the raw bytes are walked once more to build the
 * normalised buffers (http.start, http.header, names, host, normalised URI)
 * in the message's derived area, repeated fields joined with ", " in the
 * place of their first occurrence, as libhtp presents them to Suricata.
 *
 * Transactions. A request gets its transaction record when its headers
 * are complete; records wait in a ring until their response completes, so
 * responses pair with requests in order. The request's buffers live in one
 * of cfg.request_slots slots, taken round-robin; the response has one.
 *
 * Bodies. Content-Length, chunked (extensions skipped, trailers read and
 * dropped) or, for responses, until the connection closes. Response bodies
 * in gzip or deflate are inflated into the kept body with a context
 * borrowed from the worker's pool for that body only. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vigil/bigip.h"
#include "vigil/common.h"
#include "vigil/http.h"
#include "vigil/meta.h"

#define NO_TX         UINT32_MAX
#define NO_SLOT       0xffu
#define SCRATCH       256u
#define INFLATE_ARENA (64u * 1024u) /* zlib 1.2: ~7 KiB of state and a 32 KiB window */
#define INFLATE_OUT   4096u

enum dir_state {
    ST_START = 0, /* between messages: skipping empty lines */
    ST_HEADERS,
    ST_BODY_LEN,
    ST_BODY_CHUNKED,
    ST_BODY_CLOSE,
    ST_RESYNC,
    ST_DEAD,
};

enum chunk_state {
    CH_SIZE_WS = 0, /* before the size's first digit */
    CH_SIZE_DIGITS,
    CH_SIZE_EXT, /* after the size: extensions up to LF */
    CH_DATA,
    CH_DATA_CR, /* CRLF after the chunk data */
    CH_DATA_LF,
    CH_TRAILER,
};

/* line_flags */
#define LF_TOO_LONG   0x01u
#define LF_CUT        0x02u
#define LF_LINE_START 0x04u /* resync: the next byte starts a line */

/* msg_flags */
#define MF_START_DONE 0x01u
#define MF_CUT        0x02u
#define MF_HTTP10     0x04u
#define MF_TOO_MANY   0x08u
#define MF_CE_SEEN    0x10u

/* req_flags and txrec flags */
#define TXF_HEAD      0x01u
#define TXF_CONNECT   0x02u
#define TXF_WS_ASKED  0x04u
#define TXF_REQ_DONE  0x08u
#define TXF_WEBSOCKET 0x10u
#define TXF_NO_REQ    0x20u
#define TXF_HAS_RSP   0x40u

enum framing_header {
    FH_NONE = 0,
    FH_CL,
    FH_TE,
    FH_CONN,
    FH_UPGRADE,
    FH_CE,
};

enum coding {
    CODING_NONE = 0,
    CODING_GZIP,
    CODING_DEFLATE,
};

enum inflate_state {
    INF_OFF = 0,
    INF_HEAD, /* deflate: waiting for two bytes to tell zlib from raw deflate */
    INF_ACTIVE,
    INF_STOPPED,
};

static const char *const event_names[VG_HTTP_EV_EVENT_COUNT] = {
    [VG_HTTP_EV_TRANSFER_ENCODING_NOT_CHUNKED] = "TRANSFER_ENCODING_NOT_CHUNKED",
    [VG_HTTP_EV_CONNECTION_NAMES_END_TO_END_HEADER] = "CONNECTION_NAMES_END_TO_END_HEADER",
    [VG_HTTP_EV_CONTENT_LENGTH_AND_TRANSFER_ENCODING] = "CONTENT_LENGTH_AND_TRANSFER_ENCODING",
    [VG_HTTP_EV_DUPLICATE_CONTENT_LENGTH] = "DUPLICATE_CONTENT_LENGTH",
    [VG_HTTP_EV_INVALID_CONTENT_LENGTH] = "INVALID_CONTENT_LENGTH",
    [VG_HTTP_EV_REQUEST_LINE_TOO_LONG] = "REQUEST_LINE_TOO_LONG",
    [VG_HTTP_EV_HEADER_LINE_TOO_LONG] = "HEADER_LINE_TOO_LONG",
    [VG_HTTP_EV_HEADERS_CUT] = "HEADERS_CUT",
    [VG_HTTP_EV_INVALID_REQUEST_LINE] = "INVALID_REQUEST_LINE",
    [VG_HTTP_EV_INVALID_STATUS_LINE] = "INVALID_STATUS_LINE",
    [VG_HTTP_EV_INVALID_CHUNK] = "INVALID_CHUNK",
    [VG_HTTP_EV_URI_DOUBLE_ENCODED] = "URI_DOUBLE_ENCODED",
    [VG_HTTP_EV_URI_INVALID_ENCODING] = "URI_INVALID_ENCODING",
    [VG_HTTP_EV_URI_NUL_BYTE] = "URI_NUL_BYTE",
    [VG_HTTP_EV_GAP] = "GAP",
    [VG_HTTP_EV_UNSOLICITED_RESPONSE] = "UNSOLICITED_RESPONSE",
    [VG_HTTP_EV_DECOMPRESSION_FAILED] = "DECOMPRESSION_FAILED",
    [VG_HTTP_EV_HEADER_FOLDING] = "HEADER_FOLDING",
    [VG_HTTP_EV_HEADER_MISSING_COLON] = "HEADER_MISSING_COLON",
    [VG_HTTP_EV_HEADER_NAME_INVALID] = "HEADER_NAME_INVALID",
    [VG_HTTP_EV_MISSING_HOST_HEADER] = "MISSING_HOST_HEADER",
    [VG_HTTP_EV_HOST_HEADER_AMBIGUOUS] = "HOST_HEADER_AMBIGUOUS",
    [VG_HTTP_EV_REQUEST_LINE_MISSING_PROTOCOL] = "REQUEST_LINE_MISSING_PROTOCOL",
    [VG_HTTP_EV_TRANSFER_ENCODING_IN_HTTP10] = "TRANSFER_ENCODING_IN_HTTP10",
    [VG_HTTP_EV_ABNORMAL_CONTENT_ENCODING] = "ABNORMAL_CONTENT_ENCODING",
    [VG_HTTP_EV_REQUEST_BODY_WITHOUT_LENGTH] = "REQUEST_BODY_WITHOUT_LENGTH",
    [VG_HTTP_EV_BIGIP_COOKIE_PRIVATE_MEMBER] = "BIGIP_COOKIE_PRIVATE_MEMBER",
};

_Static_assert(VG_HTTP_EV_EVENT_COUNT <= 64, "a transaction keeps its anomalies in 64 bits");

const char *vg_http_event_name(uint16_t ev)
{
    return ev < VG_HTTP_EV_EVENT_COUNT ? event_names[ev] : NULL;
}

/* ---- Configuration and memory ---- */

void vg_http_config_default(struct vg_http_config *c)
{
    memset(c, 0, sizeof(*c));
    c->header_limit = 16384;
    c->line_limit = 8192;
    c->request_body_limit = 8192;
    c->response_body_limit = 16384;
    c->decompress_limit = 16384;
    c->max_headers = 64;
    c->request_slots = 2;
    c->max_pending = 16;
    c->resync_limit = 1u << 20;
    c->log_headers_max = 32;
}

/* The limits a state works with: out-of-range values brought into range. */
static void sane_config(const struct vg_http_config *in, struct vg_http_config *c)
{
    *c = *in;
    if (c->header_limit < 256)
        c->header_limit = 256;
    if (c->header_limit > (1u << 24))
        c->header_limit = 1u << 24;
    if (c->line_limit < 64)
        c->line_limit = 64;
    if (c->line_limit > c->header_limit)
        c->line_limit = c->header_limit;
    if (c->request_body_limit > (1u << 28))
        c->request_body_limit = 1u << 28;
    if (c->response_body_limit > (1u << 28))
        c->response_body_limit = 1u << 28;
    if (c->decompress_limit == 0)
        c->decompress_limit = c->response_body_limit;
    if (c->max_headers == 0)
        c->max_headers = 1;
    if (c->max_headers > 4096)
        c->max_headers = 4096;
    if (c->request_slots == 0)
        c->request_slots = 1;
    if (c->request_slots > VG_HTTP_SLOTS_MAX)
        c->request_slots = VG_HTTP_SLOTS_MAX;
    if (c->max_pending == 0)
        c->max_pending = 1;
    if (c->max_pending > VG_HTTP_PENDING_MAX)
        c->max_pending = VG_HTTP_PENDING_MAX;
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Normalised buffers never exceed twice the raw headers (each field is
 * named twice: in http.header and http.header_names); the slack covers
 * the separators added. */
static uint32_t derived_cap(const struct vg_http_config *c)
{
    return 2 * c->header_limit + 4 * c->max_headers + 512;
}

static size_t msgbuf_bytes(const struct vg_http_config *c, uint32_t body)
{
    return align8(c->header_limit) + align8(derived_cap(c)) +
           align8((size_t)c->max_headers * sizeof(struct vg_http_hdr_entry)) + align8(body);
}

size_t vg_http_state_size(const struct vg_http_config *in)
{
    struct vg_http_config c;
    sane_config(in, &c);
    return sizeof(struct vg_http_state) + align8(c.request_slots * sizeof(struct vg_http_msgbuf)) +
           c.request_slots * msgbuf_bytes(&c, c.request_body_limit) +
           msgbuf_bytes(&c, c.response_body_limit);
}

static void msgbuf_reset(struct vg_http_msgbuf *m)
{
    m->raw_len = 0;
    m->derived_len = 0;
    m->body_len = 0;
    m->nhdr = 0;
    m->owner = NO_TX;
    m->port = 0;
    m->status = 0;
    memset(m->b, 0, sizeof(m->b));
}

static uint8_t *msgbuf_place(struct vg_http_msgbuf *m, const struct vg_http_config *c, uint8_t *p,
                             uint32_t body)
{
    m->raw = p;
    p += align8(c->header_limit);
    m->derived = p;
    m->derived_cap = derived_cap(c);
    p += align8(m->derived_cap);
    m->hdr = (struct vg_http_hdr_entry *)p;
    p += align8((size_t)c->max_headers * sizeof(struct vg_http_hdr_entry));
    m->body = p;
    m->body_cap = body;
    p += align8(body);
    msgbuf_reset(m);
    return p;
}

static void dir_reset(struct vg_http_dir *d)
{
    memset(d, 0, offsetof(struct vg_http_dir, carry));
    d->cur_tx = NO_TX;
    d->content_length = -1;
}

void vg_http_state_init(struct vg_http_state *s, const struct vg_http_config *c,
                        struct vg_http_shared *sh)
{
    memset(s, 0, sizeof(*s));
    sane_config(c, &s->cfg);
    s->sh = sh;
    s->stats = sh != NULL ? (struct vg_http_stats *)sh : &s->own_stats;
    uint8_t *p = (uint8_t *)s->mem;
    s->req = (struct vg_http_msgbuf *)p;
    p += align8(s->cfg.request_slots * sizeof(struct vg_http_msgbuf));
    for (uint32_t i = 0; i < s->cfg.request_slots; i++)
        p = msgbuf_place(&s->req[i], &s->cfg, p, s->cfg.request_body_limit);
    msgbuf_place(&s->rsp, &s->cfg, p, s->cfg.response_body_limit);
    dir_reset(&s->d[0]);
    dir_reset(&s->d[1]);
}

const struct vg_http_stats *vg_http_state_stats(const struct vg_http_state *s)
{
    return s->stats;
}

int vg_http_left(const struct vg_http_state *s)
{
    return s->left;
}

/* ---- Inflate pool ---- */

struct vg_http_inflater {
    z_stream z;
    uint8_t *arena;
    uint32_t used;
    uint32_t next_free;
};

struct vg_http_shared {
    struct vg_http_stats stats; /* first: a state points at it as its counters */
    struct vg_http_inflater *inf;
    uint8_t *arena;
    uint32_t n;
    uint32_t free_head;
    uint32_t in_use;
    uint8_t out[INFLATE_OUT]; /* decoded bytes counted but not kept */
};

struct vg_http_shared *vg_http_shared_new(const struct vg_http_config *c, uint32_t max_inflaters)
{
    (void)c;
    struct vg_http_shared *sh = calloc(1, sizeof(*sh));
    if (sh == NULL)
        return NULL;
    sh->n = max_inflaters;
    if (max_inflaters != 0) {
        sh->inf = calloc(max_inflaters, sizeof(*sh->inf));
        sh->arena = malloc((size_t)max_inflaters * INFLATE_ARENA);
        if (sh->inf == NULL || sh->arena == NULL) {
            vg_http_shared_free(sh);
            return NULL;
        }
    }
    for (uint32_t i = 0; i < max_inflaters; i++) {
        sh->inf[i].arena = sh->arena + (size_t)i * INFLATE_ARENA;
        sh->inf[i].next_free = i + 1 < max_inflaters ? i + 1 : UINT32_MAX;
    }
    sh->free_head = max_inflaters != 0 ? 0 : UINT32_MAX;
    return sh;
}

void vg_http_shared_free(struct vg_http_shared *sh)
{
    if (sh == NULL)
        return;
    free(sh->inf);
    free(sh->arena);
    free(sh);
}

const struct vg_http_stats *vg_http_shared_stats(const struct vg_http_shared *sh)
{
    return &sh->stats;
}

uint32_t vg_http_shared_inflaters_in_use(const struct vg_http_shared *sh)
{
    return sh->in_use;
}

static voidpf pool_zalloc(voidpf opaque, uInt items, uInt size)
{
    struct vg_http_inflater *f = opaque;
    size_t bytes = ((size_t)items * size + 15) & ~(size_t)15;
    if (bytes > INFLATE_ARENA - f->used)
        return Z_NULL;
    void *p = f->arena + f->used;
    f->used += (uint32_t)bytes;
    return p;
}

static void pool_zfree(voidpf opaque, voidpf p)
{
    /* the arena is reset as a whole when the context returns to the pool */
    (void)opaque;
    (void)p;
}

static struct vg_http_inflater *inflater_get(struct vg_http_shared *sh)
{
    if (sh->free_head == UINT32_MAX)
        return NULL;
    struct vg_http_inflater *f = &sh->inf[sh->free_head];
    sh->free_head = f->next_free;
    sh->in_use++;
    f->used = 0;
    memset(&f->z, 0, sizeof(f->z));
    f->z.zalloc = pool_zalloc;
    f->z.zfree = pool_zfree;
    f->z.opaque = f;
    return f;
}

static void inflater_put(struct vg_http_state *s, struct vg_http_dir *d)
{
    struct vg_http_inflater *f = d->inflater;
    if (f == NULL)
        return;
    if (d->inflate_state == INF_ACTIVE)
        inflateEnd(&f->z);
    f->next_free = s->sh->free_head;
    s->sh->free_head = (uint32_t)(f - s->sh->inf);
    s->sh->in_use--;
    d->inflater = NULL;
}

void vg_http_state_release(struct vg_http_state *s)
{
    for (int i = 0; i < 2; i++)
        inflater_put(s, &s->d[i]);
}

/* ---- Small helpers ---- */

struct px {
    struct vg_http_state *s;
    const struct vg_app_cb *cb;
};

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static bool is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Case-insensitive comparison of a byte string with a lower-case literal. */
static bool eq_ci(const uint8_t *p, uint32_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (n != l)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (lower(p[i]) != (uint8_t)lit[i])
            return false;
    return true;
}

static bool eq_ci2(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn)
{
    if (an != bn)
        return false;
    for (uint32_t i = 0; i < an; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

static void trim(const uint8_t **p, uint32_t *n)
{
    while (*n > 0 && is_ws((*p)[0])) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && (is_ws((*p)[*n - 1]) || (*p)[*n - 1] == '\r' || (*p)[*n - 1] == '\n'))
        (*n)--;
}

static struct vg_http_msgbuf *cur_msg(struct vg_http_state *s, int dir)
{
    return dir == 0 ? &s->req[s->d[0].slot] : &s->rsp;
}

/* ---- Transactions ---- */

static struct vg_http_txrec *pend_at(struct vg_http_state *s, uint32_t k)
{
    return &s->pending[(s->pending_head + k) % VG_HTTP_PENDING_MAX];
}

static struct vg_http_txrec *find_tx(struct vg_http_state *s, uint32_t id)
{
    if (id == NO_TX)
        return NULL;
    for (uint32_t k = 0; k < s->npending; k++)
        if (pend_at(s, k)->tx_id == id)
            return pend_at(s, k);
    if (s->rsp_tx_active && s->rsp_tx.tx_id == id)
        return &s->rsp_tx;
    return NULL;
}

static void raise_ev(struct px *x, int dir, enum vg_http_event ev)
{
    struct vg_http_state *s = x->s;
    s->stats->anomalies++;
    struct vg_http_txrec *t = find_tx(s, s->d[dir].cur_tx);
    if (t != NULL)
        t->anomalies |= 1ull << ev;
    else
        s->d[dir].anomalies |= 1ull << ev;
    if (x->cb != NULL && x->cb->anomaly != NULL)
        x->cb->anomaly(x->cb->user, VG_APP_HTTP, (uint16_t)ev);
}

static const struct vg_http_msgbuf *tx_req(const struct vg_http_state *s,
                                           const struct vg_http_txrec *t)
{
    if (t->slot == NO_SLOT || t->slot >= s->cfg.request_slots)
        return NULL;
    const struct vg_http_msgbuf *m = &s->req[t->slot];
    return m->owner == t->tx_id ? m : NULL;
}

struct txview {
    const struct vg_http_state *s;
    const struct vg_http_txrec *t;
    const struct vg_http_msgbuf *req;
    const struct vg_http_msgbuf *rsp;
};

static void encode_tx(const void *obj, struct vg_meta_writer *w);

static void report(struct px *x, struct vg_http_txrec *t, uint8_t stage, int dir, bool last)
{
    struct vg_http_state *s = x->s;
    t->stage = stage;
    if (x->cb == NULL || x->cb->tx == NULL)
        return;
    struct txview v = {s, t, tx_req(s, t), NULL};
    if (stage >= VG_STAGE_RESPONSE && s->rsp.owner == t->tx_id)
        v.rsp = &s->rsp;
    struct vg_app_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = VG_APP_HTTP;
    tx.stage = stage;
    tx.dir = (uint8_t)dir;
    tx.last = last;
    tx.tx_id = t->tx_id;
    if (v.req != NULL)
        for (int i = VG_BUF_HTTP_METHOD; i <= VG_BUF_HTTP_REQUEST_BODY; i++)
            tx.buf[i] = v.req->b[i];
    if (v.rsp != NULL)
        for (int i = VG_BUF_HTTP_STAT_CODE; i <= VG_BUF_HTTP_RESPONSE_BODY; i++)
            tx.buf[i] = v.rsp->b[i];
    tx.encode = encode_tx;
    tx.obj = &v;
    x->cb->tx(x->cb->user, &tx);
}

static void remove_tx(struct vg_http_state *s, struct vg_http_txrec *t)
{
    if (t == &s->rsp_tx) {
        s->rsp_tx_active = 0;
        return;
    }
    uint32_t k = 0;
    while (k < s->npending && pend_at(s, k) != t)
        k++;
    if (k == s->npending)
        return;
    for (; k + 1 < s->npending; k++)
        *pend_at(s, k) = *pend_at(s, k + 1);
    s->npending--;
}

/* The transaction's final report; then it is forgotten. */
static void complete_tx(struct px *x, struct vg_http_txrec *t, uint8_t stage, int dir)
{
    struct vg_http_state *s = x->s;
    if (t == NULL)
        return;
    report(x, t, stage, dir, true);
    if (t->slot != NO_SLOT && t->slot < s->cfg.request_slots && s->req[t->slot].owner == t->tx_id)
        s->req[t->slot].owner = NO_TX;
    uint32_t id = t->tx_id;
    for (int i = 0; i < 2; i++)
        if (s->d[i].cur_tx == id)
            s->d[i].cur_tx = NO_TX;
    remove_tx(s, t);
}

/* Every open transaction gets its final report. */
static void complete_all(struct px *x, int dir)
{
    struct vg_http_state *s = x->s;
    while (s->npending > 0) {
        struct vg_http_txrec *t = pend_at(s, 0);
        complete_tx(x, t, t->stage, dir);
    }
    if (s->rsp_tx_active)
        complete_tx(x, &s->rsp_tx, s->rsp_tx.stage, dir);
}

static void leave_http(struct px *x, int dir, enum vg_http_left why)
{
    struct vg_http_state *s = x->s;
    complete_all(x, dir);
    s->left = (uint8_t)why;
    for (int i = 0; i < 2; i++) {
        if (s->sh != NULL)
            inflater_put(s, &s->d[i]);
        s->d[i].state = ST_DEAD;
    }
}

/* ---- Resynchronisation ---- */

static void go_resync(struct px *x, int dir, bool at_line_start)
{
    struct vg_http_dir *d = &x->s->d[dir];
    if (x->s->sh != NULL)
        inflater_put(x->s, d);
    d->state = ST_RESYNC;
    d->cur_tx = NO_TX;
    d->carry_len = 0;
    d->resync_bytes = 0;
    d->line_flags = at_line_start ? LF_LINE_START : 0;
}

static void begin_message(struct px *x, int dir);
static void consume(struct px *x, int dir, const uint8_t *p, uint32_t n);

static uint32_t step_resync(struct px *x, int dir, const uint8_t *p, uint32_t n)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    if (d->carry_len != 0) {
        uint8_t tmp[32];
        uint32_t c = d->carry_len;
        uint32_t add = n < 16 ? n : 16;
        memcpy(tmp, d->carry, c);
        memcpy(tmp + c, p, add);
        int r = vg_http_probe(dir, tmp, c + add);
        if (r == 1) {
            uint8_t held[16];
            memcpy(held, d->carry, c);
            d->carry_len = 0;
            d->state = ST_START;
            consume(x, dir, held, c);
            return 0;
        }
        if (r < 0 && c + n < sizeof(d->carry)) {
            memcpy(d->carry + c, p, n);
            d->carry_len = (uint8_t)(c + n);
            return n;
        }
        d->carry_len = 0;
        d->line_flags &= (uint8_t)~LF_LINE_START;
    }
    uint32_t i = 0;
    bool line_start = d->line_flags & LF_LINE_START;
    while (i < n) {
        if (line_start) {
            int r = vg_http_probe(dir, p + i, n - i);
            if (r == 1) {
                d->state = ST_START;
                return i;
            }
            if (r < 0) {
                /* a possible message start cut by the chunk's end */
                d->carry_len = (uint8_t)(n - i);
                memcpy(d->carry, p + i, n - i);
                return n;
            }
        }
        const uint8_t *lf = memchr(p + i, '\n', n - i);
        uint32_t skip = lf != NULL ? (uint32_t)(lf - (p + i)) + 1 : n - i;
        i += skip;
        line_start = lf != NULL;
        d->resync_bytes += skip;
        if (d->resync_bytes > s->cfg.resync_limit) {
            s->stats->flows_given_up++;
            leave_http(x, dir, VG_HTTP_LEFT_GAVE_UP);
            return n;
        }
    }
    d->line_flags = line_start ? LF_LINE_START : 0;
    return n;
}

/* ---- Framing headers ---- */

static bool connection_token_hop_by_hop(const uint8_t *t, uint32_t n)
{
    static const char *const hop[] = {
        "close",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "trailers",
        "http2-settings",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
    };
    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
        if (eq_ci(t, n, hop[i]))
            return true;
    return false;
}

static void apply_framing(struct px *x, int dir)
{
    struct vg_http_dir *d = &x->s->d[dir];
    uint8_t kind = d->framing_pending;
    d->framing_pending = FH_NONE;
    const uint8_t *v = d->pend;
    uint32_t n = d->pend_len;
    switch (kind) {
    case FH_CL: {
        trim(&v, &n);
        uint64_t val = 0;
        bool ok = n > 0;
        /* "5, 5" (a repeated field joined by a proxy) is one value */
        bool have = false;
        uint32_t i = 0;
        while (ok && i <= n) {
            uint32_t e = i;
            while (e < n && v[e] != ',')
                e++;
            const uint8_t *tok = v + i;
            uint32_t tn = e - i;
            trim(&tok, &tn);
            uint64_t cur = 0;
            ok = tn > 0 && tn <= 15;
            for (uint32_t k = 0; k < tn && ok; k++) {
                ok = tok[k] >= '0' && tok[k] <= '9';
                cur = cur * 10 + (uint64_t)(tok[k] - '0');
            }
            if (ok && have && cur != val)
                ok = false;
            val = cur;
            have = true;
            i = e + 1;
        }
        if (!ok) {
            raise_ev(x, dir, VG_HTTP_EV_INVALID_CONTENT_LENGTH);
        } else if (d->content_length >= 0) {
            if ((uint64_t)d->content_length != val)
                raise_ev(x, dir, VG_HTTP_EV_DUPLICATE_CONTENT_LENGTH);
        } else {
            d->content_length = (int64_t)val;
        }
        break;
    }
    case FH_TE: {
        /* exactly "chunked": anything else is how smuggling starts */
        if (d->te_present || n != 7 || memcmp(v, "chunked", 7) != 0)
            raise_ev(x, dir, VG_HTTP_EV_TRANSFER_ENCODING_NOT_CHUNKED);
        d->te_present = 1;
        /* framing follows the last coding, as RFC 9112 6.3 reads it */
        trim(&v, &n);
        uint32_t last = n;
        while (last > 0 && v[last - 1] != ',')
            last--;
        const uint8_t *tok = v + last;
        uint32_t tn = n - last;
        trim(&tok, &tn);
        d->te_chunked = eq_ci(tok, tn, "chunked");
        break;
    }
    case FH_CONN:
    case FH_UPGRADE: {
        uint32_t i = 0;
        while (i < n) {
            uint32_t e = i;
            while (e < n && v[e] != ',')
                e++;
            const uint8_t *tok = v + i;
            uint32_t tn = e - i;
            trim(&tok, &tn);
            if (kind == FH_UPGRADE) {
                /* "websocket" or "websocket/13" */
                if (tn >= 9 && eq_ci(tok, 9, "websocket") && (tn == 9 || tok[9] == '/'))
                    d->upgrade_ws = 1;
            } else if (tn > 0 && !connection_token_hop_by_hop(tok, tn) && !d->conn_flagged) {
                d->conn_flagged = 1;
                raise_ev(x, dir, VG_HTTP_EV_CONNECTION_NAMES_END_TO_END_HEADER);
            }
            i = e + 1;
        }
        break;
    }
    case FH_CE: {
        trim(&v, &n);
        uint8_t coding = CODING_NONE;
        bool abnormal = false;
        if (eq_ci(v, n, "gzip") || eq_ci(v, n, "x-gzip"))
            coding = CODING_GZIP;
        else if (eq_ci(v, n, "deflate"))
            coding = CODING_DEFLATE;
        else if (n != 0 && !eq_ci(v, n, "identity"))
            abnormal = true;
        if (d->msg_flags & MF_CE_SEEN)
            abnormal = true;
        d->msg_flags |= MF_CE_SEEN;
        if (abnormal) {
            d->coding = CODING_NONE;
            raise_ev(x, dir, VG_HTTP_EV_ABNORMAL_CONTENT_ENCODING);
        } else {
            d->coding = coding;
        }
        break;
    }
    default:
        break;
    }
}

/* ---- Start lines ---- */

static void set_buf(struct vg_http_msgbuf *m, int which, const uint8_t *p, uint32_t n)
{
    m->b[which].data = p;
    m->b[which].len = n;
}

static void finish_headers(struct px *x, int dir);

/* Returns false when the line is no request line at all. */
static bool parse_request_line(struct px *x, uint32_t n)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[0];
    struct vg_http_msgbuf *m = cur_msg(s, 0);
    const uint8_t *l = m->raw;
    uint32_t i = 0;
    while (i < n && is_tchar(l[i]))
        i++;
    uint32_t mlen = i;
    if (mlen == 0 || i >= n || !is_ws(l[i]))
        return false;
    while (i < n && is_ws(l[i]))
        i++;
    uint32_t us = i;
    uint32_t e = n;
    while (e > us && is_ws(l[e - 1]))
        e--;
    uint32_t ps = e;
    while (ps > us && !is_ws(l[ps - 1]))
        ps--;
    uint32_t ue = e;
    bool proto = false;
    if (ps > us && e - ps >= 5 && eq_ci(l + ps, 5, "http/")) {
        proto = true;
        ue = ps;
        while (ue > us && is_ws(l[ue - 1]))
            ue--;
    }
    if (ue == us)
        return false;
    set_buf(m, VG_BUF_HTTP_METHOD, l, mlen);
    set_buf(m, VG_BUF_HTTP_URI_RAW, l + us, ue - us);
    set_buf(m, VG_BUF_HTTP_REQUEST_LINE, l, n);
    d->req_flags = 0;
    if (mlen == 4 && memcmp(l, "HEAD", 4) == 0)
        d->req_flags |= TXF_HEAD;
    if (mlen == 7 && memcmp(l, "CONNECT", 7) == 0)
        d->req_flags |= TXF_CONNECT;
    if (!proto) {
        if (d->line_flags & LF_CUT)
            return true; /* the protocol was cut off: headers follow */
        raise_ev(x, 0, VG_HTTP_EV_REQUEST_LINE_MISSING_PROTOCOL);
        d->msg_flags |= MF_HTTP10;
        finish_headers(x, 0); /* HTTP/0.9: no headers */
        return true;
    }
    set_buf(m, VG_BUF_HTTP_PROTOCOL, l + ps, e - ps);
    if (memcmp(l + ps, "HTTP/", 5) != 0)
        raise_ev(x, 0, VG_HTTP_EV_INVALID_REQUEST_LINE);
    if (e - ps == 8 && memcmp(l + ps + 5, "1.0", 3) == 0)
        d->msg_flags |= MF_HTTP10;
    return true;
}

static bool parse_status_line(struct px *x, uint32_t n)
{
    struct vg_http_state *s = x->s;
    struct vg_http_msgbuf *m = &s->rsp;
    const uint8_t *l = m->raw;
    if (n < 5 || !eq_ci(l, 5, "http/"))
        return false;
    uint32_t i = 5;
    while (i < n && !is_ws(l[i]))
        i++;
    uint32_t pe = i;
    while (i < n && is_ws(l[i]))
        i++;
    uint32_t cs = i;
    uint32_t status = 0;
    while (i < n && i - cs < 4 && l[i] >= '0' && l[i] <= '9')
        status = status * 10 + (l[i++] - '0');
    if (i - cs != 3 || (i < n && !is_ws(l[i])))
        return false;
    uint32_t ce = i;
    while (i < n && is_ws(l[i]))
        i++;
    m->status = (uint16_t)status;
    set_buf(m, VG_BUF_HTTP_STAT_CODE, l + cs, ce - cs);
    set_buf(m, VG_BUF_HTTP_STAT_MSG, l + i, n - i);
    set_buf(m, VG_BUF_HTTP_RESPONSE_LINE, l, n);
    /* the response's protocol, for the record when no request pairs */
    set_buf(m, VG_BUF_HTTP_PROTOCOL, l, pe);
    if (pe == 8 && memcmp(l + 5, "1.0", 3) == 0)
        s->d[1].msg_flags |= MF_HTTP10;
    return true;
}

/* ---- Lines ---- */

static void reset_line(struct vg_http_dir *d, const struct vg_http_msgbuf *m)
{
    d->line_off = m->raw_len;
    d->line_len = 0;
    d->scratch_len = 0;
    d->line_flags = 0;
}

static void on_line(struct px *x, int dir)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    struct vg_http_msgbuf *m = cur_msg(s, dir);
    if (d->line_flags & LF_CUT) {
        /* keep the line structure of the raw bytes when the line was cut */
        if (m->raw_len + 2 <= s->cfg.header_limit) {
            memcpy(m->raw + m->raw_len, "\r\n", 2);
            m->raw_len += 2;
        }
    }
    if (!(d->msg_flags & MF_START_DONE)) {
        d->msg_flags |= MF_START_DONE;
        uint32_t n = m->raw_len;
        while (n > 0 && (m->raw[n - 1] == '\n' || m->raw[n - 1] == '\r'))
            n--;
        bool ok = dir == 0 ? parse_request_line(x, n) : parse_status_line(x, n);
        if (!ok) {
            raise_ev(x, dir,
                     dir == 0 ? VG_HTTP_EV_INVALID_REQUEST_LINE : VG_HTTP_EV_INVALID_STATUS_LINE);
            go_resync(x, dir, true);
            return;
        }
        if (d->state == ST_HEADERS)
            reset_line(d, m);
        return;
    }
    const uint8_t *l = d->scratch;
    uint32_t n = d->scratch_len;
    bool whole = d->line_len <= SCRATCH;
    if (whole)
        while (n > 0 && (l[n - 1] == '\n' || l[n - 1] == '\r'))
            n--;
    reset_line(d, m);
    if (whole && n == 0) {
        apply_framing(x, dir);
        finish_headers(x, dir);
        return;
    }
    if (is_ws(l[0])) {
        raise_ev(x, dir, VG_HTTP_EV_HEADER_FOLDING);
        if (d->framing_pending != FH_NONE) {
            const uint8_t *c = l;
            uint32_t cn = n;
            trim(&c, &cn);
            if (d->pend_len + 1 + cn <= sizeof(d->pend)) {
                d->pend[d->pend_len++] = ' ';
                memcpy(d->pend + d->pend_len, c, cn);
                d->pend_len += cn;
            }
        }
        return;
    }
    apply_framing(x, dir);
    if (++d->headers_seen > s->cfg.max_headers && !(d->msg_flags & MF_TOO_MANY)) {
        d->msg_flags |= MF_TOO_MANY;
        if (!(d->msg_flags & MF_CUT)) {
            d->msg_flags |= MF_CUT;
            s->stats->headers_cut++;
            raise_ev(x, dir, VG_HTTP_EV_HEADERS_CUT);
        }
    }
    const uint8_t *colon = memchr(l, ':', n);
    if (colon == NULL) {
        if (whole)
            raise_ev(x, dir, VG_HTTP_EV_HEADER_MISSING_COLON);
        return;
    }
    uint32_t nl = (uint32_t)(colon - l);
    bool bad = nl == 0;
    for (uint32_t i = 0; i < nl && !bad; i++)
        bad = !is_tchar(l[i]);
    if (bad)
        raise_ev(x, dir, VG_HTTP_EV_HEADER_NAME_INVALID);
    while (nl > 0 && is_ws(l[nl - 1]))
        nl--;
    uint8_t kind = FH_NONE;
    if (eq_ci(l, nl, "content-length"))
        kind = FH_CL;
    else if (eq_ci(l, nl, "transfer-encoding"))
        kind = FH_TE;
    else if (eq_ci(l, nl, "connection"))
        kind = FH_CONN;
    else if (eq_ci(l, nl, "upgrade"))
        kind = FH_UPGRADE;
    else if (dir == 1 && eq_ci(l, nl, "content-encoding"))
        kind = FH_CE;
    if (kind == FH_NONE)
        return;
    const uint8_t *v = colon + 1;
    uint32_t vn = n - nl - 1 - (uint32_t)(colon - l - nl);
    while (vn > 0 && is_ws(v[0])) {
        v++;
        vn--;
    }
    if (vn > sizeof(d->pend))
        vn = sizeof(d->pend);
    memcpy(d->pend, v, vn);
    d->pend_len = vn;
    d->framing_pending = kind;
}

static uint32_t step_headers(struct px *x, int dir, const uint8_t *p, uint32_t n)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    struct vg_http_msgbuf *m = cur_msg(s, dir);
    const uint8_t *lf = memchr(p, '\n', n);
    uint32_t take = lf != NULL ? (uint32_t)(lf - p) + 1 : n;
    if (d->scratch_len < SCRATCH) {
        uint32_t c = take < SCRATCH - d->scratch_len ? take : SCRATCH - d->scratch_len;
        memcpy(d->scratch + d->scratch_len, p, c);
        d->scratch_len += c;
    }
    uint32_t stored = m->raw_len - d->line_off;
    uint32_t line_room = stored < s->cfg.line_limit ? s->cfg.line_limit - stored : 0;
    uint32_t hdr_room = s->cfg.header_limit - m->raw_len;
    uint32_t want = take;
    if (want > line_room)
        want = line_room;
    if (want > hdr_room)
        want = hdr_room;
    memcpy(m->raw + m->raw_len, p, want);
    m->raw_len += want;
    d->line_len = d->line_len + take < d->line_len ? UINT32_MAX : d->line_len + take;
    if (want < take) {
        d->line_flags |= LF_CUT;
        if (hdr_room < take && hdr_room < line_room && !(d->msg_flags & MF_CUT)) {
            d->msg_flags |= MF_CUT;
            s->stats->headers_cut++;
            raise_ev(x, dir, VG_HTTP_EV_HEADERS_CUT);
        }
    }
    if (d->line_len > s->cfg.line_limit && !(d->line_flags & LF_TOO_LONG)) {
        d->line_flags |= LF_TOO_LONG;
        raise_ev(x, dir,
                 dir == 0 && !(d->msg_flags & MF_START_DONE) ? VG_HTTP_EV_REQUEST_LINE_TOO_LONG
                                                             : VG_HTTP_EV_HEADER_LINE_TOO_LONG);
    }
    if (lf != NULL)
        on_line(x, dir);
    return take;
}

/* ---- Normalised buffers ---- */

struct out {
    uint8_t *p;
    uint32_t len;
    uint32_t cap;
    bool cut;
};

static void put(struct out *o, const void *src, uint32_t n)
{
    if (n > o->cap - o->len) {
        n = o->cap - o->len;
        o->cut = true;
    }
    memcpy(o->p + o->len, src, n);
    o->len += n;
}

/* A field value with its folding undone: each line break and the
 * whitespace around it become one space; trailing whitespace goes. */
static void put_value(struct out *o, const uint8_t *v, uint32_t n)
{
    while (n > 0 && (is_ws(v[n - 1]) || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    uint32_t i = 0;
    while (i < n) {
        uint32_t e = i;
        while (e < n && v[e] != '\r' && v[e] != '\n')
            e++;
        put(o, v + i, e - i);
        if (e >= n)
            break;
        while (e < n && (v[e] == '\r' || v[e] == '\n' || is_ws(v[e])))
            e++;
        put(o, " ", 1);
        i = e;
    }
}

static const uint8_t *entry_name(const struct vg_http_msgbuf *m, const struct vg_http_hdr_entry *h)
{
    return m->raw + h->name_off;
}

/* The joined value of the first field called name (lower case), or NULL. */
static const struct vg_http_hdr_entry *find_field(const struct vg_http_msgbuf *m, const char *name)
{
    for (uint32_t i = 0; i < m->nhdr; i++) {
        const struct vg_http_hdr_entry *h = &m->hdr[i];
        if (h->first == i && eq_ci(entry_name(m, h), h->name_len, name))
            return h;
    }
    return NULL;
}

static void set_field_buf(struct vg_http_msgbuf *m, int which, const char *name)
{
    const struct vg_http_hdr_entry *h = find_field(m, name);
    if (h != NULL)
        set_buf(m, which, m->derived + h->out_off, h->merged_len);
}

static void split_host_port(const uint8_t *v, uint32_t n, uint32_t *host_len, uint32_t *port)
{
    uint32_t hn = n;
    if (n > 0 && v[0] == '[') {
        const uint8_t *rb = memchr(v, ']', n);
        hn = rb != NULL ? (uint32_t)(rb - v) + 1 : n;
    } else {
        const uint8_t *colon = memchr(v, ':', n);
        if (colon != NULL)
            hn = (uint32_t)(colon - v);
    }
    uint32_t p = 0;
    if (hn < n && v[hn] == ':') {
        for (uint32_t i = hn + 1; i < n && v[i] >= '0' && v[i] <= '9' && p <= 65535; i++)
            p = p * 10 + (v[i] - '0');
        if (p > 65535)
            p = 0;
    }
    *host_len = hn;
    *port = p;
}

/* The request's host, URI normalisation and their anomalies. */
static void derive_request(struct px *x, struct vg_http_msgbuf *m, struct out *o)
{
    struct vg_http_dir *d = &x->s->d[0];
    const uint8_t *uri = m->b[VG_BUF_HTTP_URI_RAW].data;
    uint32_t ulen = m->b[VG_BUF_HTTP_URI_RAW].len;
    if (uri != NULL) {
        uint32_t flags = 0;
        uint32_t room = o->cap - o->len;
        uint32_t nl = vg_http_uri_normalize(uri, ulen, o->p + o->len, room, &flags);
        set_buf(m, VG_BUF_HTTP_URI, o->p + o->len, nl);
        o->len += nl;
        if (ulen > room)
            o->cut = true;
        if (flags & VG_HTTP_URI_DOUBLE_ENCODED)
            raise_ev(x, 0, VG_HTTP_EV_URI_DOUBLE_ENCODED);
        if (flags & VG_HTTP_URI_INVALID_ENCODING)
            raise_ev(x, 0, VG_HTTP_EV_URI_INVALID_ENCODING);
        if (flags & VG_HTTP_URI_NUL_BYTE)
            raise_ev(x, 0, VG_HTTP_EV_URI_NUL_BYTE);
    }
    const uint8_t *host = NULL;
    uint32_t hl = 0, port = 0;
    bool from_uri = uri != NULL && vg_http_uri_authority(uri, ulen, &host, &hl, &port);
    const struct vg_http_hdr_entry *hh = find_field(m, "host");
    if (hh != NULL) {
        const uint8_t *hv = m->derived + hh->out_off;
        set_buf(m, VG_BUF_HTTP_HOST_RAW, hv, hh->out_len);
        uint32_t hvl = 0, hport = 0;
        split_host_port(hv, hh->out_len, &hvl, &hport);
        if (hh->merged_len != hh->out_len)
            raise_ev(x, 0, VG_HTTP_EV_HOST_HEADER_AMBIGUOUS);
        if (!from_uri) {
            host = hv;
            hl = hvl;
            port = hport;
        } else if (!eq_ci2(host, hl, hv, hvl)) {
            raise_ev(x, 0, VG_HTTP_EV_HOST_HEADER_AMBIGUOUS);
        }
    } else if (from_uri) {
        set_buf(m, VG_BUF_HTTP_HOST_RAW, host, hl);
    } else if (!(d->msg_flags & MF_HTTP10) && m->b[VG_BUF_HTTP_PROTOCOL].data != NULL) {
        raise_ev(x, 0, VG_HTTP_EV_MISSING_HOST_HEADER);
    }
    if (host != NULL) {
        uint32_t at = o->len;
        for (uint32_t i = 0; i < hl; i++) {
            uint8_t c = lower(host[i]);
            put(o, &c, 1);
        }
        set_buf(m, VG_BUF_HTTP_HOST, o->p + at, o->len - at);
        m->port = port;
    }
}

/* Walks the stored header lines into fields, then writes http.start,
 * http.header and http.header_names (and the request's host and URI) into
 * the derived area; the single-field buffers point into http.start. */
static void build_derived(struct px *x, int dir)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    struct vg_http_msgbuf *m = cur_msg(s, dir);
    const uint8_t *raw = m->raw;
    uint32_t n = m->raw_len;
    const uint8_t *lf = memchr(raw, '\n', n);
    uint32_t hs = lf != NULL ? (uint32_t)(lf - raw) + 1 : n;
    uint32_t sl = hs;
    while (sl > 0 && (raw[sl - 1] == '\n' || raw[sl - 1] == '\r'))
        sl--;
    uint32_t i = hs, hend = n;
    bool prev = false;
    m->nhdr = 0;
    while (i < n) {
        const uint8_t *e = memchr(raw + i, '\n', n - i);
        uint32_t le = e != NULL ? (uint32_t)(e - raw) : n;
        uint32_t next = e != NULL ? le + 1 : n;
        uint32_t ce = le;
        if (ce > i && raw[ce - 1] == '\r')
            ce--;
        if (ce == i) {
            hend = next;
            break;
        }
        if (is_ws(raw[i])) {
            if (prev) {
                struct vg_http_hdr_entry *h = &m->hdr[m->nhdr - 1];
                h->value_len = ce - h->value_off;
            }
            i = next;
            continue;
        }
        prev = false;
        const uint8_t *colon = memchr(raw + i, ':', ce - i);
        uint32_t c = colon != NULL ? (uint32_t)(colon - raw) : i;
        uint32_t ne = c;
        while (ne > i && is_ws(raw[ne - 1]))
            ne--;
        if (colon == NULL || ne == i || m->nhdr >= s->cfg.max_headers) {
            i = next;
            continue;
        }
        uint32_t vs = c + 1;
        while (vs < ce && is_ws(raw[vs]))
            vs++;
        struct vg_http_hdr_entry *h = &m->hdr[m->nhdr++];
        memset(h, 0, sizeof(*h));
        h->name_off = i;
        h->name_len = (uint16_t)(ne - i > 65535 ? 65535 : ne - i);
        h->value_off = vs;
        h->value_len = ce - vs;
        prev = true;
        i = next;
    }
    for (uint32_t j = 0; j < m->nhdr; j++) {
        struct vg_http_hdr_entry *h = &m->hdr[j];
        h->first = (uint16_t)j;
        for (uint32_t k = 0; k < j; k++) {
            if (eq_ci2(entry_name(m, &m->hdr[k]), m->hdr[k].name_len, entry_name(m, h),
                       h->name_len)) {
                h->first = m->hdr[k].first;
                break;
            }
        }
    }

    struct out o = {m->derived, 0, m->derived_cap, false};
    put(&o, raw, sl);
    put(&o, "\r\n", 2);
    for (uint32_t j = 0; j < m->nhdr; j++) {
        struct vg_http_hdr_entry *h = &m->hdr[j];
        if (h->first != j)
            continue;
        put(&o, entry_name(m, h), h->name_len);
        put(&o, ": ", 2);
        h->out_off = o.len;
        put_value(&o, raw + h->value_off, h->value_len);
        h->out_len = o.len - h->out_off;
        for (uint32_t k = j + 1; k < m->nhdr; k++) {
            struct vg_http_hdr_entry *r = &m->hdr[k];
            if (r->first != j)
                continue;
            put(&o, ", ", 2);
            r->out_off = o.len;
            put_value(&o, raw + r->value_off, r->value_len);
            r->out_len = o.len - r->out_off;
        }
        h->merged_len = o.len - h->out_off;
        put(&o, "\r\n", 2);
    }
    put(&o, "\r\n", 2);
    uint32_t start_len = o.len;

    const char *cookie = dir == 0 ? "cookie" : "set-cookie";
    uint32_t hdr_at = o.len;
    for (uint32_t j = 0; j < m->nhdr; j++) {
        const struct vg_http_hdr_entry *h = &m->hdr[j];
        if (h->first != j || eq_ci(entry_name(m, h), h->name_len, cookie))
            continue;
        put(&o, entry_name(m, h), h->name_len);
        put(&o, ": ", 2);
        put(&o, m->derived + h->out_off, h->merged_len);
        put(&o, "\r\n", 2);
    }
    uint32_t hdr_len = o.len - hdr_at;
    uint32_t names_at = o.len;
    put(&o, "\r\n", 2);
    for (uint32_t j = 0; j < m->nhdr; j++) {
        const struct vg_http_hdr_entry *h = &m->hdr[j];
        if (h->first != j)
            continue;
        put(&o, entry_name(m, h), h->name_len);
        put(&o, "\r\n", 2);
    }
    put(&o, "\r\n", 2);
    uint32_t names_len = o.len - names_at;

    if (dir == 0) {
        set_buf(m, VG_BUF_HTTP_START, m->derived, start_len);
        set_buf(m, VG_BUF_HTTP_HEADER, m->derived + hdr_at, hdr_len);
        set_buf(m, VG_BUF_HTTP_HEADER_RAW, raw + hs, hend - hs);
        set_buf(m, VG_BUF_HTTP_HEADER_NAMES, m->derived + names_at, names_len);
        set_field_buf(m, VG_BUF_HTTP_USER_AGENT, "user-agent");
        set_field_buf(m, VG_BUF_HTTP_REFERER, "referer");
        set_field_buf(m, VG_BUF_HTTP_CONNECTION, "connection");
        set_field_buf(m, VG_BUF_HTTP_COOKIE, "cookie");
        set_field_buf(m, VG_BUF_HTTP_CONTENT_TYPE, "content-type");
        set_field_buf(m, VG_BUF_HTTP_CONTENT_LEN, "content-length");
        derive_request(x, m, &o);
    } else {
        set_buf(m, VG_BUF_HTTP_RESPONSE_START, m->derived, start_len);
        set_buf(m, VG_BUF_HTTP_RESPONSE_HEADER, m->derived + hdr_at, hdr_len);
        set_buf(m, VG_BUF_HTTP_RESPONSE_HEADER_RAW, raw + hs, hend - hs);
        set_buf(m, VG_BUF_HTTP_RESPONSE_HEADER_NAMES, m->derived + names_at, names_len);
        set_field_buf(m, VG_BUF_HTTP_RESPONSE_CONNECTION, "connection");
        set_field_buf(m, VG_BUF_HTTP_SET_COOKIE, "set-cookie");
        set_field_buf(m, VG_BUF_HTTP_RESPONSE_CONTENT_TYPE, "content-type");
        set_field_buf(m, VG_BUF_HTTP_RESPONSE_CONTENT_LEN, "content-length");
        set_field_buf(m, VG_BUF_HTTP_SERVER, "server");
        set_field_buf(m, VG_BUF_HTTP_LOCATION, "location");
    }
    m->derived_len = o.len;
    if (o.cut && !(d->msg_flags & MF_CUT)) {
        d->msg_flags |= MF_CUT;
        s->stats->headers_cut++;
        raise_ev(x, dir, VG_HTTP_EV_HEADERS_CUT);
    }
}

/* ---- Bodies ---- */

static void start_body(struct vg_http_dir *d, uint8_t state)
{
    d->state = state;
    d->chunk_state = CH_SIZE_WS;
    d->chunk_digits = 0;
    d->chunk_line = 0;
    d->remaining = state == ST_BODY_LEN ? (uint64_t)d->content_length : 0;
    d->body_seen = 0;
    d->body_reported = 0;
    d->body_cut = 0;
}

static void request_done(struct px *x)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[0];
    struct vg_http_txrec *t = find_tx(s, d->cur_tx);
    d->state = ST_START;
    d->cur_tx = NO_TX;
    if (t == NULL)
        return;
    t->flags |= TXF_REQ_DONE;
    bool connect = t->flags & TXF_CONNECT;
    if (s->d[1].ended)
        complete_tx(x, t, t->stage, 0);
    /* Bytes after CONNECT belong to the tunnel until a non-2xx answer
     * sends the client back to HTTP: skip them up to the next request. */
    if (connect)
        go_resync(x, 0, true);
}

static void response_done(struct px *x)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[1];
    if (s->sh != NULL)
        inflater_put(s, d);
    d->inflate_state = INF_OFF;
    d->state = ST_START;
    d->cur_tx = NO_TX;
}

/* Reports the body stage of the message in progress; last completes the
 * transaction. */
static void report_body(struct px *x, int dir, bool last)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    struct vg_http_msgbuf *m = cur_msg(s, dir);
    set_buf(m, dir == 0 ? VG_BUF_HTTP_REQUEST_BODY : VG_BUF_HTTP_RESPONSE_BODY, m->body,
            m->body_len);
    struct vg_http_txrec *t = find_tx(s, d->cur_tx);
    if (t == NULL)
        return;
    uint8_t stage = dir == 0 ? VG_STAGE_REQUEST_BODY : VG_STAGE_RESPONSE_BODY;
    if (last)
        complete_tx(x, t, stage, dir);
    else
        report(x, t, stage, dir, false);
}

static void body_end(struct px *x, int dir)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    if (dir == 0) {
        if (d->body_seen > 0 && !d->body_reported) {
            d->body_reported = 1;
            report_body(x, 0, false);
        }
        request_done(x);
        return;
    }
    if (d->body_seen > 0)
        report_body(x, 1, true);
    else
        complete_tx(x, find_tx(s, d->cur_tx), VG_STAGE_RESPONSE, 1);
    response_done(x);
}

static void decoder_start(struct px *x)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[1];
    d->inflate_state = INF_OFF;
    d->inflate_head_len = 0;
    d->decoded = 0;
    if (d->coding == CODING_NONE || d->cur_tx == NO_TX || s->sh == NULL)
        return;
    struct vg_http_inflater *f = inflater_get(s->sh);
    if (f == NULL) {
        s->stats->inflate_pool_exhausted++;
        return;
    }
    d->inflater = f;
    if (d->coding == CODING_DEFLATE) {
        d->inflate_state = INF_HEAD;
        return;
    }
    /* gzip, and the zlib wrapper some servers send under that name */
    if (inflateInit2(&f->z, 15 + 32) != Z_OK) {
        inflater_put(s, d);
        return;
    }
    d->inflate_state = INF_ACTIVE;
    s->stats->bodies_decoded++;
}

/* Inflates into the kept body. Returns true when decoded bytes had to be
 * dropped (the keep-limit or the decode limit was reached). */
static bool inflate_some(struct px *x, const uint8_t *p, uint32_t n)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[1];
    struct vg_http_msgbuf *m = &s->rsp;
    struct vg_http_inflater *f = d->inflater;
    bool dropped = false;
    f->z.next_in = (Bytef *)(uintptr_t)p;
    f->z.avail_in = n;
    while (f->z.avail_in > 0 && d->inflate_state == INF_ACTIVE) {
        uint64_t left =
            s->cfg.decompress_limit > d->decoded ? s->cfg.decompress_limit - d->decoded : 0;
        if (left == 0) {
            /* more input, no more output allowed: the rest is not decoded */
            dropped = true;
            d->inflate_state = INF_STOPPED;
            break;
        }
        bool keep = m->body_len < m->body_cap;
        uint8_t *out = keep ? m->body + m->body_len : s->sh->out;
        uint32_t avail = keep ? m->body_cap - m->body_len : INFLATE_OUT;
        if (avail > left)
            avail = (uint32_t)left;
        uint32_t in_before = f->z.avail_in;
        f->z.next_out = out;
        f->z.avail_out = avail;
        int rc = inflate(&f->z, Z_NO_FLUSH);
        uint32_t produced = avail - f->z.avail_out;
        d->decoded += produced;
        s->stats->decoded_bytes += produced;
        if (keep)
            m->body_len += produced;
        else if (produced != 0)
            dropped = true;
        if (rc == Z_STREAM_END) {
            d->inflate_state = INF_STOPPED;
            break;
        }
        if (rc == Z_BUF_ERROR)
            break;
        if (rc != Z_OK) {
            raise_ev(x, 1, VG_HTTP_EV_DECOMPRESSION_FAILED);
            d->inflate_state = INF_STOPPED;
            break;
        }
        if (produced == 0 && in_before == f->z.avail_in)
            break;
    }
    if (d->inflate_state == INF_STOPPED)
        inflater_put(s, d);
    return dropped;
}

static void keep_raw(struct vg_http_msgbuf *m, const uint8_t *p, uint32_t n, bool *dropped)
{
    uint32_t room = m->body_cap - m->body_len;
    uint32_t k = n < room ? n : room;
    memcpy(m->body + m->body_len, p, k);
    m->body_len += k;
    if (k < n)
        *dropped = true;
}

static void body_data(struct px *x, int dir, const uint8_t *p, uint32_t n)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    struct vg_http_msgbuf *m = cur_msg(s, dir);
    d->body_seen += n;
    bool dropped = false;
    if (dir == 0) {
        keep_raw(m, p, n, &dropped);
    } else {
        struct vg_http_txrec *t = find_tx(s, d->cur_tx);
        if (t != NULL)
            t->response_len += n;
        if (d->inflate_state == INF_HEAD) {
            while (n > 0 && d->inflate_head_len < 2) {
                d->inflate_head[d->inflate_head_len++] = *p++;
                n--;
            }
            if (d->inflate_head_len == 2) {
                struct vg_http_inflater *f = d->inflater;
                uint8_t h0 = d->inflate_head[0], h1 = d->inflate_head[1];
                /* RFC 1950 header, or the raw deflate many servers send */
                int wbits = (h0 & 0x0f) == 8 && ((h0 << 8) | h1) % 31 == 0 ? 15 : -15;
                if (inflateInit2(&f->z, wbits) != Z_OK) {
                    inflater_put(s, d);
                    d->inflate_state = INF_OFF;
                    keep_raw(m, d->inflate_head, 2, &dropped);
                } else {
                    d->inflate_state = INF_ACTIVE;
                    s->stats->bodies_decoded++;
                    dropped |= inflate_some(x, d->inflate_head, 2);
                }
            }
        }
        if (n > 0) {
            if (d->inflate_state == INF_ACTIVE)
                dropped |= inflate_some(x, p, n);
            else if (d->inflate_state == INF_OFF)
                keep_raw(m, p, n, &dropped);
        }
    }
    if (dropped) {
        if (!d->body_cut) {
            d->body_cut = 1;
            s->stats->bodies_cut++;
        }
        if (!d->body_reported) {
            d->body_reported = 1;
            report_body(x, dir, false);
        }
    }
}

static void chunk_error(struct px *x, int dir)
{
    raise_ev(x, dir, VG_HTTP_EV_INVALID_CHUNK);
    body_end(x, dir);
    if (!x->s->left)
        go_resync(x, dir, false);
}

static uint32_t step_body_len(struct px *x, int dir, const uint8_t *p, uint32_t n)
{
    struct vg_http_dir *d = &x->s->d[dir];
    uint32_t take = (uint64_t)n < d->remaining ? n : (uint32_t)d->remaining;
    body_data(x, dir, p, take);
    d->remaining -= take;
    if (d->remaining == 0)
        body_end(x, dir);
    return take;
}

static void next_chunk(struct vg_http_dir *d)
{
    d->chunk_state = CH_SIZE_WS;
    d->remaining = 0;
    d->chunk_digits = 0;
    d->chunk_line = 0;
}

static uint32_t step_chunked(struct px *x, int dir, const uint8_t *p, uint32_t n)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    switch (d->chunk_state) {
    case CH_DATA: {
        uint32_t take = (uint64_t)n < d->remaining ? n : (uint32_t)d->remaining;
        body_data(x, dir, p, take);
        d->remaining -= take;
        if (d->remaining == 0)
            d->chunk_state = CH_DATA_CR;
        return take;
    }
    case CH_DATA_CR:
        if (p[0] == '\r') {
            d->chunk_state = CH_DATA_LF;
            return 1;
        }
        /* a bare LF ends the chunk too */
        __attribute__((fallthrough));
    case CH_DATA_LF:
        if (p[0] == '\n') {
            next_chunk(d);
            return 1;
        }
        chunk_error(x, dir);
        return 0;
    case CH_TRAILER:
        for (uint32_t i = 0; i < n; i++) {
            uint8_t c = p[i];
            if (c == '\n') {
                if (d->chunk_line == 0) {
                    body_end(x, dir);
                    return i + 1;
                }
                d->chunk_line = 0;
            } else if (c != '\r' && ++d->chunk_line > s->cfg.line_limit) {
                chunk_error(x, dir);
                return i + 1;
            }
        }
        return n;
    default:
        break;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (++d->chunk_line > s->cfg.line_limit) {
            chunk_error(x, dir);
            return i + 1;
        }
        if (d->chunk_state == CH_SIZE_EXT) {
            if (c != '\n')
                continue;
        } else {
            int v = vg_hex_value(c);
            if (v >= 0) {
                d->chunk_state = CH_SIZE_DIGITS;
                if (d->remaining != 0 || v != 0)
                    d->chunk_digits++;
                if (d->chunk_digits > 15) {
                    chunk_error(x, dir); /* a size beyond 2^60 */
                    return i + 1;
                }
                d->remaining = d->remaining * 16 + (uint32_t)v;
                continue;
            }
            if (d->chunk_state == CH_SIZE_WS) {
                if (is_ws(c))
                    continue;
                chunk_error(x, dir);
                return i + 1;
            }
            if (c == ';' || c == '\r' || is_ws(c)) {
                d->chunk_state = CH_SIZE_EXT;
                continue;
            }
            if (c != '\n') {
                chunk_error(x, dir);
                return i + 1;
            }
        }
        /* end of the size line */
        d->chunk_line = 0;
        d->chunk_digits = 0;
        d->chunk_state = d->remaining == 0 ? CH_TRAILER : CH_DATA;
        return i + 1;
    }
    return n;
}

/* ---- Messages ---- */

static void finish_request(struct px *x)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[0];
    struct vg_http_msgbuf *m = cur_msg(s, 0);
    if (s->npending >= s->cfg.max_pending) {
        struct vg_http_txrec *old = pend_at(s, 0);
        s->stats->pipeline_overflow++;
        if (s->d[1].cur_tx != old->tx_id)
            s->skip_responses++;
        complete_tx(x, old, old->stage, 0);
    }
    struct vg_http_txrec *t = pend_at(s, s->npending);
    s->npending++;
    memset(t, 0, sizeof(*t));
    t->tx_id = s->next_tx_id++;
    t->slot = (uint8_t)d->slot;
    t->flags = d->req_flags | (d->upgrade_ws ? TXF_WS_ASKED : 0);
    t->anomalies = d->anomalies;
    d->anomalies = 0;
    s->stats->transactions++;
    m->owner = t->tx_id;
    d->cur_tx = t->tx_id;
    build_derived(x, 0);
    uint8_t body = ST_START;
    if (d->te_present) {
        if (d->content_length >= 0)
            raise_ev(x, 0, VG_HTTP_EV_CONTENT_LENGTH_AND_TRANSFER_ENCODING);
        if (d->te_chunked) {
            body = ST_BODY_CHUNKED;
            if (d->msg_flags & MF_HTTP10)
                raise_ev(x, 0, VG_HTTP_EV_TRANSFER_ENCODING_IN_HTTP10);
        } else {
            raise_ev(x, 0, VG_HTTP_EV_REQUEST_BODY_WITHOUT_LENGTH);
        }
    } else if (d->content_length > 0) {
        body = ST_BODY_LEN;
    }
    report(x, t, VG_STAGE_REQUEST, 0, false);
    if (body != ST_START)
        start_body(d, body);
    else
        request_done(x);
}

/* True when a Set-Cookie of the response carries a BIG-IP persistence cookie
 * whose pool member address is private: the appliance tells the client an
 * internal address (threat model 3.3). */
static bool sets_private_bigip_cookie(const struct vg_http_msgbuf *m)
{
    for (uint32_t i = 0; i < m->nhdr; i++) {
        const struct vg_http_hdr_entry *h = &m->hdr[i];
        if (!eq_ci(entry_name(m, h), h->name_len, "set-cookie"))
            continue;
        const uint8_t *p = m->derived + h->out_off;
        const uint8_t *sc = memchr(p, ';', h->out_len);
        uint32_t n = sc != NULL ? (uint32_t)(sc - p) : h->out_len;
        const uint8_t *eq = memchr(p, '=', n);
        if (eq == NULL)
            continue;
        const uint8_t *name = p, *v = eq + 1;
        uint32_t nl = (uint32_t)(eq - p), vl = n - (uint32_t)(v - p);
        trim(&name, &nl);
        trim(&v, &vl);
        struct vg_bigip_cookie c;
        if (nl != 0 && vg_bigip_cookie_decode(name, nl, v, vl, &c) == 0 && c.private_member)
            return true;
    }
    return false;
}

static void finish_response(struct px *x)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[1];
    struct vg_http_msgbuf *m = &s->rsp;
    uint16_t st = m->status;
    if (st >= 100 && st < 200 && st != 101) {
        /* interim (100 Continue, 103 Early Hints): the request still waits */
        d->state = ST_START;
        return;
    }
    struct vg_http_txrec *t = NULL;
    if (s->skip_responses > 0) {
        s->skip_responses--;
    } else if (s->npending > 0) {
        t = pend_at(s, 0);
    } else {
        t = &s->rsp_tx;
        memset(t, 0, sizeof(*t));
        t->tx_id = s->next_tx_id++;
        t->slot = NO_SLOT;
        t->flags = TXF_NO_REQ;
        s->rsp_tx_active = 1;
        s->stats->transactions++;
    }
    if (t != NULL) {
        t->anomalies |= d->anomalies;
        t->flags |= TXF_HAS_RSP;
        m->owner = t->tx_id;
        d->cur_tx = t->tx_id;
        if (t->flags & TXF_NO_REQ)
            raise_ev(x, 1, VG_HTTP_EV_UNSOLICITED_RESPONSE);
    }
    d->anomalies = 0;
    build_derived(x, 1);
    if (t != NULL && sets_private_bigip_cookie(m))
        raise_ev(x, 1, VG_HTTP_EV_BIGIP_COOKIE_PRIVATE_MEMBER);
    uint16_t tf = t != NULL ? t->flags : 0;
    if (st == 101 || ((tf & TXF_CONNECT) && st >= 200 && st < 300)) {
        if (st == 101 && t != NULL && ((tf & TXF_WS_ASKED) || d->upgrade_ws))
            t->flags |= TXF_WEBSOCKET;
        complete_tx(x, t, VG_STAGE_RESPONSE, 1);
        leave_http(x, 1, st == 101 ? VG_HTTP_LEFT_UPGRADE : VG_HTTP_LEFT_CONNECT);
        return;
    }
    uint8_t body;
    if ((tf & TXF_HEAD) || st == 204 || st == 304 || st < 200)
        body = ST_START;
    else if (d->te_present) {
        if (d->content_length >= 0)
            raise_ev(x, 1, VG_HTTP_EV_CONTENT_LENGTH_AND_TRANSFER_ENCODING);
        body = d->te_chunked ? ST_BODY_CHUNKED : ST_BODY_CLOSE;
        if (d->te_chunked && (d->msg_flags & MF_HTTP10))
            raise_ev(x, 1, VG_HTTP_EV_TRANSFER_ENCODING_IN_HTTP10);
    } else if (d->content_length >= 0)
        body = d->content_length > 0 ? ST_BODY_LEN : ST_START;
    else
        body = ST_BODY_CLOSE;
    if (body == ST_START) {
        complete_tx(x, t, VG_STAGE_RESPONSE, 1);
        response_done(x);
        return;
    }
    if (t != NULL)
        report(x, t, VG_STAGE_RESPONSE, 1, false);
    start_body(d, body);
    decoder_start(x);
}

static void finish_headers(struct px *x, int dir)
{
    if (dir == 0)
        finish_request(x);
    else
        finish_response(x);
}

static void begin_message(struct px *x, int dir)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    uint64_t carried = d->anomalies;
    uint8_t ended = d->ended;
    if (s->sh != NULL)
        inflater_put(s, d);
    dir_reset(d);
    d->anomalies = carried;
    d->ended = ended;
    if (dir == 0) {
        uint32_t slot = s->next_slot;
        s->next_slot = (slot + 1) % s->cfg.request_slots;
        struct vg_http_msgbuf *m = &s->req[slot];
        if (m->owner != NO_TX) {
            struct vg_http_txrec *t = find_tx(s, m->owner);
            if (t != NULL) {
                t->slot = NO_SLOT;
                s->stats->request_buffers_evicted++;
            }
        }
        msgbuf_reset(m);
        d->slot = slot;
    } else {
        msgbuf_reset(&s->rsp);
    }
    d->state = ST_HEADERS;
}

/* Whether bytes can start a message: a token and a space to the server,
 * "HTTP/" to the client. 1 also when too few bytes to tell. */
static bool start_plausible(int dir, const uint8_t *p, uint32_t n)
{
    if (dir == 1) {
        uint32_t k = n < 5 ? n : 5;
        for (uint32_t i = 0; i < k; i++)
            if (lower(p[i]) != (uint8_t) "http/"[i])
                return false;
        return true;
    }
    uint32_t i = 0;
    while (i < n && i < 32 && is_tchar(p[i]))
        i++;
    if (i == n)
        return true;
    return i > 0 && i < 32 && is_ws(p[i]);
}

static uint32_t step_start(struct px *x, int dir, const uint8_t *p, uint32_t n)
{
    uint32_t i = 0;
    while (i < n && (p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i > 0)
        return i;
    if (!start_plausible(dir, p, n)) {
        raise_ev(x, dir,
                 dir == 0 ? VG_HTTP_EV_INVALID_REQUEST_LINE : VG_HTTP_EV_INVALID_STATUS_LINE);
        go_resync(x, dir, true);
        return 0;
    }
    begin_message(x, dir);
    return 0;
}

static void consume(struct px *x, int dir, const uint8_t *p, uint32_t n)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    while (n > 0 && !s->left) {
        uint32_t used;
        switch (d->state) {
        case ST_START:
            used = step_start(x, dir, p, n);
            break;
        case ST_HEADERS:
            used = step_headers(x, dir, p, n);
            break;
        case ST_BODY_LEN:
            used = step_body_len(x, dir, p, n);
            break;
        case ST_BODY_CHUNKED:
            used = step_chunked(x, dir, p, n);
            break;
        case ST_BODY_CLOSE:
            body_data(x, dir, p, n);
            used = n;
            break;
        case ST_RESYNC:
            used = step_resync(x, dir, p, n);
            break;
        default:
            return;
        }
        p += used;
        n -= used;
    }
}

static void on_gap(struct px *x, int dir)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    s->stats->gaps++;
    raise_ev(x, dir, VG_HTTP_EV_GAP);
    if (d->state == ST_BODY_LEN || d->state == ST_BODY_CHUNKED || d->state == ST_BODY_CLOSE)
        body_end(x, dir);
    if (!s->left && d->state != ST_DEAD)
        go_resync(x, dir, true);
}

static void on_end(struct px *x, int dir)
{
    struct vg_http_state *s = x->s;
    struct vg_http_dir *d = &s->d[dir];
    if (d->state == ST_HEADERS && d->line_len > 0)
        on_line(x, dir); /* the last line, cut short by the end */
    if (!s->left && d->state == ST_HEADERS && (d->msg_flags & MF_START_DONE)) {
        apply_framing(x, dir);
        finish_headers(x, dir);
    }
    if (s->left)
        return;
    if (d->state == ST_BODY_LEN || d->state == ST_BODY_CHUNKED || d->state == ST_BODY_CLOSE)
        body_end(x, dir);
    if (s->left)
        return;
    d->ended = 1;
    d->state = ST_DEAD;
    if (s->sh != NULL)
        inflater_put(s, d);
    if (dir == 1) {
        /* no response will come for the requests already complete */
        while (s->npending > 0 && (pend_at(s, 0)->flags & TXF_REQ_DONE))
            complete_tx(x, pend_at(s, 0), pend_at(s, 0)->stage, 1);
    }
    if (s->d[0].ended && s->d[1].ended)
        complete_all(x, dir);
}

void vg_http_parse(struct vg_http_state *s, int dir, const uint8_t *data, uint32_t len,
                   uint32_t flags, const struct vg_app_cb *cb)
{
    if ((dir != 0 && dir != 1) || s->left || s->d[dir].ended)
        return;
    struct px x = {s, cb};
    if (flags & VG_APP_GAP)
        on_gap(&x, dir);
    if (data != NULL && len != 0)
        consume(&x, dir, data, len);
    if ((flags & VG_APP_END) && !s->left)
        on_end(&x, dir);
}

/* ---- Content detection ---- */

static const char *const methods[] = {
    "GET",         "POST",
    "HEAD",        "PUT",
    "DELETE",      "OPTIONS",
    "PATCH",       "CONNECT",
    "TRACE",       "PROPFIND",
    "PROPPATCH",   "MKCOL",
    "COPY",        "MOVE",
    "LOCK",        "UNLOCK",
    "SEARCH",      "REPORT",
    "MKACTIVITY",  "CHECKOUT",
    "MERGE",       "M-SEARCH",
    "NOTIFY",      "SUBSCRIBE",
    "UNSUBSCRIBE", "PURGE",
    "LINK",        "UNLINK",
    "MKCALENDAR",  "ACL",
    "BIND",        "UNBIND",
    "REBIND",      "VERSION-CONTROL",
};

int vg_http_probe(int dir, const uint8_t *data, uint32_t len)
{
    if (dir == 1) {
        static const char v[] = "HTTP/1.";
        uint32_t n = len < 7 ? len : 7;
        if (n != 0 && memcmp(data, v, n) != 0)
            return 0;
        return len >= 7 ? 1 : -1;
    }
    bool partial = false;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        size_t ml = strlen(methods[i]);
        if (len > ml) {
            if (memcmp(data, methods[i], ml) == 0 && data[ml] == ' ')
                return 1;
        } else if (len == 0 || memcmp(data, methods[i], len) == 0) {
            partial = true;
        }
    }
    return partial ? -1 : 0;
}

/* ---- EVE ---- */

static void meta_buf(struct vg_meta_writer *w, const char *name, const struct vg_app_buf *b)
{
    if (b->data != NULL)
        vg_meta_str(w, name, b->data, b->len);
}

#define BIGIP_COOKIES_MAX 8
#define TS_COOKIES_MAX    16

struct bigip_facts {
    struct vg_bigip_cookie cookies[BIGIP_COOKIES_MAX];
    uint32_t ncookies;
    const uint8_t *ts[TS_COOKIES_MAX];
    uint32_t ts_len[TS_COOKIES_MAX];
    uint32_t nts;
};

static void bigip_cookie(struct bigip_facts *f, const uint8_t *p, uint32_t n)
{
    const uint8_t *eq = memchr(p, '=', n);
    const uint8_t *name = p;
    uint32_t nl = eq != NULL ? (uint32_t)(eq - p) : n;
    trim(&name, &nl);
    if (nl == 0)
        return;
    if (vg_bigip_is_ts_cookie(name, nl) && f->nts < TS_COOKIES_MAX) {
        f->ts[f->nts] = name;
        f->ts_len[f->nts++] = nl;
    }
    if (eq == NULL || f->ncookies >= BIGIP_COOKIES_MAX)
        return;
    const uint8_t *v = eq + 1;
    uint32_t vl = n - (uint32_t)(v - p);
    trim(&v, &vl);
    if (vg_bigip_cookie_decode(name, nl, v, vl, &f->cookies[f->ncookies]) == 0)
        f->ncookies++;
}

static void bigip_facts_collect(const struct txview *v, struct bigip_facts *f)
{
    f->ncookies = 0;
    f->nts = 0;
    if (v->req != NULL) {
        for (uint32_t i = 0; i < v->req->nhdr; i++) {
            const struct vg_http_hdr_entry *h = &v->req->hdr[i];
            if (!eq_ci(entry_name(v->req, h), h->name_len, "cookie"))
                continue;
            const uint8_t *p = v->req->derived + h->out_off;
            uint32_t n = h->out_len, at = 0;
            while (at < n) {
                const uint8_t *sc = memchr(p + at, ';', n - at);
                uint32_t e = sc != NULL ? (uint32_t)(sc - p) : n;
                bigip_cookie(f, p + at, e - at);
                at = e + 1;
            }
        }
    }
    if (v->rsp != NULL) {
        for (uint32_t i = 0; i < v->rsp->nhdr; i++) {
            const struct vg_http_hdr_entry *h = &v->rsp->hdr[i];
            if (!eq_ci(entry_name(v->rsp, h), h->name_len, "set-cookie"))
                continue;
            const uint8_t *p = v->rsp->derived + h->out_off;
            const uint8_t *sc = memchr(p, ';', h->out_len);
            bigip_cookie(f, p, sc != NULL ? (uint32_t)(sc - p) : h->out_len);
        }
    }
}

static void encode_bigip(const struct txview *v, struct vg_meta_writer *w)
{
    struct bigip_facts f;
    bigip_facts_collect(v, &f);
    bool server = false;
    if (v->rsp != NULL && v->rsp->b[VG_BUF_HTTP_SERVER].data != NULL) {
        const uint8_t *sv = v->rsp->b[VG_BUF_HTTP_SERVER].data;
        uint32_t sn = v->rsp->b[VG_BUF_HTTP_SERVER].len;
        server = eq_ci(sv, sn, "bigip") || eq_ci(sv, sn, "big-ip");
    }
    enum vg_bigip_mgmt mgmt = VG_BIGIP_MGMT_NONE;
    bool token = false;
    if (v->req != NULL) {
        const struct vg_app_buf *u = &v->req->b[VG_BUF_HTTP_URI];
        if (u->data != NULL) {
            const uint8_t *q = memchr(u->data, '?', u->len);
            mgmt = vg_bigip_mgmt_classify(u->data, q != NULL ? (size_t)(q - u->data) : u->len);
        }
        token = find_field(v->req, "x-f5-auth-token") != NULL;
    }
    if (f.ncookies == 0 && f.nts == 0 && !server && mgmt == VG_BIGIP_MGMT_NONE && !token)
        return;
    vg_meta_obj(w, "bigip");
    if (f.ncookies != 0) {
        vg_meta_arr(w, "cookies");
        for (uint32_t i = 0; i < f.ncookies; i++) {
            vg_meta_obj(w, NULL);
            vg_bigip_cookie_encode(&f.cookies[i], w);
            vg_meta_end(w);
        }
        vg_meta_end(w);
    }
    if (server)
        vg_meta_bool(w, "server_bigip", true);
    if (f.nts != 0) {
        vg_meta_arr(w, "ts_cookies");
        for (uint32_t i = 0; i < f.nts; i++)
            vg_meta_str(w, NULL, f.ts[i], f.ts_len[i]);
        vg_meta_end(w);
    }
    const char *mn = vg_bigip_mgmt_name(mgmt);
    if (mn != NULL)
        vg_meta_cstr(w, "mgmt", mn);
    if (token)
        vg_meta_bool(w, "auth_token_header", true);
    vg_meta_end(w);
}

static void encode_headers(const struct vg_http_msgbuf *m, const char *name, uint32_t max,
                           struct vg_meta_writer *w)
{
    if (m == NULL || m->nhdr == 0)
        return;
    vg_meta_arr(w, name);
    for (uint32_t i = 0; i < m->nhdr && i < max; i++) {
        const struct vg_http_hdr_entry *h = &m->hdr[i];
        vg_meta_obj(w, NULL);
        vg_meta_str(w, "name", entry_name(m, h), h->name_len);
        vg_meta_str(w, "value", m->derived + h->out_off, h->out_len);
        vg_meta_end(w);
    }
    vg_meta_end(w);
}

static void encode_tx(const void *obj, struct vg_meta_writer *w)
{
    const struct txview *v = obj;
    const struct vg_http_msgbuf *q = v->req, *r = v->rsp;
    vg_meta_obj(w, "http");
    if (q != NULL) {
        meta_buf(w, "hostname", &q->b[VG_BUF_HTTP_HOST]);
        if (q->port != 0)
            vg_meta_uint(w, "http_port", q->port);
        meta_buf(w, "url", &q->b[VG_BUF_HTTP_URI_RAW]);
        meta_buf(w, "http_user_agent", &q->b[VG_BUF_HTTP_USER_AGENT]);
    }
    if (r != NULL && r->b[VG_BUF_HTTP_RESPONSE_CONTENT_TYPE].data != NULL) {
        const uint8_t *ct = r->b[VG_BUF_HTTP_RESPONSE_CONTENT_TYPE].data;
        uint32_t n = r->b[VG_BUF_HTTP_RESPONSE_CONTENT_TYPE].len;
        const uint8_t *sc = memchr(ct, ';', n);
        if (sc != NULL)
            n = (uint32_t)(sc - ct);
        trim(&ct, &n);
        vg_meta_str(w, "http_content_type", ct, n);
    }
    if (q != NULL) {
        meta_buf(w, "http_refer", &q->b[VG_BUF_HTTP_REFERER]);
        meta_buf(w, "http_method", &q->b[VG_BUF_HTTP_METHOD]);
        meta_buf(w, "protocol", &q->b[VG_BUF_HTTP_PROTOCOL]);
    } else if (r != NULL) {
        meta_buf(w, "protocol", &r->b[VG_BUF_HTTP_PROTOCOL]);
    }
    if (r != NULL) {
        vg_meta_uint(w, "status", r->status);
        meta_buf(w, "redirect", &r->b[VG_BUF_HTTP_LOCATION]);
        vg_meta_uint(w, "length", v->t->response_len);
    }
    if (q != NULL) {
        const struct vg_http_hdr_entry *xff = find_field(q, "x-forwarded-for");
        if (xff != NULL)
            vg_meta_str(w, "xff", q->derived + xff->out_off, xff->merged_len);
        meta_buf(w, "url_normalized", &q->b[VG_BUF_HTTP_URI]);
    }
    if (v->t->flags & TXF_WEBSOCKET)
        vg_meta_bool(w, "websocket", true);
    if (v->t->anomalies != 0) {
        vg_meta_arr(w, "anomalies");
        for (uint16_t e = 0; e < VG_HTTP_EV_EVENT_COUNT; e++)
            if (v->t->anomalies & (1ull << e))
                vg_meta_cstr(w, NULL, event_names[e]);
        vg_meta_end(w);
    }
    encode_bigip(v, w);
    encode_headers(q, "request_headers", v->s->cfg.log_headers_max, w);
    encode_headers(r, "response_headers", v->s->cfg.log_headers_max, w);
    vg_meta_end(w);
}
