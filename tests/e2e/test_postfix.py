#!/usr/bin/python3
"""test_postfix.py - senderauthd behind a real Postfix, end to end.

Starts the test DNS server (NSD), senderauthd (SQLite consent store made with
senderauthctl, enforcement on) and a private Postfix (tests/lib/satest/postfix.py) whose
smtpd_milters points at senderauthd. Messages go in over SMTP from 127.0.0.1 (python's
smtplib; XCLIENT plays other client addresses) and come out as files in maildirs.

Checks, one line each:
- delivered headers: exactly one Authentication-Results naming our authserv-id, above
  every Received field; it parses (RFC 8601) and carries the expected results; forged
  A-R and X-Senderauth-* copies are gone, other servers' A-R kept; X-Senderauth-Trust
  added; a DKIM signature made by an independent signer survives Postfix (dkim=pass);
- SMTP replies: 550 5.7.1 at end of DATA for a consenting recipient and a DMARC
  p=reject failure, nothing delivered or queued; p=quarantine marks the delivered copy;
  a recipient who did not consent gets the same message; mixed recipients are split at
  RCPT (452 4.5.3) and the deferred one succeeds when sent on its own;
- senderauthd stopped (milter_default_action = tempfail): the client sees 4xx, nothing
  is delivered or queued; after senderauthd is back the same message is delivered once.

Prints one line per check, then `postfix e2e: N passed, M failed`.
"""
import os
import re
import smtplib
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import cases  # noqa: E402  (the independent A-R reader)
from satest.checks import Checks  # noqa: E402
from satest.daemon import build_dir  # noqa: E402
from satest.dkimsign import KeyStore, sign  # noqa: E402
from satest.e2e import run_behind_postfix, skipped  # noqa: E402
from satest.postfix import PostfixError  # noqa: E402

OUR_ID = "mx.test.example"
ALICE = "alice@example.jp"   # consents to DMARC enforcement
BOB = "bob@example.jp"       # does not
CAROL = "carol@example.jp"   # no row: policy.default_enforce = false -> not enforced
BAD_IP = "203.0.113.5"       # outside every SPF record here
SMTP_TIMEOUT = 30
# Fields virtual(8) prepends at delivery, above everything that came through smtpd.
DELIVERY_FIELDS = ("return-path", "x-original-to", "delivered-to")

SPF_GOOD = "v=spf1 ip4:127.0.0.1 ip4:192.0.2.0/24 -all"


def zone(dkim_key):
    return [
        ("good.example", "TXT", SPF_GOOD),
        ("_dmarc.good.example", "TXT", "v=DMARC1; p=reject"),
        ("bank.example", "TXT", "v=spf1 ip4:198.18.0.0/24 -all"),
        ("_dmarc.bank.example", "TXT", "v=DMARC1; p=reject"),
        ("shop.example", "TXT", "v=spf1 ip4:198.18.0.0/24 -all"),
        ("_dmarc.shop.example", "TXT", "v=DMARC1; p=quarantine"),
        ("signed.example", "TXT", "v=spf1 ip4:198.18.0.0/24 -all"),
        ("_dmarc.signed.example", "TXT", "v=DMARC1; p=reject"),
        ("s1._domainkey.signed.example", "TXT", dkim_key.dns_txt()),
    ]


Runner = Checks  # the tally the other e2e programs import from here


# ---- SMTP ----
class Sent:
    """What the SMTP client saw: (code, text) per command that answered."""

    def __init__(self):
        self.mail = None
        self.rcpt = []       # [(rcpt, code, text)]
        self.data = None     # (code, text) or None when DATA was not reached
        self.error = None    # a connection-level failure

    def accepted(self):
        return [r for r, c, _ in self.rcpt if c == 250]


