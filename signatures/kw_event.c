/* Event keywords: app-layer-event, decode-event and stream-event. A rule
 * with one matches when vigil raises that anomaly (the ones its EVE anomaly
 * records name), for the packet that raised it. Such a rule takes no part
 * in the packet, stream or transaction paths: vg_detect_event runs it,
 * through an index from (kind, protocol, event) to the rules waiting for it
 * that is built when the rule set is loaded.
 *
 * Names are vigil's (the EVE anomaly names) and Suricata's where they mean
 * the same anomaly. A name Suricata knows but vigil never raises is refused
 * with its own message, so a rule that could never fire does not load
 * silently. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/defrag.h"
#include "vigil/dns.h"
#include "vigil/event.h"
#include "vigil/http.h"
#include "vigil/ssh.h"
#include "vigil/stream.h"
#include "vigil/tls.h"

#include "rule_int.h"

/* ---- Names ------------------------------------------------------------------ */

/* Checksum errors are counted, never raised as anomalies (a mirror port
 * sees NIC-offloaded checksums on every packet). */
static bool decode_event_raised(unsigned ev)
{
    return ev != VG_DEC_IPV4_BAD_CHECKSUM && ev != VG_DEC_TCP_BAD_CHECKSUM &&
           ev != VG_DEC_UDP_BAD_CHECKSUM && ev != VG_DEC_ICMP_BAD_CHECKSUM;
}

/* A name with an optional prefix ("decoder.", "stream.") left out. */
static const char *skip_prefix(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncasecmp(name, prefix, n) == 0 ? name + n : name;
}

/* Suricata's names for anomalies vigil raises under another name. dir:
 * Suricata's name is for one direction only (VG_DF_TOSERVER or
 * VG_DF_TOCLIENT), 0 for both. */
struct event_alias {
    const char *name;
    uint16_t event;
    uint8_t dir;
};

static const struct event_alias decode_aliases[] = {
    {"ipv4.pkt_too_small", VG_DEC_IPV4_TRUNCATED, 0},
};

static const struct event_alias http_aliases[] = {
    {"request_line_invalid", VG_HTTP_EV_INVALID_REQUEST_LINE, 0},
    {"request_field_missing_colon", VG_HTTP_EV_HEADER_MISSING_COLON, VG_DF_TOSERVER},
    {"response_field_missing_colon", VG_HTTP_EV_HEADER_MISSING_COLON, VG_DF_TOCLIENT},
    {"invalid_request_chunk_len", VG_HTTP_EV_INVALID_CHUNK, VG_DF_TOSERVER},
    {"invalid_response_chunk_len", VG_HTTP_EV_INVALID_CHUNK, VG_DF_TOCLIENT},
    {"invalid_transfer_encoding_value_in_request", VG_HTTP_EV_TRANSFER_ENCODING_NOT_CHUNKED,
     VG_DF_TOSERVER},
    {"invalid_transfer_encoding_value_in_response", VG_HTTP_EV_TRANSFER_ENCODING_NOT_CHUNKED,
     VG_DF_TOCLIENT},
    {"invalid_content_length_field_in_request", VG_HTTP_EV_INVALID_CONTENT_LENGTH, VG_DF_TOSERVER},
    {"invalid_content_length_field_in_response", VG_HTTP_EV_INVALID_CONTENT_LENGTH, VG_DF_TOCLIENT},
    {"duplicate_content_length_field_in_request", VG_HTTP_EV_DUPLICATE_CONTENT_LENGTH,
     VG_DF_TOSERVER},
    {"duplicate_content_length_field_in_response", VG_HTTP_EV_DUPLICATE_CONTENT_LENGTH,
     VG_DF_TOCLIENT},
    {"invalid_request_field_folding", VG_HTTP_EV_HEADER_FOLDING, VG_DF_TOSERVER},
    {"invalid_response_field_folding", VG_HTTP_EV_HEADER_FOLDING, VG_DF_TOCLIENT},
    {"request_field_too_long", VG_HTTP_EV_HEADER_LINE_TOO_LONG, VG_DF_TOSERVER},
    {"response_field_too_long", VG_HTTP_EV_HEADER_LINE_TOO_LONG, VG_DF_TOCLIENT},
    {"request_header_invalid", VG_HTTP_EV_HEADER_NAME_INVALID, VG_DF_TOSERVER},
    {"response_header_invalid", VG_HTTP_EV_HEADER_NAME_INVALID, VG_DF_TOCLIENT},
    {"double_encoded_uri", VG_HTTP_EV_URI_DOUBLE_ENCODED, 0},
    {"gzip_decompression_failed", VG_HTTP_EV_DECOMPRESSION_FAILED, 0},
    {"abnormal_ce_header", VG_HTTP_EV_ABNORMAL_CONTENT_ENCODING, 0},
    {"unable_to_match_response_to_request", VG_HTTP_EV_UNSOLICITED_RESPONSE, 0},
    {"response_chunked_old_proto", VG_HTTP_EV_TRANSFER_ENCODING_IN_HTTP10, VG_DF_TOCLIENT},
};

