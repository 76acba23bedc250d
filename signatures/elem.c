/* Elements of a content list other than content: each kind is evaluated by
 * the file that parses it. */
#include "rule_int.h"

int sig_elem_eval(const struct sig_content *e, struct sig_inspection *in, int64_t prev_end,
                  int64_t *cursor)
{
    *cursor = prev_end;
    switch (e->kind) {
    case SIG_ELEM_PCRE:
        return sig_pcre_eval(e, in, prev_end, cursor);
    case SIG_ELEM_DATASET: {
        /* The whole buffer is looked up; the cursor does not move. */
        const struct sig_dataset_test *t = e->ext;
        const bool found = sig_dataset_contains(t->set, in->data, (uint32_t)(in->end - in->base));
        return found != t->negated;
    }
    case SIG_ELEM_BYTE_TEST:
    case SIG_ELEM_BYTE_JUMP:
    case SIG_ELEM_ISDATAAT:
    case SIG_ELEM_BSIZE:
        return sig_bytes_eval(e, in, prev_end, cursor);
    default:
        (void)in;
        return 0;
    }
}
