/* Byte and buffer keywords: byte_test, byte_jump, isdataat, bsize,
 * startswith, endswith and dotprefix; parsing with every error message,
 * matching on packets and application buffers, backtracking over a
 * content's occurrences, and the stream spans after these elements. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "vigil/detect.h"
#include "vigil/flow.h"
#include "vigil/packet.h"

#include "../../signatures/rule_int.h"
#include "sig_test_util.h"

TestSuite(bytes, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

/* ---- Helpers ------------------------------------------------------------------ */

static struct vg_packet packet(uint8_t proto, uint16_t dport, const void *payload, uint32_t len)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = (uint8_t)vg_ip_addr_parse("192.168.1.10", &p.src);
    cr_assert_eq(vg_ip_addr_parse("203.0.113.5", &p.dst), 4);
    p.proto = proto;
    p.sport = 40000;
    p.dport = dport;
    p.flags = VG_PKT_HAS_L4;
    p.payload = payload;
    p.payload_len = len;
    p.caplen = p.wirelen = 40 + len;
    return p;
}

/* The sids a UDP packet with these bytes raises, in order, as "1 2 ..." */
static const char *udp_sids(struct sig_engine *e, const void *payload, uint32_t len)
{
    static char out[128];
    struct sig_alerts a = {0};
    const struct vg_packet p = packet(IPPROTO_UDP, 9999, payload, len);
    uint32_t n = vg_detect_packet(e->ctx, &p, 0, sig_collect, &a);
    cr_assert_eq(n, a.n);
    out[0] = '\0';
    for (uint32_t i = 0; i < a.n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%u", i ? " " : "", a.sid[i]);
    return out;
}

#define UDP(e, lit) udp_sids((e), (lit), sizeof(lit) - 1)

/* The sids a transaction with one buffer set raises. */
static const char *tx_sids(struct sig_engine *e, enum vg_app_proto proto, enum vg_buffer buf,
                           const char *data)
{
    static char out[128];
    struct vg_app_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = (uint8_t)proto;
    tx.stage = VG_STAGE_REQUEST;
    tx.dir = VG_DIR_TOSERVER;
    tx.buf[buf].data = (const uint8_t *)data;
    tx.buf[buf].len = (uint32_t)strlen(data);
    const struct vg_packet p = packet(proto == VG_APP_DNS ? IPPROTO_UDP : IPPROTO_TCP,
                                      proto == VG_APP_DNS ? 53 : 80, NULL, 0);
    struct sig_alerts a = {0};
    uint32_t n = vg_detect_app(e->ctx, &tx, &p, VG_DF_HAS_FLOW | VG_DF_TOSERVER, sig_collect, &a);
    cr_assert_eq(n, a.n);
    out[0] = '\0';
    for (uint32_t i = 0; i < a.n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%u", i ? " " : "", a.sid[i]);
    return out;
}

/* Loads one rule that must be rejected with exactly this message on line 1. */
static void expect_error(const char *rule, const char *msg)
{
    struct sig_load l;
    sig_load_text(&l, rule, NULL);
    cr_assert_not_null(l.rs);
    cr_assert_str_eq(l.err, sig_msg(l.path, 1, msg), "rule: %sgot: %s", rule, l.err);
    cr_assert_eq(l.st.rules_loaded, 0);
    sig_load_done(&l);
}

static const struct sig_rule *rule_by_sid(const struct sig_load *l, uint32_t sid)
{
    const struct sig_rule *r = sig_ruleset_find(l->rs, 1, sid);
    cr_assert_not_null(r, "sid %u not loaded", sid);
    return r;
}

/* ---- Parsing ------------------------------------------------------------------ */

Test(bytes, byte_test_options_parse)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert udp any any -> any any (content:\"A\"; byte_test:2,!<=,0x1F,-3,"
                         "relative,little,bitmask 0x0ff0; sid:1;)\n"
                         "alert udp any any -> any any (byte_test:20,!=,123,4,string,oct; sid:2;)\n"
                         "alert udp any any -> any any (byte_test:4, ^, 7, 0, endian big; "
                         "sid:3;)\n");
    const struct sig_rule *r = rule_by_sid(&e.l, 1);
    cr_assert_eq(r->ncontents, 2);
    const struct sig_content *el = &r->contents[1];
    cr_assert_eq(el->kind, SIG_ELEM_BYTE_TEST);
    cr_assert_eq(el->flags, SIG_ELEM_RELATIVE);
    const struct sig_byte_op *op = el->ext;
    cr_assert_eq(op->nbytes, 2);
    cr_assert_eq(op->op, SIG_BYTE_LE);
    cr_assert(op->negated);
    cr_assert_eq(op->value, 0x1f);
    cr_assert_eq(op->offset, -3);
    cr_assert(op->little);
    cr_assert_eq(op->base, 0);
    cr_assert_eq(op->bitmask, 0xff0);
    cr_assert_eq(op->shift, 4);
    /* the content before a relative element is retried on failure */
    cr_assert(r->contents[0].flags & SIG_CONTENT_WITHIN_NEXT);

    op = rule_by_sid(&e.l, 2)->contents[0].ext;
    cr_assert_eq(op->nbytes, 20);
    cr_assert_eq(op->op, SIG_BYTE_EQ);
    cr_assert(op->negated);
    cr_assert_eq(op->base, 8);
    cr_assert_eq(rule_by_sid(&e.l, 2)->contents[0].flags, 0);

    op = rule_by_sid(&e.l, 3)->contents[0].ext;
    cr_assert_eq(op->op, SIG_BYTE_XOR);
    cr_assert_eq(op->base, 0);
    cr_assert(!op->little);
    sig_engine_stop(&e);
}

Test(bytes, byte_jump_and_isdataat_options_parse)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert udp any any -> any any (byte_jump:4,2,relative,multiplier 2,little,"
                     "align,from_beginning,post_offset -5,bitmask 12; sid:1;)\n"
                     "alert udp any any -> any any (byte_jump:3,0,string,dec,from_end; sid:2;)\n"
                     "alert udp any any -> any any (isdataat:!10,relative,rawbytes; sid:3;)\n"
                     "alert udp any any -> any any (isdataat:7; sid:4;)\n");
    const struct sig_content *el = &rule_by_sid(&e.l, 1)->contents[0];
    cr_assert_eq(el->kind, SIG_ELEM_BYTE_JUMP);
    cr_assert_eq(el->flags, SIG_ELEM_RELATIVE);
    const struct sig_byte_op *op = el->ext;
    cr_assert_eq(op->nbytes, 4);
    cr_assert_eq(op->offset, 2);
    cr_assert_eq(op->multiplier, 2);
    cr_assert(op->little);
    cr_assert_eq(op->jump, SIG_JUMP_ALIGN | SIG_JUMP_FROM_BEGINNING);
    cr_assert_eq(op->post_offset, -5);
    cr_assert_eq(op->bitmask, 12);
    cr_assert_eq(op->shift, 2);

    op = rule_by_sid(&e.l, 2)->contents[0].ext;
    cr_assert_eq(op->base, 10);
    cr_assert_eq(op->multiplier, 1);
    cr_assert_eq(op->jump, SIG_JUMP_FROM_END);

    el = &rule_by_sid(&e.l, 3)->contents[0];
    cr_assert_eq(el->kind, SIG_ELEM_ISDATAAT);
    cr_assert_eq(el->flags, SIG_ELEM_RELATIVE);
    op = el->ext;
    cr_assert(op->negated);
    cr_assert_eq(op->offset, 10);
    el = &rule_by_sid(&e.l, 4)->contents[0];
    cr_assert_eq(el->flags, 0);
    cr_assert(!((const struct sig_byte_op *)el->ext)->negated);
    sig_engine_stop(&e);
}

