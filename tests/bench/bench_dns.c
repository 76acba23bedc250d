/*
 * bench_dns: DNS parser throughput on one core, in query/answer exchanges per second.
 *
 *   bench_dns [SECONDS]      (default 3 per measurement)
 *
 * The messages are what resolvers see: 256 distinct names, queries with one question and an
 * EDNS OPT record, answers with a CNAME and two A or AAAA records, names compressed. Three
 * measurements, each over one flow state reused for every exchange (so the pending table stays
 * small, as on a real flow):
 *   udp         vg_dns_parse_udp on the query then its answer, transactions counted only;
 *   udp+encode  the same, and every transaction's EVE object written with vg_meta_*;
 *   tcp         both messages length-prefixed through vg_dns_parse_tcp, one chunk each.
 * Prints one line per measurement: exchanges/s and the mean nanoseconds per exchange.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "vigil/dns.h"
#include "vigil/meta.h"

#define NAMES   256
#define MSG_MAX 512

struct msg {
    uint8_t b[MSG_MAX + 2]; /* 2-byte TCP length prefix, then the message */
    uint32_t n;
};

static struct msg queries[NAMES], answers[NAMES];

static void put(struct msg *m, const void *p, uint32_t n)
{
    memcpy(m->b + 2 + m->n, p, n);
    m->n += n;
}

static void put16(struct msg *m, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(m, b, 2);
}

static void put32(struct msg *m, uint32_t v)
{
    put16(m, (uint16_t)(v >> 16));
    put16(m, (uint16_t)v);
}

static void put_name(struct msg *m, const char *dotted)
{
    while (*dotted != '\0') {
        const char *dot = strchr(dotted, '.');
        size_t l = dot != NULL ? (size_t)(dot - dotted) : strlen(dotted);
        uint8_t lb = (uint8_t)l;
        put(m, &lb, 1);
        put(m, dotted, (uint32_t)l);
        dotted += l + (dot != NULL);
    }
    put(m, "", 1);
}

static void put_header(struct msg *m, uint16_t id, uint16_t flags, uint16_t an, uint16_t ar)
{
    m->n = 0;
    put16(m, id);
    put16(m, flags);
    put16(m, 1);
    put16(m, an);
    put16(m, 0);
    put16(m, ar);
}

static void put_opt(struct msg *m)
{
    put(m, "", 1);
    put16(m, 41);
    put16(m, 1232);
    put32(m, 0);
    put16(m, 0);
}

static void frame(struct msg *m)
{
    m->b[0] = (uint8_t)(m->n >> 8);
    m->b[1] = (uint8_t)m->n;
}

static void build(void)
{
    static const char *const words[] = {"www",   "api",    "cdn", "mail",
                                        "login", "static", "img", "auth"};
    static const char *const zones[] = {"example.com", "example.net", "example.org",
                                        "corp.example"};
    for (unsigned i = 0; i < NAMES; i++) {
        char name[128];
        snprintf(name, sizeof(name), "%s%u.%s", words[i % 8], i, zones[i % 4]);
        uint16_t id = (uint16_t)(0x1000 + i * 7);
        uint16_t type = (i & 3) == 3 ? 28 : 1;

        struct msg *q = &queries[i];
        put_header(q, id, 0x0100, 0, 1);
        put_name(q, name);
        put16(q, type);
        put16(q, 1);
        put_opt(q);
        frame(q);

        struct msg *a = &answers[i];
        put_header(a, id, 0x8180, 3, 1);
        put_name(a, name);
        put16(a, type);
        put16(a, 1);
        /* name -> edge<i>.cdn.example, then two addresses of that */
        put16(a, 0xc00c);
        put16(a, 5);
        put16(a, 1);
        put32(a, 300);
        uint32_t target = a->n;
        char edge[64];
        snprintf(edge, sizeof(edge), "edge%u.cdn.example", i % 32);
        struct msg tmp = {.n = 0};
        put_name(&tmp, edge);
        put16(a, (uint16_t)tmp.n);
        put(a, tmp.b + 2, tmp.n);
        for (unsigned k = 0; k < 2; k++) {
            put16(a, (uint16_t)(0xc000 | (target + 2)));
            put16(a, type);
            put16(a, 1);
            put32(a, 60);
            if (type == 1) {
                put16(a, 4);
                uint8_t ip[4] = {192, 0, 2, (uint8_t)(i + k)};
                put(a, ip, 4);
            } else {
                put16(a, 16);
                uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = (uint8_t)(i + k)};
                put(a, ip, 16);
            }
        }
        put_opt(a);
        frame(a);
    }
}

enum mode { UDP, UDP_ENCODE, TCP };

static void measure(enum mode mode, double seconds)
{
    struct vg_dns_state *st = malloc(vg_dns_state_size());
    if (st == NULL)
        exit(1);
    vg_dns_state_init(st);
    struct sink sink = {.encode = mode == UDP_ENCODE};
    const struct vg_app_cb cb = {&sink, on_tx, on_anomaly};
    uint64_t exchanges = 0;
    double start = now(), end = start;
    while (end - start < seconds) {
        /* a batch between clock reads */
        for (unsigned rep = 0; rep < 16; rep++) {
            for (unsigned i = 0; i < NAMES; i++) {
                if (mode == TCP) {
                    vg_dns_parse_tcp(st, 0, queries[i].b, queries[i].n + 2, 0, &cb);
                    vg_dns_parse_tcp(st, 1, answers[i].b, answers[i].n + 2, 0, &cb);
                } else {
                    vg_dns_parse_udp(st, 0, queries[i].b + 2, queries[i].n, &cb);
                    vg_dns_parse_udp(st, 1, answers[i].b + 2, answers[i].n, &cb);
                }
            }
        }
        exchanges += 16 * NAMES;
        end = now();
    }
    vg_dns_flush(st, &cb);
    if (sink.tx != 2 * exchanges) {
        fprintf(stderr, "bench_dns: %llu transactions for %llu exchanges\n",
                (unsigned long long)sink.tx, (unsigned long long)exchanges);
        exit(1);
    }
    static const char *const names[] = {"udp", "udp+encode", "tcp"};
    double elapsed = end - start;
    printf("%-11s %12.0f exchanges/s  %7.1f ns/exchange\n", names[mode], exchanges / elapsed,
           elapsed * 1e9 / (double)exchanges);
    free(st);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    if (seconds <= 0) {
        fprintf(stderr, "usage: bench_dns [SECONDS]\n");
        return 2;
    }
    build();
    measure(UDP, seconds);
    measure(UDP_ENCODE, seconds);
    measure(TCP, seconds);
    return 0;
}
