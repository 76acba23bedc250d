/* The application-layer dispatcher of one worker: protocol detection by
 * content (and nDPI), bounded pools of parser states, routing of stream
 * chunks and UDP payloads to the parsers.
 *
 * Every flow slot has a small record (struct app_slot). A flow's protocol
 * is decided by the first bytes of either direction: each parser's probe
 * says yes, no, or "need more", so the first few bytes are kept in the slot
 * until one decides. The parser state then comes from that protocol's pool;
 * an empty pool leaves the flow named but unparsed, and counts it. */
#include "vigil/applayer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/dns.h"
#include "vigil/http.h"
#include "vigil/meta.h"
#include "vigil/ndpi.h"
#include "vigil/packet.h"
#include "vigil/ssh.h"
#include "vigil/tls.h"

#define PROBE_PREFIX 8u /* bytes kept per direction while no probe has decided */

const char *vg_app_proto_name(enum vg_app_proto p)
{
    switch (p) {
    case VG_APP_HTTP:
        return "http";
    case VG_APP_TLS:
        return "tls";
    case VG_APP_DNS:
        return "dns";
    case VG_APP_SSH:
        return "ssh";
    case VG_APP_FAILED:
        return "failed";
    default:
        return NULL;
    }
}

const char *vg_app_event_name(enum vg_app_proto p, uint16_t ev)
{
    switch (p) {
    case VG_APP_HTTP:
        return vg_http_event_name(ev);
    case VG_APP_TLS:
        return vg_tls_event_name(ev);
    case VG_APP_DNS:
        return vg_dns_event_name(ev);
    case VG_APP_SSH:
        return vg_ssh_event_name(ev);
    default:
        return NULL;
    }
}

/* ---- configuration ---- */

static const char *const proto_keys[VG_APP_PROTO_COUNT] = {
    [VG_APP_HTTP] = "http", [VG_APP_TLS] = "tls", [VG_APP_DNS] = "dns", [VG_APP_SSH] = "ssh"};

void vg_applayer_config_default(struct vg_applayer_config *c)
{
    memset(c, 0, sizeof(*c));
    c->enabled = true;
    c->ndpi = true;
    c->ndpi_flows = 16384;
    c->ndpi_packets = 32;
    c->max_flows[VG_APP_HTTP] = 16384;
    c->max_flows[VG_APP_TLS] = 16384;
    c->max_flows[VG_APP_DNS] = 16384;
    c->max_flows[VG_APP_SSH] = 4096;
    for (int p = 0; p < VG_APP_PROTO_COUNT; p++)
        c->proto_enabled[p] = proto_keys[p] != NULL;
    struct vg_http_config hc;
    vg_http_config_default(&hc);
    c->http_request_body_limit = hc.request_body_limit;
    c->http_response_body_limit = hc.response_body_limit;
    c->http_header_limit = hc.header_limit;
    c->http_inflaters = 1024;
    struct vg_tls_config tc;
    vg_tls_config_default(&tc);
    c->tls_handshake_limit = tc.handshake_limit;
}

static int get_u32(const struct vg_config *cfg, const char *key, bool size, uint32_t *v, char *err,
                   size_t errlen)
{
    uint64_t x = *v;
    int rc = size ? vg_config_get_size(cfg, key, x, &x, err, errlen)
                  : vg_config_get_u64(cfg, key, x, &x, err, errlen);
    if (rc != 0)
        return -1;
    if (x > UINT32_MAX) {
        snprintf(err, errlen, "%s: must be below 4g", key);
        return -1;
    }
    *v = (uint32_t)x;
    return 0;
}

