/* TLS parser (parsers/tls.c): what a passive observer sees of an SSLv3 or
 * TLS 1.0 to 1.3 session.
 *
 * Each direction is a sequence of records; handshake messages are rebuilt
 * across records and across the chunks the stream hands over. The client's
 * ClientHello, the server's ServerHello (or HelloRetryRequest) and the
 * server's first certificate are decoded; after ChangeCipherSpec (before
 * TLS 1.3) or after the ServerHello (TLS 1.3) the handshake is encrypted
 * and records are only counted.
 *
 * From the ClientHello come the SNI, the ALPN list, the cipher suites,
 * extensions, supported groups, EC point formats, signature algorithms and
 * supported versions, and the JA3 (Salesforce) and JA4 (FoxIO) fingerprints;
 * from the ServerHello the negotiated version, cipher, ALPN and JA3S; from
 * the certificate the subject, issuer, serial, validity and SHA-1
 * fingerprint, in Suricata's EVE forms.
 *
 * One transaction per session (tx_id 0): VG_STAGE_REQUEST when the
 * ClientHello is complete, VG_STAGE_RESPONSE (last) when the ServerHello
 * and, if sent in clear, the certificate are complete, or at the first
 * server record that follows them (ChangeCipherSpec, application data,
 * another handshake message), or at a gap in the server direction. A
 * session that never gets that far is closed (stage VG_STAGE_RESPONSE,
 * last) when the server direction ends, or when both have.
 *
 * Memory: the state is one block of vg_tls_state_size() bytes holding one
 * handshake buffer of handshake_limit bytes per direction. A message longer
 * than the limit is cut there (HANDSHAKE_TOO_LARGE, or CERTIFICATE_TOO_LARGE
 * when the first certificate does not fit); messages that fit in one chunk
 * are decoded in place and never copied. Digests (MD5, SHA-1, SHA-256) are
 * computed by this file's own code on the stack: OpenSSL 3.0's EVP contexts
 * allocate a provider context on every EVP_DigestInit, so reusing an
 * EVP_MD_CTX does not avoid per-packet allocation. The per-worker shared
 * block holds sort scratch and counters. */
#ifndef VIGIL_TLS_H
#define VIGIL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/applayer.h"

#define VG_TLS_HANDSHAKE_LIMIT_DEFAULT 16384u
#define VG_TLS_HANDSHAKE_LIMIT_MIN     512u

struct vg_tls_config {
    uint32_t handshake_limit; /* bytes of one handshake message kept for parsing, per
                               * direction (default 16384; at least 512) */
};

void vg_tls_config_default(struct vg_tls_config *c);

/* Anomalies, with Suricata's tls event names where it has one. */
enum vg_tls_event {
    VG_TLS_EV_INVALID_RECORD_TYPE,       /* record type not 20..24: direction no longer parsed */
    VG_TLS_EV_INVALID_RECORD_VERSION,    /* record version not 3.0..3.4: same */
    VG_TLS_EV_INVALID_RECORD_LENGTH,     /* record over 2^14 + 2048 bytes (same), or an empty
                                          * handshake, alert or ChangeCipherSpec record */
    VG_TLS_EV_INVALID_HANDSHAKE_MESSAGE, /* unknown handshake type, a message in the wrong
                                          * direction, or one cut by another record type */
    VG_TLS_EV_HANDSHAKE_INVALID_LENGTH,  /* a length inside a hello overruns its message */
    VG_TLS_EV_HANDSHAKE_TOO_LARGE,       /* a hello longer than handshake_limit: cut there */
    VG_TLS_EV_MULTIPLE_SNI_EXTENSIONS,
    VG_TLS_EV_INVALID_SNI_TYPE,
    VG_TLS_EV_INVALID_SNI_LENGTH,     /* name overruns its extension, or is over 255 bytes */
    VG_TLS_EV_INVALID_CERTIFICATE,    /* the first certificate is not a well-formed X.509 DER */
    VG_TLS_EV_CERTIFICATE_TOO_LARGE,  /* the first certificate does not fit handshake_limit */
    VG_TLS_EV_DUPLICATE_CLIENT_HELLO, /* a second ClientHello not asked for by a
                                       * HelloRetryRequest: ignored */
    VG_TLS_EV_HEARTBEAT_MESSAGE,
    VG_TLS_EV_GAP, /* bytes lost: the partial message is dropped, records resync on the
                    * next chunk when it starts with a record header */
    VG_TLS_EV_COUNT
};

