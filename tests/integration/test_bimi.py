#!/usr/bin/python3
"""test_bimi.py - BIMI through a real senderauthd, a real NSD and a loopback HTTPS server
(python http.server + ssl) serving logos and mark certificates generated at test time
(satest/bimi_ca.py): bimi=pass for a VMC (with BIMI-Location, BIMI-Indicator equal to the
logo, policy.authority=vmc, level=bimi; authority=vmc) and a CMC, a CMC refused by
bimi.accept_cmc, each failure (expired certificate, SAN mismatch, logo mismatch, script in
the SVG, oversized SVG, redirect to http), a logo URL naming another domain's (large)
mark certificate not poisoning the fetch cache for that certificate, p=none and a parent domain's p=none skipped,
forged BIMI-Location/BIMI-Indicator removed, a slow logo server -> temperror, the fetch
cache (one certificate request for two messages), a BIMI-Selector used only when a
passing DKIM signature aligned with the author domain covers it (unsigned, signed by
another domain, signed but doubled: `default`), bimi.enable = false, and the counters on
/metrics (results_total{method="bimi"}, passes by authority, fetch outcomes).
Prints one line per check, then `bimi: N passed, M failed`."""
import base64
import os
import re
import shutil
import sys
import tempfile
import threading
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import milter  # noqa: E402
from satest.checks import metric, scrape  # noqa: E402
from satest.daemon import Senderauthd, free_port, scaled, stop_all  # noqa: E402
from satest.dkimsign import KeyStore, sign  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

try:
    from satest import bimi_ca  # noqa: E402
except ImportError as e:  # python3-cryptography missing
    print("SKIP: bimi_ca needs python3-cryptography (%s)" % e)
    sys.exit(77)

CLIENT_IP = "192.0.2.1"
QID = [0]

# domain -> (DMARC record, BIMI l= path, a= path); None = no BIMI record
DOMAINS = {
    "vmc.example": ("v=DMARC1; p=reject", "logo.svg", "vmc.pem"),
    "cmc.example": ("v=DMARC1; p=quarantine", "logo.svg", "cmc.pem"),
    "expired.example": ("v=DMARC1; p=reject", "logo.svg", "expired.pem"),
    "wrongsan.example": ("v=DMARC1; p=reject", "logo.svg", "wrongsan.pem"),
    "mismatch.example": ("v=DMARC1; p=reject", "logo.svg", "mismatch.pem"),
    "script.example": ("v=DMARC1; p=reject", "script.svg", "vmc.pem"),
    "big.example": ("v=DMARC1; p=reject", "big.svg", "vmc.pem"),
    "redirect.example": ("v=DMARC1; p=reject", "redirect-http.svg", "vmc.pem"),
    "slow.example": ("v=DMARC1; p=reject", "slow.svg", "vmc.pem"),
    # l= names bigcert.example's certificate file (over the 32 KB logo cap), which must
    # not leave a "too large" failure in the cache for that file as a certificate.
    "poison.example": ("v=DMARC1; p=reject", "vmc-big.pem", "vmc.pem"),
    "bigcert.example": ("v=DMARC1; p=reject", "logo.svg", "vmc-big.pem"),
    "none.example": ("v=DMARC1; p=none", "logo.svg", "vmc.pem"),
    "lax.example": ("v=DMARC1; p=none", "logo.svg", "vmc.pem"),
    "news.lax.example": ("v=DMARC1; p=reject", "logo.svg", "vmc.pem"),
    "nobimi.example": ("v=DMARC1; p=reject", None, None),
    "declined.example": ("v=DMARC1; p=reject", None, None),
}


class Handler(bimi_ca.Handler):
    files = {}
    counts = {}
    release = threading.Event()
    port = 0

    def special(self, path):
        Handler.counts[path] = Handler.counts.get(path, 0) + 1
        if path == "slow.svg":
            Handler.release.wait(60)  # held until the test ends: the client must give up
            return True
        if path == "redirect-http.svg":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:%d/logo.svg" % Handler.port)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        return False


