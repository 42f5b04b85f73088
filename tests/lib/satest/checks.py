"""checks.py - what most integration programs repeat: a pass/fail tally that prints one
line per check, one milter transaction with a given header and body, the daemon's
summary log line for a queue id, and reading its metrics server (metrics.listen).

    t = Checks()
    res, final, qid = send_message(d, hdrs, body)      # final: headers as the MTA writes
    t.check("sealed", ok, "detail shown on failure")
    line = summary_line(d, qid)
    print(t.total("arc seal"))                          # "arc seal: N passed, M failed"
    return t.finish("arc seal")                         # the same line; exit status
    n = metric(scrape(port), 'senderauth_results_total{method="arc",result="pass"}')

    t = Checks(quiet=True)                              # print only the failures
    t.eq("rows", got, want)                             # "FAIL rows: got 1, want 2"
    return in_tmp(t, "satest-x-", run, CTL)             # main() of the store programs
"""
import itertools
import os
import re
import shutil
import tempfile
import time
import urllib.request

from . import milter, pg

_QID = itertools.count(1)


class Checks:
    def __init__(self, quiet=False):
        self.passed = self.failed = 0
        self.quiet = quiet  # print only the failures

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            if not self.quiet:
                print("ok   " + name)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, detail))
        return ok

    def eq(self, name, got, want):
        """check that got == want; the failure line says "got X, want Y"."""
        return self.check(name, got == want, "got %r, want %r" % (got, want))

    def need_pg(self):
        """True when PostgreSQL can be started here; else a failed check saying why not
        (the store programs test both back ends)."""
        why = pg.missing()
        if why is not None:
            self.check("postgresql", False, "SKIPPED postgresql: %s" % why)
        return why is None

    def total(self, label):
        return "%s: %d passed, %d failed" % (label, self.passed, self.failed)

    def finish(self, label):
        """Print total(label); the program's exit status (1 when a check failed)."""
        print(self.total(label))
        return 1 if self.failed else 0


def in_tmp(t, prefix, run, need):
    """The store programs' main(): exit 77 when the program need is not built, else
    run(tmp) in a fresh directory (removed afterwards), print "N passed, M failed" and
    return the exit status."""
    if not os.access(need, os.X_OK):
        print("SKIP: %s not built" % need)
        return 77
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (t.passed, t.failed))
    return 1 if t.failed else 0


def send_message(d, hdrs, body, ip="203.0.113.9", helo="client.sender.test",
                 mail_from="bounce@sender.example", rcpts=("alice@example.jp",), prefix="Q"):
    """One transaction to senderauthd d: (eom result, the header list after the filter's
    changes as Postfix applies them, queue id)."""
    qid = "%s%04d" % (prefix, next(_QID))
    with milter.MilterClient("127.0.0.1", d.port) as m:
        m.connect(helo, ip)
        m.helo(helo)
        m.mail(mail_from, macros={"i": qid})
        for r in rcpts:
            m.rcpt(r)
        m.data()
        for n, v in hdrs:
            m.header(n, v)
        m.eoh()
        m.body(body)
        res = m.eom()
        final = milter.apply_header_mods(hdrs, res.mods, leadspc=m.leadspc)
    return res, final, qid


def summary_line(d, qid, tries=50):
    """The daemon's summary log line for qid ("" when it does not come)."""
    for _ in range(tries):
        for line in d.log_text().splitlines():
            if qid + ":" in line and "action=" in line:
                return line
        time.sleep(0.02)  # the log line may trail the reply by a moment (bounded)
    return ""


def scrape(port, path="/metrics"):
    """GET http://127.0.0.1:PORT/PATH of the metrics server; the body as text (raises on
    HTTP errors)."""
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.read().decode()


def metric(text, series):
    """The value of one series ('name{label="v"}' exactly as exposed) as an int, or None."""
    m = re.search(r"^%s (\S+)$" % re.escape(series), text, re.M)
    return int(float(m.group(1))) if m else None
