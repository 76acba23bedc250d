#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/config.h"

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/vigil-config-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

Test(config, defaults_present)
{
    struct vg_config *c = vg_config_new();
    cr_assert_not_null(c);
    cr_assert_str_eq(vg_config_get(c, "vars.address-groups.EXTERNAL_NET"), "!$HOME_NET");
    uint64_t v;
    char err[256];
    cr_assert_eq(vg_config_get_size(c, "flow.memcap", 0, &v, err, sizeof(err)), 0);
    cr_assert_eq(v, 128ull << 20);
    cr_assert_null(vg_config_get(c, "no.such.key"));
    vg_config_free(c);
}

Test(config, yaml_is_flattened_like_suricata)
{
    char *path = write_temp("%YAML 1.1\n"
                            "---\n"
                            "vars:\n"
                            "  address-groups:\n"
                            "    HOME_NET: \"[10.1.0.0/16]\"\n"
                            "    BIGIP_MGMT: 10.1.1.245\n"
                            "flow-timeouts:\n"
                            "  tcp:\n"
                            "    established: 3600\n"
                            "outputs:\n"
                            "  - eve-log:\n"
                            "      enabled: yes\n"
                            "      filename: alerts.json\n"
                            "rule-files:\n"
                            "  - a.rules\n"
                            "  - b.rules\n");
    struct vg_config *c = vg_config_new();
    char err[256] = "";
    cr_assert_eq(vg_config_load_file(c, path, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(vg_config_get(c, "vars.address-groups.HOME_NET"), "[10.1.0.0/16]");
    cr_assert_str_eq(vg_config_get(c, "vars.address-groups.BIGIP_MGMT"), "10.1.1.245");
    cr_assert_str_eq(vg_config_get(c, "flow-timeouts.tcp.established"), "3600");
    cr_assert_str_eq(vg_config_get(c, "outputs.0.eve-log.filename"), "alerts.json");
    cr_assert_str_eq(vg_config_get(c, "rule-files.0"), "a.rules");
    cr_assert_str_eq(vg_config_get(c, "rule-files.1"), "b.rules");
    /* untouched defaults survive a file */
    cr_assert_str_eq(vg_config_get(c, "flow-timeouts.udp.new"), "30");
    vg_config_free(c);
    unlink(path);
    free(path);
}

Test(config, set_overrides_file)
{
    struct vg_config *c = vg_config_new();
    char err[256];
    cr_assert_eq(vg_config_set(c, "flow.memcap=1gb", err, sizeof(err)), 0);
    cr_assert_eq(vg_config_set(c, "stream.midstream=true", err, sizeof(err)), 0);
    cr_assert_eq(vg_config_set(c, "empty.value=", err, sizeof(err)), 0);
    uint64_t v;
    bool b;
    cr_assert_eq(vg_config_get_size(c, "flow.memcap", 0, &v, err, sizeof(err)), 0);
    cr_assert_eq(v, 1ull << 30);
    cr_assert_eq(vg_config_get_bool(c, "stream.midstream", false, &b, err, sizeof(err)), 0);
    cr_assert(b);
    cr_assert_str_eq(vg_config_get(c, "empty.value"), "");
    cr_assert_neq(vg_config_set(c, "novalue", err, sizeof(err)), 0);
    cr_assert(strstr(err, "key=value") != NULL);
    cr_assert_neq(vg_config_set(c, "=x", err, sizeof(err)), 0);
    vg_config_free(c);
}

Test(config, bad_values_are_named)
{
    struct vg_config *c = vg_config_new();
    char err[256];
    uint64_t v;
    bool b;
    vg_config_set(c, "flow.memcap=lots", err, sizeof(err));
    cr_assert_neq(vg_config_get_size(c, "flow.memcap", 0, &v, err, sizeof(err)), 0);
    cr_assert(strstr(err, "flow.memcap") != NULL, "%s", err);
    vg_config_set(c, "x.bool=maybe", err, sizeof(err));
    cr_assert_neq(vg_config_get_bool(c, "x.bool", false, &b, err, sizeof(err)), 0);
    vg_config_set(c, "x.num=-3", err, sizeof(err));
    cr_assert_neq(vg_config_get_u64(c, "x.num", 0, &v, err, sizeof(err)), 0);
    vg_config_free(c);
}

Test(config, broken_yaml_reports_file_and_line)
{
    char *path = write_temp("vars:\n  address-groups:\n    HOME_NET: [10.0.0.0/8\n  bad: : :\n");
    struct vg_config *c = vg_config_new();
    char err[256] = "";
    cr_assert_neq(vg_config_load_file(c, path, err, sizeof(err)), 0);
    char want[300];
    snprintf(want, sizeof(want), "%s:", path);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "message should start with file: %s", err);
    vg_config_free(c);
    unlink(path);
    free(path);
}

Test(config, missing_file)
{
    struct vg_config *c = vg_config_new();
    char err[256] = "";
    cr_assert_neq(vg_config_load_file(c, "/nonexistent/vigil.yaml", err, sizeof(err)), 0);
    cr_assert(strstr(err, "cannot open") != NULL, "%s", err);
    vg_config_free(c);
}
