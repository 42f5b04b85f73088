#!/usr/bin/python3
"""demo.py - senderauthd end to end on this machine, no network needed.

Starts, all on 127.0.0.1:
- a real DNS server (NSD) with the sample zones (DKIM keys are generated and the
  samples signed right now);
- senderauthd pointed at it, with a demo configuration: DMARC enforcement on, a SQLite
  consent store in which senderauthctl records that taro@example.jp consented
  (hanako@example.jp has no row, so nothing is enforced for her), a warning list
  (bank.example) and a trust-mark list (shop.example);
- a private Postfix (Debian's package; its own configuration, queue and maildirs in a
  temp directory) listening on a high port, with smtpd_milters pointing at senderauthd.

Then it sends each sample in tests/demo/samples/ over SMTP. XCLIENT gives Postfix (and
so senderauthd) the sample's client address and HELO name, as if the sample's sender
had connected. For each delivered message it prints the verdict headers as they were
delivered into the recipient's maildir (Authentication-Results, X-Senderauth-*); for
each rejected one the SMTP reply. Last comes a summary table.

With --milter, Postfix is left out and the samples go straight to senderauthd over the
milter protocol (as Postfix would send them), for machines without Postfix.

Usage: SA_BUILD=build python3 tests/demo/demo.py [--milter] [-v]
  --milter  talk the milter protocol to senderauthd instead of running Postfix
  -v        also print senderauthd's log lines for each message
Exit status: 0 when every sample came out as its file expects.
"""
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import textwrap
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import cases as sc  # noqa: E402
from satest import milter  # noqa: E402
from satest import postfix  # noqa: E402
from satest.daemon import Senderauthd, DaemonError, build_dir  # noqa: E402
from satest.dkimsign import KeyStore  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

SAMPLES = os.path.join(SRC, "tests/demo/samples")
AUTHSERV_ID = "mx.example.jp"
CONSENTING = "taro@example.jp"     # senderauthctl user set ... on
NOT_CONSENTING = "hanako@example.jp"  # no row: policy.default_enforce = false
WARNING_DOMAINS = ["bank.example"]
TRUSTMARK_DOMAINS = ["shop.example"]
SMTP_TIMEOUT = 30
WIDTH = 100


def daemon_conf(tmp):
    """The demo configuration: enforcement on, consent store, both lists."""
    lists = {}
    for key, name, domains in (("warning_file", "warning-domains", WARNING_DOMAINS),
                               ("trustmark_file", "trustmark-domains", TRUSTMARK_DOMAINS)):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write("".join(d + "\n" for d in domains))
        lists[key] = path
    return {"authserv_id": AUTHSERV_ID,
            "trusted_networks": ["127.0.0.0/8"],
            "dns": {"timeout": 2, "retries": 1},
            "log": {"level": "info"},
            "store": {"backend": "sqlite", "sqlite_path": os.path.join(tmp, "consent.db")},
            "policy": {"mode": "enforce", "default_enforce": False, "cache_ttl": 0},
            "lists": lists}


