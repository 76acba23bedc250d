/* Flow table tests on decoded packets built directly as struct vg_packet. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/flow.h"

#define SEC 1000000ull

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10

/* Records every flow end. */
struct ends {
    unsigned count;
    enum vg_flow_end_reason reason[64];
    struct vg_flow flow[64];
    uint64_t now[64];
};

static void on_end(void *user, const struct vg_flow *f, enum vg_flow_end_reason why,
                   uint64_t now_us)
{
    struct ends *e = user;
    cr_assert(f->in_use, "the slot is still intact during the callback");
    if (e->count < 64) {
        e->reason[e->count] = why;
        e->flow[e->count] = *f;
        e->now[e->count] = now_us;
    }
    e->count++;
}

static struct vg_ip_addr ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct vg_ip_addr x = {{a, b, c, d}};
    return x;
}

static struct vg_packet pkt(const struct vg_ip_addr *src, uint16_t sport,
                            const struct vg_ip_addr *dst, uint16_t dport, uint8_t proto,
                            uint8_t tcp_flags, uint64_t ts_us)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = 4;
    for (int i = 4; i < 16; i++)
        if (src->b[i] || dst->b[i])
            p.family = 6;
    p.proto = proto;
    p.src = *src;
    p.dst = *dst;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = tcp_flags;
    p.ts_us = ts_us;
    p.wirelen = 100;
    p.caplen = 100;
    p.flags = VG_PKT_HAS_L4;
    return p;
}

static struct vg_flow_table *table(uint32_t max, struct ends *e)
{
    struct vg_flow_timeouts t;
    vg_flow_timeouts_default(&t);
    struct vg_flow_table *ft = vg_flow_table_new(max, &t, on_end, e);
    cr_assert_not_null(ft);
    return ft;
}

/* Sends one packet, returns its flow and direction. */
static struct vg_flow *feed(struct vg_flow_table *t, const struct vg_packet *p,
                            enum vg_flow_dir *dir)
{
    enum vg_flow_dir d;
    struct vg_flow *f = vg_flow_table_packet(t, p, &d);
    cr_assert_not_null(f);
    if (dir != NULL)
        *dir = d;
    return f;
}

static uint64_t rng_state = 0x1234567;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static struct vg_ip_addr random_addr(int family)
{
    struct vg_ip_addr a;
    memset(&a, 0, sizeof(a));
    int n = family == 4 ? 4 : 16;
    for (int i = 0; i < n; i++)
        a.b[i] = (uint8_t)(rng() % 4); /* few values, so equal prefixes occur */
    return a;
}

/* ---- keys and hashes ---- */

Test(flow, key_is_symmetric)
{
    for (int iter = 0; iter < 20000; iter++) {
        int family = iter % 2 ? 6 : 4;
        struct vg_ip_addr a = random_addr(family), b = random_addr(family);
        uint16_t pa = (uint16_t)(rng() % 3), pb = (uint16_t)(rng() % 3);
        uint8_t proto = iter % 3 ? 6 : 17;
        struct vg_packet fwd = pkt(&a, pa, &b, pb, proto, 0, 0);
        struct vg_packet rev = pkt(&b, pb, &a, pa, proto, 0, 0);
        fwd.family = rev.family = (uint8_t)family;
        struct vg_flow_key kf, kr;
        bool fa, ra;
        vg_flow_key_from_packet(&kf, &fwd, &fa);
        vg_flow_key_from_packet(&kr, &rev, &ra);
        cr_assert_eq(memcmp(&kf, &kr, sizeof(kf)), 0);
        cr_assert_eq(vg_flow_key_hash(&kf), vg_flow_key_hash(&kr));
        cr_assert_eq(vg_packet_flow_hash(&fwd), vg_packet_flow_hash(&rev));
        cr_assert_eq(vg_packet_flow_hash(&fwd), vg_flow_key_hash(&kf));
        bool same = memcmp(&a, &b, sizeof(a)) == 0 && pa == pb;
        if (!same)
            cr_assert_neq(fa, ra);
        /* a is the smaller endpoint */
        int c = memcmp(&kf.addr_a, &kf.addr_b, sizeof(kf.addr_a));
        cr_assert(c < 0 || (c == 0 && kf.port_a <= kf.port_b));
        cr_assert_eq(kf.pad[0] | kf.pad[1], 0);
        cr_assert_eq(kf.family, family);
        cr_assert_eq(kf.proto, proto);
    }
}

