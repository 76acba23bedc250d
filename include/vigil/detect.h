/* Rules and detection (signatures/): Suricata rule syntax, compiled to
 * Hyperscan databases (one for packet payloads, one in streaming mode for
 * reassembled TCP streams) whose matches are candidates; each candidate rule
 * is then verified in full on the packet or the stream.
 *
 * Threading: a vg_ruleset is immutable once loaded and is shared by all
 * workers; each worker owns a vg_detect_ctx (Hyperscan scratch, candidate
 * buffers and its pool of stream states), so detection takes no lock and
 * allocates nothing. */
#ifndef VIGIL_DETECT_H
#define VIGIL_DETECT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/applayer.h"
#include "vigil/flow.h"
#include "vigil/packet.h"

struct vg_config;
struct vg_ruleset;
struct vg_detect_ctx;

/* What an alert record needs of its rule. Lives as long as the rule set. */
struct vg_rule_meta {
    uint32_t sid;
    uint32_t gid;
    uint32_t rev;
    uint32_t priority;     /* EVE "severity": priority keyword, else classtype priority, else 3 */
    const char *msg;       /* "" when the rule has none */
    const char *classtype; /* NULL when none */
    const char *category;  /* classtype description, "" when none */
    /* The metadata keyword's pairs, grouped by key (keys in the order they
     * first appear): EVE shows them as "metadata": {key: [values]}. */
    const struct vg_rule_kv *metadata;
    uint16_t nmetadata;
    uint8_t target; /* enum vg_rule_target */
};

struct vg_rule_kv {
    const char *key;
    const char *value;
};

/* The target keyword: which side of an alert is attacked. EVE then adds
 * "source" and "target" objects to the alert. */
enum vg_rule_target {
    VG_TARGET_NONE = 0,
    VG_TARGET_SRC,  /* target:src_ip */
    VG_TARGET_DEST, /* target:dest_ip */
};

struct vg_rule_load_opts {
    const char *const *files; /* rule files, loaded in order */
    int nfiles;
    const struct vg_config *cfg;     /* for $VARS; may be NULL (then only built-ins) */
    const char *classification_file; /* NULL: the built-in classification table */
    FILE *err;                       /* where "file:line: message" lines go; may be NULL */
    const char *threshold_file;      /* Suricata's threshold.config; NULL: none */
};

struct vg_ruleset_stats {
    uint32_t rules_loaded;
    uint32_t rules_skipped; /* a rule with an error or unsupported keyword */
    uint32_t rules_dormant; /* a rule whose source or destination is an address group
                             * set to "none" (not configured yet): not loaded, not an error */
    uint32_t files_failed;  /* a file that could not be opened */
    uint32_t patterns;      /* fast patterns in the Hyperscan database */
    uint32_t no_pattern_rules;
    uint64_t db_bytes;
    double compile_ms;
    uint32_t stream_rules;          /* rules inspected on reassembled streams (their fast
                                     * patterns form the streaming database) */
    uint32_t stream_window;         /* bytes each stream keeps for verification */
    uint64_t stream_db_bytes;       /* streaming Hyperscan database */
    uint32_t app_rules;             /* rules inspected on application-layer transactions */
    uint64_t app_db_bytes;          /* their Hyperscan databases, all buffers */
    uint32_t threshold_rules;       /* rules with a threshold, detection_filter or suppression */
    uint32_t threshold_entries;     /* slots of the shared tracking table (0: none needed) */
    uint64_t threshold_table_bytes; /* its memory, allocated once */
    uint32_t xbits_rules;           /* rules with an xbits option */
    uint32_t xbits_entries;         /* slots of the shared xbits table (0: none needed) */
    uint64_t xbits_table_bytes;     /* its memory, allocated once */
    uint32_t threshold_file_errors; /* threshold file lines reported and skipped */
    uint32_t packet_databases;      /* distinct packet databases: rules are grouped by protocol,
                                     * direction and stream coverage (db_bytes is their sum) */
    /* For vigil -T: rules by inspection path, per-database sizes and
     * compile times. */
    uint32_t packet_rules; /* rules inspected on packets (stream-or-packet rules included) */
    uint32_t event_rules;  /* rules with app-layer-event, decode-event or stream-event */
    uint32_t app_buf_patterns[VG_BUF_COUNT]; /* fast patterns in each buffer's database */
    uint64_t app_buf_bytes[VG_BUF_COUNT];    /* each buffer's database */
    double packet_compile_ms;
    double stream_compile_ms;
    double app_compile_ms; /* every buffer's database */
};