int vg_applayer_config_load(struct vg_applayer_config *c, const struct vg_config *cfg, char *err,
                            size_t errlen)
{
    if (vg_config_get_bool(cfg, "app-layer.enabled", c->enabled, &c->enabled, err, errlen) ||
        vg_config_get_bool(cfg, "app-layer.ndpi.enabled", c->ndpi, &c->ndpi, err, errlen) ||
        get_u32(cfg, "app-layer.ndpi.max-flows", false, &c->ndpi_flows, err, errlen) ||
        get_u32(cfg, "app-layer.ndpi.max-packets", false, &c->ndpi_packets, err, errlen))
        return -1;
    for (int p = 0; p < VG_APP_PROTO_COUNT; p++) {
        if (proto_keys[p] == NULL)
            continue;
        char key[96];
        snprintf(key, sizeof(key), "app-layer.protocols.%s.enabled", proto_keys[p]);
        if (vg_config_get_bool(cfg, key, c->proto_enabled[p], &c->proto_enabled[p], err, errlen))
            return -1;
        snprintf(key, sizeof(key), "app-layer.protocols.%s.max-flows", proto_keys[p]);
        if (get_u32(cfg, key, false, &c->max_flows[p], err, errlen))
            return -1;
    }
    /* Suricata's libhtp keys, then vigil's shorter ones. */
    static const char *const libhtp = "app-layer.protocols.http.libhtp.default-config.";
    struct {
        const char *name;
        uint32_t *v;
    } http_keys[] = {{"request-body-limit", &c->http_request_body_limit},
                     {"response-body-limit", &c->http_response_body_limit},
                     {"header-limit", &c->http_header_limit}};
    for (size_t i = 0; i < sizeof(http_keys) / sizeof(http_keys[0]); i++) {
        char key[160];
        snprintf(key, sizeof(key), "%s%s", libhtp, http_keys[i].name);
        if (get_u32(cfg, key, true, http_keys[i].v, err, errlen))
            return -1;
        snprintf(key, sizeof(key), "app-layer.protocols.http.%s", http_keys[i].name);
        if (get_u32(cfg, key, true, http_keys[i].v, err, errlen))
            return -1;
    }
    if (get_u32(cfg, "app-layer.protocols.http.decompressors", false, &c->http_inflaters, err,
                errlen) ||
        get_u32(cfg, "app-layer.protocols.tls.handshake-limit", true, &c->tls_handshake_limit, err,
                errlen))
        return -1;
    if (c->http_header_limit < 256 || c->tls_handshake_limit < 512) {
        snprintf(err, errlen,
                 "app-layer: http header-limit must be at least 256 and tls handshake-limit "
                 "at least 512");
        return -1;
    }
    return 0;
}

void vg_applayer_config_split(struct vg_applayer_config *c, unsigned n)
{
    if (n <= 1)
        return;
    c->ndpi_flows = c->ndpi_flows / n ? c->ndpi_flows / n : 1;
    c->http_inflaters = c->http_inflaters / n ? c->http_inflaters / n : 1;
    for (int p = 0; p < VG_APP_PROTO_COUNT; p++)
        if (c->max_flows[p] != 0)
            c->max_flows[p] = c->max_flows[p] / n ? c->max_flows[p] / n : 1;
}

/* ---- state pools ---- */

struct state_pool {
    uint8_t *mem;
    size_t size; /* bytes per state, rounded to 64 */
    uint32_t cap;
    uint32_t nfree;
    uint32_t *free; /* indices of free states */
};

static int pool_init(struct state_pool *p, size_t size, uint32_t cap)
{
    p->size = (size + 63) & ~(size_t)63;
    p->cap = cap;
    p->nfree = cap;
    if (cap == 0)
        return 0;
    /* calloc: pages are touched only when a state is first used */
    p->mem = calloc(cap, p->size);
    p->free = malloc(sizeof(*p->free) * cap);
    if (p->mem == NULL || p->free == NULL)
        return -1;
    for (uint32_t i = 0; i < cap; i++)
        p->free[i] = cap - 1 - i;
    return 0;
}

static void pool_release_mem(struct state_pool *p)
{
    free(p->mem);
    free(p->free);
}

/* Index + 1 of a free state, or 0 when the pool is empty. */
static uint32_t pool_get(struct state_pool *p)
{
    if (p->nfree == 0)
        return 0;
    return p->free[--p->nfree] + 1;
}

static void *pool_state(struct state_pool *p, uint32_t ref)
{
    return p->mem + (size_t)(ref - 1) * p->size;
}

static void pool_put(struct state_pool *p, uint32_t ref)
{
    p->free[p->nfree++] = ref - 1;
}

/* ---- per-flow records ---- */