Test(bytes, bsize_startswith_endswith_dotprefix_parse)
{
    struct sig_engine e;
    sig_engine_start(
        &e, "alert http any any -> any any (http.uri; bsize:10; content:\"/a\"; sid:1;)\n"
            "alert http any any -> any any (http.uri; bsize:<=5; content:\"/a\"; sid:2;)\n"
            "alert http any any -> any any (http.uri; content:\"/a\"; bsize:3<>8; sid:3;)\n"
            "alert http any any -> any any (http.uri; content:\"/a\"; bsize:!4; sid:4;)\n"
            "alert http any any -> any any (http.uri; content:\"/a\"; startswith; "
            "content:\"z\"; endswith; sid:5;)\n"
            "alert dns any any -> any any (dns.query; dotprefix; content:\".a.com\"; "
            "endswith; sid:6;)\n");
    const struct sig_uint_test *t = rule_by_sid(&e.l, 1)->contents[0].ext;
    cr_assert_eq(rule_by_sid(&e.l, 1)->contents[0].kind, SIG_ELEM_BSIZE);
    cr_assert_eq(t->op, SIG_UINT_EQ);
    cr_assert_eq(t->a, 10);
    t = rule_by_sid(&e.l, 2)->contents[0].ext;
    cr_assert_eq(t->op, SIG_UINT_LE);
    cr_assert_eq(t->a, 5);
    t = rule_by_sid(&e.l, 3)->contents[1].ext;
    cr_assert_eq(t->op, SIG_UINT_RANGE);
    cr_assert_eq(t->a, 3);
    cr_assert_eq(t->b, 8);
    t = rule_by_sid(&e.l, 4)->contents[1].ext;
    cr_assert_eq(t->op, SIG_UINT_NE);

    const struct sig_rule *r = rule_by_sid(&e.l, 5);
    cr_assert_eq(r->contents[0].flags,
                 SIG_CONTENT_STARTSWITH | SIG_CONTENT_OFFSET | SIG_CONTENT_DEPTH);
    cr_assert_eq(r->contents[0].offset, 0);
    cr_assert_eq(r->contents[0].depth, 2);
    cr_assert_eq(r->contents[1].flags, SIG_CONTENT_ENDSWITH);

    r = rule_by_sid(&e.l, 6);
    cr_assert_eq(r->ngroups, 1);
    cr_assert_eq(r->groups[0].transform, SIG_XFORM_DOTPREFIX);
    cr_assert_eq(r->contents[0].transform, SIG_XFORM_DOTPREFIX);
    cr_assert_eq(r->fast, 0);
    cr_assert_eq(sig_prefilter_skip(&r->contents[0]), 1);
    sig_engine_stop(&e);
}