Test(flow, key_details)
{
    struct vg_ip_addr c = ip4(10, 0, 0, 2), s = ip4(10, 0, 0, 1);
    struct vg_packet p = pkt(&c, 5555, &s, 80, 6, SYN, 0);
    p.vlan_count = 2;
    p.vlan[0] = 100;
    p.vlan[1] = 200;
    struct vg_flow_key k;
    bool src_is_a;
    vg_flow_key_from_packet(&k, &p, &src_is_a);
    cr_assert_not(src_is_a);
    cr_assert_eq(k.addr_a.b[3], 1);
    cr_assert_eq(k.port_a, 80);
    cr_assert_eq(k.port_b, 5555);
    cr_assert_eq(k.vlan[0], 100);
    cr_assert_eq(k.vlan[1], 200);

    /* Equal addresses: the port decides. */
    struct vg_packet q = pkt(&c, 9, &c, 8, 17, 0, 0);
    vg_flow_key_from_packet(&k, &q, &src_is_a);
    cr_assert_not(src_is_a);
    cr_assert_eq(k.port_a, 8);

    /* ICMP: ports out of the key. */
    struct vg_packet e = pkt(&c, 0, &s, 0, 1, 0, 0);
    e.icmp_type = 8;
    e.sport = 1234; /* whatever the packet says */
    vg_flow_key_from_packet(&k, &e, &src_is_a);
    cr_assert_eq(k.port_a | k.port_b, 0);

    /* Without an L4 header (fragments) there are no ports either. */
    struct vg_packet fr = pkt(&c, 5555, &s, 80, 6, 0, 0);
    fr.flags = VG_PKT_FRAGMENT;
    vg_flow_key_from_packet(&k, &fr, &src_is_a);
    cr_assert_eq(k.port_a | k.port_b, 0);
}

Test(flow, hash_spreads)
{
    enum { BUCKETS = 256, KEYS = 256 * 64 };
    static unsigned hist[BUCKETS];
    for (int i = 0; i < KEYS; i++) {
        struct vg_ip_addr a = ip4(10, 0, (uint8_t)(i >> 8), (uint8_t)i);
        struct vg_ip_addr b = ip4(10, 1, 0, 1);
        struct vg_packet p = pkt(&a, 40000, &b, 443, 6, 0, 0);
        hist[vg_packet_flow_hash(&p) % BUCKETS]++;
    }
    for (int i = 0; i < BUCKETS; i++)
        cr_assert(hist[i] > 64 / 2 && hist[i] < 64 * 2, "bucket %d has %u", i, hist[i]);
}

/* ---- direction and state ---- */

Test(flow, syn_first_sets_client)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(16, &e);
    struct vg_ip_addr c = ip4(10, 0, 0, 9), s = ip4(10, 0, 0, 1);
    enum vg_flow_dir d;
    struct vg_packet p = pkt(&c, 40000, &s, 80, 6, SYN, 1 * SEC);
    struct vg_flow *f = feed(t, &p, &d);
    cr_assert_eq(d, VG_DIR_TOSERVER);
    cr_assert_eq(f->tcp_state, VG_TCP_SYN_SENT);
    cr_assert_eq(f->state, VG_FLOW_STATE_NEW);
    cr_assert_eq(f->flags & VG_FLOW_F_MIDSTREAM, 0);

    struct vg_ip_addr cl, sv;
    uint16_t cp, sp;
    vg_flow_endpoints(f, &cl, &cp, &sv, &sp);
    cr_assert_eq(memcmp(&cl, &c, sizeof(cl)), 0);
    cr_assert_eq(cp, 40000);
    cr_assert_eq(memcmp(&sv, &s, sizeof(sv)), 0);
    cr_assert_eq(sp, 80);
    vg_flow_table_free(t);
}

