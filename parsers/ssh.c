/* SSH parser: banners and the first KEXINIT of each side, HASSH.
 *
 * HASSH's MD5 comes from vg_digest (OpenSSL's low-level MD5 on the stack:
 * EVP would allocate per hash). */
#include <stdlib.h>
#include <string.h>

#include "vigil/flow.h"
#include "vigil/meta.h"
#include "vigil/ssh.h"

#define MSG_IGNORE  2
#define MSG_DEBUG   4
#define MSG_KEXINIT 20
#define COOKIE_LEN  16
#define HASSH_LISTS 8 /* kex, host key, enc c2s/s2c, mac c2s/s2c, comp c2s/s2c */

/* The shared per-worker object is kept for the API; hashing needs no
 * state of its own (vg_digest works on the stack). */
struct vg_ssh_shared {
    uint64_t hashes;
};

struct vg_ssh_shared *vg_ssh_shared_new(void)
{
    return calloc(1, sizeof(struct vg_ssh_shared));
}

void vg_ssh_shared_free(struct vg_ssh_shared *sh)
{
    free(sh);
}

/* ---- state ---- */

enum phase {
    PH_BANNER = 0, /* reading lines up to and including the banner */
    PH_PACKETS,    /* binary packets before KEXINIT */
    PH_DONE,       /* nothing more to read on this side */
};

struct side {
    uint8_t phase;
    bool banner_seen;
    bool skip_line; /* the current line is too long: skip to its LF */
    bool complete;  /* what this side will tell is known */
    bool hassh_ok;
    uint16_t line_len;
    uint16_t proto_off, proto_len, soft_off, soft_len;
    uint8_t hdr[6]; /* packet_length, padding_length, message code */
    uint8_t hdr_have;
    bool collecting; /* the packet being read is the KEXINIT */
    uint32_t skip;   /* bytes of the current packet still to pass over */
    uint32_t kex_need, kex_have;
    uint32_t hassh_str_len; /* the HASSH string, built in place at kex[0] */
    char hassh[32];
    uint8_t line[VG_SSH_BANNER_MAX + 1]; /* the current line; then the banner */
    uint8_t kex[VG_SSH_KEXINIT_MAX];
};

struct vg_ssh_state {
    struct vg_ssh_shared *sh;
    bool req_fired;
    bool resp_fired;
    struct side side[2];
};

static const char *const event_names[VG_SSH_EVENT_COUNT] = {
    [VG_SSH_EV_INVALID_BANNER] = "INVALID_BANNER",
    [VG_SSH_EV_LONG_BANNER] = "LONG_BANNER",
    [VG_SSH_EV_INVALID_RECORD_LENGTH] = "INVALID_RECORD_LENGTH",
    [VG_SSH_EV_LONG_KEX_RECORD] = "LONG_KEX_RECORD",
    [VG_SSH_EV_INVALID_KEXINIT] = "INVALID_KEXINIT",
};

const char *vg_ssh_event_name(uint16_t ev)
{
    if (ev < VG_SSH_EVENT_COUNT)
        return event_names[ev];
    return "UNKNOWN";
}

size_t vg_ssh_state_size(void)
{
    return sizeof(struct vg_ssh_state);
}

void vg_ssh_state_init(struct vg_ssh_state *s, struct vg_ssh_shared *sh)
{
    s->sh = sh;
    s->req_fired = false;
    s->resp_fired = false;
    for (unsigned d = 0; d < 2; d++) {
        struct side *x = &s->side[d];
        /* the large buffers need no clearing: lengths say what is valid */
        x->phase = PH_BANNER;
        x->banner_seen = x->skip_line = x->complete = x->hassh_ok = false;
        x->line_len = x->proto_off = x->proto_len = x->soft_off = x->soft_len = 0;
        x->hdr_have = 0;
        x->collecting = false;
        x->skip = x->kex_need = x->kex_have = x->hassh_str_len = 0;
    }
}

int vg_ssh_probe(int dir, const uint8_t *data, uint32_t len)
{
    (void)dir;
    static const char magic[4] = {'S', 'S', 'H', '-'};
    if (data == NULL)
        return len == 0 ? 0 : -1;
    uint32_t n = len < 4 ? len : 4;
    if (memcmp(data, magic, n) != 0)
        return -1;
    return len >= 4 ? 1 : 0;
}

