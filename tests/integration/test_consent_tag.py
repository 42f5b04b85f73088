#!/usr/bin/python3
"""test_consent_tag.py - quarantine by subaddress (quarantine.action = "subaddress") and
the DMARC disposition in the Authentication-Results comment (dis=), through a real
senderauthd (milter protocol), a real NSD and a SQLite consent store made with
senderauthctl. Uses the store, zone and message helpers of test_consent_enforce.py.

Checks, per daemon configuration:
- "tag" (subaddress, reject_as_quarantine, on_temperror accept): a mixed transaction
  passes without a split; at EOM exactly the consenting recipients are rewritten to
  local+quarantine@domain (ADDRCPT of the tagged form, DELRCPT of the original, in that
  order; an address two recipients share is added once), nothing is done for the others, no quarantine header is added and dis=none
  (the header reaches the others too); an existing tag is replaced; DMARC pass or a
  non-consenting transaction changes no recipient; an all-consenting transaction gets
  dis=quarantine; an MTA without recipient changes falls back to split / the header;
- "tagsplit" (subaddress, p=reject still possible): mixed transactions are still split,
  p=reject still rejects, p=quarantine tags;
- dis= in the A-R: quarantine with the header action, none for accept, measure and
  non-consenting recipients.

Prints one line per check, then `consent-tag: N passed, M failed`.
"""
import os
import re
import sys

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.join(SRC, "tests/integration"))

from satest import milter  # noqa: E402
import test_consent_enforce as ce  # noqa: E402

BAD_IP, GOOD_IP, QHDR = ce.BAD_IP, ce.GOOD_IP, ce.QHDR
ALL_BUT_RCPT = milter.F_ALL & ~(milter.F_ADDRCPT | milter.F_DELRCPT)


def send(port, ip, from_domain, rcpts, actions=milter.F_ALL):
    """ce.send with the actions the "MTA" offers; returns (Outcome, qid)."""
    ce.QID[0] += 1
    qid = "TG%05d" % ce.QID[0]
    with milter.MilterClient("127.0.0.1", port, actions=actions) as m:
        m.connect("mail.sender.test", ip)
        m.helo("mail.sender.test")
        m.mail("user@%s" % from_domain, macros={"i": qid})
        replies = [m.rcpt(r) for r in rcpts]
        if not any(r.code == "continue" for r in replies):
            m.abort()
            return ce.Outcome(replies, None), qid
        m.data()
        for n, v in [("From", " Sender <user@%s>" % from_domain), ("To", " rcpt@example.jp"),
                     ("Subject", " tag test %s" % qid),
                     ("Message-ID", " <%s@%s>" % (qid, from_domain))]:
            m.header(n, v)
        m.eoh()
        m.body(b"hello\r\n")
        return ce.Outcome(replies, m.eom()), qid


def rcpt_mods(out):
    """[("add"|"del", rcpt)] in the order the milter sent them."""
    return [("add" if m.kind == "addrcpt" else "del", m.rcpt)
            for m in (out.eom.mods if out.eom else []) if m.kind in ("addrcpt", "delrcpt",
                                                                    "addrcpt_par")]


def dis(out):
    """The dis= value of the A-R dmarc comment, or None."""
    for v in out.added("Authentication-Results"):
        mm = re.search(r"dmarc=\w+ \(p=\w+ dis=(\w+)\)", milter.unfold(v))
        if mm:
            return mm.group(1)
    return None


def expect(t, name, d, out, qid, final="accept", mods=(), quar=False, rcpts=None,
           want_dis=None, log=()):
    errs = []
    if out.final != final:
        errs.append("got final %s, want %s" % (out.final, final))
    if rcpt_mods(out) != list(mods):
        errs.append("got recipient changes %s, want %s" % (rcpt_mods(out), list(mods)))
    if bool(out.added(QHDR)) != quar:
        errs.append("got %s %s, want %s" % (QHDR, out.added(QHDR), quar))
    if rcpts is not None and out.rcpt_codes() != rcpts:
        errs.append("got RCPT replies %s, want %s" % (out.rcpt_codes(), rcpts))
    if want_dis is not None and dis(out) != want_dis:
        errs.append("got dis=%s, want dis=%s (%s)" % (dis(out), want_dis,
                                                      out.added("Authentication-Results")))
    line = ce.summary_line(d, qid) if log else ""
    for w in log:
        if w not in line:
            errs.append("summary line lacks %r: %s" % (w, line))
    t.check(name, not errs, "; ".join(errs))