Test(flow, syn_ack_first_makes_destination_the_client)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(16, &e);
    struct vg_ip_addr c = ip4(10, 0, 0, 9), s = ip4(10, 0, 0, 1);
    enum vg_flow_dir d;
    struct vg_packet sa = pkt(&s, 80, &c, 40000, 6, SYN | ACK, 1 * SEC);
    struct vg_flow *f = feed(t, &sa, &d);
    cr_assert_eq(d, VG_DIR_TOCLIENT);
    cr_assert(f->flags & VG_FLOW_F_MIDSTREAM);
    cr_assert_eq(f->tcp_state, VG_TCP_SYN_RECV);

    struct vg_ip_addr cl, sv;
    uint16_t cp, sp;
    vg_flow_endpoints(f, &cl, &cp, &sv, &sp);
    cr_assert_eq(memcmp(&cl, &c, sizeof(cl)), 0);
    cr_assert_eq(sp, 80);

    struct vg_packet ack = pkt(&c, 40000, &s, 80, 6, ACK, 1 * SEC + 10);
    cr_assert_eq(feed(t, &ack, &d), f);
    cr_assert_eq(d, VG_DIR_TOSERVER);
    cr_assert_eq(f->tcp_state, VG_TCP_ESTABLISHED);
    cr_assert_eq(f->state, VG_FLOW_STATE_ESTABLISHED);
    cr_assert_eq(vg_flow_table_stats(t)->tcp_midstream, 1);
    vg_flow_table_free(t);
}

Test(flow, tcp_handshake_and_close)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(16, &e);
    struct vg_ip_addr c = ip4(192, 168, 1, 20), s = ip4(192, 168, 1, 10);
    uint64_t ts = 100 * SEC;
    enum vg_flow_dir d;

    struct vg_packet p = pkt(&c, 50000, &s, 443, 6, SYN, ts);
    struct vg_flow *f = feed(t, &p, &d);
    cr_assert_eq(f->tcp_state, VG_TCP_SYN_SENT);

    /* A SYN+ACK from the client side is not the server's answer. */
    p = pkt(&c, 50000, &s, 443, 6, SYN | ACK, ++ts);
    feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, VG_TCP_SYN_SENT);

    p = pkt(&s, 443, &c, 50000, 6, SYN | ACK, ++ts);
    feed(t, &p, &d);
    cr_assert_eq(d, VG_DIR_TOCLIENT);
    cr_assert_eq(f->tcp_state, VG_TCP_SYN_RECV);
    cr_assert_eq(f->state, VG_FLOW_STATE_NEW);

    p = pkt(&c, 50000, &s, 443, 6, ACK, ++ts);
    feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, VG_TCP_ESTABLISHED);
    cr_assert_eq(f->state, VG_FLOW_STATE_ESTABLISHED);

    p = pkt(&c, 50000, &s, 443, 6, PSH | ACK, ++ts);
    feed(t, &p, NULL);
    p = pkt(&s, 443, &c, 50000, 6, FIN | ACK, ++ts);
    feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, VG_TCP_FIN_WAIT);
    cr_assert_eq(f->state, VG_FLOW_STATE_ESTABLISHED);

    p = pkt(&c, 50000, &s, 443, 6, FIN | ACK, ++ts);
    feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, VG_TCP_CLOSED);
    cr_assert_eq(f->state, VG_FLOW_STATE_CLOSED);

    p = pkt(&s, 443, &c, 50000, 6, ACK, ++ts);
    feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, VG_TCP_CLOSED);

    cr_assert_eq(f->pkts[VG_DIR_TOSERVER], 5);
    cr_assert_eq(f->pkts[VG_DIR_TOCLIENT], 3);
    cr_assert_eq(f->bytes[VG_DIR_TOSERVER], 500);
    cr_assert_eq(f->bytes[VG_DIR_TOCLIENT], 300);
    cr_assert_eq(f->tcp_flags[VG_DIR_TOSERVER], SYN | ACK | PSH | FIN);
    cr_assert_eq(f->tcp_flags[VG_DIR_TOCLIENT], SYN | ACK | FIN);
    cr_assert_eq(f->start_us, 100 * SEC);
    cr_assert_eq(f->last_us, ts);
    cr_assert_eq(f->flags & (VG_FLOW_F_SEEN_TOSERVER | VG_FLOW_F_SEEN_TOCLIENT),
                 VG_FLOW_F_SEEN_TOSERVER | VG_FLOW_F_SEEN_TOCLIENT);
    cr_assert_eq(vg_flow_table_stats(t)->created, 1);
    cr_assert_eq(e.count, 0);
    vg_flow_table_free(t);
}

