/* Binary metadata items and their JSON form (see include/vigil/meta.h). */
#include "vigil/meta.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vigil/event.h"

/* An open container reserves the bytes of its closing item. */
#define META_END_BYTES 4u
#define META_MAX_DEPTH 16u

void vg_meta_init(struct vg_meta_writer *w, uint8_t *buf, uint32_t cap)
{
    w->buf = buf;
    w->len = 0;
    w->cap = cap;
    w->depth = 0;
    w->skip = 0;
    w->overflow = false;
}

/* Writes one item header and value; false (and overflow) when it does not fit. */
static bool meta_put(struct vg_meta_writer *w, uint8_t type, const char *name, const void *v,
                     size_t n)
{
    if (w->skip != 0)
        return false;
    size_t nlen = name != NULL ? strlen(name) : 0;
    if (nlen > 255)
        nlen = 255;
    if (n > VG_META_MAX_VALUE) {
        n = VG_META_MAX_VALUE;
        w->overflow = true;
    }
    size_t need = 1 + 1 + nlen + 2 + n;
    if (w->len + need > w->cap) {
        w->overflow = true;
        return false;
    }
    uint8_t *o = w->buf + w->len;
    *o++ = type;
    *o++ = (uint8_t)nlen;
    if (nlen != 0)
        memcpy(o, name, nlen);
    o += nlen;
    *o++ = (uint8_t)(n & 0xff);
    *o++ = (uint8_t)(n >> 8);
    if (n != 0)
        memcpy(o, v, n);
    w->len += (uint32_t)need;
    return true;
}

void vg_meta_str(struct vg_meta_writer *w, const char *name, const void *s, size_t n)
{
    if (w->skip != 0)
        return;
    if (s == NULL)
        n = 0;
    /* A string cut to the room left is better than none. */
    size_t nlen = name != NULL ? strnlen(name, 255) : 0;
    size_t room = w->cap > w->len + 4 + nlen ? w->cap - w->len - 4 - nlen : 0;
    if (n > room) {
        w->overflow = true;
        if (room < 16)
            return;
        n = room;
    }
    meta_put(w, VG_META_STR, name, s, n);
}

void vg_meta_cstr(struct vg_meta_writer *w, const char *name, const char *s)
{
    if (s != NULL)
        vg_meta_str(w, name, s, strlen(s));
}

void vg_meta_hex(struct vg_meta_writer *w, const char *name, const void *s, size_t n)
{
    meta_put(w, VG_META_HEX, name, s, n);
}

static void put_u64(struct vg_meta_writer *w, uint8_t type, const char *name, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    meta_put(w, type, name, b, sizeof(b));
}

void vg_meta_int(struct vg_meta_writer *w, const char *name, int64_t v)
{
    put_u64(w, VG_META_INT, name, (uint64_t)v);
}

void vg_meta_uint(struct vg_meta_writer *w, const char *name, uint64_t v)
{
    put_u64(w, VG_META_UINT, name, v);
}

void vg_meta_bool(struct vg_meta_writer *w, const char *name, bool v)
{
    uint8_t b = v ? 1 : 0;
    meta_put(w, VG_META_BOOL, name, &b, 1);
}

static void meta_open(struct vg_meta_writer *w, uint8_t type, const char *name)
{
    if (w->skip != 0) {
        w->skip++;
        return;
    }
    /* A container that cannot open with room for its end (or too deep) is
     * left out with everything it would hold. */
    size_t nlen = name != NULL ? strnlen(name, 255) : 0;
    if (w->depth >= META_MAX_DEPTH || w->len + 4 + nlen + META_END_BYTES > w->cap) {
        w->overflow = true;
        w->skip = 1;
        return;
    }
    meta_put(w, type, name, NULL, 0);
    w->cap -= META_END_BYTES;
    w->depth++;
}

void vg_meta_obj(struct vg_meta_writer *w, const char *name)
{
    meta_open(w, VG_META_OBJ, name);
}

