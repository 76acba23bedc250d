/* HTTP parser throughput on one core: a mix of pipelined requests and
 * responses (plain, chunked, gzip, header-heavy) parsed over and over in
 * fresh flows, in chunks of a typical segment size. Prints MB/s (bytes of
 * both directions) and transactions/s.
 *
 *   bench_http [seconds] [chunk]      defaults: 3 s, 1448-byte chunks */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "vigil/http.h"

static uint64_t reports;

static void on_tx(void *user, const struct vg_app_tx *tx)
{
    (void)user;
    reports += tx->last;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t append(char *buf, size_t at, size_t cap, const void *p, size_t n)
{
    if (at + n > cap) {
        fprintf(stderr, "bench_http: mix buffer too small\n");
        exit(1);
    }
    memcpy(buf + at, p, n);
    return at + n;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    uint32_t chunk = argc > 2 ? (uint32_t)atoi(argv[2]) : 1448;
    if (seconds <= 0 || chunk == 0) {
        fprintf(stderr, "usage: bench_http [seconds] [chunk]\n");
        return 2;
    }
    size_t cap = 1 << 20;
    char *req = malloc(cap), *rsp = malloc(cap);
    size_t rn = 0, pn = 0;
    char html[4096];
    for (size_t i = 0; i < sizeof(html); i++)
        html[i] = "<div class=\"item\">text</div>\n"[i % 29];
    uint8_t gz[4096];
    z_stream z;
    memset(&z, 0, sizeof(z));
    deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)html;
    z.avail_in = sizeof(html);
    z.next_out = gz;
    z.avail_out = sizeof(gz);
    deflate(&z, Z_FINISH);
    size_t gzn = sizeof(gz) - z.avail_out;
    deflateEnd(&z);

    unsigned tx_per_flow = 0;
    for (int i = 0; i < 4; i++) {
        char line[1024];
        int n = snprintf(
            line, sizeof(line),
            "GET /static/app/%d/main.js?v=%d HTTP/1.1\r\nHost: www.example.com\r\n"
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/115.0\r\n"
            "Accept: */*\r\nAccept-Language: en-US,en;q=0.5\r\n"
            "Accept-Encoding: gzip, deflate, br\r\nReferer: https://www.example.com/\r\n"
            "Cookie: session=abcdef0123456789; BIGipServerpool_web=1677787402.36895.0000\r\n"
            "Connection: keep-alive\r\n\r\n",
            i, i);
        rn = append(req, rn, cap, line, (size_t)n);
        tx_per_flow++;
        switch (i) {
        case 0:
            n = snprintf(line, sizeof(line),
                         "HTTP/1.1 200 OK\r\nServer: BigIP\r\nContent-Type: text/html\r\n"
                         "Content-Length: %zu\r\nCache-Control: max-age=3600\r\n\r\n",
                         sizeof(html));
            pn = append(rsp, pn, cap, line, (size_t)n);
            pn = append(rsp, pn, cap, html, sizeof(html));
            break;
        case 1:
            n = snprintf(line, sizeof(line),
                         "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         gzn);
            pn = append(rsp, pn, cap, line, (size_t)n);
            pn = append(rsp, pn, cap, gz, gzn);
            break;
        case 2: {
            const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            pn = append(rsp, pn, cap, h, strlen(h));
            for (int c = 0; c < 4; c++) {
                n = snprintf(line, sizeof(line), "400\r\n");
                pn = append(rsp, pn, cap, line, (size_t)n);
                pn = append(rsp, pn, cap, html, 1024);
                pn = append(rsp, pn, cap, "\r\n", 2);
            }
            pn = append(rsp, pn, cap, "0\r\n\r\n", 5);
            break;
        }
        default: {
            const char *h = "HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\n\r\n";
            pn = append(rsp, pn, cap, h, strlen(h));
            break;
        }
        }
    }
    const char *post = "POST /api/login HTTP/1.1\r\nHost: www.example.com\r\n"
                       "Content-Type: application/json\r\nContent-Length: 40\r\n\r\n"
                       "{\"user\":\"alice\",\"password\":\"secret123\"}";
    rn = append(req, rn, cap, post, strlen(post));
    const char *post_rsp = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
    pn = append(rsp, pn, cap, post_rsp, strlen(post_rsp));
    tx_per_flow++;

    struct vg_http_config cfg;
    vg_http_config_default(&cfg);
    struct vg_http_shared *sh = vg_http_shared_new(&cfg, 16);
    struct vg_http_state *s = malloc(vg_http_state_size(&cfg));
    const struct vg_app_cb cb = {NULL, on_tx, NULL};
    uint64_t bytes = 0, flows = 0;
    double t0 = now(), t1;
    do {
        for (int rep = 0; rep < 100; rep++) {
            vg_http_state_init(s, &cfg, sh);
            for (size_t i = 0; i < rn; i += chunk)
                vg_http_parse(s, 0, (const uint8_t *)req + i,
                              (uint32_t)(rn - i < chunk ? rn - i : chunk), 0, &cb);
            for (size_t i = 0; i < pn; i += chunk)
                vg_http_parse(s, 1, (const uint8_t *)rsp + i,
                              (uint32_t)(pn - i < chunk ? pn - i : chunk), 0, &cb);
            vg_http_parse(s, 0, NULL, 0, VG_APP_END, &cb);
            vg_http_parse(s, 1, NULL, 0, VG_APP_END, &cb);
            vg_http_state_release(s);
            bytes += rn + pn;
            flows++;
        }
        t1 = now();
    } while (t1 - t0 < seconds);
    double dt = t1 - t0;
    if (reports != flows * tx_per_flow) {
        fprintf(stderr, "bench_http: %llu transactions completed, expected %llu\n",
                (unsigned long long)reports, (unsigned long long)(flows * tx_per_flow));
        return 1;
    }
    printf("bench_http: %zu bytes per flow (%u transactions), %u-byte chunks, state %zu bytes\n",
           rn + pn, tx_per_flow, chunk, vg_http_state_size(&cfg));
    printf("bench_http: %.1f MB/s, %.0f transactions/s, %.0f flows/s over %.2f s\n",
           (double)bytes / dt / 1e6, (double)reports / dt, (double)flows / dt, dt);
    free(s);
    vg_http_shared_free(sh);
    free(req);
    free(rsp);
    return 0;
}
