"""consent_bench.py - benchmark of consent lookups with 1,000,000 users (not a test).

Builds tests/bench/consent_bench.c against the libraries of a build directory, fills a
SQLite store and a throwaway PostgreSQL (tests/lib/satest/pg.py) with USERS addresses
through `senderauthctl import`, then times store_resolve() (exact miss + base-address
hit) in a fresh process: a cold pass right after opening the store and a warm pass
over the same keys, single-threaded and with 4 threads. The figures go into
docs/performance.md by hand.

    SA_BUILD=build SA_SRC=. /usr/bin/python3 tests/bench/consent_bench.py [USERS] [LOOKUPS]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("SA_SRC", ".")
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
from satest import pg as satest_pg  # noqa: E402

USERS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
LOOKUPS = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
CTL = os.path.join(BUILD, "senderauthctl")


def build(tmp):
    exe = os.path.join(tmp, "consent_bench")
    libs = [os.path.join(BUILD, "libsa_%s.a" % m) for m in ("store", "conf", "util")]
    subprocess.run(["cc", "-O2", "-D_GNU_SOURCE", "-I", os.path.join(SRC, "include"),
                    "-I", os.path.join(SRC, "src"), os.path.join(SRC, "tests/bench/consent_bench.c"),
                    "-o", exe] + libs + ["-lsqlite3", "-lpq", "-lconfig", "-lpthread"], check=True)
    return exe


def fill(conf, csv):
    subprocess.run([CTL, "-c", conf, "init"], check=True, stdout=subprocess.DEVNULL)
    t = time.time()
    subprocess.run([CTL, "-c", conf, "import", csv], check=True)
    print("import of %d rows: %.1f s" % (USERS, time.time() - t))


def bench(exe, conf):
    for threads in (1, 4):
        subprocess.run([exe, conf, str(USERS), str(LOOKUPS), str(threads)], check=True)


def main():
    tmp = tempfile.mkdtemp(prefix="consent-bench-")
    try:
        exe = build(tmp)
        csv = os.path.join(tmp, "users.csv")
        with open(csv, "w") as f:
            for i in range(USERS):
                f.write("user%07d@bench.example,%s\n" % (i, "on" if i % 2 else "off"))
        conf = os.path.join(tmp, "sqlite.conf")
        with open(conf, "w") as f:
            f.write('store = { sqlite_path = "%s/consent.db"; };\n' % tmp)
        print("== sqlite")
        fill(conf, csv)
        bench(exe, conf)
        if satest_pg.missing() is None:
            with satest_pg.Pg() as pg:
                conf = os.path.join(tmp, "pg.conf")
                with open(conf, "w") as f:
                    f.write('store = { backend = "postgresql"; pg_conninfo = "%s"; '
                            'pg_pool_size = 4; };\n' % pg.conninfo)
                print("== postgresql (127.0.0.1)")
                fill(conf, csv)
                pg.sql("VACUUM ANALYZE")
                bench(exe, conf)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
