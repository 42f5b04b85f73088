#!/usr/bin/python3
"""test_faults_store.py - the consent store fails under a running senderauthd.

A real senderauthd (milter protocol), NSD and a consent store made with senderauthctl.
One consenting recipient (alice@example.jp) gets mail that fails DMARC from a p=reject
domain: with the store answering, the message is rejected (550 5.7.1). When the store
cannot answer, the documented fallback (docs/consent.md, "A store failure never rejects
mail") is: the recipient counts as not consenting, the message is accepted with our
verdict, and the summary line says store_errors=1 -- never a hang, a crash or a message
without a reply. When the store is back, enforcement resumes without a restart.

SQLite faults: another process holds BEGIN EXCLUSIVE (WAL: readers are not blocked, so
the normal verdict; rollback journal: readers get "locked" after busy_timeout_ms); the
file removed (with its -wal and -shm) and created again; the file replaced by one that
is not a database, and by a directory; mode 000 (the daemon runs as nobody when the
test runs as root). PostgreSQL faults: server down when the daemon starts (the store is
opened later, every 10 s); stopped mid-run; restarted mid-run with every pooled
connection made before the restart (the first message after it must be enforced); hung
(SIGSTOP: connections are accepted by the kernel but nothing answers), where the lookup
must give up after store.busy_timeout_ms + 1 s plus connect_timeout instead of holding
the message until the MTA's milter timeout.

Prints one line per check, then `faults: N passed, M failed`.
"""
import os
import pwd
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.join(SRC, "tests/integration"))

import test_consent_enforce as ce  # noqa: E402
from satest import milter, pg  # noqa: E402
from satest.daemon import Senderauthd, DaemonError, stop_all, build_dir  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

REJ = "replycode:550 5.7.1"
ALICE = "alice@example.jp"      # consenting (ce.fill_store)
BOB = "bob@example.jp"          # not consenting
STORE_REOPEN_WAIT = 60          # s: bound on "the store is opened again" (retried every 10 s)
POOL = 2


def sqlite_conf(path):
    conf = ce.base_conf(path)
    conf["store"]["busy_timeout_ms"] = 200
    if os.geteuid() == 0:  # root reads any file: run as nobody so that mode 000 counts
        conf["milter"] = {"user": "nobody"}
    return conf


def fill(d):
    """The store of d made with senderauthctl, owned by the daemon's user."""
    ce.fill_store(d.conf_path)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("nobody")
        path = d.conf["store"]["sqlite_path"]
        for p in (path, path + "-wal", path + "-shm"):
            if os.path.exists(p):
                os.chown(p, pw.pw_uid, pw.pw_gid)


def msg(t, d, name, rcpt, final, log=None):
    out, qid = ce.send(d.port, ce.BAD_IP, "reject.example", [rcpt])
    t.expect(name, d, out, qid, final, log=log)
    return out.final


def down(t, d, name):
    """The store cannot answer: consenting recipient accepted, the error counted."""
    msg(t, d, name + ": consenting recipient accepted", ALICE, "accept", log=["store_errors=1"])
    msg(t, d, name + ": other recipient accepted", BOB, "accept")


def until_enforced(t, d, name, wait=STORE_REOPEN_WAIT):
    """Bounded poll: the consenting recipient is rejected again without a restart."""
    deadline, n, got = time.monotonic() + wait, 0, None
    while time.monotonic() < deadline:
        out, qid = ce.send(d.port, ce.BAD_IP, "reject.example", [ALICE])
        n, got = n + 1, out.final
        if got == REJ:
            break
        time.sleep(0.25)  # poll interval, bounded by the deadline; nothing is timed
    t.check("%s: enforced again without a restart (%d messages)" % (name, n), got == REJ,
            "got %s, want %s" % (got, REJ))


def alive(t, d, name):
    t.check(name + ": daemon still running", d.proc is not None and d.proc.poll() is None,
            "exit %s" % (d.proc.returncode if d.proc else "?"))


def remove_db(path):
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = path + suffix
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.remove(p)


class Holder:
    """Another process's transaction on the SQLite file (python's sqlite3), held until
    release()."""

    def __init__(self, path, journal=None):
        self.db = sqlite3.connect(path, timeout=5, isolation_level=None)
        if journal:
            self.db.execute("PRAGMA journal_mode = %s" % journal).fetchall()
        self.db.execute("BEGIN EXCLUSIVE")
        self.db.execute("UPDATE consent_user SET note = 'held' WHERE address = ?", (ALICE,))

    def release(self):
        self.db.execute("ROLLBACK")
        self.db.close()


def sqlite_faults(t, ns, tmp):
    os.chmod(tmp, 0o755)
    tmp = os.path.join(tmp, "sqlite")
    os.mkdir(tmp)
    os.chmod(tmp, 0o1777)  # the daemon's user creates -wal and -shm here
    store = os.path.join(tmp, "consent.db")
    d = Senderauthd(ns.port, conf=sqlite_conf(store))
    d.write_conf()
    fill(d)
    # a second daemon on a store in rollback-journal mode (converted before it starts:
    # a journal mode changes only without other connections)
    jstore = os.path.join(tmp, "journal.db")
    dj = Senderauthd(ns.port, conf=sqlite_conf(jstore))
    dj.write_conf()
    fill(dj)
    db = sqlite3.connect(jstore, isolation_level=None)
    mode = db.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
    db.close()
    t.check("journal store converted to rollback journal", mode == "delete", mode)
    try:
        d.start()
        dj.start()
        run_sqlite(t, d, store)
        run_sqlite_journal(t, dj)
    finally:
        for e in stop_all([d, dj]):
            t.check("sqlite daemon stopped cleanly", False, e)
        if t.failed:
            print(d.log_tail(15))
            print(dj.log_tail(15))


