/* Fuzz harness: the SSH parser over arbitrary stream chunks.
 *
 * Input: records of a 3-byte header and data. Header byte 0: bit 0 the
 * direction, bit 1 a gap before the chunk, bit 2 the direction ends after
 * it; bytes 1-2 the data length, big endian (cut to what is left). When the
 * input ends both directions end. The sink checks what the parser promises:
 * REQUEST once, then RESPONSE once with last = 1, never the other way round;
 * HASSH buffers are 32 lower-case hex digits; banner parts fit the banner. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/meta.h"
#include "vigil/ssh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RECORD_HDR 3

struct sink {
    unsigned requests, responses;
};

static void check_hash(const struct vg_app_buf *b)
{
    if (b->data == NULL)
        return;
    if (b->len != 32)
        abort();
    for (unsigned i = 0; i < 32; i++) {
        uint8_t c = b->data[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            abort();
    }
}

static void touch(const struct vg_app_buf *b)
{
    volatile uint8_t sum = 0;
    for (uint32_t i = 0; b->data != NULL && i < b->len; i++)
        sum ^= b->data[i];
    (void)sum;
}

static void on_tx(void *user, const struct vg_app_tx *tx)
{
    struct sink *k = user;
    if (tx->proto != VG_APP_SSH || tx->encode == NULL || tx->tx_id != 0)
        abort();
    if (tx->stage == VG_STAGE_REQUEST) {
        if (k->requests++ != 0 || k->responses != 0 || tx->last)
            abort();
    } else if (tx->stage == VG_STAGE_RESPONSE) {
        if (k->requests != 1 || k->responses++ != 0 || !tx->last)
            abort();
    } else {
        abort();
    }
    check_hash(&tx->buf[VG_BUF_SSH_HASSH]);
    check_hash(&tx->buf[VG_BUF_SSH_HASSH_SERVER]);
    if (tx->buf[VG_BUF_SSH_PROTO].len + tx->buf[VG_BUF_SSH_SOFTWARE].len > VG_SSH_BANNER_MAX)
        abort();
    if (tx->buf[VG_BUF_SSH_HASSH_STRING].len > VG_SSH_KEXINIT_MAX)
        abort();
    for (unsigned b = 0; b < VG_BUF_COUNT; b++)
        touch(&tx->buf[b]);
    static uint8_t big[65536], small[64];
    struct vg_meta_writer w;
    if (k->requests + k->responses == 1)
        vg_meta_init(&w, big, sizeof(big));
    else
        vg_meta_init(&w, small, sizeof(small));
    tx->encode(tx->obj, &w);
    (void)vg_meta_finish(&w);
}

static void on_anomaly(void *user, enum vg_app_proto proto, uint16_t ev)
{
    (void)user;
    if (proto != VG_APP_SSH || ev >= VG_SSH_EVENT_COUNT)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vg_ssh_shared *sh;
    if (sh == NULL && (sh = vg_ssh_shared_new()) == NULL)
        return 0;
    struct vg_ssh_state *s = malloc(vg_ssh_state_size());
    if (s == NULL)
        return 0;
    vg_ssh_state_init(s, sh);
    struct sink k = {0, 0};
    const struct vg_app_cb cb = {&k, on_tx, on_anomaly};
    while (size >= RECORD_HDR) {
        uint8_t ctl = data[0];
        uint32_t len = (uint32_t)data[1] << 8 | data[2];
        data += RECORD_HDR;
        size -= RECORD_HDR;
        if (len > size)
            len = (uint32_t)size;
        /* a private copy with no slack, so any read past the data is caught */
        uint8_t *chunk = malloc(len != 0 ? len : 1);
        if (chunk == NULL)
            break;
        memcpy(chunk, data, len);
        data += len;
        size -= len;
        int dir = ctl & 1;
        int pr = vg_ssh_probe(dir, chunk, len);
        if (pr < -1 || pr > 1)
            abort();
        uint32_t flags = (ctl & 2 ? VG_APP_GAP : 0) | (ctl & 4 ? VG_APP_END : 0);
        vg_ssh_parse(s, dir, chunk, len, flags, &cb);
        free(chunk);
    }
    vg_ssh_parse(s, 0, NULL, 0, VG_APP_END, &cb);
    vg_ssh_parse(s, 1, NULL, 0, VG_APP_END, &cb);
    /* once both sides have ended, the transaction is complete */
    if (k.requests != 1 || k.responses != 1)
        abort();
    free(s);
    return 0;
}