def message(from_domain, token, extra=(), subject=None):
    hdrs = list(extra) + [
        "From: Sender <user@%s>" % from_domain,
        "To: %s" % ALICE,
        "Subject: %s" % (subject or "e2e " + token),
        "Message-ID: <%s@%s>" % (token, from_domain),
        "Date: Mon, 1 Jan 2024 00:00:00 +0000",
    ]
    body = "token %s\r\n.leading dot\r\nsecond line\r\n" % token  # dot-stuffed on the wire
    return ("\r\n".join(hdrs) + "\r\n\r\n" + body).encode()


def smtp_send(pf, mail_from, rcpts, msg, client_ip=None, helo="mail.sender.test"):
    """One SMTP transaction; every reply is recorded, nothing raises for 4xx/5xx."""
    s = Sent()
    try:
        c = smtplib.SMTP("127.0.0.1", pf.port, timeout=SMTP_TIMEOUT)
    except (OSError, smtplib.SMTPException) as e:
        s.error = "connect: %s" % e
        return s
    try:
        c.ehlo(helo)
        if client_ip:
            code, text = c.docmd("XCLIENT", "ADDR=%s NAME=[UNAVAILABLE] HELO=%s" %
                                 (client_ip, helo))
            if code != 220:
                s.error = "XCLIENT: %d %s" % (code, text.decode(errors="replace"))
                return s
            c.ehlo(helo)
        code, text = c.docmd("MAIL", "FROM:<%s>" % mail_from)
        s.mail = (code, text.decode(errors="replace"))
        if code != 250:
            return s
        for r in rcpts:
            code, text = c.docmd("RCPT", "TO:<%s>" % r)
            s.rcpt.append((r, code, text.decode(errors="replace")))
        if not s.accepted():
            return s
        code, text = c.docmd("DATA")
        if code != 354:
            s.data = (code, text.decode(errors="replace"))
            return s
        # The content, dot-stuffed (RFC 5321 4.5.2), then the final dot; one reply.
        c.send(re.sub(rb"(?m)^\.", b"..", msg).rstrip(b"\r\n") + b"\r\n.\r\n")
        code, text = c.getreply()
        s.data = (code, text.decode(errors="replace"))
    except (OSError, smtplib.SMTPException) as e:
        s.error = "%s: %s" % (type(e).__name__, e)
    finally:
        try:
            c.quit()
        except (OSError, smtplib.SMTPException):
            c.close()
    return s


def describe(s):
    return "mail=%s rcpt=%s data=%s%s" % (s.mail, [(r, c) for r, c, _ in s.rcpt], s.data,
                                          " error=" + s.error if s.error else "")


# ---- delivered headers ----
def our_ars(d):
    return [v for v in d.get_all("Authentication-Results")
            if cases.authserv_id(v) == OUR_ID]


def check_headers(t, name, d, want):
    """Header invariants of a delivered message, then want = {method: result}."""
    ours = our_ars(d)
    if not t.check("%s: exactly one A-R with our authserv-id" % name, len(ours) == 1,
                   "got %d: %s" % (len(ours), ours)):
        return None
    names = [n.lower() for n in d.names()]
    ar_pos = [i for i, (n, v) in enumerate(d.fields)
              if n.lower() == "authentication-results" and v == ours[0]][0]
    rcvd = [i for i, n in enumerate(names) if n == "received"]
    t.check("%s: our A-R is above every Received field" % name,
            rcvd and ar_pos < min(rcvd), "order: %s" % names)
    above = [n for n in names[:ar_pos] if n not in DELIVERY_FIELDS and
             not n.startswith("x-senderauth-")]
    t.check("%s: only delivery fields and ours above our A-R" % name, not above,
            "order: %s" % names)
    try:
        ar = cases.parse(ours[0])
    except cases.ARParseError as e:
        t.check("%s: A-R parses" % name, False, "%s: %s" % (e, ours[0]))
        return None
    errs = []
    for method, res in want.items():
        got = [r.result for r in ar.methods(method)]
        if method == "spf":
            got = [r.result for r in ar.methods("spf") if "smtp.mailfrom" in r.props] or got
        if not got or any(g != res for g in got):
            errs.append("%s: got %s, want %s" % (method, got or "absent", res))
    t.check("%s: A-R results %s" % (name, " ".join("%s=%s" % kv for kv in want.items())),
            not errs, "; ".join(errs) + " in " + ours[0])
    trust = d.get_all("X-Senderauth-Trust")
    t.check("%s: one X-Senderauth-Trust added" % name, len(trust) == 1, "got %s" % trust)
    return ar


