/* Growable text buffer and JSON string escaping for the exporter.
 *
 * The buffer stays NUL-terminated whenever it holds memory. When it cannot
 * grow, the append keeps what fits and sets truncated; later appends are
 * ignored until vg_jbuf_reset() (or until the owner cuts len back and clears
 * the flag), so the text is always a clean prefix of what was asked for. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/event.h"

#define JBUF_INITIAL_CAP 1024

void vg_jbuf_init(struct vg_jbuf *j)
{
    j->len = 0;
    j->truncated = false;
    j->buf = malloc(JBUF_INITIAL_CAP);
    j->cap = j->buf != NULL ? JBUF_INITIAL_CAP : 0;
    if (j->buf != NULL)
        j->buf[0] = '\0';
}

void vg_jbuf_free(struct vg_jbuf *j)
{
    free(j->buf);
    j->buf = NULL;
    j->len = 0;
    j->cap = 0;
    j->truncated = false;
}

void vg_jbuf_reset(struct vg_jbuf *j)
{
    j->len = 0;
    j->truncated = false;
    if (j->buf != NULL)
        j->buf[0] = '\0';
}

/* Makes room for extra more bytes plus the NUL. False when memory is short. */
static bool jbuf_reserve(struct vg_jbuf *j, size_t extra)
{
    if (extra < j->cap && j->len < j->cap - extra)
        return true;
    if (extra > SIZE_MAX / 2 - j->len)
        return false;
    size_t need = j->len + extra + 1;
    size_t cap = j->cap != 0 ? j->cap : JBUF_INITIAL_CAP;
    while (cap < need)
        cap *= 2;
    char *nb = realloc(j->buf, cap);
    if (nb == NULL)
        return false;
    j->buf = nb;
    j->cap = cap;
    return true;
}

void vg_jbuf_append(struct vg_jbuf *j, const char *s, size_t n)
{
    if (VG_UNLIKELY(j->truncated) || n == 0)
        return;
    if (VG_UNLIKELY(!jbuf_reserve(j, n))) {
        j->truncated = true;
        if (j->cap == 0)
            return;
        n = j->cap - 1 - j->len;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

void vg_jbuf_appendf(struct vg_jbuf *j, const char *fmt, ...)
{
    if (VG_UNLIKELY(j->truncated))
        return;

    va_list ap;
    va_start(ap, fmt);
    size_t room = j->cap > j->len ? j->cap - j->len : 0;
    int n = vsnprintf(room != 0 ? j->buf + j->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < room) {
        j->len += (size_t)n;
        return;
    }

    if (!jbuf_reserve(j, (size_t)n)) {
        /* vsnprintf already wrote the prefix that fits; keep it */
        j->truncated = true;
        if (j->cap != 0) {
            j->len = j->cap - 1;
            j->buf[j->len] = '\0';
        }
        return;
    }
    va_start(ap, fmt);
    vsnprintf(j->buf + j->len, j->cap - j->len, fmt, ap);
    va_end(ap);
    j->len += (size_t)n;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (Unicode 15, table
 * 3-7: no overlongs, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_valid_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong below U+0800 */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates U+D800..U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0, C1 or F5..FF */
    }
    if (n < len)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    return len;
}

/* Bytes that go out as they are: printable ASCII except '"' and '\\'. */
static inline bool json_plain(uint8_t c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

void vg_jbuf_append_json_string(struct vg_jbuf *j, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* escapes are staged here and appended in blocks */
    char tmp[256];
    size_t t = 0;
    size_t i = 0;

    tmp[t++] = '"';
    while (i < n) {
        uint8_t c = s[i];
        if (json_plain(c)) {
            size_t run = i + 1;
            while (run < n && json_plain(s[run]))
                run++;
            if (t != 0) {
                vg_jbuf_append(j, tmp, t);
                t = 0;
            }
            vg_jbuf_append(j, (const char *)s + i, run - i);
            i = run;
            continue;
        }
        if (t > sizeof(tmp) - 8) {
            vg_jbuf_append(j, tmp, t);
            t = 0;
        }
        if (c < 0x80) {
            tmp[t++] = '\\';
            switch (c) {
            case '"':
                tmp[t++] = '"';
                break;
            case '\\':
                tmp[t++] = '\\';
                break;
            case '\n':
                tmp[t++] = 'n';
                break;
            case '\r':
                tmp[t++] = 'r';
                break;
            case '\t':
                tmp[t++] = 't';
                break;
            case '\b':
                tmp[t++] = 'b';
                break;
            case '\f':
                tmp[t++] = 'f';
                break;
            default: /* other control bytes and DEL */
                tmp[t++] = 'u';
                tmp[t++] = '0';
                tmp[t++] = '0';
                tmp[t++] = hex[c >> 4];
                tmp[t++] = hex[c & 0xf];
                break;
            }
            i++;
            continue;
        }
        size_t len = utf8_valid_len(s + i, n - i);
        if (len != 0) {
            memcpy(tmp + t, s + i, len);
            t += len;
            i += len;
        } else {
            /* U+FFFD REPLACEMENT CHARACTER for this one byte */
            tmp[t++] = (char)0xef;
            tmp[t++] = (char)0xbf;
            tmp[t++] = (char)0xbd;
            i++;
        }
    }
    tmp[t++] = '"';
    vg_jbuf_append(j, tmp, t);
}
