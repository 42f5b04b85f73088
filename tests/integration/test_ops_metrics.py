#!/usr/bin/python3
"""test_ops_metrics.py - the Prometheus endpoint of a running senderauthd
(metrics.listen, docs/operations.md): messages sent over the milter protocol, then the
scraped values compared with what those messages must have produced -- messages, SPF /
DKIM / DMARC results, actions, DNS queries, cache hits and timeouts (a SERVFAIL zone),
the end-of-message histogram; the metrics server is off without metrics.listen, and an
unknown path is 404. Prints one line per check and `metrics: N passed, M failed`.
"""
import os
import re
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.environ.get("SA_SRC", "."), "tests/lib"))
from satest.checks import Checks  # noqa: E402
from satest.daemon import Senderauthd  # noqa: E402
from satest.milter import MilterClient  # noqa: E402
from satest.nsd import Nsd, free_port  # noqa: E402

RECS = [("sender.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
        ("_dmarc.sender.example", "TXT", "v=DMARC1; p=none")]

# (client ip, mail from, From) -> what it adds to the counters
MESSAGES = [
    ("192.0.2.10", "a@sender.example", "a@sender.example"),     # spf pass, dmarc pass
    ("192.0.2.11", "b@sender.example", "b@sender.example"),     # spf pass (cached), dmarc pass
    ("198.51.100.7", "c@sender.example", "c@sender.example"),   # spf fail, dmarc fail (p=none)
    ("192.0.2.12", "d@broken.example", "d@broken.example"),     # SERVFAIL: spf temperror
]
WANT = {
    "senderauth_messages_total": 4,
    'senderauth_results_total{method="spf",result="pass"}': 2,
    'senderauth_results_total{method="spf",result="fail"}': 1,
    'senderauth_results_total{method="spf",result="temperror"}': 1,
    'senderauth_results_total{method="dkim",result="none"}': 4,
    'senderauth_results_total{method="dmarc",result="pass"}': 2,
    'senderauth_results_total{method="dmarc",result="fail"}': 1,
    'senderauth_results_total{method="dmarc",result="temperror"}': 1,
    'senderauth_actions_total{action="accept"}': 4,
    'senderauth_actions_total{action="reject"}': 0,
    'senderauth_actions_total{action="tempfail"}': 0,
    'senderauth_actions_total{action="split"}': 0,
    "senderauth_store_errors_total": 0,
    'senderauth_eom_seconds_bucket{le="+Inf"}': 4,
    "senderauth_eom_seconds_count": 4,
}


def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, "", ""


def metric(text, series):
    m = re.search(r"^%s (\S+)$" % re.escape(series), text, re.M)
    return float(m.group(1)) if m else None


def main():
    ck = Checks()
    mport = free_port()
    with Nsd(RECS, servfail=["broken.example"]) as ns, Senderauthd(ns.port, conf={
            "metrics": {"listen": "127.0.0.1:%d" % mport}, "log": {"level": "info"},
            "dns": {"retries": 1, "timeout": 1}}) as d:
        code, ctype, text = get(mport, "/metrics")
        ck.check("scrape before any message: 200, version 0.0.4",
                 code == 200 and "version=0.0.4" in ctype, "%s %s" % (code, ctype))
        ck.check("no message yet", metric(text, "senderauth_messages_total") == 0)
        for i, (ip, mfrom, hfrom) in enumerate(MESSAGES):
            with MilterClient("127.0.0.1", d.port) as m:
                m.connect("client.example", ip)
                r = m.message(mail_from=mfrom, rcpts=["u@rcpt.example"],
                              headers=[("From", " <%s>" % hfrom), ("Subject", " m%d" % i)],
                              body=b"hello\r\n", helo="client.example", queue_id="MET%d" % i)
                ck.check("message %d answered" % i,
                         r.reply and r.reply.code in ("continue", "accept"), repr(r))
        code, _, text = get(mport, "/metrics")
        for series, want in WANT.items():
            got = metric(text, series)
            ck.check("%s: got %s, want %s" % (series, got, want), got == want)
        q = metric(text, "senderauth_dns_queries_total")
        h = metric(text, "senderauth_dns_cache_hits_total")
        t = metric(text, "senderauth_dns_timeouts_total")
        ck.check("dns queries counted: got %s, want >= 4" % q, q is not None and q >= 4)
        ck.check("dns cache hits (same SPF record twice): got %s, want >= 1" % h,
                 h is not None and h >= 1)
        ck.check("dns timeouts (SERVFAIL): got %s, want >= 1" % t, t is not None and t >= 1)
        s = metric(text, "senderauth_eom_seconds_sum")
        ck.check("eom seconds sum: got %s, want > 0" % s, s is not None and s > 0)
        dash = os.path.join(os.environ.get("SA_SRC", "."), "docs/grafana-senderauth.json")
        with open(dash) as f:
            names = set(re.findall(r"senderauth_[a-z_]+", f.read()))
        missing = [n for n in sorted(names) if not re.search(r"^%s[{ ]" % n, text, re.M)]
        ck.check("every metric of the Grafana dashboard is exposed (%d)" % len(names),
                 names and not missing, repr(missing))
        code, _, _ = get(mport, "/other")
        ck.check("unknown path: got %s, want 404" % code, code == 404)
    # metrics.listen empty: nothing listens
    port = free_port()
    with Nsd(RECS) as ns, Senderauthd(ns.port) as d:
        try:
            get(port, "/metrics")
            off = False
        except (urllib.error.URLError, OSError):
            off = True
        ck.check("metrics.listen empty: no server", off and "metrics on" not in d.log_text())
    return ck.finish("metrics")


if __name__ == "__main__":
    sys.exit(main())
