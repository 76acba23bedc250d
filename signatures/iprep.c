/* IP reputation: Suricata's iprep keyword and its configuration, and the
 * header-level address tests of a rule (iprep and datasets on ip.src /
 * ip.dst).
 *
 *     iprep:<src|dst|any|both>,<category>,<op>,<value 0-127>   op: < <= > >= =
 *
 * Configuration keys as Suricata's: reputation-categories-file (lines
 * "id,shortname,description", id below 60), reputation-files (a list; lines
 * "ip-or-cidr,category-id,score", score 0 to 127), default-reputation-path
 * (where relative reputation files are). They are read once, when the first
 * iprep rule is parsed, and shared by every rule and worker. Bad lines are
 * skipped and counted, with one warning per file naming the first.
 *
 * Each category has its own table of disjoint ranges (see struct
 * sig_ip_table): where blocks of one category nest, the most specific one's
 * score holds. An address without a score in the category matches no
 * comparison, as in Suricata. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rule_int.h"

#define IPREP_MAX_CATEGORIES 60
#define IPREP_MAX_SCORE      127

struct sig_iprep {
    bool failed;
    char error[SIG_ERR_MSG_LEN];       /* why no iprep rule can load */
    char *names[IPREP_MAX_CATEGORIES]; /* NULL: the id is not defined */
    struct sig_ip_table table[IPREP_MAX_CATEGORIES];
};

void sig_iprep_free(struct sig_iprep *rep)
{
    if (rep == NULL)
        return;
    for (int i = 0; i < IPREP_MAX_CATEGORIES; i++) {
        free(rep->names[i]);
        sig_ip_table_free(&rep->table[i]);
    }
    free(rep);
}

/* ---- Loading ------------------------------------------------------------------- */

static void warn_bad_lines(FILE *err, const char *path, uint32_t first, uint32_t bad,
                           const char *what)
{
    if (bad > 0 && err != NULL)
        fprintf(err, "%s:%u: warning: iprep: bad %s line; bad lines skipped in this file: %u\n",
                path, first, what, bad);
}

/* Splits a line into exactly n comma-separated, trimmed fields. */
static bool split_fields(char *line, char **f, int n)
{
    int k = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (k == n - 1) {
            if (comma != NULL)
                return false;
            f[k++] = sig_trim(p);
            break;
        }
        if (comma == NULL)
            return false;
        *comma = '\0';
        f[k++] = sig_trim(p);
        p = comma + 1;
    }
    return k == n;
}

/* One line of a reputation file, trimmed, neither empty nor a comment:
 * returns 1 when used, 0 when bad (skipped and counted), -1 when out of
 * memory. */
typedef int (*line_fn)(struct sig_iprep *rep, char *line, void *arg);

/* Reads a categories or reputation file; file and line name it in messages. */
static int read_lines(struct sig_iprep *rep, const char *path, const char *file,
                      const char *line_kind, line_fn fn, void *arg, FILE *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(rep->error, sizeof(rep->error), "iprep: cannot read %s '%s': %s", file, path,
                 strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    uint32_t lineno = 0, bad = 0, first_bad = 0;
    int ret = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *t = sig_trim(line);
        if (*t == '\0' || *t == '#')
            continue;
        const int used = fn(rep, t, arg);
        if (used < 0) {
            ret = -1;
            break;
        }
        if (used == 0 && bad++ == 0)
            first_bad = lineno;
    }
    free(line);
    fclose(f);
    if (ret != 0) {
        snprintf(rep->error, sizeof(rep->error), "out of memory");
        return -1;
    }
    warn_bad_lines(err, path, first_bad, bad, line_kind);
    return 0;
}

/* id,shortname,description (the description may hold commas). */
static int category_line(struct sig_iprep *rep, char *t, void *arg)
{
    (void)arg;
    char *c1 = strchr(t, ',');
    char *c2 = c1 != NULL ? strchr(c1 + 1, ',') : NULL;
    if (c2 == NULL)
        return 0;
    *c1 = *c2 = '\0';
    const char *name = sig_trim(c1 + 1);
    int64_t id;
    if (!sig_parse_int(sig_trim(t), 0, IPREP_MAX_CATEGORIES - 1, &id) || *name == '\0' ||
        rep->names[id] != NULL)
        return 0;
    rep->names[id] = strdup(name);
    return rep->names[id] != NULL ? 1 : -1;
}

