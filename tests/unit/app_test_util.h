/* Helpers shared by the application-layer parser tests. */
#ifndef VIGIL_APP_TEST_UTIL_H
#define VIGIL_APP_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/applayer.h"
#include "vigil/event.h"
#include "vigil/meta.h"

/* The EVE object a transaction describes, as JSON text ("{...}"); the
 * caller frees it. The metadata must fit (a test would hide a cut). */
static inline char *app_tx_json(const struct vg_app_tx *tx)
{
    static uint8_t meta[1 << 16];
    struct vg_meta_writer w;
    vg_meta_init(&w, meta, sizeof(meta));
    tx->encode(tx->obj, &w);
    uint32_t n = vg_meta_finish(&w);
    cr_assert_not(w.overflow);
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_jbuf_append(&j, "{", 1);
    vg_meta_to_json(&j, meta, n, false);
    vg_jbuf_append(&j, "}", 1);
    char *s = strdup(j.buf);
    vg_jbuf_free(&j);
    cr_assert_not_null(s);
    return s;
}

#endif
