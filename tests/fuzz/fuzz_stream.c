/* Fuzz harness: TCP stream reassembly driven by arbitrary segment sequences.
 *
 * Input: a 16-byte header, 4 bytes choosing the configuration (policy,
 * midstream, async_oneside, per-flow cap; depth; memcap; segment pool), 4
 * unused, then each side's initial sequence number (2 x 32 bits); then
 * records of 8 bytes plus payload:
 *   flags    TCP flags
 *   ctl      bit 0 direction, bits 1-2 session slot, bit 3 first packet of
 *            the flow, bit 4 end the session after the packet
 *   seq      16-bit offset from the side's initial sequence number
 *   ack      16-bit offset from the other side's initial sequence number
 *   len      payload length, low 8 bits (the payload follows the record)
 *   mod      bits 0-3: shift applied to seq and ack (reaches far and wrapped
 *            sequence numbers); bits 4-5: payload length bits 8-9, so a
 *            segment can span several storage chunks
 * The sink checks what the engine promises: per session and direction,
 * chunks continue each other unless flagged as following a gap, never go
 * backwards and never repeat a byte. When the input ends every session is
 * ended and the pools must be empty again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SESSIONS 4

struct expect {
    uint64_t next_off[SESSIONS][2];
    unsigned current; /* session being fed */
};

static void check_data(void *user, enum vg_flow_dir dir, const uint8_t *p, uint32_t len,
                       uint64_t off, uint32_t flags)
{
    struct expect *e = user;
    if (len == 0 || p == NULL || (unsigned)dir > 1)
        abort();
    uint64_t *next = &e->next_off[e->current][dir];
    if (flags & VG_STREAM_GAP_BEFORE) {
        if (off <= *next)
            abort();
    } else if (off != *next) {
        abort();
    }
    /* touch every byte, so a bad pointer shows under the sanitizers */
    volatile uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum ^= p[i];
    (void)sum;
    *next = off + len;
}

static void check_event(void *user, enum vg_stream_event ev)
{
    (void)user;
    if ((unsigned)ev >= VG_STREAM_EVENT_COUNT)
        abort();
    if (vg_stream_event_name(ev) == NULL)
        abort();
}

static uint32_t rd16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t rd32(const uint8_t *p)
{
    return rd16(p) << 16 | rd16(p + 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 16)
        return 0;
    struct vg_stream_config cfg;
    vg_stream_config_default(&cfg);
    cfg.policy = (enum vg_stream_policy)(data[0] % 5);
    cfg.midstream = data[0] & 0x08;
    cfg.async_oneside = data[0] & 0x10;
    cfg.depth = data[1] & 0x80 ? 0 : (uint32_t)(data[1] & 0x7f) * 64;
    cfg.memcap = (uint64_t)(data[2] % 64) * VG_STREAM_CHUNK_SIZE;
    cfg.segment_pool = data[3] % 48;
    cfg.flow_cap = (uint32_t)(data[0] >> 5) * 2 * VG_STREAM_CHUNK_SIZE;
    uint32_t isn[2] = {rd32(data + 8), rd32(data + 12)};
    data += 16;
    size -= 16;

    struct vg_stream_table *t = vg_stream_table_new(SESSIONS, &cfg);
    if (t == NULL)
        return 0;
    struct expect e;
    memset(&e, 0, sizeof(e));
    const struct vg_stream_sink sink = {check_data, check_event, &e};

    while (size >= 8) {
        uint8_t flags = data[0], ctl = data[1];
        uint32_t shift = data[7] & 0x0f;
        uint32_t len = data[6] | (uint32_t)(data[7] & 0x30) << 4;
        enum vg_flow_dir dir = (enum vg_flow_dir)(ctl & 1);
        unsigned slot = (ctl >> 1) & 3;
        uint32_t seq = isn[dir] + (rd16(data + 2) << shift);
        uint32_t ack = isn[dir ^ 1] + (rd16(data + 4) << shift);
        data += 8;
        size -= 8;
        if (len > size)
            len = (uint32_t)size;
        /* A private copy with no slack, so any read past the payload is caught. */
        uint8_t *payload = len != 0 ? malloc(len) : NULL;
        if (len != 0)
            memcpy(payload, data, len);
        data += len;
        size -= len;

        struct vg_packet p;
        memset(&p, 0, sizeof(p));
        p.family = 4;
        p.proto = 6;
        p.flags = VG_PKT_HAS_L4;
        p.tcp_flags = flags;
        p.tcp_seq = seq;
        p.tcp_ack = ack;
        p.payload = payload;
        p.payload_len = len;
        bool first = ctl & 0x08;
        e.current = slot;
        if (first)
            memset(e.next_off[slot], 0, sizeof(e.next_off[slot]));
        vg_stream_packet(t, slot, dir, &p, first, &sink);
        (void)vg_stream_direction_active(t, slot, dir);
        if (ctl & 0x10) {
            vg_stream_session_end(t, slot, &sink);
            memset(e.next_off[slot], 0, sizeof(e.next_off[slot]));
        }
        free(payload);
        const struct vg_stream_stats *st = vg_stream_table_stats(t);
        if (st->memuse > cfg.memcap || st->segments_in_use > cfg.segment_pool)
            abort();
    }
    for (unsigned s = 0; s < SESSIONS; s++) {
        e.current = s;
        vg_stream_session_end(t, s, &sink);
    }
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    if (st->memuse != 0 || st->segments_in_use != 0)
        abort();
    if (st->delivered_bytes > st->segment_bytes)
        abort();
    vg_stream_table_free(t);
    return 0;
}