/* ip-or-cidr,category,score */
static int reputation_line(struct sig_iprep *rep, char *t, void *arg)
{
    struct sig_ip_builder *builders = arg;
    char *fld[3];
    int64_t cat, score;
    uint8_t family;
    sig_u128 lo, hi;
    uint32_t prefix;
    if (!split_fields(t, fld, 3) || !sig_parse_cidr(fld[0], &family, &lo, &hi, &prefix) ||
        !sig_parse_int(fld[1], 0, IPREP_MAX_CATEGORIES - 1, &cat) || rep->names[cat] == NULL ||
        !sig_parse_int(fld[2], 0, IPREP_MAX_SCORE, &score))
        return 0;
    return sig_ip_builder_add(&builders[cat], family, lo, hi, (uint8_t)score) == 0 ? 1 : -1;
}

static int load_categories(struct sig_iprep *rep, const char *path, FILE *err)
{
    return read_lines(rep, path, "reputation categories file", "category", category_line, NULL,
                      err);
}

static int load_reputation(struct sig_iprep *rep, const char *path, struct sig_ip_builder *builders,
                           FILE *err)
{
    return read_lines(rep, path, "reputation file", "reputation", reputation_line, builders, err);
}

struct file_list {
    struct sig_iprep *rep;
    struct sig_ip_builder *builders;
    const char *dir;
    FILE *err;
    bool failed;
};

static void load_one_file(void *user, const char *key, const char *value)
{
    (void)key;
    struct file_list *fl = user;
    if (fl->failed)
        return;
    char path[4096];
    if (value[0] != '/' && fl->dir != NULL && *fl->dir != '\0')
        snprintf(path, sizeof(path), "%s/%s", fl->dir, value);
    else
        snprintf(path, sizeof(path), "%s", value);
    if (load_reputation(fl->rep, path, fl->builders, fl->err) != 0)
        fl->failed = true;
}

/* The reputation data of the configuration; on failure rep->failed and
 * rep->error say why. NULL only when out of memory. */
static struct sig_iprep *iprep_load(const struct vg_config *cfg, FILE *err)
{
    struct sig_iprep *rep = calloc(1, sizeof(*rep));
    if (rep == NULL)
        return NULL;
    const char *cats = cfg != NULL ? vg_config_get(cfg, "reputation-categories-file") : NULL;
    if (cats == NULL) {
        rep->failed = true;
        snprintf(rep->error, sizeof(rep->error),
                 "iprep: no reputation-categories-file in the configuration");
        return rep;
    }
    if (load_categories(rep, cats, err) != 0) {
        rep->failed = true;
        return rep;
    }
    struct sig_ip_builder builders[IPREP_MAX_CATEGORIES];
    memset(builders, 0, sizeof(builders));
    struct file_list fl = {
        .rep = rep,
        .builders = builders,
        .dir = vg_config_get(cfg, "default-reputation-path"),
        .err = err,
    };
    vg_config_foreach(cfg, "reputation-files.", load_one_file, &fl);
    for (int i = 0; i < IPREP_MAX_CATEGORIES; i++) {
        if (!fl.failed && sig_ip_table_build(&builders[i], &rep->table[i]) != 0) {
            snprintf(rep->error, sizeof(rep->error), "out of memory");
            fl.failed = true;
        }
        sig_ip_builder_free(&builders[i]);
    }
    rep->failed = fl.failed;
    return rep;
}

/* ---- The keyword ---------------------------------------------------------------- */

int sig_add_addr_test(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                      const struct sig_addr_test *t)
{
    struct sig_rule *r = b->r;
    struct sig_addr_test *v =
        sig_arena_alloc(rc->ld->arena, (r->naddr_tests + 1) * sizeof(struct sig_addr_test));
    if (v == NULL)
        return sig_fail(rc, "out of memory");
    if (r->naddr_tests > 0)
        memcpy(v, r->addr_tests, r->naddr_tests * sizeof(*v));
    v[r->naddr_tests] = *t;
    r->addr_tests = v;
    r->naddr_tests++;
    return 0;
}

