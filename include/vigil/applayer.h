/* Application layer (parsers/): what every protocol parser shares with the
 * worker and the detection engine.
 *
 * A parser consumes the bytes of one flow, per direction, in order (the
 * reassembled TCP stream, or one UDP payload at a time), and reports
 * transactions through struct vg_app_cb as they reach a stage: request
 * headers complete, request body complete, response headers, response body.
 * At each stage the transaction exposes the buffers that rules inspect
 * (struct vg_app_buf per enum vg_buffer) and can describe itself as an EVE
 * object (encode). Parsers never allocate after their state is initialised,
 * never block and never log: state sizes are fixed, and what does not fit
 * is cut and flagged. */
#ifndef VIGIL_APPLAYER_H
#define VIGIL_APPLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_meta_writer;

/* Protocols vigil parses itself. VG_APP_UNKNOWN: not (yet) recognised;
 * VG_APP_OTHER: recognised by nDPI only (its name is in the flow's nDPI
 * result); VG_APP_FAILED: no parser took the flow. */
enum vg_app_proto {
    VG_APP_UNKNOWN = 0,
    VG_APP_HTTP = 1,
    VG_APP_TLS = 2,
    VG_APP_DNS = 3,
    VG_APP_SSH = 4,
    VG_APP_OTHER = 5,
    VG_APP_FAILED = 6,
    VG_APP_PROTO_COUNT
};

/* "http", "tls", "dns", "ssh", "failed"; NULL for unknown and other. */
const char *vg_app_proto_name(enum vg_app_proto p);

/* The points at which a transaction is inspected, in the order they come.
 * A rule is inspected once per transaction, at the stage where the last of
 * its buffers becomes available. */
enum vg_app_stage {
    VG_STAGE_NONE = 0,
    VG_STAGE_REQUEST = 1,       /* request line and headers; TLS ClientHello; DNS query;
                                 * SSH client banner and KEXINIT */
    VG_STAGE_REQUEST_BODY = 2,  /* HTTP request body complete (or its inspection limit) */
    VG_STAGE_RESPONSE = 3,      /* status line and headers; TLS ServerHello and certificate;
                                 * DNS answer; SSH server banner and KEXINIT */
    VG_STAGE_RESPONSE_BODY = 4, /* HTTP response body complete (or its inspection limit) */
    VG_STAGE_COUNT
};

/* Buffers rules name (sticky buffers and the old content modifiers). The
 * request and response variants of a header buffer are separate: a rule
 * that inspects to_client gets the response's. */