/* Skipped rules with one cause: the cause is the error message, or its
 * leading words when the rest names the rule's own values ("bad content",
 * "unsupported keyword 'foo'"). */
struct vg_skip_reason {
    const char *reason;
    uint32_t count;
};

/* The causes rules were skipped for, most frequent first (ties by cause);
 * sets *out (valid as long as the rule set) and returns their number. */
uint32_t vg_ruleset_skip_reasons(const struct vg_ruleset *rs, const struct vg_skip_reason **out);

/* Loads and compiles rules. Returns NULL only when nothing usable can be
 * built (a file cannot be read, or Hyperscan refuses the database), with the
 * reason written to opts->err. Rules with errors are reported, counted and
 * skipped; the others load. */
struct vg_ruleset *vg_ruleset_load(const struct vg_rule_load_opts *opts,
                                   struct vg_ruleset_stats *stats);
void vg_ruleset_free(struct vg_ruleset *rs);
const struct vg_ruleset_stats *vg_ruleset_stats(const struct vg_ruleset *rs);
/* Alerts raised because the threshold tracking table had no free slot for
 * their key within its probe bound (the table fails open). */
uint64_t vg_ruleset_threshold_table_full(const struct vg_ruleset *rs);
/* xbits sets dropped because the shared xbits table had no free slot for
 * their key within its probe bound (detect.xbits.max-entries). */
uint64_t vg_ruleset_xbits_table_full(const struct vg_ruleset *rs);

/* What vg_ruleset_reload_lists did. */
struct vg_reload_stats {
    uint32_t datasets_reloaded; /* lists read again and now in force */
    uint32_t datasets_failed;   /* lists that kept their previous contents */
    uint64_t entries;           /* entries of the reloaded lists (exact entries and blocks) */
};

/* Reads every dataset's list file again (the path and format it was loaded
 * with) while workers keep matching. Each list that reads cleanly replaces
 * the set's contents at once; one that does not (missing file, a bad line,
 * over its memcap) keeps its previous contents, with "file:line: message"
 * on err (may be NULL). Then calls wait_readers(arg) once, which must return
 * only when no worker can still be inside a lookup begun before the swap,
 * and frees the replaced contents. IP reputation (iprep) lists are not
 * reloaded. Not for the packet path: reads files and allocates. st may be
 * NULL. Returns 0 when every list was reloaded, -1 when one failed. */
int vg_ruleset_reload_lists(struct vg_ruleset *rs, FILE *err, void (*wait_readers)(void *arg),
                            void *arg, struct vg_reload_stats *st);

/* Per-worker state (stream states come with vg_detect_ctx_streams). NULL on
 * allocation failure. */
struct vg_detect_ctx *vg_detect_ctx_new(const struct vg_ruleset *rs);
void vg_detect_ctx_free(struct vg_detect_ctx *ctx);

/* Flow facts a rule may test (flow: keyword). */
#define VG_DF_HAS_FLOW    0x01u
#define VG_DF_TOSERVER    0x02u
#define VG_DF_TOCLIENT    0x04u
#define VG_DF_ESTABLISHED 0x08u
/* This packet's payload is covered by stream reassembly: the rules the
 * stream inspects (tcp, tcp-stream, only_stream with a content) are left to
 * vg_detect_stream_data and skipped here, so they do not alert twice. */
