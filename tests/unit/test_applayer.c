/* The application-layer dispatcher: a TCP flow picked up midstream whose
 * first data is a server's (an HTTP response) has its sides swapped for the
 * parsers, as Suricata does; one whose first data is a request does not. */
#include <criterion/criterion.h>
#include <string.h>

#include "vigil/applayer.h"
#include "vigil/flow.h"

#define MAX_TX 8

struct seen_tx {
    uint8_t proto, stage, dir;
    uint32_t tx_id;
    char header[128]; /* the stage's header buffer, request or response */
};

struct seen {
    struct seen_tx tx[MAX_TX];
    uint32_t n;
};

static void copy_buf(char *out, size_t size, const struct vg_app_buf *b)
{
    size_t n = b->data == NULL ? 0 : b->len < size - 1 ? b->len : size - 1;
    if (n != 0)
        memcpy(out, b->data, n);
    out[n] = '\0';
}

static void on_tx(void *user, const struct vg_app_tx *tx)
{
    struct seen *s = user;
    if (tx->repeated)
        return;
    cr_assert_lt(s->n, MAX_TX);
    struct seen_tx *t = &s->tx[s->n++];
    t->proto = tx->proto;
    t->stage = tx->stage;
    t->dir = tx->dir;
    t->tx_id = tx->tx_id;
    const enum vg_buffer b =
        tx->stage >= VG_STAGE_RESPONSE ? VG_BUF_HTTP_RESPONSE_HEADER : VG_BUF_HTTP_HEADER;
    copy_buf(t->header, sizeof(t->header), &tx->buf[b]);
}

static struct vg_applayer *dispatcher(void)
{
    struct vg_applayer_config c;
    vg_applayer_config_default(&c);
    c.ndpi = false;
    c.max_flows[VG_APP_HTTP] = 4;
    struct vg_applayer *al = vg_applayer_new(&c, 4);
    cr_assert_not_null(al);
    vg_applayer_flow_start(al, 0);
    return al;
}

static void feed(struct vg_applayer *al, int dir, const char *text, uint32_t flags, struct seen *s)
{
    struct vg_app_cb cb = {.user = s, .tx = on_tx};
    vg_applayer_stream(al, 0, dir, (const uint8_t *)text, (uint32_t)strlen(text), flags, &cb);
}

static const char response[] = "HTTP/1.1 200 OK\r\nServer: Apache\r\nContent-Length: 0\r\n\r\n";
static const char request[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

Test(applayer, midstream_response_first_reverses)
{
    struct vg_applayer *al = dispatcher();
    struct seen s = {0};
    /* the side taken as the client sends a response */
    feed(al, VG_DIR_TOSERVER, response, VG_APP_MIDSTREAM, &s);
    cr_assert(vg_applayer_reversed(al, 0));
    cr_assert_eq(vg_applayer_stats(al)->reversed, 1);
    cr_assert_eq(vg_applayer_proto(al, 0), VG_APP_HTTP);
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.tx[0].proto, VG_APP_HTTP);
    cr_assert_eq(s.tx[0].stage, VG_STAGE_RESPONSE);
    cr_assert_eq(s.tx[0].dir, VG_DIR_TOCLIENT);
    cr_assert_str_eq(s.tx[0].header, "Server: Apache\r\nContent-Length: 0\r\n");

    /* the other side of the flow is the client: its request is a request */
    feed(al, VG_DIR_TOCLIENT, request, VG_APP_MIDSTREAM, &s);
    cr_assert_eq(s.n, 2);
    cr_assert_eq(s.tx[1].stage, VG_STAGE_REQUEST);
    cr_assert_eq(s.tx[1].dir, VG_DIR_TOSERVER);
    cr_assert_str_eq(s.tx[1].header, "Host: a\r\n");
    vg_applayer_flow_end(al, 0, &(struct vg_app_cb){.user = &s, .tx = on_tx});

    /* the slot's next flow starts unswapped */
    vg_applayer_flow_start(al, 0);
    cr_assert_not(vg_applayer_reversed(al, 0));
    vg_applayer_free(al);
}

Test(applayer, midstream_request_first_not_reversed)
{
    struct vg_applayer *al = dispatcher();
    struct seen s = {0};
    feed(al, VG_DIR_TOSERVER, request, VG_APP_MIDSTREAM, &s);
    cr_assert_not(vg_applayer_reversed(al, 0));
    cr_assert_eq(vg_applayer_stats(al)->reversed, 0);
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.tx[0].stage, VG_STAGE_REQUEST);
    cr_assert_eq(s.tx[0].dir, VG_DIR_TOSERVER);
    cr_assert_str_eq(s.tx[0].header, "Host: a\r\n");
    feed(al, VG_DIR_TOCLIENT, response, VG_APP_MIDSTREAM, &s);
    cr_assert_eq(s.n, 2);
    cr_assert_eq(s.tx[1].stage, VG_STAGE_RESPONSE);
    cr_assert_eq(s.tx[1].dir, VG_DIR_TOCLIENT);
    cr_assert_eq(s.tx[1].tx_id, 0);
    vg_applayer_free(al);
}

/* A session seen from its start keeps its sides: a response first in the
 * client's direction fits no parser there. */
Test(applayer, response_first_without_midstream_not_reversed)
{
    struct vg_applayer *al = dispatcher();
    struct seen s = {0};
    feed(al, VG_DIR_TOSERVER, response, 0, &s);
    cr_assert_not(vg_applayer_reversed(al, 0));
    cr_assert_eq(vg_applayer_stats(al)->reversed, 0);
    cr_assert_eq(s.n, 0);
    vg_applayer_free(al);
}

/* Once the other direction showed data, the first data no longer decides
 * the sides: the server's response in the server's direction names HTTP. */
Test(applayer, midstream_reversal_only_on_first_data)
{
    struct vg_applayer *al = dispatcher();
    struct seen s = {0};
    feed(al, VG_DIR_TOCLIENT, "HTT", VG_APP_MIDSTREAM, &s);
    feed(al, VG_DIR_TOSERVER, response, VG_APP_MIDSTREAM, &s);
    cr_assert_not(vg_applayer_reversed(al, 0));
    cr_assert_eq(vg_applayer_stats(al)->reversed, 0);
    vg_applayer_free(al);
}