Test(bytes, error_messages)
{
#define HDR "alert udp any any -> any any ("
    expect_error(HDR "byte_test:2,=,1; sid:1;)\n",
                 "byte_test needs bytes, operator, value and offset (sid 1)");
    expect_error(HDR "byte_test:9,=,1,0; sid:1;)\n",
                 "byte_test: 9 bytes is more than 8 in binary (sid 1)");
    expect_error(HDR "byte_test:21,=,1,0,string; sid:1;)\n",
                 "byte_test: bad number of bytes '21' (sid 1)");
    expect_error(HDR "byte_test:0,=,1,0; sid:1;)\n", "byte_test: bad number of bytes '0' (sid 1)");
    expect_error(HDR "byte_test:2,<>,1,0; sid:1;)\n", "byte_test: bad operator '<>' (sid 1)");
    expect_error(HDR "byte_test:2,=,1x,0; sid:1;)\n", "byte_test: bad value '1x' (sid 1)");
    expect_error(HDR "byte_test:2,=,len,0; sid:1;)\n",
                 "byte_test: value 'len' is a byte_extract variable, which vigil does not support "
                 "(sid 1)");
    expect_error(HDR "byte_test:2,=,1,off; sid:1;)\n",
                 "byte_test: offset 'off' is a byte_extract variable, which vigil does not support "
                 "(sid 1)");
    expect_error(HDR "byte_test:2,=,1,70000; sid:1;)\n", "byte_test: bad offset '70000' (sid 1)");
    expect_error(HDR "byte_test:2,=,1,-1; sid:1;)\n",
                 "byte_test: a negative offset needs 'relative' (sid 1)");
    expect_error(HDR "byte_test:2,=,1,0,sideways; sid:1;)\n",
                 "byte_test: unknown option 'sideways' (sid 1)");
    expect_error(HDR "byte_test:2,=,1,0,relative 3; sid:1;)\n",
                 "byte_test: unknown option 'relative 3' (sid 1)");
    expect_error(HDR "byte_test:2,=,1,0,big,little; sid:1;)\n",
                 "byte_test: both big and little endian given (sid 1)");
    expect_error(HDR "byte_test:2,=,1,0,hex; sid:1;)\n",
                 "byte_test: a number base needs 'string' (sid 1)");
    expect_error(HDR "byte_test:2,=,1,0,string,hex,dec; sid:1;)\n",
                 "byte_test: more than one number base (sid 1)");
    expect_error(HDR "byte_test:2,=,1,0,string,little; sid:1;)\n",
                 "byte_test: endian cannot be used with 'string' (sid 1)");
    expect_error(HDR "byte_test:2,=,1,0,dce; sid:1;)\n",
                 "byte_test: 'dce' needs the DCERPC parser, which vigil does not have (sid 1)");
    expect_error(HDR "byte_test:2,=,1,0,bitmask; sid:1;)\n",
                 "byte_test: 'bitmask' needs a value (sid 1)");
    expect_error(HDR "byte_test:2,=,1,0,bitmask 0; sid:1;)\n",
                 "byte_test: bad bitmask '0' (sid 1)");
    expect_error(HDR "byte_test:2,=,1,0,multiplier 2; sid:1;)\n",
                 "byte_test: unknown option 'multiplier 2' (sid 1)");
    expect_error(HDR "byte_test:1,=,1,0,a,b,c,d,e,f,g,h,i,j,k,l,m; sid:1;)\n",
                 "byte_test: too many options (sid 1)");
    expect_error(HDR "byte_test; sid:1;)\n", "'byte_test' needs a value (sid 1)");

    expect_error(HDR "byte_jump:4; sid:1;)\n", "byte_jump needs bytes and offset (sid 1)");
    expect_error(HDR "byte_jump:n,0; sid:1;)\n",
                 "byte_jump: number of bytes 'n' is a byte_extract variable, which vigil does not "
                 "support (sid 1)");
    expect_error(HDR "byte_jump:4,0,multiplier 0; sid:1;)\n",
                 "byte_jump: bad multiplier '0' (1 to 65535) (sid 1)");
    expect_error(HDR "byte_jump:4,0,post_offset x; sid:1;)\n",
                 "byte_jump: post_offset 'x' is a byte_extract variable, which vigil does not "
                 "support (sid 1)");
    expect_error(HDR "byte_jump:4,0,post_offset 1.5; sid:1;)\n",
                 "byte_jump: bad post_offset '1.5' (sid 1)");
    expect_error(HDR "byte_jump:4,0,from_beginning,from_end; sid:1;)\n",
                 "byte_jump: from_beginning and from_end cannot both be given (sid 1)");
    expect_error(HDR "byte_jump:4,-2; sid:1;)\n",
                 "byte_jump: a negative offset needs 'relative' (sid 1)");

    expect_error(HDR "isdataat:x; sid:1;)\n",
                 "isdataat: position 'x' is a byte_extract variable, which vigil does not support "
                 "(sid 1)");
    expect_error(HDR "isdataat:-1; sid:1;)\n", "isdataat: bad position '-1' (sid 1)");
    expect_error(HDR "isdataat:1,far; sid:1;)\n", "isdataat: unknown option 'far' (sid 1)");

    expect_error(HDR "content:\"a\"; bsize:3; sid:1;)\n", "bsize needs a sticky buffer (sid 1)");
    expect_error("alert http any any -> any any (http.uri; bsize:x; sid:1;)\n",
                 "bad bsize value 'x' (sid 1)");
    expect_error("alert http any any -> any any (http.uri; bsize:8<>3; sid:1;)\n",
                 "bad bsize range '8<>3': the low end must be below the high end (sid 1)");

    expect_error(HDR "startswith; sid:1;)\n", "'startswith' needs a preceding content (sid 1)");
    expect_error(HDR "content:\"a\"; startswith:1; sid:1;)\n",
                 "'startswith' takes no value (sid 1)");
    expect_error(HDR "content:\"a\"; startswith; startswith; sid:1;)\n",
                 "duplicate 'startswith' on one content (sid 1)");
    expect_error(HDR "content:\"a\"; offset:1; startswith; sid:1;)\n",
                 "'startswith' cannot be mixed with offset, depth, distance or within (sid 1)");
    expect_error(HDR "content:\"a\"; content:\"b\"; distance:0; startswith; sid:1;)\n",
                 "'startswith' cannot be mixed with offset, depth, distance or within (sid 1)");
    expect_error(HDR "content:\"a\"; startswith; depth:3; sid:1;)\n",
                 "'depth' cannot be mixed with startswith on the same content (sid 1)");
    expect_error(HDR "content:\"a\"; startswith; within:3; sid:1;)\n",
                 "'within' cannot be mixed with startswith on the same content (sid 1)");
    expect_error(HDR "endswith; sid:1;)\n", "'endswith' needs a preceding content (sid 1)");
    expect_error(HDR "content:\"a\"; endswith; endswith; sid:1;)\n",
                 "duplicate 'endswith' on one content (sid 1)");

    expect_error(HDR "dotprefix; content:\"a\"; sid:1;)\n",
                 "dotprefix needs a sticky buffer such as dns.query (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; content:\"a\"; dotprefix; sid:1;)\n",
                 "dotprefix must come before the first content of buffer 'dns.query' (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dotprefix; dotprefix; content:\"a\"; "
                 "sid:1;)\n",
                 "duplicate 'dotprefix' on buffer 'dns.query' (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dotprefix:1; content:\"a\"; sid:1;)\n",
                 "'dotprefix' takes no value (sid 1)");
    expect_error(HDR "to_lowercase; content:\"a\"; sid:1;)\n",
                 "to_lowercase needs a sticky buffer such as dns.query (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; to_lowercase; to_lowercase; "
                 "content:\"a\"; sid:1;)\n",
                 "duplicate 'to_lowercase' on buffer 'dns.query' (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; content:\"a\"; to_lowercase; sid:1;)\n",
                 "to_lowercase must come before the first content of buffer 'dns.query' (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; to_lowercase; content:\"evil.Com\"; "
                 "sid:1;)\n",
                 "a content with an upper-case letter ('C' at byte 6) in a buffer that "
                 "to_lowercase folds could never match (sid 1)");

    /* a stream has no end */
    expect_error("alert tcp-stream any any -> any any (content:\"ab\"; endswith; sid:1;)\n",
                 "protocol 'tcp-stream' cannot be used with endswith: a stream has no end to "
                 "test (sid 1)");
    expect_error("alert tcp any any -> any any (flow:only_stream; content:\"ab\"; isdataat:!1,"
                 "relative; sid:1;)\n",
                 "flow:only_stream cannot be used with isdataat with '!': a stream has no end to "
                 "test (sid 1)");
    expect_error("alert tcp any any -> any any (flow:only_stream; content:\"ab\"; byte_jump:1,0,"
                 "from_end; sid:1;)\n",
                 "flow:only_stream cannot be used with byte_jump from_end: a stream has no end to "
                 "test (sid 1)");
#undef HDR
}