def records(port, key):
    recs = [("s1._domainkey.vmc.example", "TXT", key.dns_txt()),
            ("s1._domainkey.cmc.example", "TXT", key.dns_txt())]
    for d, (dmarc, logo, cert) in DOMAINS.items():
        recs.append((d, "TXT", "v=spf1 ip4:%s -all" % CLIENT_IP))
        recs.append((d, "A", "192.0.2.80"))
        recs.append(("_dmarc." + d, "TXT", dmarc))
        if logo:
            recs.append(("default._bimi." + d, "TXT",
                         "v=BIMI1; l=https://127.0.0.1:%d/%s; a=https://127.0.0.1:%d/%s" %
                         (port, logo, port, cert)))
    # A subdomain without records of its own: DMARC and BIMI come from vmc.example.
    recs += [("mail.vmc.example", "TXT", "v=spf1 ip4:%s -all" % CLIENT_IP),
             ("mail.vmc.example", "A", "192.0.2.80")]
    recs.append(("default._bimi.declined.example", "TXT", "v=BIMI1; l=; a="))
    recs.append(("brand._bimi.vmc.example", "TXT",
                 "v=BIMI1; l=https://127.0.0.1:%d/logo.svg; a=https://127.0.0.1:%d/gov.pem" %
                 (port, port)))
    return recs


def signed(key, domain, extra, sigs):
    """extra headers with DKIM-Signature fields on top: sigs is [(d=, [signed names])]"""
    hdrs = [("From", " u@" + domain), ("Subject", " bimi")] + list(extra)
    raw = "".join("%s:%s\r\n" % hv for hv in hdrs).encode() + b"\r\n" + BODY
    out = []
    for d, names in sigs:
        line = sign(raw, key, d, "s1", headers=names)
        out.append(tuple(line.split(":", 1)))
    return tuple(out) + tuple(extra)


BODY = b"hi\r\n"


def send(d, domain, extra=()):
    QID[0] += 1
    qid = "BIMI%04d" % QID[0]
    # The client waits longer than the daemon's bimi.timeout (scaled under valgrind).
    with milter.MilterClient("127.0.0.1", d.port, timeout=scaled(20)) as m:
        m.connect("client.test", CLIENT_IP)
        m.helo("mail." + domain)
        m.mail("u@" + domain, macros={"i": qid})
        m.rcpt("r@example.jp")
        m.data()
        sigs = tuple(hv for hv in extra if hv[0] == "DKIM-Signature")
        rest = tuple(hv for hv in extra if hv[0] != "DKIM-Signature")
        for n, v in sigs + (("From", " u@" + domain), ("Subject", " bimi")) + rest:
            m.header(n, v)
        m.eoh()
        m.body(BODY)
        return m.eom(), qid


def summary(d, qid):
    for _ in range(100):
        for line in d.log_text().splitlines():
            if qid + ":" in line and "action=" in line:
                return line
        time.sleep(0.02)  # the log line may trail the reply by a moment (bounded)
    return ""


def unfold(v):
    return re.sub(r"\s+", " ", v).strip()


def check_metrics(text, cases):
    """The daemon's counters against what its cases should have counted: one bimi result
    per message (skipped counts as none), one pass per authority, and the fetch outcomes
    (the slow server is the one timeout; the redirect and the oversized logo failed; the
    repeated vmc.example messages were answered from the cache)."""
    want = {}
    for c in cases:
        r = re.match(r"bimi=(\w+)", c[4][-1] if c[4] else "").group(1)
        r = "none" if r == "skipped" else r
        want[r] = want.get(r, 0) + 1
    errs = []
    for r in ("pass", "fail", "none", "temperror"):
        got = metric(text, 'senderauth_results_total{method="bimi",result="%s"}' % r)
        if got != want.get(r, 0):
            errs.append("results_total bimi %s: got %s, want %d" % (r, got, want.get(r, 0)))
    for a in ("vmc", "cmc"):
        n = sum(1 for c in cases if c[6] == a)
        got = metric(text, 'senderauth_bimi_passes_total{authority="%s"}' % a)
        if got != n:
            errs.append("passes %s: got %s, want %d" % (a, got, n))
    f = {o: metric(text, 'senderauth_bimi_fetches_total{outcome="%s"}' % o)
         for o in ("fetched", "cached", "timeout", "failed")}
    if f["timeout"] != 1 or not f["fetched"] or not f["cached"] or not f["failed"] or \
            f["failed"] < 2:
        errs.append("fetches %r, want timeout 1, failed >= 2, fetched and cached > 0" % f)
    return errs


