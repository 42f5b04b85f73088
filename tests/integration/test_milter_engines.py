#!/usr/bin/python3
"""test_milter_engines.py - the two milter engines (milter.engine = "libmilter" and
"native") give the MTA the same answers: the same reply (code and text) at the same
step and the same header changes, for a representative set of conversations through
a real senderauthd and a real NSD:
- cases from tests/integration/cases/ (a pass, forged Authentication-Results removed,
  DMARC fail reported under p=reject, two messages on one connection, an MTA without
  the leading space or no-reply steps), each also judged by its own expectations;
- consent enforcement (a senderauthctl-made SQLite store, quarantine.action = hold):
  DMARC fail under p=reject for a consenting recipient -> 550 5.7.1 with text, the
  same for one who does not consent -> accepted, p=quarantine -> held, a split of the
  two classes at RCPT.
A stop (SIGTERM) of the native engine while a message is open: the listener closes at
once (a new connection is refused), the open message still gets its verdict, and the
daemon exits once that connection closes. Then the native engine on a unix socket (milter.socket = "unix:PATH"): a stale socket
file is replaced, milter.socket_mode and (as root) milter.socket_owner are applied, a
message goes through, the file is removed at stop; a regular file at the path is left
alone and the daemon does not start, with a log line saying why.

Prints one line per check, then `engines: N passed, M failed`.
"""
import grp
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.join(SRC, "tests/integration"))

from satest import cases as sc  # noqa: E402
from satest import milter  # noqa: E402
from satest.checks import Checks  # noqa: E402
from satest.daemon import Senderauthd, DaemonError, stop_all, build_dir  # noqa: E402
from satest.dkimsign import KeyStore  # noqa: E402
from satest.nsd import Nsd  # noqa: E402
import test_consent_enforce as ce  # noqa: E402  (its zone, store and message helpers)

ENGINES = ("libmilter", "native")
CASES_DIR = os.path.join(SRC, "tests/integration/cases")
CASE_IDS = ["spf/pass", "ar/forged_only_one", "ar/forged_shapes", "dmarc/p_reject_fail",
            "conn/reuse", "conn/mta_without_leadspc"]


def engine_conf(conf, engine):
    return sc.merge_conf(conf, {"milter": {"engine": engine}})


def seen(rep):
    """What the MTA saw of one message: the step and reply, and the headers after the
    changes (deletions, insertions and additions applied)."""
    r = rep["reply"]
    return (rep["stage"], r.code if r else None, r.text if r else None,
            [(n, milter.unfold(v)) for n, v in rep["final"]])


def run_cases(t, daemons, selected, built):
    """Each case under each engine, judged by its expectations; then the two compared."""
    for case in selected:
        got = {}
        for engine in ENGINES:
            d = daemons[(engine, sc.conf_key(case))]
            try:
                failures, reports = sc.run_case(d.port, case, built[case["_id"]])
            except (milter.MilterError, OSError) as e:
                failures, reports = ["milter conversation failed: %s" % e], []
            t.check("%s: %s" % (engine, case["_id"]), not failures,
                    sc.format_report(case, failures, reports, d.log_tail(15)))
            got[engine] = [seen(r) for r in reports]
        t.eq("same answers and header changes: %s" % case["_id"], got["native"],
             got["libmilter"])


def outcome(out):
    """What the MTA saw of one consent message: RCPT replies, the final reply, every
    change in order."""
    eom = out.eom
    return (out.rcpt_codes(), out.final, eom.reply.text if eom else None,
            [repr(m) for m in eom.mods] if eom else None)


# (name, client IP, From domain, recipients, final, quarantine header, held)
CONSENT_ROWS = [
    ("p=reject fail, consenting: 550 with text", ce.BAD_IP, "reject.example",
     ["alice@example.jp"], "replycode:550 5.7.1", False, False),
    ("p=reject fail, not consenting: accepted", ce.BAD_IP, "reject.example",
     ["bob@example.jp"], "accept", False, False),
    ("p=reject pass, consenting: accepted", ce.GOOD_IP, "reject.example",
     ["alice@example.jp"], "accept", False, False),
    ("p=quarantine fail, consenting: held", ce.BAD_IP, "quar.example",
     ["alice@example.jp"], "accept", False, True),
    ("split: consenting first, the other deferred at RCPT", ce.BAD_IP, "reject.example",
     ["alice@example.jp", "bob@example.jp"], "replycode:550 5.7.1", False, False),
]