def delivered_once(t, name, pf, rcpt, token):
    try:
        d = pf.wait_delivery(rcpt, token)
    except PostfixError as e:
        t.check("%s: delivered to %s" % (name, rcpt), False, str(e))
        return None
    got = pf.find(rcpt, token)
    t.check("%s: delivered to %s exactly once" % (name, rcpt), len(got) == 1,
            "%d copies" % len(got))
    t.check("%s: body intact" % name, ("token %s\n.leading dot\nsecond line\n" % token) in
            d.body.replace("\r\n", "\n"), repr(d.body[:200]))
    return d


def not_delivered(t, name, pf, rcpts, token):
    """Checked after a final SMTP reply: Postfix had nothing queued for it."""
    q = pf.wait_queue_empty()
    t.check("%s: nothing in the queue" % name, not q, "queue: %s" % q)
    got = [r for r in rcpts if pf.find(r, token)]
    t.check("%s: nothing delivered" % name, not got, "delivered to %s" % got)


def summary_line(d, qid):
    """senderauthd's summary line for qid (logged before the EOM reply; bounded poll)."""
    deadline = time.monotonic() + 10
    while True:
        for line in d.log_text().splitlines():
            if line.startswith(qid + ":") and "action=" in line:
                return line
        if time.monotonic() > deadline:
            return ""
        time.sleep(0.02)  # poll interval


