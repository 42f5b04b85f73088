/* decide.h - what to do with one message for recipients of one class: a pure function
 * of the DMARC result, the class's consent and mode, the local overrides and a
 * seedable random source. No libmilter, no store, no clock, no logging.
 *
 * Rules (docs/enforcement.md):
 * - mode off, no consent, an override, no DMARC evaluation -> accept;
 * - dmarc=temperror -> on_temperror (accept, or tempfail for the consenting class);
 * - anything but dmarc=fail, no record, or an effective policy none -> accept: nothing
 *   is ever done for dmarc=none or a p=none domain;
 * - the effective policy (p, sp or np, chosen by dmarc_eval) is applied, one step less
 *   strict when the message is sampled out by pct (RFC 7489 6.6.4) or the record says
 *   t=y (RFC 9989): reject -> quarantine -> none. Both together still make one step;
 * - reject_as_quarantine turns the remaining reject into quarantine;
 * - mode measure: the action is accept and `would` says what enforce would have done.
 * Threads: decide_action is reentrant; a struct decide_rng may be shared (atomic). */
#ifndef SA_POLICY_DECIDE_H
#define SA_POLICY_DECIDE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dmarc/dmarc.h"

enum decide_mode {
    DECIDE_MODE_OFF = 0, /* no consent lookups, no enforcement */
    DECIDE_MODE_MEASURE, /* decide and log would_*, never act */
    DECIDE_MODE_ENFORCE,
};

enum decide_act {
    DECIDE_ACCEPT = 0,
    DECIDE_QUARANTINE,
    DECIDE_REJECT,
    DECIDE_TEMPFAIL,
};

/* Seedable random source for pct sampling: counter-based (splitmix64 of seed + n), so a
 * fixed seed gives the same sequence of draws in the order they are made. */
struct decide_rng {
    uint64_t seed;
    atomic_uint_fast64_t n;
};

struct decide_conf {
    int reject_as_quarantine;  /* apply p=reject as quarantine */
    int on_temperror_tempfail; /* dmarc=temperror for the consenting class -> tempfail */
};

struct decide_in {
    const struct dmarc_res *dmarc; /* NULL: DMARC did not run */
    enum decide_mode mode;         /* the class's mode */
    int consent;                   /* 1: the class consented to enforcement */
    const char *override;          /* non-NULL: why enforcement is skipped */
};

struct decide_out {
    enum decide_act action;      /* what to do now */
    enum decide_act would;       /* what enforce would do (equals action in enforce) */
    enum dmarc_policy published; /* the effective policy as published (p, sp or np) */
    enum dmarc_policy applied;   /* after pct, t=y and reject_as_quarantine */
    int sampled_out;             /* pct said "not this message" */
    int draw;                    /* the 0..99 draw, -1 when none was needed */
    const char *why;             /* static: the rule that decided */
};

/* decide_rng_init - seed (0: a seed from the clock and the pid). */
void decide_rng_init(struct decide_rng *r, uint64_t seed);
/* decide_rng_draw - the next number in 0..99 (uniform). Thread-safe. */
int decide_rng_draw(struct decide_rng *r);

/* decide_action - fill *out for in. rng is drawn from only when pct < 100 applies.
 * Returns 0; -1 (out->action accept, why "internal") only when an argument is NULL. */
int decide_action(const struct decide_conf *conf, const struct decide_in *in,
                  struct decide_rng *rng, struct decide_out *out);

/* decide_tag_rcpt - the recipient rcpt ("<local@domain>" or "local@domain") with its
 * local part tagged for quarantine.action = subaddress: "<local" D tag "@domain>",
 * D being the first character of delims. A tag the address already has (from the first
 * character of delims found in the local part) is replaced, not nested, so that the
 * delivery agent sees exactly one detail. 0, or -1 (out "") when rcpt cannot be
 * tagged: empty, no '@', an empty local part, a quoted local part or a source route,
 * empty delims or tag, or out too small. */
int decide_tag_rcpt(const char *rcpt, const char *delims, const char *tag, char *out,
                    size_t outlen);

/* decide_act_name - "accept" "quarantine" "reject" "tempfail". */
const char *decide_act_name(enum decide_act a);
/* decide_mode_name - "off" "measure" "enforce". */
const char *decide_mode_name(enum decide_mode m);

#endif
