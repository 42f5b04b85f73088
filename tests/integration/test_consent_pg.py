#!/usr/bin/python3
"""test_consent_pg.py - consent enforcement with the PostgreSQL store backend: a
throwaway PostgreSQL (satest/pg.py), the store made with senderauthctl, senderauthd
over the milter protocol and NSD. The same messages as test_consent_enforce.py for the
parts that depend on the backend: consenting / not consenting, the lookup order
(subaddress, case, domain default), split, a toggle with cache_ttl 0, and the server
going away (no enforcement, mail accepted).

Prints one line per check, then `consent: N passed, M failed`. Skips (naming what is
missing) when PostgreSQL's server programs are not installed.
"""
import os
import sys

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.join(SRC, "tests/integration"))

import test_consent_enforce as ce  # noqa: E402
from satest import milter, pg  # noqa: E402
from satest.daemon import Senderauthd, DaemonError, stop_all, build_dir  # noqa: E402
from satest.nsd import Nsd  # noqa: E402


def main():
    why = pg.missing()
    for tool in ("senderauthd", "senderauthctl"):
        if not os.access(os.path.join(build_dir(), tool), os.X_OK):
            why = why or "no %s in %s" % (tool, build_dir())
    if why:
        print("SKIP: %s" % why)
        print("consent: 0 passed, 0 failed")
        return 0
    t = ce.Runner()
    with pg.Pg() as server, Nsd(ce.zone(), servfail=["_dmarc.tempdmarc.example"]) as ns:
        conf = ce.base_conf("/nonexistent/unused.db")
        conf["store"] = {"backend": "postgresql", "pg_conninfo": server.conninfo,
                         "pg_pool_size": 2, "busy_timeout_ms": 1000}
        d = Senderauthd(ns.port, conf=conf)
        d.write_conf()
        ce.fill_store(d.conf_path)
        try:
            d.start()
            run(t, d, server)
        except (milter.MilterError, OSError, DaemonError, RuntimeError) as e:
            t.check("conversation", False, str(e))
        finally:
            for e in stop_all([d]):
                t.check("daemon stopped cleanly", False, e)
            if t.failed:
                print(d.log_tail(20))
    print("consent: %d passed, %d failed" % (t.passed, t.failed))
    return 1 if t.failed else 0


def run(t, d, server):
    rej = "replycode:550 5.7.1"
    for rcpt, final in (("alice@example.jp", rej), ("bob@example.jp", "accept"),
                        ("alice+news@example.jp", rej), ("ALICE@Example.JP", rej),
                        ("erin@example.jp", rej), ("someone@corp.example", rej),
                        ("carol@corp.example", "accept"), ("nobody@example.jp", "accept")):
        out, qid = ce.send(d.port, ce.BAD_IP, "reject.example", [rcpt])
        t.expect("pg: %s p=reject dmarc=fail" % rcpt, d, out, qid, final)
    out, qid = ce.send(d.port, ce.BAD_IP, "quar.example", ["alice@example.jp"])
    t.expect("pg: consenting p=quarantine -> header", d, out, qid, "accept", quar=True)
    out, qid = ce.send(d.port, ce.BAD_IP, "reject.example",
                       ["alice@example.jp", "bob@example.jp"])
    t.expect("pg: split", d, out, qid, rej, rcpts=["continue", "452 4.5.3"])
    ce.ctl(d.conf_path, "user", "set", "bob@example.jp", "on", "--channel", "test")
    out, qid = ce.send(d.port, ce.BAD_IP, "reject.example", ["bob@example.jp"])
    t.expect("pg: toggle on, ttl 0: enforced at once", d, out, qid, rej)
    ce.ctl(d.conf_path, "user", "set", "bob@example.jp", "off", "--channel", "test")
    out, qid = ce.send(d.port, ce.BAD_IP, "reject.example", ["bob@example.jp"])
    t.expect("pg: toggle off, ttl 0: accepted at once", d, out, qid, "accept")
    server.stop()
    out, qid = ce.send(d.port, ce.BAD_IP, "reject.example", ["alice@example.jp"])
    t.expect("pg: server down: accepted", d, out, qid, "accept", log=["store_errors=1"])


if __name__ == "__main__":
    sys.exit(main())