/* "INVALID_RECORD_TYPE", ...; NULL when out of range. */
const char *vg_tls_event_name(uint16_t ev);

/* Bounds of what the state keeps (longer values are cut and flagged). */
#define VG_TLS_SNI_MAX    255u
#define VG_TLS_ALPN_MAX   256u  /* client ALPN list, as sent (length-prefixed names) */
#define VG_TLS_JA3_MAX    1024u /* JA3 string kept (its hash always covers all of it) */
#define VG_TLS_JA3S_MAX   256u
#define VG_TLS_NAME_MAX   512u  /* certificate subject and issuer */
#define VG_TLS_SERIAL_MAX 64u   /* serial bytes shown */
#define VG_TLS_LIST_MAX   64u   /* entries kept of each ClientHello list */
#define VG_TLS_SORT_MAX   8192u /* entries sorted for JA4 (more than a 16 KiB hello holds) */

/* Flags of struct vg_tls_info. */
#define VG_TLS_CLIENT_HELLO 0x0001u /* a ClientHello was decoded */
#define VG_TLS_SERVER_HELLO 0x0002u /* a ServerHello was decoded */
#define VG_TLS_CERTIFICATE  0x0004u /* the server's first certificate was decoded */
#define VG_TLS_HRR          0x0008u /* the server sent a HelloRetryRequest */
#define VG_TLS_SNI          0x0010u /* the ClientHello had a server_name */
#define VG_TLS_ALPN         0x0020u /* the ClientHello had an ALPN extension */
#define VG_TLS_SESSION_ID   0x0040u /* the ClientHello offered a session id */
#define VG_TLS_RESUMED      0x0080u /* the ServerHello echoed that session id */
#define VG_TLS_SSLV2        0x0100u /* an SSLv2 hello was seen */
#define VG_TLS_CUT          0x0200u /* some value was cut to its bound */
#define VG_TLS_ENCRYPTED    0x0400u /* the handshake went encrypted (CCS or TLS 1.3) */
#define VG_TLS_SERVER_ALPN  0x0800u /* the ServerHello chose an ALPN protocol */

/* What was learned of a session. Lists keep their first VG_TLS_LIST_MAX
 * entries (GREASE values included, as sent); n_* are the real counts. */
struct vg_tls_info {
    uint32_t flags;
    uint16_t client_record_version; /* of the first record of each direction */
    uint16_t server_record_version;
    uint16_t client_version;     /* ClientHello legacy_version (SSLv2 hello: its version) */
    uint16_t client_max_version; /* highest non-GREASE supported_versions entry, else
                                  * client_version */
    uint16_t server_version;     /* ServerHello legacy_version */
    uint16_t version;            /* negotiated: the ServerHello's supported_versions, else
                                  * server_version; 0 until a ServerHello */
    uint16_t cipher;             /* chosen by the server */
    uint16_t n_ciphers, n_extensions, n_groups, n_sigalgs, n_point_formats, n_versions;
    uint16_t n_server_extensions;
    uint16_t ciphers[VG_TLS_LIST_MAX];
    uint16_t extensions[VG_TLS_LIST_MAX];
    uint16_t groups[VG_TLS_LIST_MAX];
    uint16_t sigalgs[VG_TLS_LIST_MAX];
    uint16_t versions[VG_TLS_LIST_MAX];
    uint16_t server_extensions[VG_TLS_LIST_MAX];
    uint8_t point_formats[VG_TLS_LIST_MAX];
    uint8_t session_id_len;
    uint8_t session_id[32];
    uint16_t sni_len, alpn_len, alpn_str_len, server_alpn_len;
    uint16_t ja3_len, ja3s_len, subject_len, issuer_len, serial_len;
    char sni[VG_TLS_SNI_MAX];
    uint8_t alpn[VG_TLS_ALPN_MAX];  /* protocol_name_list as sent */
    char alpn_str[VG_TLS_ALPN_MAX]; /* the same, comma separated */
    char server_alpn[VG_TLS_SNI_MAX];
    char ja3[VG_TLS_JA3_MAX];
    char ja3_hash[33];
    char ja3s[VG_TLS_JA3S_MAX];
    char ja3s_hash[33];
    char ja4[37];
    char subject[VG_TLS_NAME_MAX];
    char issuer[VG_TLS_NAME_MAX];
    char serial[VG_TLS_SERIAL_MAX * 3];
    char fingerprint[60]; /* "aa:bb:...", 20 bytes */
    char not_before[20];  /* "YYYY-MM-DDTHH:MM:SS" */
    char not_after[20];
    uint64_t records[2]; /* per direction (0 to server) */
    uint64_t bytes[2];
};