static const struct event_alias dns_aliases[] = {
    {"not_request", VG_DNS_EV_NOT_A_REQUEST, 0},
    {"not_response", VG_DNS_EV_NOT_A_RESPONSE, 0},
};

static const struct event_alias ssh_aliases[] = {
    {"invalid_record", VG_SSH_EV_INVALID_RECORD_LENGTH, 0},
};

/* Suricata's names of anomalies vigil never raises. */
static const char *const decode_not_raised[] = {
    "ipv4.opt_invalid_len",
    "ipv4.opt_malformed",
    "ipv4.opt_pad_required",
    "ipv4.opt_eol_required",
    "ipv4.opt_duplicate",
    "ipv4.opt_unknown",
    "ipv4.icmpv6",
    "icmpv4.unknown_type",
    "icmpv4.unknown_code",
    "icmpv4.ipv4_trunc_pkt",
    "icmpv4.ipv4_unknown_ver",
    "icmpv6.unknown_type",
    "icmpv6.unknown_code",
    "icmpv6.ipv6_unknown_version",
    "icmpv6.ipv6_trunc_pkt",
    "icmpv6.mld_message_with_invalid_hl",
    "icmpv6.unassigned_type",
    "icmpv6.experimentation_type",
    "ipv6.exthdr_dupl_fh",
    "ipv6.exthdr_useless_fh",
    "ipv6.exthdr_dupl_rh",
    "ipv6.exthdr_dupl_hh",
    "ipv6.exthdr_dupl_dh",
    "ipv6.exthdr_dupl_ah",
    "ipv6.exthdr_dupl_eh",
    "ipv6.exthdr_invalid_optlen",
    "ipv6.exthdr_ah_res_not_null",
    "ipv6.hopopts_unknown_opt",
    "ipv6.hopopts_only_padding",
    "ipv6.dstopts_unknown_opt",
    "ipv6.dstopts_only_padding",
    "ipv6.rh_type_0",
    "ipv6.zero_len_padn",
    "ipv6.fh_non_zero_reserved_field",
    "ipv6.data_after_none_header",
    "ipv6.unknown_next_header",
    "ipv6.icmpv4",
    "ipv6.ipv4_in_ipv6_too_small",
    "ipv6.ipv4_in_ipv6_wrong_version",
    "ipv6.ipv6_in_ipv6_too_small",
    "ipv6.ipv6_in_ipv6_wrong_version",
    "tcp.opt_invalid_len",
    "tcp.opt_duplicate",
    "udp.hlen_too_small",
    "udp.hlen_invalid",
    "sll.pkt_too_small",
    "ppp.vju_pkt_too_small",
    "ppp.ip4_pkt_too_small",
    "ppp.ip6_pkt_too_small",
    "ppp.wrong_type",
    "ppp.unsup_proto",
    "pppoe.malformed_tags",
    "gre.version0_recur",
    "gre.version0_hdr_too_big",
    "gre.version0_malformed_sre_hdr",
    "gre.version1_chksum",
    "gre.version1_route",
    "gre.version1_ssr",
    "gre.version1_recur",
    "gre.version1_flags",
    "gre.version1_no_key",
    "gre.version1_wrong_protocol",
    "gre.version1_malformed_sre_hdr",
    "gre.version1_hdr_too_big",
    "vlan.unknown_type",
    "ieee8021ah.header_too_small",
    "ipraw.invalid_ip_version",
    "ltnull.pkt_too_small",
    "ltnull.unsupported_type",
    "sctp.pkt_too_small",
    "mpls.bad_label_router_alert",
    "mpls.bad_label_reserved",
    "erspan.too_many_vlan_layers",
    "dce.pkt_too_small",
    "chdlc.pkt_too_small",
    "nsh.header_too_small",
    "nsh.unsupported_version",
    "nsh.bad_header_length",
    "nsh.reserved_type",
    "nsh.unsupported_type",
    "nsh.unknown_payload",
    "ipv4.csum_invalid",
    "tcp.csum_invalid",
    "udp.csum_invalid",
    "icmp.csum_invalid",
};

