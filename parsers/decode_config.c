/* Decoder configuration from Suricata's decoder.* keys. Read at start-up,
 * never per packet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/packet.h"

/* $NAME references into vars.port-groups may chain; a loop stops here. */
#define MAX_VAR_HOPS 8

/* A UDP-carried tunnel's keys and where its settings live. */
struct tunnel_keys {
    const char *name; /* "vxlan" -> decoder.vxlan.enabled, decoder.vxlan.ports */
    bool *enabled;
    uint16_t *ports;
    uint8_t *n_ports;
};

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Appends one port written in text to ports[]. */
static int add_port(const char *key, const char *text, uint16_t *ports, unsigned *n, char *err,
                    size_t errlen)
{
    const char *s = skip_space(text);
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    const char *rest = skip_space(end);
    if (errno != 0 || end == s || *s == '-' || (*rest != '\0' && *rest != ',' && *rest != ']') ||
        v == 0 || v > 65535) {
        snprintf(err, errlen, "%s: '%s' is not a list of ports (1-65535)", key, text);
        return -1;
    }
    if (*n >= VG_DECODE_MAX_PORTS) {
        snprintf(err, errlen, "%s: more than %d ports", key, VG_DECODE_MAX_PORTS);
        return -1;
    }
    ports[(*n)++] = (uint16_t)v;
    return 0;
}

/* "4789", "[4789,8472]" or "$NAME" (a vars.port-groups entry holding one of
 * those). */
static int parse_port_list(const struct vg_config *cfg, const char *key, const char *value,
                           uint16_t *ports, unsigned *n, char *err, size_t errlen)
{
    for (int hops = 0; value != NULL && *skip_space(value) == '$'; hops++) {
        char var[160];
        if (hops == MAX_VAR_HOPS) {
            snprintf(err, errlen, "%s: variables refer to each other in a loop", key);
            return -1;
        }
        snprintf(var, sizeof(var), "vars.port-groups.%s", skip_space(value) + 1);
        const char *next = vg_config_get(cfg, var);
        if (next == NULL) {
            snprintf(err, errlen, "%s: '%s' is not defined in vars.port-groups", key, value);
            return -1;
        }
        value = next;
    }
    const char *s = skip_space(value);
    bool list = *s == '[';
    if (list)
        s = skip_space(s + 1);
    for (;;) {
        if (add_port(key, s, ports, n, err, errlen) != 0)
            return -1;
        s = strpbrk(s, ",]");
        if (s == NULL || *s == ']')
            break;
        if (!list) {
            snprintf(err, errlen, "%s: '%s': write a list of ports as [a,b]", key, value);
            return -1;
        }
        s++;
    }
    if (list != (s != NULL && *s == ']') || (s != NULL && *skip_space(s + 1) != '\0')) {
        snprintf(err, errlen, "%s: '%s' is not a list of ports (1-65535)", key, value);
        return -1;
    }
    return 0;
}

static int load_tunnel(const struct vg_config *cfg, const struct tunnel_keys *t, char *err,
                       size_t errlen)
{
    char key[64];
    snprintf(key, sizeof(key), "decoder.%s.enabled", t->name);
    if (vg_config_get_bool(cfg, key, *t->enabled, t->enabled, err, errlen) != 0)
        return -1;

    snprintf(key, sizeof(key), "decoder.%s.ports", t->name);
    uint16_t ports[VG_DECODE_MAX_PORTS];
    unsigned n = 0;
    const char *v = vg_config_get(cfg, key);
    if (v != NULL) {
        if (parse_port_list(cfg, key, v, ports, &n, err, errlen) != 0)
            return -1;
    } else {
        /* A YAML sequence arrives as numbered keys. */
        for (unsigned i = 0;; i++) {
            char item[80];
            snprintf(item, sizeof(item), "%s.%u", key, i);
            const char *iv = vg_config_get(cfg, item);
            if (iv == NULL)
                break;
            if (add_port(item, iv, ports, &n, err, errlen) != 0)
                return -1;
        }
        if (n == 0)
            return 0; /* not configured: keep the ports dc had */
    }
    memcpy(t->ports, ports, n * sizeof(ports[0]));
    *t->n_ports = (uint8_t)n;
    return 0;
}

int vg_decode_config_load(struct vg_decode_config *dc, const struct vg_config *cfg, char *err,
                          size_t errlen)
{
    /* Work on a copy, so a bad key leaves dc as it was. */
    struct vg_decode_config c = *dc;
    const struct tunnel_keys tunnels[] = {
        {"vxlan", &c.vxlan_enabled, c.vxlan_ports, &c.n_vxlan_ports},
        {"geneve", &c.geneve_enabled, c.geneve_ports, &c.n_geneve_ports},
        {"teredo", &c.teredo_enabled, c.teredo_ports, &c.n_teredo_ports},
    };
    for (size_t i = 0; i < sizeof(tunnels) / sizeof(tunnels[0]); i++)
        if (load_tunnel(cfg, &tunnels[i], err, errlen) != 0)
            return -1;
    if (vg_config_get_bool(cfg, "decoder.mpls.ethernet-pw", c.mpls_ethernet_pw, &c.mpls_ethernet_pw,
                           err, errlen) != 0)
        return -1;
    *dc = c;
    return 0;
}
