/* Detection on application-layer transactions.
 *
 * A rule with a content in an application buffer (a sticky buffer or an
 * http_* modifier) is an application rule: it is inspected on the
 * transactions the parsers report, once, at the stage where the last of its
 * buffers becomes available (the largest stage of its buffers), and never
 * on packets or streams. Its fast pattern goes into the block-mode
 * Hyperscan database of the buffer that holds it (pattern id = rule index,
 * as in the packet database); a rule without a usable fast pattern is a
 * candidate at every transaction of its stage. Candidates are verified in
 * rule order: the header on the packet of the transaction's direction, then
 * each buffer's contents on that buffer, positions counting from its start. */
#include <hs.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/detect.h"

#include "rule_int.h"

/* ---- Buffers ------------------------------------------------------------------ */

#define REQ   VG_STAGE_REQUEST
#define REQB  VG_STAGE_REQUEST_BODY
#define RESP  VG_STAGE_RESPONSE
#define RESPB VG_STAGE_RESPONSE_BODY

static const struct sig_buffer_info buffer_info[VG_BUF_COUNT] = {
    [VG_BUF_PAYLOAD] = {"pkt_data", VG_APP_UNKNOWN, VG_STAGE_NONE, false},
    [VG_BUF_HTTP_METHOD] = {"http.method", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_URI] = {"http.uri", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_URI_RAW] = {"http.uri.raw", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_PROTOCOL] = {"http.protocol", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_REQUEST_LINE] = {"http.request_line", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_HOST] = {"http.host", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_HOST_RAW] = {"http.host.raw", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_USER_AGENT] = {"http.user_agent", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_REFERER] = {"http.referer", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_HEADER] = {"http.header", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_HEADER_RAW] = {"http.header.raw", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_HEADER_NAMES] = {"http.header_names", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_CONNECTION] = {"http.connection", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_COOKIE] = {"http.cookie", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_CONTENT_TYPE] = {"http.content_type", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_CONTENT_LEN] = {"http.content_len", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_START] = {"http.start", VG_APP_HTTP, REQ, false},
    [VG_BUF_HTTP_REQUEST_BODY] = {"http.request_body", VG_APP_HTTP, REQB, false},
    [VG_BUF_HTTP_STAT_CODE] = {"http.stat_code", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_STAT_MSG] = {"http.stat_msg", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_RESPONSE_LINE] = {"http.response_line", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_RESPONSE_HEADER] = {"http.header", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_RESPONSE_HEADER_RAW] = {"http.header.raw", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_RESPONSE_HEADER_NAMES] = {"http.header_names", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_RESPONSE_CONNECTION] = {"http.connection", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_SET_COOKIE] = {"http.cookie", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_RESPONSE_CONTENT_TYPE] = {"http.content_type", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_RESPONSE_CONTENT_LEN] = {"http.content_len", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_RESPONSE_START] = {"http.start", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_SERVER] = {"http.server", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_LOCATION] = {"http.location", VG_APP_HTTP, RESP, false},
    [VG_BUF_HTTP_RESPONSE_BODY] = {"http.response_body", VG_APP_HTTP, RESPB, false},
    [VG_BUF_TLS_SNI] = {"tls.sni", VG_APP_TLS, REQ, false},
    [VG_BUF_TLS_CERT_SUBJECT] = {"tls.cert_subject", VG_APP_TLS, RESP, false},
    [VG_BUF_TLS_CERT_ISSUER] = {"tls.cert_issuer", VG_APP_TLS, RESP, false},
    [VG_BUF_TLS_CERT_SERIAL] = {"tls.cert_serial", VG_APP_TLS, RESP, false},
    [VG_BUF_TLS_CERT_FINGERPRINT] = {"tls.cert_fingerprint", VG_APP_TLS, RESP, false},
    [VG_BUF_JA3_HASH] = {"ja3.hash", VG_APP_TLS, REQ, false},
    [VG_BUF_JA3_STRING] = {"ja3.string", VG_APP_TLS, REQ, false},
    [VG_BUF_JA3S_HASH] = {"ja3s.hash", VG_APP_TLS, RESP, false},
    [VG_BUF_JA3S_STRING] = {"ja3s.string", VG_APP_TLS, RESP, false},
    [VG_BUF_JA4_HASH] = {"ja4.hash", VG_APP_TLS, REQ, false},
    [VG_BUF_TLS_ALPN] = {"tls.alpn", VG_APP_TLS, REQ, false},
    [VG_BUF_DNS_QUERY] = {"dns.query", VG_APP_DNS, REQ, false},
    [VG_BUF_SSH_PROTO] = {"ssh.proto", VG_APP_SSH, REQ, true},
    [VG_BUF_SSH_SOFTWARE] = {"ssh.software", VG_APP_SSH, REQ, true},
    [VG_BUF_SSH_HASSH] = {"ssh.hassh", VG_APP_SSH, REQ, false},
    [VG_BUF_SSH_HASSH_STRING] = {"ssh.hassh.string", VG_APP_SSH, REQ, false},
    [VG_BUF_SSH_HASSH_SERVER] = {"ssh.hassh.server", VG_APP_SSH, RESP, false},
    [VG_BUF_SSH_HASSH_SERVER_STRING] = {"ssh.hassh.server.string", VG_APP_SSH, RESP, false},
};