void vg_meta_arr(struct vg_meta_writer *w, const char *name)
{
    meta_open(w, VG_META_ARR, name);
}

void vg_meta_end(struct vg_meta_writer *w)
{
    if (w->skip != 0) {
        w->skip--;
        return;
    }
    if (w->depth == 0)
        return;
    w->cap += META_END_BYTES;
    w->depth--;
    meta_put(w, VG_META_END, NULL, NULL, 0);
}

uint32_t vg_meta_finish(struct vg_meta_writer *w)
{
    w->skip = 0;
    while (w->depth != 0)
        vg_meta_end(w);
    return w->len;
}

/* ---- JSON ---- */

static uint64_t get_u64(const uint8_t *v)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = (x << 8) | v[i];
    return x;
}

uint32_t vg_meta_to_json(struct vg_jbuf *j, const uint8_t *m, uint32_t n, bool leading_comma)
{
    static const char hexd[] = "0123456789abcdef";
    /* first[d]: no member written yet at depth d; arr[d]: depth d is an array */
    bool first[META_MAX_DEPTH + 1];
    bool arr[META_MAX_DEPTH + 1];
    uint32_t depth = 0, top = 0, pos = 0;
    first[0] = !leading_comma;
    arr[0] = false;
    while (pos + 4 <= n) {
        uint8_t type = m[pos];
        uint8_t nlen = m[pos + 1];
        if (pos + 2 + nlen + 2 > n)
            break;
        const uint8_t *name = m + pos + 2;
        uint32_t vlen = (uint32_t)m[pos + 2 + nlen] | ((uint32_t)m[pos + 3 + nlen] << 8);
        const uint8_t *v = m + pos + 4 + nlen;
        if (pos + 4 + nlen + vlen > n)
            break;
        pos += 4 + nlen + vlen;
        if (type == VG_META_END) {
            if (depth == 0)
                break;
            vg_jbuf_append(j, arr[depth] ? "]" : "}", 1);
            depth--;
            continue;
        }
        if (type < VG_META_STR || type > VG_META_HEX)
            break;
        if ((type == VG_META_OBJ || type == VG_META_ARR) && depth >= META_MAX_DEPTH)
            break;
        if (!first[depth])
            vg_jbuf_append(j, ",", 1);
        first[depth] = false;
        if (depth == 0)
            top++;
        if (!arr[depth]) {
            vg_jbuf_append_json_string(j, name, nlen);
            vg_jbuf_append(j, ":", 1);
        }
        switch (type) {
        case VG_META_STR:
            vg_jbuf_append_json_string(j, v, vlen);
            break;
        case VG_META_HEX:
            vg_jbuf_append(j, "\"", 1);
            for (uint32_t i = 0; i < vlen; i++) {
                char h[2] = {hexd[v[i] >> 4], hexd[v[i] & 15]};
                vg_jbuf_append(j, h, 2);
            }
            vg_jbuf_append(j, "\"", 1);
            break;
        case VG_META_INT:
            if (vlen == 8)
                vg_jbuf_appendf(j, "%" PRId64, (int64_t)get_u64(v));
            else
                vg_jbuf_append(j, "null", 4);
            break;
        case VG_META_UINT:
            if (vlen == 8)
                vg_jbuf_appendf(j, "%" PRIu64, get_u64(v));
            else
                vg_jbuf_append(j, "null", 4);
            break;
        case VG_META_BOOL:
            if (vlen == 1 && v[0] != 0)
                vg_jbuf_append(j, "true", 4);
            else
                vg_jbuf_append(j, "false", 5);
            break;
        case VG_META_OBJ:
        case VG_META_ARR:
            depth++;
            first[depth] = true;
            arr[depth] = type == VG_META_ARR;
            vg_jbuf_append(j, arr[depth] ? "[" : "{", 1);
            break;
        default:
            break;
        }
    }
    /* Cut or malformed input: close what is open so the record stays JSON. */
    while (depth > 0) {
        vg_jbuf_append(j, arr[depth] ? "]" : "}", 1);
        depth--;
    }
    return top;
}
