#!/usr/bin/python3
"""test_arc_override.py - ARC through a real senderauthd, a real NSD and a consent store:
the trusted-sealer DMARC override (docs/forwarding.md) and arc= in the A-R.

Messages from bank.example (p=reject) arrive from an address its SPF does not allow and
without DKIM, so DMARC fails; the recipient consents to enforcement. Each carries ARC sets
made here with python3-dkim's arc_sign (an independent signer; keys generated per run):
- no ARC: 550 (the baseline);
- sealed by a trusted sealer whose AAR says dmarc=pass: accepted, enforce=override-arc,
  A-R arc=pass header.oldest-pass=0 smtp.remote-ip=<the IP in that AAR>;
- the same sealed by an untrusted sealer: 550 (its AAR is never evidence), arc=pass with
  no smtp.remote-ip;
- a trusted sealer whose AAR says dmarc=fail: 550;
- a trusted sealer whose AAR is for another From domain: 550;
- a trusted i=1 followed by an untrusted i=2 that rewrote the body: 550 (AMS(1) no
  longer verifies), header.oldest-pass=2;
- a trusted sealer, then the ARC-Seal altered: arc=fail, 550;
- arc.enable = false: no arc= and 550 even with the trusted seal;
- the metrics: senderauth_results_total{method="arc"} per result and
  senderauth_overrides_total{reason="arc"} count exactly those messages.
Prints one line per check, then `arc override: N passed, M failed`."""
import os
import re
import subprocess
import sys
import tempfile
import types

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

import dkim  # noqa: E402
from satest import milter  # noqa: E402
from satest.checks import Checks, metric, scrape, summary_line as summary  # noqa: E402
from satest.daemon import Senderauthd, build_dir, stop_all  # noqa: E402
from satest.dkimsign import KeyStore  # noqa: E402
from satest.nsd import Nsd, free_port  # noqa: E402

# python3-dkim's arc_sign parses A-R with the authres module, which Debian 12 does not
# ship: a minimal stand-in that reads "authserv-id; method=result ...; ..." is enough here.
if not hasattr(dkim, "authres"):
    class _Result:
        def __init__(self, method, result):
            self.method, self.result = method, result

    class _Header:
        def __init__(self, authserv_id, results):
            self.authserv_id, self.results = authserv_id, results

        @staticmethod
        def parse(text):
            parts = [p.strip() for p in text.split(":", 1)[1].split(";")]
            res = [_Result(*p.split()[0].split("=", 1)) for p in parts[1:] if "=" in p]
            return _Header(parts[0].split()[0], res)

    dkim.authres = types.SimpleNamespace(
        AuthenticationResultsHeader=_Header, AuthresNotFoundError=Exception,
        core=types.SimpleNamespace(SyntaxError=ValueError))

BAD_IP = "203.0.113.5"  # not in bank.example's SPF
AAR_IP = "192.0.2.77"   # the original client as the trusted sealer saw it
RCPT = "alice@example.jp"
SEAL_TIME = 1700000000


def ctl(conf_path, *args):
    p = subprocess.run([os.path.join(build_dir(), "senderauthctl"), "-c", conf_path] +
                       list(args), capture_output=True, text=True, timeout=30)
    if p.returncode not in (0, 1):
        raise RuntimeError("senderauthctl %s: %s" % (" ".join(args), p.stderr))


def base_message(qid, body=b"hello from the list\r\n"):
    hdrs = [("From", " Bank <news@bank.example>"), ("To", " " + RCPT),
            ("Subject", " list post " + qid), ("Message-ID", " <%s@bank.example>" % qid),
            ("Date", " Tue, 14 Nov 2023 22:13:20 +0000")]
    return hdrs, body


def render(hdrs, body):
    return b"".join(("%s:%s\r\n" % (n, v)).encode() for n, v in hdrs) + b"\r\n" + body


