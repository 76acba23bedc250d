/* vigil: command-line entry point. Parses options and hands over to the
 * runtime. */
#include "vigil/common.h"
#include "vigil/dataplane.h"
#include "vigil/packet.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST 256

static void usage(FILE *out)
{
    fprintf(out,
            "usage: vigil -r FILE [-S RULES]... [-c vigil.yaml] [-l LOGDIR] [-k none|all]\n"
            "             [--set key=value]... [--workers N] [--preload] [--summary-json FILE] "
            "[-q]\n"
            "       vigil -T [-S RULES]... [-c vigil.yaml] [--set key=value]...\n"
            "       vigil --version | --help\n"
            "\n"
            "  -r FILE             read packets from a pcap or pcapng capture\n"
            "  -S RULES            rule file (repeatable); default: the shipped rule set\n"
            "  -c FILE             configuration (YAML); default: built-in values\n"
            "  -l DIR              log directory for eve.json (default: current directory)\n"
            "  -k none|all         checksums: none = not checked; all = bad ones dropped;\n"
            "                      default: checked and counted, packets kept (mirror ports see\n"
            "                      offloaded checksums)\n"
            "  --set key=value     override a configuration key (repeatable), e.g.\n"
            "                      --set vars.address-groups.HOME_NET=[10.0.0.0/8]\n"
            "  --workers N         worker threads (default: available cores minus one)\n"
            "  --preload           read the whole capture into memory before processing\n"
            "  --summary-json FILE write the exit summary as JSON\n"
            "  -q                  no progress line and no summary\n"
            "  -T                  check configuration and rules, print every error, exit 1 on "
            "any\n"
            "\n"
            "exit status: 0 done; 1 fatal error; 2 done with problems (truncated capture,\n"
            "rules skipped because of errors)\n");
}

enum long_only {
    OPT_SET = 1000,
    OPT_WORKERS,
    OPT_PRELOAD,
    OPT_SUMMARY_JSON,
    OPT_VERSION,
};

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"set", required_argument, NULL, OPT_SET},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"preload", no_argument, NULL, OPT_PRELOAD},
        {"summary-json", required_argument, NULL, OPT_SUMMARY_JSON},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *rule_files[MAX_LIST];
    const char *sets[MAX_LIST];
    struct vg_run_opts o;
    memset(&o, 0, sizeof(o));
    o.checksum_mode = -1;
    o.rule_files = rule_files;
    o.sets = sets;

    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:S:c:l:k:qTVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o.pcap_path = optarg;
            break;
        case 'S':
            if (o.nrule_files == MAX_LIST) {
                fprintf(stderr, "vigil: at most %d -S options\n", MAX_LIST);
                return VG_EXIT_FATAL;
            }
            rule_files[o.nrule_files++] = optarg;
            break;
        case 'c':
            o.config_path = optarg;
            break;
        case 'l':
            o.logdir = optarg;
            break;
        case 'k':
            if (strcmp(optarg, "none") == 0)
                o.checksum_mode = VG_CSUM_NONE;
            else if (strcmp(optarg, "all") == 0)
                o.checksum_mode = VG_CSUM_ALL;
            else {
                fprintf(stderr, "vigil: -k takes 'none' or 'all', not '%s'\n", optarg);
                return VG_EXIT_FATAL;
            }
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'T':
            o.test_only = true;
            break;
        case OPT_SET:
            if (o.nsets == MAX_LIST) {
                fprintf(stderr, "vigil: at most %d --set options\n", MAX_LIST);
                return VG_EXIT_FATAL;
            }
            sets[o.nsets++] = optarg;
            break;
        case OPT_WORKERS: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || n < 1 || n > 1024) {
                fprintf(stderr, "vigil: --workers takes a number from 1 to 1024, not '%s'\n",
                        optarg);
                return VG_EXIT_FATAL;
            }
            o.workers = (unsigned)n;
            break;
        }
        case OPT_PRELOAD:
            o.preload = true;
            break;
        case OPT_SUMMARY_JSON:
            o.summary_json = optarg;
            break;
        case 'V':
        case OPT_VERSION:
            printf("vigil %s\n", VG_VERSION);
            return VG_EXIT_OK;
        case 'h':
            usage(stdout);
            return VG_EXIT_OK;
        case ':':
            fprintf(stderr, "vigil: option %s needs a value (see --help)\n", argv[optind - 1]);
            return VG_EXIT_FATAL;
        default:
            fprintf(stderr, "vigil: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return VG_EXIT_FATAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vigil: unexpected argument '%s' (see --help)\n", argv[optind]);
        return VG_EXIT_FATAL;
    }
    if (!o.test_only && o.pcap_path == NULL) {
        usage(stderr);
        return VG_EXIT_FATAL;
    }
    return vg_run(&o);
}
