/* Community ID v1 (https://github.com/corelight/community-id-spec).
 *
 * SHA1 over: seed (2 bytes, network order), the two addresses (4 or 16
 * bytes each), the IP protocol (1 byte), a zero pad byte and, for protocols
 * with ports, the two ports (2 bytes each, network order). The endpoints are
 * ordered so that both directions of a flow give the same value: the smaller
 * address first, or the smaller port first when the addresses are equal. The
 * result is "1:" followed by the base64 of the digest.
 *
 * ICMP and ICMPv6 have no ports; the type and code stand in for them as in
 * Zeek: request/reply types pair with their counterpart type (and are then
 * ordered like ports), every other type is one-way and keeps its direction
 * with sport = type and dport = code. They come from icmp_type and
 * icmp_code of the tuple, not from its ports. */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "vigil/event.h"

#define PROTO_ICMP   1
#define PROTO_ICMPV6 58

/* SHA1() and EVP_sha1() look the algorithm up again on every call, which
 * costs more than hashing 40 bytes; fetch it once and keep it. */
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha1_md;

static void sha1_fetch(void)
{
    sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
}

static void sha1_digest(const uint8_t *msg, size_t n, uint8_t digest[SHA_DIGEST_LENGTH])
{
    pthread_once(&sha1_once, sha1_fetch);
    if (sha1_md == NULL || !EVP_Digest(msg, n, digest, NULL, sha1_md, NULL))
        SHA1(msg, n, digest);
}

/* For a two-way ICMP type, the type of the other half of the exchange;
 * -1 for a one-way type. */
static int icmp4_counterpart(uint8_t type)
{
    switch (type) {
    case 8: /* echo request */
        return 0;
    case 0: /* echo reply */
        return 8;
    case 13: /* timestamp */
        return 14;
    case 14: /* timestamp reply */
        return 13;
    case 15: /* information request */
        return 16;
    case 16: /* information reply */
        return 15;
    case 10: /* router solicitation */
        return 9;
    case 9: /* router advertisement */
        return 10;
    case 17: /* address mask request */
        return 18;
    case 18: /* address mask reply */
        return 17;
    default:
        return -1;
    }
}

static int icmp6_counterpart(uint8_t type)
{
    switch (type) {
    case 128: /* echo request */
        return 129;
    case 129: /* echo reply */
        return 128;
    case 130: /* multicast listener query */
        return 131;
    case 131: /* multicast listener report */
        return 130;
    case 133: /* router solicitation */
        return 134;
    case 134: /* router advertisement */
        return 133;
    case 135: /* neighbor solicitation */
        return 136;
    case 136: /* neighbor advertisement */
        return 135;
    case 139: /* node information query ("who are you") */
        return 140;
    case 140: /* node information reply */
        return 139;
    case 144: /* home agent address discovery request */
        return 145;
    case 145: /* home agent address discovery reply */
        return 144;
    default:
        return -1;
    }
}

void vg_community_id_v1(const struct vg_event_tuple *t, uint16_t seed, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0)
        return;
    out[0] = '\0';
    /* "1:" + 28 base64 characters + NUL */
    if (outlen < 31)
        return;

    size_t alen = t->family == 6 ? 16 : 4;
    const uint8_t *saddr = t->src.b;
    const uint8_t *daddr = t->dst.b;
    uint16_t sport = t->sport;
    uint16_t dport = t->dport;
    bool has_ports = t->has_ports != 0;
    bool one_way = false;

    /* ICMP always hashes its type and code, whatever has_ports says (the
     * tuple keeps ports for port protocols only) */
    if (t->proto == PROTO_ICMP || t->proto == PROTO_ICMPV6) {
        has_ports = true;
        int peer = t->proto == PROTO_ICMP ? icmp4_counterpart(t->icmp_type)
                                          : icmp6_counterpart(t->icmp_type);
        sport = t->icmp_type;
        if (peer >= 0) {
            dport = (uint16_t)peer;
        } else {
            dport = t->icmp_code;
            one_way = true;
        }
    }

    if (!one_way) {
        int c = memcmp(saddr, daddr, alen);
        if (c > 0 || (c == 0 && has_ports && sport > dport)) {
            const uint8_t *ta = saddr;
            saddr = daddr;
            daddr = ta;
            uint16_t tp = sport;
            sport = dport;
            dport = tp;
        }
    }

    uint8_t msg[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    msg[n++] = (uint8_t)(seed >> 8);
    msg[n++] = (uint8_t)seed;
    memcpy(msg + n, saddr, alen);
    n += alen;
    memcpy(msg + n, daddr, alen);
    n += alen;
    msg[n++] = t->proto;
    msg[n++] = 0;
    if (has_ports) {
        msg[n++] = (uint8_t)(sport >> 8);
        msg[n++] = (uint8_t)sport;
        msg[n++] = (uint8_t)(dport >> 8);
        msg[n++] = (uint8_t)dport;
    }

    uint8_t digest[SHA_DIGEST_LENGTH];
    sha1_digest(msg, n, digest);

    out[0] = '1';
    out[1] = ':';
    /* EVP_EncodeBlock writes 28 characters and a NUL for 20 bytes */
    EVP_EncodeBlock((unsigned char *)out + 2, digest, SHA_DIGEST_LENGTH);
}