Test(flow, tcp_rst_closes)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(16, &e);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(2, 2, 2, 2);
    struct vg_packet p = pkt(&c, 1000, &s, 22, 6, SYN, SEC);
    struct vg_flow *f = feed(t, &p, NULL);
    p = pkt(&s, 22, &c, 1000, 6, RST | ACK, SEC + 1);
    feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, VG_TCP_CLOSED);
    cr_assert_eq(f->state, VG_FLOW_STATE_CLOSED);
    cr_assert_eq(f->timeout_class, 2, "tcp closed class");
    vg_flow_table_free(t);
}

Test(flow, tcp_midstream_established_when_both_directions_seen)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(16, &e);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(2, 2, 2, 2);
    enum vg_flow_dir d;
    struct vg_packet p = pkt(&c, 1000, &s, 80, 6, PSH | ACK, SEC);
    struct vg_flow *f = feed(t, &p, &d);
    cr_assert_eq(d, VG_DIR_TOSERVER, "the first packet's source is the client");
    cr_assert(f->flags & VG_FLOW_F_MIDSTREAM);
    cr_assert_eq(f->tcp_state, VG_TCP_NONE);
    feed(t, &p, NULL);
    cr_assert_eq(f->state, VG_FLOW_STATE_NEW);
    p = pkt(&s, 80, &c, 1000, 6, ACK, SEC + 5);
    feed(t, &p, &d);
    cr_assert_eq(d, VG_DIR_TOCLIENT);
    cr_assert_eq(f->tcp_state, VG_TCP_ESTABLISHED);
    cr_assert_eq(f->state, VG_FLOW_STATE_ESTABLISHED);
    cr_assert_eq(vg_flow_table_stats(t)->tcp_midstream, 1);
    vg_flow_table_free(t);
}

Test(flow, udp_and_icmp_established_when_both_directions_seen)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(16, &e);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(8, 8, 8, 8);
    struct vg_packet q = pkt(&c, 33333, &s, 53, 17, 0, SEC);
    struct vg_flow *f = feed(t, &q, NULL);
    cr_assert_eq(f->state, VG_FLOW_STATE_NEW);
    struct vg_packet r = pkt(&s, 53, &c, 33333, 17, 0, SEC + 1);
    cr_assert_eq(feed(t, &r, NULL), f);
    cr_assert_eq(f->state, VG_FLOW_STATE_ESTABLISHED);
    cr_assert_eq(f->timeout_class, 4, "udp established class");

    struct vg_packet echo = pkt(&c, 0, &s, 0, 1, 0, SEC);
    echo.icmp_type = 8;
    struct vg_flow *g = feed(t, &echo, NULL);
    cr_assert_neq(g, f);
    struct vg_packet reply = pkt(&s, 0, &c, 0, 1, 0, SEC + 2);
    reply.icmp_type = 0;
    enum vg_flow_dir d;
    cr_assert_eq(feed(t, &reply, &d), g);
    cr_assert_eq(d, VG_DIR_TOCLIENT);
    cr_assert_eq(g->state, VG_FLOW_STATE_ESTABLISHED);

    /* Another protocol (GRE) works the same way. */
    struct vg_packet gre = pkt(&c, 0, &s, 0, 47, 0, SEC);
    gre.flags = 0;
    struct vg_flow *h = feed(t, &gre, NULL);
    cr_assert_eq(h->timeout_class, 9, "other new class");
    vg_flow_table_free(t);
}

