/* EVE JSON records, field for field as Suricata writes them. */
#include <string.h>

#include "vigil/applayer.h"
#include "vigil/defrag.h"
#include "vigil/event.h"
#include "vigil/meta.h"
#include "vigil/stream.h"
#include "vigil/flow.h"

#define APPEND_LIT(j, lit) vg_jbuf_append((j), (lit), sizeof(lit) - 1)

#define PROTO_ICMP   1
#define PROTO_IPIP   4
#define PROTO_TCP    6
#define PROTO_UDP    17
#define PROTO_IPV6   41
#define PROTO_GRE    47
#define PROTO_ICMPV6 58

#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_PSH 0x08u
#define TCP_ACK 0x10u
#define TCP_URG 0x20u
#define TCP_ECE 0x40u
#define TCP_CWR 0x80u

static void append_u64(struct vg_jbuf *j, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    vg_jbuf_append(j, tmp + i, sizeof(tmp) - i);
}

static void append_str(struct vg_jbuf *j, const char *s)
{
    if (s == NULL)
        s = "";
    vg_jbuf_append_json_string(j, (const uint8_t *)s, strlen(s));
}

/* vg_format_timestamp() goes through gmtime and printf; records come in
 * bursts from the same few seconds, so each thread keeps the text of recent
 * seconds and only rewrites the six microsecond digits. */
struct ts_cache_entry {
    uint64_t sec;
    char text[32];
    uint8_t frac; /* offset of the microsecond digits in text */
    uint8_t valid;
};

static void append_timestamp(struct vg_jbuf *j, uint64_t ts_us)
{
    static _Thread_local struct ts_cache_entry cache[4];
    uint64_t sec = ts_us / 1000000u;
    uint32_t usec = (uint32_t)(ts_us % 1000000u);
    struct ts_cache_entry *c = &cache[sec & 3];
    char ts[32];

    if (!c->valid || c->sec != sec) {
        c->valid = 0;
        vg_format_timestamp(sec * 1000000u, c->text, sizeof(c->text));
        const char *dot = strchr(c->text, '.');
        if (dot == NULL || strspn(dot + 1, "0") < 6) {
            /* not the layout we expect: format this one in full */
            vg_format_timestamp(ts_us, ts, sizeof(ts));
            append_str(j, ts);
            return;
        }
        c->frac = (uint8_t)(dot + 1 - c->text);
        c->sec = sec;
        c->valid = 1;
    }
    memcpy(ts, c->text, sizeof(ts));
    for (int i = 5; i >= 0; i--) {
        ts[c->frac + i] = (char)('0' + usec % 10);
        usec /= 10;
    }
    append_str(j, ts);
}

static void append_hex8(struct vg_jbuf *j, uint8_t v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[4] = {'"', hex[v >> 4], hex[v & 0xf], '"'};
    vg_jbuf_append(j, tmp, sizeof(tmp));
}

static bool is_icmp(uint8_t proto)
{
    return proto == PROTO_ICMP || proto == PROTO_ICMPV6;
}

static void append_proto(struct vg_jbuf *j, uint8_t proto)
{
    switch (proto) {
    case PROTO_TCP:
        APPEND_LIT(j, "\"TCP\"");
        break;
    case PROTO_UDP:
        APPEND_LIT(j, "\"UDP\"");
        break;
    case PROTO_ICMP:
        APPEND_LIT(j, "\"ICMP\"");
        break;
    case PROTO_ICMPV6:
        APPEND_LIT(j, "\"IPv6-ICMP\"");
        break;
    default:
        APPEND_LIT(j, "\"");
        append_u64(j, proto);
        APPEND_LIT(j, "\"");
        break;
    }
}

static const char *event_type_name(const struct vg_event *ev)
{
    switch (ev->type) {
    case VG_EVENT_APP: {
        const char *n = vg_app_proto_name((enum vg_app_proto)ev->app_proto);
        return n != NULL ? n : "unknown";
    }
    case VG_EVENT_ALERT:
        return "alert";
    case VG_EVENT_FLOW:
        return "flow";
    case VG_EVENT_ANOMALY:
        return "anomaly";
    default:
        return "unknown";
    }
}

