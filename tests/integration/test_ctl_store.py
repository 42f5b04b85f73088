"""test_ctl_store.py - senderauthctl against both consent store backends.

For SQLite (a temporary file) and PostgreSQL (a throwaway server started by the
harness on 127.0.0.1, see tests/lib/satest/pg.py), each case runs senderauthctl and
checks its exit code and output: init/migrate, user and domain get/set/del with the
lookup order, evidence rows, usage errors, 100,000-row import, a bad row that leaves
nothing imported, export -> import -> export round trip, stats, and a store that is
not there (exit 3). No timing is asserted. Prints "N passed, M failed".
"""
import os
import subprocess
import sqlite3
import sys

SRC = os.environ.get("SA_SRC", ".")
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
from satest import pg as satest_pg  # noqa: E402
from satest.checks import Checks, in_tmp  # noqa: E402

CTL = os.path.join(BUILD, "senderauthctl")
BIG = 100000

T = Checks(quiet=True)
check = T.eq


class Backend:
    """One store: how to write its config and how to read its tables directly."""

    def __init__(self, name, tmp, conninfo=None, pg=None):
        self.name, self.tmp, self.pg = name, tmp, pg
        self.conf = os.path.join(tmp, "%s.conf" % name)
        with open(self.conf, "w") as f:
            if conninfo is None:
                self.db = os.path.join(tmp, "consent.db")
                f.write('store = { backend = "sqlite"; sqlite_path = "%s"; };\n' % self.db)
            else:
                f.write('store = { backend = "postgresql"; pg_conninfo = "%s"; };\n' % conninfo)
            f.write('policy = { subaddress_delimiter = "+-"; };\n')

    def ctl(self, *args, stdin=None):
        r = subprocess.run([CTL, "-c", self.conf] + list(args), capture_output=True, text=True,
                           input=stdin, timeout=120)
        return r.returncode, r.stdout, r.stderr

    def query(self, sql):
        """First column of the first row, as text."""
        if self.pg is not None:
            return self.pg.sql(sql).strip()
        con = sqlite3.connect(self.db)
        try:
            row = con.execute(sql).fetchone()
        finally:
            con.close()
        return "" if row is None or row[0] is None else str(row[0])


def stat(b, key):
    rc, out, err = b.ctl("stats")
    for line in out.splitlines():
        k, _, v = line.partition(": ")
        if k == key:
            return v
    return "stats failed (%d): %s" % (rc, err.strip())


