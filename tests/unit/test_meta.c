/* Event metadata: the binary items workers write and their JSON form, and
 * events carrying metadata through the event ring. */
#include <criterion/criterion.h>
#include <string.h>

#include "vigil/event.h"
#include "vigil/meta.h"

static char *to_json(const uint8_t *m, uint32_t n, struct vg_jbuf *j)
{
    vg_jbuf_init(j);
    vg_jbuf_append(j, "{", 1);
    vg_meta_to_json(j, m, n, false);
    vg_jbuf_append(j, "}", 1);
    return j->buf;
}

Test(meta, every_type_round_trips)
{
    uint8_t buf[512];
    struct vg_meta_writer w;
    vg_meta_init(&w, buf, sizeof(buf));
    vg_meta_obj(&w, "http");
    vg_meta_cstr(&w, "hostname", "www.example.com");
    vg_meta_uint(&w, "status", 200);
    vg_meta_int(&w, "delta", -5);
    vg_meta_bool(&w, "websocket", true);
    vg_meta_hex(&w, "raw", "\x01\xab", 2);
    vg_meta_arr(&w, "anomalies");
    vg_meta_cstr(&w, NULL, "A");
    vg_meta_cstr(&w, NULL, "B\"\n");
    vg_meta_end(&w);
    vg_meta_obj(&w, "empty");
    vg_meta_end(&w);
    vg_meta_end(&w);
    uint32_t n = vg_meta_finish(&w);
    cr_assert_not(w.overflow);
    struct vg_jbuf j;
    cr_assert_str_eq(to_json(buf, n, &j),
                     "{\"http\":{\"hostname\":\"www.example.com\",\"status\":200,\"delta\":-5,"
                     "\"websocket\":true,\"raw\":\"01ab\",\"anomalies\":[\"A\",\"B\\\"\\n\"],"
                     "\"empty\":{}}}");
    vg_jbuf_free(&j);
}

Test(meta, leading_comma_and_invalid_utf8)
{
    uint8_t buf[64];
    struct vg_meta_writer w;
    vg_meta_init(&w, buf, sizeof(buf));
    vg_meta_str(&w, "a", "\xff\x00z", 3);
    uint32_t n = vg_meta_finish(&w);
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_jbuf_append(&j, "{\"x\":1", 6);
    cr_assert_eq(vg_meta_to_json(&j, buf, n, true), 1);
    vg_jbuf_append(&j, "}", 1);
    cr_assert_str_eq(j.buf, "{\"x\":1,\"a\":\"\xef\xbf\xbd\\u0000z\"}");
    vg_jbuf_free(&j);
}

/* When room runs out, what does not fit is left out, a long string is cut,
 * and the fragment stays well formed. */
Test(meta, overflow_keeps_structure)
{
    uint8_t buf[64];
    struct vg_meta_writer w;
    vg_meta_init(&w, buf, sizeof(buf));
    vg_meta_obj(&w, "o");
    vg_meta_arr(&w, "a");
    char big[200];
    memset(big, 'x', sizeof(big));
    vg_meta_str(&w, NULL, big, sizeof(big));
    vg_meta_uint(&w, NULL, 7);
    vg_meta_obj(&w, NULL); /* no room: left out with its members */
    vg_meta_cstr(&w, "k", "v");
    vg_meta_end(&w);
    vg_meta_end(&w);
    vg_meta_cstr(&w, "after", "y");
    uint32_t n = vg_meta_finish(&w);
    cr_assert(w.overflow);
    cr_assert_leq(n, sizeof(buf));
    struct vg_jbuf j;
    const char *s = to_json(buf, n, &j);
    /* the cut string starts the array; the object is closed */
    cr_assert(strncmp(s, "{\"o\":{\"a\":[\"xxxx", 16) == 0, "%s", s);
    cr_assert(s[strlen(s) - 1] == '}' && s[strlen(s) - 2] == '}', "%s", s);
    int depth = 0;
    for (const char *c = s; *c; c++) {
        if (*c == '{' || *c == '[')
            depth++;
        if (*c == '}' || *c == ']')
            depth--;
    }
    cr_assert_eq(depth, 0, "%s", s);
    vg_jbuf_free(&j);
}

/* Garbage as metadata never reads out of bounds and leaves valid nesting. */
Test(meta, malformed_input_stops_cleanly)
{
    const uint8_t junk[][8] = {
        {VG_META_OBJ, 1, 'a', 0, 0, VG_META_STR, 200, 0},
        {VG_META_STR, 0, 0xff, 0xff, 'x', 0, 0, 0},
        {99, 0, 0, 0, 0, 0, 0, 0},
        {VG_META_END, 0, 0, 0, VG_META_END, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        struct vg_jbuf j;
        const char *s = to_json(junk[i], sizeof(junk[i]), &j);
        int depth = 0;
        for (const char *c = s; *c; c++) {
            if (*c == '{' || *c == '[')
                depth++;
            if (*c == '}' || *c == ']')
                depth--;
        }
        cr_assert_eq(depth, 0, "%s", s);
        vg_jbuf_free(&j);
    }
}

/* Events with metadata take several slots, wrap around the ring's end and
 * come out whole; a pop too small for the next event leaves it queued. */
Test(meta, ring_carries_metadata_across_the_wrap)
{
    struct vg_event_ring *r = vg_event_ring_new(64);
    cr_assert_not_null(r);
    uint8_t meta[1000];
    for (size_t i = 0; i < sizeof(meta); i++)
        meta[i] = (uint8_t)(i * 7);
    struct vg_event out[64];
    uint64_t next = 1, seen = 1;
    for (int round = 0; round < 50; round++) {
        for (int k = 0; k < 3; k++) {
            struct vg_event ev;
            memset(&ev, 0, sizeof(ev));
            ev.type = VG_EVENT_APP;
            ev.flow_id = next;
            ev.meta_len = (uint16_t)(next % 3 == 0 ? 0 : 100 + (next * 37) % 900);
            if (!vg_event_ring_push_meta(r, &ev, meta))
                break;
            next++;
        }
        uint32_t n = vg_event_ring_pop(r, out, round % 2 ? 64 : 3);
        for (uint32_t i = 0; i < n; i += vg_event_slots(&out[i])) {
            cr_assert_eq(out[i].flow_id, seen);
            uint16_t want = (uint16_t)(seen % 3 == 0 ? 0 : 100 + (seen * 37) % 900);
            cr_assert_eq(out[i].meta_len, want);
            cr_assert(memcmp(vg_event_meta(&out[i]), meta, want) == 0);
            seen++;
        }
    }
    cr_assert_gt(seen, 40);
    vg_event_ring_free(r);
}