# ---- the store ----
def ctl(conf_path, *args):
    p = subprocess.run([os.path.join(build_dir(), "senderauthctl"), "-c", conf_path] +
                       list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("senderauthctl %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                              p.stderr.strip()))


def daemon_conf(store_path):
    return {"authserv_id": OUR_ID,
            "trusted_networks": [],
            "dns": {"timeout": 1, "retries": 1},
            "psl": {"path": "/usr/share/publicsuffix/public_suffix_list.dat"},
            "store": {"backend": "sqlite", "sqlite_path": store_path},
            "policy": {"mode": "enforce", "cache_ttl": 0, "mixed_recipients": "split"}}


# ---- the cases ----
def run_all(t, pf, d, key):
    # 1. A legitimate message from 127.0.0.1 (SPF allows it): DMARC pass.
    tok = "legit-1"
    s = smtp_send(pf, "user@good.example", [ALICE], message("good.example", tok))
    if t.check("legit: 250 at end of DATA", s.data and s.data[0] == 250, describe(s)):
        dm = delivered_once(t, "legit", pf, ALICE, tok)
        if dm:
            check_headers(t, "legit", dm, {"spf": "pass", "dmarc": "pass"})
        # Macro i: senderauthd's summary line names Postfix's queue id.
        m = re.search(r"queued as ([0-9A-Za-z]+)", s.data[1])
        line = summary_line(d, m.group(1)) if m else ""
        t.check("legit: senderauthd's summary line carries Postfix's queue id (macro i)",
                m and "client=127.0.0.1" in line and "dmarc=pass" in line,
                "reply %r, line %r" % (s.data[1], line))

    # 2. Forged A-R and X-Senderauth-* copies are removed; another server's A-R stays.
    tok = "forged-2"
    forged = ["Authentication-Results: %s; spf=pass smtp.mailfrom=bank.example; "
              "dmarc=pass header.from=bank.example" % OUR_ID,
              "Authentication-Results: relay.other.example; spf=none",
              "Authentication-Results: MX.Test.Example (forged, other case); dkim=pass",
              "X-Senderauth-Trust: level=verified; from=bank.example",
              "X-Senderauth-Quarantine: no"]
    s = smtp_send(pf, "security@bank.example", [BOB], message("bank.example", tok, forged),
                  client_ip=BAD_IP, helo="mail.bank.example")
    if t.check("forged: 250 (bob did not consent)", s.data and s.data[0] == 250, describe(s)):
        dm = delivered_once(t, "forged", pf, BOB, tok)
        if dm:
            check_headers(t, "forged", dm, {"spf": "fail", "dmarc": "fail"})
            others = [v for v in dm.get_all("Authentication-Results")
                      if cases.authserv_id(v) != OUR_ID]
            t.check("forged: other server's A-R kept unchanged",
                    others == ["relay.other.example; spf=none"], "got %s" % others)
            t.check("forged: forged A-R naming us removed",
                    not any("bank.example" in v and "dmarc=pass" in v for v in our_ars(dm)),
                    str(our_ars(dm)))
            trust = dm.get_all("X-Senderauth-Trust")
            t.check("forged: inbound X-Senderauth-Trust removed",
                    "level=verified; from=bank.example" not in trust, str(trust))
            t.check("forged: inbound X-Senderauth-Quarantine removed",
                    not dm.get_all("X-Senderauth-Quarantine"),
                    str(dm.get_all("X-Senderauth-Quarantine")))

    # 3. A DKIM signature from an independent signer survives Postfix: DMARC pass
    #    through DKIM although SPF fails.
    tok = "dkim-3"
    raw = message("signed.example", tok)
    sig = sign(raw, key, domain="signed.example", selector="s1")
    s = smtp_send(pf, "news@signed.example", [ALICE], sig.encode() + b"\r\n" + raw,
                  client_ip=BAD_IP, helo="mail.signed.example")
    if t.check("dkim: 250 at end of DATA", s.data and s.data[0] == 250, describe(s)):
        dm = delivered_once(t, "dkim", pf, ALICE, tok)
        if dm:
            ar = check_headers(t, "dkim", dm, {"spf": "fail", "dkim": "pass",
                                               "dmarc": "pass"})
            if ar:
                dk = ar.methods("dkim")
                t.check("dkim: header.d=signed.example",
                        dk and dk[0].props.get("header.d", "").lower() == "signed.example",
                        repr(ar))

    # 4. Reject: a consenting recipient and a p=reject failure -> 550 5.7.1 at DATA.
    tok = "reject-4"
    s = smtp_send(pf, "security@bank.example", [ALICE], message("bank.example", tok),
                  client_ip=BAD_IP, helo="mail.bank.example")
    t.check("reject: RCPT 250", [c for _, c, _ in s.rcpt] == [250], describe(s))
    t.check("reject: 550 5.7.1 at end of DATA",
            s.data is not None and s.data[0] == 550 and s.data[1].startswith("5.7.1"),
            describe(s))
    t.check("reject: reply text names the From domain and its policy",
            s.data is not None and "bank.example" in s.data[1] and "p=reject" in s.data[1],
            describe(s))
    not_delivered(t, "reject", pf, [ALICE], tok)

    # 5. Quarantine: p=quarantine failure for a consenting recipient is delivered marked.
    tok = "quarantine-5"
    s = smtp_send(pf, "offers@shop.example", [ALICE], message("shop.example", tok),
                  client_ip=BAD_IP, helo="mail.shop.example")
    if t.check("quarantine: 250 at end of DATA", s.data and s.data[0] == 250, describe(s)):
        dm = delivered_once(t, "quarantine", pf, ALICE, tok)
        if dm:
            check_headers(t, "quarantine", dm, {"dmarc": "fail"})
            q = dm.get_all("X-Senderauth-Quarantine")
            t.check("quarantine: X-Senderauth-Quarantine: yes", q == ["yes"], str(q))

    # 6. Split: consenting first -> the other class gets 452 4.5.3 at RCPT, the rest is
    #    rejected at DATA; the deferred recipient sent alone is delivered.
    tok = "split-6"
    s = smtp_send(pf, "security@bank.example", [ALICE, BOB, CAROL],
                  message("bank.example", tok), client_ip=BAD_IP, helo="mail.bank.example")
    codes = [(r, c, x[:5]) for r, c, x in s.rcpt]
    t.check("split: RCPT alice 250, bob 452 4.5.3, carol 452 4.5.3",
            codes == [(ALICE, 250, "2.1.5"), (BOB, 452, "4.5.3"), (CAROL, 452, "4.5.3")],
            describe(s))
    t.check("split: alice's part rejected 550 5.7.1",
            s.data is not None and s.data[0] == 550, describe(s))
    not_delivered(t, "split (alice's part)", pf, [ALICE, BOB, CAROL], tok)
    s = smtp_send(pf, "security@bank.example", [BOB, CAROL], message("bank.example", tok),
                  client_ip=BAD_IP, helo="mail.bank.example")
    t.check("split retry: bob and carol 250 at RCPT and DATA",
            [c for _, c, _ in s.rcpt] == [250, 250] and s.data and s.data[0] == 250,
            describe(s))
    for r in (BOB, CAROL):
        dm = delivered_once(t, "split retry", pf, r, tok)
        if dm:
            check_headers(t, "split retry (%s)" % r.split("@")[0], dm, {"dmarc": "fail"})
    t.check("split retry: alice got nothing", not pf.find(ALICE, tok))

    # 7. Other class first: alice is the one deferred; the message goes to bob.
    tok = "split-7"
    s = smtp_send(pf, "security@bank.example", [BOB, ALICE], message("bank.example", tok),
                  client_ip=BAD_IP, helo="mail.bank.example")
    t.check("split reversed: RCPT bob 250, alice 452 4.5.3; DATA 250",
            [(c, x[:5]) for _, c, x in s.rcpt] == [(250, "2.1.5"), (452, "4.5.3")] and
            s.data and s.data[0] == 250, describe(s))
    delivered_once(t, "split reversed", pf, BOB, tok)
    t.check("split reversed: alice got nothing", not pf.find(ALICE, tok))

    # 8. senderauthd down: milter_default_action = tempfail -> 4xx, nothing lost.
    d.stop()
    tok = "down-8"
    msg = message("good.example", tok)
    s = smtp_send(pf, "user@good.example", [ALICE], msg)
    codes = [x[0] for x in ([s.mail] + [(c, x) for _, c, x in s.rcpt] +
                            ([s.data] if s.data else [])) if x]
    t.check("milter down: the client sees 4xx",
            any(400 <= c < 500 for c in codes) and not any(c >= 500 for c in codes) and
            not (s.data and s.data[0] == 250), describe(s))
    not_delivered(t, "milter down", pf, [ALICE], tok)
    t.check("milter down: Postfix logged the milter failure",
            pf.wait_log("connect to Milter service inet:127.0.0.1:%d" % d.port),
            pf.log_tail(10))
    d.start()  # same port
    s = smtp_send(pf, "user@good.example", [ALICE], msg)
    if t.check("milter back: the retry gets 250", s.data and s.data[0] == 250, describe(s)):
        dm = delivered_once(t, "milter back", pf, ALICE, tok)
        if dm:
            check_headers(t, "milter back", dm, {"spf": "pass", "dmarc": "pass"})


def main():
    label = "postfix e2e"
    if skipped(label, tools=("senderauthd", "senderauthctl")):
        return 0
    t = Runner()
    tmp = tempfile.mkdtemp(prefix="satest-e2e-")
    key = KeyStore(tmp).get("rsa2048")

    def setup(d):
        ctl(d.conf_path, "init")
        ctl(d.conf_path, "user", "set", ALICE, "on", "--channel", "test",
            "--actor", "satest")
        ctl(d.conf_path, "user", "set", BOB, "off", "--channel", "test",
            "--actor", "satest")

    return run_behind_postfix(t, label, zone(key), daemon_conf(os.path.join(tmp, "consent.db")),
                              [ALICE, BOB, CAROL], lambda pf, d, ns: run_all(t, pf, d, key),
                              tmp=tmp, setup=setup, tails=(20, 30))


if __name__ == "__main__":
    sys.exit(main())