enum vg_buffer {
    VG_BUF_PAYLOAD = 0, /* packet payload or stream bytes: no sticky buffer */
    /* HTTP request */
    VG_BUF_HTTP_METHOD,
    VG_BUF_HTTP_URI,     /* normalised: percent-decoded, dot segments removed */
    VG_BUF_HTTP_URI_RAW, /* as sent */
    VG_BUF_HTTP_PROTOCOL,
    VG_BUF_HTTP_REQUEST_LINE,
    VG_BUF_HTTP_HOST, /* lower-cased, port removed */
    VG_BUF_HTTP_HOST_RAW,
    VG_BUF_HTTP_USER_AGENT,
    VG_BUF_HTTP_REFERER,
    VG_BUF_HTTP_HEADER, /* "Name: value\r\n" per header, Cookie left out, as Suricata */
    VG_BUF_HTTP_HEADER_RAW,
    VG_BUF_HTTP_HEADER_NAMES, /* "\r\nName1\r\nName2\r\n\r\n" */
    VG_BUF_HTTP_CONNECTION,
    VG_BUF_HTTP_COOKIE,
    VG_BUF_HTTP_CONTENT_TYPE,
    VG_BUF_HTTP_CONTENT_LEN,
    VG_BUF_HTTP_START, /* request line, headers and the blank line */
    VG_BUF_HTTP_REQUEST_BODY,
    /* HTTP response */
    VG_BUF_HTTP_STAT_CODE,
    VG_BUF_HTTP_STAT_MSG,
    VG_BUF_HTTP_RESPONSE_LINE,
    VG_BUF_HTTP_RESPONSE_HEADER,
    VG_BUF_HTTP_RESPONSE_HEADER_RAW,
    VG_BUF_HTTP_RESPONSE_HEADER_NAMES,
    VG_BUF_HTTP_RESPONSE_CONNECTION,
    VG_BUF_HTTP_SET_COOKIE,
    VG_BUF_HTTP_RESPONSE_CONTENT_TYPE,
    VG_BUF_HTTP_RESPONSE_CONTENT_LEN,
    VG_BUF_HTTP_RESPONSE_START,
    VG_BUF_HTTP_SERVER,
    VG_BUF_HTTP_LOCATION,
    VG_BUF_HTTP_RESPONSE_BODY, /* decoded (dechunked, decompressed); file.data too */
    /* TLS */
    VG_BUF_TLS_SNI,
    VG_BUF_TLS_CERT_SUBJECT,
    VG_BUF_TLS_CERT_ISSUER,
    VG_BUF_TLS_CERT_SERIAL,
    VG_BUF_TLS_CERT_FINGERPRINT,
    VG_BUF_JA3_HASH,
    VG_BUF_JA3_STRING,
    VG_BUF_JA3S_HASH,
    VG_BUF_JA3S_STRING,
    VG_BUF_JA4_HASH,
    VG_BUF_TLS_ALPN, /* the client's protocols, comma separated */
    /* DNS */
    VG_BUF_DNS_QUERY, /* first question's name, dotted, as sent */
    /* SSH */
    VG_BUF_SSH_PROTO,    /* the protocol version of the banner in the stage's direction */
    VG_BUF_SSH_SOFTWARE, /* the software version of that banner */
    VG_BUF_SSH_HASSH,
    VG_BUF_SSH_HASSH_STRING,
    VG_BUF_SSH_HASSH_SERVER,
    VG_BUF_SSH_HASSH_SERVER_STRING,
    VG_BUF_COUNT
};

/* One buffer of a transaction. data == NULL: not present at this stage. */
struct vg_app_buf {
    const uint8_t *data;
    uint32_t len;
};

/* A transaction at a stage. Pointers are valid during the callback only. */
struct vg_app_tx {
    uint8_t proto;    /* enum vg_app_proto */
    uint8_t stage;    /* enum vg_app_stage */
    uint8_t dir;      /* enum vg_flow_dir of the data that completed the stage */
    uint8_t last;     /* the transaction is complete: its record is written now */
    uint8_t repeated; /* set by the dispatcher: this stage of this transaction was
                       * already inspected (a parser closing it at the flow's end
                       * reports it again), so rules are not run twice */
    uint32_t tx_id;   /* per flow and protocol, from 0 */
    struct vg_app_buf buf[VG_BUF_COUNT];
    /* Writes the transaction's EVE object (e.g. "http":{...}) with what is
     * known at this stage. */
    void (*encode)(const void *obj, struct vg_meta_writer *w);
    const void *obj;
};

/* Anomalies parsers raise are numbered per protocol; the name is what EVE
 * and app-layer-event show (e.g. "INVALID_TRANSFER_ENCODING"). */
struct vg_app_cb {
    void *user;
    void (*tx)(void *user, const struct vg_app_tx *tx);
    void (*anomaly)(void *user, enum vg_app_proto proto, uint16_t event);
};

/* The name of a parser's event number, for EVE and app-layer-event. NULL
 * when the protocol has no such event. */
const char *vg_app_event_name(enum vg_app_proto p, uint16_t ev);

/* Flags for a parser's input. */
#define VG_APP_GAP       0x01u /* bytes were lost before this chunk */
#define VG_APP_END       0x02u /* the direction ends after this chunk (which may be empty) */
#define VG_APP_MIDSTREAM 0x04u /* the TCP session was picked up midstream (no SYN seen) */

/* ---- The per-worker dispatcher (parsers/applayer.c) ----
 * Picks the protocol of each flow by content (and nDPI for the protocols
 * vigil has no parser for), holds the per-flow parser states in bounded
 * pools, and routes stream chunks and UDP payloads to the parsers. */

struct vg_packet;
struct vg_config;
struct vg_applayer;

