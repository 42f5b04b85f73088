"""test_store_reconnect.py - a long-lived reader of the consent store (as senderauthd
is) across a store outage: PostgreSQL restarted under it, and down for a while.

A small probe program (compiled here from PROBE_C against the build's libraries) keeps
one struct store open and answers "resolve ADDRESS" lines from stdin, as senderauthd's
threads would. Cases, each a line and the expected answer:
  - before: FOUND;
  - after a server restart: FOUND again (the dead pooled connection is dropped and the
    lookup retried once on a new one) - no restart of the reader;
  - while the server is down: "error" (could not find out), never "notfound" and
    never a crash;
  - after it is back: FOUND;
  - a change made meanwhile by senderauthctl is seen by the same reader.
The same probe also checks that, on SQLite, a change made by senderauthctl in another
process is seen by the open reader at once.
Prints "N passed, M failed".
"""
import os
import subprocess
import sys

SRC = os.environ.get("SA_SRC", ".")
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
from satest import pg as satest_pg  # noqa: E402
from satest.checks import Checks, in_tmp  # noqa: E402

CTL = os.path.join(BUILD, "senderauthctl")

PROBE_C = r"""
#include <stdio.h>
#include <string.h>
#include "conf/conf.h"
#include "senderauth/store.h"
int main(int argc, char **argv)
{
    struct conf_errors errs;
    struct sa_conf *c = conf_load_file(argv[1], &errs);
    struct store_addr_rules rules;
    struct store *st;
    char line[512], err[512];
    if (c == NULL || (st = store_open(c, STORE_OPEN_READ, err, sizeof(err))) == NULL) {
        printf("open failed: %s\n", c == NULL ? "config" : err);
        return 1;
    }
    store_addr_rules_from_conf(c, &rules);
    while (fgets(line, sizeof(line), stdin) != NULL) {
        int on = -1;
        enum store_match via;
        enum store_lookup r;
        line[strcspn(line, "\n")] = '\0';
        r = store_resolve(st, line, &rules, 0, &on, &via);
        if (r == STORE_ERROR)
            printf("error %d\n", on);
        else
            printf("%s %d %s\n", r == STORE_FOUND ? "found" : "notfound", on, store_match_name(via));
        fflush(stdout);
    }
    store_close(st);
    conf_unref(c);
    return 0;
}
"""

T = Checks(quiet=True)
check = T.eq


def build_probe(tmp):
    src = os.path.join(tmp, "probe.c")
    exe = os.path.join(tmp, "probe")
    with open(src, "w") as f:
        f.write(PROBE_C)
    libs = [os.path.join(BUILD, "libsa_%s.a" % m) for m in ("store", "conf", "util")]
    flags = []
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        if "SANITIZE:BOOL=ON" in f.read():
            flags = ["-fsanitize=address,undefined"]
    subprocess.run(["cc", "-D_GNU_SOURCE", "-I", os.path.join(SRC, "include"),
                    "-I", os.path.join(SRC, "src"), src, "-o", exe] + flags + libs +
                   ["-lsqlite3", "-lpq", "-lconfig", "-lcrypto", "-lpthread"], check=True)
    return exe


class Probe:
    def __init__(self, exe, conf):
        self.p = subprocess.Popen([exe, conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)

    def ask(self, addr):
        self.p.stdin.write(addr + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        self.p.stdin.close()
        rc = self.p.wait(30)
        self.p.stdout.close()
        return rc


def ctl(conf, *args):
    return subprocess.run([CTL, "-c", conf] + list(args), capture_output=True, text=True,
                          timeout=60).returncode


def run_pg(exe, tmp):
    with satest_pg.Pg() as pg:
        conf = os.path.join(tmp, "pg.conf")
        with open(conf, "w") as f:
            f.write('store = { backend = "postgresql"; pg_conninfo = "%s connect_timeout=2";'
                    ' pg_pool_size = 2; busy_timeout_ms = 1000; };\n' % pg.conninfo)
        check("pg init", ctl(conf, "init"), 0)
        check("pg set", ctl(conf, "user", "set", "u@isp.example", "on"), 0)
        probe = Probe(exe, conf)
        check("pg before restart", probe.ask("u+x@isp.example"), "found 1 base")
        pg.halt()
        pg.resume()
        check("pg after restart", probe.ask("u+x@isp.example"), "found 1 base")
        pg.halt()
        check("pg while down", probe.ask("u@isp.example"), "error 0")
        check("pg while down, again", probe.ask("u@isp.example"), "error 0")
        pg.resume()
        check("pg back", probe.ask("u@isp.example"), "found 1 address")
        check("pg toggle", ctl(conf, "user", "set", "u@isp.example", "off"), 0)
        check("pg toggle seen", probe.ask("u@isp.example"), "found 0 address")
        check("pg probe exit", probe.close(), 0)


def run_sqlite(exe, tmp):
    db = os.path.join(tmp, "consent.db")
    conf = os.path.join(tmp, "sqlite.conf")
    with open(conf, "w") as f:
        f.write('store = { sqlite_path = "%s"; };\n' % db)
    check("sqlite init", ctl(conf, "init"), 0)
    check("sqlite set", ctl(conf, "domain", "set", "isp.example", "on"), 0)
    probe = Probe(exe, conf)
    check("sqlite found", probe.ask("anyone@isp.example"), "found 1 domain")
    check("sqlite toggle", ctl(conf, "domain", "set", "isp.example", "off"), 0)
    check("sqlite toggle seen", probe.ask("anyone@isp.example"), "found 0 domain")
    check("sqlite probe exit", probe.close(), 0)


def run(tmp):
    exe = build_probe(tmp)
    run_sqlite(exe, tmp)
    if T.need_pg():
        run_pg(exe, tmp)


def main():
    return in_tmp(T, "satest-reconnect-", run, CTL)


if __name__ == "__main__":
    sys.exit(main())