/* One direction's record and handshake reassembly. */
struct vg_tls_dir {
    uint8_t hdr[5];
    uint8_t hdr_len;  /* record header bytes gathered */
    uint8_t rec_type; /* of the record being read */
    uint8_t hs_hdr[4];
    uint8_t hs_hdr_len; /* handshake header bytes gathered */
    uint8_t hs_type;
    bool hs_keep;     /* the message is decoded: its bytes are kept */
    bool skip_record; /* the rest of this record is not parsed */
    bool encrypted;   /* handshake records are ciphertext from here on */
    bool dead;        /* record framing lost: bytes are only counted */
    bool resync;      /* after a gap: the next chunk must start a record */
    bool ended;
    bool first_seen;   /* a record header was read */
    uint32_t rec_left; /* body bytes of the current record still to come */
    uint32_t hs_len;   /* announced length of the current handshake message */
    uint32_t hs_got;   /* its body bytes seen */
    uint32_t hs_kept;  /* its body bytes kept in the buffer */
};

struct vg_tls_shared;

struct vg_tls_state {
    struct vg_tls_shared *sh;
    uint32_t limit; /* handshake_limit */
    uint8_t stage;  /* enum vg_app_stage reached */
    bool closed;    /* the last transaction stage was reported */
    bool ch_again;  /* the ClientHello a HelloRetryRequest asked for was seen */
    struct vg_tls_dir d[2];
    struct vg_tls_info info;
    uint8_t buf[]; /* 2 x limit: handshake reassembly, per direction */
};

/* Bytes to allocate for one state (a multiple of 8). */
size_t vg_tls_state_size(const struct vg_tls_config *c);

/* Initialises a state of vg_tls_state_size(c) bytes. */
void vg_tls_state_init(struct vg_tls_state *s, const struct vg_tls_config *c,
                       struct vg_tls_shared *sh);

/* Counters of one worker's TLS parsing. */
struct vg_tls_stats {
    uint64_t bytes;
    uint64_t records;
    uint64_t client_hellos;
    uint64_t server_hellos;
    uint64_t certificates;
    uint64_t cut;    /* handshake messages cut at handshake_limit */
    uint64_t copied; /* handshake messages rebuilt in the buffer (split over chunks) */
    uint64_t lost;   /* directions whose record framing was lost */
};

/* Per worker: sort scratch for JA4 and counters. NULL when out of memory. */
struct vg_tls_shared *vg_tls_shared_new(void);
void vg_tls_shared_free(struct vg_tls_shared *sh);
const struct vg_tls_stats *vg_tls_shared_stats(const struct vg_tls_shared *sh);

/* Parses the next chunk of one direction (0 to server, 1 to client). flags:
 * VG_APP_GAP (bytes were lost before data), VG_APP_END (the direction ends
 * after data, which may be empty). Transactions and anomalies go to cb. */
void vg_tls_parse(struct vg_tls_state *s, int dir, const uint8_t *data, uint32_t len,
                  uint32_t flags, const struct vg_app_cb *cb);

/* Whether the first bytes of a direction start TLS: a handshake record of
 * version 3.x with a sane length (and, given a sixth byte, a ClientHello to
 * the server or a ServerHello to the client), or an SSLv2-compatible
 * ClientHello. 1 yes, 0 no, -1 need more bytes. */
int vg_tls_probe(int dir, const uint8_t *data, uint32_t len);

/* Read-only view of what the state learned. */
const struct vg_tls_info *vg_tls_info(const struct vg_tls_state *s);

/* EVE's name of a protocol version: "SSLv2", "SSLv3", "TLSv1", "TLS 1.1",
 * "TLS 1.2", "TLS 1.3", "TLS 1.3 draft-NN"; "UNDETERMINED" for 0; else
 * "0xNNNN". buf needs 24 bytes; returns buf. */
const char *vg_tls_version_name(uint16_t v, char *buf, size_t len);

/* Writes the EVE tls object ("tls":{...}) of a state: the transaction's
 * encode function. */
void vg_tls_encode(const void *state, struct vg_meta_writer *w);

#endif