static void raise_event(const struct vg_app_cb *cb, uint16_t ev)
{
    if (cb->anomaly != NULL)
        cb->anomaly(cb->user, VG_APP_SSH, ev);
}

static void finish_side(struct side *x)
{
    x->phase = PH_DONE;
    x->complete = true;
}

/* ---- EVE and transactions ---- */

static void encode_side(const struct side *x, const char *name, struct vg_meta_writer *w)
{
    vg_meta_obj(w, name);
    vg_meta_str(w, "proto_version", x->line + x->proto_off, x->proto_len);
    vg_meta_str(w, "software_version", x->line + x->soft_off, x->soft_len);
    if (x->hassh_ok) {
        vg_meta_obj(w, "hassh");
        vg_meta_str(w, "hash", x->hassh, sizeof(x->hassh));
        vg_meta_str(w, "string", x->kex, x->hassh_str_len);
        vg_meta_end(w);
    }
    vg_meta_end(w);
}

static void encode_tx(const void *obj, struct vg_meta_writer *w)
{
    const struct vg_ssh_state *s = obj;
    vg_meta_obj(w, "ssh");
    if (s->side[VG_DIR_TOSERVER].banner_seen)
        encode_side(&s->side[VG_DIR_TOSERVER], "client", w);
    if (s->side[VG_DIR_TOCLIENT].banner_seen)
        encode_side(&s->side[VG_DIR_TOCLIENT], "server", w);
    vg_meta_end(w);
}

static void set_buf(struct vg_app_tx *tx, enum vg_buffer b, const void *p, uint32_t n)
{
    tx->buf[b].data = p;
    tx->buf[b].len = n;
}

static void side_buffers(struct vg_app_tx *tx, const struct side *x, enum vg_buffer hash,
                         enum vg_buffer str)
{
    if (x->hassh_ok) {
        set_buf(tx, hash, x->hassh, sizeof(x->hassh));
        set_buf(tx, str, x->kex, x->hassh_str_len);
    }
}

static void fire(struct vg_ssh_state *s, const struct vg_app_cb *cb)
{
    const struct side *c = &s->side[VG_DIR_TOSERVER], *v = &s->side[VG_DIR_TOCLIENT];
    while (!s->resp_fired) {
        struct vg_app_tx tx;
        memset(&tx, 0, sizeof(tx));
        tx.proto = VG_APP_SSH;
        tx.tx_id = 0;
        tx.encode = encode_tx;
        tx.obj = s;
        side_buffers(&tx, c, VG_BUF_SSH_HASSH, VG_BUF_SSH_HASSH_STRING);
        const struct side *x;
        if (!s->req_fired && c->complete) {
            s->req_fired = true;
            tx.stage = VG_STAGE_REQUEST;
            tx.dir = VG_DIR_TOSERVER;
            x = c;
        } else if (s->req_fired && v->complete) {
            s->resp_fired = true;
            tx.stage = VG_STAGE_RESPONSE;
            tx.dir = VG_DIR_TOCLIENT;
            tx.last = 1;
            side_buffers(&tx, v, VG_BUF_SSH_HASSH_SERVER, VG_BUF_SSH_HASSH_SERVER_STRING);
            x = v;
        } else {
            return;
        }
        if (x->banner_seen) {
            set_buf(&tx, VG_BUF_SSH_PROTO, x->line + x->proto_off, x->proto_len);
            set_buf(&tx, VG_BUF_SSH_SOFTWARE, x->line + x->soft_off, x->soft_len);
        }
        if (cb->tx != NULL)
            cb->tx(cb->user, &tx);
    }
}

/* ---- banner ---- */

static bool line_is_banner(const struct side *x)
{
    return x->line_len >= 4 && memcmp(x->line, "SSH-", 4) == 0;
}

