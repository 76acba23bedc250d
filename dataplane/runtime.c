/* The runtime: configuration, rules, the capture source (a file, a live
 * interface through libpcap, or DPDK ports), threads (reader, workers,
 * exporter, stats), and the summary at exit. Runs once per process, outside
 * the hot path. */
#include "dataplane_int.h"
#include "live.h"
#include "summary.h"
#include "vigil/config.h"

#ifdef VG_HAVE_DPDK
#include "dpdk.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef VG_DEFAULT_RULE_DIR
#define VG_DEFAULT_RULE_DIR "/usr/share/vigil/rules"
#endif

#define ERRLEN 512

/* Rule files: -S wins; then the config's rule-files (relative to
 * default-rule-path); else every *.rules in the shipped rule directory. */
struct rule_list {
    char **files;
    int n;
    int cap;
};

static int rule_list_add(struct rule_list *l, const char *path)
{
    if (l->n == l->cap) {
        int ncap = l->cap ? l->cap * 2 : 16;
        char **nf = realloc(l->files, (size_t)ncap * sizeof(*nf));
        if (nf == NULL)
            return -1;
        l->files = nf;
        l->cap = ncap;
    }
    l->files[l->n] = strdup(path);
    if (l->files[l->n] == NULL)
        return -1;
    l->n++;
    return 0;
}

static void rule_list_free(struct rule_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->files[i]);
    free(l->files);
}

struct config_rule_files {
    struct rule_list *list;
    const char *dir;
    int failed;
};

static void add_config_rule_file(void *user, const char *key, const char *value)
{
    (void)key;
    struct config_rule_files *c = user;
    char path[4096];
    if (value[0] == '/' || c->dir == NULL)
        snprintf(path, sizeof(path), "%s", value);
    else
        snprintf(path, sizeof(path), "%s/%s", c->dir, value);
    if (rule_list_add(c->list, path) != 0)
        c->failed = 1;
}

static int collect_rule_files(const struct vg_run_opts *o, const struct vg_config *cfg,
                              struct rule_list *l, char *err, size_t errlen)
{
    for (int i = 0; i < o->nrule_files; i++)
        if (rule_list_add(l, o->rule_files[i]) != 0)
            goto oom;
    if (o->nrule_files > 0)
        return 0;
    const char *dir = vg_config_get(cfg, "default-rule-path");
    struct config_rule_files c = {.list = l, .dir = dir ? dir : VG_DEFAULT_RULE_DIR};
    vg_config_foreach(cfg, "rule-files.", add_config_rule_file, &c);
    if (c.failed)
        goto oom;
    if (l->n > 0)
        return 0;
    char pattern[4096];
    snprintf(pattern, sizeof(pattern), "%s/*.rules", c.dir);
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        snprintf(err, errlen, "no rule files in %s (give rules with -S FILE)", c.dir);
        globfree(&g);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot list rule files in %s", c.dir);
        return -1;
    }
    for (size_t i = 0; i < g.gl_pathc; i++)
        if (rule_list_add(l, g.gl_pathv[i]) != 0) {
            globfree(&g);
            goto oom;
        }
    globfree(&g);
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* EVE settings accept both vigil's map form (outputs.eve-log.*) and
 * Suricata's list form (outputs.N.eve-log.*). */
static const char *eve_setting(const struct vg_config *cfg, const char *name, char *keybuf,
                               size_t keylen)
{
    snprintf(keybuf, keylen, "outputs.eve-log.%s", name);
    for (int i = 0; i < 16; i++) {
        char k[256];
        snprintf(k, sizeof(k), "outputs.%d.eve-log.%s", i, name);
        if (vg_config_get(cfg, k) != NULL) {
            snprintf(keybuf, keylen, "%s", k);
            break;
        }
    }
    return keybuf;
}

static int make_dir(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create log directory %s: %s", buf, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create log directory %s: %s", buf, strerror(errno));
        return -1;
    }
    return 0;
}

static unsigned default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 1 ? (unsigned)(n - 1) : 1;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum capture_mode {
    MODE_FILE, /* -r */
    MODE_PCAP, /* -i, or pcap.interface: live through libpcap */
    MODE_DPDK, /* --dpdk */
};

/* Live capture settings, read before anything starts. */
struct live_settings {
    const char *iface;
    const char *bpf;
    uint64_t snaplen;
    uint64_t buffer_size;
    bool stats_enabled;
    uint64_t stats_interval;
};

