/* Elements of a content list other than content: each kind is evaluated by
 * the file that parses it. */
#include "rule_int.h"

int sig_elem_eval(const struct sig_content *e, struct sig_inspection *in, int64_t prev_end,
                  int64_t *cursor)
{
    *cursor = prev_end;
    switch (e->kind) {
    default:
        (void)in;
        return 0;
    }
}
