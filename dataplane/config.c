/* Configuration store: YAML flattened to dotted keys, plus --set overrides.
 * Only read at start-up and by the control thread, never per packet. */
#include "vigil/config.h"
#include "vigil/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct vg_config_entry {
    char *key;
    char *value;
};

struct vg_config {
    struct vg_config_entry *entries;
    size_t count;
    size_t cap;
};

static struct vg_config_entry *config_find(const struct vg_config *c, const char *key)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].key, key) == 0)
            return &c->entries[i];
    return NULL;
}

static int config_put(struct vg_config *c, const char *key, const char *value)
{
    struct vg_config_entry *e = config_find(c, key);
    char *v = strdup(value);
    if (v == NULL)
        return -1;
    if (e != NULL) {
        free(e->value);
        e->value = v;
        return 0;
    }
    if (c->count == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        struct vg_config_entry *n = realloc(c->entries, ncap * sizeof(*n));
        if (n == NULL) {
            free(v);
            return -1;
        }
        c->entries = n;
        c->cap = ncap;
    }
    char *k = strdup(key);
    if (k == NULL) {
        free(v);
        return -1;
    }
    c->entries[c->count].key = k;
    c->entries[c->count].value = v;
    c->count++;
    return 0;
}

/* Built-in defaults: the values an operator gets without a file. Address
 * groups follow Suricata's shipped suricata.yaml. */
static const char *const config_defaults[][2] = {
    {"vars.address-groups.HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"},
    {"vars.address-groups.EXTERNAL_NET", "!$HOME_NET"},
    {"vars.address-groups.HTTP_SERVERS", "$HOME_NET"},
    {"vars.address-groups.SMTP_SERVERS", "$HOME_NET"},
    {"vars.address-groups.SQL_SERVERS", "$HOME_NET"},
    {"vars.address-groups.DNS_SERVERS", "$HOME_NET"},
    {"vars.address-groups.TELNET_SERVERS", "$HOME_NET"},
    {"vars.address-groups.BIGIP_MGMT_NET", "none"},
    {"vars.address-groups.BIGIP_SELF_IPS", "none"},
    {"vars.address-groups.BIGIP_APPLIANCES", "[$BIGIP_MGMT_NET,$BIGIP_SELF_IPS]"},
    {"vars.address-groups.BIGIP_ADMIN_NET", "none"},
    {"vars.address-groups.BIGIP_EGRESS_ALLOWED", "none"},
    {"vars.port-groups.HTTP_PORTS", "80"},
    {"vars.port-groups.SHELLCODE_PORTS", "!80"},
    {"vars.port-groups.SSH_PORTS", "22"},
    {"vars.port-groups.ORACLE_PORTS", "1521"},
    {"vars.port-groups.DNP3_PORTS", "20000"},
    {"vars.port-groups.MODBUS_PORTS", "502"},
    {"vars.port-groups.FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"},
    {"vars.port-groups.FTP_PORTS", "21"},
    {"vars.port-groups.GENEVE_PORTS", "6081"},
    {"vars.port-groups.VXLAN_PORTS", "4789"},
    {"vars.port-groups.TEREDO_PORTS", "3544"},
    {"vars.port-groups.BIGIP_MGMT_PORTS", "[22,443,8443]"},
    {"flow.memcap", "128mb"},
    {"flow-timeouts.tcp.new", "60"},
    {"flow-timeouts.tcp.established", "600"},
    {"flow-timeouts.tcp.closed", "60"},
    {"flow-timeouts.udp.new", "30"},
    {"flow-timeouts.udp.established", "300"},
    {"flow-timeouts.icmp.new", "30"},
    {"flow-timeouts.icmp.established", "300"},
    {"flow-timeouts.default.new", "30"},
    {"flow-timeouts.default.established", "300"},
    {"outputs.eve-log.enabled", "yes"},
    {"outputs.eve-log.filename", "eve.json"},
    {"outputs.eve-log.community-id", "yes"},
    {"outputs.eve-log.community-id-seed", "0"},
    {"max-pending-packets", "4096"},
    {"event-ring.size", "65536"},
    {"capture.ring-size", "16mb"},
    /* Behaviour detectors (signatures/behaviour.c); each runs when its rule
     * in bigip-behaviour.rules is loaded and its groups are set. */
    {"detectors.long-session.enabled", "yes"},
    {"detectors.long-session.sources", "$BIGIP_APPLIANCES"},
    {"detectors.long-session.destinations", "$EXTERNAL_NET"},
    {"detectors.long-session.min-duration", "3600"},
    {"detectors.long-session.max-bytes", "10kb"},
    {"detectors.new-egress.enabled", "yes"},
    {"detectors.new-egress.sources", "$BIGIP_MGMT_NET"},
    {"detectors.new-egress.allowed", "$BIGIP_EGRESS_ALLOWED"},
    {"detectors.new-egress.max-tracked", "65536"},
    {"detectors.mgmt-access.enabled", "yes"},
    {"detectors.mgmt-access.destinations", "$BIGIP_APPLIANCES"},
    {"detectors.mgmt-access.ports", "$BIGIP_MGMT_PORTS"},
    {"detectors.mgmt-access.allowed-sources", "$BIGIP_ADMIN_NET"},
};

