/* The detector keyword: detector:<name> makes a rule the identity of a
 * behaviour detector (vigil/behaviour.h). The rule carries what an alert
 * shows (sid, msg, classtype, metadata, target) and may carry a threshold;
 * what it detects and on which addresses comes from the configuration
 * (detectors.<name>), so it takes no match keyword and an any-to-any
 * header. It is never inspected by packet, stream or transaction matching:
 * the worker raises its alerts when the detector decides. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "vigil/behaviour.h"

#include "rule_int.h"

static const char *const detector_names[VG_DETECTOR_COUNT] = {
    [VG_DETECTOR_LONG_SESSION] = "long-session",
    [VG_DETECTOR_NEW_EGRESS] = "new-egress",
    [VG_DETECTOR_MGMT_ACCESS] = "mgmt-access",
};

const char *vg_detector_name(enum vg_detector d)
{
    return (unsigned)d < VG_DETECTOR_COUNT ? detector_names[d] : NULL;
}

bool vg_detector_parse(const char *name, enum vg_detector *out)
{
    for (unsigned d = 0; d < VG_DETECTOR_COUNT; d++) {
        if (strcasecmp(name, detector_names[d]) == 0) {
            *out = (enum vg_detector)d;
            return true;
        }
    }
    return false;
}

int sig_kw_detector(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o)
{
    if (strcasecmp(o->kw, "detector") != 0)
        return 1;
    if (sig_need_value(rc, o) != 0)
        return -1;
    if (b->r->detector != 0)
        return sig_fail(rc, "duplicate 'detector' keyword");
    enum vg_detector d;
    if (!vg_detector_parse(o->val, &d))
        return sig_fail(rc, "unknown detector '%s' (long-session, new-egress, mgmt-access)",
                        o->val);
    b->r->detector = (uint8_t)(d + 1);
    return 0;
}

int sig_detector_finish(struct sig_rule_ctx *rc, const struct sig_rule_build *b)
{
    const struct sig_rule *r = b->r;
    if (r->detector == 0)
        return 0;
    if (!r->src.any || !r->dst.any || !r->sport.any || !r->dport.any || r->bidir)
        return sig_fail(rc,
                        "detector rules take their addresses from the configuration "
                        "(detectors.%s)",
                        detector_names[r->detector - 1]);
    if (r->proto != SIG_PROTO_IP || r->app_proto != 0 || b->proto_ask != 0)
        return sig_fail(rc, "detector rules use protocol 'ip' (the detector chooses its flows)");
    if (r->action == SIG_ACTION_PASS)
        return sig_fail(rc, "detector rules cannot be pass rules");
    /* Everything that would test the packet, the flow or its state. */
    if (b->nc != 0 || b->sticky_kw != NULL || r->tests != 0 || r->flow_mask != 0 ||
        r->flowbits != NULL || r->noalert || r->event != NULL || r->naddr_tests != 0)
        return sig_fail(rc, "detector rules take no match keywords");
    return 0;
}

void sig_detector_prepare(struct vg_ruleset *rs)
{
    memset(rs->detector_rule, 0, sizeof(rs->detector_rule));
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_rule *r = &rs->rules[i];
        /* A second rule for one detector: the first in rule order speaks. */
        if (r->detector != 0 && rs->detector_rule[r->detector - 1] == 0)
            rs->detector_rule[r->detector - 1] = i + 1;
    }
}

const struct vg_rule_meta *vg_ruleset_detector(const struct vg_ruleset *rs, enum vg_detector d)
{
    if (rs == NULL || (unsigned)d >= VG_DETECTOR_COUNT || rs->detector_rule[d] == 0)
        return NULL;
    return &rs->rules[rs->detector_rule[d] - 1].meta;
}

bool vg_detect_detector_allows(struct vg_detect_ctx *ctx, enum vg_detector d,
                               const struct vg_packet *p)
{
    const struct vg_ruleset *rs = ctx->rs;
    if ((unsigned)d >= VG_DETECTOR_COUNT || rs->detector_rule[d] == 0)
        return false;
    const struct sig_rule *r = &rs->rules[rs->detector_rule[d] - 1];
    return r->threshold == NULL || sig_threshold_allows(ctx, r, p);
}