static const char *const stream_not_raised[] = {
    "3whs_ack_in_wrong_dir",
    "3whs_async_wrong_seq",
    "3whs_right_seq_wrong_ack_evasion",
    "3whs_synack_resend_with_diff_ack",
    "3whs_synack_resend_with_different_ack",
    "3whs_synack_resend_with_diff_seq",
    "3whs_synack_toserver_on_syn_recv",
    "3whs_synack_flood",
    "3whs_syn_resend_diff_seq_on_syn_recv",
    "3whs_syn_toclient_on_syn_recv",
    "3whs_wrong_seq_wrong_ack",
    "3whs_ack_data_inject",
    "4whs_synack_with_wrong_syn",
    "4whs_wrong_seq",
    "4whs_invalid_ack",
    "closewait_ack_out_of_window",
    "closewait_fin_out_of_window",
    "closewait_pkt_before_last_ack",
    "closewait_invalid_ack",
    "closing_ack_wrong_seq",
    "closing_invalid_ack",
    "est_pkt_before_last_ack",
    "est_synack_resend",
    "est_synack_resend_with_diff_ack",
    "est_synack_resend_with_different_ack",
    "est_synack_resend_with_diff_seq",
    "est_synack_toserver",
    "est_syn_resend",
    "est_syn_resend_diff_seq",
    "est_syn_toclient",
    "est_invalid_ack",
    "fin_invalid_ack",
    "fin1_ack_wrong_seq",
    "fin1_fin_wrong_seq",
    "fin1_invalid_ack",
    "fin2_ack_wrong_seq",
    "fin2_fin_wrong_seq",
    "fin2_invalid_ack",
    "fin_but_no_session",
    "fin_out_of_window",
    "fin_syn",
    "lastack_ack_wrong_seq",
    "lastack_invalid_ack",
    "rst_but_no_session",
    "timewait_ack_wrong_seq",
    "timewait_invalid_ack",
    "shutdown_syn_resend",
    "pkt_invalid_timestamp",
    "pkt_broken_ack",
    "rst_invalid_ack",
    "pkt_bad_window_update",
    "pkt_spurious_retransmission",
    "wrong_thread",
    "reassembly_segment_before_base_seq",
    "reassembly_no_segment",
    "reassembly_urgent_oob_limit_reached",
    "reassembly_insert_memcap",
    "reassembly_insert_limit",
    "reassembly_insert_invalid",
};

static const char *const http_not_raised[] = {
    "unknown_error",
    "100_continue_already_seen",
    "invalid_server_port_in_request",
    "invalid_authority_port",
    "multipart_generic_error",
    "multipart_no_filedata",
    "multipart_invalid_header",
    "request_server_port_tcp_port_mismatch",
    "request_uri_host_invalid",
    "request_header_host_invalid",
    "uri_delim_non_compliant",
    "method_delim_non_compliant",
    "request_line_leading_whitespace",
    "too_many_encoding_layers",
    "request_auth_unrecognized",
    "request_header_repetition",
    "response_header_repetition",
    "response_multipart_byteranges",
    "response_abnormal_transfer_encoding",
    "response_invalid_protocol",
    "response_invalid_status",
    "request_line_incomplete",
    "request_body_unexpected",
    "lzma_memlimit_reached",
    "compression_bomb",
    "too_many_warnings",
    "range_invalid",
    "file_name_too_long",
    "failed_protocol_change",
    "request_chunk_extension",
    "response_chunk_extension",
    "request_too_many_headers",
    "response_too_many_headers",
};

