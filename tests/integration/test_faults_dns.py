#!/usr/bin/python3
"""test_faults_dns.py - senderauthd when DNS misbehaves, with a real NSD on loopback.

Faults: the server down (stopped), SERVFAIL for the SPF and the DMARC name, an SPF
record of 4 KB (the UDP answer comes back truncated, TC, and must be fetched over TCP),
4 KB of mechanisms (more than libspf2 compiles: permerror, not a silently cut record),
a CNAME loop, 30 TXT records at _dmarc (all DMARC, or one DMARC among 29 others), a
20 KB TXT record next to the SPF record, and an SPF record over our 4 KB bound.
Each case asserts the documented fallback (docs/security.md): the message gets a verdict
- our A-R with temperror/permerror/none as the fault calls for, or 451 when
on_error = tempfail - never a silent drop; the harness invariants hold; and the daemon is
still running and answering afterwards.
Prints one line per case, then `faults: N passed, M failed`.
"""
import os
import sys

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import cases as sc  # noqa: E402
from satest import milter  # noqa: E402
from satest.daemon import Senderauthd, DaemonError, stop_all  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

BASE_CONF = {
    "authserv_id": sc.OUR_ID,
    "dns": {"timeout": 1, "retries": 1},
    "psl": {"path": "/usr/share/publicsuffix/public_suffix_list.dat"},
}

# 4 KB of SPF record (unknown modifiers are legal and ignored, RFC 7208 6): the UDP
# answer is truncated and the record must come over TCP to give pass.
BIG_SPF = "v=spf1 ip4:192.0.2.0/24 " + " ".join("note%d=%s" % (i, "x" * 60) for i in range(58)) + \
    " -all"
