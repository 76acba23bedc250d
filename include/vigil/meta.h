/* Event metadata (export/meta.c): a compact binary form of a JSON fragment
 * that workers write without formatting text, and that the exporter turns
 * into EVE JSON.
 *
 * A worker describes an application record (the http object of a
 * transaction, a TLS handshake, a DNS answer) into a caller-supplied buffer
 * with the vg_meta_* writers; the bytes travel behind the event on its ring;
 * the exporter appends them to the record's top-level object with
 * vg_meta_to_json. Names are stored inline, so each parser owns its field
 * names and no central table exists.
 *
 * Item layout: [u8 type][u8 name length][name][u16 value length][value].
 * A value that does not fit is left out and the writer's overflow flag set;
 * closing an object or array always fits (room is reserved when it opens),
 * so the fragment stays well formed whatever the input. */
#ifndef VIGIL_META_H
#define VIGIL_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_jbuf;

enum vg_meta_type {
    VG_META_STR = 1,  /* bytes, JSON-escaped on output (invalid UTF-8 becomes U+FFFD) */
    VG_META_INT = 2,  /* int64, little endian */
    VG_META_UINT = 3, /* uint64, little endian */
    VG_META_BOOL = 4, /* one byte */
    VG_META_OBJ = 5,  /* opens an object */
    VG_META_ARR = 6,  /* opens an array; items inside have no name */
    VG_META_END = 7,  /* closes the innermost object or array */
    VG_META_HEX = 8,  /* bytes printed as lower-case hex */
};

/* Longest value kept; longer strings are cut (and the overflow flag set). */
#define VG_META_MAX_VALUE 65535u

struct vg_meta_writer {
    uint8_t *buf;
    uint32_t len;
    uint32_t cap;   /* usable bytes, minus what open containers reserve */
    uint32_t depth; /* containers open */
    uint32_t skip;  /* containers being left out (no room): their items go nowhere */
    bool overflow;  /* something was left out or cut */
};

void vg_meta_init(struct vg_meta_writer *w, uint8_t *buf, uint32_t cap);

/* name may be NULL inside an array. n is cut to VG_META_MAX_VALUE. */
void vg_meta_str(struct vg_meta_writer *w, const char *name, const void *s, size_t n);
void vg_meta_cstr(struct vg_meta_writer *w, const char *name, const char *s);
void vg_meta_hex(struct vg_meta_writer *w, const char *name, const void *s, size_t n);
void vg_meta_int(struct vg_meta_writer *w, const char *name, int64_t v);
void vg_meta_uint(struct vg_meta_writer *w, const char *name, uint64_t v);
void vg_meta_bool(struct vg_meta_writer *w, const char *name, bool v);
void vg_meta_obj(struct vg_meta_writer *w, const char *name);
void vg_meta_arr(struct vg_meta_writer *w, const char *name);
void vg_meta_end(struct vg_meta_writer *w);

/* Closes whatever is still open; returns the bytes written. */
uint32_t vg_meta_finish(struct vg_meta_writer *w);

/* Appends the items of m as members of the JSON object being written
 * (`"name":value` separated by commas, with a leading comma when
 * leading_comma). Malformed input stops the walk and leaves valid JSON.
 * Returns the number of top-level members written. */
uint32_t vg_meta_to_json(struct vg_jbuf *j, const uint8_t *m, uint32_t n, bool leading_comma);

#endif
