/* Classification table: classtype name -> description (the EVE "category")
 * and default priority. Built in, or read from a classification.config. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rule_int.h"

static const struct {
    const char *name;
    const char *desc;
    uint32_t priority;
} builtin_classes[] = {
    {"not-suspicious", "Not Suspicious Traffic", 3},
    {"unknown", "Unknown Traffic", 3},
    {"bad-unknown", "Potentially Bad Traffic", 2},
    {"attempted-recon", "Attempted Information Leak", 2},
    {"successful-recon-limited", "Information Leak", 2},
    {"successful-recon-largescale", "Large Scale Information Leak", 2},
    {"attempted-dos", "Attempted Denial of Service", 2},
    {"successful-dos", "Denial of Service", 2},
    {"attempted-user", "Attempted User Privilege Gain", 1},
    {"unsuccessful-user", "Unsuccessful User Privilege Gain", 1},
    {"successful-user", "Successful User Privilege Gain", 1},
    {"attempted-admin", "Attempted Administrator Privilege Gain", 1},
    {"successful-admin", "Successful Administrator Privilege Gain", 1},
    {"rpc-portmap-decode", "Decode of an RPC Query", 2},
    {"shellcode-detect", "Executable code was detected", 1},
    {"string-detect", "A suspicious string was detected", 3},
    {"suspicious-filename-detect", "A suspicious filename was detected", 2},
    {"suspicious-login", "An attempted login using a suspicious username was detected", 2},
    {"system-call-detect", "A system call was detected", 2},
    {"tcp-connection", "A TCP connection was detected", 4},
    {"trojan-activity", "A Network Trojan was detected", 1},
    {"unusual-client-port-connection", "A client was using an unusual port", 2},
    {"network-scan", "Detection of a Network Scan", 3},
    {"denial-of-service", "Detection of a Denial of Service Attack", 2},
    {"non-standard-protocol", "Detection of a non-standard protocol or event", 2},
    {"protocol-command-decode", "Generic Protocol Command Decode", 3},
    {"web-application-activity", "access to a potentially vulnerable web application", 2},
    {"web-application-attack", "Web Application Attack", 1},
    {"misc-activity", "Misc activity", 3},
    {"misc-attack", "Misc Attack", 2},
    {"icmp-event", "Generic ICMP event", 3},
    {"inappropriate-content", "Inappropriate Content was Detected", 1},
    {"policy-violation", "Potential Corporate Privacy Violation", 1},
    {"default-login-attempt", "Attempt to login by a default username and password", 2},
    {"targeted-activity", "Targeted Malicious Activity was Detected", 1},
    {"exploit-kit", "Exploit Kit Activity Detected", 1},
    {"external-ip-check", "Device Retrieving External IP Address Detected", 2},
    {"domain-c2", "Domain Observed Used for C2 Detected", 1},
    {"pup-activity", "Possibly Unwanted Program Detected", 2},
    {"credential-theft", "Successful Credential Theft Detected", 1},
    {"social-engineering", "Possible Social Engineering Attempted", 2},
    {"coin-mining", "Crypto Currency Mining Activity Detected", 2},
    {"command-and-control", "Malware Command and Control Activity Detected", 1},
};

const struct sig_classtype *sig_class_find(const struct sig_class_table *t, const char *name)
{
    for (uint32_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].name, name) == 0)
            return &t->v[i];
    }
    return NULL;
}

/* Adds a classtype, or replaces the one with the same name (a later
 * definition wins, as in Suricata). Strings must already live in the arena. */
static int class_put(struct sig_class_table *t, const char *name, const char *desc,
                     uint32_t priority)
{
    for (uint32_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].name, name) == 0) {
            t->v[i].desc = desc;
            t->v[i].priority = priority;
            return 0;
        }
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        struct sig_classtype *v = realloc(t->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n].name = name;
    t->v[t->n].desc = desc;
    t->v[t->n].priority = priority;
    t->n++;
    return 0;
}

int sig_class_load_builtin(struct sig_class_table *t, struct sig_arena *a)
{
    (void)a; /* the built-in strings are static */
    for (size_t i = 0; i < VG_ARRAY_SIZE(builtin_classes); i++) {
        if (class_put(t, builtin_classes[i].name, builtin_classes[i].desc,
                      builtin_classes[i].priority) != 0)
            return -1;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static bool valid_class_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
            return false;
    }
    return true;
}

/* Parses "config classification: name,description,priority". The
 * description may hold commas: the priority follows the last one. */
static int class_parse_line(struct sig_class_table *t, struct sig_arena *a, char *line,
                            const char **why)
{
    static const char prefix[] = "config";
    if (strncmp(line, prefix, sizeof(prefix) - 1) != 0) {
        *why = "expected 'config classification: name,description,priority'";
        return -1;
    }
    char *p = trim(line + sizeof(prefix) - 1);
    static const char kw[] = "classification";
    if (strncmp(p, kw, sizeof(kw) - 1) != 0) {
        *why = "expected 'config classification: name,description,priority'";
        return -1;
    }
    p = trim(p + sizeof(kw) - 1);
    if (*p != ':') {
        *why = "expected ':' after 'config classification'";
        return -1;
    }
    p++;
    char *first = strchr(p, ',');
    char *last = strrchr(p, ',');
    if (first == NULL || first == last) {
        *why = "expected 'name,description,priority'";
        return -1;
    }
    *first = '\0';
    *last = '\0';
    char *name = trim(p);
    char *desc = trim(first + 1);
    char *prio = trim(last + 1);
    if (!valid_class_name(name)) {
        *why = "invalid classtype name";
        return -1;
    }
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(prio, &end, 10);
    if (*prio == '\0' || !isdigit((unsigned char)*prio) || *end != '\0' || errno != 0 || v > 255) {
        *why = "invalid priority";
        return -1;
    }
    const char *n = sig_arena_strdup(a, name);
    const char *d = sig_arena_strdup(a, desc);
    if (n == NULL || d == NULL || class_put(t, n, d, (uint32_t)v) != 0) {
        *why = "out of memory";
        return -1;
    }
    return 0;
}

int sig_class_load_file(struct sig_class_table *t, struct sig_arena *a, const char *path, FILE *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (err != NULL)
            fprintf(err, "%s: cannot open classification file: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    uint32_t lineno = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        const char *why = NULL;
        if (class_parse_line(t, a, s, &why) != 0 && err != NULL)
            fprintf(err, "%s:%u: %s\n", path, lineno, why);
    }
    free(line);
    fclose(f);
    return 0;
}

void sig_class_release(struct sig_class_table *t)
{
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}
