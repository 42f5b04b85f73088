#!/usr/bin/python3
"""test_postfix_iprev.py - iprev.policy behind a real Postfix (smtpd_milters), clients
played with XCLIENT against a real NSD:

- iprev.policy = reject at RCPT: a client without PTR gets `550 5.7.25 ... [ADDR]` for
  each recipient and Postfix logs milter-reject; the same client logged in
  (XCLIENT LOGIN, so {auth_authen} is set) is delivered; a client whose PTR leads back
  is delivered with iprev=pass in its Authentication-Results;
- after SIGHUP to iprev.policy = tempfail at connect: the PTR-less client gets
  `450 4.7.25` from Postfix (the milter answered the connect event; Postfix refuses the
  session's commands), a trusted network is delivered.

Prints one line per check, then `postfix iprev e2e: N passed, M failed`."""
import os
import re
import signal
import smtplib
import sys
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from satest.e2e import run_behind_postfix, skipped  # noqa: E402
from test_postfix import (ALICE, SMTP_TIMEOUT, Runner, Sent, describe, message,  # noqa: E402
                          smtp_send)

ZONE = [("sender.example", "TXT", "v=spf1 -all"),
        ("10.2.0.192.in-addr.arpa", "PTR", "mx.good.example"),
        ("mx.good.example", "A", "192.0.2.10")]
NO_PTR, GOOD, TRUSTED = "203.0.113.5", "192.0.2.10", "203.0.113.200"


def reload(d, changes, n):
    """Change top-level keys of the config, SIGHUP, wait (bounded) for the n-th reload."""
    d.conf.update(changes)
    d.write_conf()
    d.proc.send_signal(signal.SIGHUP)
    for _ in range(250):
        if len(re.findall(r"reloaded ", d.log_text())) >= n:
            return True
        time.sleep(0.02)  # poll interval, bounded
    return False


def send_login(pf, ip, login, token):
    """XCLIENT with LOGIN=: an authenticated client; returns the Sent record."""
    s = Sent()
    c = smtplib.SMTP("127.0.0.1", pf.port, timeout=SMTP_TIMEOUT)
    try:
        c.ehlo("mail.sender.test")
        code, text = c.docmd("XCLIENT", "ADDR=%s NAME=[UNAVAILABLE] LOGIN=%s" % (ip, login))
        if code != 220:
            s.error = "XCLIENT: %d %s" % (code, text.decode(errors="replace"))
            return s
        c.ehlo("mail.sender.test")
        code, text = c.docmd("MAIL", "FROM:<u@sender.example>")
        s.mail = (code, text.decode(errors="replace"))
        code, text = c.docmd("RCPT", "TO:<%s>" % ALICE)
        s.rcpt.append((ALICE, code, text.decode(errors="replace")))
        if code == 250:
            code, text = c.docmd("DATA")
            c.send(message("sender.example", token).rstrip(b"\r\n") + b"\r\n.\r\n")
            code, text = c.getreply()
            s.data = (code, text.decode(errors="replace"))
    finally:
        c.close()
    return s


def run_all(t, pf, d):
    tok = "iprev-noptr"
    s = smtp_send(pf, "u@sender.example", [ALICE], message("sender.example", tok),
                  client_ip=NO_PTR)
    rc = s.rcpt[0] if s.rcpt else (None, None, "")
    t.check("rcpt stage, no PTR: 550 5.7.25 with the address",
            rc[1] == 550 and "5.7.25" in rc[2] and "[%s]" % NO_PTR in rc[2], describe(s))
    t.check("Postfix logs the milter reject at RCPT",
            pf.wait_log("milter-reject: RCPT from"), pf.log_tail(5))
    s = send_login(pf, NO_PTR, "user", "iprev-login")
    t.check("rcpt stage, no PTR but authenticated: delivered",
            s.data and s.data[0] == 250 and pf.wait_delivery(ALICE, "iprev-login"),
            describe(s))
    s = smtp_send(pf, "u@sender.example", [ALICE], message("sender.example", "iprev-good"),
                  client_ip=GOOD)
    got = s.data and s.data[0] == 250 and pf.wait_delivery(ALICE, "iprev-good")
    if t.check("rcpt stage, PTR leads back: delivered", got, describe(s)):
        ar = " ".join(pf.find(ALICE, "iprev-good")[0].get_all("Authentication-Results"))
        t.check("its A-R says iprev=pass (mx.good.example)",
                "iprev=pass (mx.good.example)" in re.sub(r"\s+", " ", ar), ar)

    changes = {"trusted_networks": ["127.0.0.0/8", TRUSTED + "/32"],
               "iprev": {"policy": "tempfail", "stage": "connect"}}
    t.check("SIGHUP to tempfail at connect", reload(d, changes, 1), d.log_tail(5))
    s = smtp_send(pf, "u@sender.example", [ALICE], message("sender.example", "iprev-conn"),
                  client_ip=NO_PTR)
    first = s.mail if s.mail and s.mail[0] != 250 else (s.rcpt[0][1:] if s.rcpt else None)
    t.check("connect stage, no PTR: 450 4.7.25 from Postfix",
            first is not None and first[0] == 450 and "4.7.25" in first[1], describe(s))
    s = smtp_send(pf, "u@sender.example", [ALICE], message("sender.example", "iprev-trust"),
                  client_ip=TRUSTED)
    t.check("connect stage, trusted network without PTR: delivered",
            s.data and s.data[0] == 250 and pf.wait_delivery(ALICE, "iprev-trust"),
            describe(s))


def main():
    label = "postfix iprev e2e"
    if skipped(label):
        return 0
    t = Runner()
    base = {"trusted_networks": [], "dns": {"timeout": 1, "retries": 1},
            "log": {"level": "info"}}
    return run_behind_postfix(t, label, ZONE, dict(base, iprev={"policy": "reject"}), [ALICE],
                              lambda pf, d, ns: run_all(t, pf, d))


if __name__ == "__main__":
    sys.exit(main())
