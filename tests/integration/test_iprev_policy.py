#!/usr/bin/python3
"""test_iprev_policy.py - iprev.policy through a real senderauthd and a real NSD: seven
clients (PTR leading back, no PTR, PTR not leading back, SERVFAIL, a trusted network
without PTR, an authenticated client without PTR, local submission without PTR) against
seven configurations (measure, tag, tempfail, reject, reject with policy_on = fail and a
custom reply, at RCPT and at connect). Each session must get the listed SMTP reply (code, enhanced code, the client
address in the text) at the listed stage, or be accepted / tagged; then the scraped
senderauth_iprev_clients_total{event} counters and the /iprev hour buckets must add up
to what those sessions did, and the per-message results to the messages that reached
the end. Prints one line per check and `iprev_policy: N passed, M failed`."""
import json
import os
import re
import sys

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import milter  # noqa: E402
from satest.checks import Checks, metric, scrape  # noqa: E402
from satest.daemon import Senderauthd, stop_all  # noqa: E402
from satest.nsd import Nsd, free_port  # noqa: E402

RECS = [("a.example", "TXT", "v=spf1 -all"),
        ("10.2.0.192.in-addr.arpa", "PTR", "mx.good.example"),
        ("mx.good.example", "A", "192.0.2.10"),
        ("11.2.0.192.in-addr.arpa", "PTR", "liar.example"),
        ("liar.example", "A", "198.18.0.1")]
SERVFAIL = ["100.51.198.in-addr.arpa"]

# client -> (address, {auth_authen} or None, iprev result counted when checked)
CLIENTS = {
    "pass": ("192.0.2.10", None, "pass"),
    "no_ptr": ("203.0.113.5", None, "no_ptr"),
    "no_match": ("192.0.2.11", None, "fail"),
    "servfail": ("198.51.100.9", None, "temperror"),
    "trusted": ("203.0.113.200", None, None),
    "auth": ("203.0.113.6", "user@example.jp", "no_ptr"),
    "local": ("203.0.113.7", None, None),  # port 0: local submission (non_smtpd_milters)
}
ORDER = ["pass", "no_ptr", "no_match", "servfail", "trusted", "auth", "local"]

# name -> (iprev config, {client: outcome}); outcome "accept", "tag", or
# "STAGE:CODE X.Y.Z" (the reply and where it came). Unlisted clients: accept.
CONFIGS = {
    "measure/rcpt": ({"policy": "measure"}, {}),
    "tag/rcpt": ({"policy": "tag"}, {"no_ptr": "tag"}),
    "tempfail/rcpt": ({"policy": "tempfail", "on_temperror": "tempfail"},
                      {"no_ptr": "rcpt:450 4.7.25", "servfail": "rcpt:451 4.4.3"}),
    "reject/rcpt": ({"policy": "reject"}, {"no_ptr": "rcpt:550 5.7.25"}),
    "reject-fail/rcpt": ({"policy": "reject", "policy_on": "fail", "on_temperror": "tempfail",
                          "reject_reply": "554 5.7.25 Set up reverse DNS for your server"},
                         {"no_ptr": "rcpt:554 5.7.25", "no_match": "rcpt:554 5.7.25",
                          "servfail": "rcpt:451 4.4.3"}),
    # At connect the client has not authenticated yet: only trusted networks are exempt.
    "tempfail/connect": ({"policy": "tempfail", "stage": "connect"},
                         {"no_ptr": "connect:450 4.7.25", "auth": "connect:450 4.7.25"}),
    "reject-fail/connect": ({"policy": "reject", "stage": "connect", "policy_on": "fail",
                             "on_temperror": "tempfail"},
                            {"no_ptr": "connect:550 5.7.25", "no_match": "connect:550 5.7.25",
                             "servfail": "connect:451 4.4.3", "auth": "connect:550 5.7.25"}),
}
TEXTS = {"450": "cannot find your reverse hostname", "550": "cannot find your reverse hostname",
         "451": "reverse DNS lookup failed", "554": "Set up reverse DNS for your server"}


def session(d, ip, authen, n):
    """One SMTP session; returns (outcome, detail) as in CONFIGS."""
    with milter.MilterClient("127.0.0.1", d.port) as m:
        r = m.connect("client.test", ip, port=0 if ip == CLIENTS["local"][0] else 25)
        if r.is_terminal():
            return "connect:%s" % " ".join(r.text.split()[:2]), r.text
        res = m.message(mail_from="u@a.example", rcpts=["r1@example.jp", "r2@example.jp"],
                        headers=[("From", " u@a.example"), ("Subject", " iprev policy")],
                        body=b"hi\r\n", helo="client.test", queue_id="IPP%04d" % n,
                        auth_authen=authen)
        if res.stage != "eom":
            return "%s:%s" % (res.stage, " ".join(res.reply.text.split()[:2])), res.reply.text
        tags = [v.strip() for k, v in res.added_headers() if k.lower() == "x-senderauth-iprev"]
        return ("tag" if tags == ["fail"] else "accept" if not tags else "tags %r" % tags), ""