def tag_cases(t, d):
    A, B = "<alice@example.jp>", "<bob@example.jp>"
    AQ = "<alice+quarantine@example.jp>"
    out, qid = send(d.port, BAD_IP, "quar.example", ["alice@example.jp", "bob@example.jp",
                                                     "dan@norecord.example",
                                                     "alice+news@example.jp"])
    expect(t, "tag: mixed p=quarantine, no split, only the consenting recipients tagged", d,
           out, qid, mods=[("add", AQ), ("del", "<alice+news@example.jp>"), ("del", A)],
           rcpts=["continue"] * 4, want_dis="none",
           log=["consent=2/4", "tagged=2", "outcome=quarantine"])
    out, qid = send(d.port, BAD_IP, "reject.example", ["bob@example.jp", "alice@example.jp"])
    expect(t, "tag: mixed p=reject as quarantine, other class first", d, out, qid,
           mods=[("add", AQ), ("del", A)], rcpts=["continue", "continue"], want_dis="none",
           log=["enforce=as-quarantine", "tagged=1"])
    out, qid = send(d.port, BAD_IP, "reject.example", ["Anyone@CORP.example", "bob@example.jp"])
    expect(t, "tag: domain consent, case kept in the tagged address", d, out, qid,
           mods=[("add", "<Anyone+quarantine@CORP.example>"), ("del", "<Anyone@CORP.example>")],
           rcpts=["continue", "continue"])
    out, qid = send(d.port, GOOD_IP, "quar.example", ["alice@example.jp", "bob@example.jp"])
    expect(t, "tag: mixed, DMARC pass: no recipient changed", d, out, qid,
           rcpts=["continue", "continue"], want_dis="none", log=["enforce=dmarc-pass"])
    out, qid = send(d.port, BAD_IP, "none.example", ["alice@example.jp", "bob@example.jp"])
    expect(t, "tag: mixed, p=none: no recipient changed", d, out, qid, want_dis="none")
    out, qid = send(d.port, BAD_IP, "quar.example", ["bob@example.jp", "carol@corp.example"])
    expect(t, "tag: nobody consenting: no recipient changed", d, out, qid, want_dis="none")
    out, qid = send(d.port, BAD_IP, "quar.example", ["alice@example.jp", "erin@example.jp"])
    expect(t, "tag: all consenting: tagged, dis=quarantine, no header", d, out, qid,
           mods=[("add", "<erin+quarantine@example.jp>"), ("del", "<erin@example.jp>"),
                 ("add", AQ), ("del", A)], want_dis="quarantine", log=["tagged=2"])
    out, qid = send(d.port, ce.FORWARDER_IP, "quar.example",
                    ["alice@example.jp", "bob@example.jp"])
    expect(t, "tag: override (forwarder): no recipient changed", d, out, qid,
           want_dis="none", log=["enforce=override-forwarder"])
    # An MTA that does not let the milter change recipients: split, and the header.
    out, qid = send(d.port, BAD_IP, "quar.example", ["alice@example.jp", "bob@example.jp"],
                    actions=ALL_BUT_RCPT)
    expect(t, "tag: MTA without recipient changes: split", d, out, qid, quar=True,
           rcpts=["continue", "452 4.5.3"], want_dis="quarantine")
    out, qid = send(d.port, BAD_IP, "quar.example", ["bob@example.jp", "alice@example.jp"],
                    actions=ALL_BUT_RCPT)
    expect(t, "tag: MTA without recipient changes: split, the others untouched", d, out, qid,
           rcpts=["continue", "452 4.5.3"], want_dis="none")
    # A consenting recipient that cannot be tagged (quoted local part) is split off.
    out, qid = send(d.port, BAD_IP, "quar.example", ["bob@example.jp", '"ab"@corp.example'])
    expect(t, "tag: untaggable consenting recipient deferred", d, out, qid,
           rcpts=["continue", "452 4.5.3"])
    out, qid = send(d.port, BAD_IP, "quar.example", ['"ab"@corp.example', "bob@example.jp"])
    expect(t, "tag: untaggable consenting recipient first: the other deferred, header", d,
           out, qid, quar=True, rcpts=["continue", "452 4.5.3"], want_dis="quarantine")
    out, qid = send(d.port, BAD_IP, "quar.example", ['"ab"@corp.example', "alice@example.jp"])
    expect(t, "tag: all consenting, one untaggable: the header for all, no rewrite", d, out,
           qid, quar=True, rcpts=["continue", "continue"], want_dis="quarantine")


def tagsplit_cases(t, d):
    out, qid = send(d.port, BAD_IP, "quar.example", ["alice@example.jp", "bob@example.jp"])
    expect(t, "tagsplit: mixed still split (reject possible)", d, out, qid,
           mods=[("add", "<alice+quarantine@example.jp>"), ("del", "<alice@example.jp>")],
           rcpts=["continue", "452 4.5.3"], want_dis="quarantine")
    out, qid = send(d.port, BAD_IP, "reject.example", ["alice@example.jp"])
    expect(t, "tagsplit: p=reject still rejects", d, out, qid, final="replycode:550 5.7.1")


def dis_cases(t, daemons):
    d = daemons["header"]
    for rcpt, dom, ip, want, quar in (("alice@example.jp", "quar.example", BAD_IP,
                                       "quarantine", True),
                                      ("bob@example.jp", "quar.example", BAD_IP, "none", False),
                                      ("alice@example.jp", "quar.example", GOOD_IP, "none",
                                       False),
                                      ("alice@example.jp", "pct0.example", BAD_IP, "quarantine",
                                       True)):
        out, qid = send(d.port, ip, dom, [rcpt])
        expect(t, "dis=%s: %s %s from %s" % (want, rcpt, dom, ip), d, out, qid, quar=quar,
               want_dis=want)
    d = daemons["measure"]
    out, qid = send(d.port, BAD_IP, "quar.example", ["alice@example.jp"])
    expect(t, "dis=none in measure mode", d, out, qid, want_dis="none",
           log=["outcome=would_quarantine"])


def confs_for(tmp, store):
    sub = {"action": "subaddress"}
    return {
        "tag": dict(ce.base_conf(store, reject_as_quarantine=True), quarantine=sub),
        "tagsplit": dict(ce.base_conf(store), quarantine=sub),
        "header": ce.base_conf(store),
        "measure": ce.base_conf(store, mode="measure"),
    }


def run_all(t, daemons, store):
    tag_cases(t, daemons["tag"])
    t.check("tag: the config warns nothing",
            "still split" not in daemons["tag"].log_text(), daemons["tag"].log_tail(5))
    t.check("tagsplit: the config warns that mixed transactions are still split",
            "still split" in daemons["tagsplit"].log_text(),
            daemons["tagsplit"].log_tail(5))
    tagsplit_cases(t, daemons["tagsplit"])
    dis_cases(t, daemons)


def main():
    return ce.run_daemons("consent-tag", "satest-tag-", confs_for, "tag", run_all)

if __name__ == "__main__":
    sys.exit(main())