def run_sqlite(t, d, store):
    msg(t, d, "sqlite: consenting, p=reject, dmarc=fail -> 550", ALICE, REJ)

    h = Holder(store)
    try:
        msg(t, d, "sqlite WAL, BEGIN EXCLUSIVE held elsewhere: readers not blocked -> 550",
            ALICE, REJ)
    finally:
        h.release()

    remove_db(store)
    down(t, d, "sqlite file removed (with -wal, -shm)")
    alive(t, d, "sqlite file removed")
    fill(d)
    until_enforced(t, d, "sqlite file created again")

    remove_db(store)
    with open(store, "wb") as f:
        f.write(b"this is not an SQLite database\n" * 200)
    down(t, d, "sqlite file replaced by one that is not a database")
    remove_db(store)
    os.mkdir(store)
    down(t, d, "sqlite path replaced by a directory")
    alive(t, d, "sqlite unreadable")
    remove_db(store)
    fill(d)
    until_enforced(t, d, "sqlite file restored")

    os.chmod(store, 0)  # the daemon runs as nobody (sqlite_faults): it cannot read it
    try:
        down(t, d, "sqlite file mode 000")
    finally:
        os.chmod(store, 0o644)
    until_enforced(t, d, "sqlite file readable again")


def run_sqlite_journal(t, d):
    store = d.conf["store"]["sqlite_path"]
    msg(t, d, "sqlite journal: consenting -> 550", ALICE, REJ)
    h = Holder(store)
    try:
        down(t, d, "sqlite rollback journal, BEGIN EXCLUSIVE held elsewhere (locked)")
    finally:
        h.release()
    msg(t, d, "sqlite journal: lock released -> 550 at once", ALICE, REJ)
    alive(t, d, "sqlite locked")


# ---- PostgreSQL ----

def pg_backends(server):
    return int(server.sql("SELECT count(*) FROM pg_stat_activity"
                          " WHERE application_name = 'senderauth'").strip() or 0)


def pg_procs(server):
    """The postmaster and its children (backends and helpers)."""
    pm = server.postmaster_pid()
    with open("/proc/%d/task/%d/children" % (pm, pm)) as fh:
        return [pm] + [int(x) for x in fh.read().split()]


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def fill_pool(t, d, server):
    """Bursts of concurrent lookups until every pooled connection is made (bounded)."""
    n = 0
    for _ in range(40):
        if pg_backends(server) >= POOL:
            break
        ths = [threading.Thread(target=ce.send, args=(d.port, ce.BAD_IP, "reject.example",
                                                      [ALICE, "x%d@corp.example" % i]))
               for i in range(8)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(120)
        n += 1
    got = pg_backends(server)
    t.check("pg: all %d pooled connections made (%d bursts)" % (POOL, n), got >= POOL,
            "got %d backends" % got)


def pg_faults(t, ns):
    with pg.Pg() as server:
        conf = ce.base_conf("/nonexistent/unused.db")
        conf["store"] = {"backend": "postgresql",
                         "pg_conninfo": server.conninfo + " connect_timeout=3",
                         "pg_pool_size": POOL, "busy_timeout_ms": 1000}
        d = Senderauthd(ns.port, conf=conf)
        d.write_conf()
        ce.fill_store(d.conf_path)
        server.halt()
        try:
            d.start()
            t.check("pg down at start: the daemon starts and warns",
                    "nobody is enforced until" in d.log_text(), d.log_tail(5))
            down(t, d, "pg down at start")
            server.resume()
            until_enforced(t, d, "pg started after the daemon")

            fill_pool(t, d, server)
            server.halt()
            server.resume()
            msg(t, d, "pg restarted mid-run: first message enforced (pool reconnects)",
                ALICE, REJ)
            msg(t, d, "pg restarted mid-run: next message enforced", ALICE, REJ)

            server.halt()
            down(t, d, "pg stopped mid-run")
            down(t, d, "pg stopped mid-run, again")
            alive(t, d, "pg stopped")
            server.resume()
            msg(t, d, "pg back: enforced at once", ALICE, REJ)

            procs = pg_procs(server)
            signal_all(procs, signal.SIGSTOP)
            try:
                msg(t, d, "pg hung (SIGSTOP: connects, never answers): consenting recipient"
                    " accepted, no hang", ALICE, "accept", log=["store_errors=1"])
            finally:
                signal_all(procs, signal.SIGCONT)
            msg(t, d, "pg answering again: enforced at once", ALICE, REJ)
        except (milter.MilterError, OSError, DaemonError, RuntimeError) as e:
            t.check("pg conversation", False, str(e))
        finally:
            for e in stop_all([d]):
                t.check("pg daemon stopped cleanly", False, e)
            if t.failed:
                print(d.log_tail(20))


def main():
    for tool in ("senderauthd", "senderauthctl"):
        if not os.access(os.path.join(build_dir(), tool), os.X_OK):
            print("SKIP: no %s in %s" % (tool, build_dir()))
            print("faults: 0 passed, 0 failed")
            return 0
    t = ce.Runner()
    tmp = tempfile.mkdtemp(prefix="satest-fstore-")
    try:
        with Nsd(ce.zone()) as ns:
            try:
                sqlite_faults(t, ns, tmp)
            except (milter.MilterError, OSError, DaemonError, RuntimeError) as e:
                t.check("sqlite conversation", False, str(e))
            why = pg.missing()
            if why:
                print("SKIP postgresql faults: %s" % why)
            else:
                pg_faults(t, ns)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("faults: %d passed, %d failed" % (t.passed, t.failed))
    return 1 if t.failed or not t.passed else 0


if __name__ == "__main__":
    sys.exit(main())
