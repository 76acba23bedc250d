/* Bump allocator for rule sets: every parsed rule, pattern and address range
 * lives in one arena, freed with the rule set. */
#include <stdlib.h>
#include <string.h>

#include "rule_int.h"

#define ARENA_CHUNK_SIZE (64u * 1024u)
#define ARENA_ALIGN      16u

struct sig_arena_chunk {
    struct sig_arena_chunk *next;
    size_t used;
    size_t size;
    _Alignas(16) unsigned char data[];
};

void *sig_arena_alloc(struct sig_arena *a, size_t size)
{
    size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
    struct sig_arena_chunk *c = a->head;
    if (c == NULL || c->size - c->used < need) {
        /* A large request gets a chunk of its own, behind the current one, so
         * the current chunk keeps serving small requests. */
        size_t size_data = need > ARENA_CHUNK_SIZE / 4 ? need : ARENA_CHUNK_SIZE;
        struct sig_arena_chunk *n = malloc(sizeof(*n) + size_data);
        if (n == NULL)
            return NULL;
        n->used = 0;
        n->size = size_data;
        a->bytes += sizeof(*n) + size_data;
        if (c != NULL && size_data != ARENA_CHUNK_SIZE) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->head = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += need;
    memset(p, 0, need);
    return p;
}

void *sig_arena_memdup(struct sig_arena *a, const void *src, size_t size)
{
    void *p = sig_arena_alloc(a, size);
    if (p != NULL && size > 0)
        memcpy(p, src, size);
    return p;
}

char *sig_arena_strdup(struct sig_arena *a, const char *s)
{
    return sig_arena_memdup(a, s, strlen(s) + 1);
}

void sig_arena_free(struct sig_arena *a)
{
    struct sig_arena_chunk *c = a->head;
    while (c != NULL) {
        struct sig_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->bytes = 0;
}