/* Suricata's names for the stream states we track. Our FIN_WAIT covers
 * everything between the first FIN and the close, which Suricata starts as
 * fin_wait1. */
static const char *tcp_state_name(uint8_t s)
{
    switch (s) {
    case VG_TCP_SYN_SENT:
        return "syn_sent";
    case VG_TCP_SYN_RECV:
        return "syn_recv";
    case VG_TCP_ESTABLISHED:
        return "established";
    case VG_TCP_FIN_WAIT:
        return "fin_wait1";
    case VG_TCP_CLOSED:
        return "closed";
    default:
        return NULL;
    }
}

/* Everything up to and including "community_id". */
static void append_header(struct vg_jbuf *j, const struct vg_event *ev, const struct vg_eve_opts *o,
                          uint64_t ts_us)
{
    const struct vg_event_tuple *t = &ev->tuple;

    APPEND_LIT(j, "{\"timestamp\":");
    append_timestamp(j, ts_us);
    if (ev->flow_id != 0) {
        APPEND_LIT(j, ",\"flow_id\":");
        append_u64(j, ev->flow_id);
    }
    if (ev->pcap_cnt != 0) {
        APPEND_LIT(j, ",\"pcap_cnt\":");
        append_u64(j, ev->pcap_cnt);
    }
    APPEND_LIT(j, ",\"event_type\":");
    append_str(j, event_type_name(ev));

    if (t->vlan_count > 0) {
        unsigned n = t->vlan_count < VG_MAX_VLAN ? t->vlan_count : VG_MAX_VLAN;
        APPEND_LIT(j, ",\"vlan\":[");
        for (unsigned i = 0; i < n; i++) {
            if (i > 0)
                APPEND_LIT(j, ",");
            append_u64(j, t->vlan[i]);
        }
        APPEND_LIT(j, "]");
    }

    /* a decoder anomaly may come from a packet that never reached IP */
    if (t->family != 4 && t->family != 6)
        return;

    bool ports = t->has_ports && !is_icmp(t->proto);
    char addr[64];

    APPEND_LIT(j, ",\"src_ip\":");
    append_str(j, vg_ip_addr_str(&t->src, t->family, addr, sizeof(addr)));
    if (ports) {
        APPEND_LIT(j, ",\"src_port\":");
        append_u64(j, t->sport);
    }
    APPEND_LIT(j, ",\"dest_ip\":");
    append_str(j, vg_ip_addr_str(&t->dst, t->family, addr, sizeof(addr)));
    if (ports) {
        APPEND_LIT(j, ",\"dest_port\":");
        append_u64(j, t->dport);
    }
    APPEND_LIT(j, ",\"proto\":");
    append_proto(j, t->proto);
    if (is_icmp(t->proto)) {
        APPEND_LIT(j, ",\"icmp_type\":");
        append_u64(j, t->icmp_type);
        APPEND_LIT(j, ",\"icmp_code\":");
        append_u64(j, t->icmp_code);
    }
    if (o->community_id) {
        char cid[32];
        vg_community_id_v1(t, o->community_id_seed, cid, sizeof(cid));
        APPEND_LIT(j, ",\"community_id\":");
        append_str(j, cid);
    }
}

/* {"ip":...,"port":...} of one side of an alert (the target keyword). */
static void append_endpoint(struct vg_jbuf *j, const struct vg_event_tuple *t, bool dst)
{
    char addr[64];
    APPEND_LIT(j, "{\"ip\":");
    append_str(j, vg_ip_addr_str(dst ? &t->dst : &t->src, t->family, addr, sizeof(addr)));
    if (t->has_ports && !is_icmp(t->proto)) {
        APPEND_LIT(j, ",\"port\":");
        append_u64(j, dst ? t->dport : t->sport);
    }
    APPEND_LIT(j, "}");
}