/* ---- Matching on packets ------------------------------------------------------- */

Test(bytes, byte_test_operators)
{
    struct sig_engine e;
    /* the value at offset 1 is 0x0102 big endian, 0x0201 little endian */
    sig_engine_start(&e, "alert udp any any -> any any (byte_test:2,=,0x0102,1; sid:1;)\n"
                         "alert udp any any -> any any (byte_test:2,<,259,1; sid:2;)\n"
                         "alert udp any any -> any any (byte_test:2,>,258,1; sid:3;)\n"
                         "alert udp any any -> any any (byte_test:2,<=,258,1; sid:4;)\n"
                         "alert udp any any -> any any (byte_test:2,>=,259,1; sid:5;)\n"
                         "alert udp any any -> any any (byte_test:2,&,0x0100,1; sid:6;)\n"
                         "alert udp any any -> any any (byte_test:2,^,258,1; sid:7;)\n"
                         "alert udp any any -> any any (byte_test:2,!=,258,1; sid:8;)\n"
                         "alert udp any any -> any any (byte_test:2,=,0x0201,1,little; sid:9;)\n"
                         "alert udp any any -> any any (byte_test:2,!&,0x0100,1; sid:10;)\n"
                         "alert udp any any -> any any (byte_test:8,>,0,0; sid:11;)\n");
    cr_assert_str_eq(UDP(&e, "\x00\x01\x02\x03"), "1 2 4 6 9");
    /* 0x0103 */
    cr_assert_str_eq(UDP(&e, "\x00\x01\x03\x03"), "3 5 6 7 8");
    /* 0x0003: no bit of 0x0100 */
    cr_assert_str_eq(UDP(&e, "\x00\x00\x03\x03"), "2 4 7 8 10");
    /* too short for any: bytes must all be in the buffer */
    cr_assert_str_eq(UDP(&e, "\x00\x01"), "");
    cr_assert_str_eq(UDP(&e, "\x00\x00\x00\x00\x00\x00\x00\x01"), "2 4 7 8 10 11");
    sig_engine_stop(&e);
}