def seal(hdrs, body, key, domain, ar_payload):
    """Add one ARC set by `domain`, whose own A-R (turned into the AAR) is ar_payload."""
    msg = render([("Authentication-Results", " %s; %s" % (domain, ar_payload))] + hdrs, body)
    lines = dkim.arc_sign(msg, b"arc", domain.encode(), key.private, domain.encode(),
                          timestamp=str(SEAL_TIME))
    out = []
    for raw in lines:
        text = raw.decode().rstrip("\r\n")
        name, _, value = text.partition(":")
        out.append((name, value.replace("\r\n", "\n")))
    # arc_sign returns AAR, AMS, AS; the sealer puts them on top, newest set first (AS first)
    return list(reversed(out)) + [("Authentication-Results", " %s; %s" % (domain, ar_payload))] \
        + hdrs


QID = [0]


def send(port, hdrs, body):
    QID[0] += 1
    qid = "ARC%04d" % QID[0]
    with milter.MilterClient("127.0.0.1", port) as m:
        m.connect("list.sender.test", BAD_IP)
        m.helo("list.sender.test")
        m.mail("bounce@bank.example", macros={"i": qid})
        m.rcpt(RCPT)
        m.data()
        for n, v in hdrs:
            m.header(n, v)
        m.eoh()
        m.body(body)
        return m.eom(), qid


def ar_of(res):
    v = [v for n, v in res.added_headers() if n.lower() == "authentication-results"]
    return re.sub(r"\s+", " ", v[0]) if v else ""


def expect(t, d, name, hdrs, body, final, ar_has=(), ar_lacks=(), log_has=()):
    res, qid = send(d.port, hdrs, body)
    code = res.reply.code
    got = "accept" if code in ("accept", "continue") else (res.reply.text or code)[:3]
    ar, line, errs = ar_of(res), summary(d, qid), []
    if got != final:
        errs.append("got %s, want %s" % (got, final))
    errs += ["A-R lacks %r" % w for w in ar_has if w not in ar]
    errs += ["A-R has %r" % w for w in ar_lacks if re.search(r"(^|[ ;])" + re.escape(w), ar)]
    errs += ["log lacks %r" % w for w in log_has if w not in line]
    if " arc=" in line and not any(w.startswith("arc=") for w in log_has) and "arc=" not in \
            "".join(ar_has):
        errs.append("log names arc= for a message without ARC or with arc.enable off")
    t.check(name, not errs, "; ".join(errs) + "\n     A-R: %s\n     log: %s" % (ar, line))