/* Splits the banner line: SSH-proto-software[ SP comments]. */
static void take_banner(struct side *x, const struct vg_app_cb *cb)
{
    const uint8_t *l = x->line;
    uint32_t n = x->line_len, i = 4;
    x->banner_seen = true;
    x->proto_off = 4;
    while (i < n && l[i] != '-' && l[i] != ' ')
        i++;
    x->proto_len = (uint16_t)(i - 4);
    bool ok = x->proto_len > 0 && i < n && l[i] == '-';
    if (ok)
        i++;
    x->soft_off = (uint16_t)i;
    while (i < n && l[i] != ' ')
        i++;
    x->soft_len = ok ? (uint16_t)(i - x->soft_off) : 0;
    if (!ok || x->soft_len == 0)
        raise_event(cb, VG_SSH_EV_INVALID_BANNER);
    /* SSH 1 (not 1.99, which offers 2.0 too) has no KEXINIT */
    bool v2 = (x->proto_len == 3 && memcmp(l + 4, "2.0", 3) == 0) ||
              (x->proto_len == 4 && memcmp(l + 4, "1.99", 4) == 0);
    if (!ok || !v2)
        finish_side(x);
    else
        x->phase = PH_PACKETS;
}

/* Consumes line bytes up to and including the banner's LF. Returns the
 * bytes used. */
static uint32_t read_lines(struct side *x, int dir, const uint8_t *p, uint32_t n,
                           const struct vg_app_cb *cb)
{
    uint32_t used = 0;
    while (used < n && x->phase == PH_BANNER) {
        const uint8_t *lf = memchr(p + used, '\n', n - used);
        uint32_t end = lf != NULL ? (uint32_t)(lf - p) : n;
        if (!x->skip_line) {
            uint32_t k = end - used;
            if (k > VG_SSH_BANNER_MAX + 1u - x->line_len)
                k = VG_SSH_BANNER_MAX + 1u - x->line_len;
            memcpy(x->line + x->line_len, p + used, k);
            x->line_len = (uint16_t)(x->line_len + k);
            if (x->line_len > VG_SSH_BANNER_MAX) {
                /* the extra byte may be the CR of a CR LF */
                bool cr_only = end - used == k && x->line[VG_SSH_BANNER_MAX] == '\r';
                if (!cr_only) {
                    x->line_len = VG_SSH_BANNER_MAX;
                    x->skip_line = true;
                    if (line_is_banner(x))
                        raise_event(cb, VG_SSH_EV_LONG_BANNER);
                }
            }
        }
        used = end;
        if (lf == NULL)
            break;
        used++; /* the LF */
        if (!x->skip_line && x->line_len > 0 && x->line[x->line_len - 1] == '\r')
            x->line_len--;
        x->skip_line = false;
        if (line_is_banner(x)) {
            take_banner(x, cb);
        } else if (dir == VG_DIR_TOSERVER) {
            raise_event(cb, VG_SSH_EV_INVALID_BANNER);
            finish_side(x);
        } else {
            x->line_len = 0; /* a server line before its banner */
        }
    }
    return used;
}

/* ---- KEXINIT and HASSH ---- */

/* Builds the HASSH string in place over the payload and hashes it. */
static void make_hassh(struct vg_ssh_state *s, struct side *x, int dir, const struct vg_app_cb *cb)
{
    uint32_t off[HASSH_LISTS], len[HASSH_LISTS];
    uint32_t p = COOKIE_LEN, n = x->kex_have;
    if (n < COOKIE_LEN) {
        raise_event(cb, VG_SSH_EV_INVALID_KEXINIT);
        return;
    }
    for (unsigned i = 0; i < HASSH_LISTS; i++) {
        if (n - p < 4) {
            raise_event(cb, VG_SSH_EV_INVALID_KEXINIT);
            return;
        }
        uint32_t l = (uint32_t)x->kex[p] << 24 | (uint32_t)x->kex[p + 1] << 16 |
                     (uint32_t)x->kex[p + 2] << 8 | x->kex[p + 3];
        p += 4;
        if (l > n - p) {
            raise_event(cb, VG_SSH_EV_INVALID_KEXINIT);
            return;
        }
        off[i] = p;
        len[i] = l;
        p += l;
    }
    static const unsigned client_lists[4] = {0, 2, 4, 6};
    static const unsigned server_lists[4] = {0, 3, 5, 7};
    const unsigned *pick = dir == VG_DIR_TOSERVER ? client_lists : server_lists;
    /* each list starts after its 4-byte length, so the string never
     * overtakes the bytes still to be moved */
    uint32_t w = 0;
    for (unsigned i = 0; i < 4; i++) {
        if (i > 0)
            x->kex[w++] = ';';
        memmove(x->kex + w, x->kex + off[pick[i]], len[pick[i]]);
        w += len[pick[i]];
    }
    x->hassh_str_len = w;

    uint8_t digest[16];
    vg_digest(VG_DIGEST_MD5, x->kex, w, digest);
    if (s->sh != NULL)
        s->sh->hashes++;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 16; i++) {
        x->hassh[2 * i] = hex[digest[i] >> 4];
        x->hassh[2 * i + 1] = hex[digest[i] & 15];
    }
    x->hassh_ok = true;
}

