/* Fuzz harness: the DNS parser over UDP datagrams and TCP streams.
 *
 * Input: records of a 3-byte header and data. Header byte 0: bit 0 the
 * direction, bit 1 TCP (else the data is one UDP datagram), bit 2 a gap
 * before the chunk, bit 3 the direction ends after it; bytes 1-2 the data
 * length, big endian (cut to what is left). Every record is also probed.
 * Each transaction is encoded, into a small buffer every other time, so the
 * writer's limits are reached. The sink checks what the parser promises:
 * every transaction is closed (last = 1) exactly once, a query is opened
 * before it is closed, and after vg_dns_flush nothing stays open. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/dns.h"
#include "vigil/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TRACKED 4096
#define RECORD_HDR  3

struct sink {
    uint8_t state[MAX_TRACKED]; /* 0 unseen, 1 open, 2 closed */
    unsigned ntx;
};

static void touch(const struct vg_app_buf *b)
{
    volatile uint8_t sum = 0;
    for (uint32_t i = 0; b->data != NULL && i < b->len; i++)
        sum ^= b->data[i];
    (void)sum;
}

static void on_tx(void *user, const struct vg_app_tx *tx)
{
    struct sink *k = user;
    if (tx->proto != VG_APP_DNS || tx->encode == NULL || tx->dir > 1)
        abort();
    if (tx->stage != VG_STAGE_REQUEST && tx->stage != VG_STAGE_RESPONSE)
        abort();
    const struct vg_app_buf *q = &tx->buf[VG_BUF_DNS_QUERY];
    if (q->data != NULL && q->len > VG_DNS_NAME_MAX)
        abort();
    for (unsigned b = 0; b < VG_BUF_COUNT; b++)
        touch(&tx->buf[b]);
    if (tx->tx_id < MAX_TRACKED) {
        uint8_t *st = &k->state[tx->tx_id];
        if (*st == 2)
            abort(); /* a closed transaction came back */
        if (tx->last)
            *st = 2;
        else if (tx->stage == VG_STAGE_REQUEST)
            *st = 1;
        else
            abort(); /* a response always closes */
    }
    static uint8_t big[65536], small[96];
    struct vg_meta_writer w;
    if (k->ntx++ & 1)
        vg_meta_init(&w, small, sizeof(small));
    else
        vg_meta_init(&w, big, sizeof(big));
    tx->encode(tx->obj, &w);
    (void)vg_meta_finish(&w);
    if (w.depth != 0)
        abort();
}

static void on_anomaly(void *user, enum vg_app_proto proto, uint16_t ev)
{
    (void)user;
    if (proto != VG_APP_DNS || ev >= VG_DNS_EVENT_COUNT)
        abort();
    if (strcmp(vg_dns_event_name(ev), "UNKNOWN") == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sink k;
    memset(&k, 0, sizeof(k));
    struct vg_dns_state *s = malloc(vg_dns_state_size());
    if (s == NULL)
        return 0;
    vg_dns_state_init(s);
    const struct vg_app_cb cb = {&k, on_tx, on_anomaly};
    while (size >= RECORD_HDR) {
        uint8_t ctl = data[0];
        uint32_t len = (uint32_t)data[1] << 8 | data[2];
        data += RECORD_HDR;
        size -= RECORD_HDR;
        if (len > size)
            len = (uint32_t)size;
        /* a private copy with no slack, so any read past the data is caught */
        uint8_t *chunk = malloc(len != 0 ? len : 1);
        if (chunk == NULL)
            break;
        memcpy(chunk, data, len);
        data += len;
        size -= len;
        int dir = ctl & 1;
        bool tcp = ctl & 2;
        int pr = vg_dns_probe(dir, chunk, len, tcp);
        if (pr < -1 || pr > 1 || (!tcp && pr == 0))
            abort();
        if (tcp) {
            uint32_t flags = (ctl & 4 ? VG_APP_GAP : 0) | (ctl & 8 ? VG_APP_END : 0);
            vg_dns_parse_tcp(s, dir, chunk, len, flags, &cb);
        } else {
            vg_dns_parse_udp(s, dir, chunk, len, &cb);
        }
        free(chunk);
    }
    vg_dns_flush(s, &cb);
    for (unsigned i = 0; i < MAX_TRACKED; i++)
        if (k.state[i] == 1)
            abort(); /* a query left open after the flush */
    free(s);
    return 0;
}