Test(flow, vlan_separates_flows)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(16, &e);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(2, 2, 2, 2);
    struct vg_packet p = pkt(&c, 1, &s, 2, 17, 0, SEC);
    struct vg_flow *f = feed(t, &p, NULL);
    p.vlan_count = 1;
    p.vlan[0] = 7;
    cr_assert_neq(feed(t, &p, NULL), f);
    cr_assert_eq(vg_flow_table_stats(t)->created, 2);
    vg_flow_table_free(t);
}

Test(flow, non_ip_has_no_flow)
{
    struct vg_flow_table *t = table(4, NULL);
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    enum vg_flow_dir d;
    cr_assert_null(vg_flow_table_packet(t, &p, &d));
    vg_flow_table_free(t);
}

/* ---- timeouts, eviction, flush ---- */

Test(flow, expire_by_packet_time)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(16, &e);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(2, 2, 2, 2), x = ip4(3, 3, 3, 3);
    uint64_t t0 = 1000 * SEC;
    struct vg_packet u = pkt(&c, 1, &s, 2, 17, 0, t0); /* udp new: 30 s */
    feed(t, &u, NULL);
    struct vg_packet tcp = pkt(&c, 1, &x, 2, 6, SYN, t0); /* tcp new: 60 s */
    feed(t, &tcp, NULL);
    struct vg_packet est = pkt(&c, 5, &x, 6, 17, 0, t0); /* udp established: 300 s */
    feed(t, &est, NULL);
    est = pkt(&x, 6, &c, 5, 17, 0, t0);
    feed(t, &est, NULL);

    vg_flow_table_expire(t, t0 + 30 * SEC);
    cr_assert_eq(e.count, 0, "exactly the timeout is not yet past it");
    vg_flow_table_expire(t, t0 + 30 * SEC + 1);
    cr_assert_eq(e.count, 1);
    cr_assert_eq(e.reason[0], VG_FLOW_END_TIMEOUT);
    cr_assert_eq(e.flow[0].key.proto, 17);
    cr_assert_eq(e.now[0], t0 + 30 * SEC + 1);

    vg_flow_table_expire(t, t0 + 60 * SEC + 1);
    cr_assert_eq(e.count, 2);
    cr_assert_eq(e.flow[1].key.proto, 6);
    vg_flow_table_expire(t, t0 + 299 * SEC);
    cr_assert_eq(e.count, 2);
    vg_flow_table_expire(t, t0 + 301 * SEC);
    cr_assert_eq(e.count, 3);
    cr_assert_eq(vg_flow_table_stats(t)->ended_timeout, 3);
    cr_assert_eq(vg_flow_table_stats(t)->active, 0);
    vg_flow_table_free(t);
}

Test(flow, activity_postpones_expiry)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(16, &e);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(2, 2, 2, 2);
    struct vg_packet a = pkt(&c, 1, &s, 2, 17, 0, 0);
    struct vg_packet b = pkt(&c, 3, &s, 4, 17, 0, 0);
    feed(t, &a, NULL);
    feed(t, &b, NULL);
    a.ts_us = 20 * SEC;
    feed(t, &a, NULL); /* a moves behind b in the list */
    vg_flow_table_expire(t, 31 * SEC);
    cr_assert_eq(e.count, 1);
    cr_assert_eq(e.flow[0].key.port_a, 3);
    vg_flow_table_expire(t, 51 * SEC);
    cr_assert_eq(e.count, 2);
    vg_flow_table_free(t);
}