struct app_slot {
    uint8_t proto;         /* enum vg_app_proto: our parsers' decision */
    uint8_t probe_failed;  /* bit per direction: its first bytes fit no parser */
    uint8_t lost;          /* bit per direction: bytes went by before the decision */
    uint8_t ndpi_done;     /* nDPI gave its final answer */
    uint8_t reversed;      /* 1: the flow's sides are swapped for the parsers (midstream) */
    uint8_t prefix_len[2]; /* first bytes kept while probes need more */
    uint8_t prefix[2][PROBE_PREFIX];
    uint8_t inspected[2]; /* per side (request, response stages): one was inspected */
    uint32_t last_key[2]; /* (tx_id, stage) last inspected on that side, tx_id * 8 + stage */
    uint32_t state;       /* index + 1 in the pool of proto; 0: none */
    uint32_t ndpi_handle; /* nDPI's per-flow state; 0: none */
    struct vg_ndpi_result ndpi;
};

struct vg_applayer {
    struct vg_applayer_config cfg;
    uint32_t nslots;
    struct app_slot *slots;
    struct state_pool pools[VG_APP_PROTO_COUNT];
    struct vg_http_config http_cfg;
    struct vg_tls_config tls_cfg;
    struct vg_http_shared *http_shared;
    struct vg_tls_shared *tls_shared;
    struct vg_ssh_shared *ssh_shared;
    struct vg_ndpi *ndpi;
    struct vg_applayer_stats st;
    /* The chunk being parsed, for tx->buf[VG_BUF_PAYLOAD], and the
     * caller's callbacks behind ours. */
    const uint8_t *chunk;
    uint32_t chunk_len;
    struct app_slot *cur; /* the flow being parsed */
    const struct vg_app_cb *outer;
};

struct vg_applayer *vg_applayer_new(const struct vg_applayer_config *c, uint32_t flow_slots)
{
    struct vg_applayer *al = calloc(1, sizeof(*al));
    if (al == NULL)
        return NULL;
    al->cfg = *c;
    al->nslots = flow_slots;
    al->slots = calloc(flow_slots, sizeof(*al->slots));
    if (al->slots == NULL)
        goto fail;
    vg_http_config_default(&al->http_cfg);
    al->http_cfg.request_body_limit = c->http_request_body_limit;
    al->http_cfg.response_body_limit = c->http_response_body_limit;
    al->http_cfg.header_limit = c->http_header_limit;
    if (al->http_cfg.decompress_limit < al->http_cfg.response_body_limit)
        al->http_cfg.decompress_limit = al->http_cfg.response_body_limit;
    vg_tls_config_default(&al->tls_cfg);
    al->tls_cfg.handshake_limit = c->tls_handshake_limit;
    if (!c->enabled)
        return al;

    size_t sizes[VG_APP_PROTO_COUNT] = {0};
    sizes[VG_APP_HTTP] = vg_http_state_size(&al->http_cfg);
    sizes[VG_APP_TLS] = vg_tls_state_size(&al->tls_cfg);
    sizes[VG_APP_DNS] = vg_dns_state_size();
    sizes[VG_APP_SSH] = vg_ssh_state_size();
    for (int p = 0; p < VG_APP_PROTO_COUNT; p++) {
        if (sizes[p] != 0 && c->proto_enabled[p] &&
            pool_init(&al->pools[p], sizes[p], c->max_flows[p]) != 0)
            goto fail;
    }
    al->http_shared = vg_http_shared_new(&al->http_cfg, c->http_inflaters);
    al->tls_shared = vg_tls_shared_new();
    al->ssh_shared = vg_ssh_shared_new();
    if (al->http_shared == NULL || al->tls_shared == NULL || al->ssh_shared == NULL)
        goto fail;
    if (c->ndpi) {
        al->ndpi = vg_ndpi_new(c->ndpi_flows, c->ndpi_packets);
        if (al->ndpi == NULL)
            goto fail;
    }
    return al;
fail:
    vg_applayer_free(al);
    return NULL;
}

void vg_applayer_free(struct vg_applayer *al)
{
    if (al == NULL)
        return;
    for (uint32_t i = 0; al->slots != NULL && i < al->nslots; i++) {
        struct app_slot *s = &al->slots[i];
        if (s->proto == VG_APP_HTTP && s->state != 0)
            vg_http_state_release(pool_state(&al->pools[VG_APP_HTTP], s->state));
    }
    for (int p = 0; p < VG_APP_PROTO_COUNT; p++)
        pool_release_mem(&al->pools[p]);
    vg_http_shared_free(al->http_shared);
    vg_tls_shared_free(al->tls_shared);
    vg_ssh_shared_free(al->ssh_shared);
    vg_ndpi_free(al->ndpi);
    free(al->slots);
    free(al);
}

