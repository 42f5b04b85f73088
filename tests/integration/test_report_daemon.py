#!/usr/bin/python3
"""test_report_daemon.py - the DMARC history that senderauthd records (report.enable).

- SQLite: messages through a real senderauthd (milter protocol) and a real NSD become
  history rows with the right facts (client IP, envelope/header-from domains, SPF, DKIM
  none, DMARC result, policy published, rua, discovery method, disposition, action), one
  row per message, written at the latest when the daemon stops; no recipient address
  and no content (subject, message id) anywhere in the database file; trusted clients
  get no row; senderauth-report then builds a report from them that passes the XSD.
- Override reasons from real decisions (SQLite, policy.mode = enforce): consent, no
  consent, trusted forwarder, mailing list, allowed From domain, t=y, pct=0 (sampled
  out), measure mode, a trusted ARC sealer (python3-dkim seals): action / would /
  disposition / reason / comment in each row, and
  the same reasons with their counts in the XSD-valid reports.
- SIGHUP and metrics (SQLite): report.enable off -> on -> off by reload (no rows while
  off; the writer starts on the reload that turns it on); a tiny queue (16 rows) whose
  writer is held up by a lock on the database: mail unaffected, rows dropped as "queue
  full", senderauth_history_rows_total on the metrics endpoint agrees with the totals
  line, one (rate-limited) warning; dmarc.discovery = treewalk by reload reaches the row.
- PostgreSQL (when Debian's server is installed): rows reach the database; with the
  server halted, a burst of messages is answered normally (mail unaffected), the daemon
  stays up, and its drop counter rises (warning line and the totals line at stop).
Prints `report-daemon: N passed, M failed`.
"""
import gzip
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from satest import milter  # noqa: E402
from satest import pg as pgmod  # noqa: E402
from satest.checks import Checks, metric, scrape  # noqa: E402
from satest.daemon import Senderauthd  # noqa: E402
from satest.nsd import Nsd, free_port  # noqa: E402
from satest.suites import AGGREGATE_XSD as XSD  # noqa: E402
from test_ops_reload import wait_log  # noqa: E402
try:  # ARC sets made with python3-dkim (as test_arc_override.py makes them)
    import test_arc_override as arcmod  # noqa: E402
    from satest.dkimsign import KeyStore  # noqa: E402
except ImportError as e:
    arcmod = None
    ARC_MISSING = str(e)

GOOD_IP = "192.0.2.10"
BAD_IP = "203.0.113.5"
TRUSTED_IP = "198.51.100.7"
RCPT_LOCAL = "secret-recipient-7f3a"
QID = [0]


T = Checks(quiet=True)
check = T.eq