Test(flow, timed_out_flow_found_on_lookup_is_replaced)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(16, &e);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(2, 2, 2, 2);
    struct vg_packet p = pkt(&c, 1, &s, 2, 17, 0, 10 * SEC);
    struct vg_flow *f = feed(t, &p, NULL);
    uint64_t first_id = f->flow_id;
    p.ts_us = 40 * SEC + 1;
    f = feed(t, &p, NULL);
    cr_assert_eq(e.count, 1);
    cr_assert_eq(e.reason[0], VG_FLOW_END_TIMEOUT);
    cr_assert_eq(e.flow[0].flow_id, first_id);
    cr_assert_eq(e.flow[0].pkts[0], 1);
    cr_assert_neq(f->flow_id, first_id);
    cr_assert_eq(f->pkts[0], 1);
    cr_assert_eq(f->start_us, 40 * SEC + 1);
    cr_assert_eq(vg_flow_table_stats(t)->created, 2);
    cr_assert_eq(vg_flow_table_stats(t)->active, 1);
    vg_flow_table_free(t);
}

Test(flow, syn_on_closed_tuple_starts_new_flow)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(16, &e);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(2, 2, 2, 2);
    struct vg_packet p = pkt(&c, 1000, &s, 80, 6, SYN, SEC);
    struct vg_flow *f = feed(t, &p, NULL);
    uint64_t id = f->flow_id;
    p = pkt(&s, 80, &c, 1000, 6, RST | ACK, SEC + 1);
    feed(t, &p, NULL);
    p = pkt(&c, 1000, &s, 80, 6, SYN, SEC + 2);
    f = feed(t, &p, NULL);
    cr_assert_eq(e.count, 1);
    cr_assert_eq(e.flow[0].flow_id, id);
    cr_assert_eq(f->tcp_state, VG_TCP_SYN_SENT);
    cr_assert_eq(f->pkts[0] + f->pkts[1], 1);
    vg_flow_table_free(t);
}

Test(flow, eviction_at_cap_ends_least_recently_seen)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(4, &e);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(2, 2, 2, 2);
    struct vg_packet p[5];
    /* Flow 1 is TCP, the others UDP: the oldest is found across classes. */
    for (int i = 0; i < 5; i++)
        p[i] = pkt(&c, (uint16_t)(100 + i), &s, 53, i == 1 ? 6 : 17, i == 1 ? SYN : 0,
                   (uint64_t)(i + 1) * SEC);
    for (int i = 0; i < 4; i++)
        feed(t, &p[i], NULL);
    p[0].ts_us = 5 * SEC;
    feed(t, &p[0], NULL); /* flow 0 is recent again: flow 1 is now the oldest */
    p[4].ts_us = 6 * SEC;
    feed(t, &p[4], NULL);
    cr_assert_eq(e.count, 1);
    cr_assert_eq(e.reason[0], VG_FLOW_END_FORCED);
    cr_assert_eq(e.flow[0].key.proto, 6);
    cr_assert_eq(e.flow[0].key.port_a + e.flow[0].key.port_b, 101 + 53);
    const struct vg_flow_table_stats *st = vg_flow_table_stats(t);
    cr_assert_eq(st->ended_forced, 1);
    cr_assert_eq(st->active, 4);
    cr_assert_eq(st->max_active, 4);
    cr_assert_eq(st->created, 5);
    /* The evicted flow comes back as a new one, evicting the next oldest (flow 2). */
    p[1].ts_us = 7 * SEC;
    feed(t, &p[1], NULL);
    cr_assert_eq(e.count, 2);
    cr_assert_eq(e.flow[1].key.port_a + e.flow[1].key.port_b, 102 + 53);
    vg_flow_table_free(t);
}

