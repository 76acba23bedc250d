/* SSH parser (parsers/ssh.c): the version exchange and the cleartext
 * SSH_MSG_KEXINIT of each side (RFC 4253), with HASSH fingerprints.
 *
 * Banner: "SSH-protoversion-softwareversion [SP comments] CR LF", at most
 * VG_SSH_BANNER_MAX characters (longer: LONG_BANNER, the start is kept).
 * The server may send other lines before it (RFC 4253 4.2); a client line
 * that is not a banner raises INVALID_BANNER and ends parsing of that side.
 * Then binary packets: SSH_MSG_IGNORE and SSH_MSG_DEBUG are skipped; the
 * KEXINIT payload (up to VG_SSH_KEXINIT_MAX bytes, else LONG_KEX_RECORD and
 * no HASSH) gives the fingerprint:
 *   HASSH       = md5("kex;enc_c2s;mac_c2s;comp_c2s") of the client's KEXINIT
 *   HASSHServer = md5("kex;enc_s2c;mac_s2c;comp_s2c") of the server's
 * (Salesforce hassh), as 32 lower-case hex digits.
 *
 * One transaction per session (tx_id 0). A side is complete when its
 * KEXINIT is parsed, or when it ends, loses bytes, sends a packet other than
 * KEXINIT first, speaks SSH 1, or is found broken. VG_STAGE_REQUEST (dir
 * to-server) fires when the client is complete: VG_BUF_SSH_PROTO and
 * VG_BUF_SSH_SOFTWARE of the client's banner, VG_BUF_SSH_HASSH and
 * VG_BUF_SSH_HASSH_STRING. VG_STAGE_RESPONSE (dir to-client, last = 1)
 * fires when the server is complete too, never before REQUEST: PROTO and
 * SOFTWARE of the server's banner, VG_BUF_SSH_HASSH_SERVER and
 * VG_BUF_SSH_HASSH_SERVER_STRING, and the client's HASSH buffers again (so a
 * rule can name both). A buffer not known is absent. After RESPONSE the
 * parser ignores the flow (what follows is encrypted).
 *
 * EVE: "ssh":{"client":{"proto_version","software_version","hassh":{"hash",
 * "string"}},"server":{...}} with what is known when encode runs. */
#ifndef VIGIL_SSH_H
#define VIGIL_SSH_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/applayer.h"

#define VG_SSH_BANNER_MAX  255     /* banner characters kept, CR LF excluded */
#define VG_SSH_KEXINIT_MAX 4096    /* KEXINIT payload bytes kept per side */
#define VG_SSH_PACKET_MAX  262144u /* longer packet_length: INVALID_RECORD_LENGTH */

enum vg_ssh_event {
    VG_SSH_EV_INVALID_BANNER = 0,    /* not SSH-proto-software, or a client line before it */
    VG_SSH_EV_LONG_BANNER,           /* banner over VG_SSH_BANNER_MAX characters */
    VG_SSH_EV_INVALID_RECORD_LENGTH, /* packet_length / padding_length impossible */
    VG_SSH_EV_LONG_KEX_RECORD,       /* KEXINIT over VG_SSH_KEXINIT_MAX bytes */
    VG_SSH_EV_INVALID_KEXINIT,       /* a KEXINIT whose name-lists overrun it */
    VG_SSH_EVENT_COUNT
};

struct vg_ssh_state;
/* Per worker: the hashing context, so hashing never allocates. */
struct vg_ssh_shared;

struct vg_ssh_shared *vg_ssh_shared_new(void);
void vg_ssh_shared_free(struct vg_ssh_shared *sh);

size_t vg_ssh_state_size(void);
/* sh must outlive the state; one shared context serves every flow of a
 * worker. */
void vg_ssh_state_init(struct vg_ssh_state *s, struct vg_ssh_shared *sh);

/* In-order stream bytes of one direction (enum vg_flow_dir); flags
 * VG_APP_GAP / VG_APP_END. */
void vg_ssh_parse(struct vg_ssh_state *s, int dir, const uint8_t *data, uint32_t len,
                  uint32_t flags, const struct vg_app_cb *cb);

/* 1 when data starts with "SSH-", 0 when it is a prefix of it, -1 else. */
int vg_ssh_probe(int dir, const uint8_t *data, uint32_t len);

/* "INVALID_BANNER", ...; "UNKNOWN" out of range. */
const char *vg_ssh_event_name(uint16_t ev);

#endif