def run_consent(t, daemons):
    got = {}
    for engine in ENGINES:
        d = daemons[(engine, "consent")]
        ce.QID[0] = 0  # the same queue ids, so the same Subject and Message-ID
        got[engine] = []
        for name, ip, dom, rcpts, final, quar, hold in CONSENT_ROWS:
            out, qid = ce.send(d.port, ip, dom, rcpts)
            errs = []
            if out.final != final:
                errs.append("got final %s, want %s" % (out.final, final))
            if bool(out.added(ce.QHDR)) != quar:
                errs.append("got %s %s, want %s" % (ce.QHDR, out.added(ce.QHDR), quar))
            if bool(out.mods("quarantine")) != hold:
                errs.append("got hold %s, want %s" % (out.mods("quarantine"), hold))
            if final.startswith("replycode") and not (
                    dom in out.eom.reply.text and "p=reject" in out.eom.reply.text):
                errs.append("reject text does not name %s and p=reject: %r" %
                            (dom, out.eom.reply.text))
            t.check("%s: %s" % (engine, name), not errs,
                    "; ".join(errs) + "\n     summary: " + ce.summary_line(d, qid))
            got[engine].append((name, outcome(out)))
    for (name, a), (_, b) in zip(got["libmilter"], got["native"]):
        t.eq("same answers and changes: %s" % name, b, a)


