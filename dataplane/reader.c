/* Capture reader: libpcap reads pcap and pcapng files, or a live interface;
 * each packet is decoded once here and copied, with its decoded view, into
 * the ring of the worker that owns its flow (chosen by the symmetric flow
 * hash). */
#include "dataplane_int.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SECOND_US 1000000ull

/* Live capture hands packets over at least this often, and an idle loop
 * wakes this often, so a quiet link still lets it see a stop request and
 * move the flow clock. */
#define LIVE_TIMEOUT_MS 100

static int reader_open_live(struct vg_reader *r, char *err, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pc = pcap_create(r->iface, pcap_err);
    if (pc == NULL) {
        snprintf(err, errlen, "%s: cannot capture: %s", r->iface, pcap_err);
        return -1;
    }
    r->pcap = pc;
    pcap_set_snaplen(pc, r->snaplen > 0 ? r->snaplen : 65535);
    pcap_set_promisc(pc, 1);
    pcap_set_timeout(pc, LIVE_TIMEOUT_MS);
    if (r->buffer_size > 0)
        pcap_set_buffer_size(pc, r->buffer_size);
    pcap_set_tstamp_precision(pc, PCAP_TSTAMP_PRECISION_MICRO);
    int rc = pcap_activate(pc);
    if (rc < 0) {
        const char *why;
        switch (rc) {
        case PCAP_ERROR_NO_SUCH_DEVICE:
            why = "no such interface";
            break;
        case PCAP_ERROR_PERM_DENIED:
        case PCAP_ERROR_PROMISC_PERM_DENIED:
            why = "permission denied (live capture needs root or CAP_NET_RAW)";
            break;
        case PCAP_ERROR_IFACE_NOT_UP:
            why = "the interface is down";
            break;
        default:
            why = pcap_statustostr(rc);
            break;
        }
        snprintf(err, errlen, "%s: cannot capture: %s (%s)", r->iface, why, pcap_geterr(pc));
        return -1;
    }
    if (rc > 0)
        fprintf(stderr, "vigil: %s: %s\n", r->iface, pcap_geterr(pc));
    /* Non-blocking reads and our own poll with a timeout: a blocking read
     * may wait for ever on a quiet link (the kernel hands over no empty
     * block), and the loop must see SIGINT. */
    if (pcap_setnonblock(pc, 1, pcap_err) != 0 || pcap_get_selectable_fd(pc) < 0) {
        snprintf(err, errlen, "%s: cannot read without blocking: %s", r->iface, pcap_err);
        return -1;
    }
    r->linktype = pcap_datalink(pc);
    if (!vg_linktype_supported(r->linktype)) {
        const char *name = pcap_datalink_val_to_name(r->linktype);
        snprintf(err, errlen,
                 "%s: unsupported link type %d (%s); vigil decodes Ethernet, Linux cooked "
                 "(SLL, SLL2), raw IP and BSD loopback",
                 r->iface, r->linktype, name ? name : "unknown");
        return -1;
    }
    if (r->bpf != NULL && r->bpf[0] != '\0') {
        struct bpf_program prog;
        if (pcap_compile(pc, &prog, r->bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(err, errlen, "%s: bad BPF filter '%s': %s", r->iface, r->bpf, pcap_geterr(pc));
            return -1;
        }
        rc = pcap_setfilter(pc, &prog);
        pcap_freecode(&prog);
        if (rc != 0) {
            snprintf(err, errlen, "%s: cannot set the BPF filter: %s", r->iface, pcap_geterr(pc));
            return -1;
        }
    }
    return 0;
}

int vg_reader_open(struct vg_reader *r, char *err, size_t errlen)
{
    if (r->iface != NULL)
        return reader_open_live(r, err, errlen);
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    struct stat sb;
    if (stat(r->path, &sb) != 0) {
        snprintf(err, errlen, "%s: %s", r->path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not a capture file", r->path);
        return -1;
    }
    r->file_size = (uint64_t)sb.st_size;
    pcap_t *pc = NULL;
    if (r->preload) {
        /* Read the whole capture first, so that disk speed does not count in
         * the measured run. */
        FILE *f = fopen(r->path, "rb");
        if (f == NULL) {
            snprintf(err, errlen, "%s: %s", r->path, strerror(errno));
            return -1;
        }
        r->preload_buf = malloc(r->file_size ? r->file_size : 1);
        if (r->preload_buf == NULL) {
            fclose(f);
            snprintf(err, errlen, "%s: cannot preload %llu bytes into memory", r->path,
                     (unsigned long long)r->file_size);
            return -1;
        }
        size_t got = fread(r->preload_buf, 1, r->file_size, f);
        fclose(f);
        if (got != r->file_size) {
            snprintf(err, errlen, "%s: short read while preloading", r->path);
            return -1;
        }
        FILE *mem = fmemopen(r->preload_buf, r->file_size, "rb");
        if (mem == NULL) {
            snprintf(err, errlen, "%s: fmemopen: %s", r->path, strerror(errno));
            return -1;
        }
        pc = pcap_fopen_offline_with_tstamp_precision(mem, PCAP_TSTAMP_PRECISION_MICRO, pcap_err);
        if (pc == NULL)
            fclose(mem);
    } else {
        pc =
            pcap_open_offline_with_tstamp_precision(r->path, PCAP_TSTAMP_PRECISION_MICRO, pcap_err);
    }
    if (pc == NULL) {
        snprintf(err, errlen, "%s: not a readable pcap or pcapng capture (%s)", r->path, pcap_err);
        return -1;
    }
    r->pcap = pc;
    r->linktype = pcap_datalink(pc);
    if (!vg_linktype_supported(r->linktype)) {
        const char *name = pcap_datalink_val_to_name(r->linktype);
        snprintf(err, errlen,
                 "%s: unsupported link type %d (%s); vigil decodes Ethernet, Linux cooked "
                 "(SLL, SLL2), raw IP and BSD loopback captures",
                 r->path, r->linktype, name ? name : "unknown");
        return -1;
    }
    return 0;
}

void vg_reader_close(struct vg_reader *r)
{
    if (r->pcap != NULL)
        pcap_close(r->pcap);
    r->pcap = NULL;
    free(r->preload_buf);
    r->preload_buf = NULL;
}

/* Sends a small control record to one worker, waiting for room. */
static void reader_send_control(struct vg_reader *r, struct vg_worker *w, uint32_t kind,
                                uint64_t ts)
{
    unsigned spins = 0;
    void *slot;
    while ((slot = vg_pktring_reserve(w->ring, sizeof(ts), kind)) == NULL) {
        r->st.ring_waits++;
        vg_backoff(&spins);
    }
    memcpy(slot, &ts, sizeof(ts));
    vg_pktring_commit(w->ring);
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Live: sends a tick only when there is room; a later one carries the
 * clock forward anyway, and the reader must not wait on a worker. */
static void reader_try_control(struct vg_worker *w, uint32_t kind, uint64_t ts)
{
    void *slot = vg_pktring_reserve(w->ring, sizeof(ts), kind);
    if (slot == NULL)
        return;
    memcpy(slot, &ts, sizeof(ts));
    vg_pktring_commit(w->ring);
}

/* Adds the growth of a 32-bit libpcap counter, which wraps. */
static void add_u32_delta(uint64_t *total, uint32_t *last, u_int now)
{
    *total += (uint32_t)((uint32_t)now - *last);
    *last = (uint32_t)now;
}

/* Live, once a second: the kernel's counters, then everything the stats
 * thread reads. */
static void reader_publish(struct vg_reader *r, uint32_t last[3])
{
    struct pcap_stat ps;
    if (r->iface != NULL && pcap_stats(r->pcap, &ps) == 0) {
        add_u32_delta(&r->st.kernel_packets, &last[0], ps.ps_recv);
        add_u32_delta(&r->st.kernel_drops, &last[1], ps.ps_drop);
        add_u32_delta(&r->st.kernel_ifdrops, &last[2], ps.ps_ifdrop);
    }
    struct vg_capture_counters c;
    memset(&c, 0, sizeof(c));
    c.packets = r->st.packets;
    c.bytes = r->st.bytes;
    c.kernel_packets = r->st.kernel_packets;
    c.kernel_drops = r->st.kernel_drops;
    c.kernel_ifdrops = r->st.kernel_ifdrops;
    c.ring_full = r->st.ring_drops;
    c.oversize = r->st.oversize;
    c.anomalies_dropped = r->st.anomalies_dropped;
    vg_counters_publish(&r->pub_cap, &c, sizeof(c));
    vg_counters_publish(&r->pub_dec, &r->dec, sizeof(r->dec));
}

/* Live, no packet within the timeout: wall time moves the flow clock. */
static void reader_idle(struct vg_reader *r, uint64_t *last_tick_sec, uint32_t last[3])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * SECOND_US + (uint64_t)ts.tv_nsec / 1000u;
    if (now > r->last_ts_us)
        r->last_ts_us = now;
    uint64_t sec = r->last_ts_us / SECOND_US;
    if (sec == *last_tick_sec)
        return;
    *last_tick_sec = sec;
    for (unsigned i = 0; i < r->nworkers; i++)
        reader_try_control(&r->workers[i], VG_REC_TICK, r->last_ts_us);
    reader_publish(r, last);
}

static void reader_progress(struct vg_reader *r, uint64_t start_ns, bool final)
{
    double secs = (double)(monotonic_ns() - start_ns) / 1e9;
    double mb = (double)r->st.bytes / 1e6;
    fprintf(stderr, "\r%llu packets, %.1f MB, %.0f packets/s%s", (unsigned long long)r->st.packets,
            mb, secs > 0 ? (double)r->st.packets / secs : 0.0, final ? "\n" : "   ");
    fflush(stderr);
}

/* A decoder anomaly becomes an EVE record. Checksum errors only count:
 * a mirror port sees NIC-offloaded checksums on every packet. */
static void reader_anomaly(struct vg_reader *r, const struct vg_packet *p)
{
    unsigned ev = (unsigned)p->decode_event - 1;
    if (r->events == NULL || ev == VG_DEC_IPV4_BAD_CHECKSUM || ev == VG_DEC_TCP_BAD_CHECKSUM ||
        ev == VG_DEC_UDP_BAD_CHECKSUM || ev == VG_DEC_ICMP_BAD_CHECKSUM)
        return;
    struct vg_event e;
    memset(&e, 0, sizeof(e));
    e.type = VG_EVENT_ANOMALY;
    e.ts_us = p->ts_us;
    e.pcap_cnt = p->pcap_cnt;
    vg_event_tuple_from_packet(&e.tuple, p);
    e.u.anomaly.kind = VG_ANOMALY_DECODE;
    e.u.anomaly.event = (uint16_t)ev;
    unsigned spins = 0;
    while (!vg_event_ring_push(r->events, &e)) {
        if (r->path == NULL) {
            r->st.anomalies_dropped++;
            return;
        }
        vg_backoff(&spins);
    }
}

int vg_reader_run(struct vg_reader *r)
{
    pcap_t *pc = r->pcap;
    struct pcap_pkthdr *hdr;
    const u_char *bytes;
    uint64_t cnt = 0;
    uint64_t last_tick_sec = 0;
    uint64_t start_ns = monotonic_ns();
    uint64_t next_progress_ns = start_ns + 500000000ull;
    const bool live = r->iface != NULL;
    uint32_t kernel_last[3] = {0, 0, 0};
    int rc = 0;
    int status = 0;

    for (;;) {
        if (VG_UNLIKELY(vg_stop_requested())) {
            r->st.interrupted = true;
            break;
        }
        rc = pcap_next_ex(pc, &hdr, &bytes);
        if (rc == 0) {
            /* live: nothing to read now */
            reader_idle(r, &last_tick_sec, kernel_last);
            struct pollfd pfd = {.fd = pcap_get_selectable_fd(pc), .events = POLLIN};
            poll(&pfd, 1, LIVE_TIMEOUT_MS);
            continue;
        }
        if (rc != 1)
            break;
        cnt++;
        struct vg_packet p;
        memset(&p, 0, sizeof(p));
        p.data = bytes;
        p.caplen = hdr->caplen;
        p.wirelen = hdr->len;
        p.ts_us = (uint64_t)hdr->ts.tv_sec * SECOND_US + (uint64_t)hdr->ts.tv_usec;
        p.pcap_cnt = live ? 0 : cnt;
        r->st.packets++;
        r->st.bytes += hdr->len;
        if (p.ts_us > r->last_ts_us)
            r->last_ts_us = p.ts_us;

        /* A new second of packet time: every worker hears of it, so flows
         * expire at the same packet times whatever the worker count. */
        uint64_t sec = r->last_ts_us / SECOND_US;
        if (sec != last_tick_sec) {
            last_tick_sec = sec;
            for (unsigned i = 0; i < r->nworkers; i++) {
                if (live)
                    reader_try_control(&r->workers[i], VG_REC_TICK, r->last_ts_us);
                else
                    reader_send_control(r, &r->workers[i], VG_REC_TICK, r->last_ts_us);
            }
            if (live)
                reader_publish(r, kernel_last);
        }

        int decoded = vg_decode_ex(&p, r->linktype, &r->decode, &r->dec);
        if (VG_UNLIKELY(p.decode_event != 0))
            reader_anomaly(r, &p);
        if (decoded != 0)
            continue;

        struct vg_worker *w = &r->workers[0];
        if (r->nworkers > 1) {
            uint32_t h = vg_packet_dispatch_hash(&p);
            w = &r->workers[((uint64_t)h * r->nworkers) >> 32];
        }
        uint32_t len = (uint32_t)sizeof(struct vg_packet) + p.caplen;
        if (VG_UNLIKELY(len > vg_pktring_max_record(w->ring))) {
            r->st.oversize++;
            continue;
        }
        void *slot;
        unsigned spins = 0;
        while ((slot = vg_pktring_reserve(w->ring, len, VG_REC_PACKET)) == NULL) {
            if (live)
                break;
            r->st.ring_waits++;
            vg_backoff(&spins);
        }
        if (slot == NULL) {
            /* Live: waiting would only move the loss into the kernel's
             * buffer, where it could no longer be told apart. */
            r->st.ring_drops++;
            continue;
        }
        struct vg_packet *copy = slot;
        *copy = p;
        memcpy(copy + 1, bytes, p.caplen);
        vg_packet_rebase(copy, (const uint8_t *)(copy + 1));
        vg_pktring_commit(w->ring);

        if (r->progress && (cnt & 0x3fff) == 0) {
            uint64_t now = monotonic_ns();
            if (now >= next_progress_ns) {
                reader_progress(r, start_ns, false);
                next_progress_ns = now + 500000000ull;
            }
        }
    }
    if (rc == PCAP_ERROR) {
        const char *msg = pcap_geterr(pc);
        snprintf(r->st.error, sizeof(r->st.error), "%s", msg ? msg : "read error");
        if (msg && strstr(msg, "truncated") != NULL)
            r->st.truncated = true;
        status = 1;
    }
    if (r->progress)
        reader_progress(r, start_ns, true);
    reader_publish(r, kernel_last);
    for (unsigned i = 0; i < r->nworkers; i++)
        reader_send_control(r, &r->workers[i], VG_REC_END, r->last_ts_us);
    return status;
}
