#!/usr/bin/python3
"""test_report_postfix.py - DMARC aggregate reports delivered by a real Postfix and read
back from the mailboxes.

A day of synthetic history (the generator of tests/integration/test_report_aggregate.py,
kept to four reporting domains) goes into a SQLite store; senderauth-report runs with
report.sendmail_path pointing at Postfix's own sendmail(1) for a private instance
(tests/lib/satest/postfix.py: local submission -> pickup -> cleanup -> virtual(8) into
maildirs). Every delivered message is parsed with the email package and checked against
RFC 9990 6.3: Subject `Report Domain: D Submitter: S Report-ID: <ID>`, From, To,
multipart/mixed with a text part and one application/gzip attachment named
`receiver!domain!begin!end!id.xml.gz`; the attachment is gunzipped, validated against
the RFC 9990 XSD of the shared test suites (xmllint) and its record counts are compared
with the rows. Several rua URIs each get the report, including an authorized third party
(verified through <domain>._report._dmarc.<vendor> on a real NSD); an unauthorized third
party and our own address (loop suppression) get nothing; a p=none domain is reported.

Prints one line per check, then `report postfix e2e: N passed, M failed`.
"""
import collections
import email
import email.policy
import gzip
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.join(SRC, "tests/integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from satest.daemon import build_dir  # noqa: E402
from satest.nsd import Nsd, free_port  # noqa: E402
from satest.e2e import skipped  # noqa: E402
from satest.postfix import Postfix, PostfixError  # noqa: E402
from test_postfix import Runner  # noqa: E402
from test_report_aggregate import (COLS, DAY, NS, REPORTER, XSD, gkey, reportable,  # noqa: E402
                                   synth, write_conf, xml_groups)

DOMAINS = ("d00.example", "d01.example", "d03.example", "d06.example")
# Who must get which domain's report (d00: own address and an authorized third party;
# d01: only an unauthorized third party; d03: our own address and its own; d06: p=none).
WANT_MAIL = {"agg@d00.example": "d00.example", "rua@thirdparty.example": "d00.example",
             "agg@d03.example": "d03.example", "agg@d06.example": "d06.example"}
NO_MAIL = ("rua@unauth.example", REPORTER)
SENDMAIL_WRAPPER = """#!/bin/sh
# Postfix's sendmail(1) for the private instance of this test
exec %s -C %s "$@"
"""


def rows_for_test():
    rows = [r for r in synth(random.Random(9990), 3000) if r["policy_domain"] in DOMAINS or
            r["header_from"].endswith(DOMAINS)]
    want = collections.defaultdict(collections.Counter)
    for r in rows:
        if reportable(r):
            want[r["policy_domain"]][gkey(r)] += 1
    return rows, want


def load_store(conf, db, rows):
    p = subprocess.run([os.path.join(build_dir(), "senderauthctl"), "-c", conf, "init"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("senderauthctl init: %s" % p.stderr.strip())
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO dmarc_history (%s) VALUES (%s)" % (
        ",".join(COLS), ",".join("?" * len(COLS))), [tuple(r[c] for c in COLS) for r in rows])
    con.commit()
    con.close()


def xsd_ok(work, data):
    x = os.path.join(work, "delivered.xml")
    with open(x, "wb") as f:
        f.write(data)
    v = subprocess.run(["xmllint", "--noout", "--schema", XSD, x], capture_output=True,
                       text=True)
    return v.returncode == 0, v.stderr.strip()[-400:]


def check_mail(t, work, rcpt, dom, path, want):
    """One delivered report: RFC 9990 6.3 form, attachment, XSD, counts."""
    with open(path, "rb") as f:
        msg = email.message_from_bytes(f.read(), policy=email.policy.default)
    subj = str(msg["Subject"])
    head = "Report Domain: %s Submitter: isp.example Report-ID: <" % dom
    t.check("%s: subject form" % rcpt, subj.startswith(head) and subj.endswith(">"), subj)
    t.check("%s: From" % rcpt, str(msg["From"]) == REPORTER, str(msg["From"]))
    t.check("%s: To" % rcpt, str(msg["To"]) == rcpt, str(msg["To"]))
    t.check("%s: delivered by Postfix" % rcpt,
            msg["Delivered-To"] == rcpt and msg["Return-Path"] == "<%s>" % REPORTER,
            "%s / %s" % (msg["Delivered-To"], msg["Return-Path"]))
    t.check("%s: auto-generated" % rcpt, msg["Auto-Submitted"] == "auto-generated",
            str(msg["Auto-Submitted"]))
    t.check("%s: multipart/mixed" % rcpt, msg.get_content_type() == "multipart/mixed",
            msg.get_content_type())
    texts = [p for p in msg.iter_parts() if p.get_content_type() == "text/plain"]
    t.check("%s: a text part" % rcpt, len(texts) == 1, "%d text parts" % len(texts))
    atts = list(msg.iter_attachments())
    if not t.check("%s: one attachment" % rcpt, len(atts) == 1, "%d" % len(atts)):
        return None
    att = atts[0]
    t.check("%s: application/gzip" % rcpt, att.get_content_type() == "application/gzip",
            att.get_content_type())
    name = att.get_filename() or ""
    parts = name[:-len(".xml.gz")].split("!") if name.endswith(".xml.gz") else []
    rid = subj[len(head):-1]
    t.check("%s: file name" % rcpt, parts == ["isp.example", dom, str(DAY), str(DAY + 86399),
                                               rid], name)
    try:
        data = gzip.decompress(att.get_content())
    except (OSError, EOFError) as e:
        t.check("%s: gunzip" % rcpt, False, str(e))
        return None
    ok, why = xsd_ok(work, data)
    t.check("%s: XSD" % rcpt, ok, why)
    root = ET.fromstring(data)
    meta = root.find(NS + "report_metadata")
    t.check("%s: report_id = Subject's" % rcpt, meta.findtext(NS + "report_id") == rid,
            meta.findtext(NS + "report_id"))
    t.check("%s: policy domain" % rcpt,
            root.find(NS + "policy_published").findtext(NS + "domain") == dom, dom)
    got = xml_groups(root)
    t.check("%s: record counts = rows" % rcpt, got == want[dom],
            "%d rows in XML, %d in history" % (sum(got.values()), sum(want[dom].values())))
    return rid


def run_all(t, work, pf, ns_port):
    db = os.path.join(work, "store.db")
    conf = os.path.join(work, "senderauth.conf")
    wrapper = os.path.join(work, "sendmail")
    with open(wrapper, "w") as f:
        f.write(SENDMAIL_WRAPPER % (shutil.which("sendmail") or "/usr/sbin/sendmail",
                                    pf.conf_dir))
    os.chmod(wrapper, 0o755)
    write_conf(conf, db, ns_port, wrapper)
    rows, want = rows_for_test()
    load_store(conf, db, rows)
    p = subprocess.run([os.path.join(build_dir(), "senderauth-report"), "-c", conf, "run",
                        "--from", str(DAY), "--to", str(DAY + 86400)],
                       capture_output=True, text=True, timeout=120)
    t.check("senderauth-report run exit 0", p.returncode == 0,
            "exit %d: %s%s" % (p.returncode, p.stderr, p.stdout[-800:]))
    summary = [ln for ln in p.stdout.splitlines() if ln.startswith("summary:")]
    t.check("summary: 4 domains, 4 sent, 2 skipped",
            len(summary) == 1 and " domains=4 " in summary[0] and " sent=4 " in summary[0]
            and " skipped=2 " in summary[0] and " failed=0 " in summary[0], str(summary))
    left = pf.wait_queue_empty()
    t.check("Postfix queue drained", not left, "queue: %s%s" % (left, pf.log_tail(10)))
    ids = collections.defaultdict(set)
    for rcpt, dom in sorted(WANT_MAIL.items()):
        got = pf.delivered(rcpt)
        if not t.check("%s: one report delivered" % rcpt, len(got) == 1,
                       "%d messages%s" % (len(got), pf.log_tail(10))):
            continue
        rid = check_mail(t, work, rcpt, dom, got[0], want)
        if rid:
            ids[dom].add(rid)
    t.check("both d00 destinations got the same report", len(ids["d00.example"]) == 1,
            str(ids["d00.example"]))
    for rcpt in NO_MAIL:
        t.check("%s: nothing delivered" % rcpt, pf.delivered(rcpt) == [],
                "%d messages" % len(pf.delivered(rcpt)))


def main():
    no_xsd = not os.path.exists(XSD) or shutil.which("xmllint") is None
    if skipped("report postfix e2e", tools=("senderauth-report", "senderauthctl"),
               why="needs xmllint and %s" % XSD if no_xsd else None):
        return 0
    t = Runner()
    work = tempfile.mkdtemp(prefix="satest-report-pf-")
    os.chmod(work, 0o755)  # Postfix's daemons (user postfix) reach its directories below
    recs = [("d00.example._report._dmarc.thirdparty.example", "TXT", "v=DMARC1")]
    # No SMTP mail in this test: smtpd_milters names a port nobody listens on. The
    # instance lives in work (kept when a check fails).
    pf = Postfix(milter_port=free_port(), mailboxes=list(WANT_MAIL) + list(NO_MAIL),
                 workdir=os.path.join(work, "postfix"))
    try:
        with Nsd(recs) as ns, pf:
            run_all(t, work, pf, ns.port)
    except (OSError, PostfixError, RuntimeError, subprocess.TimeoutExpired) as e:
        t.check("setup, run and a clean Postfix stop", False, "%s: %s" % (type(e).__name__, e))
    if t.failed or os.environ.get("SA_KEEP"):
        print("--- postfix: %s\n(kept in %s)" % (pf.log_tail(15), work))
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("report postfix e2e: %d passed, %d failed" % (t.passed, t.failed))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
