/* Rules and detection (signatures/): Suricata rule syntax, compiled to one
 * Hyperscan database whose matches are candidates; each candidate rule is
 * then verified in full on the packet.
 *
 * Threading: a vg_ruleset is immutable once loaded and is shared by all
 * workers; each worker owns a vg_detect_ctx (Hyperscan scratch and candidate
 * buffers), so detection takes no lock and allocates nothing. */
#ifndef VIGIL_DETECT_H
#define VIGIL_DETECT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/packet.h"

struct vg_config;
struct vg_ruleset;
struct vg_detect_ctx;

/* What an alert record needs of its rule. Lives as long as the rule set. */
struct vg_rule_meta {
    uint32_t sid;
    uint32_t gid;
    uint32_t rev;
    uint32_t priority;     /* EVE "severity": priority keyword, else classtype priority, else 3 */
    const char *msg;       /* "" when the rule has none */
    const char *classtype; /* NULL when none */
    const char *category;  /* classtype description, "" when none */
};

struct vg_rule_load_opts {
    const char *const *files; /* rule files, loaded in order */
    int nfiles;
    const struct vg_config *cfg;     /* for $VARS; may be NULL (then only built-ins) */
    const char *classification_file; /* NULL: the built-in classification table */
    FILE *err;                       /* where "file:line: message" lines go; may be NULL */
};

struct vg_ruleset_stats {
    uint32_t rules_loaded;
    uint32_t rules_skipped; /* a rule with an error or unsupported keyword */
    uint32_t files_failed;  /* a file that could not be opened */
    uint32_t patterns;      /* fast patterns in the Hyperscan database */
    uint32_t no_pattern_rules;
    uint64_t db_bytes;
    double compile_ms;
};

/* Loads and compiles rules. Returns NULL only when nothing usable can be
 * built (a file cannot be read, or Hyperscan refuses the database), with the
 * reason written to opts->err. Rules with errors are reported, counted and
 * skipped; the others load. */
struct vg_ruleset *vg_ruleset_load(const struct vg_rule_load_opts *opts,
                                   struct vg_ruleset_stats *stats);
void vg_ruleset_free(struct vg_ruleset *rs);
const struct vg_ruleset_stats *vg_ruleset_stats(const struct vg_ruleset *rs);

/* Per-worker state. NULL on allocation failure. */
struct vg_detect_ctx *vg_detect_ctx_new(const struct vg_ruleset *rs);
void vg_detect_ctx_free(struct vg_detect_ctx *ctx);

/* Flow facts a rule may test (flow: keyword). */
#define VG_DF_HAS_FLOW    0x01u
#define VG_DF_TOSERVER    0x02u
#define VG_DF_TOCLIENT    0x04u
#define VG_DF_ESTABLISHED 0x08u

typedef void (*vg_alert_fn)(void *user, const struct vg_rule_meta *rule);

/* Runs every rule against one decoded packet. Calls on_alert once for each
 * rule that matches, in rule order (priority, then sid). Returns the number
 * of alerts. */
uint32_t vg_detect_packet(struct vg_detect_ctx *ctx, const struct vg_packet *p, uint32_t flow_flags,
                          vg_alert_fn on_alert, void *user);

#endif
