/* HTTP/1.0 and 1.1 (parsers/http.c, parsers/http_uri.c): both directions of
 * one TCP flow, requests paired with responses in order.
 *
 * Transactions. A transaction is one request and its response. It is
 * reported through cb->tx at each stage it reaches:
 *   VG_STAGE_REQUEST        request line and headers complete
 *   VG_STAGE_REQUEST_BODY   request body complete or its keep-limit reached
 *                           (only when the request has a body)
 *   VG_STAGE_RESPONSE       status line and headers of the final response
 *                           (interim 1xx responses other than 101 are skipped)
 *   VG_STAGE_RESPONSE_BODY  response body complete or its keep-limit reached
 *                           (only when the response has a body)
 * last=1 marks the final report of a transaction. When a body reached its
 * keep-limit before it ended, its stage is reported at the limit (last=0)
 * and once more with last=1 when the body ends; a transaction still open
 * when its flow ends (VG_APP_END), when data is lost (VG_APP_GAP) or when
 * the flow leaves HTTP is reported once more with last=1 at the stage it
 * had reached. A consumer therefore inspects each stage once and writes the
 * record on last=1.
 *
 * Buffers. Each report carries every VG_BUF_HTTP_* buffer known at its
 * stage; tx->buf[VG_BUF_PAYLOAD] is left NULL. The request's buffers stay
 * available at the response stages while the state holds them: the state
 * keeps the buffers of cfg.request_slots requests (default 2). With deeper
 * pipelining (more requests sent before the first response), a new request
 * takes the slot of the oldest one still waiting, whose response stages
 * then come without request buffers (stats.request_buffers_evicted). At
 * most cfg.max_pending requests wait for responses; beyond that the oldest
 * is reported complete (last=1) without its response and that response is
 * parsed and skipped (stats.pipeline_overflow).
 *
 * Memory. A state is one block of vg_http_state_size() bytes that the
 * caller provides; it holds pointers into itself, so it must not be moved
 * or copied once initialised. Nothing is allocated while parsing: header
 * bytes beyond header_limit are cut (HEADERS_CUT), lines beyond line_limit
 * are cut to it (REQUEST_LINE_TOO_LONG / HEADER_LINE_TOO_LONG), bodies are
 * kept up to their limits. Framing headers (Content-Length,
 * Transfer-Encoding, Connection, Upgrade, Content-Encoding) are honoured
 * even when they come after the cut. gzip and deflate response bodies are
 * decoded with zlib inflate contexts borrowed from a per-worker pool
 * (vg_http_shared) for the duration of one body.
 *
 * Lost data. After VG_APP_GAP, or when a message cannot be parsed, the
 * direction looks for the next message start (a request line to the
 * server, a status line to the client) at a line start; after
 * cfg.resync_limit bytes without one the flow is given up
 * (vg_http_left() == VG_HTTP_LEFT_GAVE_UP). */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/applayer.h"

struct vg_meta_writer;

/* Anomalies, numbered for struct vg_app_cb.anomaly; names from
 * vg_http_event_name. Fewer than 64, so a transaction keeps them as a mask. */