#define VG_DF_STREAM 0x10u
/* The flow's application protocol (enum vg_app_proto) sits in bits 8-15:
 * rules written for http, tls, dns or ssh need it, whatever they inspect. */
#define VG_DF_APP_SHIFT 8
#define VG_DF_APP(p)    ((uint32_t)(p) << VG_DF_APP_SHIFT)
#define VG_DF_APP_MASK  (0xffu << VG_DF_APP_SHIFT)

typedef void (*vg_alert_fn)(void *user, const struct vg_rule_meta *rule);

/* The flow the next detection calls on ctx run for: its variables (read
 * and written by flowbits and pass rules) and its id (thresholds tracked
 * by_flow). vars NULL: the packets have no flow, no flowbit is set
 * (isset fails, isnotset holds) and flow-state actions do nothing. Set it
 * before each packet. */
void vg_detect_set_flow(struct vg_detect_ctx *ctx, struct vg_flow_vars *vars, uint64_t flow_id);

/* Runs every rule against one decoded packet. Calls on_alert once for each
 * rule that matches, in rule order (pass rules first, then Suricata's
 * flowbits order, priority, then sid). Returns the number of alerts. */
uint32_t vg_detect_packet(struct vg_detect_ctx *ctx, const struct vg_packet *p, uint32_t flow_flags,
                          vg_alert_fn on_alert, void *user);

/* ---- Anomalies ----
 * Runs the rules with app-layer-event, decode-event or stream-event that
 * wait for this anomaly: kind is an enum vg_anomaly_kind (vigil/event.h),
 * event its event number (for VG_ANOMALY_APPLAYER, of the parser of
 * app_proto, an enum vg_app_proto). p is the packet that raised it (seen
 * in the direction of the data that raised it), for the header tests and
 * the alert; a packet without addresses (the decoder gave up on it) only
 * matches rules on any address and port. flow_flags as for
 * vg_detect_packet. Reaches the rules through an index built at load, so
 * an anomaly no rule waits for costs a lookup. Returns the number of
 * alerts. */
uint32_t vg_detect_event(struct vg_detect_ctx *ctx, uint8_t kind, uint8_t app_proto, uint16_t event,
                         const struct vg_packet *p, uint32_t flow_flags, vg_alert_fn on_alert,
                         void *user);

/* ---- Application-layer transactions ----
 * Runs the rules that inspect application buffers (sticky buffers, http_*
 * modifiers, or an app protocol in the header with a buffer keyword) on one
 * transaction at one stage (see enum vg_app_stage): a rule is inspected at
 * the stage where the last buffer it names becomes available, so it alerts
 * at most once per transaction. Contents of such a rule that name no buffer
 * inspect tx->buf[VG_BUF_PAYLOAD] (the app layer sets it: the message body
 * at a body stage, else the stream bytes that completed the stage). p is the packet (or view) in
 * tx->dir, for the header tests and the alert; flow_flags as for vg_detect_packet. Returns the
 * number of alerts. */
uint32_t vg_detect_app(struct vg_detect_ctx *ctx, const struct vg_app_tx *tx,
                       const struct vg_packet *p, uint32_t flow_flags, vg_alert_fn on_alert,
                       void *user);

/* The rule keyword that selects buffer b ("http.uri", "tls.sni", "pkt_data"
 * for the payload; a response variant shares its request keyword, e.g.
 * "http.header"), or NULL when b is out of range. */
const char *vg_buffer_name(enum vg_buffer b);

/* ---- Reassembled streams ----
 * One state per flow and direction whose bytes are reassembled. The bytes
 * come in order, each once, as chunks; a match split over chunks is found
 * once. A candidate is the end E of a fast pattern in the stream; the rule
 * is verified with that content at E, on the bytes the stream keeps (its
 * window, see vg_ruleset_stats.stream_window) plus the chunk. It alerts
 * once per rule and match position. When a rule needs bytes after E (a
 * later content, a negated content's window), the candidate waits for them
 * and alerts on the chunk that completes the match. Offset and depth count
 * from the start of the stream. */

