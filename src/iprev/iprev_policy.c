/* iprev_policy.c - the iprev policy decision and the per-hour counter ring.
 * Owns the mapping from an iprev result to an action and the ring's storage; not the
 * check itself (iprev.c), the SMTP replies or the exemptions (src/daemon/iprev_hook.c).
 * Threads: the decision is pure. The ring's counters are relaxed atomics; reusing a
 * bucket for a new hour takes s->roll, which is held only to zero the bucket. Readers
 * take no lock: a row read during a reuse may mix the two hours by a few counts. */
#include <string.h>

#include "iprev/iprev_policy.h"
#include "util/buf.h"

const char *const iprev_event_names[IPREV_NEVENTS] = {
    "seen",      "exempt",  "pass",   "no_ptr",     "fail",
    "temperror", "matched", "tagged", "tempfailed", "rejected"};

/* iprev_policy_match - see iprev_policy.h */
int iprev_policy_match(const struct iprev_res *r, const struct iprev_policy *p)
{
    return r->result == AUTH_FAIL && (r->no_ptr || p->on_fail);
}

/* iprev_policy_decide - see iprev_policy.h */
enum iprev_action iprev_policy_decide(const struct iprev_res *r, const struct iprev_policy *p)
{
    static const enum iprev_action by_mode[] = {IPREV_ACT_NONE, IPREV_ACT_NONE, IPREV_ACT_TAG,
                                                IPREV_ACT_TEMPFAIL, IPREV_ACT_REJECT};

    if ((unsigned)p->mode >= sizeof(by_mode) / sizeof(by_mode[0]))
        return IPREV_ACT_NONE;
    if (iprev_policy_match(r, p))
        return by_mode[p->mode];
    if (r->result == AUTH_TEMPERROR && p->temperror_tempfail &&
        (p->mode == IPREV_MODE_TEMPFAIL || p->mode == IPREV_MODE_REJECT))
        return IPREV_ACT_TEMPFAIL;
    return IPREV_ACT_NONE;
}

const char *iprev_action_name(enum iprev_action a)
{
    static const char *const names[] = {"none", "tag", "tempfail", "reject"};

    return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "none";
}

void iprev_stats_init(struct iprev_stats *s)
{
    memset(s->b, 0, sizeof(s->b));
    pthread_mutex_init(&s->roll, NULL);
}

/* iprev_stats_add - see iprev_policy.h */
void iprev_stats_add(struct iprev_stats *s, time_t now, enum iprev_event ev)
{
    long long start = (long long)now - (long long)now % IPREV_STATS_SECONDS;
    struct iprev_stats_bucket *bk = &s->b[(start / IPREV_STATS_SECONDS) % IPREV_STATS_BUCKETS];

    if ((unsigned)ev >= IPREV_NEVENTS || now < 0)
        return;
    if (atomic_load_explicit(&bk->start, memory_order_acquire) != start) {
        pthread_mutex_lock(&s->roll);
        if (atomic_load_explicit(&bk->start, memory_order_relaxed) < start) {
            for (int i = 0; i < IPREV_NEVENTS; i++)
                atomic_store_explicit(&bk->n[i], 0, memory_order_relaxed);
            atomic_store_explicit(&bk->start, start, memory_order_release);
        }
        pthread_mutex_unlock(&s->roll);
        if (atomic_load_explicit(&bk->start, memory_order_acquire) != start)
            return; /* the bucket already holds a later hour */
    }
    atomic_fetch_add_explicit(&bk->n[ev], 1, memory_order_relaxed);
}

/* iprev_stats_read - see iprev_policy.h */
int iprev_stats_read(struct iprev_stats *s, time_t now, struct iprev_stats_row *rows, int max)
{
    long long cur = (long long)now - (long long)now % IPREV_STATS_SECONDS;
    int nrows = 0;

    for (int k = 0; k < IPREV_STATS_BUCKETS && nrows < max; k++) {
        long long want = cur - (long long)k * IPREV_STATS_SECONDS;
        struct iprev_stats_bucket *bk;

        if (want < 0)
            break;
        bk = &s->b[(want / IPREV_STATS_SECONDS) % IPREV_STATS_BUCKETS];
        if (atomic_load_explicit(&bk->start, memory_order_acquire) != want)
            continue;
        rows[nrows].start = want;
        for (int i = 0; i < IPREV_NEVENTS; i++)
            rows[nrows].n[i] = atomic_load_explicit(&bk->n[i], memory_order_relaxed);
        nrows++;
    }
    return nrows;
}

/* iprev_stats_json - see iprev_policy.h */
int iprev_stats_json(struct iprev_stats *s, time_t now, struct buf *b)
{
    struct iprev_stats_row rows[IPREV_STATS_BUCKETS];
    int n = iprev_stats_read(s, now, rows, IPREV_STATS_BUCKETS), rc;

    rc = buf_printf(b, "{\"bucket_seconds\":%d,\"now\":%lld,\"hours\":[", IPREV_STATS_SECONDS,
                    (long long)now);
    for (int r = 0; r < n && rc == 0; r++) {
        rc = buf_printf(b, "%s\n{\"start\":%lld", r ? "," : "", rows[r].start);
        for (int i = 0; i < IPREV_NEVENTS && rc == 0; i++)
            rc = buf_printf(b, ",\"%s\":%llu", iprev_event_names[i],
                            (unsigned long long)rows[r].n[i]);
        if (rc == 0)
            rc = buf_append_str(b, "}");
    }
    if (rc == 0)
        rc = buf_append_str(b, "]}\n");
    return rc < 0 ? -1 : 0;
}