const char *vg_config_default(const char *key)
{
    for (size_t i = 0; i < VG_ARRAY_SIZE(config_defaults); i++) {
        if (strcmp(config_defaults[i][0], key) == 0)
            return config_defaults[i][1];
    }
    return NULL;
}

struct vg_config *vg_config_new(void)
{
    struct vg_config *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < VG_ARRAY_SIZE(config_defaults); i++) {
        if (config_put(c, config_defaults[i][0], config_defaults[i][1]) != 0) {
            vg_config_free(c);
            return NULL;
        }
    }
    return c;
}

void vg_config_free(struct vg_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->count; i++) {
        free(c->entries[i].key);
        free(c->entries[i].value);
    }
    free(c->entries);
    free(c);
}

/* A frame of the YAML path being walked: a mapping waiting for a key or a
 * value, or a sequence counting its items. */
struct yaml_frame {
    int is_seq;
    int expect_value; /* mappings: the next scalar is a value */
    unsigned seq_index;
    size_t path_len; /* length of the path up to this container */
};

#define YAML_MAX_DEPTH 32
#define YAML_PATH_MAX  1024

static void path_push(char *path, size_t *len, const char *part)
{
    size_t plen = strlen(part);
    size_t need = (*len ? 1 : 0) + plen;
    if (*len + need + 1 > YAML_PATH_MAX)
        return;
    if (*len)
        path[(*len)++] = '.';
    memcpy(path + *len, part, plen);
    *len += plen;
    path[*len] = '\0';
}

