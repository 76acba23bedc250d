/* The runtime: configuration, rules, threads (reader, workers, exporter),
 * and the summary at exit. Runs once per process, outside the hot path. */
#include "dataplane_int.h"
#include "summary.h"
#include "vigil/config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
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

int vg_run(const struct vg_run_opts *o)
{
    char err[ERRLEN] = "";
    int exit_code = VG_EXIT_FATAL;
    struct vg_config *cfg = vg_config_new();
    struct rule_list rules = {0};
    struct vg_ruleset *rs = NULL;
    struct vg_worker *workers = NULL;
    struct vg_event_ring **rings = NULL;
    struct vg_exporter *exporter = NULL;
    struct vg_reader reader;
    memset(&reader, 0, sizeof(reader));
    unsigned nworkers = 0;
    unsigned started = 0;
    bool exporter_running = false;

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
    uint64_t cid_seed;
    bool cid_enabled;
    char key[256];
    if (vg_worker_config_load(&wcfg, cfg, err, sizeof(err)) != 0 ||
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
    };
    struct vg_ruleset_stats rstats;
    memset(&rstats, 0, sizeof(rstats));
    rs = vg_ruleset_load(&lo, &rstats);
    if (rs == NULL) {
        fprintf(stderr, "vigil: no usable rule set; stopping\n");
        goto out;
    }
    if (o->test_only) {
        printf("rules: %u loaded, %u skipped, %u files failed; %u fast patterns, %u rules "
               "without one; database %llu bytes, compiled in %.1f ms\n",
               rstats.rules_loaded, rstats.rules_skipped, rstats.files_failed, rstats.patterns,
               rstats.no_pattern_rules, (unsigned long long)rstats.db_bytes, rstats.compile_ms);
        exit_code = (rstats.rules_skipped || rstats.files_failed) ? VG_EXIT_FATAL : VG_EXIT_OK;
        if (exit_code == VG_EXIT_OK)
            printf("configuration and rules OK\n");
        goto out;
    }
    if (o->pcap_path == NULL) {
        fprintf(stderr, "vigil: nothing to read: give a capture with -r FILE (see --help)\n");
        goto out;
    }

    nworkers = o->workers ? o->workers : default_workers();
    reader.path = o->pcap_path;
    reader.preload = o->preload;
    reader.progress = !o->quiet && isatty(STDERR_FILENO);
    reader.csum = o->checksum_mode >= 0 ? (enum vg_checksum_mode)o->checksum_mode : VG_CSUM_COUNT;
    reader.nworkers = nworkers;
    if (vg_reader_open(&reader, err, sizeof(err)) != 0) {
        fprintf(stderr, "vigil: %s\n", err);
        goto out;
    }

    const char *logdir = o->logdir ? o->logdir : ".";
    if (make_dir(logdir, err, sizeof(err)) != 0) {
        fprintf(stderr, "vigil: %s\n", err);
        goto out;
    }
    const char *eve_name = vg_config_get(cfg, eve_setting(cfg, "filename", key, sizeof(key)));
    char eve_path[4096];
    snprintf(eve_path, sizeof(eve_path), "%s/%s", logdir, eve_name ? eve_name : "eve.json");
    /* Each offline run starts a fresh file, so results are the run's alone. */
    int fd = open(eve_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "vigil: cannot write %s: %s\n", eve_path, strerror(errno));
        goto out;
    }
    close(fd);

    /* Per-worker state, all allocated before the first packet. */
    workers = calloc(nworkers, sizeof(*workers));
    rings = calloc(nworkers, sizeof(*rings));
    if (workers == NULL || rings == NULL)
        goto oom;
    for (unsigned i = 0; i < nworkers; i++) {
        if (vg_worker_init(&workers[i], i, nworkers, &wcfg, rs, true) != 0)
            goto oom;
        rings[i] = workers[i].events;
    }
    reader.workers = workers;

    struct vg_eve_opts eve_opts = {
        .community_id_seed = (uint16_t)cid_seed,
        .community_id = cid_enabled,
        .pcap_filename = o->pcap_path,
        .in_iface = NULL,
    };
    exporter = vg_exporter_new(eve_path, rings, nworkers, &eve_opts, err, sizeof(err));
    if (exporter == NULL) {
        fprintf(stderr, "vigil: %s\n", err);
        goto out;
    }
    if (vg_exporter_start(exporter) != 0) {
        fprintf(stderr, "vigil: cannot start the exporter thread\n");
        goto out;
    }
    exporter_running = true;
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

    uint64_t t0 = monotonic_ns();
    int read_status = vg_reader_run(&reader);
    for (unsigned i = 0; i < nworkers; i++)
        pthread_join(workers[i].thread, NULL);
    started = 0;
    uint64_t t1 = monotonic_ns();
    vg_exporter_stop(exporter);
    exporter_running = false;

    exit_code = VG_EXIT_OK;
    if (read_status != 0) {
        fprintf(stderr, "vigil: %s: %s%s\n", o->pcap_path,
                reader.st.truncated ? "capture is truncated: " : "read stopped early: ",
                reader.st.error);
        exit_code = VG_EXIT_PROBLEMS;
    }
    if (rstats.rules_skipped || rstats.files_failed)
        exit_code = VG_EXIT_PROBLEMS;

    struct vg_summary sum = {
        .pcap_path = o->pcap_path,
        .eve_path = eve_path,
        .elapsed_s = (double)(t1 - t0) / 1e9,
        .nworkers = nworkers,
        .workers = workers,
        .reader = &reader,
        .exporter = exporter,
        .rules = &rstats,
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
    vg_ruleset_free(rs);
    rule_list_free(&rules);
    vg_config_free(cfg);
    return exit_code;
}