static const char *const tls_not_raised[] = {
    "invalid_sslv2_header",        "invalid_tls_header",          "certificate_missing_element",
    "certificate_unknown_element", "certificate_invalid_length",  "certificate_invalid_string",
    "error_message_encountered",   "invalid_ssl_record",          "overflow_heartbeat_message",
    "invalid_heartbeat_message",   "dataleak_heartbeat_mismatch", "too_many_records_in_packet",
    "invalid_certificate_length",
};

static const char *const dns_not_raised[] = {
    "invalid_opcode",      "too_many_labels",      "invalid_additionals",
    "invalid_authorities", "state_memcap_reached", "response_flooded",
};

static const char *const applayer_not_raised[] = {
    "mismatch_protocol_both_directions",
    "wrong_direction_first_data",
    "detect_protocol_only_one_direction",
    "proto_detection_skipped",
    "no_tls_after_starttls",
    "unexpected_protocol",
};

/* Application protocols Suricata raises events for and vigil has no parser
 * of: every event of theirs is one vigil never raises. */
static const char *const app_protocols_not_parsed[] = {
    "file",           "http2",  "ftp",   "ftp-data", "smb",      "smtp",      "imap",
    "pop3",           "dcerpc", "dhcp",  "sip",      "krb5",     "nfs",       "ntp",
    "snmp",           "tftp",   "ike",   "rfb",      "mqtt",     "modbus",    "dnp3",
    "enip",           "quic",   "pgsql", "telnet",   "ldap",     "websocket", "mdns",
    "bittorrent-dht", "rdp",    "sctp",  "ipsec",    "kerberos",
};

static bool in_list(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(list[i], name) == 0)
            return true;
    }
    return false;
}

static const struct event_alias *find_alias(const struct event_alias *list, size_t n,
                                            const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(list[i].name, name) == 0)
            return &list[i];
    }
    return NULL;
}

/* ---- Parsing ------------------------------------------------------------------ */

static int not_raised(struct sig_rule_ctx *rc, const char *value)
{
    return sig_fail(rc, "event '%s' is not raised by vigil", value);
}

static int parse_decode_event(struct sig_rule_ctx *rc, const char *value, struct sig_event_test *t)
{
    const char *name = skip_prefix(value, "decoder.");
    t->kind = VG_ANOMALY_DECODE;
    for (unsigned e = 0; e < VG_DEC_EVENT_COUNT; e++) {
        const char *vn = skip_prefix(vg_decode_event_name((enum vg_decode_event)e), "decoder.");
        if (strcasecmp(vn, name) == 0 && decode_event_raised(e)) {
            t->event = (uint16_t)e;
            return 0;
        }
    }
    /* Defragmentation anomalies: the family-neutral name matches both
     * families, Suricata's per-family name only its own. */
    t->kind = VG_ANOMALY_DEFRAG;
    for (unsigned e = 0; e < VG_DEFRAG_EV_COUNT; e++) {
        const char *neutral = vg_defrag_event_name((enum vg_defrag_event)e);
        if (strcasecmp(neutral, name) == 0) {
            t->event = (uint16_t)e;
            return 0;
        }
        for (int fam = 4; fam <= 6; fam += 2) {
            const char *fn = vg_defrag_event_name_family((enum vg_defrag_event)e, fam);
            if (fn != neutral && strcasecmp(fn, name) == 0) {
                t->event = (uint16_t)e;
                t->family = (uint8_t)fam;
                return 0;
            }
        }
    }
    t->kind = VG_ANOMALY_DECODE;
    const struct event_alias *a = find_alias(decode_aliases, VG_ARRAY_SIZE(decode_aliases), name);
    if (a != NULL) {
        t->event = a->event;
        t->dir = a->dir;
        return 0;
    }
    if (in_list(decode_not_raised, VG_ARRAY_SIZE(decode_not_raised), name))
        return not_raised(rc, value);
    return sig_fail(rc, "unknown decode-event '%s'", value);
}

