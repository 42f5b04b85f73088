/* decide.c - the enforcement decision for one message and one recipient class (see
 * decide.h for the rules and docs/enforcement.md for the reasoning).
 * Owns the decision table, the pct random source and the quarantine subaddress of a
 * recipient (decide_tag_rcpt); not the consent lookup
 * (consent.c), the recipient classes or the MTA actions (src/daemon/enforce.c).
 * Threads: decide_action is a pure function; the rng is one atomic counter. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/decide.h"

static uint64_t splitmix64(uint64_t x);
static enum dmarc_policy less_strict(enum dmarc_policy p);
static void finish(enum decide_mode mode, enum decide_act act, const char *why,
                   struct decide_out *out);

/* splitmix64 - one output of Steele/Lea/Flood's SplitMix64 for state x */
static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* decide_rng_init - see decide.h */
void decide_rng_init(struct decide_rng *r, uint64_t seed)
{
    if (seed == 0) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        seed = splitmix64((uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
                          ((uint64_t)getpid() << 32));
    }
    r->seed = seed;
    atomic_init(&r->n, 0);
}

/* decide_rng_draw - see decide.h. Rejection sampling keeps 0..99 uniform. */
int decide_rng_draw(struct decide_rng *r)
{
    const uint64_t lim = UINT64_MAX - UINT64_MAX % 100;
    uint64_t v;

    do
        v = splitmix64(r->seed + atomic_fetch_add(&r->n, 1) * 0x9e3779b97f4a7c15ULL);
    while (v >= lim);
    return (int)(v % 100);
}

/* less_strict - RFC 7489 6.6.4: reject -> quarantine, quarantine -> none */
static enum dmarc_policy less_strict(enum dmarc_policy p)
{
    return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
}

/* finish - the action for the mode: measure never acts, it only says what it would do */
static void finish(enum decide_mode mode, enum decide_act act, const char *why,
                   struct decide_out *out)
{
    out->would = act;
    out->action = mode == DECIDE_MODE_ENFORCE ? act : DECIDE_ACCEPT;
    out->why = why;
}

/* decide_action - see decide.h */
int decide_action(const struct decide_conf *conf, const struct decide_in *in,
                  struct decide_rng *rng, struct decide_out *out)
{
    const struct dmarc_res *d;
    enum dmarc_policy p;
    int testing;

    if (out == NULL)
        return -1;
    out->action = out->would = DECIDE_ACCEPT;
    out->published = out->applied = DMARC_POLICY_UNSPEC;
    out->sampled_out = 0;
    out->draw = -1;
    out->why = "internal";
    if (conf == NULL || in == NULL || rng == NULL)
        return -1;
    d = in->dmarc;
    if (in->mode == DECIDE_MODE_OFF) {
        out->why = "mode-off";
        return 0;
    }
    if (!in->consent) {
        out->why = "no-consent";
        return 0;
    }
    if (in->override != NULL) {
        out->why = in->override;
        return 0;
    }
    if (d == NULL) {
        out->why = "no-dmarc";
        return 0;
    }
    if (d->result == AUTH_TEMPERROR) {
        finish(in->mode, conf->on_temperror_tempfail ? DECIDE_TEMPFAIL : DECIDE_ACCEPT,
               "dmarc-temperror", out);
        return 0;
    }
    if (d->result != AUTH_FAIL) {
        out->why = d->result == AUTH_PASS ? "dmarc-pass" : "dmarc-not-fail";
        return 0;
    }
    p = d->has_record ? d->policy : DMARC_POLICY_UNSPEC;
    out->published = p;
    if (p != DMARC_POLICY_QUARANTINE && p != DMARC_POLICY_REJECT) {
        out->applied = p;
        out->why = "policy-none";
        return 0;
    }
    testing = d->rec.testing != 0;
    if (d->rec.pct < 100) {
        out->draw = decide_rng_draw(rng);
        out->sampled_out = out->draw >= d->rec.pct;
    }
    if (out->sampled_out || testing)
        p = less_strict(p);
    if (p == DMARC_POLICY_REJECT && conf->reject_as_quarantine)
        p = DMARC_POLICY_QUARANTINE;
    out->applied = p;
    if (p == DMARC_POLICY_REJECT)
        finish(in->mode, DECIDE_REJECT, "policy-reject", out);
    else if (p == DMARC_POLICY_QUARANTINE)
        finish(in->mode, DECIDE_QUARANTINE,
               out->published == DMARC_POLICY_REJECT ? (out->sampled_out ? "pct-sampled-out"
                                                        : testing        ? "testing"
                                                                         : "as-quarantine")
                                                     : "policy-quarantine",
               out);
    else
        out->why = out->sampled_out ? "pct-sampled-out" : "testing";
    return 0;
}

/* decide_tag_rcpt - see decide.h */
int decide_tag_rcpt(const char *rcpt, const char *delims, const char *tag, char *out, size_t outlen)
{
    const char *p = rcpt, *at;
    size_t n, local;
    int w;

    if (out == NULL || outlen == 0)
        return -1;
    out[0] = '\0';
    if (rcpt == NULL || delims == NULL || delims[0] == '\0' || tag == NULL || tag[0] == '\0')
        return -1;
    n = strlen(p);
    if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
        p++;
        n -= 2;
    }
    if (n == 0 || p[0] == '"' || p[0] == '@' || memchr(p, '<', n) || memchr(p, '>', n))
        return -1; /* null path, quoted local part, source route */
    for (at = p + n; at > p && at[-1] != '@'; at--)
        ;
    if (at == p || at == p + n) /* no '@', or nothing after it */
        return -1;
    at--;
    local = strcspn(p, delims);
    if (local > (size_t)(at - p))
        local = (size_t)(at - p);
    if (local == 0)
        return -1;
    w = snprintf(out, outlen, "<%.*s%c%s%.*s>", (int)local, p, delims[0], tag, (int)(p + n - at),
                 at);
    if (w < 0 || (size_t)w >= outlen) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

const char *decide_act_name(enum decide_act a)
{
    switch (a) {
    case DECIDE_QUARANTINE:
        return "quarantine";
    case DECIDE_REJECT:
        return "reject";
    case DECIDE_TEMPFAIL:
        return "tempfail";
    default:
        return "accept";
    }
}

const char *decide_mode_name(enum decide_mode m)
{
    return m == DECIDE_MODE_ENFORCE ? "enforce" : m == DECIDE_MODE_MEASURE ? "measure" : "off";
}