Test(flow, flush_ends_everything)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(8, &e);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(2, 2, 2, 2);
    struct vg_packet a = pkt(&c, 1, &s, 2, 17, 0, SEC);
    struct vg_packet b = pkt(&c, 1, &s, 2, 6, SYN, SEC);
    struct vg_packet d = pkt(&c, 0, &s, 0, 1, 0, SEC);
    feed(t, &a, NULL);
    feed(t, &b, NULL);
    feed(t, &d, NULL);
    vg_flow_table_flush(t, VG_FLOW_END_SHUTDOWN, 9 * SEC);
    cr_assert_eq(e.count, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(e.reason[i], VG_FLOW_END_SHUTDOWN);
        cr_assert_eq(e.now[i], 9 * SEC);
    }
    cr_assert_eq(vg_flow_table_stats(t)->ended_shutdown, 3);
    cr_assert_eq(vg_flow_table_stats(t)->active, 0);
    /* The table is still usable. */
    feed(t, &a, NULL);
    cr_assert_eq(vg_flow_table_stats(t)->active, 1);
    vg_flow_table_flush(t, VG_FLOW_END_SHUTDOWN, 10 * SEC);
    cr_assert_eq(e.count, 4);
    vg_flow_table_free(t);
}

/* ---- flow id ---- */

Test(flow, flow_id_is_stable_across_tables)
{
    struct vg_flow_table *t1 = table(16, NULL), *t2 = table(1024, NULL);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(2, 2, 2, 2);
    struct vg_ip_addr c6 = {{0x20, 0x01, 0xd, 0xb8, [15] = 5}};
    struct vg_ip_addr s6 = {{0x20, 0x01, 0xd, 0xb8, [15] = 6}};
    struct vg_packet pk[3] = {
        pkt(&c, 1000, &s, 80, 6, SYN, 5 * SEC + 7),
        pkt(&s, 53, &c, 2000, 17, 0, 6 * SEC),
        pkt(&c6, 1, &s6, 2, 17, 0, 7 * SEC),
    };
    /* The second table sees unrelated flows first. */
    for (int i = 0; i < 10; i++) {
        struct vg_packet other = pkt(&c, (uint16_t)(3000 + i), &s, 9, 17, 0, SEC);
        feed(t2, &other, NULL);
    }
    for (int i = 0; i < 3; i++) {
        struct vg_flow *f1 = feed(t1, &pk[i], NULL);
        struct vg_flow *f2 = feed(t2, &pk[i], NULL);
        cr_assert_eq(f1->flow_id, f2->flow_id);
        cr_assert_neq(f1->flow_id, 0);
        cr_assert_eq(f1->flow_id >> 63, 0);
        /* The reply keeps the id. */
        struct vg_packet r = pk[i];
        r.src = pk[i].dst;
        r.dst = pk[i].src;
        r.sport = pk[i].dport;
        r.dport = pk[i].sport;
        r.ts_us += 1000;
        cr_assert_eq(feed(t1, &r, NULL)->flow_id, f1->flow_id);
    }
    /* Same tuple, different start: a different id. */
    struct vg_flow_table *t3 = table(16, NULL);
    struct vg_packet later = pk[0];
    later.ts_us += 1;
    cr_assert_neq(feed(t3, &later, NULL)->flow_id, feed(t1, &pk[0], NULL)->flow_id);
    vg_flow_table_free(t1);
    vg_flow_table_free(t2);
    vg_flow_table_free(t3);
}

/* ---- random traffic ---- */

Test(flow, random_traffic_keeps_the_books)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(64, &e);
    uint64_t ts = 0;
    for (int i = 0; i < 200000; i++) {
        ts += rng() % (2 * SEC);
        struct vg_ip_addr a = ip4(10, 0, 0, (uint8_t)(rng() % 16));
        struct vg_ip_addr b = ip4(10, 0, 1, (uint8_t)(rng() % 16));
        uint8_t protos[] = {6, 17, 1, 47};
        uint8_t proto = protos[rng() % 4];
        uint8_t flags_choice[] = {SYN, SYN | ACK, ACK, FIN | ACK, RST, PSH | ACK};
        struct vg_packet p = pkt(&a, (uint16_t)(rng() % 4), &b, 80, proto,
                                 proto == 6 ? flags_choice[rng() % 6] : 0, ts);
        if (rng() % 2) {
            struct vg_packet r = p;
            r.src = p.dst;
            r.dst = p.src;
            r.sport = p.dport;
            r.dport = p.sport;
            p = r;
        }
        struct vg_flow *f = feed(t, &p, NULL);
        cr_assert(f->in_use);
        if (i % 1000 == 0)
            vg_flow_table_expire(t, ts);
        const struct vg_flow_table_stats *st = vg_flow_table_stats(t);
        cr_assert(st->active <= 64);
    }
    const struct vg_flow_table_stats *st = vg_flow_table_stats(t);
    cr_assert_eq(st->created, st->active + e.count);
    cr_assert_eq(st->ended_timeout + st->ended_forced, e.count);
    vg_flow_table_flush(t, VG_FLOW_END_SHUTDOWN, ts);
    cr_assert_eq(st->active, 0);
    cr_assert_eq(st->created, e.count);
    vg_flow_table_free(t);
}