assert 3900 < len(BIG_SPF) <= 4096, len(BIG_SPF)
# 4 KB of mechanisms: libspf2 silently compiles only the first ~512 bytes of them (the
# match and -all at the end would be lost): refused as permerror instead.
MANY_MECH_SPF = "v=spf1 " + " ".join("ip4:198.18.%d.%d" % (i // 250, i % 250)
                                     for i in range(240)) + " ip4:192.0.2.0/24 -all"

ZONE = [
    ("big-spf.example", "TXT", BIG_SPF),
    ("_dmarc.big-spf.example", "TXT", "v=DMARC1; p=reject"),
    ("many-mech.example", "TXT", MANY_MECH_SPF),
    ("loop-a.example", "CNAME", "loop-b.example"),
    ("loop-b.example", "CNAME", "loop-a.example"),
    ("dm30.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
    ("dm1of30.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
    ("huge-txt.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
    ("huge-txt.example", "TXT", "x" * 20000),
    ("over-spf.example", "TXT", "v=spf1 " + "ip4:198.18.0.1 " * 400 + "-all"),
    ("sfdmarc.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
    ("down.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
    ("down-tf.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
]
ZONE += [("_dmarc.dm30.example", "TXT", "v=DMARC1; p=reject; ri=%d" % (3600 + i))
         for i in range(30)]
ZONE += [("_dmarc.dm1of30.example", "TXT", "unrelated record %d" % i) for i in range(29)]
ZONE += [("_dmarc.dm1of30.example", "TXT", "v=DMARC1; p=quarantine")]
SERVFAIL = ["sf-spf.example", "_dmarc.sfdmarc.example"]


def case(cid, dom, expect, from_dom=None):
    return {"_id": cid, "name": cid,
            "connect": {"ip": "192.0.2.10", "host": "mail." + dom, "helo": "mail." + dom},
            "envelope": {"from": "user@" + dom, "rcpt": ["user@" + sc.OUR_ID]},
            "message": {"headers": ["From: user@" + (from_dom or dom), "Subject: dns fault"],
                        "body": "hello\n"},
            "expect": expect}


def acc(ar):
    return {"reply": "accept", "ar": ar}


CASES = [
    case("truncated-udp-4k-spf-over-tcp", "big-spf.example",
         acc({"spf": {"result": "pass", "smtp.mailfrom": "big-spf.example"},
              "dmarc": {"result": "pass", "policy.dmarc": "reject"}})),
    case("4k-of-mechanisms-past-libspf2", "many-mech.example",
         acc({"spf": {"result": "permerror", "smtp.mailfrom": "many-mech.example"},
              "regex": [r"spf=permerror \(record rejected by libspf2\)"]})),
    case("servfail-spf", "sf-spf.example",
         acc({"spf": {"result": "temperror", "smtp.mailfrom": "sf-spf.example"}})),
    case("servfail-dmarc", "sfdmarc.example",
         acc({"spf": "pass", "dmarc": {"result": "temperror"}})),
    case("cname-loop-spf", "loop-a.example",
         acc({"spf": {"result": "temperror", "smtp.mailfrom": "loop-a.example"}})),
    case("30-dmarc-records", "dm30.example",
         acc({"spf": "pass", "dmarc": {"result": "none", "!policy.dmarc": ""}})),
    case("1-dmarc-among-30-txt", "dm1of30.example",
         acc({"spf": "pass", "dmarc": {"result": "pass", "policy.dmarc": "quarantine"}})),
    case("20k-txt-next-to-spf", "huge-txt.example",
         acc({"spf": {"result": "pass", "smtp.mailfrom": "huge-txt.example"}})),
    case("spf-record-over-4k", "over-spf.example",
         acc({"spf": {"result": "permerror", "smtp.mailfrom": "over-spf.example"}})),
]

passed = failed = 0


def report(label, failures, reports=(), d=None):
    global passed, failed
    if failures:
        failed += 1
        print(sc.format_report({"_id": label, "name": label}, failures, list(reports),
                               d.log_tail(12) if d else ""))
    else:
        passed += 1
        ar = [v for n, v in reports[-1]["added"] if n.lower() == "authentication-results"] \
            if reports else []
        print("ok   %-34s %s" % (label, milter.unfold(ar[0])[:140] if ar else
                                 "reply=%r" % (reports[-1]["reply"] if reports else None)))


def run(d, c):
    b, _ = sc.build_message(c, None)
    try:
        failures, reports = sc.run_case(d.port, c, [b])
    except (milter.MilterError, OSError) as e:
        failures, reports = ["milter conversation failed: %s" % e], []
    if d.proc is None or d.proc.poll() is not None:
        failures.append("senderauthd is not running any more")
    report(c["_id"], failures, reports, d)


def alive_and_answering(d, ns_dom, label):
    """A plain message after the fault still gets its verdict."""
    c = case(label, ns_dom, acc({"spf": "pass"}))
    run(d, c)


def main():
    daemons = []
    try:
        with Nsd(ZONE, servfail=SERVFAIL) as ns:
            try:
                acc_d = Senderauthd(ns.port, conf=BASE_CONF).start()
                daemons.append(acc_d)
                tf_d = Senderauthd(ns.port, conf=dict(BASE_CONF, on_error="tempfail")).start()
                daemons.append(tf_d)
                for c in CASES:
                    run(acc_d, c)
                run(tf_d, case("servfail-spf-on_error-tempfail", "sf-spf.example",
                               {"reply": ["tempfail", "451"], "reply_text": "4\\.4\\.3"}))
                # The server stopped: names never asked before, so no cache answers.
                ns.stop()
                try:
                    run(acc_d, case("server-down-accept", "down.example",
                                    acc({"spf": {"result": "temperror",
                                                 "smtp.mailfrom": "down.example"}})))
                    run(tf_d, case("server-down-tempfail", "down-tf.example",
                                   {"reply": ["tempfail", "451"], "reply_text": "4\\.4\\.3"}))
                finally:
                    ns.start()
                alive_and_answering(acc_d, "dm30.example", "after-faults-still-answering")
                alive_and_answering(tf_d, "dm30.example", "after-faults-still-answering-tf")
            finally:
                for e in stop_all(daemons):
                    report("daemon stop", [e])
    except DaemonError as e:
        report("senderauthd", [str(e)])
    print("faults: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