def zone(arc_key=None):
    recs = []
    if arc_key is not None:  # the trusted ARC sealer's key; bank.example is test_arc_override's
        recs += [("arc._domainkey.list.example", "TXT", arc_key.dns_txt()),
                 ("_dmarc.bank.example", "TXT", "v=DMARC1; p=reject; rua=mailto:agg@bank.example"),
                 ("bank.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
                 ("bank.example", "A", "192.0.2.1")]
    for d, dm in (("rej.example", "v=DMARC1; p=reject; rua=mailto:agg@rej.example"),
                  ("allowed.example", "v=DMARC1; p=reject; rua=mailto:agg@allowed.example"),
                  ("t.example", "v=DMARC1; p=reject; t=y; rua=mailto:agg@t.example"),
                  ("pct.example", "v=DMARC1; p=reject; pct=0; rua=mailto:agg@pct.example"),
                  ("none.example", "v=DMARC1; p=none; sp=quarantine; adkim=s; "
                                   "rua=mailto:a@none.example,mailto:b@none.example")):
        recs += [(d, "TXT", "v=spf1 ip4:192.0.2.0/24 -all"), (d, "A", "192.0.2.1"),
                 ("_dmarc." + d, "TXT", dm)]
    return recs


def send(port, ip, from_domain, mailfrom_domain=None, rcpt=RCPT_LOCAL + "@isp.example",
         extra=()):
    QID[0] += 1
    qid = "RQ%05d" % QID[0]
    with milter.MilterClient("127.0.0.1", port) as m:
        m.connect("mail.sender.test", ip)
        m.helo("mail.sender.test")
        m.mail("user@%s" % (mailfrom_domain or from_domain), macros={"i": qid})
        m.rcpt(rcpt)
        m.data()
        for n, v in (("From", " Sender <user@%s>" % from_domain),
                     ("To", " %s" % rcpt),
                     ("Subject", " secret-subject-%s" % qid),
                     ("Message-ID", " <%s@secret-msgid.example>" % qid)) + tuple(extra):
            m.header(n, v)
        m.eoh()
        m.body(b"secret body text\r\n")
        return m.eom().reply.code


def ctl(conf, *args):
    return subprocess.run([os.path.join(BUILD, "senderauthctl"), "-c", conf] + list(args),
                          capture_output=True, text=True)


def report_conf(extra):
    c = {"report": {"enable": True, "flush_interval_ms": 50, "batch_size": 8,
                    "org_name": "ISP", "email": "reports@isp.example"},
         "trusted_networks": [TRUSTED_IP + "/32"]}
    c.update(extra)
    return c


def reports_now(conf_path, work, name):
    """senderauth-report run --xml-only over the last and next hour into work/name; the
    sorted file names (each checked against the XSD when xmllint and the schema exist)."""
    out = os.path.join(work, name)
    os.mkdir(out)
    now = int(time.time())
    p = subprocess.run([os.path.join(BUILD, "senderauth-report"), "-c", conf_path, "run",
                        "--from", str(now - 3600), "--to", str(now + 3600), "--xml-only", out],
                       capture_output=True, text=True)
    check(name + ": report run", (p.returncode, p.stderr), (0, ""))
    files = sorted(os.listdir(out))
    if os.path.exists(XSD) and shutil.which("xmllint"):
        for f in files:
            x = os.path.join(work, "r.xml")
            open(x, "wb").write(gzip.open(os.path.join(out, f)).read())
            v = subprocess.run(["xmllint", "--noout", "--schema", XSD, x], capture_output=True)
            check("xsd " + f, v.returncode, 0)
    return [os.path.join(out, f) for f in files]


def sqlite_part(ns, work):
    db = os.path.join(work, "h.db")
    conf = report_conf({"store": {"sqlite_path": db}})
    d = Senderauthd(ns.port, conf=conf, workdir=os.path.join(work, "sq"))
    os.mkdir(d.dir)
    d.write_conf()
    check("ctl init", ctl(d.conf_path, "init").returncode, 0)
    sent = [("rej.example", GOOD_IP, None), ("rej.example", BAD_IP, None),
            ("none.example", BAD_IP, "bounce.none.example"), ("sub.none.example", GOOD_IP, "none.example"),
            ("rej.example", TRUSTED_IP, None)]
    with d:
        for dom, ip, mf in sent:
            send(d.port, ip, dom, mf)
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM dmarc_history ORDER BY id")]
    con.close()
    check("one row per checked message (trusted: none)", len(rows), 4)
    want = [
        dict(source_ip=GOOD_IP, header_from="rej.example", env_from="rej.example",
             policy_domain="rej.example", spf_result="pass", spf_scope="mfrom", dkim="",
             dmarc_result="pass", spf_aligned=1, p="reject", disposition="pass",
             rua="mailto:agg@rej.example", discovery="psl", action="accept"),
        dict(source_ip=BAD_IP, header_from="rej.example", spf_result="fail",
             dmarc_result="fail", spf_aligned=0, p="reject", disposition="none",
             reason="local_policy", reason_comment="enforcement off", action="accept"),
        dict(source_ip=BAD_IP, header_from="none.example", env_from="bounce.none.example",
             policy_domain="none.example", p="none", sp="quarantine", adkim="s",
             dmarc_result="fail", disposition="none", reason="",
             rua="mailto:a@none.example,mailto:b@none.example"),
        dict(header_from="sub.none.example", env_from="none.example",
             policy_domain="none.example", dmarc_result="pass", disposition="pass"),
    ]
    for i, w in enumerate(want):
        got = {k: rows[i].get(k) for k in w} if i < len(rows) else None
        check("row %d" % i, got, w)
    blob = open(db, "rb").read()
    for wal in (db + "-wal",):
        if os.path.exists(wal):
            blob += open(wal, "rb").read()
    for secret in (RCPT_LOCAL, "secret-subject", "secret-msgid", "secret body"):
        check("never stored: " + secret, secret.encode() in blob, False)
    # and a report from them
    files = reports_now(d.conf_path, work, "xml")
    check("reports for both domains", [os.path.basename(f).split("!")[1] for f in files],
          ["none.example", "rej.example"])


from satest.daemon import scaled  # noqa: E402  (bounded polls stretch under valgrind)


def hist_metrics(port):
    text = scrape(port)
    return {k: metric(text, 'senderauth_history_rows_total{result="%s"}' % k)
            for k in ("written", "dropped_queue_full", "dropped_store")}


def poll(fn, done, tries=400):
    """Bounded poll (0.05 s steps, more under valgrind) until done(fn()); the last value."""
    v = fn()
    for _ in range(int(scaled(tries))):
        if done(v):
            break
        time.sleep(0.05)  # poll interval, not a timing assumption
        v = fn()
    return v


def hup(d, enable, count, **dmarc):
    d.conf["report"]["enable"] = enable
    d.conf.setdefault("dmarc", {}).update(dmarc)
    d.write_conf()
    d.proc.send_signal(signal.SIGHUP)
    return wait_log(d, r"reloaded ", count)


def ops_part(ns, work):
    db = os.path.join(work, "ops.db")
    mport = free_port()
    conf = report_conf({"store": {"sqlite_path": db, "busy_timeout_ms": 60000},
                        "metrics": {"listen": "127.0.0.1:%d" % mport},
                        "log": {"level": "info"}})
    conf["report"].update({"enable": False, "queue_size": 16, "batch_size": 16,
                           "flush_interval_ms": 60000})
    d = Senderauthd(ns.port, conf=conf, workdir=os.path.join(work, "ops"))
    os.mkdir(d.dir)
    d.write_conf()
    check("ops ctl init", ctl(d.conf_path, "init").returncode, 0)
    n_burst = 60
    with d:
        for _ in range(3):
            send(d.port, GOOD_IP, "none.example")
        check("off: no writer, counters 0", hist_metrics(mport),
              dict(written=0, dropped_queue_full=0, dropped_store=0))
        check("on by SIGHUP", hup(d, True, 1), 1)
        check("writer started at reload", "history writer started" in d.log_text(), True)
        lock = sqlite3.connect(db, timeout=0, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # the writer now waits in the store
        codes = [send(d.port, BAD_IP if i % 2 else GOOD_IP, "rej.example")
                 for i in range(n_burst)]
        check("queue full: mail unaffected", sorted(set(codes)), ["continue"])
        m = hist_metrics(mport)
        check("queue full: drops counted (16-row queue, one batch in the writer)",
              m["dropped_queue_full"] >= n_burst - 32 and m["written"] == 0, True)
        # The writer is stuck in the store, so the warning comes from a refused row's
        # thread; one line per minute at most, however many rows are dropped.
        nwarn = wait_log(d, "rows dropped so far", 1)
        check("a warning while the writer is stuck, fewer lines than drops",
              1 <= nwarn < m["dropped_queue_full"], True)
        lock.execute("ROLLBACK")
        lock.close()
        m = poll(lambda: hist_metrics(mport),
                 lambda v: v["written"] + v["dropped_queue_full"] >= n_burst)
        check("metrics: written + dropped = burst",
              (m["written"] + m["dropped_queue_full"], m["dropped_store"]), (n_burst, 0))
        check("off by SIGHUP", hup(d, False, 2), 2)
        for _ in range(4):
            send(d.port, GOOD_IP, "none.example")
        check("on again, tree walk, by SIGHUP", hup(d, True, 3, discovery="treewalk"), 3)
        send(d.port, GOOD_IP, "sub.none.example", "none.example")
        check("daemon alive", d.proc.poll(), None)
    log = d.log_text()
    tot = re.search(r"history: (\d+) rows recorded, (\d+) written, (\d+) dropped "
                    r"\(queue full (\d+), store failed (\d+)\)", log)
    check("totals line", tot is not None, True)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT header_from, discovery FROM dmarc_history ORDER BY id").fetchall()
    con.close()
    if tot:
        rec, wr, dr, full, store = map(int, tot.groups())
        check("totals agree with the metrics", (wr, full, store),
              (m["written"] + 1, m["dropped_queue_full"], 0))
        check("rows in the store = written", len(rows), wr)
    check("no rows while off (none.example)",
          [r for r in rows if r[0] == "none.example"], [])
    check("discovery after the reload", rows[-1:], [("sub.none.example", "treewalk")])
    check("discovery before it", sorted({r[1] for r in rows[:-1]}), ["psl"])


# Why a failing message of a p=reject domain got less than reject, as the row and the
# report say: (From domain, client, recipient, extra fields) -> (action, would,
# disposition, reason type, comment). taro consents (enforce), jiro does not, hanako
# consents in a measure-mode domain.
REASONS = [
    (("rej.example", BAD_IP, "taro@isp.example", ()), ("reject", "reject", "reject", "", "")),
    (("rej.example", BAD_IP, "jiro@isp.example", ()),
     ("accept", "accept", "none", "local_policy", "no consent")),
    (("rej.example", "198.18.0.5", "taro@isp.example", ()),
     ("accept", "accept", "none", "trusted_forwarder", "")),
    (("rej.example", BAD_IP, "taro@isp.example", (("List-Id", " <users.lists.example.org>"),)),
     ("accept", "accept", "none", "mailing_list", "")),
    (("allowed.example", BAD_IP, "taro@isp.example", ()),
     ("accept", "accept", "none", "local_policy", "allowed From domain")),
    (("t.example", BAD_IP, "taro@isp.example", ()),
     ("quarantine", "quarantine", "quarantine", "policy_test_mode", "")),
    (("pct.example", BAD_IP, "taro@isp.example", ()),
     ("quarantine", "quarantine", "quarantine", "other", "sampled_out")),
    (("rej.example", BAD_IP, "hanako@meas.example", ()),
     ("accept", "reject", "none", "local_policy", "measure mode")),
]
NS = "{urn:ietf:params:xml:ns:dmarc-2.0}"


def xml_reasons(path):
    """{(disposition, reason type, comment): count} of one report file."""
    import xml.etree.ElementTree as ET
    out = {}
    root = ET.fromstring(gzip.open(path).read())
    for rec in root.iter(NS + "record"):
        pe = rec.find(NS + "row").find(NS + "policy_evaluated")
        r = pe.find(NS + "reason")
        k = (pe.findtext(NS + "disposition"), r.findtext(NS + "type") if r is not None else "",
             (r.findtext(NS + "comment") or "") if r is not None else "")
        out[k] = out.get(k, 0) + int(rec.find(NS + "row").findtext(NS + "count"))
    return out, root.find(NS + "policy_published").findtext(NS + "testing")


ARC_CASE = (("bank.example", arcmod.BAD_IP if arcmod else "", "alice@example.jp", ()),
            ("accept", "accept", "none", "local_policy", "arc=pass as[1].d=list.example"))


def reasons_part(ns, work, arc_key):
    """Override reasons from a real enforcement decision into rows and reports (and the
    trusted-sealer ARC override when python3-dkim can seal)."""
    db = os.path.join(work, "why.db")
    conf = report_conf({"store": {"sqlite_path": db},
                        "policy": {"mode": "enforce", "cache_ttl": 0, "random_seed": 7,
                                   "domain_modes": "meas.example=measure",
                                   "forwarders": ["198.18.0.0/15"],
                                   "list_ids": "users.lists.example.org",
                                   "allow_from_domains": "allowed.example"},
                        "arc": {"trusted_sealers": "list.example"}})
    cases = REASONS + ([ARC_CASE] if arc_key is not None else [])
    d = Senderauthd(ns.port, conf=conf, workdir=os.path.join(work, "why"))
    os.mkdir(d.dir)
    d.write_conf()
    check("why ctl init", ctl(d.conf_path, "init").returncode, 0)
    for u in ("taro@isp.example", "hanako@meas.example", "alice@example.jp"):
        check("consent " + u, ctl(d.conf_path, "user", "set", u, "on", "--channel",
                                   "test").returncode, 0)
    with d:
        codes = [send(d.port, ip, dom, rcpt=rcpt, extra=extra)
                 for (dom, ip, rcpt, extra), _ in REASONS]
        if arc_key is not None:
            hdrs, body = arcmod.base_message("why-arc")
            sealed = arcmod.seal(hdrs, body, arc_key, "list.example", "dmarc=pass header.from="
                                 "bank.example; spf=pass smtp.remote-ip=192.0.2.77")
            codes.append(arcmod.send(d.port, sealed, body)[0].reply.code)
    check("replies", codes, ["replycode" if w[0] == "reject" else "continue" for _, w in cases])
    con = sqlite3.connect(db)
    rows = con.execute("SELECT header_from, action, would, disposition, reason, "
                       "reason_comment FROM dmarc_history ORDER BY id").fetchall()
    con.close()
    check("one row per message", len(rows), len(cases))
    for (inp, w), got in zip(cases, rows):
        check("row %s %s %s" % (inp[0], inp[1], inp[2]), got[1:], w)
    got = {os.path.basename(f).split("!")[1]: xml_reasons(f)
           for f in reports_now(d.conf_path, work, "why-xml")}
    want = {}
    for (dom, _, _, _), (_, _, disp, typ, comment) in cases:
        want.setdefault(dom, {}).setdefault((disp, typ, comment), 0)
        want[dom][(disp, typ, comment)] += 1
    for dom in sorted(want):
        check("reasons in the report of " + dom, got.get(dom, ({}, None))[0], want[dom])
    check("testing=y published", got.get("t.example", ({}, None))[1], "y")


def pg_part(ns, work):
    why = pgmod.missing()
    if why:
        print("SKIP postgresql part: %s" % why)
        return
    with pgmod.Pg() as pg:
        conf = report_conf({"store": {"backend": "postgresql", "pg_conninfo": pg.conninfo},
                            })
        conf["report"].update({"queue_size": 16, "batch_size": 4})
        d = Senderauthd(ns.port, conf=conf, workdir=os.path.join(work, "pg"))
        os.mkdir(d.dir)
        d.write_conf()
        check("pg ctl init", ctl(d.conf_path, "init").returncode, 0)
        with d:
            for i in range(5):
                send(d.port, GOOD_IP, "rej.example")
            n = 0
            for _ in range(int(scaled(200))):  # bounded poll: the writer flushes every 50 ms
                n = int(pg.sql("SELECT count(*) FROM dmarc_history").strip() or 0)
                if n >= 5:
                    break
                time.sleep(0.05)
            check("pg rows written", n, 5)
            pg.halt()
            codes = [send(d.port, BAD_IP if i % 2 else GOOD_IP, "rej.example")
                     for i in range(300)]
            check("mail unaffected with the store down",
                  sorted(set(codes)), ["continue"])
            check("daemon alive", d.proc.poll(), None)
            pg.resume()
        log = d.log_text()
        m = re.search(r"history: (\d+) rows recorded, (\d+) written, (\d+) dropped", log)
        check("totals line", m is not None, True)
        if m:
            rec, wr, dr = map(int, m.groups())
            check("drop counter rose", dr > 0, True)
            check("written >= 5", wr >= 5, True)
            check("recorded + full drops = messages", rec + dr >= 305, True)
        check("drop warning", "rows dropped so far" in log, True)


def main():
    work = tempfile.mkdtemp(prefix="sa-report-d-")
    arc_key = None
    if arcmod is None:
        print("SKIP the ARC override case: %s" % ARC_MISSING)
    else:
        arc_key = KeyStore(work).get("rsa1024-list")
    try:
        with Nsd(zone(arc_key)) as ns:
            sqlite_part(ns, work)
            ops_part(ns, work)
            reasons_part(ns, work, arc_key)
            pg_part(ns, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return T.finish("report-daemon")


if __name__ == "__main__":
    sys.exit(main())