/* Consumes binary packets until the KEXINIT is read or the side gives up. */
static void read_packets(struct vg_ssh_state *s, struct side *x, int dir, const uint8_t *p,
                         uint32_t n, const struct vg_app_cb *cb)
{
    while (n > 0 && x->phase == PH_PACKETS) {
        if (x->skip > 0) {
            uint32_t k = x->skip < n ? x->skip : n;
            x->skip -= k;
            p += k;
            n -= k;
            continue;
        }
        if (x->collecting) {
            uint32_t k = x->kex_need - x->kex_have;
            if (k > n)
                k = n;
            memcpy(x->kex + x->kex_have, p, k);
            x->kex_have += k;
            p += k;
            n -= k;
            if (x->kex_have == x->kex_need) {
                x->collecting = false;
                make_hassh(s, x, dir, cb);
                finish_side(x);
            }
            continue;
        }
        x->hdr[x->hdr_have++] = *p++;
        n--;
        if (x->hdr_have < sizeof(x->hdr))
            continue;
        x->hdr_have = 0;
        uint32_t plen = (uint32_t)x->hdr[0] << 24 | (uint32_t)x->hdr[1] << 16 |
                        (uint32_t)x->hdr[2] << 8 | x->hdr[3];
        uint32_t pad = x->hdr[4];
        uint8_t code = x->hdr[5];
        if (plen > VG_SSH_PACKET_MAX || pad + 2 > plen) {
            raise_event(cb, VG_SSH_EV_INVALID_RECORD_LENGTH);
            finish_side(x);
            return;
        }
        uint32_t payload = plen - pad - 1; /* message code included */
        if (code == MSG_IGNORE || code == MSG_DEBUG) {
            x->skip = plen - 2;
            continue;
        }
        if (code != MSG_KEXINIT) {
            finish_side(x);
            return;
        }
        if (payload - 1 > VG_SSH_KEXINIT_MAX) {
            raise_event(cb, VG_SSH_EV_LONG_KEX_RECORD);
            finish_side(x);
            return;
        }
        x->collecting = true;
        x->kex_need = payload - 1;
        x->kex_have = 0;
        if (x->kex_need == 0) {
            x->collecting = false;
            make_hassh(s, x, dir, cb);
            finish_side(x);
        }
    }
}

void vg_ssh_parse(struct vg_ssh_state *s, int dir, const uint8_t *data, uint32_t len,
                  uint32_t flags, const struct vg_app_cb *cb)
{
    dir &= 1;
    struct side *x = &s->side[dir];
    if (s->resp_fired)
        return;
    if (data == NULL)
        len = 0;
    if ((flags & VG_APP_GAP) && x->phase != PH_DONE)
        finish_side(x); /* lost bytes: the framing cannot be trusted */
    if (x->phase == PH_BANNER && len > 0) {
        uint32_t used = read_lines(x, dir, data, len, cb);
        data += used;
        len -= used;
    }
    if (x->phase == PH_PACKETS && len > 0)
        read_packets(s, x, dir, data, len, cb);
    if (flags & VG_APP_END) {
        /* a banner cut by the end of the side still says who spoke */
        if (x->phase == PH_BANNER && !x->skip_line && line_is_banner(x)) {
            if (x->line_len > VG_SSH_BANNER_MAX)
                x->line_len = VG_SSH_BANNER_MAX;
            take_banner(x, cb);
        }
        finish_side(x);
    }
    fire(s, cb);
}
