/* Fuzz harness: the TLS parser fed both directions of a session in
 * arbitrary chunks.
 *
 * Input: a 4-byte header (byte 0, bits 0-2: handshake limit 512 << n; the
 * rest unused), then records of 2 bytes plus payload:
 *   ctl   bit 0 direction, bit 1 a gap before the chunk, bit 2 the
 *         direction ends after it, bits 4-5 length bits 8-9
 *   len   length, low 8 bits (the payload follows)
 * The callbacks check what the parser promises: one transaction (id 0)
 * whose stages only go forward and which is closed at most once, buffers
 * within their bounds, an EVE object that fits, known anomaly numbers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/meta.h"
#include "vigil/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct expect {
    uint8_t stage;
    bool closed;
};

static void check_tx(void *user, const struct vg_app_tx *tx)
{
    struct expect *e = user;
    if (tx->proto != VG_APP_TLS || tx->tx_id != 0 || e->closed)
        abort();
    if (tx->stage != VG_STAGE_REQUEST && tx->stage != VG_STAGE_RESPONSE)
        abort();
    if (tx->stage <= e->stage)
        abort();
    e->stage = tx->stage;
    e->closed = tx->last;
    if (tx->stage == VG_STAGE_RESPONSE && !tx->last)
        abort();
    for (int b = 0; b < VG_BUF_COUNT; b++) {
        if (tx->buf[b].data == NULL)
            continue;
        if (tx->buf[b].len > VG_TLS_JA3_MAX)
            abort();
        volatile uint8_t sum = 0;
        for (uint32_t i = 0; i < tx->buf[b].len; i++)
            sum ^= tx->buf[b].data[i];
        (void)sum;
    }
    static uint8_t m[16384];
    struct vg_meta_writer w;
    vg_meta_init(&w, m, sizeof(m));
    tx->encode(tx->obj, &w);
    vg_meta_finish(&w);
    if (w.overflow)
        abort();
}

static void check_event(void *user, enum vg_app_proto proto, uint16_t ev)
{
    (void)user;
    if (proto != VG_APP_TLS || vg_tls_event_name(ev) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    struct vg_tls_config cfg;
    vg_tls_config_default(&cfg);
    cfg.handshake_limit = 512u << (data[0] & 7);
    data += 4;
    size -= 4;
    static struct vg_tls_shared *sh;
    if (sh == NULL)
        sh = vg_tls_shared_new();
    size_t st_size = vg_tls_state_size(&cfg);
    struct vg_tls_state *st = malloc(st_size);
    if (st == NULL || sh == NULL) {
        free(st);
        return 0;
    }
    vg_tls_state_init(st, &cfg, sh);
    struct expect e = {0, false};
    const struct vg_app_cb cb = {&e, check_tx, check_event};

    while (size >= 2) {
        uint8_t ctl = data[0];
        uint32_t len = data[1] | (uint32_t)(ctl & 0x30) << 4;
        data += 2;
        size -= 2;
        if (len > size)
            len = (uint32_t)size;
        /* A private copy with no slack, so any read past the chunk is caught. */
        uint8_t *chunk = len != 0 ? malloc(len) : NULL;
        if (len != 0)
            memcpy(chunk, data, len);
        data += len;
        size -= len;
        uint32_t flags = (ctl & 2 ? VG_APP_GAP : 0) | (ctl & 4 ? VG_APP_END : 0);
        vg_tls_parse(st, ctl & 1, chunk, len, flags, &cb);
        free(chunk);
    }
    vg_tls_parse(st, 0, NULL, 0, VG_APP_END, &cb);
    vg_tls_parse(st, 1, NULL, 0, VG_APP_END, &cb);
    const struct vg_tls_info *in = vg_tls_info(st);
    if (in->sni_len > VG_TLS_SNI_MAX || in->ja3_len >= VG_TLS_JA3_MAX ||
        in->subject_len >= VG_TLS_NAME_MAX || in->issuer_len >= VG_TLS_NAME_MAX)
        abort();
    if ((in->flags & (VG_TLS_CLIENT_HELLO | VG_TLS_SERVER_HELLO)) && !e.closed)
        abort();
    free(st);
    return 0;
}