enum vg_http_event {
    VG_HTTP_EV_TRANSFER_ENCODING_NOT_CHUNKED = 0, /* value not exactly "chunked" */
    VG_HTTP_EV_CONNECTION_NAMES_END_TO_END_HEADER,
    VG_HTTP_EV_CONTENT_LENGTH_AND_TRANSFER_ENCODING,
    VG_HTTP_EV_DUPLICATE_CONTENT_LENGTH, /* repeated with different values */
    VG_HTTP_EV_INVALID_CONTENT_LENGTH,
    VG_HTTP_EV_REQUEST_LINE_TOO_LONG,
    VG_HTTP_EV_HEADER_LINE_TOO_LONG,
    VG_HTTP_EV_HEADERS_CUT, /* headers beyond header_limit or max_headers */
    VG_HTTP_EV_INVALID_REQUEST_LINE,
    VG_HTTP_EV_INVALID_STATUS_LINE,
    VG_HTTP_EV_INVALID_CHUNK,
    VG_HTTP_EV_URI_DOUBLE_ENCODED, /* %25 followed by two hex digits */
    VG_HTTP_EV_URI_INVALID_ENCODING,
    VG_HTTP_EV_URI_NUL_BYTE, /* %00 or a raw NUL */
    VG_HTTP_EV_GAP,
    VG_HTTP_EV_UNSOLICITED_RESPONSE,
    VG_HTTP_EV_DECOMPRESSION_FAILED,
    VG_HTTP_EV_HEADER_FOLDING,                /* obs-fold continuation line */
    VG_HTTP_EV_HEADER_MISSING_COLON,          /* a header line without ':' (ignored) */
    VG_HTTP_EV_HEADER_NAME_INVALID,           /* whitespace before ':' or a non-token name */
    VG_HTTP_EV_MISSING_HOST_HEADER,           /* HTTP/1.1 request without Host */
    VG_HTTP_EV_HOST_HEADER_AMBIGUOUS,         /* several Host values, or URI host != Host */
    VG_HTTP_EV_REQUEST_LINE_MISSING_PROTOCOL, /* HTTP/0.9 request */
    VG_HTTP_EV_TRANSFER_ENCODING_IN_HTTP10,   /* chunked framing in an HTTP/1.0 message */
    VG_HTTP_EV_ABNORMAL_CONTENT_ENCODING,     /* several or unknown codings: body kept encoded */
    VG_HTTP_EV_REQUEST_BODY_WITHOUT_LENGTH,   /* Transfer-Encoding without chunked in a request */
    VG_HTTP_EV_BIGIP_COOKIE_PRIVATE_MEMBER,   /* Set-Cookie: BIG-IP cookie, private member */
    VG_HTTP_EV_EVENT_COUNT
};

/* Suricata-style upper-case name ("TRANSFER_ENCODING_NOT_CHUNKED"); NULL
 * when ev is out of range. */
const char *vg_http_event_name(uint16_t ev);

struct vg_http_config {
    uint32_t header_limit;        /* bytes of start line + headers kept per message (16384) */
    uint32_t line_limit;          /* longest line before the too-long anomaly (8192; at most
                                     header_limit) */
    uint32_t request_body_limit;  /* request body bytes kept for http.request_body (8192) */
    uint32_t response_body_limit; /* decoded response body bytes kept (16384) */
    uint32_t decompress_limit;    /* decoded bytes per body at most (0: response_body_limit) */
    uint32_t max_headers;         /* header fields kept per message (64) */
    uint32_t request_slots;       /* requests whose buffers are held for their response (2,
                                     at most 16) */
    uint32_t max_pending;         /* requests awaiting a response (16, at most 64) */
    uint32_t resync_limit;        /* bytes searched for a message start after a gap before the
                                     flow is given up (1 MiB) */
    uint32_t log_headers_max;     /* request_headers / response_headers entries in EVE (32) */
};

void vg_http_config_default(struct vg_http_config *c);

struct vg_http_stats {
    uint64_t transactions;
    uint64_t anomalies;
    uint64_t inflate_pool_exhausted;  /* bodies inspected undecoded: no inflate context free */
    uint64_t bodies_cut;              /* bodies longer than their keep-limit (or decode limit) */
    uint64_t headers_cut;             /* messages whose headers exceeded the limits */
    uint64_t request_buffers_evicted; /* a waiting request lost its buffers to a newer one */
    uint64_t pipeline_overflow;       /* a request completed without its response: queue full */
    uint64_t gaps;
    uint64_t flows_given_up; /* no message start found within resync_limit */
    uint64_t bodies_decoded; /* gzip or deflate bodies inflated */
    uint64_t decoded_bytes;  /* bytes produced by inflate */
};

/* ---- Per-worker shared resources ----
 * A bounded pool of zlib inflate contexts whose memory is preallocated
 * (zalloc/zfree over it), the worker's HTTP counters, and scratch space.
 * When every context is in use a compressed body is inspected as received
 * and stats.inflate_pool_exhausted counts it. Not thread-safe: one per
 * worker. NULL on allocation failure. */