def main():
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="sa-bimi-")
    files = bimi_ca.make(tmp, [d for d in DOMAINS])
    with open(files["vmc.pem"], "rb") as f:  # the same chain, then text PEM readers skip
        big = f.read() + b"padding after the certificates\n" * 1500
    files["vmc-big.pem"] = os.path.join(tmp, "vmc-big.pem")
    with open(files["vmc-big.pem"], "wb") as f:
        f.write(big)
    key = KeyStore(tmp).get("ed25519")
    with open(files["logo.svg"], "rb") as f:
        logo = f.read()
    srv = bimi_ca.serve(Handler, files)
    port = Handler.port = srv.port
    daemons = []
    base = {"bimi": {"enable": True, "trust_file": files["mark-ca.pem"],
                     "https_ca_file": files["https-ca.pem"],
                     "timeout": max(2, int(scaled(2)))}}
    try:
        with Nsd(records(port, key)) as ns:
            mport = free_port()
            on = Senderauthd(ns.port, conf=dict(base, metrics={"listen": "127.0.0.1:%d" % mport}))
            nocmc = Senderauthd(ns.port, conf={"bimi": dict(base["bimi"], accept_cmc=False)})
            off = Senderauthd(ns.port, conf={})
            daemons += [on, nocmc, off]
            for d in daemons:
                d.start()
            forged = (("BIMI-Location", " v=BIMI1; l=https://evil.example/x.svg"),
                      ("BIMI-Indicator", " PHN2Zz4="), ("bimi-location", " second"))
            sel = (("BIMI-Selector", " v=BIMI1; s=brand"),)
            fs = ["From", "Subject"]
            sel_signed = signed(key, "vmc.example", sel, [("vmc.example", fs + ["BIMI-Selector"])])
            sel_unsigned = signed(key, "vmc.example", sel, [("vmc.example", fs)])
            sel_other = signed(key, "vmc.example", sel, [("cmc.example", fs + ["BIMI-Selector"])])
            sel_twice = (("BIMI-Selector", " v=BIMI1; s=other"),) + sel_signed
            cases = [
                # name, daemon, domain, extra headers, A-R words, log words, pass (authority)
                ("vmc pass", on, "vmc.example", (), [
                    "bimi=pass header.d=vmc.example header.selector=default "
                    "policy.authority=vmc"], ["bimi=pass:vmc"], "vmc"),
                ("vmc pass again (cached)", on, "vmc.example", (), ["bimi=pass"], [], "vmc"),
                ("cmc pass", on, "cmc.example", (), [
                    "bimi=pass header.d=cmc.example header.selector=default "
                    "policy.authority=cmc"], ["bimi=pass:cmc"], "cmc"),
                ("cmc refused", nocmc, "cmc.example", (), [
                    "bimi=fail (CMC not accepted here)"], [], None),
                ("vmc with cmc refused", nocmc, "vmc.example", (), ["bimi=pass"], [], "vmc"),
                ("signed selector", on, "vmc.example", sel_signed, [
                    "dkim=pass", "bimi=pass header.d=vmc.example header.selector=brand "
                    "policy.authority=vmc"], [], "vmc"),
                ("selector not in h= ignored", on, "vmc.example", sel_unsigned, [
                    "dkim=pass", "bimi=pass header.d=vmc.example header.selector=default "
                    "policy.authority=vmc"], [], "vmc"),
                ("selector without signature ignored", on, "vmc.example", sel, [
                    "bimi=pass header.d=vmc.example header.selector=default "], [], "vmc"),
                ("selector signed by another domain ignored", on, "vmc.example", sel_other, [
                    "dkim=pass", "bimi=pass header.d=vmc.example header.selector=default "],
                 [], "vmc"),
                ("two selectors ignored", on, "vmc.example", sel_twice, [
                    "bimi=pass header.d=vmc.example header.selector=default "], [], "vmc"),
                ("expired", on, "expired.example", (), [
                    "bimi=fail (certificate expired) header.d=expired.example"], [], None),
                ("san mismatch", on, "wrongsan.example", (), [
                    "bimi=fail (certificate does not name wrongsan.example)"], [], None),
                ("logo mismatch", on, "mismatch.example", (), [
                    "bimi=fail (logo does not match certificate)"], [], None),
                ("script svg", on, "script.example", (), [
                    "bimi=fail (logo: forbidden element script)"], [], None),
                ("oversized svg", on, "big.example", (), [
                    "bimi=fail (logo: document larger than 32768 bytes)"], [], None),
                ("redirect to http", on, "redirect.example", (), [
                    "bimi=fail (logo: fetch:"], [], None),
                ("certificate file as logo", on, "poison.example", (), [
                    "bimi=fail (logo: document larger than 32768 bytes)"], [], None),
                ("same file as certificate", on, "bigcert.example", (), [
                    "bimi=pass header.d=bigcert.example header.selector=default "
                    "policy.authority=vmc"], [], "vmc"),
                ("p=none skipped", on, "none.example", (), [
                    "bimi=skipped (dmarc policy not enforcing)"], ["bimi=skipped"], None),
                ("parent p=none skipped", on, "news.lax.example", (), [
                    "bimi=skipped (organizational domain dmarc not enforcing)"], [], None),
                ("organizational domain's record", on, "mail.vmc.example", (), [
                    "bimi=pass header.d=vmc.example header.selector=default "
                    "policy.authority=vmc"], [], "vmc"),
                ("declined", on, "declined.example", (), ["bimi=none (declined)"], [], None),
                ("no record", on, "nobimi.example", (), [
                    "bimi=none (no BIMI record)"], [], None),
                ("forged removed on pass", on, "vmc.example", forged, ["bimi=pass"], [], "vmc"),
                ("forged removed on fail", on, "expired.example", forged, ["bimi=fail"], [],
                 None),
                ("slow server", on, "slow.example", (), [
                    "bimi=temperror (logo: fetch: Timeout was reached)"], ["bimi=temperror"],
                 None),
                ("off", off, "vmc.example", forged, [], [], None),
            ]
            for name, d, domain, extra, ar_has, log_has, auth in cases:
                res, qid = send(d, domain, extra)
                added = res.added_headers()
                ar = " ".join(unfold(v) for n, v in added
                              if n.lower() == "authentication-results")
                trust = [unfold(v) for n, v in added if n.lower() == "x-senderauth-trust"]
                loc = [unfold(v) for n, v in added if n.lower() == "bimi-location"]
                ind = [v for n, v in added if n.lower() == "bimi-indicator"]
                dels = sorted((m.name.lower(), m.index) for m in res.mods
                              if m.kind == "chgheader" and m.name.lower().startswith("bimi-"))
                line = summary(d, qid)
                errs = ["A-R lacks %r" % w for w in ar_has if w not in ar]
                errs += ["log lacks %r" % w for w in log_has if w not in line]
                if res.reply is None or res.reply.code != "continue":
                    errs.append("reply %r, want continue" % res.reply)
                if auth:
                    want_loc = "v=BIMI1; l=https://127.0.0.1:%d/logo.svg;" % port
                    if len(loc) != 1 or not loc[0].startswith(want_loc):
                        errs.append("BIMI-Location %r, want one starting %r" % (loc, want_loc))
                    if len(ind) != 1 or base64.b64decode(re.sub(r"\s+", "", ind[0])) != logo:
                        errs.append("BIMI-Indicator is not the logo (%d fields)" % len(ind))
                    elif any(len(x.strip()) > 76 for x in ind[0].split("\n")):
                        errs.append("BIMI-Indicator lines longer than 76")
                    want_t = "level=bimi; from=%s; authority=%s" % (domain, auth)
                    if trust != [want_t]:
                        errs.append("trust %r, want %r" % (trust, [want_t]))
                else:
                    if loc or ind:
                        errs.append("BIMI fields added without a pass: %r %r" % (loc, ind))
                    if any("level=bimi" in t for t in trust):
                        errs.append("level=bimi without a pass: %r" % trust)
                want_dels = sorted([("bimi-location", 2), ("bimi-location", 1),
                                    ("bimi-indicator", 1)]) if extra == forged and d is not off \
                    else []
                if dels != want_dels:
                    errs.append("deleted %r, want %r" % (dels, want_dels))
                if d is off and "bimi" in ar:
                    errs.append("bimi ran with bimi.enable off")
                if errs:
                    failed += 1
                    print("FAIL %s: %s\n     A-R: %s\n     log: %s" % (name, "; ".join(errs), ar,
                                                                     line))
                else:
                    passed += 1
                    print("ok   " + name)
            # The fetch cache: two vmc.example messages to `on`, one certificate request
            # from it (nocmc fetched it once too; the selector case used gov.pem).
            n = Handler.counts.get("vmc.pem", 0)
            if n == 2:
                passed += 1
                print("ok   cache: vmc.pem fetched once per daemon")
            else:
                failed += 1
                print("FAIL cache: vmc.pem requested %d times, want 2 (one per daemon)" % n)
            errs = check_metrics(scrape(mport), [c for c in cases if c[1] is on])
            if errs:
                failed += 1
                print("FAIL metrics: " + "; ".join(errs))
            else:
                passed += 1
                print("ok   metrics: bimi results, passes by authority, fetch outcomes")
    finally:
        Handler.release.set()
        for e in stop_all(daemons):  # a crash, a sanitizer or valgrind report at exit
            failed += 1
            print("FAIL daemon: %s" % e)
        srv.shutdown()
        srv.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("bimi: %d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
