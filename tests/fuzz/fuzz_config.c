/* Fuzz harness: the YAML configuration reader, --set parsing, and the
 * behaviour detectors' keys (address-group expressions, sizes, durations). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vigil/behaviour.h"
#include "vigil/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("config", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct vg_config *c = vg_config_new();
    char err[256];
    vg_config_load_file(c, path, err, sizeof(err));
    uint64_t v;
    bool b;
    vg_config_get_size(c, "flow.memcap", 0, &v, err, sizeof(err));
    vg_config_get_bool(c, "outputs.eve-log.community-id", true, &b, err, sizeof(err));
    /* The pair table is sized by max-tracked (up to 2^30 entries): keep the
     * allocation small, every other key as the input gives it. */
    char small[] = "detectors.new-egress.max-tracked=1024";
    vg_config_set(c, small, err, sizeof(err));
    vg_behaviour_free(vg_behaviour_new(c, NULL, err, sizeof(err)));
    /* The input as a --set assignment too. */
    char assignment[512];
    size_t n = size < sizeof(assignment) - 1 ? size : sizeof(assignment) - 1;
    memcpy(assignment, data, n);
    assignment[n] = '\0';
    vg_config_set(c, assignment, err, sizeof(err));
    vg_config_free(c);
    close(fd);
    return 0;
}
