/* Request-target normalisation for http.uri, as libhtp does it for
 * Suricata (percent-decoding once, %2f included, dot segments removed),
 * plus what path-parameter-aware servers see: Tomcat and the BIG-IP
 * management plane drop ";params" from each segment before matching, so
 * "/tmui/login.jsp/..;/tmui/locallb/workspace/tmshCmd.jsp" reaches
 * "/tmui/locallb/workspace/tmshCmd.jsp" (CVE-2020-5902). Stripping the
 * parameters first (on the raw segment, as Tomcat does) makes "..;" a dot
 * segment, which the removal then applies.
 *
 * Every step writes no more bytes than it reads, so the whole work happens
 * in the output buffer. */
#include <string.h>

#include "vigil/common.h"
#include "vigil/http.h"

/* Length of "scheme://" when uri starts with one, else 0. */
static uint32_t scheme_len(const uint8_t *uri, uint32_t len)
{
    uint32_t i = 0;
    while (i < len && ((uri[i] >= 'a' && uri[i] <= 'z') || (uri[i] >= 'A' && uri[i] <= 'Z') ||
                       (i > 0 && ((uri[i] >= '0' && uri[i] <= '9') || uri[i] == '+' ||
                                  uri[i] == '-' || uri[i] == '.'))))
        i++;
    if (i == 0 || i + 3 > len || uri[i] != ':' || uri[i + 1] != '/' || uri[i + 2] != '/')
        return 0;
    return i + 3;
}

bool vg_http_uri_authority(const uint8_t *uri, uint32_t len, const uint8_t **host,
                           uint32_t *host_len, uint32_t *port)
{
    uint32_t s = scheme_len(uri, len);
    if (s == 0)
        return false;
    uint32_t end = s;
    while (end < len && uri[end] != '/' && uri[end] != '?' && uri[end] != '#')
        end++;
    uint32_t h = s;
    for (uint32_t i = s; i < end; i++)
        if (uri[i] == '@')
            h = i + 1; /* userinfo */
    uint32_t hend = end;
    uint32_t p = 0;
    if (h < end && uri[h] == '[') {
        const uint8_t *rb = memchr(uri + h, ']', end - h);
        hend = rb != NULL ? (uint32_t)(rb - uri) + 1 : end;
    } else {
        const uint8_t *colon = memchr(uri + h, ':', end - h);
        if (colon != NULL)
            hend = (uint32_t)(colon - uri);
    }
    if (hend < end && uri[hend] == ':') {
        for (uint32_t i = hend + 1; i < end && uri[i] >= '0' && uri[i] <= '9' && p <= 65535; i++)
            p = p * 10 + (uri[i] - '0');
        if (p > 65535)
            p = 0;
    }
    *host = uri + h;
    *host_len = hend - h;
    *port = p;
    return true;
}

/* Copies one raw path into out with ";params" stripped from each segment
 * and percent escapes decoded. Returns the length written. */
static uint32_t decode_path(const uint8_t *in, uint32_t len, uint8_t *out, uint32_t cap,
                            uint32_t *flags)
{
    uint32_t o = 0;
    bool in_params = false;
    for (uint32_t i = 0; i < len && o < cap; i++) {
        uint8_t c = in[i];
        if (c == '/') {
            in_params = false;
            out[o++] = c;
            continue;
        }
        if (in_params)
            continue;
        if (c == ';') {
            in_params = true;
            continue;
        }
        if (c == 0)
            *flags |= VG_HTTP_URI_NUL_BYTE;
        if (c == '%') {
            int hi = i + 2 < len ? vg_hex_value(in[i + 1]) : -1;
            int lo = i + 2 < len ? vg_hex_value(in[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *flags |= VG_HTTP_URI_INVALID_ENCODING;
                out[o++] = c;
                continue;
            }
            c = (uint8_t)(hi << 4 | lo);
            if (c == 0)
                *flags |= VG_HTTP_URI_NUL_BYTE;
            if (c == '%' && i + 4 < len && vg_hex_value(in[i + 3]) >= 0 &&
                vg_hex_value(in[i + 4]) >= 0)
                *flags |= VG_HTTP_URI_DOUBLE_ENCODED;
            i += 2;
        }
        out[o++] = c;
    }
    return o;
}

/* RFC 3986 5.2.4 on an absolute path (starting with '/'), in place, segment
 * by segment: "." is dropped, ".." drops the segment before it, and a path
 * that ends in either ends with '/'. Returns the new length. */
static uint32_t remove_dot_segments(uint8_t *p, uint32_t len)
{
    uint32_t o = 0; /* output length; always <= i */
    uint32_t i = 0;
    while (i < len) {
        /* p[i] == '/': one segment up to the next '/' or the end */
        uint32_t s = i + 1;
        uint32_t e = s;
        while (e < len && p[e] != '/')
            e++;
        uint32_t n = e - s;
        bool at_end = e >= len;
        if (n == 1 && p[s] == '.') {
            if (at_end)
                p[o++] = '/';
        } else if (n == 2 && p[s] == '.' && p[s + 1] == '.') {
            while (o > 0 && p[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* the '/' before the dropped segment */
            if (at_end)
                p[o++] = '/';
        } else {
            memmove(p + o, p + i, n + 1);
            o += n + 1;
        }
        i = e;
    }
    return o;
}

uint32_t vg_http_uri_normalize(const uint8_t *uri, uint32_t len, uint8_t *out, uint32_t cap,
                               uint32_t *flags)
{
    *flags = 0;
    uint32_t start = 0;
    uint32_t s = scheme_len(uri, len);
    if (s != 0) {
        start = s;
        while (start < len && uri[start] != '/' && uri[start] != '?' && uri[start] != '#')
            start++;
    } else if (len == 0 || uri[0] != '/') {
        /* authority-form, asterisk-form or not a path: as received */
        uint32_t n = len < cap ? len : cap;
        memcpy(out, uri, n);
        for (uint32_t i = 0; i < n; i++)
            if (uri[i] == 0)
                *flags |= VG_HTTP_URI_NUL_BYTE;
        return n;
    }
    uint32_t qpos = start;
    while (qpos < len && uri[qpos] != '?')
        qpos++;
    uint32_t o = 0;
    if (start >= len || uri[start] != '/') {
        /* "http://host" or "http://host?q": the path is "/" */
        if (cap == 0)
            return 0;
        out[o++] = '/';
    }
    o += decode_path(uri + start, qpos - start, out + o, cap - o, flags);
    if (o > 0 && out[0] == '/')
        o = remove_dot_segments(out, o);
    uint32_t q = len - qpos;
    if (q > cap - o)
        q = cap - o;
    memcpy(out + o, uri + qpos, q);
    for (uint32_t i = 0; i < q; i++)
        if (uri[qpos + i] == 0)
            *flags |= VG_HTTP_URI_NUL_BYTE;
    return o + q;
}
