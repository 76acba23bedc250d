/* flowbits and noalert: the keywords, the registry that turns bit names
 * into indices while rules load, and the usage check run once every file
 * is read.
 *
 *     flowbits:set,name;  unset,name;  toggle,name;
 *     flowbits:isset,a|b|c;  isnotset,a|b;   (true when any of them holds)
 *     flowbits:noalert;  noalert;
 *
 * A rule may carry several flowbits options: its conditions are tested
 * before the contents (sig_rule_state_ok), its actions run in their order
 * when the whole rule matched (sig_rule_fire, postmatch.c). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rule_int.h"

/* Bit numbers are uint16_t in struct vg_flow_vars. */
#define FLOWBIT_MAX_NAMES 65536u

static const char *const cmd_names[] = {
    [SIG_FLOWBIT_SET] = "set",           [SIG_FLOWBIT_UNSET] = "unset",
    [SIG_FLOWBIT_TOGGLE] = "toggle",     [SIG_FLOWBIT_ISSET] = "isset",
    [SIG_FLOWBIT_ISNOTSET] = "isnotset",
};

bool sig_bit_cmd_is_condition(uint8_t cmd)
{
    return cmd == SIG_FLOWBIT_ISSET || cmd == SIG_FLOWBIT_ISNOTSET;
}

int sig_bit_cmd_parse(const char *text)
{
    for (size_t cmd = 0; cmd < VG_ARRAY_SIZE(cmd_names); cmd++) {
        if (strcasecmp(text, cmd_names[cmd]) == 0)
            return (int)cmd;
    }
    return -1;
}

const char *sig_bit_cmd_name(uint8_t cmd)
{
    return cmd < VG_ARRAY_SIZE(cmd_names) ? cmd_names[cmd] : "?";
}

/* ---- Name registry -------------------------------------------------------- */

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The slot holding name, or the empty slot where it would go. */
static uint32_t *name_slot(const struct sig_loader *ld, const char *name)
{
    const uint32_t mask = ld->flowbit_slots_cap - 1;
    uint32_t h = name_hash(name) & mask;
    for (;;) {
        uint32_t v = ld->flowbit_slots[h];
        if (v == 0 || strcmp(ld->flowbit_names[v - 1], name) == 0)
            return &ld->flowbit_slots[h];
        h = (h + 1) & mask;
    }
}

/* Room for one more name. Returns 0, or -1 when out of memory. */
static int registry_reserve(struct sig_loader *ld)
{
    if (ld->nflowbits == ld->flowbit_names_cap) {
        uint32_t cap = ld->flowbit_names_cap ? ld->flowbit_names_cap * 2 : 64;
        const char **v = realloc(ld->flowbit_names, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        ld->flowbit_names = v;
        ld->flowbit_names_cap = cap;
    }
    if ((uint64_t)(ld->nflowbits + 1) * 2 > ld->flowbit_slots_cap) {
        uint32_t cap = ld->flowbit_slots_cap ? ld->flowbit_slots_cap * 2 : 128;
        uint32_t *slots = calloc(cap, sizeof(*slots));
        if (slots == NULL)
            return -1;
        free(ld->flowbit_slots);
        ld->flowbit_slots = slots;
        ld->flowbit_slots_cap = cap;
        for (uint32_t i = 0; i < ld->nflowbits; i++)
            *name_slot(ld, ld->flowbit_names[i]) = i + 1;
    }
    return 0;
}

/* The bit number of name, registered on first use. */
static int intern_name(struct sig_rule_ctx *rc, const char *name, uint16_t *bit)
{
    struct sig_loader *ld = rc->ld;
    if (ld->flowbit_slots_cap > 0) {
        const uint32_t v = *name_slot(ld, name);
        if (v != 0) {
            *bit = (uint16_t)(v - 1);
            return 0;
        }
    }
    if (ld->nflowbits == FLOWBIT_MAX_NAMES)
        return sig_fail(rc, "too many flowbit names in the rule set (at most %u)",
                        FLOWBIT_MAX_NAMES);
    const char *copy = sig_arena_strdup(ld->arena, name);
    if (copy == NULL || registry_reserve(ld) != 0) {
        ld->out_of_memory = true;
        return sig_fail(rc, "out of memory");
    }
    ld->flowbit_names[ld->nflowbits] = copy;
    *name_slot(ld, copy) = ld->nflowbits + 1;
    *bit = (uint16_t)ld->nflowbits++;
    return 0;
}

void sig_flowbits_release(struct sig_loader *ld)
{
    free(ld->flowbit_names);
    free(ld->flowbit_slots);
    ld->flowbit_names = NULL;
    ld->flowbit_slots = NULL;
    ld->nflowbits = ld->flowbit_names_cap = ld->flowbit_slots_cap = 0;
}

/* ---- Parsing ---------------------------------------------------------------- */

bool sig_bit_name_valid(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (!isgraph((unsigned char)*s) || *s == ',' || *s == '|' || *s == ';')
            return false;
    }
    return true;
}