def main():
    for tool in ("senderauthd", "senderauthctl"):
        if not os.access(os.path.join(build_dir(), tool), os.X_OK):
            raise SystemExit("no %s in %s: build it" % (tool, build_dir()))
    tmp = tempfile.mkdtemp(prefix="sa-arc-")
    keys = KeyStore(tmp)
    k_list, k_evil, k_other = keys.get("rsa1024-list"), keys.get("rsa1024-evil"), \
        keys.get("rsa1024-other")
    recs = [("bank.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
            ("bank.example", "A", "192.0.2.1"),
            ("_dmarc.bank.example", "TXT", "v=DMARC1; p=reject"),
            ("arc._domainkey.list.example", "TXT", k_list.dns_txt()),
            ("arc._domainkey.evil.example", "TXT", k_evil.dns_txt()),
            ("arc._domainkey.other.example", "TXT", k_other.dns_txt())]
    store = os.path.join(tmp, "consent.db")
    conf = {"trusted_networks": [], "dns": {"timeout": 1, "retries": 1},
            "psl": {"path": "/usr/share/publicsuffix/public_suffix_list.dat"},
            "store": {"backend": "sqlite", "sqlite_path": store},
            "policy": {"mode": "enforce", "cache_ttl": 0},
            "arc": {"trusted_sealers": "other.example, list.example"}}
    t = Checks()
    daemons = []
    with Nsd(recs) as ns:
        try:
            mport = free_port()
            d = Senderauthd(ns.port, conf=dict(conf, metrics={"listen": "127.0.0.1:%d" % mport}))
            daemons.append(d)
            off = Senderauthd(ns.port, conf=dict(conf, arc={"enable": False,
                                                            "trusted_sealers": "list.example"}))
            daemons.append(off)
            d.write_conf()
            ctl(d.conf_path, "init")
            ctl(d.conf_path, "user", "set", RCPT, "on", "--channel", "test", "--actor", "satest")
            d.start()
            off.start()
            pass_aar = "dmarc=pass header.from=bank.example; spf=pass smtp.remote-ip=" + AAR_IP

            hdrs, body = base_message("plain")
            expect(t, d, "no ARC: DMARC p=reject enforced", hdrs, body, "550",
                   log_has=["dmarc=fail", "enforce=policy-reject"])

            hdrs, body = base_message("trusted")
            sealed = seal(hdrs, body, k_list, "list.example", pass_aar)
            expect(t, d, "trusted sealer saw dmarc=pass: override", sealed, body, "accept",
                   ar_has=["arc=pass", "header.oldest-pass=0", "smtp.remote-ip=" + AAR_IP,
                           "dmarc=fail", "override arc"],
                   log_has=["arc=pass:sets=1:oldest-pass=0:override=arc:list.example",
                            "enforce=override-arc"])
            expect(t, off, "arc.enable=false: no arc=, enforced", sealed, body, "550",
                   log_has=["enforce=policy-reject"])

            hdrs, body = base_message("untrusted")
            sealed = seal(hdrs, body, k_evil, "evil.example", pass_aar)
            expect(t, d, "untrusted sealer's dmarc=pass is not evidence", sealed, body, "550",
                   log_has=["arc=pass:sets=1:oldest-pass=0 ", "enforce=policy-reject"])

            hdrs, body = base_message("aarfail")
            sealed = seal(hdrs, body, k_list, "list.example",
                          "dmarc=fail header.from=bank.example")
            expect(t, d, "trusted sealer saw dmarc=fail: enforced", sealed, body, "550",
                   log_has=["arc=pass:sets=1:oldest-pass=0 ", "enforce=policy-reject"])

            hdrs, body = base_message("otherfrom")
            sealed = seal(hdrs, body, k_list, "list.example",
                          "dmarc=pass header.from=elsewhere.example")
            expect(t, d, "trusted AAR for another From domain: enforced", sealed, body, "550",
                   log_has=["arc=pass:sets=1:oldest-pass=0 ", "enforce=policy-reject"])

            hdrs, body = base_message("rewrite")
            sealed = seal(hdrs, body, k_list, "list.example", pass_aar)
            evil_body = b"pay to this account instead\r\n"
            resealed = seal(sealed, evil_body, k_evil, "evil.example",
                            "dmarc=fail header.from=bank.example; arc=pass")
            expect(t, d, "untrusted hop rewrote the body after the trusted seal: enforced",
                   resealed, evil_body, "550",
                   log_has=["arc=pass:sets=2:oldest-pass=2 ", "enforce=policy-reject"])

            hdrs, body = base_message("twotrusted")
            sealed = seal(hdrs, body, k_list, "list.example", pass_aar)
            resealed = seal(sealed, b"[list footer]\r\n", k_other, "other.example",
                            "dmarc=fail header.from=bank.example; arc=pass")
            expect(t, d, "trusted i=1 then trusted i=2 that changed the body: override",
                   resealed, b"[list footer]\r\n", "accept",
                   ar_has=["arc=pass", "header.oldest-pass=2", "smtp.remote-ip=" + AAR_IP],
                   log_has=["enforce=override-arc"])

            hdrs, body = base_message("broken")
            sealed = seal(hdrs, body, k_list, "list.example", pass_aar)
            broken = [(n, v.replace("cv=none", "cv=none; x=1")) if n == "ARC-Seal" else (n, v)
                      for n, v in sealed]
            expect(t, d, "altered ARC-Seal: arc=fail, enforced", broken, body, "550",
                   log_has=["arc=fail:sets=1 ", "enforce=policy-reject"])

            text = scrape(mport)
            for series, want in (('senderauth_results_total{method="arc",result="none"}', 1),
                                 ('senderauth_results_total{method="arc",result="pass"}', 6),
                                 ('senderauth_results_total{method="arc",result="fail"}', 1),
                                 ('senderauth_overrides_total{reason="arc"}', 2)):
                got = metric(text, series)
                t.check("metrics %s: got %s, want %d" % (series, got, want), got == want)
        finally:
            stop_all(daemons)
    print("arc override: %d passed, %d failed" % (t.passed, t.failed))
    return 1 if t.failed or t.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
