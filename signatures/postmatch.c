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

void vg_detect_ctx_flowbit_stats(const struct vg_detect_ctx *ctx,
                                 struct vg_detect_flowbit_stats *out)
{
    out->set_refused = ctx->flowbits_refused;
}

/* ---- Flowbits on a flow: a short list of bit numbers ---------------------- */

static inline int bit_find(const struct vg_flow_vars *v, uint16_t bit)
{
    for (int i = 0; i < v->nbits; i++) {
        if (v->bits[i] == bit)
            return i;
    }
    return -1;
}

static inline void bit_set(struct vg_detect_ctx *ctx, struct vg_flow_vars *v, uint16_t bit)
{
    if (bit_find(v, bit) >= 0)
        return;
    if (v->nbits == VG_FLOWBITS_PER_FLOW) {
        /* Full: the bit stays unset, the flow keeps the ones it has. */
        ctx->flowbits_refused++;
        return;
    }
    v->bits[v->nbits++] = bit;
}

static inline void bit_unset(struct vg_flow_vars *v, int at)
{
    v->bits[at] = v->bits[--v->nbits];
}

/* One isset/isnotset: any of its names decides. */
static bool condition_holds(const struct vg_flow_vars *v, const struct sig_flowbit_op *op)
{
    /* As in Suricata, a packet without a flow satisfies no flowbit test,
     * isnotset included. */
    if (v == NULL)
        return false;
    const bool want_set = op->cmd == SIG_FLOWBIT_ISSET;
    for (uint32_t i = 0; i < op->nbits; i++) {
        const bool is_set = bit_find(v, op->bits[i]) >= 0;
        if (is_set == want_set)
            return true;
    }
    return false;
}

bool sig_rule_state_ok(const struct vg_detect_ctx *ctx, const struct sig_rule *r,
                       const struct vg_packet *p)
{
    /* A passed flow is not inspected further, whichever path asks. */
    if (ctx->flow != NULL && ctx->flow->passed)
        return false;
    const struct sig_flowbits *fb = r->flowbits;
    if (fb != NULL) {
        for (uint32_t i = 0; i < fb->nconds; i++) {
            if (!condition_holds(ctx->flow, &fb->ops[i]))
                return false;
        }
    }
    return r->xbits == NULL || sig_xbits_hold(ctx, r, p);
}

static void run_actions(struct vg_detect_ctx *ctx, const struct sig_flowbits *fb)
{
    struct vg_flow_vars *v = ctx->flow;
    if (v == NULL)
        return;
    const struct sig_flowbit_op *ops = fb->ops + fb->nconds;
    for (uint32_t i = 0; i < fb->nacts; i++) {
        const uint16_t bit = ops[i].bits[0];
        const int at = bit_find(v, bit);
        switch (ops[i].cmd) {
        case SIG_FLOWBIT_SET:
            bit_set(ctx, v, bit);
            break;
        case SIG_FLOWBIT_UNSET:
            if (at >= 0)
                bit_unset(v, at);
            break;
        case SIG_FLOWBIT_TOGGLE:
            if (at >= 0)
                bit_unset(v, at);
            else
                bit_set(ctx, v, bit);
            break;
        default:
            break;
        }
    }
}

bool sig_rule_fire(struct vg_detect_ctx *ctx, const struct sig_rule *r, const struct vg_packet *p)
{
    if (r->flowbits != NULL && r->flowbits->nacts > 0)
        run_actions(ctx, r->flowbits);
    if (r->xbits != NULL && r->xbits->nacts > 0)
        sig_xbits_run(ctx, r, p);
    if (r->action == SIG_ACTION_PASS) {
        /* The rest of this packet, and of a flow, is not inspected. */
        ctx->stop = true;
        if (ctx->flow != NULL)
            ctx->flow->passed = 1;
        return false;
    }
    if (r->noalert)
        return false;
    return r->threshold == NULL || sig_threshold_allows(ctx, r, p);
}
