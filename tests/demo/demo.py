#!/usr/bin/python3
"""demo.py - senderauthd end to end on this machine, no network needed.

Starts a real DNS server (NSD) on 127.0.0.1 with the sample zones, starts senderauthd
pointed at it, and sends each sample message in tests/demo/samples/ through the milter
protocol the way Postfix would. DKIM keys are generated and the samples signed right now.
For each sample it prints the verdict, the Authentication-Results header senderauthd
added and any header it removed; then a summary table.

Usage: SA_BUILD=build python3 tests/demo/demo.py [-v]
  -v   also print senderauthd's log lines for each message
Exit status: 0 when every sample came out as its file expects.
"""
import os
import shutil
import sys
import tempfile
import textwrap

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import cases as sc  # noqa: E402
from satest import milter  # noqa: E402
from satest.daemon import Senderauthd, DaemonError  # noqa: E402
from satest.dkimsign import KeyStore  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

SAMPLES = os.path.join(SRC, "tests/demo/samples")
AUTHSERV_ID = "mx.example.jp"
CONF = {"authserv_id": AUTHSERV_ID, "trusted_networks": ["127.0.0.0/8"],
        "dns": {"timeout": 2, "retries": 1}, "log": {"level": "info"}}
WIDTH = 100


def verdict(rep):
    r = rep["reply"]
    if r is None:
        return "no reply"
    if r.code in ("accept", "continue"):
        return "accepted (delivered with the header below)"
    if r.code == "replycode":
        return "refused: " + r.text
    return {"reject": "rejected 550", "tempfail": "deferred 451",
            "discard": "discarded"}.get(r.code, r.code)


def ar_lines(value):
    """The header as the recipient's MTA would store it, folded where senderauthd folded."""
    out = []
    first = True
    for part in value.replace("\r\n", "\n").split("\n"):
        part = part.strip()
        if not part:
            continue
        out.append(("Authentication-Results: " if first else "        ") + part)
        first = False
    return out


def short(ar, method):
    try:
        h = sc.parse(ar)
    except sc.ARParseError:
        return "?"
    rs = sc.select_results(h, method)
    if not rs:
        return "-"
    words = []
    for r in rs:
        w = r.result
        if method == "dkim" and "header.d" in r.props:
            w += " (%s)" % r.props["header.d"]
        if method == "dmarc" and "policy.dmarc" in r.props:
            w += " (p=%s)" % r.props["policy.dmarc"]
        words.append(w)
    return ", ".join(words)


def main(argv):
    verbose = "-v" in argv
    samples = sc.load_all(SAMPLES)
    tmp = tempfile.mkdtemp(prefix="senderauth-demo-")
    keys = KeyStore(tmp)
    records, servfail, built = sc.zone_records(samples, keys)
    rows = []
    bad = 0
    try:
        with Nsd(records, servfail=servfail) as ns:
            print("DNS server (NSD) on 127.0.0.1:%d serving %d sample records" %
                  (ns.port, len(records)))
            with Senderauthd(ns.port, conf=CONF) as d:
                print("senderauthd on 127.0.0.1:%d, authserv-id %s\n" % (d.port, AUTHSERV_ID))
                for i, s in enumerate(samples, 1):
                    log_before = len(d.log_text())
                    try:
                        failures, reports = sc.run_case(d.port, s, built[s["_id"]],
                                                        our_id=AUTHSERV_ID)
                    except (milter.MilterError, OSError) as e:
                        failures, reports = ["milter conversation failed: %s" % e], []
                    print("=" * WIDTH)
                    print("%d. %s" % (i, s["name"]))
                    c, env = s.get("connect", {}), s.get("envelope", {})
                    frm = [h for h in s["message"]["headers"] if h.lower().startswith("from:")]
                    print("   client %s (HELO %s)   MAIL FROM:<%s>   %s" %
                          (c.get("ip"), c.get("helo"), env.get("from", ""),
                           frm[0] if frm else "(no From)"))
                    if not reports:
                        print("   ERROR: %s" % "; ".join(failures))
                        bad += 1
                        continue
                    rep = reports[-1]
                    print("   verdict: %s" % verdict(rep))
                    ar = ""
                    for n, v in rep["added"]:
                        if n.lower() == "authentication-results":
                            ar = v
                            for j, ln in enumerate(ar_lines(v)):
                                print(("   + " if j == 0 else "     ") + ln)
                        else:
                            print("   + %s: %s" % (n, milter.unfold(v)))
                    orig = built[s["_id"]][-1].headers
                    kept = rep["final"]
                    for n, v in orig:
                        if (n, v) not in kept:
                            print("   - removed %s: %s" % (n, textwrap.shorten(
                                milter.unfold(v), WIDTH - 20)))
                    if verbose:
                        for ln in d.log_text()[log_before:].splitlines():
                            print("   log: " + ln)
                    if failures:
                        bad += 1
                        print("   NOT AS EXPECTED:")
                        for f in failures:
                            print("     - " + f.replace("\n", "\n       "))
                    rows.append((i, s["_id"], short(ar, "spf"), short(ar, "dkim"),
                                 short(ar, "dmarc"), rep["reply"].code if rep["reply"] else "-",
                                 "yes" if not failures else "NO"))
    except DaemonError as e:
        print("senderauthd failed: %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("=" * WIDTH)
    print()
    head = ("#", "sample", "spf (mail from)", "dkim", "dmarc", "reply", "as expected")
    table = [head] + [tuple(str(x) for x in r) for r in rows]
    wid = [max(len(r[k]) for r in table) for k in range(len(head))]
    for j, r in enumerate(table):
        print("  ".join(x.ljust(wid[k]) for k, x in enumerate(r)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in wid))
    print()
    print("%d samples, %d as expected" % (len(samples), len(samples) - bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