static int parse_stream_event(struct sig_rule_ctx *rc, const char *value, struct sig_event_test *t)
{
    const char *name = skip_prefix(value, "stream.");
    t->kind = VG_ANOMALY_STREAM;
    for (unsigned e = 0; e < VG_STREAM_EVENT_COUNT; e++) {
        const char *vn = skip_prefix(vg_stream_event_name((enum vg_stream_event)e), "stream.");
        if (strcasecmp(vn, name) == 0) {
            t->event = (uint16_t)e;
            return 0;
        }
    }
    if (in_list(stream_not_raised, VG_ARRAY_SIZE(stream_not_raised), name))
        return not_raised(rc, value);
    return sig_fail(rc, "unknown stream-event '%s'", value);
}

/* The event numbers of vigil's parser of proto, their count and Suricata's
 * names for them. */
struct app_events {
    const char *name; /* as in the keyword */
    uint8_t proto;    /* enum vg_app_proto */
    uint16_t count;
    const struct event_alias *aliases;
    size_t naliases;
    const char *const *not_raised;
    size_t nnot_raised;
};

static const struct app_events app_events[] = {
    {"http", VG_APP_HTTP, VG_HTTP_EV_EVENT_COUNT, http_aliases, VG_ARRAY_SIZE(http_aliases),
     http_not_raised, VG_ARRAY_SIZE(http_not_raised)},
    {"http1", VG_APP_HTTP, VG_HTTP_EV_EVENT_COUNT, http_aliases, VG_ARRAY_SIZE(http_aliases),
     http_not_raised, VG_ARRAY_SIZE(http_not_raised)},
    {"tls", VG_APP_TLS, VG_TLS_EV_COUNT, NULL, 0, tls_not_raised, VG_ARRAY_SIZE(tls_not_raised)},
    {"ssl", VG_APP_TLS, VG_TLS_EV_COUNT, NULL, 0, tls_not_raised, VG_ARRAY_SIZE(tls_not_raised)},
    {"dns", VG_APP_DNS, VG_DNS_EVENT_COUNT, dns_aliases, VG_ARRAY_SIZE(dns_aliases), dns_not_raised,
     VG_ARRAY_SIZE(dns_not_raised)},
    {"ssh", VG_APP_SSH, VG_SSH_EVENT_COUNT, ssh_aliases, VG_ARRAY_SIZE(ssh_aliases), NULL, 0},
};

static int parse_app_event(struct sig_rule_ctx *rc, const struct sig_rule *r, const char *value,
                           struct sig_event_test *t)
{
    t->kind = VG_ANOMALY_APPLAYER;
    const char *dot = strchr(value, '.');
    /* Suricata's generic app-layer events come as applayer_<event> too. */
    if (dot == NULL) {
        if (strncasecmp(value, "applayer_", 9) == 0 &&
            in_list(applayer_not_raised, VG_ARRAY_SIZE(applayer_not_raised), value + 9))
            return not_raised(rc, value);
        return sig_fail(rc, "bad app-layer-event '%s' (expected protocol.event)", value);
    }
    char proto[32];
    size_t plen = (size_t)(dot - value);
    if (plen == 0 || plen >= sizeof(proto))
        return sig_fail(rc, "bad app-layer-event '%s' (expected protocol.event)", value);
    memcpy(proto, value, plen);
    proto[plen] = '\0';
    const char *name = dot + 1;

