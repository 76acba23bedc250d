/* Configuration (dataplane/config.c): a YAML file read with libyaml, then
 * --set overrides, flattened to dotted keys as Suricata names them
 * ("vars.address-groups.HOME_NET", "flow-timeouts.tcp.established").
 * Sequence items are numbered ("outputs.0.eve-log.enabled"). */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_config;

/* A configuration holding the built-in defaults. NULL on allocation failure. */
struct vg_config *vg_config_new(void);
void vg_config_free(struct vg_config *c);

/* Merges a YAML file over the current values. Returns 0, or -1 with a
 * message "file:line: problem" in err. */
int vg_config_load_file(struct vg_config *c, const char *path, char *err, size_t errlen);

/* Applies one "key=value" override. Returns 0, or -1 with a message in err. */
int vg_config_set(struct vg_config *c, const char *assignment, char *err, size_t errlen);

/* The value of a key, or NULL. */
const char *vg_config_get(const struct vg_config *c, const char *key);
/* The built-in default of key (what vg_config_new starts with), or NULL. */
const char *vg_config_default(const char *key);

/* Typed getters: return 0 and fill *out (with def when the key is absent),
 * or -1 with a message naming the key when the value does not parse. */
int vg_config_get_u64(const struct vg_config *c, const char *key, uint64_t def, uint64_t *out,
                      char *err, size_t errlen);
int vg_config_get_size(const struct vg_config *c, const char *key, uint64_t def, uint64_t *out,
                       char *err, size_t errlen);
int vg_config_get_bool(const struct vg_config *c, const char *key, bool def, bool *out, char *err,
                       size_t errlen);

/* Calls fn for every key starting with prefix (in insertion order). */
void vg_config_foreach(const struct vg_config *c, const char *prefix,
                       void (*fn)(void *user, const char *key, const char *value), void *user);

#endif