def run_unix(t, ns, tmp):
    """The native engine on a unix socket: stale socket replaced, mode and owner, a
    message, removal at stop; a regular file at the path is not replaced."""
    path = os.path.join(tmp, "milter.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # bound, never listening, closed: what a killed daemon leaves
    stale.close()
    t.check("a stale socket file is there before the start", stat.S_ISSOCK(os.lstat(path).st_mode))
    owner = None
    if os.geteuid() == 0:
        owner = ("nobody", "nogroup") if _group_exists("nogroup") else None
    mconf = {"engine": "native", "socket": "unix:" + path, "socket_mode": "0600"}
    if owner:
        mconf["socket_owner"] = "%s:%s" % owner
    d = Senderauthd(ns.port, conf=sc.merge_conf(sc.BASE_CONF, {"milter": mconf}))
    try:
        d.start()
        st = os.lstat(path)
        t.check("stale socket replaced by a listening one", stat.S_ISSOCK(st.st_mode))
        t.eq("milter.socket_mode applied", oct(stat.S_IMODE(st.st_mode)), oct(0o600))
        if owner:
            t.eq("milter.socket_owner applied", (st.st_uid, st.st_gid),
                 (pwd.getpwnam(owner[0]).pw_uid, grp.getgrnam(owner[1]).gr_gid))
        else:
            print("note: not root (or no group nogroup): milter.socket_owner not checked")
        with milter.MilterClient(path, None) as m:
            m.connect("mail.spf-pass.example", "192.0.2.10")
            res = m.message("user@spf-pass.example", ["user@" + sc.OUR_ID],
                            [("From", " user@spf-pass.example"), ("Subject", " unix")],
                            b"hello\r\n", helo="mail.spf-pass.example")
        ar = [v for n, v in res.added_headers() if n.lower() == "authentication-results"]
        t.check("a message over the unix socket", res.reply.code in ("accept", "continue") and
                len(ar) == 1 and "spf=pass" in milter.unfold(ar[0]), repr(res))
    except (DaemonError, milter.MilterError, OSError) as e:
        t.check("native engine on a unix socket", False, "%s\n%s" % (e, d.log_tail(15)))
    finally:
        for e in stop_all([d]):
            t.check("daemon stopped cleanly", False, e)
    t.check("socket file removed at stop", not os.path.lexists(path))

    # A regular file where the socket should be: left alone, the start fails.
    with open(path, "w") as f:
        f.write("not a socket\n")
    d = Senderauthd(ns.port, conf=sc.merge_conf(sc.BASE_CONF, {"milter": mconf}))
    try:
        d.start()
        t.check("start refused when a regular file is at the socket path", False,
                "the daemon started")
        stop_all([d])
    except DaemonError:
        t.check("start refused when a regular file is at the socket path", True)
    t.check("log says the file is not replaced",
            "exists and is not a socket: not replaced" in d.log_text(), d.log_tail(10))
    with open(path) as f:
        t.eq("the regular file is untouched", f.read(), "not a socket\n")


def run_stop(t, ns):
    """SIGTERM with a message open on the native engine: new connections refused, the
    open one finished, exit when it closes (bounded waits only)."""
    d = Senderauthd(ns.port, conf=engine_conf(sc.BASE_CONF, "native"))
    try:
        d.start()
        with milter.MilterClient("127.0.0.1", d.port) as m:
            m.connect("mail.spf-pass.example", "192.0.2.10")
            m.helo("mail.spf-pass.example")
            m.mail("user@spf-pass.example", macros={"i": "STOP0001"})
            m.rcpt("user@" + sc.OUR_ID)
            m.data()
            m.header("From", " user@spf-pass.example")
            m.eoh()
            d.proc.send_signal(signal.SIGTERM)
            refused = False
            for _ in range(100):  # bounded: until the listener is gone
                try:
                    socket.create_connection(("127.0.0.1", d.port), timeout=2).close()
                    time.sleep(0.05)
                except OSError:
                    refused = True
                    break
            t.check("stop: the listener closes at once", refused)
            m.body(b"hello\r\n")
            res = m.eom()
            ar = [v for n, v in res.added_headers() if n.lower() == "authentication-results"]
            t.check("stop: the open message gets its verdict",
                    len(ar) == 1 and "spf=pass" in milter.unfold(ar[0]), repr(res))
        try:
            rc = d.proc.wait(timeout=30)
            t.eq("stop: the daemon exits when the connection closes", rc, 0)
        except subprocess.TimeoutExpired:
            t.check("stop: the daemon exits when the connection closes", False,
                    d.log_tail(10))
    except (DaemonError, milter.MilterError, OSError) as e:
        t.check("stop with an open message", False, "%s\n%s" % (e, d.log_tail(15)))
    finally:
        for e in stop_all([d]):
            t.check("daemon stopped cleanly", False, e)


def _group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def main():
    for tool in ("senderauthd", "senderauthctl"):
        if not os.access(os.path.join(build_dir(), tool), os.X_OK):
            print("SKIP: no %s in %s" % (tool, build_dir()))
            print("engines: 0 passed, 0 failed")
            return 0
    t = Checks()
    all_cases = sc.load_all(CASES_DIR)
    selected = [c for c in all_cases if c["_id"] in CASE_IDS]
    if len(selected) != len(CASE_IDS):
        t.check("cases found", False, "have %s, want %s" %
                (sorted(c["_id"] for c in selected), CASE_IDS))
    tmp = tempfile.mkdtemp(prefix="satest-engines-")
    keys = KeyStore(tmp)
    records, servfail, built = sc.zone_records(selected, keys)
    try:
        with Nsd(records + ce.zone(), servfail=servfail) as ns:
            store = os.path.join(tmp, "consent.db")
            daemons = {}
            for engine in ENGINES:
                for c in selected:
                    k = sc.conf_key(c)
                    if (engine, k) not in daemons:
                        daemons[(engine, k)] = Senderauthd(ns.port, conf=engine_conf(
                            sc.merge_conf(sc.BASE_CONF, c.get("conf")), engine))
                daemons[(engine, "consent")] = Senderauthd(ns.port, conf=engine_conf(
                    dict(ce.base_conf(store), quarantine={"action": "hold"}), engine))
            first = daemons[(ENGINES[0], "consent")]
            first.write_conf()
            ce.fill_store(first.conf_path)
            try:
                for d in daemons.values():
                    d.start()
                run_cases(t, daemons, selected, built)
                run_consent(t, daemons)
            except (milter.MilterError, OSError, DaemonError, RuntimeError) as e:
                t.check("conversation", False, str(e))
            finally:
                for e in stop_all(list(daemons.values())):
                    t.check("daemon stopped cleanly", False, e)
            run_stop(t, ns)
            run_unix(t, ns, tmp)
    except DaemonError as e:
        t.check("senderauthd", False, str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t.finish("engines")


if __name__ == "__main__":
    sys.exit(main())