Test(bytes, byte_test_strings_and_bitmask)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert udp any any -> any any (byte_test:3,=,123,0,string,dec; sid:1;)\n"
                         "alert udp any any -> any any (byte_test:2,=,255,0,string,hex; sid:2;)\n"
                         "alert udp any any -> any any (byte_test:3,=,83,0,string,oct; sid:3;)\n"
                         "alert udp any any -> any any (byte_test:1,=,0xa,0,bitmask 0xf0; sid:4;)\n"
                         "alert udp any any -> any any (byte_test:2,=,5,0,string; sid:5;)\n"
                         "alert udp any any -> any any (byte_test:20,>,1,0,string,dec; sid:6;)\n");
    cr_assert_str_eq(UDP(&e, "123"), "1 3"); /* octal 123 is 83 */
    cr_assert_str_eq(UDP(&e, "ffx"), "2");   /* hex ff, then a non-digit */
    cr_assert_str_eq(UDP(&e, "5/"), "5");    /* a number stops at its first non-digit */
    cr_assert_str_eq(UDP(&e, "\xa7"), "4");  /* (0xa7 & 0xf0) >> 4 */
    cr_assert_str_eq(UDP(&e, "\xb7"), "");
    cr_assert_str_eq(UDP(&e, "x12"), ""); /* no digit */
    /* 20 digits: beyond 64 bits does not match */
    cr_assert_str_eq(UDP(&e, "99999999999999999999"), "");
    cr_assert_str_eq(UDP(&e, "00000000000000000002"), "6");
    sig_engine_stop(&e);
}