void vg_applayer_flow_start(struct vg_applayer *al, uint32_t slot)
{
    memset(&al->slots[slot], 0, sizeof(al->slots[slot]));
}

const struct vg_applayer_stats *vg_applayer_stats(const struct vg_applayer *al)
{
    return &al->st;
}

bool vg_applayer_reversed(const struct vg_applayer *al, uint32_t slot)
{
    return al->slots[slot].reversed != 0;
}

uint8_t vg_applayer_proto(const struct vg_applayer *al, uint32_t slot)
{
    const struct app_slot *s = &al->slots[slot];
    if (s->proto != VG_APP_UNKNOWN && s->proto != VG_APP_FAILED)
        return s->proto;
    if (s->ndpi_done && vg_ndpi_app_proto(&s->ndpi) != VG_APP_UNKNOWN)
        return VG_APP_OTHER;
    return s->proto;
}

/* ---- callbacks between the parsers and the worker ---- */

static void on_tx(void *user, const struct vg_app_tx *tx)
{
    struct vg_applayer *al = user;
    if (tx->last && tx->proto < VG_APP_PROTO_COUNT)
        al->st.transactions[tx->proto]++;
    if (al->outer == NULL || al->outer->tx == NULL)
        return;
    struct vg_app_tx copy = *tx;
    /* Stages come in order on each side (requests, responses), so a stage
     * at or before the last one inspected on its side is a repeat. */
    struct app_slot *s = al->cur;
    if (s != NULL) {
        int side = tx->stage >= VG_STAGE_RESPONSE;
        uint32_t key = tx->tx_id * 8u + tx->stage;
        if (s->inspected[side] && key <= s->last_key[side]) {
            copy.repeated = 1;
        } else {
            s->inspected[side] = 1;
            s->last_key[side] = key;
        }
    }
    /* Contents of an app rule that name no buffer see the stream bytes of
     * the stage: at a body stage the body (a body may span many chunks, and
     * Suricata inspects such a rule as the body grows), else the chunk that
     * completed the stage. */
    if (copy.buf[VG_BUF_PAYLOAD].data == NULL) {
        const struct vg_app_buf *body = NULL;
        if (tx->stage == VG_STAGE_RESPONSE_BODY)
            body = &tx->buf[VG_BUF_HTTP_RESPONSE_BODY];
        else if (tx->stage == VG_STAGE_REQUEST_BODY)
            body = &tx->buf[VG_BUF_HTTP_REQUEST_BODY];
        if (body != NULL && body->data != NULL)
            copy.buf[VG_BUF_PAYLOAD] = *body;
        else if (al->chunk != NULL) {
            copy.buf[VG_BUF_PAYLOAD].data = al->chunk;
            copy.buf[VG_BUF_PAYLOAD].len = al->chunk_len;
        }
    }
    al->outer->tx(al->outer->user, &copy);
}

static void on_anomaly(void *user, enum vg_app_proto proto, uint16_t event)
{
    struct vg_applayer *al = user;
    if (proto < VG_APP_PROTO_COUNT)
        al->st.anomalies[proto]++;
    if (al->outer != NULL && al->outer->anomaly != NULL)
        al->outer->anomaly(al->outer->user, proto, event);
}

/* ---- protocol decision ---- */

/* The parser state of a flow that was just named proto, from its pool. */
static void take_flow(struct vg_applayer *al, struct app_slot *s, enum vg_app_proto proto)
{
    s->proto = (uint8_t)proto;
    al->st.flows[proto]++;
    struct state_pool *pool = &al->pools[proto];
    s->state = pool_get(pool);
    if (s->state == 0) {
        al->st.state_pool_full[proto]++;
        return;
    }
    /* Each parser initialises what it uses: touching the whole state (its
     * buffers are tens of kilobytes) would cost a page fault per page. */
    void *st = pool_state(pool, s->state);
    switch (proto) {
    case VG_APP_HTTP:
        vg_http_state_init(st, &al->http_cfg, al->http_shared);
        break;
    case VG_APP_TLS:
        vg_tls_state_init(st, &al->tls_cfg, al->tls_shared);
        break;
    case VG_APP_DNS:
        vg_dns_state_init(st);
        break;
    case VG_APP_SSH:
        vg_ssh_state_init(st, al->ssh_shared);
        break;
    default:
        break;
    }
}

