/* Fuzz harness: the HTTP/1.x parser fed both directions in arbitrary
 * chunks.
 *
 * Input: 2 bytes choosing the configuration (bit 0 of the first: tiny
 * limits; bits 1-2: request slots - 1; bits 3-5: max pending - 1; bit 6:
 * no inflate pool; the second: decompress limit in KiB, 0 = default), then
 * records of 2 bytes plus payload:
 *   ctl   bit 0 direction, bit 1 a gap before the chunk, bit 2 the
 *         direction ends after it
 *   len   payload length (the payload follows)
 * When the input ends both directions end. The callback checks what the
 * parser promises: stages in range, every buffer readable, the record
 * encodes to well-formed metadata, no report for a transaction after its
 * last one, and every transaction reported ends with exactly one last
 * report. The inflate pool must be whole again after the release. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/event.h"
#include "vigil/http.h"
#include "vigil/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TRACKED 4096u

struct seen {
    uint8_t state[TRACKED]; /* 0 unseen, 1 open, 2 finished */
};

static void check_tx(void *user, const struct vg_app_tx *tx)
{
    struct seen *s = user;
    if (tx->proto != VG_APP_HTTP || tx->stage < VG_STAGE_REQUEST ||
        tx->stage > VG_STAGE_RESPONSE_BODY || tx->dir > 1 || tx->buf[VG_BUF_PAYLOAD].data != NULL)
        abort();
    volatile uint8_t sum = 0;
    for (int i = 0; i < VG_BUF_COUNT; i++)
        for (uint32_t k = 0; tx->buf[i].data != NULL && k < tx->buf[i].len; k++)
            sum ^= tx->buf[i].data[k];
    (void)sum;
    static uint8_t meta[4096];
    struct vg_meta_writer w;
    vg_meta_init(&w, meta, sizeof(meta));
    tx->encode(tx->obj, &w);
    uint32_t n = vg_meta_finish(&w);
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    if (vg_meta_to_json(&j, meta, n, false) != 1)
        abort();
    vg_jbuf_free(&j);
    if (tx->tx_id < TRACKED) {
        if (s->state[tx->tx_id] == 2)
            abort(); /* reported after its last report */
        s->state[tx->tx_id] = tx->last ? 2 : 1;
    }
}

static void check_anomaly(void *user, enum vg_app_proto proto, uint16_t ev)
{
    (void)user;
    if (proto != VG_APP_HTTP || vg_http_event_name(ev) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct vg_http_config cfg;
    vg_http_config_default(&cfg);
    if (data[0] & 1) {
        cfg.header_limit = 300;
        cfg.line_limit = 80;
        cfg.request_body_limit = 16;
        cfg.response_body_limit = 32;
        cfg.max_headers = 4;
        cfg.resync_limit = 512;
        cfg.log_headers_max = 2;
    }
    cfg.request_slots = ((data[0] >> 1) & 3) + 1;
    cfg.max_pending = ((data[0] >> 3) & 7) + 1;
    cfg.decompress_limit = (uint32_t)data[1] * 1024;
    bool pool = !(data[0] & 0x40);
    data += 2;
    size -= 2;

    struct vg_http_shared *sh = pool ? vg_http_shared_new(&cfg, 1) : NULL;
    struct vg_http_state *s = calloc(1, vg_http_state_size(&cfg));
    if (s == NULL || (pool && sh == NULL))
        abort();
    vg_http_state_init(s, &cfg, sh);
    struct seen *seen = calloc(1, sizeof(*seen));
    const struct vg_app_cb cb = {seen, check_tx, check_anomaly};

    while (size >= 2) {
        uint8_t ctl = data[0];
        uint32_t len = data[1];
        data += 2;
        size -= 2;
        if (len > size)
            len = (uint32_t)size;
        /* a private copy with no slack, so any read past the chunk is caught */
        uint8_t *chunk = len != 0 ? malloc(len) : NULL;
        if (len != 0)
            memcpy(chunk, data, len);
        data += len;
        size -= len;
        uint32_t flags = (ctl & 2 ? VG_APP_GAP : 0) | (ctl & 4 ? VG_APP_END : 0);
        vg_http_parse(s, ctl & 1, chunk, len, flags, &cb);
        free(chunk);
    }
    vg_http_parse(s, 0, NULL, 0, VG_APP_END, &cb);
    vg_http_parse(s, 1, NULL, 0, VG_APP_END, &cb);
    for (uint32_t i = 0; i < TRACKED; i++)
        if (seen->state[i] == 1)
            abort(); /* a transaction never reported complete */
    vg_http_state_release(s);
    if (sh != NULL && vg_http_shared_inflaters_in_use(sh) != 0)
        abort();
    free(seen);
    free(s);
    vg_http_shared_free(sh);
    return 0;
}