/* ---- names and construction ---- */

Test(flow, names)
{
    cr_assert_str_eq(vg_flow_state_name(VG_FLOW_STATE_NEW), "new");
    cr_assert_str_eq(vg_flow_state_name(VG_FLOW_STATE_ESTABLISHED), "established");
    cr_assert_str_eq(vg_flow_state_name(VG_FLOW_STATE_CLOSED), "closed");
    cr_assert_str_eq(vg_flow_end_reason_name(VG_FLOW_END_TIMEOUT), "timeout");
    cr_assert_str_eq(vg_flow_end_reason_name(VG_FLOW_END_FORCED), "forced");
    cr_assert_str_eq(vg_flow_end_reason_name(VG_FLOW_END_SHUTDOWN), "shutdown");
}

Test(flow, default_timeouts_are_suricatas)
{
    struct vg_flow_timeouts t;
    vg_flow_timeouts_default(&t);
    cr_assert_eq(t.tcp[0], 60);
    cr_assert_eq(t.tcp[1], 600);
    cr_assert_eq(t.tcp[2], 60);
    cr_assert_eq(t.udp[0], 30);
    cr_assert_eq(t.udp[1], 300);
    cr_assert_eq(t.icmp[0], 30);
    cr_assert_eq(t.icmp[1], 300);
    cr_assert_eq(t.other[0], 30);
    cr_assert_eq(t.other[1], 300);
}

Test(flow, table_of_one)
{
    struct ends e = {0};
    struct vg_flow_table *t = table(1, &e);
    struct vg_ip_addr c = ip4(1, 1, 1, 1), s = ip4(2, 2, 2, 2);
    for (uint16_t i = 0; i < 10; i++) {
        struct vg_packet p = pkt(&c, i, &s, 2, 17, 0, i * SEC);
        feed(t, &p, NULL);
    }
    cr_assert_eq(e.count, 9);
    cr_assert_null(vg_flow_table_new(0, NULL, NULL, NULL));
    vg_flow_table_free(NULL);
    vg_flow_table_free(t);
}

Test(flow, dispatch_hash_ignores_ports_and_is_symmetric)
{
    struct vg_packet a, b, frag;
    memset(&a, 0, sizeof(a));
    a.family = 4;
    a.proto = 6;
    a.flags = VG_PKT_HAS_L4;
    a.src.b[0] = 10;
    a.src.b[3] = 1;
    a.dst.b[0] = 192;
    a.dst.b[3] = 9;
    a.sport = 40000;
    a.dport = 443;
    b = a;
    b.src = a.dst;
    b.dst = a.src;
    b.sport = a.dport;
    b.dport = a.sport;
    frag = a;
    frag.flags = VG_PKT_FRAGMENT;
    frag.sport = 0;
    frag.dport = 0;
    cr_assert_eq(vg_packet_dispatch_hash(&a), vg_packet_dispatch_hash(&b));
    cr_assert_eq(vg_packet_dispatch_hash(&a), vg_packet_dispatch_hash(&frag),
                 "a fragment goes where its flow goes");
    struct vg_packet other = a;
    other.dst.b[3] = 10;
    cr_assert_neq(vg_packet_dispatch_hash(&a), vg_packet_dispatch_hash(&other));
}