const struct sig_buffer_info *sig_buffer_info(uint32_t b)
{
    return b < VG_BUF_COUNT ? &buffer_info[b] : NULL;
}

const char *vg_buffer_name(enum vg_buffer b)
{
    const struct sig_buffer_info *info = sig_buffer_info((uint32_t)b);
    return info != NULL ? info->name : NULL;
}

/* ---- Compiling ------------------------------------------------------------------ */

static bool pick_buffer(const struct sig_rule *r, const void *arg)
{
    uint32_t buf = *(const uint32_t *)arg;
    return r->app_stage != 0 && r->fast >= 0 && r->contents[r->fast].buffer == buf;
}

static int compile_buffer(struct vg_ruleset *rs, uint32_t buf, FILE *err)
{
    return sig_compile_fast_patterns(rs, pick_buffer, &buf, HS_MODE_BLOCK, HS_FLAG_SINGLEMATCH,
                                     buffer_info[buf].name, &rs->app_db[buf],
                                     &rs->stats.app_db_bytes, err);
}

int sig_app_prepare(struct vg_ruleset *rs, FILE *err)
{
    for (int s = 0; s < VG_STAGE_COUNT; s++) {
        rs->app_always[s] = malloc((rs->nrules ? rs->nrules : 1) * sizeof(uint32_t));
        if (rs->app_always[s] == NULL) {
            if (err != NULL)
                fprintf(err, "rules: out of memory\n");
            return -1;
        }
    }
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_rule *r = &rs->rules[i];
        if (r->app_stage == 0)
            continue;
        rs->stats.app_rules += !r->response_twin;
        if (r->fast < 0)
            rs->app_always[r->app_stage][rs->napp_always[r->app_stage]++] = i;
    }
    for (uint32_t b = 0; b < VG_BUF_COUNT; b++) {
        if (compile_buffer(rs, b, err) != 0)
            return -1;
    }
    return 0;
}

void sig_app_release(struct vg_ruleset *rs)
{
    for (int b = 0; b < VG_BUF_COUNT; b++) {
        hs_free_database(rs->app_db[b]);
        rs->app_db[b] = NULL;
    }
    for (int s = 0; s < VG_STAGE_COUNT; s++) {
        free(rs->app_always[s]);
        rs->app_always[s] = NULL;
        rs->napp_always[s] = 0;
    }
}

/* ---- Matching ------------------------------------------------------------------- */

/* A scan of one buffer: only rules of the transaction's stage and protocol
 * become candidates. */