/* Asks the TCP parsers about the first bytes of a direction. Returns the
 * protocol, VG_APP_UNKNOWN when one needs more bytes, VG_APP_FAILED when
 * none fits. */
static enum vg_app_proto probe_tcp(const struct vg_applayer *al, int dir, const uint8_t *d,
                                   uint32_t n)
{
    bool more = false;
    int r;
    if (al->cfg.proto_enabled[VG_APP_HTTP]) {
        if ((r = vg_http_probe(dir, d, n)) == 1)
            return VG_APP_HTTP;
        more |= r < 0;
    }
    if (al->cfg.proto_enabled[VG_APP_TLS]) {
        if ((r = vg_tls_probe(dir, d, n)) == 1)
            return VG_APP_TLS;
        more |= r < 0;
    }
    if (al->cfg.proto_enabled[VG_APP_SSH]) {
        if ((r = vg_ssh_probe(dir, d, n)) == 1)
            return VG_APP_SSH;
        more |= r < 0;
    }
    if (al->cfg.proto_enabled[VG_APP_DNS]) {
        if ((r = vg_dns_probe(dir, d, n, true)) == 1)
            return VG_APP_DNS;
        more |= r < 0;
    }
    return more ? VG_APP_UNKNOWN : VG_APP_FAILED;
}

static bool proto_named(enum vg_app_proto p)
{
    return p != VG_APP_UNKNOWN && p != VG_APP_FAILED;
}

/* Exchanges bit 0 with bit 1 and bit 2 with bit 3: per-direction flags. */
static uint8_t swap_dir_bits(uint8_t v)
{
    return (uint8_t)((v & 0xf0u) | (v & 0x5u) << 1 | (v & 0xau) >> 1);
}

/* Swaps the flow's sides for the parsers: what was kept per direction
 * moves with it. */
static void reverse_slot(struct vg_applayer *al, struct app_slot *s)
{
    uint8_t prefix[PROBE_PREFIX];
    memcpy(prefix, s->prefix[0], PROBE_PREFIX);
    memcpy(s->prefix[0], s->prefix[1], PROBE_PREFIX);
    memcpy(s->prefix[1], prefix, PROBE_PREFIX);
    uint8_t len = s->prefix_len[0];
    s->prefix_len[0] = s->prefix_len[1];
    s->prefix_len[1] = len;
    s->probe_failed = swap_dir_bits(s->probe_failed);
    s->lost = swap_dir_bits(s->lost);
    s->reversed = 1;
    al->st.reversed++;
}

static void parse_tcp(struct vg_applayer *al, struct app_slot *s, int dir, const uint8_t *data,
                      uint32_t len, uint32_t flags)
{
    if (s->state == 0)
        return;
    struct vg_app_cb cb = {.user = al, .tx = on_tx, .anomaly = on_anomaly};
    void *st = pool_state(&al->pools[s->proto], s->state);
    al->chunk = len != 0 ? data : NULL;
    al->chunk_len = len;
    switch (s->proto) {
    case VG_APP_HTTP:
        vg_http_parse(st, dir, data, len, flags, &cb);
        break;
    case VG_APP_TLS:
        vg_tls_parse(st, dir, data, len, flags, &cb);
        break;
    case VG_APP_SSH:
        vg_ssh_parse(st, dir, data, len, flags, &cb);
        break;
    case VG_APP_DNS:
        vg_dns_parse_tcp(st, dir, data, len, flags, &cb);
        break;
    default:
        break;
    }
    al->chunk = NULL;
}

