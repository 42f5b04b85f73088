/* conf_ref.c - lifetime of a loaded conf: free, reference count, and the process-wide
 * "current" pointer that SIGHUP reload swaps.
 * Owns the count and the pointer; not loading (conf.c).
 * Threads: the count is atomic; cur is guarded by cur_lock, held only to copy the
 * pointer and take a reference, so a reader never sees a conf that is being freed. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "conf_keys.h"

static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sa_conf *cur;

/* conf_free - release everything the conf owns */
struct sa_conf *conf_free(struct sa_conf *c)
{
    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < conf_nkeys; i++) {
        char *field = (char *)c + conf_keys[i].off;

        if (conf_keys[i].type == CONF_T_STRING)
            free(*(char **)(void *)field);
        else if (conf_keys[i].type == CONF_T_SOCKET)
            free(((struct conf_socket *)(void *)field)->spec);
        else if (conf_keys[i].type == CONF_T_CIDRLIST)
            free(((struct conf_cidr_list *)(void *)field)->v);
    }
    conf_seal_free(c);
    free(c->source);
    free(c);
    return NULL;
}

/* conf_ref - one more holder */
struct sa_conf *conf_ref(struct sa_conf *c)
{
    if (c != NULL)
        atomic_fetch_add_explicit(&c->refcnt, 1, memory_order_relaxed);
    return c;
}

/* conf_unref - one holder fewer; the last one frees */
struct sa_conf *conf_unref(struct sa_conf *c)
{
    if (c == NULL)
        return NULL;
    if (atomic_fetch_sub_explicit(&c->refcnt, 1, memory_order_acq_rel) == 1)
        conf_free(c);
    return NULL;
}

/* conf_set_current - swap the published conf; the old one lives on while referenced */
void conf_set_current(struct sa_conf *c)
{
    struct sa_conf *old;

    pthread_mutex_lock(&cur_lock);
    old = cur;
    cur = c;
    pthread_mutex_unlock(&cur_lock);
    conf_unref(old);
}

/* conf_get_current - a reference to the published conf */
struct sa_conf *conf_get_current(void)
{
    struct sa_conf *c;

    pthread_mutex_lock(&cur_lock);
    c = conf_ref(cur);
    pthread_mutex_unlock(&cur_lock);
    return c;
}
