#!/usr/bin/python3
"""test_postfix_tagquarantine.py - quarantine by subaddress behind a real Postfix.

senderauthd runs with quarantine.action = "subaddress" and policy.reject_as_quarantine
(docs/enforcement.md), in front of a private Postfix (tests/lib/satest/postfix.py,
recipient_delimiter = +). The Postfix mailbox map gives alice+quarantine@example.jp its
own maildir, standing in for the spam folder a delivery agent would file it into.

Checks, one line each:
- a mixed transaction (alice consents, bob does not) with a DMARC failure is accepted in
  one go (250 for every RCPT and at DATA, no 452 split); bob's copy lands in bob's
  maildir unmarked (dis=none, no quarantine header); alice's copy lands only in the
  +quarantine folder, once, and its delivery fields name the tagged address; the same
  with the other recipient first and with p=reject applied as quarantine;
- a mixed transaction that passes DMARC goes to both inboxes, nothing to the folder;
- alice alone: the +quarantine folder, and the A-R says dis=quarantine.

Prints one line per check, then `postfix tagquarantine e2e: N passed, M failed`.
"""
import os
import sys
import tempfile
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.join(SRC, "tests/e2e"))

from satest.dkimsign import KeyStore  # noqa: E402
from satest.e2e import run_behind_postfix, skipped  # noqa: E402
from satest.postfix import Delivered  # noqa: E402
import test_postfix as tp  # noqa: E402  (SMTP client, message, header checks, store)

ALICE, BOB, BAD_IP = tp.ALICE, tp.BOB, tp.BAD_IP
ALICE_Q = "alice+quarantine@example.jp"
WAIT = 30.0


def folder_find(pf, address, token):
    """Messages carrying token in the maildir the mailbox map gives address exactly
    (Postfix.find strips the tag; here the tagged address has its own folder)."""
    local, _, domain = address.lower().partition("@")
    new = os.path.join(pf.mail_dir, domain, local, "new")
    try:
        names = sorted(os.listdir(new))
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        with open(os.path.join(new, n), "rb") as f:
            if token.encode() in f.read():
                out.append(Delivered(os.path.join(new, n)))
    return out


def wait_folder(pf, address, token):
    """Bounded poll for token in address's own maildir; [] after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while True:
        got = folder_find(pf, address, token)
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)  # poll interval, not a timing check


def dmarc_dis(d):
    ours = tp.our_ars(d)
    for v in ours:
        i = v.find("dis=")
        if i >= 0:
            return v[i + 4:].split(")")[0]
    return None


def mixed_case(t, pf, name, token, sender_domain, rcpts):
    s = tp.smtp_send(pf, "news@%s" % sender_domain, rcpts, tp.message(sender_domain, token),
                     client_ip=BAD_IP, helo="mail.%s" % sender_domain)
    t.check("%s: 250 for every RCPT (no split) and at DATA" % name,
            [c for _, c, _ in s.rcpt] == [250] * len(rcpts) and s.data and s.data[0] == 250,
            tp.describe(s))
    q = wait_folder(pf, ALICE_Q, token)
    t.check("%s: alice's copy in the +quarantine folder, once" % name, len(q) == 1,
            "%d copies" % len(q))
    if q:
        dt = [v.lower() for v in q[0].get_all("Delivered-To")]
        t.check("%s: the quarantined copy was delivered to the tagged address" % name,
                ALICE_Q in dt, "Delivered-To %s" % dt)
        t.check("%s: the quarantined copy has no quarantine header" % name,
                not q[0].get_all("X-Senderauth-Quarantine"), str(q[0].names()))
    b = wait_folder(pf, BOB, token)
    t.check("%s: bob's copy in bob's inbox, once" % name, len(b) == 1, "%d copies" % len(b))
    if b:
        tp.check_headers(t, "%s (bob)" % name, b[0], {"dmarc": "fail"})
        t.check("%s: bob's copy is not marked (dis=none, no quarantine header)" % name,
                dmarc_dis(b[0]) == "none" and not b[0].get_all("X-Senderauth-Quarantine"),
                "dis=%s %s" % (dmarc_dis(b[0]), b[0].get_all("X-Senderauth-Quarantine")))
    q = pf.wait_queue_empty()
    t.check("%s: nothing left in the queue" % name, not q, "queue: %s" % q)
    t.check("%s: nothing in alice's inbox" % name, not folder_find(pf, ALICE, token))


def run_all(t, pf, d):
    mixed_case(t, pf, "mixed p=quarantine, alice first", "tag-1", "shop.example", [ALICE, BOB])
    mixed_case(t, pf, "mixed p=reject as quarantine, bob first", "tag-2", "bank.example",
               [BOB, ALICE])
    line = ""
    for ln in d.log_text().splitlines():
        if "tagged=1" in ln and "consent=1/2" in ln:
            line = ln
    t.check("the summary line says consent=1/2 tagged=1", line != "", d.log_tail(5))

    tok = "tag-3"
    s = tp.smtp_send(pf, "user@good.example", [ALICE, BOB], tp.message("good.example", tok))
    t.check("mixed, DMARC pass: 250", s.data and s.data[0] == 250, tp.describe(s))
    for r in (ALICE, BOB):
        got = wait_folder(pf, r, tok)
        t.check("mixed, DMARC pass: in %s's inbox once" % r.split("@")[0], len(got) == 1,
                "%d copies" % len(got))
    t.check("mixed, DMARC pass: nothing in the +quarantine folder",
            not folder_find(pf, ALICE_Q, tok))

    tok = "tag-4"
    s = tp.smtp_send(pf, "news@shop.example", [ALICE], tp.message("shop.example", tok),
                     client_ip=BAD_IP, helo="mail.shop.example")
    t.check("alice alone: 250", s.data and s.data[0] == 250, tp.describe(s))
    q = wait_folder(pf, ALICE_Q, tok)
    t.check("alice alone: in the +quarantine folder once", len(q) == 1, "%d copies" % len(q))
    if q:
        tp.check_headers(t, "alice alone", q[0], {"dmarc": "fail"})
        t.check("alice alone: dis=quarantine", dmarc_dis(q[0]) == "quarantine",
                str(tp.our_ars(q[0])))


def main():
    label = "postfix tagquarantine e2e"
    if skipped(label, tools=("senderauthd", "senderauthctl")):
        return 0
    t = tp.Runner()
    tmp = tempfile.mkdtemp(prefix="satest-e2e-tag-")
    key = KeyStore(tmp).get("rsa2048")
    conf = tp.daemon_conf(os.path.join(tmp, "consent.db"))
    conf["policy"]["reject_as_quarantine"] = True
    conf["quarantine"] = {"action": "subaddress", "tag": "quarantine"}

    def setup(d):
        tp.ctl(d.conf_path, "init")
        tp.ctl(d.conf_path, "user", "set", ALICE, "on", "--channel", "test",
               "--actor", "satest")
        tp.ctl(d.conf_path, "user", "set", BOB, "off", "--channel", "test",
               "--actor", "satest")

    return run_behind_postfix(t, label, tp.zone(key), conf, [ALICE, ALICE_Q, BOB],
                              lambda pf, d, ns: run_all(t, pf, d), tmp=tmp, setup=setup,
                              tails=(20, 30))


if __name__ == "__main__":
    sys.exit(main())
