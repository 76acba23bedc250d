/* Fuzz harness: fragment reassembly on arbitrary packet sequences.
 *
 * Input: one byte picking the overlap policy, then records of a 2-byte
 * big-endian header and a raw IP packet. The header's low 15 bits are the
 * packet's length (cut to what is left); its top bit moves the clock 30 s
 * ahead before the packet, so timeouts happen. Each packet is decoded as raw
 * IP and, when it is a fragment, fed to a defragmenter with small caps; a
 * rebuilt datagram that is itself a fragment (nested IPv6 fragment headers)
 * is fed back in. make_defrag_corpus.py writes seeds in this format. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/defrag.h"
#include "vigil/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECOND_US    1000000ull
#define MAX_NESTED   4
#define CLOCK_JUMP   0x8000u
#define LENGTH_MASK  0x7fffu
#define RECORD_HDR   2
#define FUZZ_TIMEOUT (10 * SECOND_US)

static struct vg_defrag *instances[VG_DEFRAG_POLICY_COUNT];

static struct vg_defrag *instance(unsigned policy)
{
    if (instances[policy] == NULL) {
        /* small caps, so that the fuzzer reaches every limit */
        struct vg_defrag_config c = {
            .memcap = 64 * VG_DEFRAG_CHUNK_SIZE,
            .max_trackers = 16,
            .max_fragments = 32,
            .timeout_us = FUZZ_TIMEOUT,
            .policy = (enum vg_defrag_policy)policy,
        };
        instances[policy] = vg_defrag_new(&c);
        if (instances[policy] == NULL)
            abort();
    }
    return instances[policy];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t clock_us = 1000 * SECOND_US;
    if (size < 1)
        return 0;
    struct vg_defrag *d = instance(data[0] % VG_DEFRAG_POLICY_COUNT);
    struct vg_decode_stats st;
    memset(&st, 0, sizeof(st));
    size_t pos = 1;
    while (pos + RECORD_HDR <= size) {
        unsigned hdr = (unsigned)data[pos] << 8 | data[pos + 1];
        pos += RECORD_HDR;
        size_t len = hdr & LENGTH_MASK;
        if (len > size - pos)
            len = size - pos;
        if (hdr & CLOCK_JUMP)
            clock_us += 3 * FUZZ_TIMEOUT;
        clock_us += 1000;
        /* A private copy with no slack, so any read past the end is caught. */
        uint8_t *frame = malloc(len ? len : 1);
        if (frame == NULL)
            abort();
        memcpy(frame, data + pos, len);
        pos += len;

        struct vg_packet p, out;
        memset(&p, 0, sizeof(p));
        p.data = frame;
        p.caplen = (uint32_t)len;
        p.wirelen = (uint32_t)len;
        p.ts_us = clock_us;
        if (vg_decode(&p, VG_LINK_RAW, VG_CSUM_NONE, &st) == 0) {
            const struct vg_packet *in = &p;
            for (int depth = 0; depth < MAX_NESTED && (in->flags & VG_PKT_FRAGMENT); depth++) {
                if (vg_defrag_packet(d, in, clock_us, &out, &st) != 1)
                    break;
                /* the rebuilt datagram lives in d's buffer; feeding it back
                 * in must work too */
                p = out;
                in = &p;
            }
        }
        const struct vg_defrag_stats *s = vg_defrag_stats(d);
        if (s->memuse > 64 * VG_DEFRAG_CHUNK_SIZE || s->trackers_active > 16)
            abort();
        free(frame);
    }
    /* Every input starts from an empty defragmenter. */
    clock_us += 3 * FUZZ_TIMEOUT;
    vg_defrag_expire(d, clock_us);
    if (vg_defrag_stats(d)->memuse != 0 || vg_defrag_stats(d)->trackers_active != 0)
        abort();
    return 0;
}