Test(bytes, byte_jump_then_relative_content)
{
    struct sig_engine e;
    sig_engine_start(
        &e,
        /* a length byte after "L", then "X" right where it jumps */
        "alert udp any any -> any any (content:\"L\"; byte_jump:1,0,relative; content:\"X\"; "
        "within:1; sid:1;)\n"
        /* multiplier: the length counts 2-byte units */
        "alert udp any any -> any any (content:\"M\"; byte_jump:1,0,relative,multiplier 2; "
        "content:\"Y\"; within:1; sid:2;)\n"
        /* align: 3 rounds up to 4 */
        "alert udp any any -> any any (content:\"A\"; byte_jump:1,0,relative,align; "
        "content:\"Z\"; within:1; sid:3;)\n"
        /* from_beginning and post_offset */
        "alert udp any any -> any any (byte_jump:1,1,from_beginning,post_offset 2; "
        "content:\"Q\"; within:1; sid:4;)\n"
        /* from_end with a negative post_offset */
        "alert udp any any -> any any (content:\"E\"; byte_jump:1,0,relative,from_end,"
        "post_offset -1; content:\"!\"; within:1; sid:5;)\n"
        /* a jump may land on the buffer's end, not past it */
        "alert udp any any -> any any (content:\"J\"; byte_jump:1,0,relative; isdataat:!1,"
        "relative; sid:6;)\n"
        /* a string length */
        "alert udp any any -> any any (content:\"S\"; byte_jump:2,0,relative,string,dec; "
        "content:\"W\"; within:1; sid:7;)\n");
    cr_assert_str_eq(UDP(&e, "L\x02..X"), "1");
    cr_assert_str_eq(UDP(&e, "L\x02.X."), "");
    cr_assert_str_eq(UDP(&e, "M\x02....Y"), "2");
    cr_assert_str_eq(UDP(&e, "M\x02..Y"), "");
    cr_assert_str_eq(UDP(&e, "A\x03....Z"), "3");
    cr_assert_str_eq(UDP(&e, "A\x03...Z"), "");
    /* value 3 at offset 1, from the start 3 + 2 = 5 */
    cr_assert_str_eq(UDP(&e, "?\x03...Q"), "4");
    cr_assert_str_eq(UDP(&e, "?\x03..Q."), "");
    /* from_end: the value is 0, so the end minus 1 */
    cr_assert_str_eq(UDP(&e, "E\x00...!"), "5");
    cr_assert_str_eq(UDP(&e, "J\x02.."), "6");
    cr_assert_str_eq(UDP(&e, "J\x03.."), "");
    cr_assert_str_eq(UDP(&e, "S03...W"), "7");
    sig_engine_stop(&e);
}

Test(bytes, isdataat_absolute_relative_and_negated)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert udp any any -> any any (isdataat:3; sid:1;)\n"
                     "alert udp any any -> any any (content:\"ab\"; isdataat:2,relative; sid:2;)\n"
                     "alert udp any any -> any any (content:\"ab\"; isdataat:!1,relative; sid:3;)\n"
                     "alert udp any any -> any any (isdataat:!3; sid:4;)\n");
    /* 4 bytes: a byte at 3; 2 bytes after "ab" */
    cr_assert_str_eq(UDP(&e, "abcd"), "1 2");
    /* "ab" at the end: nothing after it */
    cr_assert_str_eq(UDP(&e, "cab"), "3 4");
    cr_assert_str_eq(UDP(&e, "abc"), "4");
    sig_engine_stop(&e);
}

Test(bytes, relative_byte_test_backtracks_to_a_later_occurrence)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert udp any any -> any any (content:\"K\"; byte_test:1,=,7,0,relative; "
                     "sid:1;)\n"
                     "alert udp any any -> any any (content:\"K\"; isdataat:!2,relative; sid:2;)\n"
                     "alert udp any any -> any any (content:\"K\"; byte_jump:1,0,relative; "
                     "content:\"T\"; within:1; sid:3;)\n"
                     "alert udp any any -> any any (content:\"K\"; byte_test:1,=,7,0,relative; "
                     "content:\"V\"; within:2; sid:4;)\n"
                     "alert udp any any -> any any (content:\"K\"; content:\"V\"; endswith; "
                     "distance:0; sid:5;)\n");
    /* the byte after the first K is 1, after the second 7 */
    cr_assert_str_eq(UDP(&e, "K\x01K\x07"), "1 2");
    /* the jump works only from the second K */
    cr_assert_str_eq(UDP(&e, "K\x05K\x01.T"), "3");
    /* byte_test holds after both K, the V follows only the second */
    cr_assert_str_eq(UDP(&e, "K\x07....K\x07V"), "1 4 5");
    /* the V ends the buffer but comes before the only K */
    cr_assert_str_eq(UDP(&e, "V.K.V."), "");
    sig_engine_stop(&e);
}

Test(bytes, payload_endswith_and_startswith)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert udp any any -> any any (content:\"GET\"; startswith; sid:1;)\n"
                     "alert udp any any -> any any (content:\"end\"; endswith; sid:2;)\n"
                     "alert udp any any -> any any (content:\"x\"; startswith; endswith; sid:3;)\n"
                     "alert udp any any -> any any (content:\"mid\"; content:!\"end\"; endswith; "
                     "sid:4;)\n"
                     "alert tcp any any -> any any (content:\"end\"; endswith; sid:5;)\n");
    cr_assert_str_eq(UDP(&e, "GET /end"), "1 2");
    cr_assert_str_eq(UDP(&e, " GET end."), "");
    cr_assert_str_eq(UDP(&e, "x"), "3");
    cr_assert_str_eq(UDP(&e, "xx"), "");
    cr_assert_str_eq(UDP(&e, "mid end mid"), "4");
    cr_assert_str_eq(UDP(&e, "end mid end"), "2");
    /* endswith needs a buffer's end: a tcp rule is inspected on packets */
    cr_assert_eq(rule_by_sid(&e.l, 5)->inspect, SIG_INSPECT_PACKET);
    sig_engine_stop(&e);
}

/* ---- Matching on application buffers ---------------------------------------------- */

