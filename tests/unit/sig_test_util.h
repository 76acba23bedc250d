/* Helpers shared by the signatures unit tests: rule text written to a
 * temporary file, loaded, with the error output captured. */
#ifndef VIGIL_SIG_TEST_UTIL_H
#define VIGIL_SIG_TEST_UTIL_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/config.h"
#include "vigil/detect.h"

static char sig_tmpdir[256];

static inline void sig_tmp_setup(void)
{
    snprintf(sig_tmpdir, sizeof(sig_tmpdir), "/tmp/vigil-sig-XXXXXX");
    cr_assert_not_null(mkdtemp(sig_tmpdir));
}

static inline int sig_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void sig_tmp_teardown(void)
{
    if (sig_tmpdir[0] != '\0')
        nftw(sig_tmpdir, sig_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to name inside the temporary directory; returns the path
 * (static storage, one per slot). */
static inline const char *sig_write_file(const char *name, const char *text)
{
    static char paths[4][512];
    static int slot;
    char *path = paths[slot++ % 4];
    snprintf(path, sizeof(paths[0]), "%s/%s", sig_tmpdir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

struct sig_load {
    struct vg_ruleset *rs;
    struct vg_ruleset_stats st;
    char *err; /* everything written to opts->err */
    const char *path;
};

static inline void sig_load_files(struct sig_load *l, const char *const *files, int nfiles,
                                  const struct vg_config *cfg, const char *classification)
{
    size_t len = 0;
    FILE *err = open_memstream(&l->err, &len);
    cr_assert_not_null(err);
    struct vg_rule_load_opts opts = {
        .files = files,
        .nfiles = nfiles,
        .cfg = cfg,
        .classification_file = classification,
        .err = err,
    };
    l->rs = vg_ruleset_load(&opts, &l->st);
    fclose(err);
}

/* Loads one rule file holding text. */
static inline void sig_load_text(struct sig_load *l, const char *text, const struct vg_config *cfg)
{
    l->path = sig_write_file("test.rules", text);
    const char *files[] = {l->path};
    sig_load_files(l, files, 1, cfg, NULL);
}

static inline void sig_load_done(struct sig_load *l)
{
    vg_ruleset_free(l->rs);
    free(l->err);
    l->rs = NULL;
    l->err = NULL;
}

/* The exact text a message about path:line should have. */
static inline char *sig_msg(const char *path, unsigned line, const char *msg)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "%s:%u: %s\n", path, line, msg);
    return buf;
}

/* Loads rule text that must load without a message. */
static inline void sig_load_ok(struct sig_load *l, const char *text)
{
    sig_load_text(l, text, NULL);
    cr_assert_not_null(l->rs);
    cr_assert_str_empty(l->err, "unexpected errors: %s", l->err);
}

/* An empty HTTP transaction at a stage, and a buffer set from a string. */
static inline struct vg_app_tx sig_http_tx(enum vg_app_stage stage, enum vg_flow_dir dir)
{
    struct vg_app_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = VG_APP_HTTP;
    tx.stage = (uint8_t)stage;
    tx.dir = (uint8_t)dir;
    return tx;
}

static inline void sig_set_buf(struct vg_app_tx *tx, enum vg_buffer b, const char *s)
{
    tx->buf[b].data = (const uint8_t *)s;
    tx->buf[b].len = (uint32_t)strlen(s);
}

/* ---- A rule set and a detection context, and the alerts they raise ---- */

#define SIG_MAX_ALERTS 64

struct sig_alerts {
    uint32_t sid[SIG_MAX_ALERTS];
    uint32_t n;
};

/* vg_alert_fn collecting sids into a struct sig_alerts. */
static inline void sig_collect(void *user, const struct vg_rule_meta *m)
{
    struct sig_alerts *a = user;
    cr_assert_lt(a->n, SIG_MAX_ALERTS);
    a->sid[a->n++] = m->sid;
}

struct sig_engine {
    struct sig_load l;
    struct vg_detect_ctx *ctx;
};

/* The rules loaded without an error, and a context for them. */
static inline void sig_engine_check(struct sig_engine *e)
{
    cr_assert_not_null(e->l.rs);
    cr_assert_str_empty(e->l.err, "unexpected errors: %s", e->l.err);
    e->ctx = vg_detect_ctx_new(e->l.rs);
    cr_assert_not_null(e->ctx);
}

static inline void sig_engine_start(struct sig_engine *e, const char *rules)
{
    sig_load_text(&e->l, rules, NULL);
    sig_engine_check(e);
}

static inline void sig_engine_stop(struct sig_engine *e)
{
    vg_detect_ctx_free(e->ctx);
    sig_load_done(&e->l);
}

#endif