void vg_applayer_stream(struct vg_applayer *al, uint32_t slot, int dir, const uint8_t *data,
                        uint32_t len, uint32_t flags, const struct vg_app_cb *cb)
{
    if (!al->cfg.enabled)
        return;
    struct app_slot *s = &al->slots[slot];
    dir ^= s->reversed; /* the parsers' direction */
    uint8_t bit = (uint8_t)(1u << dir);
    al->outer = cb;
    al->cur = s;
    if (flags & VG_APP_GAP)
        al->st.gaps++;
    if (s->proto == VG_APP_UNKNOWN) {
        if (s->probe_failed & bit) {
            s->lost |= bit;
            return;
        }
        if (flags & VG_APP_GAP) {
            /* The start of this direction is gone: nothing to probe. */
            s->probe_failed |= bit;
            s->lost |= bit;
        } else if (len != 0) {
            /* Probe the kept prefix followed by this chunk. */
            uint8_t buf[PROBE_PREFIX + 256];
            uint32_t k = s->prefix_len[dir];
            memcpy(buf, s->prefix[dir], k);
            uint32_t take = len < sizeof(buf) - k ? len : (uint32_t)(sizeof(buf) - k);
            memcpy(buf + k, data, take);
            /* DNS over TCP needs its whole first message: probe the chunk
             * itself when nothing was kept. */
            enum vg_app_proto p =
                k == 0 ? probe_tcp(al, dir, data, len) : probe_tcp(al, dir, buf, k + take);
            /* Picked up midstream, the flow's first data may be the server's
             * (an HTTP response): then the sides swap for the rest of the
             * flow, as Suricata does. Only while the other direction has
             * shown nothing. */
            int other_bit = bit ^ 3;
            if (!proto_named(p) && (flags & VG_APP_MIDSTREAM) && s->prefix_len[dir ^ 1] == 0 &&
                !(s->probe_failed & other_bit)) {
                enum vg_app_proto rp = k == 0 ? probe_tcp(al, dir ^ 1, data, len)
                                              : probe_tcp(al, dir ^ 1, buf, k + take);
                if (proto_named(rp)) {
                    reverse_slot(al, s);
                    dir ^= 1;
                    bit = (uint8_t)(1u << dir);
                    p = rp;
                } else if (rp == VG_APP_UNKNOWN) {
                    p = VG_APP_UNKNOWN; /* the server side may still show */
                }
            }
            if (p == VG_APP_UNKNOWN) {
                if (k + len <= PROBE_PREFIX) {
                    memcpy(s->prefix[dir] + k, data, len);
                    s->prefix_len[dir] = (uint8_t)(k + len);
                    return;
                }
                p = VG_APP_FAILED;
            }
            if (p == VG_APP_FAILED) {
                s->probe_failed |= bit;
                s->lost |= bit;
            } else {
                take_flow(al, s, p);
                /* The other direction's kept bytes go first, as they came
                 * earlier; its lost bytes make a gap. */
                int other = dir ^ 1;
                if (s->prefix_len[other] != 0 && !(s->lost & (1u << other)))
                    parse_tcp(al, s, other, s->prefix[other], s->prefix_len[other], 0);
                else if (s->lost & (1u << other))
                    s->lost |= (uint8_t)(0x4u << other); /* gap pending */
                s->prefix_len[other] = 0;
                if (k != 0)
                    parse_tcp(al, s, dir, s->prefix[dir], k, 0);
                s->prefix_len[dir] = 0;
                parse_tcp(al, s, dir, data, len, flags & ~VG_APP_GAP);
                return;
            }
        }
        if (s->probe_failed == 3)
            s->proto = VG_APP_FAILED;
        return;
    }
    if (s->proto == VG_APP_FAILED || s->proto == VG_APP_OTHER)
        return;
    /* A direction whose first bytes were dropped before the decision
     * starts with a gap. */
    if (s->lost & (0x4u << dir)) {
        s->lost &= (uint8_t) ~(0x4u << dir);
        flags |= VG_APP_GAP;
    }
    parse_tcp(al, s, dir, data, len, flags);
}

void vg_applayer_udp(struct vg_applayer *al, uint32_t slot, int dir, const uint8_t *data,
                     uint32_t len, const struct vg_app_cb *cb)
{
    if (!al->cfg.enabled || len == 0)
        return;
    struct app_slot *s = &al->slots[slot];
    al->outer = cb;
    al->cur = s;
    if (s->proto == VG_APP_UNKNOWN) {
        if (!al->cfg.proto_enabled[VG_APP_DNS])
            return;
        int r = vg_dns_probe(dir, data, len, false);
        if (r != 1) {
            s->probe_failed |= (uint8_t)(1u << dir);
            if (s->probe_failed == 3)
                s->proto = VG_APP_FAILED;
            return;
        }
        take_flow(al, s, VG_APP_DNS);
    }
    if (s->proto != VG_APP_DNS || s->state == 0)
        return;
    struct vg_app_cb own = {.user = al, .tx = on_tx, .anomaly = on_anomaly};
    al->chunk = data;
    al->chunk_len = len;
    vg_dns_parse_udp(pool_state(&al->pools[VG_APP_DNS], s->state), dir, data, len, &own);
    al->chunk = NULL;
}

