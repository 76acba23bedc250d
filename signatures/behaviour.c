/* Behaviour detectors (vigil/behaviour.h): long-lived low-volume sessions,
 * new outbound destinations of the management network, and management
 * ports reached from outside the admin networks.
 *
 * It lives with the rule engine because a detector is a rule (its sid, msg
 * and metadata come from the rule file, its thresholds apply) and its
 * address groups are evaluated by the rule parser's expression evaluator,
 * so a detector and a rule scoped to the same $VAR see the same addresses.
 *
 * The new-egress pair table is shared by all workers (the two endpoints of
 * a pair may be handled by different workers over time) and takes no lock:
 * an array of max-tracked 64-bit keys (a hash of the pair, never 0), linear
 * probing from the key's slot over at most PROBE_LIMIT slots, a key claimed
 * by compare-and-swap of an empty slot. Keys are never removed, so a pair
 * inserted by two workers at once lands in one slot and alerts once. When
 * the probe finds neither the key nor a free slot, the pair alerts (fail
 * open: it may alert again) and table_full counts it. Two pairs whose
 * 64-bit hashes collide share one entry. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/behaviour.h"
#include "vigil/config.h"
#include "vigil/detect.h"

#include "rule_int.h"

#define PROBE_LIMIT     16u
#define MAX_TRACKED_MAX (1u << 30)
#define REASON_LEN      192
#define SECOND_US       1000000ull

/* ---- Address and port sets ---------------------------------------------------- */

struct vg_addr_set {
    struct sig_arena arena;
    struct sig_addr_set set;
};

struct vg_port_set {
    struct sig_arena arena;
    struct sig_port_set set;
};

int vg_addr_set_parse(const struct vg_config *cfg, const char *expr, struct vg_addr_set **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    struct vg_addr_set *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    bool waits = false;
    if (sig_eval_address_expr(cfg, &s->arena, expr, "address expression", &s->set, &waits, err,
                              errlen) != 0) {
        vg_addr_set_free(s);
        return -1;
    }
    if (waits) {
        vg_addr_set_free(s);
        return 0;
    }
    *out = s;
    return 0;
}

void vg_addr_set_free(struct vg_addr_set *s)
{
    if (s == NULL)
        return;
    sig_arena_free(&s->arena);
    free(s);
}

bool vg_addr_set_contains(const struct vg_addr_set *s, uint8_t family, const struct vg_ip_addr *a)
{
    return sig_addr_set_has(&s->set, family, a);
}