Test(bytes, http_uri_bsize_startswith_endswith)
{
    struct sig_engine e;
    sig_engine_start(
        &e, "alert http any any -> any any (http.uri; bsize:6; sid:1;)\n"
            "alert http any any -> any any (http.uri; content:\"/a\"; bsize:>6; sid:2;)\n"
            "alert http any any -> any any (http.uri; content:\"/a\"; bsize:5<>7; sid:3;)\n"
            "alert http any any -> any any (http.uri; content:\"/admin\"; startswith; "
            "sid:4;)\n"
            "alert http any any -> any any (http.uri; content:\".php\"; endswith; sid:5;)\n"
            "alert http any any -> any any (http.uri; content:\"/a\"; startswith; "
            "content:\".php\"; endswith; distance:0; sid:6;)\n"
            "alert http any any -> any any (content:\".PHP\"; nocase; endswith; http_uri; "
            "sid:7;)\n");
    cr_assert_str_eq(tx_sids(&e, VG_APP_HTTP, VG_BUF_HTTP_URI, "/a.php"), "1 3 5 6 7");
    cr_assert_str_eq(tx_sids(&e, VG_APP_HTTP, VG_BUF_HTTP_URI, "/admin.php"), "2 4 5 6 7");
    cr_assert_str_eq(tx_sids(&e, VG_APP_HTTP, VG_BUF_HTTP_URI, "/admin.php?x"), "2 4");
    cr_assert_str_eq(tx_sids(&e, VG_APP_HTTP, VG_BUF_HTTP_URI, "/x/admin.php"), "2 5 7");
    cr_assert_str_eq(tx_sids(&e, VG_APP_HTTP, VG_BUF_HTTP_URI, "/a.ph"), "");
    sig_engine_stop(&e);
}

Test(bytes, dns_query_dotprefix_endswith)
{
    struct sig_engine e;
    sig_engine_start(
        &e, "alert dns any any -> any any (dns.query; dotprefix; content:\".example.com\"; "
            "endswith; sid:1;)\n"
            "alert dns any any -> any any (dns.query; content:\"www.\"; startswith; "
            "sid:2;)\n"
            "alert dns any any -> any any (dns.query; dotprefix; content:\".\"; "
            "startswith; bsize:>4; sid:3;)\n");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "example.com"), "1 3");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "www.example.com"), "1 2 3");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "badexample.com"), "3");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "example.com.evil"), "3");
    /* "a.b" is 4 bytes with the dot */
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "a.b"), "");
    /* the prefilter is the pattern without the dot; "." alone cannot be one */
    cr_assert_eq(rule_by_sid(&e.l, 3)->fast, -1);
    sig_engine_stop(&e);
}

/* A pcre-only rule on the same buffer makes its database a regex one: the
 * dotprefix content must still prefilter without its dot. */
Test(bytes, dotprefix_prefilter_in_a_regex_database)
{
    struct sig_engine e;
    sig_engine_start(
        &e, "alert dns any any -> any any (dns.query; dotprefix; content:\".example.com\"; "
            "endswith; sid:1;)\n"
            "alert dns any any -> any any (dns.query; pcre:\"/^zz[0-9]+\\./\"; sid:2;)\n");
    cr_assert_eq(rule_by_sid(&e.l, 2)->contents[rule_by_sid(&e.l, 2)->fast].kind, SIG_ELEM_PCRE);
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "example.com"), "1");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "zz12.example.com"), "1 2");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "badexample.com"), "");
    sig_engine_stop(&e);
}

/* to_lowercase folds the buffer before its elements; with dotprefix in
 * either order. The prefilter searches the raw buffer in every case. A
 * nocase content may keep its capitals. */
Test(bytes, to_lowercase_and_dotprefix)
{
    struct sig_engine e;
    sig_engine_start(
        &e, "alert dns any any -> any any (dns.query; to_lowercase; content:\"workers.dev\"; "
            "endswith; sid:1;)\n"
            "alert dns any any -> any any (dns.query; to_lowercase; dotprefix; "
            "content:\".evil.com\"; endswith; sid:2;)\n"
            "alert dns any any -> any any (dns.query; dotprefix; to_lowercase; "
            "content:\".x\"; startswith; pcre:\"/^\\.x[a-z]+\\.bad$/\"; sid:3;)\n"
            "alert dns any any -> any any (dns.query; to_lowercase; content:\"Mixed\"; nocase; "
            "sid:4;)\n"
            "alert dns any any -> any any (dns.query; to_lowercase; pcre:\"/^upper[0-9]$/\"; "
            "sid:5;)\n");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "a.WoRkErS.DeV"), "1");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "EVIL.COM"), "2");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "www.Evil.Com"), "2");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "notevil.com"), "");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "XyZ.BAD"), "3");
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "mIxEd.example"), "4");
    /* a regex of a transformed buffer does not prefilter the raw one */
    cr_assert_eq(rule_by_sid(&e.l, 5)->fast, -1);
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, "UPPER7"), "5");
    sig_engine_stop(&e);
}