struct vg_detect_stream;

/* Chunk flags. VG_DS_GAP: bytes were lost before this chunk, so no match
 * spans it (the value of the reassembler's VG_STREAM_GAP_BEFORE; its other
 * flags are ignored here). VG_DS_END: the direction ends after this chunk,
 * which may be empty; candidates waiting for more bytes are decided now. */
#define VG_DS_GAP 0x01u
#define VG_DS_END 0x8000u

/* Preallocates max_streams stream states (all memory, Hyperscan streams
 * included, up front). Call before the first open; again only while no
 * state is open. Returns 0, or -1 on allocation failure or open states. */
int vg_detect_ctx_streams(struct vg_detect_ctx *ctx, uint32_t max_streams);

/* A state for one direction, or NULL when every state is in use (counted;
 * the caller then inspects that direction's packets without VG_DF_STREAM). */
struct vg_detect_stream *vg_detect_stream_open(struct vg_detect_ctx *ctx);

/* Returns the state to the pool. Never alerts: candidates still waiting for
 * bytes are dropped and counted (send VG_DS_END first to decide them). */
void vg_detect_stream_close(struct vg_detect_ctx *ctx, struct vg_detect_stream *s);

/* Inspects the next chunk of a stream: data[0] is at stream_offset from the
 * start of the direction's stream. Bytes already seen (stream_offset below
 * the end of the previous chunk) are skipped; a chunk starting past it is
 * treated as after a gap. p is the packet that delivered the data, seen in
 * the data's direction: its addresses, ports and TCP flags are the ones the
 * rules test and the alert reports (with p NULL nothing alerts). flow_flags
 * as for vg_detect_packet, of that direction. Calls on_alert once per rule
 * and match position, as matches complete. Returns the number of alerts. */
uint32_t vg_detect_stream_data(struct vg_detect_ctx *ctx, struct vg_detect_stream *s,
                               const uint8_t *data, uint32_t len, uint64_t stream_offset,
                               uint32_t chunk_flags, const struct vg_packet *p, uint32_t flow_flags,
                               vg_alert_fn on_alert, void *user);

struct vg_detect_stream_stats {
    uint32_t max_streams;
    uint32_t streams_in_use;
    uint32_t window;             /* bytes kept per stream */
    uint64_t bytes_per_stream;   /* memory of one state, its Hyperscan stream included */
    uint64_t pool_exhausted;     /* opens refused: every state in use */
    uint64_t windows_too_short;  /* candidates whose rule could need bytes beyond the window */
    uint64_t pending_overflow;   /* candidates decided early: too many waited on one stream */
    uint64_t undecided_at_close; /* candidates still waiting for bytes when their stream closed */
    uint64_t order_overflow;     /* matches judged out of rule order: a chunk held too many */
    uint64_t revisits;           /* looks again at waiting candidates */
    uint64_t revisits_deferred;  /* looks put off: too few new bytes since the last one */
};

/* Counters of the context's stream states (all zero before
 * vg_detect_ctx_streams). */
void vg_detect_ctx_stream_stats(const struct vg_detect_ctx *ctx,
                                struct vg_detect_stream_stats *out);

/* pcre matches the context gave up on because they reached the match or
 * depth limit (detect.pcre.match-limit, detect.pcre.match-limit-recursion);
 * such a pcre does not match. */
uint64_t vg_detect_ctx_pcre_limit_hits(const struct vg_detect_ctx *ctx);

struct vg_detect_flowbit_stats {
    uint64_t set_refused; /* flowbit sets refused: the flow held VG_FLOWBITS_PER_FLOW bits */
};

/* Counters of the flow state the context's rules wrote. */
void vg_detect_ctx_flowbit_stats(const struct vg_detect_ctx *ctx,
                                 struct vg_detect_flowbit_stats *out);

#endif
