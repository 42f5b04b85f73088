#!/usr/bin/python3
"""report_bench.py - senderauth-report over N history rows (docs/performance.md).

    SA_BUILD=build python3 tests/bench/report_bench.py [N]     (default 1,000,000)

Makes a SQLite store (senderauthctl init), inserts N synthetic rows for one UTC day
(1,000 policy domains, 20,000 source IPs, 1-2 DKIM signatures) and times
`senderauth-report run --xml-only DIR` (aggregation, XML, gzip) and `stats`.
Also runs report-bench (history_add and the writer) with 100,000 rows. Prints the figures.
"""
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
DAY = 1700006400


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    work = tempfile.mkdtemp(prefix="sa-rbench-")
    try:
        db = os.path.join(work, "b.db")
        conf = os.path.join(work, "c.conf")
        with open(conf, "w") as f:
            f.write('store = { sqlite_path = "%s"; };\nlog = { level = "warning"; };\n'
                    'report = { org_name = "Bench"; email = "r@isp.example"; queue_size = 65536;'
                    ' batch_size = 1000; flush_interval_ms = 100; retention_days = 0; };\n' % db)
        subprocess.run([os.path.join(BUILD, "senderauthctl"), "-c", conf, "init"], check=True,
                       capture_output=True)
        p = subprocess.run([os.path.join(BUILD, "report-bench"), conf, "100000"],
                           capture_output=True, text=True)
        print(p.stdout.strip())
        con = sqlite3.connect(db)
        con.execute("DELETE FROM dmarc_history")
        rng = random.Random(1)
        t = time.time()

        def rows():
            for i in range(n):
                d = "d%04d.example" % rng.randrange(1000)
                ip = "10.%d.%d.%d" % (rng.randrange(4), rng.randrange(70), rng.randrange(70))
                dk = "pass:%s:s1" % d if rng.random() < 0.8 else "fail:%s:s1 pass:esp.example:k" % d
                yield (DAY + i * 86400 // n, ip, d, d, d, d, "mfrom",
                       rng.choice(["pass", "fail", "softfail"]), dk, "pass", 1, 1, "reject", "", "",
                       100, 0, "r", "r", "pass", "", "", "psl", "mailto:agg@" + d, "accept",
                       "accept", 1, 1)
        con.executemany("INSERT INTO dmarc_history (at, source_ip, env_from, header_from,"
                        " policy_domain, spf_domain, spf_scope, spf_result, dkim, dmarc_result,"
                        " dkim_aligned, spf_aligned, p, sp, np, pct, testing, adkim, aspf,"
                        " disposition, reason, reason_comment, discovery, rua, action, would,"
                        " rcpt_consent, rcpt_total) VALUES (%s)" % ",".join("?" * 28), rows())
        con.commit()
        con.close()
        print("insert %d rows (python sqlite3, one transaction): %.1f s" % (n, time.time() - t))
        out = os.path.join(work, "xml")
        os.mkdir(out)
        for args in (["run", "--from", str(DAY), "--to", str(DAY + 86400), "--xml-only", out],
                     ["stats", "--from", str(DAY), "--to", str(DAY + 86400)]):
            t = time.time()
            p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M",
                                os.path.join(BUILD, "senderauth-report"), "-c", conf] + args,
                               capture_output=True, text=True)
            wall = time.time() - t
            u, s, rss = p.stderr.strip().splitlines()[-1].split()
            print("senderauth-report %s: %.1f s wall, %.1f s CPU, max RSS %d MB; %s" % (
                args[0], wall, float(u) + float(s), int(rss) // 1024,
                [ln for ln in p.stdout.splitlines() if ln.startswith("summary")][:1]))
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        print("reports: %d files, %.1f MB gzipped" % (len(os.listdir(out)), size / 1e6))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