int vg_config_load_file(struct vg_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        snprintf(err, errlen, "%s: cannot initialise the YAML parser", path);
        return -1;
    }
    yaml_parser_set_input_file(&parser, f);

    struct yaml_frame stack[YAML_MAX_DEPTH];
    int depth = 0;
    char cur[YAML_PATH_MAX] = "";
    size_t cur_len = 0;
    char pending_key[YAML_PATH_MAX] = "";
    int rc = 0;
    int done = 0;

    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err, errlen, "%s:%zu: %s", path, (size_t)parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "YAML syntax error");
            rc = -1;
            break;
        }
        size_t line = ev.start_mark.line + 1;
        struct yaml_frame *top = depth > 0 ? &stack[depth - 1] : NULL;

        /* For a node inside a container, work out the path component it gets. */
        char part[YAML_PATH_MAX] = "";
        int node_in_value_position = 0;
        if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_MAPPING_START_EVENT ||
            ev.type == YAML_SEQUENCE_START_EVENT) {
            if (top != NULL && top->is_seq) {
                snprintf(part, sizeof(part), "%u", top->seq_index++);
                node_in_value_position = 1;
            } else if (top != NULL && top->expect_value) {
                snprintf(part, sizeof(part), "%s", pending_key);
                node_in_value_position = 1;
                top->expect_value = 0;
            }
        }

        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_SCALAR_EVENT: {
            const char *val = (const char *)ev.data.scalar.value;
            if (top == NULL) {
                /* A document that is just a scalar: nothing to configure. */
                break;
            }
            if (!node_in_value_position) {
                /* A mapping key. */
                snprintf(pending_key, sizeof(pending_key), "%s", val);
                top->expect_value = 1;
                break;
            }
            size_t save = cur_len;
            path_push(cur, &cur_len, part);
            if (config_put(c, cur, val) != 0) {
                snprintf(err, errlen, "%s:%zu: out of memory", path, line);
                rc = -1;
                done = 1;
            }
            cur_len = save;
            cur[cur_len] = '\0';
            break;
        }
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (depth == YAML_MAX_DEPTH) {
                snprintf(err, errlen, "%s:%zu: nesting deeper than %d levels", path, line,
                         YAML_MAX_DEPTH);
                rc = -1;
                done = 1;
                break;
            }
            if (top != NULL && !node_in_value_position) {
                snprintf(err, errlen, "%s:%zu: complex mapping keys are not supported", path, line);
                rc = -1;
                done = 1;
                break;
            }
            stack[depth].path_len = cur_len;
            if (top != NULL)
                path_push(cur, &cur_len, part);
            stack[depth].is_seq = ev.type == YAML_SEQUENCE_START_EVENT;
            stack[depth].expect_value = 0;
            stack[depth].seq_index = 0;
            depth++;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (depth > 0) {
                depth--;
                cur_len = stack[depth].path_len;
                cur[cur_len] = '\0';
            }
            break;
        case YAML_ALIAS_EVENT:
            snprintf(err, errlen, "%s:%zu: YAML aliases are not supported", path, line);
            rc = -1;
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

int vg_config_set(struct vg_config *c, const char *assignment, char *err, size_t errlen)
{
    const char *eq = strchr(assignment, '=');
    if (eq == NULL || eq == assignment) {
        snprintf(err, errlen, "--set '%s': expected key=value", assignment);
        return -1;
    }
    size_t klen = (size_t)(eq - assignment);
    char *key = strndup(assignment, klen);
    if (key == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = config_put(c, key, eq + 1);
    free(key);
    if (rc != 0)
        snprintf(err, errlen, "out of memory");
    return rc;
}

const char *vg_config_get(const struct vg_config *c, const char *key)
{
    const struct vg_config_entry *e = config_find(c, key);
    return e ? e->value : NULL;
}

int vg_config_get_u64(const struct vg_config *c, const char *key, uint64_t def, uint64_t *out,
                      char *err, size_t errlen)
{
    const char *v = vg_config_get(c, key);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || v[0] == '-') {
        snprintf(err, errlen, "%s: '%s' is not a non-negative integer", key, v);
        return -1;
    }
    *out = n;
    return 0;
}

int vg_config_get_size(const struct vg_config *c, const char *key, uint64_t def, uint64_t *out,
                       char *err, size_t errlen)
{
    const char *v = vg_config_get(c, key);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (vg_parse_size(v, out) != 0) {
        snprintf(err, errlen, "%s: '%s' is not a size (e.g. 64mb)", key, v);
        return -1;
    }
    return 0;
}

int vg_config_get_bool(const struct vg_config *c, const char *key, bool def, bool *out, char *err,
                       size_t errlen)
{
    const char *v = vg_config_get(c, key);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    static const char *const yes[] = {"yes", "true", "on", "1", "y"};
    static const char *const no[] = {"no", "false", "off", "0", "n"};
    for (size_t i = 0; i < VG_ARRAY_SIZE(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    snprintf(err, errlen, "%s: '%s' is not a boolean (yes/no)", key, v);
    return -1;
}

void vg_config_foreach(const struct vg_config *c, const char *prefix,
                       void (*fn)(void *user, const char *key, const char *value), void *user)
{
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < c->count; i++)
        if (strncmp(c->entries[i].key, prefix, plen) == 0)
            fn(user, c->entries[i].key, c->entries[i].value);
}
