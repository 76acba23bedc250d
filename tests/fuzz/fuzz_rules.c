/* Fuzz harness: the rule parser and compiler, then a match over the input
 * itself as packet payload. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vigil/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_alert(void *user, const struct vg_rule_meta *rule)
{
    (void)rule;
    (*(unsigned *)user)++;
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
    struct vg_rule_load_opts o = {.files = files, .nfiles = 1, .err = devnull};
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
            vg_detect_ctx_free(ctx);
        }
        vg_ruleset_free(rs);
    }
    fclose(devnull);
    close(fd);
    return 0;
}