    if (strcasecmp(proto, "applayer") == 0) {
        if (in_list(applayer_not_raised, VG_ARRAY_SIZE(applayer_not_raised), name))
            return not_raised(rc, value);
        return sig_fail(rc, "unknown app-layer-event '%s'", value);
    }
    const struct app_events *ae = NULL;
    for (size_t i = 0; i < VG_ARRAY_SIZE(app_events) && ae == NULL; i++) {
        if (strcasecmp(proto, app_events[i].name) == 0)
            ae = &app_events[i];
    }
    if (ae == NULL) {
        if (in_list(app_protocols_not_parsed, VG_ARRAY_SIZE(app_protocols_not_parsed), proto))
            return not_raised(rc, value);
        return sig_fail(rc, "unknown app-layer-event '%s'", value);
    }
    if (r->app_proto != 0 && r->app_proto != ae->proto)
        return sig_fail(rc, "app-layer-event '%s' cannot be used in a rule for %s", value,
                        vg_app_proto_name((enum vg_app_proto)r->app_proto));
    t->app_proto = ae->proto;
    for (unsigned e = 0; e < ae->count; e++) {
        const char *vn = vg_app_event_name((enum vg_app_proto)ae->proto, (uint16_t)e);
        if (vn != NULL && strcasecmp(vn, name) == 0) {
            t->event = (uint16_t)e;
            return 0;
        }
    }
    const struct event_alias *a = find_alias(ae->aliases, ae->naliases, name);
    if (a != NULL) {
        t->event = a->event;
        t->dir = a->dir;
        return 0;
    }
    if (in_list(ae->not_raised, ae->nnot_raised, name))
        return not_raised(rc, value);
    return sig_fail(rc, "unknown app-layer-event '%s'", value);
}

int sig_kw_event(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o)
{
    int (*parse)(struct sig_rule_ctx *, const char *, struct sig_event_test *) = NULL;
    bool app = false;
    if (strcasecmp(o->kw, "decode-event") == 0)
        parse = parse_decode_event;
    else if (strcasecmp(o->kw, "stream-event") == 0)
        parse = parse_stream_event;
    else if (strcasecmp(o->kw, "app-layer-event") == 0)
        app = true;
    else
        return 1;
    if (sig_need_value(rc, o) != 0)
        return -1;
    struct sig_rule *r = b->r;
    if (r->event != NULL)
        return sig_fail(rc, "only one app-layer-event, decode-event or stream-event per rule");
    struct sig_event_test t;
    memset(&t, 0, sizeof(t));
    int ret = app ? parse_app_event(rc, r, o->val, &t) : parse(rc, o->val, &t);
    if (ret != 0)
        return -1;
    struct sig_event_test *copy = sig_arena_memdup(rc->ld->arena, &t, sizeof(t));
    if (copy == NULL)
        return sig_fail(rc, "out of memory");
    copy->keyword = sig_arena_strdup(rc->ld->arena, o->kw);
    if (copy->keyword == NULL)
        return sig_fail(rc, "out of memory");
    r->event = copy;
    return 0;
}

int sig_event_finish(struct sig_rule_ctx *rc, const struct sig_rule_build *b)
{
    const struct sig_rule *r = b->r;
    if (r->event == NULL || b->nc == 0)
        return 0;
    return sig_fail(rc, "%s cannot be combined with content or other payload inspection",
                    r->event->keyword);
}

/* ---- The per-event index ------------------------------------------------------- */

/* Slots: every decode, defrag and stream event, then the events of each
 * application parser. */
#define SLOT_DECODE 0u
#define SLOT_DEFRAG (SLOT_DECODE + VG_DEC_EVENT_COUNT)
#define SLOT_STREAM (SLOT_DEFRAG + VG_DEFRAG_EV_COUNT)
#define SLOT_HTTP   (SLOT_STREAM + VG_STREAM_EVENT_COUNT)
#define SLOT_TLS    (SLOT_HTTP + VG_HTTP_EV_EVENT_COUNT)
#define SLOT_DNS    (SLOT_TLS + VG_TLS_EV_COUNT)
#define SLOT_SSH    (SLOT_DNS + VG_DNS_EVENT_COUNT)
#define SLOT_COUNT  (SLOT_SSH + VG_SSH_EVENT_COUNT)
#define SLOT_NONE   UINT32_MAX

