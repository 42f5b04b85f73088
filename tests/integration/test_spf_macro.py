#!/usr/bin/python3
"""test_spf_macro.py - RFC 7208 7.3 macro expansion through a real senderauthd and a real
NSD: the transformer shapes Debian 12's libspf2 expands wrongly (a digit at least the
number of parts; delimiters other than "."; the "," and "/" delimiters it does not know),
which src/spf/spf_macro.c now expands (docs/spf.md, "Macros"), the RFC 7208 7.4 style
%{ir}.%{v} name, a HELO identity with %{d3}, the differential test's reproducer (message
140, docs/conformance.md S1), a name that must not match, and a malformed macro
(permerror). Each case is judged by the A-R spf result and the invariants of
satest/cases.py. Prints one line per case, then `spf_macro: N passed, M failed`."""
import os
import sys

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import cases as sc  # noqa: E402
from satest import milter  # noqa: E402
from satest.checks import Checks  # noqa: E402
from satest.daemon import Senderauthd, DaemonError, stop_all  # noqa: E402
from satest.nsd import Nsd  # noqa: E402


def case(cid, zone, mailfrom, result, helo="client.macro.example", ip="192.0.2.10"):
    """One message; the spf result is judged on smtp.mailfrom, or smtp.helo when the
    reverse-path is null."""
    dom = mailfrom.rpartition("@")[2] if mailfrom else helo
    prop = "smtp.mailfrom" if mailfrom else "smtp.helo"
    return {"_id": "spf_macro/" + cid, "name": cid, "zone": zone,
            "connect": {"ip": ip, "host": "unknown", "helo": helo},
            "envelope": {"from": mailfrom, "rcpt": ["user@" + sc.OUR_ID]},
            "message": {"headers": ["From: user@" + dom, "Subject: " + cid], "body": "hi\n"},
            "expect": {"reply": "accept", "ar": {"spf": {"result": result, prop: dom}}}}


DX140 = [("bounce.dx140.example", "TXT",
          "v=spf1 exists:%{l1r-}.x72.bounce.dx140.example -all"),
         ("alice.x72.bounce.dx140.example", "A", "127.0.0.2"),
         ("bob.smith.x72.bounce.dx140.example", "A", "127.0.0.2")]

CASES = [
    # libspf2 queried lice.x72...: %{l1r-} of "alice" is one part, kept whole
    case("l1r-_one_part", DX140, "alice@bounce.dx140.example", "pass"),
    # libspf2 split "bob.smith" on "."; "-" is the only delimiter given
    case("l1r-_dot_kept", DX140, "bob.smith@bounce.dx140.example", "pass"),
    # the same record, a local part with no such name: the -all applies
    case("l1r-_no_match", DX140, "carol@bounce.dx140.example", "fail"),
    # libspf2 queried x533.example.d...: %{d2} of a two-label domain is the domain
    case("d2_two_labels", [("dx533.example", "TXT", "v=spf1 exists:%{d2}.d.dx533.example -all"),
                           ("dx533.example.d.dx533.example", "A", "127.0.0.2")],
         "u@dx533.example", "pass"),
    # libspf2 knows no "," or "/" delimiter (it gave permerror)
    case("comma_slash", [("delim.macro.example", "TXT",
                          "v=spf1 exists:%{l2r,/}.c.delim.macro.example -all"),
                         ("b.a.c.delim.macro.example", "A", "127.0.0.2")],
         "a,b/c@delim.macro.example", "pass"),
    # RFC 7208 7.4: %{ir}.%{v}._spf.%{d2}
    case("ir_v_d2", [("mail.irv.macro.example", "TXT", "v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all"),
                     ("10.2.0.192.in-addr._spf.macro.example", "A", "127.0.0.2")],
         "u@mail.irv.macro.example", "pass"),
    # HELO identity (null reverse-path): l is "postmaster", d the HELO name (3 labels)
    case("helo_d3", [("mail.helo-macro.example", "TXT",
                      "v=spf1 exists:%{l}.%{d3}.h.helo-macro.example -all"),
                     ("postmaster.mail.helo-macro.example.h.helo-macro.example", "A",
                      "127.0.0.2")],
         "", "pass", helo="mail.helo-macro.example"),
    # a malformed macro (digit 0) stays a permerror
    case("d0_permerror", [("bad.macro.example", "TXT", "v=spf1 exists:%{d0}.bad.macro.example -all")],
         "u@bad.macro.example", "permerror"),
]


def main():
    t = Checks()
    records, servfail, built = sc.zone_records(CASES, None)
    d = None
    try:
        with Nsd(records, servfail=servfail) as ns:
            d = Senderauthd(ns.port, conf=sc.BASE_CONF).start()
            for c in CASES:
                try:
                    failures, reports = sc.run_case(d.port, c, built[c["_id"]])
                except (milter.MilterError, OSError) as e:
                    failures, reports = ["milter conversation failed: %s" % e], []
                t.check(c["_id"], not failures,
                        "\n" + sc.format_report(c, failures, reports, d.log_tail(15)))
    except DaemonError as e:
        t.check("senderauthd", False, str(e))
    finally:
        for e in stop_all([d] if d is not None else []):
            t.check("daemon stop", False, e)
    t.check("cases run", t.passed == len(CASES), "%d of %d" % (t.passed, len(CASES)))
    print(t.total("spf_macro"))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