void *sig_bit_ops_add(struct sig_arena *a, const void *ops, uint32_t nconds, uint32_t nacts,
                      const void *op, size_t size, bool cond)
{
    uint8_t *out = sig_arena_alloc(a, (nconds + nacts + 1) * size);
    if (out == NULL)
        return NULL;
    const uint8_t *in = ops;
    const uint32_t at = cond ? nconds : nconds + nacts; /* where op goes */
    if (at > 0)
        memcpy(out, in, at * size);
    memcpy(out + at * size, op, size);
    if (nconds + nacts > at)
        memcpy(out + (at + 1) * size, in + at * size, (nconds + nacts - at) * size);
    return out;
}

/* Appends op to the rule's flowbits: conditions stay ahead of actions, each
 * in the order the rule gives them. */
static int add_op(struct sig_rule_ctx *rc, struct sig_rule *r, const struct sig_flowbit_op *op)
{
    const struct sig_flowbits *old = r->flowbits;
    const uint32_t nconds = old != NULL ? old->nconds : 0;
    const uint32_t nacts = old != NULL ? old->nacts : 0;
    if (nconds + nacts >= UINT16_MAX)
        return sig_fail(rc, "too many flowbits options");
    const bool cond = sig_bit_cmd_is_condition(op->cmd);
    struct sig_flowbits *fb = sig_arena_alloc(rc->ld->arena, sizeof(*fb));
    struct sig_flowbit_op *ops = sig_bit_ops_add(rc->ld->arena, old != NULL ? old->ops : NULL,
                                                 nconds, nacts, op, sizeof(*op), cond);
    if (fb == NULL || ops == NULL) {
        rc->ld->out_of_memory = true;
        return sig_fail(rc, "out of memory");
    }
    fb->nconds = (uint16_t)(nconds + cond);
    fb->nacts = (uint16_t)(nacts + !cond);
    fb->ops = ops;
    r->flowbits = fb;
    return 0;
}

/* "cmd,name[|name...]" or "noalert", whitespace around the parts allowed. */
static int parse_flowbits(struct sig_rule_ctx *rc, struct sig_rule *r, char *val)
{
    char *comma = strchr(val, ',');
    if (comma != NULL)
        *comma = '\0';
    const char *cmd_text = sig_trim(val);
    char *names = comma != NULL ? sig_trim(comma + 1) : NULL;

    if (strcasecmp(cmd_text, "noalert") == 0) {
        if (names != NULL)
            return sig_fail(rc, "flowbits:noalert takes no flowbit name");
        r->noalert = 1;
        return 0;
    }
    const int parsed = sig_bit_cmd_parse(cmd_text);
    if (parsed < 0)
        return sig_fail(rc,
                        "unknown flowbits command '%s' (set, unset, toggle, isset, isnotset, "
                        "noalert)",
                        cmd_text);
    const uint8_t cmd = (uint8_t)parsed;
    if (names == NULL || *names == '\0')
        return sig_fail(rc, "flowbits:%s needs a flowbit name", cmd_names[cmd]);
    if (strchr(names, '|') != NULL && !sig_bit_cmd_is_condition(cmd))
        return sig_fail(rc, "flowbits:%s takes one flowbit name: '|' works with isset and isnotset",
                        cmd_names[cmd]);

    uint16_t bits[SIG_FLOWBIT_MAX_NAMES];
    uint32_t nbits = 0;
    char *save = NULL;
    /* an empty name between two '|' is an error, so count separators too */
    size_t seps = 0;
    for (const char *s = names; *s != '\0'; s++)
        seps += *s == '|';
    for (char *tok = strtok_r(names, "|", &save); tok != NULL; tok = strtok_r(NULL, "|", &save)) {
        const char *name = sig_trim(tok);
        if (*name == '\0')
            break;
        if (!sig_bit_name_valid(name))
            return sig_fail(rc, "bad flowbit name '%s'", name);
        if (nbits == SIG_FLOWBIT_MAX_NAMES)
            return sig_fail(rc, "too many flowbit names in one flowbits option (at most %u)",
                            SIG_FLOWBIT_MAX_NAMES);
        if (intern_name(rc, name, &bits[nbits]) != 0)
            return -1;
        nbits++;
    }
    if (nbits != seps + 1)
        return sig_fail(rc, "empty flowbit name in flowbits:%s", cmd_names[cmd]);

    uint16_t *stored = sig_arena_memdup(rc->ld->arena, bits, nbits * sizeof(bits[0]));
    if (stored == NULL) {
        rc->ld->out_of_memory = true;
        return sig_fail(rc, "out of memory");
    }
    const struct sig_flowbit_op op = {.cmd = cmd, .nbits = (uint8_t)nbits, .bits = stored};
    return add_op(rc, r, &op);
}

