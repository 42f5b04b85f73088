#!/usr/bin/python3
"""test_consent_reload.py - an operator switches enforcement between measure and enforce
at run time with SIGHUP, and back, without restarting senderauthd (issue: per-user consent).

One senderauthd, one SQLite consent store (alice@example.jp consents, bob@example.jp does
not), one spoofed message per step (reject.example publishes p=reject, the client is not
allowed by its SPF, no DKIM: dmarc=fail):
  measure  -> accepted for alice, the log says would_reject
  enforce  -> 550 for alice; bob is still accepted (no consent)
  measure  -> accepted for alice again
A bad file on SIGHUP is refused and the mode in force stays.

Prints one line per check, then `consent reload: N passed, M failed`.
"""
import os
import re
import signal
import sys
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from satest.checks import Checks  # noqa: E402
from satest.daemon import Senderauthd, libconfig_text  # noqa: E402
from satest.nsd import Nsd  # noqa: E402
from test_consent_enforce import BAD_IP, base_conf, fill_store, send, zone  # noqa: E402


def rewrite(d, mode=None, raw=None):
    """Replace the config file atomically: a new policy.mode, or raw text."""
    text = raw
    if text is None:
        conf = dict(d.conf)
        conf["policy"] = dict(conf["policy"], mode=mode)
        text = libconfig_text(conf) + "\n"
    with open(d.conf_path + ".new", "w") as f:
        f.write(text)
    os.replace(d.conf_path + ".new", d.conf_path)


def hup_and_wait(d, pattern, count):
    """SIGHUP, then poll the log (bounded) until pattern has occurred count times."""
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and d.proc.poll() is None:
        if len(re.findall(pattern, d.log_text())) >= count:
            return True
        time.sleep(0.02)  # poll interval, not a timing assumption
    return False


def main():
    ck = Checks()
    with Nsd(zone()) as ns:
        d = Senderauthd(ns.port, conf=base_conf("/nonexistent"))
        store = os.path.join(d.dir, "consent.db")
        d.conf = dict(d.conf, store=dict(d.conf["store"], sqlite_path=store),
                      policy=dict(d.conf["policy"], mode="measure"))
        d.write_conf()
        fill_store(d.conf_path)
        with d:
            out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"])
            ck.check("measure: accepted for a consenting recipient", out.final == "accept",
                     out.final)
            ck.check("measure: the log says would_reject",
                     re.search(r"%s:.*would_reject" % qid, d.log_text()) is not None,
                     d.log_tail(5))

            rewrite(d, mode="enforce")
            ck.check("SIGHUP to enforce: reloaded", hup_and_wait(d, r"reloaded ", 1), d.log_tail(5))
            out, _ = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"])
            ck.check("enforce: 550 for a consenting recipient", out.final.startswith("replycode:5")
                     or out.final.startswith("reject"), out.final)
            out, _ = send(d.port, BAD_IP, "reject.example", ["bob@example.jp"])
            ck.check("enforce: no consent, still accepted", out.final == "accept", out.final)

            rewrite(d, raw="policy:\n{\n  mode = \"enforce\";\n  bogus = 1;\n};\n")
            d.proc.send_signal(signal.SIGHUP)
            refused = False
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not refused:
                refused = re.search(r"policy\.bogus: unknown key", d.log_text()) is not None
                time.sleep(0.02)
            ck.check("bad file on SIGHUP: refused and logged", refused, d.log_tail(5))
            out, _ = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"])
            ck.check("bad file: enforce stays in force", out.final != "accept", out.final)

            rewrite(d, mode="measure")
            ck.check("SIGHUP back to measure: reloaded", hup_and_wait(d, r"reloaded ", 2),
                     d.log_tail(5))
            out, _ = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"])
            ck.check("measure again: accepted", out.final == "accept", out.final)
    return ck.finish("consent reload")


if __name__ == "__main__":
    sys.exit(main())
