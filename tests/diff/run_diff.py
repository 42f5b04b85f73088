#!/usr/bin/python3
"""run_diff.py - differential test: senderauthd against pyspf, python3-dkim and
Mail::DMARC on a generated corpus (see corpus.py and docs/conformance.md).

    SA_SRC=$PWD SA_BUILD=$PWD/build /usr/bin/python3 tests/diff/run_diff.py \
        [--count 2000] [--seed 8] [--json out.json] [--show CLASS]

1. Generates the corpus (seeded), merges every message's records into one zone and
   starts the real NSD on loopback, then senderauthd pointed at it.
2. Sends each message over the milter protocol (its own connection: client address,
   HELO, MAIL FROM, headers, body) and reads the Authentication-Results it adds.
3. Evaluates the same message with pyspf (MAIL FROM and HELO), python3-dkim (each
   signature) and Mail::DMARC (fed the reference SPF and DKIM results and the From
   domain the generator wrote), all resolving through the same NSD.
4. Compares per method and sorts every disagreement into a class (method, our word,
   their word, the generator's scenario label). Prints the agreement rate per method
   and the class table; --json writes both for the test to judge.
"""
import argparse
import collections
import json
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)

from satest import milter                      # noqa: E402
from satest.cases import parse as ar_parse     # noqa: E402
from satest.daemon import Senderauthd          # noqa: E402
from satest.dkimsign import KeyStore           # noqa: E402
from satest.nsd import Nsd                     # noqa: E402

import corpus                                  # noqa: E402
import refs                                    # noqa: E402

AUTHSERV_ID = "mx.test.example"
METHODS = ("spf-mailfrom", "spf-helo", "dkim", "dkim-verdict", "dmarc", "dmarc-policy")
DAEMON_CONF = {"dns": {"timeout": 3, "retries": 2},
               "log": {"level": "info"}}
SEND_THREADS = 4


# ---- senderauthd side ----

def send_one(port, m):
    """One message on its own milter connection; returns our A-R (parsed) or an error."""
    with milter.MilterClient("127.0.0.1", port) as cl:
        r = cl.connect("client.invalid", m.ip, port=25)
        if r.is_terminal():
            return None, "connect answered %r" % r
        r = cl.helo(m.helo)
        if r.is_terminal():
            return None, "helo answered %r" % r
        res = cl.message(m.mail_from, ["user@" + AUTHSERV_ID], m.headers, m.body,
                         queue_id="D%07d" % m.idx)
    if res.reply is None or res.reply.code not in ("accept", "continue"):
        return None, "reply %r" % (res.reply,)
    ars = [v for n, v in res.added_headers() if n.lower() == "authentication-results"]
    if len(ars) != 1:
        return None, "%d A-R fields added" % len(ars)
    try:
        return ar_parse(milter.unfold(ars[0])), None
    except ValueError as e:
        return None, "A-R does not parse: %s" % e


def ours_of(ar):
    """Our verdicts from the A-R: {spf-mailfrom, spf-helo, dkim: {b8: (word, reason)},
    dmarc, dmarc-from, dmarc-policy}."""
    out = {"dkim": {}}
    for ri in ar.results:
        if ri.method == "spf":
            if "smtp.mailfrom" in ri.props:
                out["spf-mailfrom"] = ri.result
            elif "smtp.helo" in ri.props:
                out["spf-helo"] = ri.result
        elif ri.method == "dkim":
            out["dkim"][ri.props.get("header.b", "")[:8]] = (ri.result, ri.reason or "")
            if not ri.props:
                out["dkim-none"] = ri.result
        elif ri.method == "dmarc":
            out["dmarc"] = ri.result
            out["dmarc-from"] = ri.props.get("header.from", "").lower()
            out["dmarc-policy"] = ri.props.get("policy.dmarc", "")
            out["dmarc-reason"] = ri.reason or ""
    return out


# ---- comparison ----

