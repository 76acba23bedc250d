/* Fuzz harness: the rule parser and compiler, then a match over the input
 * itself as packet payload, and as a reassembled stream cut into chunks
 * (sizes, gaps and resent bytes drawn from the input). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vigil/config.h"
#include "vigil/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_alert(void *user, const struct vg_rule_meta *rule)
{
    (void)rule;
    (*(unsigned *)user)++;
}

/* The input again, as the chunks of a stream. */
static void fuzz_stream(struct vg_detect_ctx *ctx, const struct vg_packet *p, const uint8_t *data,
                        size_t size, unsigned *alerts)
{
    uint64_t rng = 0x9E3779B97F4A7C15ull ^ size;
    for (size_t i = 0; i < size && i < 64; i++)
        rng = (rng ^ data[i]) * 0x100000001B3ull;
    const uint32_t flags = VG_DF_HAS_FLOW | VG_DF_TOSERVER | VG_DF_ESTABLISHED | VG_DF_STREAM;
    for (int pass = 0; pass < 2; pass++) {
        struct vg_detect_stream *s = vg_detect_stream_open(ctx);
        if (s == NULL)
            return;
        size_t off = 0;
        uint64_t stream_off = 0;
        while (off < size) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            size_t len = 1 + (size_t)(rng % (pass == 0 ? 16 : 512));
            if (len > size - off)
                len = size - off;
            uint32_t chunk_flags = 0;
            uint64_t at = stream_off;
            if ((rng >> 20) % 31 == 0) {
                chunk_flags = VG_DS_GAP;
                at += 1 + (rng >> 40) % 100;
            } else if ((rng >> 20) % 29 == 0 && at > 0) {
                at -= 1 + (rng >> 40) % at; /* bytes already seen come again */
            }
            vg_detect_stream_data(ctx, s, data + off, (uint32_t)len, at, chunk_flags, p, flags,
                                  count_alert, alerts);
            off += len;
            if (at + len > stream_off)
                stream_off = at + len;
        }
        /* The first pass is closed with candidates still waiting. */
        if (pass == 1)
            vg_detect_stream_data(ctx, s, NULL, 0, stream_off, VG_DS_END, p, flags, count_alert,
                                  alerts);
        vg_detect_stream_close(ctx, s);
    }
}

/* The pcre O flag lifts a rule's match limit to the operator's ceiling,
 * PCRE2's own 10 million steps by default: an input with thousands of
 * fast-pattern occurrences before a catastrophic regex with O then costs
 * seconds per run, by the rule's own request. The harness looks for memory
 * and undefined-behaviour errors, so it lowers the ceiling as an operator
 * would (detect.pcre.override-match-limit). */
static const struct vg_config *harness_config(void)
{
    static struct vg_config *cfg;
    if (cfg == NULL) {
        char why[128];
        cfg = vg_config_new();
        if (cfg != NULL &&
            vg_config_set(cfg, "detect.pcre.override-match-limit=100000", why, sizeof(why)) != 0)
            abort();
    }
    return cfg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("rules", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    const char *files[] = {path};
    FILE *devnull = fopen("/dev/null", "w");
    struct vg_rule_load_opts o = {
        .files = files, .nfiles = 1, .cfg = harness_config(), .err = devnull};
    struct vg_ruleset_stats st;
    struct vg_ruleset *rs = vg_ruleset_load(&o, &st);
    if (rs != NULL) {
        struct vg_detect_ctx *ctx = vg_detect_ctx_new(rs);
        if (ctx != NULL) {
            struct vg_packet p;
            memset(&p, 0, sizeof(p));
            p.family = 4;
            p.proto = 6;
            p.flags = VG_PKT_HAS_L4;
            p.sport = 1234;
            p.dport = 80;
            p.src.b[0] = 10;
            p.dst.b[0] = 192;
            p.payload = data;
            p.payload_len = (uint32_t)size;
            unsigned n = 0;
            vg_detect_packet(ctx, &p, VG_DF_HAS_FLOW | VG_DF_TOSERVER | VG_DF_ESTABLISHED,
                             count_alert, &n);
            if (vg_detect_ctx_streams(ctx, 1) == 0)
                fuzz_stream(ctx, &p, data, size, &n);
            vg_detect_ctx_free(ctx);
        }
        vg_ruleset_free(rs);
    }
    fclose(devnull);
    close(fd);
    return 0;
}
