/* iprev_policy.h - what to do with a client after its iprev check (docs/forwarding.md):
 * which results the policy applies to, the action of each mode, and the per-hour counter
 * ring an operator reads before choosing a stricter mode.
 * Threads: iprev_policy_decide is pure; an iprev_stats ring may be shared by all threads
 * (atomic counters; one mutex taken only when an hour bucket is reused). */
#ifndef SA_IPREV_POLICY_H
#define SA_IPREV_POLICY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "iprev/iprev.h"

struct buf;

enum iprev_mode {
    IPREV_MODE_OFF = 0,  /* the A-R result only */
    IPREV_MODE_MEASURE,  /* count and log what the policy matches; act on nothing */
    IPREV_MODE_TAG,      /* add X-Senderauth-Iprev: fail at end of message */
    IPREV_MODE_TEMPFAIL, /* 450 4.7.25 (greylist-like: a real MTA retries) */
    IPREV_MODE_REJECT,   /* 550 5.7.25 */
};

enum iprev_action { IPREV_ACT_NONE = 0, IPREV_ACT_TAG, IPREV_ACT_TEMPFAIL, IPREV_ACT_REJECT };

struct iprev_policy {
    enum iprev_mode mode;
    int on_fail;            /* 0: only clients without a PTR record; 1: every iprev=fail */
    int temperror_tempfail; /* iprev=temperror under tempfail/reject: 1 = 4xx, 0 = accept */
};

/* One client's check and what has been counted for it (a member of the connection). */
struct iprev_client {
    int checked; /* res is valid */
    int exempt;  /* trusted, authenticated or local: never acted on */
    int counted; /* seen/exempt/result/matched/tagged counted */
    int acted;   /* tempfailed/rejected counted and logged */
    struct iprev_res res;
};

/* iprev_policy_match - 1 when r is a result the policy applies to: iprev=fail without a
 * PTR record, or (on_fail) any iprev=fail. temperror and permerror never match. */
int iprev_policy_match(const struct iprev_res *r, const struct iprev_policy *p);
/* iprev_policy_decide - the action for r: matched results get the mode's action (none
 * under off and measure); temperror gets IPREV_ACT_TEMPFAIL only under tempfail or
 * reject with temperror_tempfail, so a DNS problem never causes a reject. */
enum iprev_action iprev_policy_decide(const struct iprev_res *r, const struct iprev_policy *p);
/* iprev_action_name - "none", "tag", "tempfail", "reject". */
const char *iprev_action_name(enum iprev_action a);

/* Events counted per client (connection), once each where they apply. */
enum iprev_event {
    IPREV_EV_SEEN = 0,   /* a client reached the policy (checked or exempt) */
    IPREV_EV_EXEMPT,     /* trusted network, authenticated, or local submission */
    IPREV_EV_PASS,       /* iprev=pass */
    IPREV_EV_NO_PTR,     /* iprev=fail: no PTR record */
    IPREV_EV_FAIL,       /* iprev=fail: PTR names that do not lead back */
    IPREV_EV_TEMPERROR,  /* iprev=temperror (or permerror) */
    IPREV_EV_MATCHED,    /* the policy applies (iprev.policy_on); under measure: would act */
    IPREV_EV_TAGGED,     /* X-Senderauth-Iprev added */
    IPREV_EV_TEMPFAILED, /* 4xx given (matched under tempfail, or temperror) */
    IPREV_EV_REJECTED,   /* 5xx given */
    IPREV_NEVENTS
};

#define IPREV_STATS_BUCKETS 48   /* hours kept */
#define IPREV_STATS_SECONDS 3600 /* one bucket */

/* The ring: bucket i holds the hour whose start / IPREV_STATS_SECONDS is i modulo
 * IPREV_STATS_BUCKETS. Members are private; a static instance is initialized with
 * IPREV_STATS_INIT, others with iprev_stats_init. */
struct iprev_stats_bucket {
    atomic_llong start; /* first second of the hour counted here; 0 = never used */
    atomic_uint_fast64_t n[IPREV_NEVENTS];
};
struct iprev_stats {
    struct iprev_stats_bucket b[IPREV_STATS_BUCKETS];
    pthread_mutex_t roll; /* serializes the reuse of a bucket for a new hour */
};
#define IPREV_STATS_INIT                                                                           \
    {                                                                                              \
        .roll = PTHREAD_MUTEX_INITIALIZER                                                          \
    }

/* One hour as read back. */
struct iprev_stats_row {
    long long start;
    uint64_t n[IPREV_NEVENTS];
};

/* iprev_stats_init - an empty ring (for instances that are not static). */
void iprev_stats_init(struct iprev_stats *s);
/* iprev_stats_add - one event at time now (seconds since the epoch; the caller's clock).
 * Lock-free except for the first event of an hour in a reused bucket. An event older
 * than the hour its bucket now holds is dropped (a thread that slept 48 hours). */
void iprev_stats_add(struct iprev_stats *s, time_t now, enum iprev_event ev);
/* iprev_stats_read - the hours with counts among the last IPREV_STATS_BUCKETS up to now,
 * newest first, into rows (at most max). Returns the number of rows. */
int iprev_stats_read(struct iprev_stats *s, time_t now, struct iprev_stats_row *rows, int max);
/* iprev_stats_json - the same as JSON into b: {"bucket_seconds":3600,"hours":[{"start":T,
 * "seen":N,...},...]}. 0, or -1 when b is full. */
int iprev_stats_json(struct iprev_stats *s, time_t now, struct buf *b);
/* The event names, index = enum iprev_event: "seen", "exempt", "pass", "no_ptr", "fail",
 * "temperror", "matched", "tagged", "tempfailed", "rejected". */
extern const char *const iprev_event_names[IPREV_NEVENTS];

#endif