struct app_scan {
    struct vg_detect_ctx *ctx;
    uint8_t stage;
    uint8_t proto;
};

static inline bool rule_fits(const struct sig_rule *r, uint8_t stage, uint8_t proto)
{
    return r->app_stage == stage && (r->app_proto == 0 || r->app_proto == proto);
}

static int on_app_pattern(unsigned int id, unsigned long long from, unsigned long long to,
                          unsigned int flags, void *user)
{
    (void)from;
    (void)to;
    (void)flags;
    struct app_scan *scan = user;
    if (rule_fits(&scan->ctx->rs->rules[id], scan->stage, scan->proto))
        sig_add_candidate(scan->ctx, id);
    return 0;
}

/* Every buffer group of the rule on the transaction's buffers. */
static bool contents_match(struct vg_detect_ctx *ctx, const struct sig_rule *r,
                           const struct vg_app_tx *tx)
{
    for (uint32_t g = 0; g < r->ngroups; g++) {
        const struct sig_buffer_group *grp = &r->groups[g];
        const struct vg_app_buf *b = &tx->buf[grp->buffer];
        if (b->data == NULL) {
            if (grp->all_negated)
                continue;
            return false;
        }
        const uint8_t *data = b->data;
        uint32_t len = b->len;
        if (grp->transform != SIG_XFORM_NONE &&
            !sig_transform_apply(ctx, grp->transform, &data, &len))
            return false;
        struct sig_inspection in = {
            .data = data,
            .base = 0,
            .end = len,
            .anchor = -1,
            .budget = SIG_INSPECT_BUDGET,
            .ctx = ctx,
        };
        if (sig_inspect_slice(r->contents + grp->first, grp->n, &in) != 1)
            return false;
    }
    return true;
}

uint32_t vg_detect_app(struct vg_detect_ctx *ctx, const struct vg_app_tx *tx,
                       const struct vg_packet *p, uint32_t flow_flags, vg_alert_fn on_alert,
                       void *user)
{
    if (tx == NULL || p == NULL || tx->stage == VG_STAGE_NONE || tx->stage >= VG_STAGE_COUNT)
        return 0;
    const struct vg_ruleset *rs = ctx->rs;
    struct app_scan scan = {.ctx = ctx, .stage = tx->stage, .proto = tx->proto};
    ctx->ncand = 0;
    if (ctx->flow != NULL && ctx->flow->passed)
        return 0;
    for (uint32_t b = 0; b < VG_BUF_COUNT; b++) {
        const struct vg_app_buf *buf = &tx->buf[b];
        if (rs->app_db[b] != NULL && buf->data != NULL && buf->len > 0)
            hs_scan(rs->app_db[b], (const char *)buf->data, buf->len, 0, ctx->scratch,
                    on_app_pattern, &scan);
    }
    const uint32_t *always = rs->app_always[tx->stage];
    for (uint32_t i = 0; i < rs->napp_always[tx->stage]; i++) {
        if (rule_fits(&rs->rules[always[i]], scan.stage, scan.proto))
            sig_add_candidate(ctx, always[i]);
    }
    if (ctx->ncand == 0)
        return 0;

    /* The transaction says which protocol the flow speaks. */
    const uint32_t ff = (flow_flags & ~VG_DF_APP_MASK) | VG_DF_APP(tx->proto);
    sig_order_candidates(ctx);
    uint32_t alerts = 0;
    ctx->stop = false;
    for (uint32_t i = 0; i < ctx->ncand && !ctx->stop; i++) {
        const struct sig_rule *r = &rs->rules[ctx->cand[i]];
        if (sig_rule_header_matches(r, p, ff) && sig_rule_state_ok(ctx, r, p) &&
            contents_match(ctx, r, tx) && sig_rule_fire(ctx, r, p)) {
            alerts++;
            on_alert(user, &r->meta);
        }
    }
    return alerts;
}
