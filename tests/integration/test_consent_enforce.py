#!/usr/bin/python3
"""test_consent_enforce.py - per-recipient consent and DMARC policy enforcement through
a real senderauthd (milter protocol), a real NSD and a consent store made with
senderauthctl (SQLite; PostgreSQL too when Debian's server is installed).

Checks, as a table of messages per daemon configuration:
- consenting / not consenting x p=reject / quarantine / none x DMARC pass / fail;
- a non-consenting recipient is never rejected, quarantined or deferred at EOM;
- split (452 4.5.3 for the other class, RCPT by RCPT) and never (mixed: nobody);
- pct=0, pct=50 with a fixed seed (outcomes equal the seeded model), t=y;
- dmarc=temperror with on_temperror accept and tempfail;
- each override (forwarder network, List-Id, allowed From domain), authenticated and
  trusted clients;
- quarantine by header (inbound copies removed) and by hold; reject_as_quarantine;
- measure mode (would_reject / would_quarantine in the log, nothing done);
- toggles: immediate with cache_ttl 0, within the TTL (bounded poll) with cache_ttl 1;
- store down (missing file, broken schema): no enforcement, mail accepted;
- subaddress and case handling of the lookup order.

Prints one line per check, then `consent: N passed, M failed`.
"""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import milter  # noqa: E402
from satest.checks import Checks  # noqa: E402
from satest.daemon import Senderauthd, DaemonError, stop_all, build_dir  # noqa: E402
from satest.nsd import Nsd  # noqa: E402
from test_ops_reload import wait_log  # noqa: E402

GOOD_IP = "192.0.2.10"      # allowed by every test domain's SPF: DMARC pass (aligned)
BAD_IP = "203.0.113.5"      # not allowed: SPF fail, no DKIM -> DMARC fail
FORWARDER_IP = "198.18.0.5"  # policy.forwarders
TRUSTED_IP = "198.51.100.7"  # trusted_networks
SEED = 42

SPF = "v=spf1 ip4:192.0.2.0/24 -all"
DOMAINS = {
    "reject.example": "v=DMARC1; p=reject",
    "quar.example": "v=DMARC1; p=quarantine",
    "none.example": "v=DMARC1; p=none",
    "pct0.example": "v=DMARC1; p=reject; pct=0",
    "pct50.example": "v=DMARC1; p=reject; pct=50",
    "testing.example": "v=DMARC1; p=reject; t=y",
    "allowed.example": "v=DMARC1; p=reject",
    "tempdmarc.example": None,   # _dmarc answers SERVFAIL
    "norecord.example": None,    # no DMARC record: dmarc=none
}
QHDR = "X-Senderauth-Quarantine"


def zone():
    recs = []
    for d, dmarc in DOMAINS.items():
        recs.append((d, "TXT", SPF))
        recs.append((d, "A", "192.0.2.1"))
        if dmarc:
            recs.append(("_dmarc." + d, "TXT", dmarc))
    return recs


# ---- the seeded model of src/policy/decide.c (splitmix64 over a counter) ----
M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9e3779b97f4a7c15) & M64
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M64
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def model_draws(seed, n):
    lim = M64 + 1 - (M64 + 1) % 100
    out, k = [], 0
    while len(out) < n:
        v = splitmix64((seed + k * 0x9e3779b97f4a7c15) & M64)
        k += 1
        if v < lim:
            out.append(v % 100)
    return out


