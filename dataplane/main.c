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
            "       vigil -i IFACE [--bpf FILTER] [options as above]\n"
            "       vigil --dpdk [EAL args] -- [options as above]\n"
            "       vigil -T [-S RULES]... [-c vigil.yaml] [--set key=value]...\n"
            "       vigil --version | --help\n"
            "\n"
            "  -r FILE             read packets from a pcap or pcapng capture\n"
            "  -i IFACE            capture live from a network interface (libpcap)\n"
            "  --bpf FILTER        with -i: capture only what this BPF filter accepts\n"
            "  --dpdk [EAL args] --\n"
            "                      capture from DPDK ports (the configuration's dpdk.ports, or\n"
            "                      every port EAL finds); must come first, e.g.\n"
            "                      vigil --dpdk -l 0-2 -a 0000:3b:00.0 -- -c vigil.yaml\n"
            "                      vigil --dpdk --no-huge --no-pci -l 0-1 \\\n"
            "                            --vdev=net_pcap0,rx_pcap=in.pcap -- -l /tmp/out\n"
            "  -S RULES            rule file (repeatable); default: the shipped rule set\n"
            "  -c FILE             configuration (YAML); default: built-in values\n"
            "  -l DIR              log directory for eve.json (default: current directory)\n"
            "  -k none|all         checksums: none = not checked; all = bad ones dropped;\n"
            "                      default: checked and counted, packets kept (mirror ports see\n"
            "                      offloaded checksums)\n"
            "  --set key=value     override a configuration key (repeatable), e.g.\n"
            "                      --set vars.address-groups.HOME_NET=[10.0.0.0/8]\n"
            "  --workers N         worker threads (default: available cores minus one;\n"
            "                      DPDK: one per worker lcore)\n"
            "  --preload           read the whole capture into memory before processing\n"
            "  --summary-json FILE write the exit summary as JSON\n"
            "  -q                  no progress line and no summary\n"
            "  -T                  check configuration and rules, print every error, exit 1 on "
            "any\n"
            "\n"
            "Live capture (-i, --dpdk) runs until SIGINT or SIGTERM, then drains every\n"
            "queue, ends the flows and writes the summary.\n"
            "\n"
            "exit status: 0 done; 1 fatal error; 2 done with problems (truncated capture,\n"
            "rules skipped because of errors, a capture file read interrupted)\n");
}

enum long_only {
    OPT_SET = 1000,
    OPT_WORKERS,
    OPT_PRELOAD,
    OPT_SUMMARY_JSON,
    OPT_VERSION,
    OPT_BPF,
    OPT_DPDK,
};

int main(int argc, char **argv)
{
    /* vigil --dpdk [EAL args] -- [vigil args]: what stands between --dpdk
     * and "--" belongs to DPDK's EAL; vigil parses the rest. */
    char *dpdk_argv_buf[MAX_LIST + 2];
    char *vigil_argv_buf[MAX_LIST + 2];
    bool dpdk = false;
    int eal_argc = 0;
    if (argc > 1 && strcmp(argv[1], "--dpdk") == 0) {
#ifndef VG_HAVE_DPDK
        fprintf(stderr, "vigil: --dpdk: this vigil was built without DPDK (install libdpdk-dev "
                        "and rebuild: meson setup -Ddpdk=enabled)\n");
        return VG_EXIT_FATAL;
#endif
        int sep = 2;
        while (sep < argc && strcmp(argv[sep], "--") != 0)
            sep++;
        int nvigil = sep < argc ? argc - sep - 1 : 0;
        if (sep - 1 > MAX_LIST || nvigil + 1 > MAX_LIST) {
            fprintf(stderr, "vigil: too many arguments\n");
            return VG_EXIT_FATAL;
        }
        dpdk = true;
        dpdk_argv_buf[eal_argc++] = argv[0];
        for (int i = 2; i < sep; i++)
            dpdk_argv_buf[eal_argc++] = argv[i];
        dpdk_argv_buf[eal_argc] = NULL;
        vigil_argv_buf[0] = argv[0];
        for (int i = 0; i < nvigil; i++)
            vigil_argv_buf[i + 1] = argv[sep + 1 + i];
        vigil_argv_buf[nvigil + 1] = NULL;
        argc = nvigil + 1;
        argv = vigil_argv_buf;
    }
    static const struct option longopts[] = {
        {"set", required_argument, NULL, OPT_SET},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"preload", no_argument, NULL, OPT_PRELOAD},
        {"summary-json", required_argument, NULL, OPT_SUMMARY_JSON},
        {"version", no_argument, NULL, OPT_VERSION},
        {"bpf", required_argument, NULL, OPT_BPF},
        {"dpdk", no_argument, NULL, OPT_DPDK},
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
    o.dpdk = dpdk;
    o.eal_argc = eal_argc;
    o.eal_argv = dpdk ? dpdk_argv_buf : NULL;

    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:i:S:c:l:k:qTVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o.pcap_path = optarg;
            break;
        case 'i':
            o.iface = optarg;
            break;
        case OPT_BPF:
            o.bpf = optarg;
            break;
        case OPT_DPDK:
            fprintf(stderr, "vigil: --dpdk must come first: vigil --dpdk [EAL args] -- "
                            "[vigil args]\n");
            return VG_EXIT_FATAL;
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
    int sources = (o.pcap_path != NULL) + (o.iface != NULL) + o.dpdk;
    if (sources > 1) {
        fprintf(stderr, "vigil: give one source: -r FILE, -i IFACE or --dpdk\n");
        return VG_EXIT_FATAL;
    }
    if (o.bpf != NULL && (o.pcap_path != NULL || o.dpdk)) {
        fprintf(stderr, "vigil: --bpf filters live capture with -i\n");
        return VG_EXIT_FATAL;
    }
    if (o.preload && (o.iface != NULL || o.dpdk)) {
        fprintf(stderr, "vigil: --preload reads a capture file (-r) into memory\n");
        return VG_EXIT_FATAL;
    }
    /* Without a source on the command line, the configuration may name an
     * interface (pcap.interface). */
    if (!o.test_only && sources == 0 && o.config_path == NULL && o.nsets == 0) {
        usage(stderr);
        return VG_EXIT_FATAL;
    }
    return vg_run(&o);
}
