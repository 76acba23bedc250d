/* Fuzz harness: packet decoder, flow table and detection on arbitrary bytes.
 * The first input byte picks the link type; the rest is the frame. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/detect.h"
#include "vigil/flow.h"
#include "vigil/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int linktypes[] = {
    VG_LINK_ETHERNET, VG_LINK_RAW,  VG_LINK_LINUX_SLL, VG_LINK_LINUX_SLL2,
    VG_LINK_NULL,     VG_LINK_IPV4, VG_LINK_IPV6,      VG_LINK_RAW_DLT12,
};

static void ignore_flow_end(void *user, const struct vg_flow *f, enum vg_flow_end_reason why,
                            uint64_t now_us)
{
    (void)user;
    (void)f;
    (void)why;
    (void)now_us;
}

static void ignore_alert(void *user, const struct vg_rule_meta *rule)
{
    (void)user;
    (void)rule;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vg_flow_table *flows;
    static uint64_t clock_us = 1000000;
    if (flows == NULL)
        flows = vg_flow_table_new(64, NULL, ignore_flow_end, NULL);
    if (size < 1)
        return 0;
    int linktype = linktypes[data[0] % (sizeof(linktypes) / sizeof(linktypes[0]))];
    /* A private copy with no slack, so any read past the end is caught. */
    uint8_t *frame = malloc(size - 1 ? size - 1 : 1);
    memcpy(frame, data + 1, size - 1);
    struct vg_decode_stats st;
    memset(&st, 0, sizeof(st));
    for (int mode = VG_CSUM_NONE; mode <= VG_CSUM_ALL; mode++) {
        struct vg_packet p;
        memset(&p, 0, sizeof(p));
        p.data = frame;
        p.caplen = (uint32_t)(size - 1);
        p.wirelen = (uint32_t)(size - 1) + (data[0] & 0x80 ? 100 : 0);
        p.ts_us = clock_us;
        if (vg_decode(&p, linktype, (enum vg_checksum_mode)mode, &st) != 0)
            continue;
        enum vg_flow_dir dir;
        if (!(p.flags & VG_PKT_FRAGMENT))
            vg_flow_table_packet(flows, &p, &dir);
        (void)vg_packet_flow_hash(&p);
    }
    clock_us += 7000000;
    vg_flow_table_expire(flows, clock_us);
    free(frame);
    (void)ignore_alert;
    return 0;
}
