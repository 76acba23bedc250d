/* Behaviour detectors (signatures/behaviour.c): flow-level patterns that
 * rule syntax cannot express, raised as alerts of their own rules.
 *
 *   long-session  a flow from sources to destinations that lasts at least
 *                 min-duration while carrying at most max-bytes (both
 *                 directions, wire bytes): one alert per flow;
 *   new-egress    a flow from sources to a server outside the allow-list:
 *                 one alert per (client, server) address pair for the life
 *                 of the process;
 *   mgmt-access   a flow to a management port of destinations from a client
 *                 outside allowed-sources: one alert per flow.
 *
 * A detector is identified by a rule with the detector keyword
 * (signatures/rules/bigip-behaviour.rules); its sid, msg, classtype and
 * metadata are the alert's. The detector runs when its rule is loaded, it is
 * enabled in the configuration (detectors.<name>.enabled) and none of its
 * address groups came out empty because a group is set to "none".
 *
 * Cost: a flow's candidacy is decided once, at its first packet (a few
 * address-set lookups); per packet only a long-session candidate costs two
 * integer compares. The (client, server) pairs of new-egress are kept in
 * one table shared by all workers, allocated at start-up, without locks. */
#ifndef VIGIL_BEHAVIOUR_H
#define VIGIL_BEHAVIOUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/common.h"
#include "vigil/flow.h"
#include "vigil/packet.h"

struct vg_config;
struct vg_ruleset;
struct vg_detect_ctx;
struct vg_rule_meta;

enum vg_detector {
    VG_DETECTOR_LONG_SESSION = 0,
    VG_DETECTOR_NEW_EGRESS,
    VG_DETECTOR_MGMT_ACCESS,
    VG_DETECTOR_COUNT,
};

/* "long-session", "new-egress", "mgmt-access" (the keyword's values and the
 * configuration sections); NULL when d is out of range. */
const char *vg_detector_name(enum vg_detector d);
/* The detector named so; false when none is. */
bool vg_detector_parse(const char *name, enum vg_detector *out);

/* ---- Detector rules (signatures/kw_detector.c) ---- */

/* The loaded rule of detector d (detector:<name>), or NULL when none is. */
const struct vg_rule_meta *vg_ruleset_detector(const struct vg_ruleset *rs, enum vg_detector d);

/* Whether an alert of detector d on packet p passes its rule's threshold and
 * suppressions (threshold keyword, threshold file). The flow set with
 * vg_detect_set_flow is the one by_flow tracking uses. */
bool vg_detect_detector_allows(struct vg_detect_ctx *ctx, enum vg_detector d,
                               const struct vg_packet *p);

/* ---- Address and port sets outside rules ---- */

/* An address-group expression of the configuration ("$BIGIP_MGMT_NET",
 * "[10.0.0.0/8,!10.1.2.3]", "any"), evaluated as rule headers are, with the
 * configuration's vars. */
struct vg_addr_set;
struct vg_port_set;

/* Returns 0 and *out (NULL when the expression is empty because a group in
 * it is set to "none": the set waits for that group), or -1 with the reason
 * in err (an unknown variable, a bad address, an expression matching no
 * address without a "none"). */
int vg_addr_set_parse(const struct vg_config *cfg, const char *expr, struct vg_addr_set **out,
                      char *err, size_t errlen);
bool vg_addr_set_contains(const struct vg_addr_set *s, uint8_t family, const struct vg_ip_addr *a);
void vg_addr_set_free(struct vg_addr_set *s);

/* A port-group expression ("$BIGIP_MGMT_PORTS", "[22,443]", "1024:").
 * Returns 0 and *out, or -1 with the reason in err. */
int vg_port_set_parse(const struct vg_config *cfg, const char *expr, struct vg_port_set **out,
                      char *err, size_t errlen);
bool vg_port_set_contains(const struct vg_port_set *s, uint16_t port);
void vg_port_set_free(struct vg_port_set *s);

/* ---- The detectors ---- */

struct vg_behaviour;

/* Reads detectors.* from the configuration and allocates the shared pair
 * table. rs may be NULL (then no detector runs; the configuration is still
 * checked). Returns NULL with a message naming the key in err when a value
 * does not parse or memory runs out. */
struct vg_behaviour *vg_behaviour_new(const struct vg_config *cfg, const struct vg_ruleset *rs,
                                      char *err, size_t errlen);
void vg_behaviour_free(struct vg_behaviour *b);

/* Why detector d does not run: NULL when it runs, else "disabled",
 * "no rule loaded" or "waits for <key> (an address group set to none)"
 * (static or the behaviour's storage). */
const char *vg_behaviour_inactive_reason(const struct vg_behaviour *b, enum vg_detector d);

/* The rule of detector d when d runs (its alerts carry it), else NULL. */
const struct vg_rule_meta *vg_behaviour_rule(const struct vg_behaviour *b, enum vg_detector d);

/* Per-flow state bits (struct vg_flow.behaviour). */
#define VG_BEHAVIOUR_LONG_CANDIDATE 0x01u /* long-session may still fire on this flow */

/* The flow's first packet was counted: decides its candidacy and returns the
 * detectors that alert now, as bits (1u << enum vg_detector). new-egress
 * records the pair here, so call it once per flow. */
uint32_t vg_behaviour_flow_start(struct vg_behaviour *b, struct vg_flow *f);

/* After each packet of a flow was counted (and when the flow ends): whether
 * long-session alerts now. It alerts at most once per flow. */
static inline bool vg_behaviour_flow_update(const struct vg_behaviour *b, struct vg_flow *f);

/* The detector alerted (the worker calls it for each alert it raised). */
void vg_behaviour_count_alert(struct vg_behaviour *b, enum vg_detector d);

struct vg_behaviour_stats {
    uint64_t alerts[VG_DETECTOR_COUNT];
    uint64_t new_egress_pairs;      /* pairs remembered */
    uint64_t new_egress_table_full; /* pairs not remembered: no free slot within the probe
                                     * bound; they alerted (fail open) and may alert again */
};

void vg_behaviour_stats(const struct vg_behaviour *b, struct vg_behaviour_stats *out);

/* ---- inline part ---- */

/* The long-session thresholds, read by the inline check. */
struct vg_behaviour_long {
    uint64_t min_duration_us;
    uint64_t max_bytes;
};

const struct vg_behaviour_long *vg_behaviour_long_params(const struct vg_behaviour *b);

static inline bool vg_behaviour_flow_update(const struct vg_behaviour *b, struct vg_flow *f)
{
    if (!(f->behaviour & VG_BEHAVIOUR_LONG_CANDIDATE))
        return false;
    const struct vg_behaviour_long *l = vg_behaviour_long_params(b);
    /* Bytes only grow: once above the cap the flow is out for good. */
    if (f->bytes[0] + f->bytes[1] > l->max_bytes) {
        f->behaviour &= (uint8_t)~VG_BEHAVIOUR_LONG_CANDIDATE;
        return false;
    }
    if (f->last_us - f->start_us < l->min_duration_us)
        return false;
    f->behaviour &= (uint8_t)~VG_BEHAVIOUR_LONG_CANDIDATE;
    return true;
}

#endif