struct vg_http_shared;
struct vg_http_shared *vg_http_shared_new(const struct vg_http_config *c, uint32_t max_inflaters);
void vg_http_shared_free(struct vg_http_shared *sh);
const struct vg_http_stats *vg_http_shared_stats(const struct vg_http_shared *sh);
/* Inflate contexts currently lent to flows. */
uint32_t vg_http_shared_inflaters_in_use(const struct vg_http_shared *sh);

/* ---- URI normalisation (http_uri.c) ----
 * The normalised form of a request target, as http.uri shows it:
 *   - absolute-form ("http://host/p?q"): only the path and query are kept;
 *     authority-form (CONNECT) and "*" are copied unchanged;
 *   - ";params" are stripped from every path segment (as Tomcat and BIG-IP
 *     match paths, so "/a/..;/b" is "/b");
 *   - the path is percent-decoded once, %2f included; %00 decodes to a NUL
 *     (flagged); an invalid escape is kept as is (flagged); "%25" followed
 *     by two hex digits is flagged as double encoding; backslashes are kept;
 *   - dot segments are removed (RFC 3986 5.2.4);
 *   - the query ("?..." to the end) is appended as received.
 * Writes at most cap bytes to out and returns the length written; the
 * result is never longer than the input. *flags gets VG_HTTP_URI_*. */
#define VG_HTTP_URI_DOUBLE_ENCODED   0x01u
#define VG_HTTP_URI_INVALID_ENCODING 0x02u
#define VG_HTTP_URI_NUL_BYTE         0x04u
uint32_t vg_http_uri_normalize(const uint8_t *uri, uint32_t len, uint8_t *out, uint32_t cap,
                               uint32_t *flags);

/* Host and port of an absolute-form target ("http://user@Host:8080/x"):
 * sets *host and *host_len to the host as written (brackets of an IPv6 literal
 * kept) and *port to the port or 0. Returns false when uri is not in
 * absolute form. */
bool vg_http_uri_authority(const uint8_t *uri, uint32_t len, const uint8_t **host,
                           uint32_t *host_len, uint32_t *port);

/* ---- Content detection ----
 * 1: HTTP (a known method and a space to the server; "HTTP/1." to the
 * client), 0: not HTTP, -1: a prefix of HTTP, more bytes needed. */
int vg_http_probe(int dir, const uint8_t *data, uint32_t len);

/* ---- Per-flow state ----
 * Internal layout, defined here so callers can see what a state holds; use
 * the functions only. */
struct vg_http_hdr_entry {
    uint32_t name_off;  /* in the message's raw bytes */
    uint32_t value_off; /* raw span of the value, continuation lines included */
    uint32_t value_len;
    uint32_t out_off; /* this field's unfolded value inside the message's http.start */
    uint32_t out_len;
    uint32_t merged_len; /* first field of a name: its value and the repeats', ", "-joined */
    uint16_t name_len;
    uint16_t first; /* index of the first field with the same name */
};

/* The buffers of one message (a request slot or the response). */
struct vg_http_msgbuf {
    uint8_t *raw;     /* start line and headers as received (header_limit) */
    uint8_t *derived; /* normalised buffers built at the end of the headers */
    uint8_t *body;
    struct vg_http_hdr_entry *hdr;
    uint32_t raw_len;
    uint32_t derived_len;
    uint32_t derived_cap;
    uint32_t body_len;
    uint32_t body_cap;
    uint32_t nhdr;
    uint32_t owner; /* tx_id of the transaction using it; UINT32_MAX: free */
    uint32_t port;  /* port from Host (or the absolute URI), 0: none */
    uint16_t status;
    struct vg_app_buf b[VG_BUF_COUNT];
};

/* A transaction waiting for its response. */
struct vg_http_txrec {
    uint64_t anomalies;    /* 1 << enum vg_http_event */
    uint64_t response_len; /* response body bytes, dechunked */
    uint32_t tx_id;
    uint8_t slot;   /* request slot holding its buffers; 0xff: none */
    uint8_t stage;  /* last stage reported */
    uint16_t flags; /* http.c: HEAD, CONNECT, request complete, ... */
};