class Tally:
    def __init__(self):
        self.n = collections.Counter()
        self.agree = collections.Counter()
        self.classes = collections.Counter()
        self.examples = {}

    def add(self, method, ours, ref, label, idx, detail=""):
        self.n[method] += 1
        if ours == ref:
            self.agree[method] += 1
            return True
        cls = "%s: ours=%s ref=%s [%s]" % (method, ours, ref, label)
        self.classes[cls] += 1
        self.examples.setdefault(cls, []).append((idx, detail))
        return False

    def rates(self):
        return {m: (self.agree[m], self.n[m]) for m in METHODS if self.n[m]}


def spf_label(m, ident, word, expl):
    label = m.tags.get("spf" if ident == "mailfrom" else "spf_helo") or "none"
    if word == "permerror" and "Void lookup" in (expl or ""):
        label += "/ref:void-limit"
    elif word == "permerror" and "Too many DNS lookups" in (expl or ""):
        label += "/ref:lookup-limit"   # docs/conformance.md S3
    return label


def verdict(word):
    """What DMARC and a receiver act on: pass, not-pass, or a temporary error."""
    return word if word in ("pass", "temperror") else "not-pass"


def compare(m, ours, tally, dmarc_ref):
    """Compare SPF and DKIM of one message and queue its DMARC reference evaluation;
    returns a function that finishes the DMARC comparison once Mail::DMARC answered."""
    srefs = refs.spf_refs(m)
    bad_upstream = False
    for ident, _dom, word, expl in srefs:
        key = "spf-mailfrom" if ident == "mailfrom" else "spf-helo"
        if not tally.add(key, ours.get(key), word, spf_label(m, ident, word, expl), m.idx,
                         expl):
            bad_upstream = True
    drefs = refs.dkim_refs(m.raw(), dns_res, len(m.sigs))
    # Header order: the signature added last is on top.
    dk_feed = []
    for s, (word, why) in zip(reversed(m.sigs), drefs):
        got = ours["dkim"].get(s["b"][:8], ("missing", ""))
        label = s["kind"] + ("+l" if s["l"] else "") + "/" + m.tags.get("dkim_after", "")
        detail = "d=%s s=%s ours(%s) ref(%s)" % (s["d"], s["s"], got[1], why)
        tally.add("dkim", got[0], word, label, m.idx, detail)
        if not tally.add("dkim-verdict", verdict(got[0]), verdict(word), label, m.idx, detail):
            bad_upstream = True
        dk_feed.append({"domain": s["d"], "selector": s["s"], "result": word})
    # DMARC: Mail::DMARC gets the reference results for the identity DMARC uses
    # (RFC 7489 3.1.2: MAIL FROM, or HELO for a null reverse-path).
    mf = [x for x in srefs if x[0] == "mailfrom"]
    if mf:
        spf_feed = [{"domain": mf[0][1], "scope": "mfrom", "result": mf[0][2]}]
    else:
        spf_feed = [{"domain": m.helo, "scope": "helo", "result": srefs[-1][2]}]
    n = dmarc_ref.submit(m.from_domain, spf_feed, dk_feed)

    def finish():
        d = dmarc_ref.result(n)
        ref_word = d.get("result") or ("error: " + str(d.get("error")))
        why = d.get("reason") or ""
        label = "dmarc@" + m.tags.get("dmarc", "")
        if "not in DNS" in why:
            label = "ref:from-domain-not-in-dns"
        elif "too many policies" in why:
            label = "ref:several-records"
        elif bad_upstream:
            label = "after-spf-or-dkim-disagreement"
        if ours.get("dmarc-from") and ours["dmarc-from"] != m.from_domain:
            tally.add("dmarc", "header.from=" + ours["dmarc-from"],
                      "header.from=" + m.from_domain, "from:" + m.tags.get("from", ""), m.idx)
        else:
            tally.add("dmarc", ours.get("dmarc"), ref_word, label, m.idx,
                      "ours(%s) ref(%s)" % (ours.get("dmarc-reason"), why))
        if d.get("p") and ours.get("dmarc-policy"):
            sub = d.get("subdomain") and d.get("sp")
            ref_pol = (d["sp"] if sub else d["p"]).lower()
            plabel = "np" if d.get("np") and d.get("subdomain") and \
                ours["dmarc-policy"] == d["np"].lower() else \
                "p-absent-with-rua" if m.tags.get("dmarc_p") == "absent" else label
            tally.add("dmarc-policy", ours["dmarc-policy"], ref_pol, plabel, m.idx,
                      "ref p=%s sp=%s np=%s sub=%s" % (d.get("p"), d.get("sp"), d.get("np"),
                                                       d.get("subdomain")))
    return finish