static int live_settings_load(struct live_settings *ls, const struct vg_run_opts *o,
                              const struct vg_config *cfg, char *err, size_t errlen)
{
    memset(ls, 0, sizeof(*ls));
    ls->iface = o->iface ? o->iface : vg_config_get(cfg, "pcap.interface");
    if (ls->iface != NULL && ls->iface[0] == '\0')
        ls->iface = NULL;
    ls->bpf = o->bpf ? o->bpf : vg_config_get(cfg, "pcap.bpf-filter");
    if (vg_config_get_u64(cfg, "pcap.snaplen", 65535, &ls->snaplen, err, errlen) ||
        vg_config_get_size(cfg, "pcap.buffer-size", 16ull << 20, &ls->buffer_size, err, errlen) ||
        vg_config_get_bool(cfg, "stats.enabled", true, &ls->stats_enabled, err, errlen) ||
        vg_config_get_u64(cfg, "stats.interval", 8, &ls->stats_interval, err, errlen))
        return -1;
    if (ls->snaplen < 64 || ls->snaplen > 262144) {
        snprintf(err, errlen, "pcap.snaplen: must be between 64 and 262144");
        return -1;
    }
    if (ls->buffer_size > INT_MAX) {
        snprintf(err, errlen, "pcap.buffer-size: at most 2gb");
        return -1;
    }
    if (ls->stats_interval > 86400) {
        snprintf(err, errlen, "stats.interval: at most 86400 seconds");
        return -1;
    }
    return 0;
}

#ifdef VG_HAVE_DPDK
static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
#endif

/* vigil -T: what the rule set holds, where each rule is inspected, why
 * rules were skipped, and what each database costs. */
static void print_rule_stats(const struct vg_ruleset *rs, const struct vg_ruleset_stats *st)
{
    printf("rules by inspection: packet %u, stream %u, application-layer %u, event %u; "
           "without a fast pattern %u\n",
           st->packet_rules, st->stream_rules, st->app_rules, st->event_rules,
           st->no_pattern_rules);
    const struct vg_skip_reason *why;
    uint32_t n = vg_ruleset_skip_reasons(rs, &why);
    for (uint32_t i = 0; i < n; i++)
        printf("skipped: %s: %u\n", why[i].reason, why[i].count);
    printf("database packet: %u patterns in %u databases (by protocol and direction), %llu "
           "bytes, %.1f ms\n",
           st->patterns, st->packet_databases, (unsigned long long)st->db_bytes,
           st->packet_compile_ms);
    printf("database stream: %u patterns, %llu bytes, %.1f ms\n", st->stream_rules,
           (unsigned long long)st->stream_db_bytes, st->stream_compile_ms);
    for (int b = 0; b < VG_BUF_COUNT; b++) {
        if (st->app_buf_patterns[b] == 0 && st->app_buf_bytes[b] == 0)
            continue;
        const char *name = vg_buffer_name((enum vg_buffer)b);
        printf("database %s: %u patterns, %llu bytes\n", name != NULL ? name : "?",
               st->app_buf_patterns[b], (unsigned long long)st->app_buf_bytes[b]);
    }
    printf("compile: packet %.1f ms, stream %.1f ms, application-layer %.1f ms, total %.1f ms\n",
           st->packet_compile_ms, st->stream_compile_ms, st->app_compile_ms, st->compile_ms);
}