/* The message being parsed in one direction. */
struct vg_http_dir {
    uint8_t state;
    uint8_t chunk_state;
    uint8_t coding;          /* Content-Encoding to decode */
    uint8_t line_flags;      /* the current line: too long, cut, ... */
    uint8_t msg_flags;       /* the current message: start line seen, cut, HTTP/1.0 */
    uint8_t framing_pending; /* which framing header the last header line was */
    uint8_t ended;
    uint8_t carry_len;
    uint8_t req_flags; /* request: HEAD, CONNECT, WebSocket asked */
    uint8_t inflate_state;
    uint8_t inflate_head_len;
    uint8_t body_reported;
    uint8_t body_cut;
    uint8_t te_chunked;
    uint8_t te_present;
    uint8_t upgrade_ws;
    uint8_t conn_flagged;
    uint8_t inflate_head[2];
    uint32_t line_off; /* where the current line starts in raw */
    uint32_t line_len; /* bytes of the current line so far (stored or not) */
    uint32_t scratch_len;
    uint32_t pend_len;
    uint32_t headers_seen; /* header lines of the message */
    uint32_t chunk_digits;
    uint32_t chunk_line;
    uint32_t resync_bytes;
    uint32_t slot;          /* request: slot being filled */
    uint32_t cur_tx;        /* transaction of the message in progress; UINT32_MAX: none yet */
    int64_t content_length; /* -1: none */
    uint64_t remaining;     /* body bytes left of the length or the chunk */
    uint64_t body_seen;     /* body bytes as framed (dechunked) */
    uint64_t decoded;       /* inflated bytes of this body */
    uint64_t anomalies;     /* raised before the message has a transaction */
    void *inflater;         /* borrowed from the shared pool */
    uint8_t carry[16];      /* partial message start held across chunks while resyncing */
    uint8_t scratch[256];   /* first bytes of the current line, for framing headers */
    uint8_t pend[256];      /* value of the last framing header, folded lines joined */
};

#define VG_HTTP_PENDING_MAX 64u
#define VG_HTTP_SLOTS_MAX   16u

struct vg_http_state {
    struct vg_http_config cfg;
    struct vg_http_shared *sh;
    struct vg_http_stats *stats; /* the shared pool's, or own_stats without one */
    struct vg_http_stats own_stats;
    uint32_t next_tx_id;
    uint32_t next_slot;
    uint32_t skip_responses; /* responses of transactions dropped on overflow */
    uint8_t left;            /* enum vg_http_left */
    uint8_t npending;
    uint8_t pending_head;
    uint8_t rsp_tx_active;
    struct vg_http_dir d[2];
    struct vg_http_txrec pending[VG_HTTP_PENDING_MAX];
    struct vg_http_txrec rsp_tx; /* unsolicited response */
    struct vg_http_msgbuf rsp;
    struct vg_http_msgbuf *req; /* cfg.request_slots slots, in mem */
    uint64_t mem[];
};

/* Why a flow stopped being parsed as HTTP. */
enum vg_http_left {
    VG_HTTP_LEFT_NO = 0,
    VG_HTTP_LEFT_CONNECT = 1, /* a 2xx answered CONNECT: a tunnel follows */
    VG_HTTP_LEFT_UPGRADE = 2, /* 101 Switching Protocols (WebSocket or other) */
    VG_HTTP_LEFT_GAVE_UP = 3, /* no message start found after a gap or an error */
};

/* Bytes for one flow's state, buffers included. */
size_t vg_http_state_size(const struct vg_http_config *c);
/* sh may be NULL: compressed bodies are then kept as received and the
 * counters stay in the state (vg_http_state_stats). */
void vg_http_state_init(struct vg_http_state *s, const struct vg_http_config *c,
                        struct vg_http_shared *sh);
/* Returns borrowed inflate contexts to the pool. Call when the flow ends. */
void vg_http_state_release(struct vg_http_state *s);
const struct vg_http_stats *vg_http_state_stats(const struct vg_http_state *s);

/* dir: 0 to the server, 1 to the client. flags: VG_APP_GAP, VG_APP_END. */
void vg_http_parse(struct vg_http_state *s, int dir, const uint8_t *data, uint32_t len,
                   uint32_t flags, const struct vg_app_cb *cb);

/* enum vg_http_left: whether the flow left HTTP (and why). Once it has,
 * vg_http_parse ignores further data. */
int vg_http_left(const struct vg_http_state *s);

#endif