/* "metadata":{key:[values]}: the rule's pairs come grouped by key. */
static void append_rule_metadata(struct vg_jbuf *j, const struct vg_rule_meta *r)
{
    APPEND_LIT(j, ",\"metadata\":{");
    for (uint16_t i = 0; i < r->nmetadata; i++) {
        const bool first_of_key = i == 0 || strcmp(r->metadata[i - 1].key, r->metadata[i].key) != 0;
        const bool last_of_key =
            i + 1 == r->nmetadata || strcmp(r->metadata[i + 1].key, r->metadata[i].key) != 0;
        if (first_of_key) {
            if (i > 0)
                APPEND_LIT(j, ",");
            append_str(j, r->metadata[i].key);
            APPEND_LIT(j, ":[");
        } else {
            APPEND_LIT(j, ",");
        }
        append_str(j, r->metadata[i].value);
        if (last_of_key)
            APPEND_LIT(j, "]");
    }
    APPEND_LIT(j, "}");
}

static void append_alert(struct vg_jbuf *j, const struct vg_event *ev)
{
    static const struct vg_rule_meta no_rule = {.msg = "", .category = ""};
    const struct vg_event_alert *a = &ev->u.alert;
    const struct vg_rule_meta *r = a->rule != NULL ? a->rule : &no_rule;

    APPEND_LIT(j, ",\"alert\":{\"action\":\"allowed\",\"gid\":");
    append_u64(j, r->gid);
    APPEND_LIT(j, ",\"signature_id\":");
    append_u64(j, r->sid);
    APPEND_LIT(j, ",\"rev\":");
    append_u64(j, r->rev);
    APPEND_LIT(j, ",\"signature\":");
    append_str(j, r->msg);
    APPEND_LIT(j, ",\"category\":");
    append_str(j, r->category);
    APPEND_LIT(j, ",\"severity\":");
    append_u64(j, r->priority);
    if (r->target != VG_TARGET_NONE && (ev->tuple.family == 4 || ev->tuple.family == 6)) {
        const bool target_is_dst = r->target == VG_TARGET_DEST;
        APPEND_LIT(j, ",\"source\":");
        append_endpoint(j, &ev->tuple, !target_is_dst);
        APPEND_LIT(j, ",\"target\":");
        append_endpoint(j, &ev->tuple, target_is_dst);
    }
    if (r->nmetadata > 0)
        append_rule_metadata(j, r);
    APPEND_LIT(j, "}");

    /* Suricata 7 puts the packet's direction after the alert object */
    if (a->has_flow) {
        if (a->to_server)
            APPEND_LIT(j, ",\"direction\":\"to_server\"");
        else
            APPEND_LIT(j, ",\"direction\":\"to_client\"");
    }
}

static void append_tcp_flag_bools(struct vg_jbuf *j, uint8_t flags)
{
    /* Suricata's order */
    if (flags & TCP_SYN)
        APPEND_LIT(j, ",\"syn\":true");
    if (flags & TCP_FIN)
        APPEND_LIT(j, ",\"fin\":true");
    if (flags & TCP_RST)
        APPEND_LIT(j, ",\"rst\":true");
    if (flags & TCP_PSH)
        APPEND_LIT(j, ",\"psh\":true");
    if (flags & TCP_ACK)
        APPEND_LIT(j, ",\"ack\":true");
    if (flags & TCP_URG)
        APPEND_LIT(j, ",\"urg\":true");
    if (flags & TCP_ECE)
        APPEND_LIT(j, ",\"ecn\":true");
    if (flags & TCP_CWR)
        APPEND_LIT(j, ",\"cwr\":true");
}

