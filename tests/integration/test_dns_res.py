"""test_dns_res.py - the libresolv resolver (dns_res.c) against a real NSD on loopback.

Drives tests/drivers/dns-query.c: each case is (name, type, expected status, expected
records); then TCP fallback for a 4 KB TXT, 30 TXT records at one name, SERVFAIL, and a
stopped server (tempfail within the timeout). Prints "N passed, M failed".
"""
import os
import subprocess
import sys

SRC = os.environ.get("SA_SRC", ".")
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
from satest import dnsquery  # noqa: E402
from satest.checks import Checks  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

DRIVER = os.path.join(BUILD, "dns-query")
BIG = "v=spf1 " + " ".join("ip4:198.51.100.%d" % (i % 256) for i in range(220))  # ~4 KB

RECORDS = [
    ("example.com", "A", "192.0.2.1"),
    ("example.com", "A", "192.0.2.2"),
    ("example.com", "MX", "10 MX.Example.com"),
    ("example.com", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
    ("1.2.0.192.in-addr.arpa", "PTR", "mx.example.com"),
    ("a.example", "AAAA", "2001:db8::1"),
    ("multi.example", "TXT", ["part one", " part two", "3"]),
    ("nul.example", "TXT", [b"a\x00b", b"c"]),
    ("alias.example", "CNAME", "example.com"),
    ("alias2.example", "CNAME", "alias.example"),
    ("dangling.example", "CNAME", "nowhere.example"),
    ("big.example", "TXT", BIG),
    ("sel._domainkey.d.example", "TXT", "v=DKIM1; p=abc"),
] + [("many.example", "TXT", "record %02d" % i) for i in range(30)]

# (name, type, status, records in dns-query's output form, or None to skip the check)
CASES = [
    ("example.com", "A", "ok", ["192.0.2.1", "192.0.2.2"]),
    ("EXAMPLE.COM.", "A", "ok", ["192.0.2.1", "192.0.2.2"]),
    ("example.com", "MX", "ok", ["10 mx.example.com"]),
    ("1.2.0.192.in-addr.arpa", "PTR", "ok", ["mx.example.com"]),
    ("a.example", "AAAA", "ok", ["2001:db8::1"]),
    ("example.com", "TXT", "ok", ['len=28 "v=spf1 ip4:192.0.2.0/24 -all"']),
    ("multi.example", "TXT", "ok", ['len=18 "part one part two3"']),
    ("nul.example", "TXT", "ok", ['len=4 "a\\000bc"']),
    ("alias.example", "A", "ok", ["192.0.2.1", "192.0.2.2"]),
    ("alias2.example", "TXT", "ok", ['len=28 "v=spf1 ip4:192.0.2.0/24 -all"']),
    ("alias.example", "CNAME", "ok", ["example.com"]),
    ("alias.example", "AAAA", "nodata", []),
    ("dangling.example", "A", "nxdomain", []),
    ("nowhere.example", "A", "nxdomain", []),
    ("a.example", "A", "nodata", []),
    ("example.com", "PTR", "nodata", []),
    ("_domainkey.d.example", "TXT", "nodata", []),   # empty non-terminal
    ("a..example", "A", "nxdomain", []),              # never asked
    ("x" * 64 + ".example", "A", "nxdomain", []),
    ("broken.example", "TXT", "tempfail", []),
    ("sub.broken.example", "A", "tempfail", []),
]

T = Checks(quiet=True)
check = T.check


def query(port, pairs, timeout=2, retries=1):
    """dns-query against 127.0.0.1:port: ([(header fields, [rr data]), ...], seconds)."""
    return dnsquery.query(DRIVER, "127.0.0.1", port, pairs, timeout, retries)


def main():
    if not os.path.exists(DRIVER):
        print("SKIP: %s not built" % DRIVER)
        return 77
    with Nsd(RECORDS, servfail=["broken.example"]) as ns:
        res, _ = query(ns.port, [(c[0], c[1]) for c in CASES])
        check("answers", len(res) == len(CASES), "got %d answers, want %d" % (len(res), len(CASES)))
        for (name, rtype, want, want_rr), (hdr, rrs) in zip(CASES, res):
            label = "%s %s" % (name, rtype)
            check(label, hdr["status"] == want, "got %s, want %s" % (hdr["status"], want))
            if want_rr is not None:
                check(label + " records", sorted(rrs) == sorted(want_rr),
                      "got %r, want %r" % (rrs, want_rr))

        # RFC 2308 negative TTL: min(SOA TTL 300, SOA minimum 60).
        res, _ = query(ns.port, [("nowhere.example", "A"), ("a.example", "A")])
        check("negative ttl nxdomain", res[0][0]["ttl"] == "60", "got %s, want 60" % res[0][0]["ttl"])
        check("negative ttl nodata", res[1][0]["ttl"] == "60", "got %s, want 60" % res[1][0]["ttl"])

        # 4 KB TXT: NSD truncates over UDP (no EDNS), libresolv retries over TCP.
        res, _ = query(ns.port, [("big.example", "TXT")])
        hdr, rrs = res[0]
        want = 'len=%d "%s"' % (len(BIG), BIG)
        check("big TXT over TCP", hdr["status"] == "ok" and rrs == [want],
              "got %s %s..., want ok len=%d" % (hdr["status"], rrs[:1][:1], len(BIG)))

        # 30 TXT records at one name: all kept (under DNS_MAX_RRS), not truncated.
        res, _ = query(ns.port, [("many.example", "TXT")])
        hdr, rrs = res[0]
        want = sorted('len=9 "record %02d"' % i for i in range(30))
        check("30 TXT", hdr["status"] == "ok" and hdr["nrr"] == "30" and hdr["truncated"] == "0"
              and sorted(rrs) == want, "got %s nrr=%s truncated=%s" %
              (hdr["status"], hdr["nrr"], hdr["truncated"]))

        # 4 threads share one resolver (per-thread libresolv state), UDP and TCP mixed.
        names = ["example.com", "A", "big.example", "TXT", "nowhere.example", "A",
                 "a.example", "A", "many.example", "TXT", "broken.example", "TXT"]
        out = subprocess.run([DRIVER, "-j", "4", "127.0.0.1", str(ns.port)] + names,
                             capture_output=True, text=True, timeout=60)
        last = out.stdout.strip().splitlines()[-1:] or [""]
        check("threads", out.returncode == 0 and last[0] == "threads: 0 mismatches",
              "got rc=%d %r, want 'threads: 0 mismatches'" % (out.returncode, last[0]))

        # Server down: tempfail within timeout x retries (1 s), not a hang.
        ns.stop()
        res, elapsed = query(ns.port, [("example.com", "A")], timeout=1, retries=1)
        check("server down", res[0][0]["status"] == "tempfail",
              "got %s, want tempfail" % res[0][0]["status"])
        check("server down timing", elapsed < 10, "took %.1f s, want < 10" % elapsed)
        ns.start()
        res, _ = query(ns.port, [("example.com", "A")])
        check("server back", res[0][0]["status"] == "ok", "got %s, want ok" % res[0][0]["status"])

    print("%d passed, %d failed" % (T.passed, T.failed))
    return 1 if T.failed else 0


if __name__ == "__main__":
    sys.exit(main())