def want_counts(conf, outcomes):
    """The per-client events the sessions of one configuration must have counted."""
    w = dict.fromkeys(["seen", "exempt", "pass", "no_ptr", "fail", "temperror", "matched",
                       "tagged", "tempfailed", "rejected"], 0)
    connect = conf.get("stage") == "connect"
    for c in ORDER:
        _, authen, res = CLIENTS[c]
        w["seen"] += 1
        if res is None or (authen and not connect):
            w["exempt"] += 1
            continue
        w[res] += 1
        if res == "no_ptr" or (res == "fail" and conf.get("policy_on") == "fail"):
            w["matched"] += 1
        out = outcomes.get(c, "accept")
        w["tagged"] += out == "tag"
        w["tempfailed"] += ":4" in out
        w["rejected"] += ":5" in out
    return w


def main():
    ck = Checks()
    daemons = {}
    n = 0
    with Nsd(RECS, servfail=SERVFAIL) as ns:
        try:
            for name, (iconf, _) in CONFIGS.items():
                mport = free_port()
                d = Senderauthd(ns.port, conf={
                    "trusted_networks": ["127.0.0.0/8", "203.0.113.200/32"],
                    "iprev": iconf, "log": {"level": "info"},
                    "metrics": {"listen": "127.0.0.1:%d" % mport},
                    "dns": {"retries": 1, "timeout": 1}})
                d.mport = mport
                daemons[name] = d
                d.start()
            for name, (iconf, outcomes) in CONFIGS.items():
                d = daemons[name]
                for c in ORDER:
                    ip, authen, _ = CLIENTS[c]
                    n += 1
                    want = outcomes.get(c, "accept")
                    got, text = session(d, ip, authen, n)
                    errs = []
                    if got != want:
                        errs.append("got %s, want %s" % (got, want))
                    elif ":" in want:
                        code = want.split(":")[1][:3]
                        if TEXTS[code] not in text or ("[%s]" % ip) not in text:
                            errs.append("reply text %r lacks %r or [%s]" % (text, TEXTS[code],
                                                                            ip))
                    ck.check("%s %s: %s" % (name, c, want), not errs,
                             "; ".join(errs) + "\n     log: " + d.log_tail(3).replace("\n", " | "))
            for name, (iconf, outcomes) in CONFIGS.items():
                d = daemons[name]
                text = scrape(d.mport, "/metrics")
                want = want_counts(iconf, outcomes)
                got = {e: metric(text, 'senderauth_iprev_clients_total{event="%s"}' % e)
                       for e in want}
                ck.check("%s: senderauth_iprev_clients_total" % name, got == want,
                         "got %s\n     want %s" % (got, want))
                hours = json.loads(scrape(d.mport, "/iprev"))
                summed = {e: sum(h.get(e, 0) for h in hours["hours"]) for e in want}
                ck.check("%s: /iprev hour buckets add up to the totals" % name,
                         summed == want and hours["bucket_seconds"] == 3600 and hours["hours"],
                         "got %s" % hours)
                # Messages that ended: not refused; checked: not skipped by the daemon
                # (trusted, authenticated); with iprev: not exempt (local submission).
                checked = [c for c in ORDER if ":" not in outcomes.get(c, "accept") and
                           c != "trusted" and not CLIENTS[c][1]]
                eom = [c for c in checked if CLIENTS[c][2] is not None]
                got_r = {c: metric(text, 'senderauth_results_total{method="iprev",result="%s"}'
                                   % r) for c, r in (("pass", "pass"), ("fail", "fail"),
                                                     ("temperror", "temperror"))}
                want_r = {"pass": sum(CLIENTS[c][2] == "pass" for c in eom),
                          "fail": sum(CLIENTS[c][2] in ("no_ptr", "fail") for c in eom),
                          "temperror": sum(CLIENTS[c][2] == "temperror" for c in eom)}
                ck.check("%s: iprev results of the messages that ended" % name, got_r == want_r,
                         "got %s, want %s" % (got_r, want_r))
                arc_none = metric(text, 'senderauth_results_total{method="arc",result="none"}')
                ck.check("%s: arc=none for each checked message without ARC fields: got %s, "
                         "want %d" % (name, arc_none, len(checked)), arc_none == len(checked))
                ov = metric(text, 'senderauth_overrides_total{reason="arc"}')
                ck.check("%s: no ARC override without ARC: got %s, want 0" % (name, ov), ov == 0)
            log = daemons["measure/rcpt"].log_text()
            ck.check("measure logs the matched client",
                     re.search(r"client=203\.0\.113\.5 .*iprev=fail:no_ptr iprev_policy=matched",
                               log) is not None)
            log = daemons["reject/rcpt"].log_text()
            ck.check("reject logs the reply once per connection",
                     len(re.findall(r"client=203\.0\.113\.5 iprev=fail:no_ptr iprev_policy=reject "
                                    r"stage=rcpt reply=550 5\.7\.25", log)) == 1, log[-600:])
        finally:
            stop_all(list(daemons.values()))
    print(ck.total("iprev_policy"))
    return 1 if ck.failed or ck.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