static void append_flow(struct vg_jbuf *j, const struct vg_event_flow *f, uint8_t proto)
{
    APPEND_LIT(j, ",\"flow\":{\"pkts_toserver\":");
    append_u64(j, f->pkts_toserver);
    APPEND_LIT(j, ",\"pkts_toclient\":");
    append_u64(j, f->pkts_toclient);
    APPEND_LIT(j, ",\"bytes_toserver\":");
    append_u64(j, f->bytes_toserver);
    APPEND_LIT(j, ",\"bytes_toclient\":");
    append_u64(j, f->bytes_toclient);
    APPEND_LIT(j, ",\"start\":");
    append_timestamp(j, f->start_us);
    APPEND_LIT(j, ",\"end\":");
    append_timestamp(j, f->end_us);
    /* whole seconds between the two timestamps, as Suricata counts it */
    uint64_t start_s = f->start_us / 1000000u;
    uint64_t end_s = f->end_us / 1000000u;
    APPEND_LIT(j, ",\"age\":");
    append_u64(j, end_s > start_s ? end_s - start_s : 0);
    APPEND_LIT(j, ",\"state\":");
    append_str(j, vg_flow_state_name((enum vg_flow_state)f->state));
    APPEND_LIT(j, ",\"reason\":");
    append_str(j, vg_flow_end_reason_name((enum vg_flow_end_reason)f->reason));
    if (f->alerted)
        APPEND_LIT(j, ",\"alerted\":true}");
    else
        APPEND_LIT(j, ",\"alerted\":false}");

    if (proto != PROTO_TCP)
        return;
    uint8_t all = f->tcp_flags_ts | f->tcp_flags_tc;
    APPEND_LIT(j, ",\"tcp\":{\"tcp_flags\":");
    append_hex8(j, all);
    APPEND_LIT(j, ",\"tcp_flags_ts\":");
    append_hex8(j, f->tcp_flags_ts);
    APPEND_LIT(j, ",\"tcp_flags_tc\":");
    append_hex8(j, f->tcp_flags_tc);
    append_tcp_flag_bools(j, all);
    const char *state = tcp_state_name(f->tcp_state);
    if (state != NULL) {
        APPEND_LIT(j, ",\"state\":");
        append_str(j, state);
    }
    APPEND_LIT(j, "}");
}

/* The layer an anomaly belongs to: the first dotted component of its name,
 * after an optional "decoder." prefix ("ipv4.trunc_pkt" -> "ipv4"). */
static void append_layer(struct vg_jbuf *j, const char *name)
{
    if (strncmp(name, "decoder.", 8) == 0)
        name += 8;
    const char *dot = strchr(name, '.');
    size_t n = dot != NULL ? (size_t)(dot - name) : strlen(name);
    vg_jbuf_append_json_string(j, (const uint8_t *)name, n);
}

static void append_anomaly(struct vg_jbuf *j, const struct vg_event_anomaly *a, int family,
                           uint8_t app_proto)
{
    const char *name = NULL;
    const char *type = "decode";
    if (a->kind == VG_ANOMALY_APPLAYER) {
        /* Suricata's applayer anomaly: the protocol and the parser's event */
        const char *proto = vg_app_proto_name((enum vg_app_proto)app_proto);
        name = vg_app_event_name((enum vg_app_proto)app_proto, a->event);
        APPEND_LIT(j, ",\"anomaly\":{\"app_proto\":");
        append_str(j, proto != NULL ? proto : "unknown");
        APPEND_LIT(j, ",\"type\":\"applayer\",\"event\":");
        append_str(j, name != NULL ? name : "unknown");
        APPEND_LIT(j, ",\"layer\":\"proto_parser\"}");
        return;
    }
    if (a->kind == VG_ANOMALY_DECODE && a->event < VG_DEC_EVENT_COUNT)
        name = vg_decode_event_name((enum vg_decode_event)a->event);
    else if (a->kind == VG_ANOMALY_DEFRAG && a->event < VG_DEFRAG_EV_COUNT)
        name = vg_defrag_event_name_family((enum vg_defrag_event)a->event, family);
    else if (a->kind == VG_ANOMALY_STREAM && a->event < VG_STREAM_EVENT_COUNT) {
        name = vg_stream_event_name((enum vg_stream_event)a->event);
        type = "stream";
    }
    if (name == NULL)
        name = "unknown";

    APPEND_LIT(j, ",\"anomaly\":{\"type\":");
    append_str(j, type);
    APPEND_LIT(j, ",\"event\":");
    append_str(j, name);
    APPEND_LIT(j, ",\"layer\":");
    append_layer(j, name);
    APPEND_LIT(j, "}");
}

/* Name of a tunnel carrier's IP protocol, IANA's keyword. */
static void append_tunnel_proto(struct vg_jbuf *j, uint8_t proto)
{
    switch (proto) {
    case PROTO_IPIP:
        APPEND_LIT(j, "\"IPv4\"");
        break;
    case PROTO_IPV6:
        APPEND_LIT(j, "\"IPv6\"");
        break;
    case PROTO_GRE:
        APPEND_LIT(j, "\"GRE\"");
        break;
    default:
        append_proto(j, proto);
        break;
    }
}

