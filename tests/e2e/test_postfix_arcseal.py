#!/usr/bin/python3
"""test_postfix_arcseal.py - ARC sealing behind a real Postfix (smtpd_milters): a message
sent over SMTP (client played with XCLIENT) is delivered into the maildir with our ARC set
on top, and the delivered file -- as Postfix wrote it, folding and all -- verifies with
our arc-verify and with python3-dkim's arc_verify against the NSD that serves our key;
its ARC-Authentication-Results is "i=1; " + the Authentication-Results we added. A
second message carrying that delivered set (a forwarded copy coming back) gets i=2
cv=pass, and verifies with both.

Prints one line per check, then `postfix arcseal e2e: N passed, M failed`."""
import os
import re
import sys
import tempfile

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from satest.arcverify import both  # noqa: E402
from satest.checks import Checks  # noqa: E402
from satest.daemon import AUTHSERV_ID  # noqa: E402
from satest.dkimsign import KeyStore  # noqa: E402
from satest.e2e import run_behind_postfix, skipped  # noqa: E402
from test_postfix import ALICE, describe, message, smtp_send  # noqa: E402

CLIENT = "203.0.113.5"
DELIVERY_FIELDS = ("return-path", "x-original-to", "delivered-to")


def delivered_message(dm):
    """The delivered file as it came through smtpd: CRLF, without virtual(8)'s fields."""
    head, _, body = dm.raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines, skip = [], False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skip:
                lines.append(line)
            continue
        skip = line.split(b":", 1)[0].strip().lower().decode() in DELIVERY_FIELDS
        if not skip:
            lines.append(line)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body.replace(b"\n", b"\r\n")


def check_delivery(t, name, pf, ns, tmp, token, want_i, want_cv):
    """Wait for token's delivery; our set on top with i/cv; both verifiers pass."""
    dm = pf.wait_delivery(ALICE, token)
    raw = delivered_message(dm)
    errs = []
    names = [n.lower() for n in dm.names()
             if n.lower() not in DELIVERY_FIELDS and n.lower() != "received"]
    seals = [v for v in dm.get_all("ARC-Seal") if "i=%d;" % want_i in re.sub(r"\s+", "", v)]
    if names[:3] != ["arc-seal", "arc-message-signature", "arc-authentication-results"]:
        errs.append("fields on top: %s" % names[:4])
    if not seals or "i=%d;" % want_i not in re.sub(r"\s+", "", seals[0]) or \
            "cv=%s;" % want_cv not in re.sub(r"\s+", "", seals[0]):
        errs.append("ARC-Seal %r, want i=%d cv=%s" % (seals[:1], want_i, want_cv))
    ours_ar = [v for v in dm.get_all("Authentication-Results") if v.startswith(AUTHSERV_ID)]
    aars = [v for v in dm.get_all("ARC-Authentication-Results")
            if v.startswith("i=%d;" % want_i)]
    if not ours_ar or not aars or re.sub(r"\s+", " ", aars[0]) != \
            "i=%d; %s" % (want_i, re.sub(r"\s+", " ", ours_ar[0])):
        errs.append("AAR %r is not 'i=%d; ' + our A-R %r" % (aars[:1], want_i, ours_ar[:1]))
    ours, cv, why = both(raw, ns.port, tmp)
    if not ours.startswith("cv=pass ") or "sets=%d" % want_i not in ours:
        errs.append("arc-verify: %s, want cv=pass sets=%d" % (ours, want_i))
    if cv != "pass":
        errs.append("python3-dkim arc_verify: %s (%s)" % (cv, why))
    t.check(name, not errs, "; ".join(errs))
    return raw


def run_all(t, pf, ns, tmp):
    tok = "arcseal-1"
    s = smtp_send(pf, "u@sender.example", [ALICE], message("sender.example", tok),
                  client_ip=CLIENT)
    if not t.check("first message accepted", s.data and s.data[0] == 250, describe(s)):
        return
    raw = check_delivery(t, "delivered with our set i=1 cv=none, both verifiers pass", pf, ns,
                         tmp, tok, 1, "none")
    # The delivered copy comes back (a user's forward to us), marked by a field that is
    # not signed; Received and our old A-R are left behind as a forwarder's MTA would.
    head, _, body = raw.partition(b"\r\n\r\n")
    fields = [f for f in re.split(rb"\r\n(?![ \t])", head)
              if f.split(b":", 1)[0].lower() not in (b"received", b"authentication-results")]
    again = b"X-Fwd: arcseal-fwd\r\n" + b"\r\n".join(fields) + b"\r\n\r\n" + body
    s = smtp_send(pf, "fwd@sender.example", [ALICE], again, client_ip=CLIENT)
    if t.check("forwarded copy accepted", s.data and s.data[0] == 250, describe(s)):
        check_delivery(t, "forwarded copy: our set i=2 cv=pass on top, both verifiers pass", pf,
                       ns, tmp, "arcseal-fwd", 2, "pass")


def main():
    label = "postfix arcseal e2e"
    if skipped(label, tools=("senderauthd", "arc-verify")):
        return 0
    t = Checks()
    tmp = tempfile.mkdtemp(prefix="satest-e2e-")
    key = KeyStore(tmp).get("rsa2048-seal")
    zone = [("sender.example", "TXT", "v=spf1 -all"),
            ("seal._domainkey." + AUTHSERV_ID, "TXT", key.dns_txt())]
    conf = {"trusted_networks": [], "dns": {"timeout": 1, "retries": 1}, "log": {"level": "info"},
            "arc": {"seal_enable": True, "seal_domain": AUTHSERV_ID, "seal_selector": "seal",
                    "seal_key_file": os.path.join(tmp, "rsa2048-seal.pem")}}
    return run_behind_postfix(t, label, zone, conf, [ALICE],
                              lambda pf, d, ns: run_all(t, pf, ns, tmp), tmp=tmp)


if __name__ == "__main__":
    sys.exit(main())
