/* DPDK capture backend (dataplane/dpdk.c), built only when DPDK is found
 * (VG_HAVE_DPDK). This header uses no DPDK type, so the runtime includes it
 * without DPDK's headers.
 *
 * Ports (PCI devices or vdevs) come from the configuration (dpdk.ports) or,
 * without one, are every port EAL probed. Each worker runs on its own lcore.
 * Ports whose PMD hashes on IP addresses (symmetric key) get one RX queue
 * per worker and worker i polls queue i of every port; otherwise one lcore
 * polls every port, decodes, and hands each mbuf to the worker that owns its
 * address pair (vg_packet_dispatch_hash) through an rte_ring. */
#ifndef VIGIL_DPDK_H
#define VIGIL_DPDK_H

#include "dataplane_int.h"

struct vg_dpdk;

struct vg_dpdk_opts {
    int eal_argc; /* EAL arguments, argv[0] included */
    char **eal_argv;
    const struct vg_config *cfg;
    unsigned workers;               /* --workers; 0: from the lcores EAL was given */
    struct vg_decode_config decode; /* tunnel ports and checksum mode, as for -r */
    uint32_t event_ring_size;       /* decoder anomaly records queued per polling lcore */
};

/* Initialises EAL, finds and configures the ports, creates the mbuf pools
 * and rings. Sets *nworkers. Returns NULL with a message in err (EAL's own
 * messages are on stderr already). */
struct vg_dpdk *vg_dpdk_open(const struct vg_dpdk_opts *o, unsigned *nworkers, char *err,
                             size_t errlen);

/* Starts the ports, waits (bounded by dpdk.link-wait) for their links, and
 * launches the workers (initialised by the caller) on their lcores.
 * Returns 0, or -1 with a message. */
int vg_dpdk_start(struct vg_dpdk *d, struct vg_worker *workers, char *err, size_t errlen);

/* Stops receiving, lets every worker drain what it holds and end its
 * flows, and waits for the lcores. Counters are final afterwards. */
void vg_dpdk_stop(struct vg_dpdk *d);

/* The rings of decoder anomaly records, one per polling lcore, for the
 * exporter to drain: fills out (up to max) and returns how many there are
 * (out may be NULL to ask). */
unsigned vg_dpdk_event_rings(struct vg_dpdk *d, struct vg_event_ring **out, unsigned max);

/* For the stats thread (struct vg_live_source): ctx is the struct vg_dpdk. */
void vg_dpdk_read_counters(void *ctx, struct vg_capture_counters *cap, struct vg_decode_stats *dec);
unsigned vg_dpdk_port_stats(void *ctx, struct vg_port_summary *out, unsigned max);

/* The capture ports' names, comma-separated ("net_pcap0"), for messages,
 * the summary and EVE's in_iface. */
const char *vg_dpdk_label(const struct vg_dpdk *d);

/* Stops and closes the ports and releases EAL. */
void vg_dpdk_close(struct vg_dpdk *d);

#endif