int sig_kw_iprep(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o)
{
    if (strcasecmp(o->kw, "iprep") != 0)
        return 1;
    if (sig_need_value(rc, o) != 0)
        return -1;
    char buf[256];
    if (strlen(o->val) >= sizeof(buf))
        return sig_fail(rc, "iprep: value too long");
    snprintf(buf, sizeof(buf), "%s", o->val);
    char *f[4];
    if (!split_fields(buf, f, 4))
        return sig_fail(rc, "iprep needs 4 values: <src|dst|any|both>,<category>,<operator>,"
                            "<value>");

    struct sig_addr_test t = {0};
    static const char *const sides[] = {[SIG_SIDE_SRC] = "src",
                                        [SIG_SIDE_DST] = "dst",
                                        [SIG_SIDE_ANY] = "any",
                                        [SIG_SIDE_BOTH] = "both"};
    size_t side = 0;
    while (side < VG_ARRAY_SIZE(sides) && strcasecmp(f[0], sides[side]) != 0)
        side++;
    if (side == VG_ARRAY_SIZE(sides))
        return sig_fail(rc, "iprep: bad side '%s' (src, dst, any, both)", f[0]);
    t.side = (uint8_t)side;

    static const struct {
        const char *text;
        uint8_t op;
    } ops[] = {{"<", SIG_UINT_LT},
               {"<=", SIG_UINT_LE},
               {">", SIG_UINT_GT},
               {">=", SIG_UINT_GE},
               {"=", SIG_UINT_EQ}};
    size_t op = 0;
    while (op < VG_ARRAY_SIZE(ops) && strcmp(f[2], ops[op].text) != 0)
        op++;
    if (op == VG_ARRAY_SIZE(ops))
        return sig_fail(rc, "iprep: bad operator '%s' (<, <=, >, >=, =)", f[2]);
    t.op = ops[op].op;
    int64_t value;
    if (!sig_parse_int(f[3], 0, IPREP_MAX_SCORE, &value))
        return sig_fail(rc, "iprep: bad value '%s' (0 to %d)", f[3], IPREP_MAX_SCORE);
    t.value = (uint8_t)value;

    struct sig_loader *ld = rc->ld;
    if (ld->iprep == NULL) {
        ld->iprep = iprep_load(ld->cfg, ld->err);
        if (ld->iprep == NULL)
            return sig_fail(rc, "out of memory");
    }
    if (ld->iprep->failed)
        return sig_fail(rc, "%s", ld->iprep->error);
    int cat = 0;
    while (cat < IPREP_MAX_CATEGORIES &&
           (ld->iprep->names[cat] == NULL || strcmp(ld->iprep->names[cat], f[1]) != 0))
        cat++;
    if (cat == IPREP_MAX_CATEGORIES)
        return sig_fail(rc, "iprep: unknown category '%s'", f[1]);
    t.rep = &ld->iprep->table[cat];
    return sig_add_addr_test(rc, b, &t);
}

/* ---- Matching -------------------------------------------------------------------- */

static inline bool one_addr(const struct sig_addr_test *t, uint8_t family,
                            const struct vg_ip_addr *a)
{
    if (t->set != NULL)
        return sig_dataset_contains_addr(t->set, family, a) != (t->negated != 0);
    const int score = sig_ip_table_find(t->rep, family, a);
    if (score < 0)
        return false;
    switch (t->op) {
    case SIG_UINT_LT:
        return score < t->value;
    case SIG_UINT_LE:
        return score <= t->value;
    case SIG_UINT_GT:
        return score > t->value;
    case SIG_UINT_GE:
        return score >= t->value;
    default:
        return score == t->value;
    }
}

bool sig_addr_tests_match(const struct sig_rule *r, const struct vg_packet *p)
{
    for (uint32_t i = 0; i < r->naddr_tests; i++) {
        const struct sig_addr_test *t = &r->addr_tests[i];
        bool ok;
        switch (t->side) {
        case SIG_SIDE_SRC:
            ok = one_addr(t, p->family, &p->src);
            break;
        case SIG_SIDE_DST:
            ok = one_addr(t, p->family, &p->dst);
            break;
        case SIG_SIDE_ANY:
            ok = one_addr(t, p->family, &p->src) || one_addr(t, p->family, &p->dst);
            break;
        default:
            ok = one_addr(t, p->family, &p->src) && one_addr(t, p->family, &p->dst);
            break;
        }
        if (!ok)
            return false;
    }
    return true;
}