static uint32_t event_slot(uint8_t kind, uint8_t app_proto, uint16_t event)
{
    uint32_t base, count;
    switch (kind) {
    case VG_ANOMALY_DECODE:
        base = SLOT_DECODE, count = VG_DEC_EVENT_COUNT;
        break;
    case VG_ANOMALY_DEFRAG:
        base = SLOT_DEFRAG, count = VG_DEFRAG_EV_COUNT;
        break;
    case VG_ANOMALY_STREAM:
        base = SLOT_STREAM, count = VG_STREAM_EVENT_COUNT;
        break;
    case VG_ANOMALY_APPLAYER:
        switch (app_proto) {
        case VG_APP_HTTP:
            base = SLOT_HTTP, count = VG_HTTP_EV_EVENT_COUNT;
            break;
        case VG_APP_TLS:
            base = SLOT_TLS, count = VG_TLS_EV_COUNT;
            break;
        case VG_APP_DNS:
            base = SLOT_DNS, count = VG_DNS_EVENT_COUNT;
            break;
        case VG_APP_SSH:
            base = SLOT_SSH, count = VG_SSH_EVENT_COUNT;
            break;
        default:
            return SLOT_NONE;
        }
        break;
    default:
        return SLOT_NONE;
    }
    return event < count ? base + event : SLOT_NONE;
}

int sig_event_prepare(struct vg_ruleset *rs, FILE *err)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < rs->nrules; i++)
        n += rs->rules[i].event != NULL;
    rs->stats.event_rules = n;
    if (n == 0)
        return 0;
    rs->event_first = calloc(SLOT_COUNT + 1, sizeof(*rs->event_first));
    rs->event_rules = malloc(n * sizeof(*rs->event_rules));
    if (rs->event_first == NULL || rs->event_rules == NULL) {
        if (err != NULL)
            fprintf(err, "rules: out of memory building the event index\n");
        return -1;
    }
    /* Counting sort by slot; rules go in index order, so each slot's list
     * is in rule order. */
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_event_test *t = rs->rules[i].event;
        if (t != NULL)
            rs->event_first[event_slot(t->kind, t->app_proto, t->event) + 1]++;
    }
    for (uint32_t s = 0; s < SLOT_COUNT; s++)
        rs->event_first[s + 1] += rs->event_first[s];
    uint32_t fill[SLOT_COUNT];
    memcpy(fill, rs->event_first, sizeof(fill));
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_event_test *t = rs->rules[i].event;
        if (t != NULL)
            rs->event_rules[fill[event_slot(t->kind, t->app_proto, t->event)]++] = i;
    }
    return 0;
}

void sig_event_release(struct vg_ruleset *rs)
{
    free(rs->event_first);
    free(rs->event_rules);
    rs->event_first = NULL;
    rs->event_rules = NULL;
}

/* ---- Matching ------------------------------------------------------------------- */

uint32_t vg_detect_event(struct vg_detect_ctx *ctx, uint8_t kind, uint8_t app_proto, uint16_t event,
                         const struct vg_packet *p, uint32_t flow_flags, vg_alert_fn on_alert,
                         void *user)
{
    const struct vg_ruleset *rs = ctx->rs;
    if (rs->event_first == NULL)
        return 0;
    const uint32_t slot = event_slot(kind, app_proto, event);
    if (slot == SLOT_NONE)
        return 0;
    const uint32_t first = rs->event_first[slot], end = rs->event_first[slot + 1];
    if (first == end || (ctx->flow != NULL && ctx->flow->passed))
        return 0;
    /* A packet the decoder gave up on may have no addresses: only rules
     * that test none can match it. */
    const bool has_addresses = p->family == 4 || p->family == 6;
    uint32_t alerts = 0;
    ctx->stop = false;
    for (uint32_t i = first; i < end && !ctx->stop; i++) {
        const struct sig_rule *r = &rs->rules[rs->event_rules[i]];
        const struct sig_event_test *t = r->event;
        if ((t->family != 0 && t->family != p->family) || (t->dir != 0 && !(flow_flags & t->dir)))
            continue;
        if (!has_addresses && !(r->src.any && r->dst.any && r->sport.any && r->dport.any))
            continue;
        if (!sig_rule_header_matches(r, p, flow_flags) || !sig_rule_state_ok(ctx, r, p))
            continue;
        if (sig_rule_fire(ctx, r, p)) {
            alerts++;
            on_alert(user, &r->meta);
        }
    }
    return alerts;
}
