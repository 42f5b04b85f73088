#!/usr/bin/python3
"""test_postfix_nonsmtpd.py - senderauthd as a Postfix non_smtpd_milters filter.

Mail submitted with sendmail(1) reaches milters through cleanup(8), with no SMTP client
to answer: Postfix 3.7 refuses a per-recipient reject or tempfail there ("milter
configuration error: can't reject recipient in non-smtpd(8) submission") and leaves
the message in the maildrop queue, where pickup retries it forever. So senderauthd must
never reject or tempfail at RCPT for non-SMTP mail (Postfix presents it as a client
"localhost" 127.0.0.1, port 0, HELO localhost; see docs/postfix.md).

Worst case: trusted_networks does not cover 127.0.0.1 and enforcement is on with a
consenting and a non-consenting recipient (which over SMTP is a 452 4.5.3 split). The
message must be delivered to both, nothing may stay queued, and Postfix must not log
the configuration error.

Prints one line per check, then `postfix non-smtpd e2e: N passed, M failed`.
"""
import os
import sys
import tempfile

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from satest.e2e import run_behind_postfix, skipped  # noqa: E402
from test_postfix import ALICE, BOB, Runner, ctl, daemon_conf, message  # noqa: E402

ZONE = [("bank.example", "TXT", "v=spf1 ip4:198.18.0.0/24 -all"),
        ("_dmarc.bank.example", "TXT", "v=DMARC1; p=reject")]
QUEUE_WAIT = 15.0


def run_all(t, pf):
    tok = "nonsmtp-mixed-1"
    msg = message("bank.example", tok).replace(b"\r\n", b"\n")
    p = pf.sendmail("security@bank.example", [BOB, ALICE], msg)
    t.check("sendmail(1) accepted the submission", p.returncode == 0,
            "exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace").strip()))
    left = pf.wait_queue_empty(QUEUE_WAIT)
    t.check("nothing stuck in the queue", not left, "queue: %s" % left)
    for r in (BOB, ALICE):
        got = pf.find(r, tok)
        t.check("delivered once to %s" % r, len(got) == 1, "%d copies" % len(got))
    log = pf.log_text()
    t.check("no per-recipient reject or tempfail for non-SMTP mail",
            "can't reject recipient in non-smtpd" not in log,
            "\n".join(x for x in log.splitlines() if "milter" in x)[-1500:])


def main():
    label = "postfix non-smtpd e2e"
    if skipped(label, tools=("senderauthd", "senderauthctl")):
        return 0
    t = Runner()
    tmp = tempfile.mkdtemp(prefix="satest-e2e-")

    def setup(d):
        ctl(d.conf_path, "init")
        ctl(d.conf_path, "user", "set", ALICE, "on", "--channel", "test",
            "--actor", "satest")

    return run_behind_postfix(t, label, ZONE, daemon_conf(os.path.join(tmp, "consent.db")),
                              [ALICE, BOB], lambda pf, d, ns: run_all(t, pf), tmp=tmp,
                              setup=setup, main=lambda d: {"non_smtpd_milters":
                                                           "inet:127.0.0.1:%d" % d.port})


if __name__ == "__main__":
    sys.exit(main())