def run_backend(b, other):
    n = b.name
    # before init: a store error that says what to do
    rc, out, err = b.ctl("stats")
    check(n + " stats before init: exit", rc, 3)
    check(n + " stats before init: hint", "senderauthctl init" in err, True)
    rc, out, err = b.ctl("migrate")
    check(n + " migrate before init: exit", rc, 3)
    rc, out, err = b.ctl("init")
    check(n + " init", (rc, out), (0, "schema version 0 -> 2\n"))
    rc, out, err = b.ctl("migrate")
    check(n + " migrate again", (rc, out), (0, "schema version 2: up to date\n"))

    # (args, exit code, stdout) in order; the store's state carries from row to row
    cases = [
        (["user", "get", "alice@isp.example"], 1,
         "user alice@isp.example not set\neffective off (by default)\n"),
        (["user", "set", "Alice@ISP.Example", "on", "--actor", "portal:42", "--channel",
          "portal", "--explanation-version", "2026-11-v1", "--scope-version", "dmarc-v1",
          "--note", "first"], 0, "user alice@isp.example on\n"),
        (["user", "get", "<ALICE@isp.example>"], 0,
         "user alice@isp.example on\neffective on (by address)\n"),
        (["user", "get", "alice+news@isp.example"], 1,
         "user alice+news@isp.example not set\neffective on (by base)\n"),
        (["user", "get", "alice-x@isp.example"], 1,
         "user alice-x@isp.example not set\neffective on (by base)\n"),
        (["domain", "set", "Biz.Example.", "on"], 0, "domain biz.example on\n"),
        (["domain", "get", "biz.example"], 0, "domain biz.example on\n"),
        (["user", "get", "bob@biz.example"], 1,
         "user bob@biz.example not set\neffective on (by domain)\n"),
        (["user", "set", "bob@biz.example", "off"], 0, "user bob@biz.example off\n"),
        (["user", "get", "bob@biz.example"], 0,
         "user bob@biz.example off\neffective off (by address)\n"),
        (["user", "set", "alice@isp.example", "OFF", "--actor", "user"], 0,
         "user alice@isp.example off\n"),
        (["user", "del", "bob@biz.example"], 0, "user bob@biz.example deleted\n"),
        (["user", "del", "bob@biz.example"], 1, "user bob@biz.example not set\n"),
        (["domain", "del", "biz.example"], 0, "domain biz.example deleted\n"),
        (["domain", "get", "biz.example"], 1, "domain biz.example not set\n"),
        # usage errors: exit 2, nothing on stdout
        (["user", "set", "x@isp.example", "maybe"], 2, ""),
        (["user", "set", "x@isp.example"], 2, ""),
        (["user", "get", "not-an-address"], 2, ""),
        (["domain", "set", "bad domain", "on"], 2, ""),
        (["user", "frob", "x@isp.example"], 2, ""),
        (["nonsense"], 2, ""),
        ([], 2, ""),
        (["import"], 2, ""),
        (["import", os.path.join(b.tmp, "no-such-file.csv")], 2, ""),
    ]
    for args, want_rc, want_out in cases:
        rc, out, err = b.ctl(*args)
        check("%s senderauthctl %s" % (n, " ".join(args)), (rc, out), (want_rc, want_out))
        if want_rc == 2:
            check("%s senderauthctl %s: says why" % (n, " ".join(args)), err != "", True)

    # evidence: every change has its event, with what was given
    check(n + " events for alice", b.query(
        "SELECT count(*) FROM consent_event WHERE subject = 'alice@isp.example'"), "2")
    check(n + " evidence of the first consent", b.query(
        "SELECT actor || '|' || channel || '|' || explanation_version || '|' || scope_version"
        " || '|' || note || '|' || enforce FROM consent_event"
        " WHERE subject = 'alice@isp.example' ORDER BY id LIMIT 1"),
        "portal:42|portal|2026-11-v1|dmarc-v1|first|1")
    check(n + " withdrawal event", b.query(
        "SELECT actor || '|' || enforce FROM consent_event WHERE subject = 'alice@isp.example'"
        " ORDER BY id DESC LIMIT 1"), "user|0")
    check(n + " delete event has no flag", b.query(
        "SELECT count(*) FROM consent_event WHERE subject = 'bob@biz.example'"
        " AND enforce IS NULL"), "1")
    check(n + " row source is the channel", b.query(
        "SELECT source FROM consent_user WHERE address = 'alice@isp.example'"), "ctl")

    # 100,000 rows in one import
    big = os.path.join(b.tmp, "big.csv")
    with open(big, "w") as f:
        f.write("subject,enforce,source,note\n")
        for i in range(BIG):
            f.write("user%06d@big.example,%s,crm,\"row, %d\"\n" % (i, "on" if i % 3 else "off", i))
    rc, out, err = b.ctl("import", big, "--actor", "batch", "--explanation-version", "2026-11-v1")
    check(n + " import 100000", (rc, out, err), (0, "imported %d rows\n" % BIG, ""))
    check(n + " users after import", stat(b, "users"), str(BIG + 1))
    check(n + " users_on after import", stat(b, "users_on"), str(BIG - (BIG + 2) // 3))
    check(n + " a row of the import", b.query(
        "SELECT enforce || '|' || source || '|' || note FROM consent_user"
        " WHERE address = 'user004243@big.example'"), "1|crm|row, 4243")
    check(n + " import events", b.query(
        "SELECT count(*) FROM consent_event WHERE actor = 'batch' AND channel = 'import'"
        " AND explanation_version = '2026-11-v1'"), str(BIG))

    # a bad row near the end: named by line, nothing imported
    events = stat(b, "events")
    bad = os.path.join(b.tmp, "bad.csv")
    with open(bad, "w") as f:
        for i in range(BIG):
            f.write("new%06d@bad.example,on\n" % i if i != 99990 else "new@bad.example,perhaps\n")
    rc, out, err = b.ctl("import", bad)
    check(n + " bad import: exit", rc, 3)
    check(n + " bad import: names the line", ("%s:99991: \"perhaps\": want on or off" % bad) in err,
          True)
    check(n + " bad import: says nothing imported", "nothing imported" in err, True)
    check(n + " bad import: no rows", b.query(
        "SELECT count(*) FROM consent_user WHERE address LIKE '%@bad.example'"), "0")
    check(n + " bad import: no events", stat(b, "events"), events)

    # export -> import into an empty store -> export: the same text
    rc, exported, err = b.ctl("export")
    check(n + " export: exit", rc, 0)
    check(n + " export: lines", len(exported.splitlines()), 1 + BIG + 1)
    check(n + " export: header", exported.splitlines()[0], "subject,enforce,source,note")
    check(n + " export: a quoted note", "user004243@big.example,on,crm,\"row, 4243\"" in exported,
          True)
    rc, out, err = other.ctl("init")
    check(n + " second store init", rc, 0)
    rc, out, err = other.ctl("import", "-", stdin=exported)
    check(n + " import the export", (rc, out), (0, "imported %d rows\n" % (BIG + 1)))
    rc, again, err = other.ctl("export")
    check(n + " export round trip identical", again == exported, True)

    # stats
    rc, out, err = b.ctl("stats")
    check(n + " stats: exit", rc, 0)
    check(n + " stats: backend", "backend: %s\n" % n in out, True)
    check(n + " stats: schema", "schema_version: 2\n" in out, True)
    check(n + " stats: domains", stat(b, "domains"), "0")
    check(n + " stats: default", stat(b, "default_enforce"), "off")


def run(tmp):
    for d in ("a", "b"):
        os.mkdir(os.path.join(tmp, d))
    run_backend(Backend("sqlite", os.path.join(tmp, "a")),
                Backend("sqlite", os.path.join(tmp, "b")))
    # a store that cannot be reached: exit 3 with the reason
    gone = Backend("postgresql", tmp, conninfo="host=127.0.0.1 port=1 dbname=x connect_timeout=2")
    rc, out, err = gone.ctl("user", "get", "a@b.example")
    check("unreachable postgresql: exit", rc, 3)
    check("unreachable postgresql: reason", "postgresql: connect:" in err, True)
    if T.need_pg():
        with satest_pg.Pg() as pg:
            pg.sql("CREATE DATABASE other")
            other_ci = pg.conninfo.replace("dbname=satest", "dbname=other")
            run_backend(Backend("postgresql", os.path.join(tmp, "a"), pg.conninfo, pg),
                        Backend("postgresql", os.path.join(tmp, "b"), other_ci))


def main():
    return in_tmp(T, "satest-ctl-", run, CTL)


if __name__ == "__main__":
    sys.exit(main())