int vg_run(const struct vg_run_opts *o)
{
    vg_signals_hold_reload();
    char err[ERRLEN] = "";
    int exit_code = VG_EXIT_FATAL;
    struct vg_config *cfg = vg_config_new();
    struct rule_list rules = {0};
    struct vg_ruleset *rs = NULL;
    struct vg_worker *workers = NULL;
    struct vg_event_ring **rings = NULL;
    struct vg_exporter *exporter = NULL;
    struct vg_stats_thread *stats = NULL;
    struct vg_behaviour *behaviour = NULL;
    struct vg_reload_thread reload = {0};
    struct vg_reader reader;
    memset(&reader, 0, sizeof(reader));
#ifdef VG_HAVE_DPDK
    struct vg_dpdk *dpdk = NULL;
#endif
    unsigned nworkers = 0;
    unsigned started = 0;
    bool exporter_running = false;
    bool dpdk_running = false;

    if (cfg == NULL) {
        fprintf(stderr, "vigil: out of memory\n");
        return VG_EXIT_FATAL;
    }
    if (o->config_path != NULL && vg_config_load_file(cfg, o->config_path, err, sizeof(err))) {
        fprintf(stderr, "vigil: config: %s\n", err);
        goto out;
    }
    for (int i = 0; i < o->nsets; i++) {
        if (vg_config_set(cfg, o->sets[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "vigil: %s\n", err);
            goto out;
        }
    }

    /* Configuration values, all checked before anything starts. */
    struct vg_worker_config wcfg;
    struct live_settings live;
    uint64_t cid_seed;
    bool cid_enabled;
    char key[256];
    if (vg_worker_config_load(&wcfg, cfg, err, sizeof(err)) != 0 ||
        live_settings_load(&live, o, cfg, err, sizeof(err)) != 0 ||
        vg_config_get_bool(cfg, eve_setting(cfg, "community-id", key, sizeof(key)), true,
                           &cid_enabled, err, sizeof(err)) ||
        vg_config_get_u64(cfg, eve_setting(cfg, "community-id-seed", key, sizeof(key)), 0,
                          &cid_seed, err, sizeof(err))) {
        fprintf(stderr, "vigil: config: %s\n", err);
        goto out;
    }
    if (cid_seed > 65535) {
        fprintf(stderr, "vigil: config: community-id-seed must be 0..65535\n");
        goto out;
    }

    if (collect_rule_files(o, cfg, &rules, err, sizeof(err)) != 0) {
        fprintf(stderr, "vigil: rules: %s\n", err);
        goto out;
    }
    struct vg_rule_load_opts lo = {
        .files = (const char *const *)rules.files,
        .nfiles = rules.n,
        .cfg = cfg,
        .classification_file = vg_config_get(cfg, "classification-file"),
        .err = stderr,
        .threshold_file = vg_config_get(cfg, "threshold-file"),
    };
    struct vg_ruleset_stats rstats;
    memset(&rstats, 0, sizeof(rstats));
    rs = vg_ruleset_load(&lo, &rstats);
    if (rs == NULL) {
        fprintf(stderr, "vigil: no usable rule set; stopping\n");
        goto out;
    }
    /* Not an error: the estate is not configured yet, so say it once, unless -q. */
    if (rstats.rules_dormant > 0 && (!o->quiet || o->test_only))
        fprintf(stderr,
                "vigil: %u rule%s wait%s for address groups set to none (the BIG-IP estate: "
                "vars.address-groups in the configuration) and %s not loaded\n",
                rstats.rules_dormant, rstats.rules_dormant == 1 ? "" : "s",
                rstats.rules_dormant == 1 ? "s" : "", rstats.rules_dormant == 1 ? "is" : "are");
    /* The behaviour detectors' settings are checked like every other key. */
    behaviour = vg_behaviour_new(cfg, rs, err, sizeof(err));
    if (behaviour == NULL) {
        fprintf(stderr, "vigil: config: %s\n", err);
        goto out;
    }
    if (o->test_only) {
        for (unsigned d = 0; d < VG_DETECTOR_COUNT; d++) {
            const char *why = vg_behaviour_inactive_reason(behaviour, (enum vg_detector)d);
            const struct vg_rule_meta *m = vg_behaviour_rule(behaviour, (enum vg_detector)d);
            if (why == NULL)
                printf("detector %s: on (sid %u)\n", vg_detector_name((enum vg_detector)d), m->sid);
            else
                printf("detector %s: off, %s\n", vg_detector_name((enum vg_detector)d), why);
        }
        printf("rules: %u loaded, %u skipped, %u dormant, %u files failed; %u fast patterns, %u "
               "rules without one; database %llu bytes, compiled in %.1f ms\n",
               rstats.rules_loaded, rstats.rules_skipped, rstats.rules_dormant, rstats.files_failed,
               rstats.patterns, rstats.no_pattern_rules, (unsigned long long)rstats.db_bytes,
               rstats.compile_ms);
        printf("stream rules: %u (database %llu bytes, window %u bytes); application-layer "
               "rules: %u (databases %llu bytes)\n",
               rstats.stream_rules, (unsigned long long)rstats.stream_db_bytes,
               rstats.stream_window, rstats.app_rules, (unsigned long long)rstats.app_db_bytes);
        printf("thresholds: %u rules; tracking table %u entries (%llu bytes); %u threshold file "
               "errors\n",
               rstats.threshold_rules, rstats.threshold_entries,
               (unsigned long long)rstats.threshold_table_bytes, rstats.threshold_file_errors);
        if (rstats.xbits_rules > 0)
            printf("xbits: %u rules; table %u entries (%llu bytes)\n", rstats.xbits_rules,
                   rstats.xbits_entries, (unsigned long long)rstats.xbits_table_bytes);
        print_rule_stats(rs, &rstats);
        exit_code = (rstats.rules_skipped || rstats.files_failed || rstats.threshold_file_errors)
                        ? VG_EXIT_FATAL
                        : VG_EXIT_OK;
        if (exit_code == VG_EXIT_OK)
            printf("configuration and rules OK\n");
        goto out;
    }

    enum capture_mode mode;
    if (o->dpdk)
        mode = MODE_DPDK;
    else if (o->pcap_path != NULL)
        mode = MODE_FILE;
    else if (live.iface != NULL)
        mode = MODE_PCAP;
    else {
        fprintf(stderr, "vigil: nothing to read: give a capture with -r FILE, an interface with "
                        "-i IFACE, or DPDK ports with --dpdk (see --help)\n");
        goto out;
    }
    const bool is_live = mode != MODE_FILE;
    enum vg_checksum_mode csum =
        o->checksum_mode >= 0 ? (enum vg_checksum_mode)o->checksum_mode : VG_CSUM_COUNT;
    char source[320];

    if (mode == MODE_DPDK) {
#ifdef VG_HAVE_DPDK
        struct vg_dpdk_opts dopts = {
            .eal_argc = o->eal_argc,
            .eal_argv = o->eal_argv,
            .cfg = cfg,
            .workers = o->workers,
            .decode = wcfg.decode,
            .event_ring_size = (uint32_t)wcfg.event_ring_size,
        };
        dopts.decode.csum = csum;
        dpdk = vg_dpdk_open(&dopts, &nworkers, err, sizeof(err));
        if (dpdk == NULL) {
            fprintf(stderr, "vigil: %s\n", err);
            goto out;
        }
        snprintf(source, sizeof(source), "DPDK %s", vg_dpdk_label(dpdk));
        /* Workers read mbufs, not the packet ring: keep that ring minimal. */
        wcfg.ring_bytes = 0;
#else
        fprintf(stderr, "vigil: --dpdk: this vigil was built without DPDK (install libdpdk-dev "
                        "and rebuild; meson setup -Ddpdk=enabled)\n");
        goto out;
#endif
    } else {
        nworkers = o->workers ? o->workers : default_workers();
        reader.path = o->pcap_path;
        reader.preload = o->preload && mode == MODE_FILE;
        reader.progress = mode == MODE_FILE && !o->quiet && isatty(STDERR_FILENO);
        reader.csum = csum;
        reader.decode = wcfg.decode;
        reader.decode.csum = csum;
        reader.nworkers = nworkers;
        if (mode == MODE_PCAP) {
            reader.path = NULL;
            reader.iface = live.iface;
            reader.bpf = live.bpf;
            reader.snaplen = (int)live.snaplen;
            reader.buffer_size = (int)live.buffer_size;
        }
        if (vg_reader_open(&reader, err, sizeof(err)) != 0) {
            fprintf(stderr, "vigil: %s\n", err);
            goto out;
        }
        if (mode == MODE_PCAP)
            snprintf(source, sizeof(source), "interface %s", live.iface);
        else
            snprintf(source, sizeof(source), "%s", o->pcap_path);
    }

    const char *logdir = o->logdir ? o->logdir : ".";
    if (make_dir(logdir, err, sizeof(err)) != 0) {
        fprintf(stderr, "vigil: %s\n", err);
        goto out;
    }
    const char *eve_name = vg_config_get(cfg, eve_setting(cfg, "filename", key, sizeof(key)));
    char eve_path[4096];
    snprintf(eve_path, sizeof(eve_path), "%s/%s", logdir, eve_name ? eve_name : "eve.json");
    /* Each offline run starts a fresh file, so results are the run's alone;
     * a live sensor appends, as Suricata does. */
    int fd = open(eve_path, O_WRONLY | O_CREAT | (is_live ? O_APPEND : O_TRUNC), 0644);
    if (fd < 0) {
        fprintf(stderr, "vigil: cannot write %s: %s\n", eve_path, strerror(errno));
        goto out;
    }
    close(fd);

    /* Per-worker state, all allocated before the first packet. */
    workers = calloc(nworkers, sizeof(*workers));
    /* One event ring per worker, and one more for the decoder anomalies of the
     * reader (or of each DPDK polling lcore). */
    unsigned nsources = 1;
#ifdef VG_HAVE_DPDK
    if (mode == MODE_DPDK)
        nsources = vg_dpdk_event_rings(dpdk, NULL, 0);
#endif
    rings = calloc(nworkers + nsources, sizeof(*rings));
    if (workers == NULL || rings == NULL)
        goto oom;
    for (unsigned i = 0; i < nworkers; i++) {
        if (vg_worker_init(&workers[i], i, nworkers, &wcfg, rs, !is_live) != 0)
            goto oom;
        rings[i] = workers[i].events;
        workers[i].behaviour = behaviour;
    }
    reader.workers = workers;
    unsigned nrings = nworkers;
    if (mode != MODE_DPDK) {
        reader.events = vg_event_ring_new((uint32_t)wcfg.event_ring_size);
        if (reader.events == NULL)
            goto oom;
        rings[nrings++] = reader.events;
    }
#ifdef VG_HAVE_DPDK
    if (mode == MODE_DPDK)
        nrings += vg_dpdk_event_rings(dpdk, rings + nrings, nsources);
#endif

    const char *in_iface = NULL;
    if (mode == MODE_PCAP)
        in_iface = live.iface;
#ifdef VG_HAVE_DPDK
    if (mode == MODE_DPDK && strchr(vg_dpdk_label(dpdk), ',') == NULL)
        in_iface = vg_dpdk_label(dpdk);
#endif
    struct vg_eve_opts eve_opts = {
        .community_id_seed = (uint16_t)cid_seed,
        .community_id = cid_enabled,
        .pcap_filename = mode == MODE_FILE ? o->pcap_path : NULL,
        .in_iface = in_iface,
    };
    exporter = vg_exporter_new(eve_path, rings, nrings, &eve_opts, err, sizeof(err));
    if (exporter == NULL) {
        fprintf(stderr, "vigil: %s\n", err);
        goto out;
    }
    if (vg_exporter_start(exporter) != 0) {
        fprintf(stderr, "vigil: cannot start the exporter thread\n");
        goto out;
    }
    exporter_running = true;

    if (is_live && live.stats_enabled) {
        struct vg_live_source src = {
            .read = vg_reader_read_counters, .ports = NULL, .ctx = &reader};
#ifdef VG_HAVE_DPDK
        if (mode == MODE_DPDK)
            src = (struct vg_live_source){
                .read = vg_dpdk_read_counters, .ports = vg_dpdk_port_stats, .ctx = dpdk};
#endif
        stats = vg_stats_thread_new(eve_path, (unsigned)live.stats_interval, workers, nworkers,
                                    &src, err, sizeof(err));
        if (stats == NULL) {
            fprintf(stderr, "vigil: %s\n", err);
            goto out;
        }
    }
    vg_signals_install(is_live);

    if (mode == MODE_DPDK) {
#ifdef VG_HAVE_DPDK
        if (vg_dpdk_start(dpdk, workers, err, sizeof(err)) != 0) {
            fprintf(stderr, "vigil: %s\n", err);
            goto out;
        }
        dpdk_running = true;
#endif
    } else {
        for (; started < nworkers; started++) {
            if (pthread_create(&workers[started].thread, NULL, vg_worker_main, &workers[started])) {
                fprintf(stderr, "vigil: cannot start worker thread %u\n", started);
                break;
            }
            char name[16];
            snprintf(name, sizeof(name), "vg-worker-%u", started);
            pthread_setname_np(workers[started].thread, name);
        }
        if (started < nworkers) {
            /* Stop the workers that did start, then give up. */
            for (unsigned i = 0; i < started; i++) {
                void *slot;
                while ((slot = vg_pktring_reserve(workers[i].ring, 8, VG_REC_END)) == NULL)
                    ;
                memset(slot, 0, 8);
                vg_pktring_commit(workers[i].ring);
                pthread_join(workers[i].thread, NULL);
            }
            started = 0;
            goto out;
        }
    }
    if (stats != NULL && vg_stats_thread_start(stats) != 0)
        fprintf(stderr, "vigil: warning: cannot start the stats thread; stats only at exit\n");
    if (is_live && vg_reload_thread_start(&reload, rs, workers, nworkers) != 0)
        fprintf(stderr, "vigil: warning: cannot start the reload thread; SIGHUP does nothing\n");
    if (is_live && !o->quiet)
        fprintf(stderr,
                "vigil: capturing from %s with %u worker%s; SIGINT or SIGTERM stops, SIGHUP "
                "reloads the IOC lists\n",
                source, nworkers, nworkers == 1 ? "" : "s");

    uint64_t t0 = monotonic_ns();
    int read_status = 0;
    if (mode == MODE_DPDK) {
#ifdef VG_HAVE_DPDK
        while (!vg_stop_requested())
            sleep_ms(100);
        vg_reload_thread_stop(&reload);
        vg_dpdk_stop(dpdk);
#endif
    } else {
        read_status = vg_reader_run(&reader);
        vg_reload_thread_stop(&reload);
        for (unsigned i = 0; i < nworkers; i++)
            pthread_join(workers[i].thread, NULL);
        started = 0;
    }
    uint64_t t1 = monotonic_ns();
    /* Every worker has stopped: its counters are final. */
    for (unsigned i = 0; i < nworkers; i++)
        vg_worker_publish(&workers[i]);
    vg_stats_thread_stop(stats);
    vg_exporter_stop(exporter);
    exporter_running = false;
    if (stats != NULL)
        vg_stats_thread_final(stats);

    exit_code = VG_EXIT_OK;
    if (read_status != 0) {
        fprintf(stderr, "vigil: %s: %s%s\n", source,
                reader.st.truncated ? "capture is truncated: " : "read stopped early: ",
                reader.st.error);
        exit_code = VG_EXIT_PROBLEMS;
    }
    if (mode == MODE_FILE && reader.st.interrupted) {
        fprintf(stderr, "vigil: %s: interrupted after %llu packets\n", source,
                (unsigned long long)reader.st.packets);
        exit_code = VG_EXIT_PROBLEMS;
    }
    if (rstats.rules_skipped || rstats.files_failed)
        exit_code = VG_EXIT_PROBLEMS;

    struct vg_capture_counters cap;
    struct vg_decode_stats dec;
    struct vg_port_summary ports[VG_LIVE_MAX_PORTS];
    unsigned nports = 0;
    memset(&cap, 0, sizeof(cap));
    memset(&dec, 0, sizeof(dec));
    if (mode == MODE_PCAP)
        vg_reader_read_counters(&reader, &cap, &dec);
#ifdef VG_HAVE_DPDK
    if (mode == MODE_DPDK) {
        vg_dpdk_read_counters(dpdk, &cap, &dec);
        nports = vg_dpdk_port_stats(dpdk, ports, VG_LIVE_MAX_PORTS);
    }
#endif
    struct vg_summary sum = {
        .pcap_path = source,
        .eve_path = eve_path,
        .elapsed_s = (double)(t1 - t0) / 1e9,
        .nworkers = nworkers,
        .workers = workers,
        .reader = mode == MODE_DPDK ? NULL : &reader,
        .exporter = exporter,
        .rules = &rstats,
        .ruleset = rs,
        .behaviour = behaviour,
        .capture = is_live ? &cap : NULL,
        .dec = mode == MODE_DPDK ? &dec : NULL,
        .ports = ports,
        .nports = nports,
    };
    if (!o->quiet)
        vg_summary_print(&sum, stdout);
    if (o->summary_json != NULL && vg_summary_write_json(&sum, o->summary_json) != 0) {
        fprintf(stderr, "vigil: cannot write summary %s: %s\n", o->summary_json, strerror(errno));
        exit_code = VG_EXIT_PROBLEMS;
    }
    goto out;

oom:
    fprintf(stderr, "vigil: out of memory while allocating per-worker state (lower flow.memcap "
                    "or capture.ring-size)\n");
out:
    vg_reload_thread_stop(&reload);
#ifdef VG_HAVE_DPDK
    if (dpdk_running)
        vg_dpdk_stop(dpdk);
#endif
    (void)dpdk_running;
    vg_stats_thread_free(stats);
    if (exporter_running)
        vg_exporter_stop(exporter);
    if (exporter != NULL)
        vg_exporter_free(exporter);
    if (workers != NULL) {
        for (unsigned i = 0; i < nworkers; i++)
            vg_worker_destroy(&workers[i]);
    }
    free(workers);
    free(rings);
    vg_reader_close(&reader);
    vg_event_ring_free(reader.events);
#ifdef VG_HAVE_DPDK
    vg_dpdk_close(dpdk);
#endif
    vg_behaviour_free(behaviour);
    vg_ruleset_free(rs);
    rule_list_free(&rules);
    vg_config_free(cfg);
    return exit_code;
}