# ---- the store ----
def ctl(conf_path, *args):
    p = subprocess.run([os.path.join(build_dir(), "senderauthctl"), "-c", conf_path] +
                       list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=30)
    if p.returncode not in (0, 1):
        raise RuntimeError("senderauthctl %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                              p.stderr.strip()))
    return p


def fill_store(conf_path):
    ctl(conf_path, "init")
    for subject, on in [("alice@example.jp", "on"), ("bob@example.jp", "off"),
                        ("Erin@Example.JP", "on"), ("corp.example", "on"),
                        ("carol@corp.example", "off"), ("zed@toggle.example", "on")]:
        kind = "domain" if "@" not in subject else "user"
        ctl(conf_path, kind, "set", subject, on, "--channel", "test", "--actor", "satest")


# ---- one message ----
class Outcome:
    def __init__(self, rcpt_replies, eom):
        self.rcpt = rcpt_replies          # [Reply] per RCPT
        self.eom = eom                    # Result or None (no recipient accepted)

    @property
    def final(self):
        """accept | reject:CODE | tempfail:CODE | none"""
        if self.eom is None:
            return "none"
        r = self.eom.reply
        if r.code in ("accept", "continue"):
            return "accept"
        return "%s:%s" % (r.code, r.text[:9] if r.text else r.smtp)

    def added(self, name):
        return [v for n, v in self.eom.added_headers() if n.lower() == name.lower()] \
            if self.eom else []

    def mods(self, kind):
        return [m for m in self.eom.mods if m.kind == kind] if self.eom else []

    def rcpt_codes(self):
        """per RCPT: the reply, "continue" also when the filter negotiated RCPT without a
        reply (it does when nothing in its configuration answers there)"""
        return [(r.text[:9] if r.code == "replycode" else
                 "continue" if r.code == "noreply" else r.code) for r in self.rcpt]


QID = [0]


def send(port, ip, from_domain, rcpts, mailfrom_domain=None, extra=(), auth=None):
    with milter.MilterClient("127.0.0.1", port) as m:
        m.connect("mail.sender.test", ip)
        m.helo("mail.sender.test")
        return transaction(m, from_domain, rcpts, mailfrom_domain, extra, auth)


def transaction(m, from_domain, rcpts, mailfrom_domain=None, extra=(), auth=None):
    """One transaction on the open connection m: (Outcome, queue id)."""
    QID[0] += 1
    qid = "CQ%05d" % QID[0]
    mm = {"i": qid}
    if auth:
        mm["{auth_authen}"] = auth
    m.mail("user@%s" % (mailfrom_domain or from_domain), macros=mm)
    replies = [m.rcpt(r) for r in rcpts]
    if not any(r.code in ("continue", "noreply") for r in replies):
        m.abort()
        return Outcome(replies, None), qid
    m.data()
    hdrs = [("From", " Sender <user@%s>" % from_domain), ("To", " rcpt@example.jp"),
            ("Subject", " consent test %s" % qid),
            ("Message-ID", " <%s@%s>" % (qid, from_domain))] + list(extra)
    for n, v in hdrs:
        m.header(n, v)
    m.eoh()
    m.body(b"hello\r\n")
    return Outcome(replies, m.eom()), qid


class Runner(Checks):
    """The tally, and expect(): one transaction's replies, final action and log."""

    def expect(self, name, d, out, qid, final, quar=False, hold=False, rcpts=None,
               log=None):
        errs = []
        if out.final != final:
            errs.append("got final %s, want %s" % (out.final, final))
        if bool(out.added(QHDR)) != quar:
            errs.append("got %s header %s, want %s" % (QHDR, out.added(QHDR), quar))
        if bool(out.mods("quarantine")) != hold:
            errs.append("got hold %s, want %s" % (out.mods("quarantine"), hold))
        if rcpts is not None and out.rcpt_codes() != rcpts:
            errs.append("got RCPT replies %s, want %s" % (out.rcpt_codes(), rcpts))
        if log is not None:
            line = summary_line(d, qid)
            for w in log:
                if w not in line:
                    errs.append("summary line lacks %r: %s" % (w, line))
        self.check(name, not errs, "; ".join(errs) + ("" if not errs else
                                                     "\n     summary: " + summary_line(d, qid)))


def summary_line(d, qid, tries=50):
    """The daemon's summary line for qid (written before the EOM reply is sent)."""
    for _ in range(tries):
        for line in d.log_text().splitlines():
            if (qid + ":") in line and "action=" in line:
                return line
        time.sleep(0.02)  # the log write may trail the reply by a moment (bounded)
    return ""


def base_conf(store_path, **policy):
    p = {"mode": "enforce", "cache_ttl": 0, "random_seed": SEED,
         "forwarders": ["198.18.0.0/15"], "list_ids": "users.lists.example.org",
         "allow_from_domains": "allowed.example"}
    p.update(policy)
    return {"trusted_networks": ["198.51.100.0/24"],
            "dns": {"timeout": 1, "retries": 1},
            "psl": {"path": "/usr/share/publicsuffix/public_suffix_list.dat"},
            "store": {"backend": "sqlite", "sqlite_path": store_path,
                      "busy_timeout_ms": 100},
            "policy": p}


def matrix(t, d):
    """consenting / not x reject / quarantine / none / no record x pass / fail."""
    for who, consents in (("alice@example.jp", True), ("bob@example.jp", False)):
        for dom, pol in (("reject.example", "reject"), ("quar.example", "quarantine"),
                         ("none.example", "none"), ("norecord.example", "no record")):
            for ip, res in ((GOOD_IP, "pass"), (BAD_IP, "fail")):
                out, qid = send(d.port, ip, dom, [who])
                final, quar = "accept", False
                if consents and res == "fail" and pol == "reject":
                    final = "replycode:550 5.7.1"
                if consents and res == "fail" and pol == "quarantine":
                    quar = True
                t.expect("%s %s dmarc=%s %s" % ("consenting" if consents else "not consenting",
                                                  pol, res, who), d, out, qid, final, quar,
                         rcpts=["continue"])
                if final.startswith("replycode"):
                    txt = out.eom.reply.text
                    t.check("reject text names the From domain and policy",
                            "reject.example" in txt and "p=reject" in txt, txt)


def run_daemons(label, prefix, make_confs, first, run):
    """main() of the consent programs: one NSD (zone()), a senderauthd for each entry of
    make_confs(tmp, store) -> {name: conf}, the store filled through daemons[first]'s
    config; run(t, daemons, store), every daemon stopped, the tally printed; the exit
    status."""
    for tool in ("senderauthd", "senderauthctl"):
        if not os.access(os.path.join(build_dir(), tool), os.X_OK):
            print("SKIP: no %s in %s" % (tool, build_dir()))
            print("%s: 0 passed, 0 failed" % label)
            return 0
    t = Runner()
    tmp = tempfile.mkdtemp(prefix=prefix)
    with Nsd(zone(), servfail=["_dmarc.tempdmarc.example"]) as ns:
        store = os.path.join(tmp, "consent.db")
        confs = make_confs(tmp, store)
        daemons = {k: Senderauthd(ns.port, conf=v) for k, v in confs.items()}
        daemons[first].write_conf()
        fill_store(daemons[first].conf_path)
        try:
            for d in daemons.values():
                d.start()
            run(t, daemons, store)
        except (milter.MilterError, OSError, DaemonError, RuntimeError) as e:
            t.check("conversation", False, str(e))
        finally:
            errs = stop_all(list(daemons.values()))
            for e in errs:
                t.check("daemon stopped cleanly", False, e)
            if t.failed or os.environ.get("SA_KEEP"):
                for k, d in daemons.items():
                    print("--- %s: %s" % (k, d.log_tail(15)))
    return t.finish(label)


def confs_for(tmp, store):
    return {
        "enforce": base_conf(store),
        "never": base_conf(store, mixed_recipients="never", on_temperror="tempfail",
                           reject_as_quarantine=True),
        "hold": dict(base_conf(store), quarantine={"action": "hold"}),
        "measure": base_conf(store, mode="measure", cache_ttl=1,
                             domain_modes="toggle.example=enforce"),
        "pct": base_conf(store, random_seed=SEED),
        "down": base_conf(os.path.join(tmp, "missing", "consent.db")),
    }


def main():
    return run_daemons("consent", "satest-consent-", confs_for, "enforce", run_all)

def rcpt_noreply(t, daemons):
    """RCPT is negotiated without a reply exactly when nothing may answer there (one round
    trip less per message); a connection that negotiated so before a reload turned
    splitting on handles mixed recipients as "never" instead of answering 452 out of
    step (the MTA would read it at end of message, for the whole transaction)."""
    for name, want in (("enforce", False), ("never", True)):
        with milter.MilterClient("127.0.0.1", daemons[name].port) as m:
            t.check("RCPT %s a reply (%s)" % ("without" if want else "with", name),
                    m.noreply(milter.C_RCPT) == want)
    d = daemons["never"]
    with milter.MilterClient("127.0.0.1", d.port) as m:
        m.connect("mail.sender.test", BAD_IP)
        m.helo("mail.sender.test")
        before = d.log_text().count("reloaded ")
        d.conf = dict(d.conf, policy=dict(d.conf["policy"], mixed_recipients="split"))
        d.write_conf()
        d.proc.send_signal(signal.SIGHUP)
        wait_log(d, r"reloaded ", before + 1)
        out, qid = transaction(m, "reject.example", ["alice@example.jp", "bob@example.jp"])
        t.expect("reload to split, connection opened before: mixed enforced for nobody", d,
                 out, qid, "accept", rcpts=["continue", "continue"],
                 log=["enforce=mixed-recipients"])
    with milter.MilterClient("127.0.0.1", d.port) as m:
        t.check("after the reload to split, a new connection gets RCPT replies",
                not m.noreply(milter.C_RCPT))


def run_all(t, daemons, store):
    d = daemons["enforce"]
    conf = d.conf_path
    matrix(t, d)

    # Split: the first accepted recipient fixes the class.
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp", "bob@example.jp"])
    t.expect("split: consenting first, other deferred, then rejected", d, out, qid,
             "replycode:550 5.7.1", rcpts=["continue", "452 4.5.3"], log=["deferred=1"])
    out, qid = send(d.port, BAD_IP, "reject.example", ["bob@example.jp", "alice@example.jp",
                                                       "dan@norecord.example"])
    t.expect("split: other first, consenting deferred, accepted", d, out, qid, "accept",
             rcpts=["continue", "452 4.5.3", "continue"])
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp", "x@corp.example"])
    t.expect("split: same class (address and domain consent) together", d, out, qid,
             "replycode:550 5.7.1", rcpts=["continue", "continue"])
    out, qid = send(d.port, GOOD_IP, "reject.example", ["alice@example.jp", "bob@example.jp"])
    t.expect("split happens at RCPT even when DMARC later passes", d, out, qid, "accept",
             rcpts=["continue", "452 4.5.3"])

    # pct=0 and t=y: one step less strict.
    out, qid = send(d.port, BAD_IP, "pct0.example", ["alice@example.jp"])
    t.expect("pct=0 p=reject -> quarantine", d, out, qid, "accept", quar=True,
             log=["enforce=pct-sampled-out"])
    out, qid = send(d.port, BAD_IP, "testing.example", ["alice@example.jp"])
    t.expect("t=y p=reject -> quarantine", d, out, qid, "accept", quar=True,
             log=["enforce=testing"])

    # temperror with on_temperror = accept.
    out, qid = send(d.port, BAD_IP, "tempdmarc.example", ["alice@example.jp"],
                    mailfrom_domain="reject.example")
    t.expect("temperror, on_temperror=accept", d, out, qid, "accept",
             log=["dmarc=temperror", "enforce=dmarc-temperror"])

    # Overrides, authenticated and trusted clients.
    out, qid = send(d.port, FORWARDER_IP, "reject.example", ["alice@example.jp"])
    t.expect("override: forwarder network", d, out, qid, "accept",
             log=["enforce=override-forwarder"])
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"],
                    extra=[("List-Id", ' "Users" <Users.Lists.Example.ORG>')])
    t.expect("override: List-Id", d, out, qid, "accept", log=["enforce=override-list-id"])
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"],
                    extra=[("List-Id", " <other.lists.example.org>")])
    t.expect("override: another List-Id does not match", d, out, qid, "replycode:550 5.7.1")
    out, qid = send(d.port, BAD_IP, "allowed.example", ["alice@example.jp"])
    t.expect("override: allowed From domain", d, out, qid, "accept",
             log=["enforce=override-allow-from"])
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"], auth="alice")
    t.expect("authenticated client never enforced", d, out, qid, "accept",
             log=["skip=authenticated"])
    out, qid = send(d.port, TRUSTED_IP, "reject.example", ["alice@example.jp", "bob@example.jp"])
    t.expect("trusted client never enforced nor split", d, out, qid, "accept",
             rcpts=["continue", "continue"], log=["skip=trusted"])

    # Inbound quarantine headers are removed; ours is added once.
    out, qid = send(d.port, BAD_IP, "quar.example", ["bob@example.jp"],
                    extra=[(QHDR, " yes")])
    dels = [m for m in out.mods("chgheader") if m.name.lower() == QHDR.lower() and m.value == ""]
    t.expect("forged quarantine header for a non-consenting recipient", d, out, qid, "accept")
    t.check("forged quarantine header removed", len(dels) == 1, repr(out.eom.mods))
    out, qid = send(d.port, BAD_IP, "quar.example", ["alice@example.jp"],
                    extra=[(QHDR, " no")])
    t.expect("quarantine header replaces an inbound one", d, out, qid, "accept", quar=True)

    # Subaddress and case.
    for rcpt, final in (("alice+news@example.jp", "replycode:550 5.7.1"),
                        ("ALICE@EXAMPLE.JP", "replycode:550 5.7.1"),
                        ("erin@example.jp", "replycode:550 5.7.1"),
                        ("Anyone@CORP.example", "replycode:550 5.7.1"),
                        ("carol@corp.example", "accept"),
                        ("carol+x@Corp.Example", "accept"),
                        ("bob+tag@example.jp", "accept")):
        out, qid = send(d.port, BAD_IP, "reject.example", [rcpt])
        t.expect("lookup order: %s" % rcpt, d, out, qid, final)

    # Toggle with cache_ttl 0: immediate.
    ctl(conf, "user", "set", "bob@example.jp", "on", "--channel", "test")
    out, qid = send(d.port, BAD_IP, "reject.example", ["bob@example.jp"])
    t.expect("toggle on, ttl 0: enforced at once", d, out, qid, "replycode:550 5.7.1")
    ctl(conf, "user", "set", "bob@example.jp", "off", "--channel", "test")
    out, qid = send(d.port, BAD_IP, "reject.example", ["bob@example.jp"])
    t.expect("toggle off, ttl 0: accepted at once", d, out, qid, "accept")

    # Store broken under the running daemon (the table renamed away): no enforcement,
    # mail accepted; repaired: enforced again. (WAL readers are never blocked by a lock,
    # so a broken schema stands in for "locked".)
    db = sqlite3.connect(store, timeout=5, isolation_level=None)
    db.execute("ALTER TABLE consent_user RENAME TO consent_user_away")
    try:
        out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"])
        t.expect("store broken: accepted", d, out, qid, "accept", log=["store_errors=1"])
    finally:
        db.execute("ALTER TABLE consent_user_away RENAME TO consent_user")
        db.close()
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"])
    t.expect("store repaired: enforced again", d, out, qid, "replycode:550 5.7.1")

    # never: mixed -> nobody; on_temperror tempfail; reject_as_quarantine.
    d = daemons["never"]
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp", "bob@example.jp"])
    t.expect("never: mixed transaction enforced for nobody", d, out, qid, "accept",
             rcpts=["continue", "continue"], log=["enforce=mixed-recipients"])
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"])
    t.expect("reject_as_quarantine: p=reject -> quarantine", d, out, qid, "accept", quar=True,
             log=["enforce=as-quarantine"])
    out, qid = send(d.port, BAD_IP, "tempdmarc.example", ["alice@example.jp"],
                    mailfrom_domain="reject.example")
    t.expect("temperror, on_temperror=tempfail, consenting", d, out, qid,
             "replycode:451 4.4.3")
    out, qid = send(d.port, BAD_IP, "tempdmarc.example", ["bob@example.jp"],
                    mailfrom_domain="reject.example")
    t.expect("temperror, on_temperror=tempfail, not consenting", d, out, qid, "accept")
    rcpt_noreply(t, daemons)

    # hold.
    d = daemons["hold"]
    out, qid = send(d.port, BAD_IP, "quar.example", ["alice@example.jp"])
    t.expect("quarantine.action=hold", d, out, qid, "accept", hold=True)
    out, qid = send(d.port, BAD_IP, "quar.example", ["bob@example.jp"])
    t.expect("hold: not consenting, not held", d, out, qid, "accept")

    # measure: nothing done, the log says what would have happened.
    d = daemons["measure"]
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"])
    t.expect("measure: would_reject", d, out, qid, "accept", log=["outcome=would_reject"])
    out, qid = send(d.port, BAD_IP, "quar.example", ["alice@example.jp"])
    t.expect("measure: would_quarantine", d, out, qid, "accept",
             log=["outcome=would_quarantine"])
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp", "bob@example.jp"])
    t.expect("measure: no split", d, out, qid, "accept", rcpts=["continue", "continue"])
    out, qid = send(d.port, BAD_IP, "reject.example", ["bob@example.jp"])
    line = summary_line(d, qid)
    t.check("measure: not consenting has no would_*", "would_" not in line and line != "", line)

    # Per-domain enforce inside measure, and a toggle seen within the TTL (1 s).
    out, qid = send(d.port, BAD_IP, "reject.example", ["zed@toggle.example"])
    t.expect("domain_modes: toggle.example enforced", d, out, qid, "replycode:550 5.7.1")
    for state, want in (("off", "accept"), ("on", "replycode:550 5.7.1")):
        ctl(d.conf_path, "user", "set", "zed@toggle.example", state, "--channel", "test")
        deadline, got, n = time.monotonic() + 10, None, 0
        while time.monotonic() < deadline:
            out, qid = send(d.port, BAD_IP, "reject.example", ["zed@toggle.example"])
            n += 1
            got = out.final
            if got == want:
                break
            time.sleep(0.1)  # poll interval (bounded by the deadline), not a timing check
        t.check("toggle %s seen within the TTL without restart (%d messages)" % (state, n),
                got == want, "got %s, want %s" % (got, want))

    # pct=50 with a fixed seed: each outcome follows the seeded draw.
    d = daemons["pct"]
    draws = model_draws(SEED, 12)
    got = []
    for i in range(12):
        out, qid = send(d.port, BAD_IP, "pct50.example", ["alice@example.jp"])
        got.append("reject" if out.final.startswith("replycode:550") else
                   "quarantine" if out.added(QHDR) else out.final)
    want = ["reject" if x < 50 else "quarantine" for x in draws]
    t.check("pct=50 seed %d: outcomes follow the seeded draws" % SEED, got == want,
            "got %s, want %s" % (got, want))
    t.check("pct=50 seed %d: both outcomes occur" % SEED,
            "reject" in want and "quarantine" in want, str(want))

    # Store missing at start: nobody enforced, mail accepted, a warning logged.
    d = daemons["down"]
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"])
    t.expect("store missing: accepted", d, out, qid, "accept", log=["store_errors=1"])
    t.check("store missing: warned", re.search(r"store", d.log_text()) is not None,
            d.log_tail(5))


if __name__ == "__main__":
    sys.exit(main())