void vg_applayer_packet(struct vg_applayer *al, uint32_t slot, const struct vg_packet *p, int dir)
{
    if (al->ndpi == NULL)
        return;
    struct app_slot *s = &al->slots[slot];
    if (s->ndpi_done)
        return;
    if (!vg_ndpi_packet(al->ndpi, &s->ndpi_handle, p, dir, p->ts_us, &s->ndpi)) {
        s->ndpi_done = 1;
        al->st.ndpi_pool_full = vg_ndpi_stats(al->ndpi)->pool_exhausted;
        if (s->ndpi.guessed)
            al->st.ndpi_guessed++;
        else if (vg_ndpi_app_proto(&s->ndpi) != VG_APP_UNKNOWN)
            al->st.ndpi_detected++;
    }
}

void vg_applayer_flow_end(struct vg_applayer *al, uint32_t slot, const struct vg_app_cb *cb)
{
    struct app_slot *s = &al->slots[slot];
    al->outer = cb;
    al->cur = s;
    if (s->state != 0 && s->proto < VG_APP_PROTO_COUNT) {
        struct vg_app_cb own = {.user = al, .tx = on_tx, .anomaly = on_anomaly};
        void *st = pool_state(&al->pools[s->proto], s->state);
        al->chunk = NULL;
        switch (s->proto) {
        case VG_APP_DNS:
            vg_dns_flush(st, &own);
            break;
        case VG_APP_HTTP:
        case VG_APP_TLS:
        case VG_APP_SSH:
            for (int d = 0; d < 2; d++)
                parse_tcp(al, s, d, NULL, 0, VG_APP_END);
            if (s->proto == VG_APP_HTTP)
                vg_http_state_release(st);
            break;
        default:
            break;
        }
        pool_put(&al->pools[s->proto], s->state);
        s->state = 0;
    }
    if (s->proto == VG_APP_UNKNOWN &&
        (s->probe_failed != 0 || s->prefix_len[0] != 0 || s->prefix_len[1] != 0))
        s->proto = VG_APP_FAILED;
    if (al->ndpi != NULL && !s->ndpi_done) {
        vg_ndpi_flow_end(al->ndpi, &s->ndpi_handle, &s->ndpi);
        s->ndpi_done = 1;
        if (s->ndpi.guessed)
            al->st.ndpi_guessed++;
        else if (vg_ndpi_app_proto(&s->ndpi) != VG_APP_UNKNOWN)
            al->st.ndpi_detected++;
    }
    al->outer = NULL;
    al->cur = NULL;
}

void vg_applayer_flow_meta(struct vg_applayer *al, uint32_t slot, struct vg_meta_writer *w)
{
    struct app_slot *s = &al->slots[slot];
    if (al->ndpi == NULL || !s->ndpi_done || vg_ndpi_app_proto(&s->ndpi) == VG_APP_UNKNOWN)
        return;
    char proto[64];
    vg_ndpi_proto_name(al->ndpi, &s->ndpi, proto, sizeof(proto));
    const char *master = vg_ndpi_master_name(al->ndpi, &s->ndpi);
    const char *app = vg_ndpi_app_name(al->ndpi, &s->ndpi);
    if (master == NULL)
        master = "";
    if (vg_applayer_proto(al, slot) == VG_APP_OTHER) {
        /* Only nDPI names it: its protocol, lower-cased, is the flow's. */
        char lower[32];
        size_t i = 0;
        for (; master[i] != '\0' && i + 1 < sizeof(lower); i++)
            lower[i] = (char)tolower((unsigned char)master[i]);
        lower[i] = '\0';
        vg_meta_cstr(w, "app_proto", lower);
    }
    vg_meta_obj(w, "ndpi");
    vg_meta_cstr(w, "protocol", proto);
    vg_meta_cstr(w, "master", master);
    if (app != NULL && app[0] != '\0')
        vg_meta_cstr(w, "app", app);
    vg_meta_cstr(w, "category", vg_ndpi_category_name(al->ndpi, &s->ndpi));
    vg_meta_cstr(w, "confidence", s->ndpi.guessed ? "guessed" : "DPI");
    vg_meta_end(w);
}
