"""test_store_concurrent.py - one process toggles consent while other processes read.

For SQLite (WAL) and a harness-started PostgreSQL: a writer runs `senderauthctl user
set` 40 times, alternating on/off, and then a 20,000-row import, while two reader
processes each run `senderauthctl user get` in a loop until the writer is done. Every
read must succeed (exit 0, "on" or "off": a reader never sees a store error or a
half-written row), and the first read after the writer finished must show its last
value. No timing is asserted. Prints "N passed, M failed".
"""
import os
import subprocess
import sys
import threading

SRC = os.environ.get("SA_SRC", ".")
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
from satest import pg as satest_pg  # noqa: E402
from satest.checks import Checks, in_tmp  # noqa: E402

CTL = os.path.join(BUILD, "senderauthctl")
TOGGLES = 40
ADDR = "toggle@race.example"

T = Checks(quiet=True)
check = T.eq


def ctl(conf, *args):
    r = subprocess.run([CTL, "-c", conf] + list(args), capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout, r.stderr


def run_backend(name, conf, tmp):
    rc, out, err = ctl(conf, "init")
    check(name + " init", rc, 0)
    check(name + " first set", ctl(conf, "user", "set", ADDR, "off")[0], 0)
    bulk = os.path.join(tmp, name + "-bulk.csv")
    with open(bulk, "w") as f:
        for i in range(20000):
            f.write("bulk%05d@race.example,on\n" % i)

    done = threading.Event()
    writer_errors = []

    def writer():
        try:
            for i in range(1, TOGGLES + 1):
                rc, out, err = ctl(conf, "user", "set", ADDR, "on" if i % 2 else "off",
                                   "--actor", "race")
                if rc != 0:
                    writer_errors.append("set %d: exit %d %s" % (i, rc, err.strip()))
            rc, out, err = ctl(conf, "import", bulk)
            if rc != 0:
                writer_errors.append("import: exit %d %s" % (rc, err.strip()))
        finally:
            done.set()

    results = [[], []]

    def reader(slot):
        final = False
        while not final:
            final = done.is_set()  # read before the lookup: this lookup sees the end
            rc, out, err = ctl(conf, "user", "get", ADDR)
            first = out.splitlines()[0] if out else ""
            results[slot].append((rc, first, err.strip(), final))

    threads = [threading.Thread(target=writer)] + \
        [threading.Thread(target=reader, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    check(name + " writer errors", writer_errors, [])
    want_final = "user %s %s" % (ADDR, "on" if TOGGLES % 2 else "off")
    for slot, res in enumerate(results):
        bad = [r for r in res if r[0] != 0 or r[1] not in ("user %s on" % ADDR,
                                                             "user %s off" % ADDR)]
        check("%s reader %d: bad reads out of %d" % (name, slot, len(res)), bad[:3], [])
        check("%s reader %d: final value" % (name, slot), res[-1][1], want_final)
    rc, out, err = ctl(conf, "stats")
    check(name + " events", "events: %d\n" % (1 + TOGGLES + 20000) in out, True)


def run(tmp):
    conf = os.path.join(tmp, "sqlite.conf")
    with open(conf, "w") as f:
        f.write('store = { sqlite_path = "%s/consent.db"; };\n' % tmp)
    run_backend("sqlite", conf, tmp)
    if T.need_pg():
        with satest_pg.Pg() as pg:
            conf = os.path.join(tmp, "pg.conf")
            with open(conf, "w") as f:
                f.write('store = { backend = "postgresql"; pg_conninfo = "%s"; };\n'
                        % pg.socket_conninfo)
            run_backend("postgresql", conf, tmp)


def main():
    return in_tmp(T, "satest-race-", run, CTL)


if __name__ == "__main__":
    sys.exit(main())