def ctl(conf_path, *args):
    """Run senderauthctl with the daemon's configuration; returns its output."""
    exe = os.path.join(build_dir(), "senderauthctl")
    p = subprocess.run([exe, "-c", conf_path] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    if p.returncode != 0:
        raise DaemonError("senderauthctl %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                             p.stdout.strip()))
    return p.stdout.strip()


# ---- what the table shows ----
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


def summary_words(line):
    """spf / dkim / dmarc of senderauthd's summary line, worded like short() (for
    rejected mail, which has no delivered header to read them from)."""
    kv = dict(re.findall(r"\b(\w+)=(\S+)", line or ""))
    if not kv:
        return ["-", "-", "-"]
    spf = kv.get("spf", "-").split(":")[0]
    dkim = []
    for sig in kv.get("dkim", "-").split(","):
        res, _, rest = sig.partition(":")
        dkim.append(res + (" (%s)" % rest.split("/")[0] if rest else ""))
    dmarc = kv.get("dmarc", "-")
    if kv.get("policy", "-") != "-":
        dmarc += " (p=%s)" % kv["policy"]
    return [spf, ", ".join(dkim), dmarc]


def summary_line(d, since):
    """senderauthd's summary line for the message just sent: the first line written
    since offset `since` that carries action= (logged before the end-of-data reply)."""
    for ln in d.log_text()[since:].splitlines():
        if " action=" in ln:
            return ln
    return ""


def folded(name, value, indent="   "):
    """A header field printed folded where its writer folded it."""
    out = []
    for part in (p.strip() for p in value.replace("\r\n", "\n").split("\n")):
        if part:
            out.append(("%s%s: %s" % (indent, name, part)) if not out else
                       " " * len(indent) + "        " + part)
    return out


def verdict_fields(raw):
    """[(name, value-with-folding)] of the Authentication-Results and X-Senderauth-*
    fields of a delivered message, in delivered order."""
    head = raw.decode("utf-8", errors="replace").replace("\r\n", "\n").split("\n\n", 1)[0]
    fields = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1][1] += "\n" + line
        elif ":" in line:
            n, _, v = line.partition(":")
            fields.append([n, v.strip()])
    return [(n, v) for n, v in fields
            if n.lower() == "authentication-results" or n.lower().startswith("x-senderauth-")]


def print_sample_head(i, s):
    c, env = s.get("connect", {}), s.get("envelope", {})
    frm = [h for h in s["message"]["headers"] if h.lower().startswith("from:")]
    print("=" * WIDTH)
    print("%d. %s" % (i, s["name"]))
    print("   client %s (HELO %s)  MAIL FROM:<%s>  RCPT TO:<%s>" %
          (c.get("ip"), c.get("helo"), env.get("from", ""), ">,<".join(env.get("rcpt", []))))
    print("   %s" % (frm[0] if frm else "(no From)"))


def print_removed(sent_headers, kept):
    """Sent fields senderauthd owns that did not arrive (forged copies it removed)."""
    for n, v in sent_headers:
        v1 = milter.unfold(v).strip()
        owned = n.lower().startswith("x-senderauth-") or (
            n.lower() == "authentication-results" and
            sc.authserv_id(v1) == AUTHSERV_ID.lower())
        if owned and (n.lower(), v1) not in kept:
            print("   removed (forged): %s: %s" % (n, textwrap.shorten(v1, WIDTH - 30)))


def print_log(d, since, verbose, line):
    """senderauthd's summary line for the message (all its lines with -v)."""
    if verbose:
        for ln in d.log_text()[since:].splitlines():
            print("   log: " + ln)
    elif line:
        print(textwrap.fill(line, WIDTH, initial_indent="   senderauthd log: ",
                            subsequent_indent=" " * 8, break_on_hyphens=False))


# ---- SMTP through Postfix ----
class Sent:
    def __init__(self):
        self.code, self.text, self.stage, self.error = None, "", None, None

    def reply(self):
        return "%s %s" % (self.code, self.text) if self.code else self.error or "no reply"


def smtp_send(port, s, b):
    """One SMTP transaction for sample s (built message b), as the sample's client.
    Stops at the first refusal; records the last reply."""
    c, env = s.get("connect", {}), s.get("envelope", {})
    helo = c.get("helo") or "unknown.invalid"
    name = c.get("host") or "unknown"
    out = Sent()
    raw = "".join("%s:%s\r\n" % hv for hv in b.headers).encode() + b"\r\n" + b.body
    try:
        cl = smtplib.SMTP("127.0.0.1", port, timeout=SMTP_TIMEOUT)
    except (OSError, smtplib.SMTPException) as e:
        out.error = "connect: %s" % e
        return out
    try:
        cl.ehlo("demo.localhost")
        steps = [("XCLIENT", "ADDR=%s NAME=%s HELO=%s" %
                  (c.get("ip", "192.0.2.1"),
                   "[UNAVAILABLE]" if name == "unknown" else name, helo), (220,))]
        for cmd, arg, ok in steps:
            code, text = cl.docmd(cmd, arg)
            if code not in ok:
                out.code, out.text, out.stage = code, text.decode(errors="replace"), cmd
                return out
        cl.ehlo(helo)
        steps = [("MAIL", "FROM:<%s>" % env.get("from", ""), (250,))]
        steps += [("RCPT", "TO:<%s>" % r, (250, 251)) for r in env.get("rcpt", [])]
        steps += [("DATA", "", (354,))]
        for cmd, arg, ok in steps:
            code, text = cl.docmd(cmd, arg)
            out.code, out.text, out.stage = code, text.decode(errors="replace"), cmd
            if code not in ok:
                return out
        cl.send(re.sub(rb"(?m)^\.", b"..", raw).rstrip(b"\r\n") + b"\r\n.\r\n")
        code, text = cl.getreply()
        out.code, out.text, out.stage = code, text.decode(errors="replace"), "end of DATA"
    except (OSError, smtplib.SMTPException) as e:
        out.error = "%s: %s" % (type(e).__name__, e)
    finally:
        try:
            cl.quit()
        except (OSError, smtplib.SMTPException):
            cl.close()
    return out


def judge_smtp(exp, sent, delivered, b):
    """Failures of one SMTP sample against its expectations ([] = as expected)."""
    f = []
    want = exp.get("reply", "accept")
    wants = [str(w) for w in (want if isinstance(want, list) else [want])]
    got = str(sent.code)
    if not any(got == "250" if w in ("accept", "continue") else got.startswith(w)
               for w in wants):
        f.append("reply: got %s, want %s" % (sent.reply(), " or ".join(wants)))
    if "reply_text" in exp and not re.search(exp["reply_text"], sent.reply()):
        f.append("reply %r does not match /%s/" % (sent.reply(), exp["reply_text"]))
    if sent.code == 250 and delivered is None:
        f.append("accepted but not delivered")
    if delivered is None:
        return f
    ours = [v for v in delivered.get_all("Authentication-Results")
            if sc.authserv_id(v) == AUTHSERV_ID.lower()]
    if len(ours) != 1:
        f.append("want exactly one delivered A-R naming %s, got %d" % (AUTHSERV_ID, len(ours)))
    elif exp.get("ar") not in (None, "none"):
        f += sc.check_ar(exp["ar"], ours[0], b.sigs)
    lines = ["%s: %s" % nv for nv in delivered.fields]
    for rx in exp.get("headers_present", []) or []:
        if not any(re.search(rx, ln, re.I) for ln in lines):
            f.append("no delivered header matches /%s/" % rx)
    for rx in exp.get("headers_absent", []) or []:
        hit = [ln for ln in lines if re.search(rx, ln, re.I)]
        if hit:
            f.append("delivered headers match /%s/ (must not): %r" % (rx, hit))
    return f


def run_postfix(samples, built, d, verbose):
    rows, bad = [], 0
    rcpts = sorted({r.lower() for s in samples for r in s.get("envelope", {}).get("rcpt", [])})
    with postfix.Postfix(milter_port=d.port, mailboxes=rcpts) as pf:
        print("Postfix on 127.0.0.1:%d (smtpd_milters = inet:127.0.0.1:%d), maildirs for %s\n"
              % (pf.port, d.port, ", ".join(rcpts)))
        for i, s in enumerate(samples, 1):
            b = built[s["_id"]][-1]
            rcpt = s["envelope"]["rcpt"][0]
            print_sample_head(i, s)
            since = len(d.log_text())
            sent = smtp_send(pf.port, s, b)
            line = summary_line(d, since)
            delivered = None
            if sent.code == 250:
                m = re.search(r"queued as (\w+)", sent.text)
                try:
                    delivered = pf.wait_delivery(rcpt, "id %s" % m.group(1)) if m else None
                except postfix.PostfixError:
                    delivered = None
                print("   SMTP: %s" % sent.reply())
                if delivered is not None:
                    print("   delivered to %s; verdict headers in the maildir copy:" % rcpt)
                    for n, v in verdict_fields(delivered.raw):
                        lines = folded(n, v, "     ")
                        if n.lower() == "authentication-results" and \
                                sc.authserv_id(v) != AUTHSERV_ID.lower():
                            lines[-1] += "   <- another server's: kept as it came"
                        print("\n".join(lines))
                    print_removed(b.headers, {(n.lower(), v) for n, v in delivered.fields})
            else:
                where = " at %s" % sent.stage if sent.stage else ""
                print("   REJECTED%s: %s" % (where, sent.reply()))
                print("   (nothing delivered to %s)" % rcpt)
            print_log(d, since, verbose, line)
            failures = judge_smtp(s.get("expect", {}), sent, delivered, b)
            if failures:
                bad += 1
                print("   NOT AS EXPECTED:")
                for f in failures:
                    print("     - " + f.replace("\n", "\n       "))
            ours = [v for v in (delivered.get_all("Authentication-Results") if delivered
                                else []) if sc.authserv_id(v) == AUTHSERV_ID.lower()]
            if ours:
                res = [short(ours[0], m) for m in ("spf", "dkim", "dmarc")]
            else:
                res = summary_words(line)
            outcome = "delivered" if delivered is not None else \
                ("%s %s" % (sent.code, sent.text.split(" ")[0]) if sent.code else "error")
            rows.append([i, s["_id"], rcpt.split("@")[0]] + res +
                        [outcome, "yes" if not failures else "NO"])
        # A rejected message must have left nothing behind in Postfix's queue.
        left = pf.wait_queue_empty()
        if left:
            bad += 1
            print("NOT AS EXPECTED: messages left in Postfix's queue: %s" % left)
    return rows, bad


# ---- milter protocol only ----
def milter_verdict(r):
    if r is None:
        return "no reply"
    if r.code in ("accept", "continue"):
        return "accepted (the MTA would deliver it with the headers below)"
    if r.code == "replycode":
        return "REJECTED: " + r.text
    return {"reject": "rejected 550", "tempfail": "deferred 451",
            "discard": "discarded"}.get(r.code, r.code)


def run_milter(samples, built, d, verbose):
    rows, bad = [], 0
    print("(--milter: no Postfix; each sample goes to senderauthd over the milter protocol)\n")
    for i, s in enumerate(samples, 1):
        print_sample_head(i, s)
        since = len(d.log_text())
        try:
            failures, reports = sc.run_case(d.port, s, built[s["_id"]], our_id=AUTHSERV_ID)
        except (milter.MilterError, OSError) as e:
            failures, reports = ["milter conversation failed: %s" % e], []
        line = summary_line(d, since)
        if not reports:
            print("   ERROR: %s" % "; ".join(failures))
            bad += 1
            continue
        rep = reports[-1]
        print("   milter reply: %s" % milter_verdict(rep["reply"]))
        ar = ""
        accepted = rep["reply"] is not None and rep["reply"].code in ("accept", "continue")
        if accepted:
            for n, v in rep["added"]:
                if n.lower() == "authentication-results":
                    ar = v
                for ln in folded(n, v, "   + "):
                    print(ln)
            print_removed(built[s["_id"]][-1].headers,
                          {(n.lower(), milter.unfold(v).strip()) for n, v in rep["final"]})
        print_log(d, since, verbose, line)
        if failures:
            bad += 1
            print("   NOT AS EXPECTED:")
            for f in failures:
                print("     - " + f.replace("\n", "\n       "))
        res = [short(ar, m) for m in ("spf", "dkim", "dmarc")] if ar else summary_words(line)
        r = rep["reply"]
        outcome = "accepted" if accepted else (" ".join(r.text.split(" ")[:2]) if r and r.text
                                               else (r.code if r else "-"))
        rows.append([i, s["_id"], s["envelope"]["rcpt"][0].split("@")[0]] + res +
                    [outcome, "yes" if not failures else "NO"])
    return rows, bad


def print_table(rows):
    head = ("#", "sample", "rcpt", "spf (mail from)", "dkim", "dmarc", "outcome",
            "as expected")
    table = [head] + [tuple(str(x) for x in r) for r in rows]
    wid = [max(len(r[k]) for r in table) for k in range(len(head))]
    for j, r in enumerate(table):
        print("  ".join(x.ljust(wid[k]) for k, x in enumerate(r)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in wid))


def main(argv):
    if "-h" in argv or "--help" in argv:
        print(__doc__)
        return 0
    use_milter = "--milter" in argv
    verbose = "-v" in argv
    if not use_milter:
        why = postfix.missing()
        if why:
            print("cannot run Postfix here: %s.\n"
                  "Run `bash tests/run-demo.sh --milter` to drive senderauthd over the milter "
                  "protocol instead." % why)
            return 2
    started = time.monotonic()
    samples = sc.load_all(SAMPLES)
    tmp = tempfile.mkdtemp(prefix="senderauth-demo-")
    keys = KeyStore(tmp)
    records, servfail, built = sc.zone_records(samples, keys)
    try:
        with Nsd(records, servfail=servfail) as ns:
            print("DNS server (NSD) on 127.0.0.1:%d serving %d sample records" %
                  (ns.port, len(records)))
            d = Senderauthd(ns.port, conf=daemon_conf(tmp))
            d.write_conf()
            ctl(d.conf_path, "init")
            ctl(d.conf_path, "user", "set", CONSENTING, "on", "--channel", "demo",
                "--actor", "demo.py")
            print("consent store: %s" % ctl(d.conf_path, "user", "get", CONSENTING)
                  .replace("\n", ", "))
            print("               %s has no row: not enforced "
                  "(policy.default_enforce = false)" % NOT_CONSENTING)
            print("warning list (lists.warning_file): %s   trust-mark list "
                  "(lists.trustmark_file): %s" % (" ".join(WARNING_DOMAINS),
                                                  " ".join(TRUSTMARK_DOMAINS)))
            with d:
                print("senderauthd on 127.0.0.1:%d, authserv-id %s, policy.mode = enforce" %
                      (d.port, AUTHSERV_ID))
                if use_milter:
                    rows, bad = run_milter(samples, built, d, verbose)
                else:
                    rows, bad = run_postfix(samples, built, d, verbose)
    except (DaemonError, postfix.PostfixError) as e:
        print("demo failed: %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("=" * WIDTH)
    print()
    print_table(rows)
    print()
    bad_samples = sum(1 for r in rows if r[-1] != "yes") + (len(samples) - len(rows))
    print("%d samples, %d as expected (%.0f s)" % (len(samples), len(samples) - bad_samples,
                                                   time.monotonic() - started))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