Test(bytes, transform_too_long_is_counted)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert dns any any -> any any (dns.query; dotprefix; content:\".com\"; "
                         "endswith; sid:1;)\n");
    static char name[SIG_TRANSFORM_MAX + 8];
    memset(name, 'a', sizeof(name) - 5);
    memcpy(name + sizeof(name) - 5, ".com", 5);
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, name), "");
    cr_assert_eq(e.ctx->transform_too_long, 1);
    /* one byte less than the scratch holds with the dot */
    const char *fits = name + sizeof(name) - (SIG_TRANSFORM_MAX - 1) - 1;
    cr_assert_eq(strlen(fits), SIG_TRANSFORM_MAX - 1);
    cr_assert_str_eq(tx_sids(&e, VG_APP_DNS, VG_BUF_DNS_QUERY, fits), "1");
    cr_assert_eq(e.ctx->transform_too_long, 1);
    sig_engine_stop(&e);
}

/* ---- Streams -------------------------------------------------------------------- */

Test(bytes, stream_spans_after_byte_elements)
{
    struct sig_engine e;
    sig_engine_start(
        &e, "alert tcp any any -> any any (flow:only_stream; content:\"HEAD\"; "
            "byte_test:2,>,5,1,relative; content:\"TAIL\"; distance:0; within:10; sid:1;)\n"
            "alert tcp any any -> any any (flow:only_stream; content:\"HEAD\"; "
            "byte_jump:2,0,relative; content:\"TAIL\"; within:4; sid:2;)\n"
            "alert tcp any any -> any any (flow:only_stream; content:\"LEN\"; "
            "isdataat:20,relative; sid:3;)\n");
    /* byte_test passes the cursor on: the bytes read and the TAIL stay bounded */
    const struct sig_rule *r = rule_by_sid(&e.l, 1);
    cr_assert_eq(r->fast, 0);
    cr_assert_eq(r->spans[1].rel_lo, 1);
    cr_assert_eq(r->spans[1].rel_hi, 3);
    cr_assert_eq(r->spans[2].rel_lo, 0);
    cr_assert_eq(r->spans[2].rel_hi, 10);
    cr_assert_eq(r->stream_before, 4);
    cr_assert_eq(r->stream_ahead, 10);
    /* after a byte_jump what follows is unbounded ahead, and the window capped */
    r = rule_by_sid(&e.l, 2);
    cr_assert_eq(r->spans[1].rel_lo, 0);
    cr_assert_eq(r->spans[1].rel_hi, 2);
    cr_assert_eq(r->spans[2].rel_lo, 2);
    cr_assert_eq(r->spans[2].rel_hi, SIG_SPAN_INF);
    cr_assert_eq(r->spans[2].abs_lo, 6);
    cr_assert_eq(r->spans[2].abs_hi, SIG_SPAN_INF);
    cr_assert_eq(r->stream_before, 4);
    cr_assert_eq(r->stream_ahead, 4096 - 4);
    /* a relative isdataat needs the bytes up to the cursor plus n */
    r = rule_by_sid(&e.l, 3);
    cr_assert_eq(r->spans[1].rel_lo, 20);
    cr_assert_eq(r->spans[1].rel_hi, 20);
    cr_assert_eq(r->stream_ahead, 20);
    sig_engine_stop(&e);
}

Test(bytes, stream_byte_jump_matches_across_chunks)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (flow:only_stream; content:\"HEAD\"; "
                         "byte_jump:1,0,relative; content:\"TAIL\"; within:4; sid:7;)\n");
    cr_assert_eq(vg_detect_ctx_streams(e.ctx, 2), 0);
    struct vg_detect_stream *s = vg_detect_stream_open(e.ctx);
    cr_assert_not_null(s);
    const struct vg_packet p = packet(IPPROTO_TCP, 80, NULL, 0);
    const uint32_t ff = VG_DF_HAS_FLOW | VG_DF_ESTABLISHED | VG_DF_TOSERVER | VG_DF_STREAM;
    struct sig_alerts a = {0};
    /* HEAD, a jump of 6, then TAIL in the next chunk */
    static const char c1[] = "..HEAD\x06"
                             "abc";
    static const char c2[] = "defTAIL..";
    cr_assert_eq(vg_detect_stream_data(e.ctx, s, (const uint8_t *)c1, sizeof(c1) - 1, 0, 0, &p, ff,
                                       sig_collect, &a),
                 0);
    cr_assert_eq(vg_detect_stream_data(e.ctx, s, (const uint8_t *)c2, sizeof(c2) - 1,
                                       sizeof(c1) - 1, 0, &p, ff, sig_collect, &a),
                 1);
    cr_assert_eq(a.sid[0], 7);
    vg_detect_stream_close(e.ctx, s);
    sig_engine_stop(&e);
}