int vg_port_set_parse(const struct vg_config *cfg, const char *expr, struct vg_port_set **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    struct vg_port_set *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (sig_eval_port_expr(cfg, &s->arena, expr, &s->set, err, errlen) != 0) {
        vg_port_set_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void vg_port_set_free(struct vg_port_set *s)
{
    if (s == NULL)
        return;
    sig_arena_free(&s->arena);
    free(s);
}

bool vg_port_set_contains(const struct vg_port_set *s, uint16_t port)
{
    return sig_port_set_has(&s->set, port);
}

/* ---- The detectors' state --------------------------------------------------------- */

/* The address-group keys of each detector, in the order they are read. */
enum group_slot {
    LS_SOURCES = 0,
    LS_DESTINATIONS,
    NE_SOURCES,
    NE_ALLOWED,
    MA_DESTINATIONS,
    MA_ALLOWED,
    GROUP_COUNT,
};

/* Their defaults are in the configuration's built-in table (dataplane/config.c). */
static const struct {
    uint8_t detector;
    const char *key;
} group_keys[GROUP_COUNT] = {
    [LS_SOURCES] = {VG_DETECTOR_LONG_SESSION, "sources"},
    [LS_DESTINATIONS] = {VG_DETECTOR_LONG_SESSION, "destinations"},
    [NE_SOURCES] = {VG_DETECTOR_NEW_EGRESS, "sources"},
    [NE_ALLOWED] = {VG_DETECTOR_NEW_EGRESS, "allowed"},
    [MA_DESTINATIONS] = {VG_DETECTOR_MGMT_ACCESS, "destinations"},
    [MA_ALLOWED] = {VG_DETECTOR_MGMT_ACCESS, "allowed-sources"},
};

/* Every key a detector section may hold, for the unknown-key check. */
static const char *const detector_keys[VG_DETECTOR_COUNT] = {
    [VG_DETECTOR_LONG_SESSION] = "enabled, sources, destinations, min-duration, max-bytes",
    [VG_DETECTOR_NEW_EGRESS] = "enabled, sources, allowed, max-tracked",
    [VG_DETECTOR_MGMT_ACCESS] = "enabled, destinations, ports, allowed-sources",
};

struct vg_behaviour {
    struct vg_behaviour_long lparams;
    bool active[VG_DETECTOR_COUNT];
    const struct vg_rule_meta *rule[VG_DETECTOR_COUNT];
    char reason[VG_DETECTOR_COUNT][REASON_LEN];
    struct vg_addr_set *groups[GROUP_COUNT];
    struct vg_port_set *mgmt_ports;
    _Atomic uint64_t *pairs; /* new-egress pair keys; 0: free */
    uint32_t npairs;
    _Alignas(VG_CACHE_LINE) _Atomic uint64_t alerts[VG_DETECTOR_COUNT];
    _Atomic uint64_t pairs_used;
    _Atomic uint64_t table_full;
};

const struct vg_behaviour_long *vg_behaviour_long_params(const struct vg_behaviour *b)
{
    return &b->lparams;
}

static void detector_key(char *out, size_t len, unsigned d, const char *key)
{
    snprintf(out, len, "detectors.%s.%s", vg_detector_name((enum vg_detector)d), key);
}

struct key_check {
    char *err;
    size_t errlen;
    bool failed;
};

/* Any detectors.* key that names no detector or no key of it is an error:
 * a misspelt threshold would otherwise leave the default silently. */
static void check_detector_key(void *user, const char *key, const char *value)
{
    (void)value;
    struct key_check *kc = user;
    if (kc->failed)
        return;
    const char *name = key + strlen("detectors.");
    const char *dot = strchr(name, '.');
    char det[64];
    size_t n = dot != NULL ? (size_t)(dot - name) : strlen(name);
    if (n >= sizeof(det))
        n = sizeof(det) - 1;
    memcpy(det, name, n);
    det[n] = '\0';
    enum vg_detector d;
    if (!vg_detector_parse(det, &d)) {
        snprintf(kc->err, kc->errlen,
                 "%s: unknown detector '%s' (long-session, new-egress, mgmt-access)", key, det);
        kc->failed = true;
        return;
    }
    const char *field = dot != NULL ? dot + 1 : "";
    const char *keys = detector_keys[d];
    size_t flen = strlen(field);
    for (const char *k = keys; flen > 0 && *k != '\0';) {
        size_t klen = strcspn(k, ",");
        if (klen == flen && strncmp(k, field, flen) == 0)
            return;
        k += klen;
        while (*k == ',' || *k == ' ')
            k++;
    }
    snprintf(kc->err, kc->errlen, "%s: unknown key (detectors.%s takes %s)", key, det, keys);
    kc->failed = true;
}

/* An expression key: the configuration always holds one (its defaults). */
static const char *expr_of(const struct vg_config *cfg, const char *key)
{
    const char *v = vg_config_get(cfg, key);
    return v != NULL ? v : "";
}

static int read_settings(struct vg_behaviour *b, const struct vg_config *cfg, char *err,
                         size_t errlen)
{
    char key[128];
    char why[400];
    bool enabled[VG_DETECTOR_COUNT];
    struct key_check kc = {.err = err, .errlen = errlen};
    vg_config_foreach(cfg, "detectors.", check_detector_key, &kc);
    if (kc.failed)
        return -1;
    for (unsigned d = 0; d < VG_DETECTOR_COUNT; d++) {
        detector_key(key, sizeof(key), d, "enabled");
        if (vg_config_get_bool(cfg, key, true, &enabled[d], err, errlen) != 0)
            return -1;
    }
    /* Every value is checked, even of a disabled detector: -T reports a
     * bad value before the operator turns the detector on. */
    for (unsigned g = 0; g < GROUP_COUNT; g++) {
        detector_key(key, sizeof(key), group_keys[g].detector, group_keys[g].key);
        const char *expr = expr_of(cfg, key);
        if (vg_addr_set_parse(cfg, expr, &b->groups[g], why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s: %s", key, why);
            return -1;
        }
        char *reason = b->reason[group_keys[g].detector];
        if (b->groups[g] == NULL && reason[0] == '\0')
            snprintf(reason, REASON_LEN, "waits for %s (an address group set to none)", key);
    }
    detector_key(key, sizeof(key), VG_DETECTOR_MGMT_ACCESS, "ports");
    if (vg_port_set_parse(cfg, expr_of(cfg, key), &b->mgmt_ports, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: %s", key, why);
        return -1;
    }

    uint64_t secs, bytes, tracked;
    detector_key(key, sizeof(key), VG_DETECTOR_LONG_SESSION, "min-duration");
    if (vg_config_get_u64(cfg, key, 0, &secs, err, errlen) != 0)
        return -1;
    if (secs == 0 || secs > UINT32_MAX) {
        snprintf(err, errlen, "%s: must be between 1 and %u seconds", key, UINT32_MAX);
        return -1;
    }
    detector_key(key, sizeof(key), VG_DETECTOR_LONG_SESSION, "max-bytes");
    if (vg_config_get_size(cfg, key, 0, &bytes, err, errlen) != 0)
        return -1;
    detector_key(key, sizeof(key), VG_DETECTOR_NEW_EGRESS, "max-tracked");
    if (vg_config_get_u64(cfg, key, 0, &tracked, err, errlen) != 0)
        return -1;
    if (tracked == 0 || tracked > MAX_TRACKED_MAX) {
        snprintf(err, errlen, "%s: must be between 1 and %u", key, MAX_TRACKED_MAX);
        return -1;
    }
    b->lparams.min_duration_us = secs * SECOND_US;
    b->lparams.max_bytes = bytes;
    b->npairs = (uint32_t)tracked;

    for (unsigned d = 0; d < VG_DETECTOR_COUNT; d++) {
        if (!enabled[d])
            snprintf(b->reason[d], REASON_LEN, "disabled (detectors.%s.enabled)",
                     vg_detector_name((enum vg_detector)d));
        else if (b->rule[d] == NULL)
            snprintf(b->reason[d], REASON_LEN, "no rule loaded (detector:%s)",
                     vg_detector_name((enum vg_detector)d));
        b->active[d] = b->reason[d][0] == '\0';
    }
    return 0;
}

struct vg_behaviour *vg_behaviour_new(const struct vg_config *cfg, const struct vg_ruleset *rs,
                                      char *err, size_t errlen)
{
    struct vg_behaviour *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (unsigned d = 0; d < VG_DETECTOR_COUNT; d++)
        b->rule[d] = vg_ruleset_detector(rs, (enum vg_detector)d);
    /* Without a configuration, the built-in defaults. */
    struct vg_config *defaults = NULL;
    if (cfg == NULL && (cfg = defaults = vg_config_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        vg_behaviour_free(b);
        return NULL;
    }
    int rc = read_settings(b, cfg, err, errlen);
    vg_config_free(defaults);
    if (rc != 0) {
        vg_behaviour_free(b);
        return NULL;
    }
    if (b->active[VG_DETECTOR_NEW_EGRESS]) {
        b->pairs = calloc(b->npairs, sizeof(*b->pairs));
        if (b->pairs == NULL) {
            snprintf(err, errlen,
                     "detectors.new-egress.max-tracked: out of memory for %u pairs (lower it)",
                     b->npairs);
            vg_behaviour_free(b);
            return NULL;
        }
    }
    return b;
}

void vg_behaviour_free(struct vg_behaviour *b)
{
    if (b == NULL)
        return;
    for (unsigned g = 0; g < GROUP_COUNT; g++)
        vg_addr_set_free(b->groups[g]);
    vg_port_set_free(b->mgmt_ports);
    free(b->pairs);
    free(b);
}

const char *vg_behaviour_inactive_reason(const struct vg_behaviour *b, enum vg_detector d)
{
    if ((unsigned)d >= VG_DETECTOR_COUNT)
        return "unknown detector";
    return b->active[d] ? NULL : b->reason[d];
}

/* ---- Per flow ------------------------------------------------------------------------ */

static uint64_t pair_key(uint8_t family, const struct vg_ip_addr *client,
                         const struct vg_ip_addr *server)
{
    uint64_t h = sig_fnv64(SIG_FNV64_OFFSET, &family, 1);
    h = sig_fnv64(h, client->b, sizeof(client->b));
    h = sig_mix64(sig_fnv64(h, server->b, sizeof(server->b)));
    return h != 0 ? h : 1;
}

/* Records a pair; true when it was not known (or could not be recorded). */
static bool pair_is_new(struct vg_behaviour *b, uint64_t key)
{
    const uint32_t n = b->npairs;
    const uint32_t probes = n < PROBE_LIMIT ? n : PROBE_LIMIT;
    const uint32_t start = (uint32_t)(key % n);
    for (uint32_t i = 0; i < probes; i++) {
        _Atomic uint64_t *slot = &b->pairs[(start + i) % n];
        uint64_t k = atomic_load_explicit(slot, memory_order_acquire);
        if (k == key)
            return false;
        if (k != 0)
            continue;
        if (atomic_compare_exchange_strong_explicit(slot, &k, key, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            atomic_fetch_add_explicit(&b->pairs_used, 1, memory_order_relaxed);
            return true;
        }
        if (k == key) /* another worker recorded the same pair first */
            return false;
    }
    atomic_fetch_add_explicit(&b->table_full, 1, memory_order_relaxed);
    return true;
}

uint32_t vg_behaviour_flow_start(struct vg_behaviour *b, struct vg_flow *f)
{
    f->behaviour = 0;
    if (b == NULL)
        return 0;
    struct vg_ip_addr client, server;
    uint16_t client_port, server_port;
    vg_flow_endpoints(f, &client, &client_port, &server, &server_port);
    const uint8_t fam = f->key.family;
    struct vg_addr_set *const *g = b->groups;
    uint32_t fire = 0;
    if (b->active[VG_DETECTOR_LONG_SESSION] && vg_addr_set_contains(g[LS_SOURCES], fam, &client) &&
        vg_addr_set_contains(g[LS_DESTINATIONS], fam, &server))
        f->behaviour |= VG_BEHAVIOUR_LONG_CANDIDATE;
    if (b->active[VG_DETECTOR_NEW_EGRESS] && vg_addr_set_contains(g[NE_SOURCES], fam, &client) &&
        !vg_addr_set_contains(g[NE_ALLOWED], fam, &server) &&
        pair_is_new(b, pair_key(fam, &client, &server)))
        fire |= 1u << VG_DETECTOR_NEW_EGRESS;
    /* Management ports are TCP and UDP ports: other protocols have none. */
    if (b->active[VG_DETECTOR_MGMT_ACCESS] && (f->key.proto == 6 || f->key.proto == 17) &&
        vg_addr_set_contains(g[MA_DESTINATIONS], fam, &server) &&
        vg_port_set_contains(b->mgmt_ports, server_port) &&
        !vg_addr_set_contains(g[MA_ALLOWED], fam, &client))
        fire |= 1u << VG_DETECTOR_MGMT_ACCESS;
    return fire;
}

void vg_behaviour_count_alert(struct vg_behaviour *b, enum vg_detector d)
{
    if ((unsigned)d < VG_DETECTOR_COUNT)
        atomic_fetch_add_explicit(&b->alerts[d], 1, memory_order_relaxed);
}

void vg_behaviour_stats(const struct vg_behaviour *b, struct vg_behaviour_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (b == NULL)
        return;
    for (unsigned d = 0; d < VG_DETECTOR_COUNT; d++)
        out->alerts[d] = atomic_load_explicit(&b->alerts[d], memory_order_relaxed);
    out->new_egress_pairs = atomic_load_explicit(&b->pairs_used, memory_order_relaxed);
    out->new_egress_table_full = atomic_load_explicit(&b->table_full, memory_order_relaxed);
}

const struct vg_rule_meta *vg_behaviour_rule(const struct vg_behaviour *b, enum vg_detector d)
{
    return (unsigned)d < VG_DETECTOR_COUNT && b->active[d] ? b->rule[d] : NULL;
}
