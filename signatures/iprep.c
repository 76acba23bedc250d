/* Placeholder: the keywords of this file are not parsed yet. */
#include "rule_int.h"

int sig_kw_iprep(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o)
{
    (void)rc;
    (void)b;
    (void)o;
    return 1;
}
