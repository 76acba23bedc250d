/* Fuzz harness: the BIG-IP cookie decoder and the management-path and
 * ASM-cookie classifiers.
 *
 * Input: a cookie "name=value" split at the first '=' (no '=': all name, an
 * empty value). A decoded cookie must be self-consistent: a known format, a
 * family that matches it, a NUL-ended pool name that fits; it is encoded
 * into a large and a small buffer. The whole input is also classified as a
 * path, and the name tested as an ASM cookie name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/bigip.h"
#include "vigil/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *eq = size > 0 ? memchr(data, '=', size) : NULL;
    size_t name_len = eq != NULL ? (size_t)(eq - data) : size;
    size_t value_len = eq != NULL ? size - name_len - 1 : 0;
    /* private copies with no slack, so any read past either is caught */
    uint8_t *name = malloc(name_len + 1), *value = malloc(value_len + 1);
    if (name == NULL || value == NULL) {
        free(name);
        free(value);
        return 0;
    }
    memcpy(name, data, name_len);
    if (value_len > 0)
        memcpy(value, eq + 1, value_len);

    struct vg_bigip_cookie c;
    if (vg_bigip_cookie_decode(name, name_len, value, value_len, &c) == 0) {
        if (c.format < VG_BIGIP_COOKIE_IPV4 || c.format > VG_BIGIP_COOKIE_ENCRYPTED)
            abort();
        if (c.encrypted != (c.format == VG_BIGIP_COOKIE_ENCRYPTED))
            abort();
        if (c.encrypted ? c.family != 0 : (c.family != 4 && c.family != 6))
            abort();
        if (c.pool_len >= VG_BIGIP_POOL_MAX || strlen(c.pool) > c.pool_len)
            abort();
        if (c.pool_len > 0 && !c.default_name)
            abort();
        static uint8_t big[4096], small[24];
        struct vg_meta_writer w;
        vg_meta_init(&w, big, sizeof(big));
        vg_bigip_cookie_encode(&c, &w);
        (void)vg_meta_finish(&w);
        if (w.overflow)
            abort();
        vg_meta_init(&w, small, sizeof(small));
        vg_bigip_cookie_encode(&c, &w);
        (void)vg_meta_finish(&w);
    }
    enum vg_bigip_mgmt m = vg_bigip_mgmt_classify(data, size);
    if (m != VG_BIGIP_MGMT_NONE && vg_bigip_mgmt_name(m) == NULL)
        abort();
    (void)vg_bigip_is_ts_cookie(name, name_len);
    free(name);
    free(value);
    return 0;
}
