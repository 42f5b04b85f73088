#!/usr/bin/python3
"""test_iprev.py - iprev (RFC 8601 3) through a real senderauthd and a real NSD: iprev=pass,
fail (no PTR; PTR not leading back) and temperror (SERVFAIL) in the A-R with policy.iprev,
iprev.policy tag with policy_on fail (X-Senderauth-Iprev: fail added only for iprev=fail) and
measure (logged as matched, nothing added), trusted clients not checked, iprev.enable = false writes nothing.
Prints one line per check, then `iprev: N passed, M failed`."""
import os
import re
import sys

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import milter  # noqa: E402
from satest.checks import summary_line as summary  # noqa: E402
from satest.daemon import Senderauthd, stop_all  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

RECS = [("a.example", "TXT", "v=spf1 -all"), ("a.example", "A", "192.0.2.1"),
        ("10.2.0.192.in-addr.arpa", "PTR", "mx.good.example"),
        ("mx.good.example", "A", "192.0.2.10"),
        ("11.2.0.192.in-addr.arpa", "PTR", "liar.example"),
        ("liar.example", "A", "198.18.0.1"),
        ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "PTR",
         "v6.good.example"),
        ("v6.good.example", "AAAA", "2001:db8::1")]
SERVFAIL = ["100.51.198.in-addr.arpa"]
QID = [0]


def send(d, ip):
    QID[0] += 1
    qid = "IPR%04d" % QID[0]
    with milter.MilterClient("127.0.0.1", d.port) as m:
        m.connect("client.test", ip)
        m.helo("client.test")
        m.mail("u@a.example", macros={"i": qid})
        m.rcpt("r@example.jp")
        m.data()
        for n, v in (("From", " u@a.example"), ("Subject", " iprev"),
                     ("X-Senderauth-Iprev", " pass")):
            m.header(n, v)
        m.eoh()
        m.body(b"hi\r\n")
        return m.eom(), qid


def main():
    passed = failed = 0
    daemons = []
    with Nsd(RECS, servfail=SERVFAIL) as ns:
        try:
            tag = Senderauthd(ns.port, conf={"trusted_networks": ["198.51.100.200/32"],
                                             "iprev": {"enable": True, "policy": "tag",
                                                       "policy_on": "fail"}})
            measure = Senderauthd(ns.port, conf={"iprev": {"enable": True,
                                                           "policy": "measure"}})
            off = Senderauthd(ns.port, conf={})
            daemons += [tag, measure, off]
            for d in daemons:
                d.start()
            cases = [
                # daemon, ip, A-R words, tag header added, log words, A-R words absent
                (tag, "192.0.2.10", ["iprev=pass (mx.good.example) policy.iprev=192.0.2.10"],
                 False, ["iprev=pass "], []),
                (tag, "203.0.113.5", ["iprev=fail (no PTR record) policy.iprev=203.0.113.5"],
                 True, ["iprev=fail:no_ptr", "iprev_policy=tag"], []),
                (tag, "192.0.2.11", ["iprev=fail (PTR names do not lead back)"], True,
                 ["iprev=fail ", "iprev_policy=tag"], []),
                (tag, "198.51.100.9", ["iprev=temperror", "policy.iprev=198.51.100.9"], False,
                 ["iprev=temperror"], []),
                (tag, "2001:db8::1", ['iprev=pass (v6.good.example) policy.iprev="2001:db8::1"'],
                 False, ["iprev=pass"], []),
                (tag, "198.51.100.200", [], False, ["skip=trusted"], ["iprev="]),
                (measure, "203.0.113.5", ["iprev=fail"], False,
                 ["iprev=fail:no_ptr", "iprev_policy=matched"], []),
                (off, "203.0.113.5", [], False, [], ["iprev="]),
            ]
            for d, ip, ar_has, tagged, log_has, ar_lacks in cases:
                res, qid = send(d, ip)
                added = res.added_headers()
                ar = " ".join(re.sub(r"\s+", " ", v) for n, v in added
                              if n.lower() == "authentication-results")
                tags = [v.strip() for n, v in added if n.lower() == "x-senderauth-iprev"]
                line = summary(d, qid)
                errs = ["A-R lacks %r" % w for w in ar_has if w not in ar]
                errs += ["A-R has %r" % w for w in ar_lacks if w in ar]
                errs += ["log lacks %r" % w for w in log_has if w not in line]
                if (tags == ["fail"]) != tagged or (tags and tags != ["fail"]):
                    errs.append("X-Senderauth-Iprev added %s, want %s" %
                                (tags, ["fail"] if tagged else []))
                if d is off and "iprev=" in line:
                    errs.append("iprev ran with iprev.enable off")
                name = "%s %s" % ({id(tag): "tag", id(measure): "measure",
                                   id(off): "off"}[id(d)], ip)
                if errs:
                    failed += 1
                    print("FAIL %s: %s\n     A-R: %s\n     log: %s" % (name, "; ".join(errs),
                                                                     ar, line))
                else:
                    passed += 1
                    print("ok   " + name)
        finally:
            stop_all(daemons)
    print("iprev: %d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