int sig_kw_flowbits(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o)
{
    if (strcasecmp(o->kw, "noalert") == 0) {
        if (sig_no_value(rc, o) != 0)
            return -1;
        b->r->noalert = 1;
        return 0;
    }
    if (strcasecmp(o->kw, "flowbits") != 0)
        return 1;
    if (sig_need_value(rc, o) != 0)
        return -1;
    char *val = strdup(o->val);
    if (val == NULL) {
        rc->ld->out_of_memory = true;
        return sig_fail(rc, "out of memory");
    }
    int ret = parse_flowbits(rc, b->r, val);
    free(val);
    return ret;
}

/* ---- After loading -------------------------------------------------------------- */

int sig_flowbits_order_class(const struct sig_rule *r)
{
    const struct sig_flowbits *fb = r->flowbits;
    const struct sig_xbits *xb = r->xbits;
    const bool sets = (fb != NULL && fb->nacts > 0) || (xb != NULL && xb->nacts > 0);
    const bool reads = (fb != NULL && fb->nconds > 0) || (xb != NULL && xb->nconds > 0);
    if (!sets)
        return reads ? 1 : 0;
    return reads ? 2 : 3;
}

static void warn(const struct sig_loader *ld, const struct sig_rule *r, const char *name,
                 const char *what)
{
    fprintf(ld->err, "%s:%u: warning: flowbit '%s' is %s (sid %u)\n", r->file, r->line, name, what,
            r->meta.sid);
}

void sig_flowbits_check_usage(const struct sig_loader *ld)
{
    if (ld->err == NULL || ld->nflowbits == 0)
        return;
    /* per bit: index + 1 of the first loaded rule that checks it, and of
     * the first that sets (or toggles) it; 0 when none */
    uint32_t *checker = calloc(ld->nflowbits, sizeof(*checker));
    uint32_t *setter = calloc(ld->nflowbits, sizeof(*setter));
    if (checker == NULL || setter == NULL) {
        free(checker);
        free(setter);
        return;
    }
    for (uint32_t i = 0; i < ld->nrules; i++) {
        const struct sig_flowbits *fb = ld->rules[i].flowbits;
        if (fb == NULL)
            continue;
        for (uint32_t k = 0; k < (uint32_t)fb->nconds + fb->nacts; k++) {
            const struct sig_flowbit_op *op = &fb->ops[k];
            uint32_t *first = sig_bit_cmd_is_condition(op->cmd) ? checker
                              : op->cmd != SIG_FLOWBIT_UNSET    ? setter
                                                                : NULL;
            if (first == NULL)
                continue;
            for (uint32_t n = 0; n < op->nbits; n++) {
                if (first[op->bits[n]] == 0)
                    first[op->bits[n]] = i + 1;
            }
        }
    }
    for (uint32_t b = 0; b < ld->nflowbits; b++) {
        if (checker[b] != 0 && setter[b] == 0)
            warn(ld, &ld->rules[checker[b] - 1], ld->flowbit_names[b], "checked but never set");
        else if (setter[b] != 0 && checker[b] == 0)
            warn(ld, &ld->rules[setter[b] - 1], ld->flowbit_names[b], "set but never checked");
    }
    free(checker);
    free(setter);
}