dns_res = None


def run(count, seed, keep=False, threads=SEND_THREADS, only=None, conf=None):
    global dns_res
    work = tempfile.mkdtemp(prefix="sa-diff-")
    keys = KeyStore(work)
    msgs = [corpus.Builder(seed, i, keys).build() for i in only] if only else \
        corpus.generate(seed, count, keys)
    records, seen = [], set()
    for m in msgs:
        for rec in m.records:
            k = (rec[0].lower(), rec[1], json.dumps(rec[2]))
            if k not in seen:
                seen.add(k)
                records.append(rec)
    tally = Tally()
    errors = []
    pending = []
    with Nsd(records) as ns:
        dns_res = refs.use_nameserver(ns.port)
        dref = refs.DmarcRef(ns.port, work)
        try:
            with Senderauthd(ns.port, conf=conf or DAEMON_CONF) as d:
                with ThreadPoolExecutor(threads) as ex:
                    futs = [ex.submit(send_one, d.port, m) for m in msgs]
                    for m, f in zip(msgs, futs):
                        ar, err = f.result()
                        if err:
                            errors.append("message %d: %s" % (m.idx, err))
                            continue
                        pending.append(compare(m, ours_of(ar), tally, dref))
                for finish in pending:
                    finish()
        finally:
            dref.close()
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return {"count": count, "seed": seed, "fingerprint": corpus.fingerprint(msgs),
            "records": len(records),
            "signatures": sum(len(m.sigs) for m in msgs),
            "rates": tally.rates(), "classes": dict(tally.classes),
            "examples": {k: v[:50] for k, v in tally.examples.items()}, "errors": errors}


def report(out, stream=sys.stdout):
    p = lambda *a: print(*a, file=stream)  # noqa: E731
    p("corpus: %d messages, seed %d, %d DNS records, %d DKIM signatures, fingerprint %s" %
      (out["count"], out["seed"], out["records"], out["signatures"], out["fingerprint"]))
    p("%-14s %8s %8s %9s" % ("method", "agree", "total", "rate"))
    for mth, (a, n) in out["rates"].items():
        p("%-14s %8d %8d %8.2f%%" % (mth, a, n, 100.0 * a / n))
    if out["classes"]:
        p("disagreement classes:")
        for cls, n in sorted(out["classes"].items(), key=lambda kv: (-kv[1], kv[0])):
            ex = ", ".join("#%d" % i for i, _ in out["examples"][cls][:3])
            p("  %5d  %s  (e.g. %s)" % (n, cls, ex))
    for e in out["errors"]:
        p("ERROR " + e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--json")
    ap.add_argument("--show", help="print the examples of classes containing this text")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--only", help="comma-separated message numbers (a reproducer)")
    ap.add_argument("--debug", action="store_true", help="daemon log level debug (SA_KEEP=1 "
                    "keeps the log)")
    a = ap.parse_args()
    only = [int(x) for x in a.only.split(",")] if a.only else None
    conf = dict(DAEMON_CONF, log={"level": "debug"}) if a.debug else None
    out = run(len(only) if only else a.count, a.seed, a.keep, only=only, conf=conf)
    report(out)
    if a.show:
        for cls, exs in out["examples"].items():
            if a.show in cls:
                print(cls)
                for idx, detail in exs:
                    print("   #%d %s" % (idx, detail))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