/* Suricata 7's "tunnel" object (the carrier's addresses, ports, protocol and
 * the depth), with vigil's tunnel_type and tunnel_id added. The carrier is
 * the IP header around the innermost tunnel; MPLS or PPPoE straight on
 * Ethernet has none, and then only the depth and type are shown. */
static void append_tunnel(struct vg_jbuf *j, const struct vg_event_tuple *t)
{
    char addr[64];
    APPEND_LIT(j, ",\"tunnel\":{");
    if (t->tunnel_family == 4 || t->tunnel_family == 6) {
        bool ports = t->tunnel_proto == PROTO_UDP;
        APPEND_LIT(j, "\"src_ip\":");
        append_str(j, vg_ip_addr_str(&t->tunnel_src, t->tunnel_family, addr, sizeof(addr)));
        if (ports) {
            APPEND_LIT(j, ",\"src_port\":");
            append_u64(j, t->tunnel_sport);
        }
        APPEND_LIT(j, ",\"dest_ip\":");
        append_str(j, vg_ip_addr_str(&t->tunnel_dst, t->tunnel_family, addr, sizeof(addr)));
        if (ports) {
            APPEND_LIT(j, ",\"dest_port\":");
            append_u64(j, t->tunnel_dport);
        }
        APPEND_LIT(j, ",\"proto\":");
        append_tunnel_proto(j, t->tunnel_proto);
        APPEND_LIT(j, ",");
    }
    APPEND_LIT(j, "\"depth\":");
    append_u64(j, t->encap_depth);
    APPEND_LIT(j, ",\"tunnel_type\":");
    append_str(j, vg_tunnel_type_name((enum vg_tunnel_type)t->tunnel_type));
    APPEND_LIT(j, ",\"tunnel_id\":");
    append_u64(j, t->tunnel_id);
    APPEND_LIT(j, "}");
}

void vg_eve_format(struct vg_jbuf *j, const struct vg_event *ev, const struct vg_eve_opts *o)
{
    static const struct vg_eve_opts no_opts = {0};
    if (o == NULL)
        o = &no_opts;

    /* a flow record is stamped with the time of its last packet */
    uint64_t ts_us = ev->type == VG_EVENT_FLOW ? ev->u.flow.end_us : ev->ts_us;
    append_header(j, ev, o, ts_us);

    switch (ev->type) {
    case VG_EVENT_ALERT:
        append_alert(j, ev);
        break;
    case VG_EVENT_FLOW:
        append_flow(j, &ev->u.flow, ev->tuple.proto);
        break;
    case VG_EVENT_ANOMALY:
        append_anomaly(j, &ev->u.anomaly, ev->tuple.family, ev->app_proto);
        break;
    default:
        break;
    }
    /* The flow's application protocol when a parser of vigil's took it;
     * a protocol only nDPI names comes in the metadata. */
    bool applayer_anomaly =
        ev->type == VG_EVENT_ANOMALY && ev->u.anomaly.kind == VG_ANOMALY_APPLAYER;
    if (ev->type != VG_EVENT_APP && !applayer_anomaly) {
        const char *app = vg_app_proto_name((enum vg_app_proto)ev->app_proto);
        if (app != NULL) {
            APPEND_LIT(j, ",\"app_proto\":");
            append_str(j, app);
        }
    }
    /* Application objects: the record's own (http, tls, ...), or those of
     * the transaction an alert matched in, or the flow's nDPI result. */
    if (ev->meta_len != 0)
        vg_meta_to_json(j, vg_event_meta(ev), ev->meta_len, true);
    if (ev->tuple.encap_depth != 0)
        append_tunnel(j, &ev->tuple);

    if (o->pcap_filename != NULL) {
        APPEND_LIT(j, ",\"pcap_filename\":");
        append_str(j, o->pcap_filename);
    }
    if (o->in_iface != NULL) {
        APPEND_LIT(j, ",\"in_iface\":");
        append_str(j, o->in_iface);
    }
    APPEND_LIT(j, "}");
}