struct vg_applayer_config {
    bool enabled;          /* app-layer.enabled */
    bool ndpi;             /* app-layer.ndpi.enabled */
    uint32_t ndpi_flows;   /* app-layer.ndpi.max-flows: nDPI states in use at once */
    uint32_t ndpi_packets; /* app-layer.ndpi.max-packets: give up after this many */
    /* Parser states in use at once, per protocol (app-layer.protocols.<p>.max-flows);
     * at the cap a new flow of that protocol is named but not parsed (counted). */
    uint32_t max_flows[VG_APP_PROTO_COUNT];
    bool proto_enabled[VG_APP_PROTO_COUNT]; /* app-layer.protocols.<p>.enabled */
    uint32_t http_request_body_limit;       /* ...http.request-body-limit */
    uint32_t http_response_body_limit;      /* ...http.response-body-limit */
    uint32_t http_header_limit;             /* ...http.header-limit */
    uint32_t http_inflaters;                /* ...http.decompressors: gzip/deflate bodies at once */
    uint32_t tls_handshake_limit;           /* ...tls.handshake-limit */
};

void vg_applayer_config_default(struct vg_applayer_config *c);
/* Reads app-layer.* keys. Returns 0, or -1 with the bad key in err. */
int vg_applayer_config_load(struct vg_applayer_config *c, const struct vg_config *cfg, char *err,
                            size_t errlen);
/* Splits the sensor-wide caps between n workers. */
void vg_applayer_config_split(struct vg_applayer_config *c, unsigned n);

struct vg_applayer_stats {
    uint64_t flows[VG_APP_PROTO_COUNT]; /* flows taken, per protocol */
    uint64_t state_pool_full[VG_APP_PROTO_COUNT];
    uint64_t transactions[VG_APP_PROTO_COUNT];
    uint64_t anomalies[VG_APP_PROTO_COUNT];
    uint64_t gaps;
    uint64_t reversed; /* midstream flows whose first data was a server's: directions swapped */
    uint64_t ndpi_detected;
    uint64_t ndpi_guessed;
    uint64_t ndpi_pool_full;
};

/* Everything up front: per-slot records for flow_slots flows, the state
 * pools, nDPI. NULL when memory runs out. */
struct vg_applayer *vg_applayer_new(const struct vg_applayer_config *c, uint32_t flow_slots);
void vg_applayer_free(struct vg_applayer *al);

/* A flow slot starts a new flow (forget the previous one's choice). */
void vg_applayer_flow_start(struct vg_applayer *al, uint32_t slot);

/* Every packet of a flow: feeds nDPI while it has not decided. dir is
 * enum vg_flow_dir. */
void vg_applayer_packet(struct vg_applayer *al, uint32_t slot, const struct vg_packet *p, int dir);

/* In-order bytes of one TCP direction (flags VG_APP_GAP, VG_APP_END,
 * VG_APP_MIDSTREAM). On a flow picked up midstream whose first data is
 * recognised as the server side of a protocol (an HTTP response, a TLS
 * ServerHello), the flow's sides are swapped for the application layer, as
 * Suricata does: dir stays the flow's direction, but from then on the
 * parsers and the transactions' dir (enum vg_flow_dir) see the real one. */
void vg_applayer_stream(struct vg_applayer *al, uint32_t slot, int dir, const uint8_t *data,
                        uint32_t len, uint32_t flags, const struct vg_app_cb *cb);

/* One UDP payload. */
void vg_applayer_udp(struct vg_applayer *al, uint32_t slot, int dir, const uint8_t *data,
                     uint32_t len, const struct vg_app_cb *cb);

/* The flow ends: open transactions are reported (last=1), states return to
 * their pools. */
void vg_applayer_flow_end(struct vg_applayer *al, uint32_t slot, const struct vg_app_cb *cb);

/* Whether the application layer swapped the flow's directions: a
 * transaction's dir is then the opposite of the flow direction its bytes
 * came in. */
bool vg_applayer_reversed(const struct vg_applayer *al, uint32_t slot);

/* The flow's protocol as known now (enum vg_app_proto). */
uint8_t vg_applayer_proto(const struct vg_applayer *al, uint32_t slot);

/* Writes the flow's protocol facts for its flow record: "app_proto" when
 * only nDPI names it, and the "ndpi" object. */
void vg_applayer_flow_meta(struct vg_applayer *al, uint32_t slot, struct vg_meta_writer *w);

const struct vg_applayer_stats *vg_applayer_stats(const struct vg_applayer *al);

#endif
