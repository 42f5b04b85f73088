#!/usr/bin/python3
"""test_milter_workers.py - the native engine's worker pool when every worker waits on DNS.

The resolver points at a loopback UDP socket that never answers, so each message's first
lookup waits for dns.timeout. CONNS connections (more than the 16 workers the pool starts
on demand) each send a message at once. The pool must add workers while all of them are
blocked on the network and the CPUs are idle (src/milter/mlt_native.c, queue_check), or
the MTA's connections would be served 16 at a time. Checked: the daemon's thread count
goes 8 or more above base + 16 while the messages wait (read from /proc, polled until the clients
are done: no time is measured), every message gets its verdict (dns.on_error's accept
with a temperror A-R), and the extra workers end again once the connections are gone.

Prints one line per check, then `workers: N passed, M failed`.
"""
import os
import socket
import sys
import threading
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.join(SRC, "tests/integration"))

import test_faults_load as fl  # noqa: E402  (its /proc status reader)
from satest import milter  # noqa: E402
from satest.checks import Checks  # noqa: E402
from satest.daemon import Senderauthd  # noqa: E402

CONNS = 40
WORKERS_SOFT = 16  # mlt_native.c


def threads(pid):
    return fl.status(pid)["Threads"]


def main():
    ck = Checks()
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never read
    hole.bind(("127.0.0.1", 0))
    with Senderauthd(hole.getsockname()[1], conf={
            "dns": {"timeout": 3, "retries": 1}, "log": {"level": "info"}}) as d:
        base = threads(d.proc.pid)
        results, errors, lock = [], [], threading.Lock()

        def client(k):
            try:
                with milter.MilterClient("127.0.0.1", d.port, timeout=120) as m:
                    m.connect("mail.sender.example", "192.0.2.%d" % (k + 1))
                    r = m.message("a@sender%d.example" % k, ["b@rcpt.example"],
                                  [("From", " <a@sender%d.example>" % k),
                                   ("Subject", " wait %d" % k)], b"hi\r\n",
                                  helo="mail.sender.example", queue_id="WAIT%02d" % k)
                with lock:
                    results.append(r)
            except (milter.MilterError, OSError) as e:
                with lock:
                    errors.append("client %d: %s" % (k, e))

        ts = [threading.Thread(target=client, args=(k,)) for k in range(CONNS)]
        for t in ts:
            t.start()
        peak = base
        while any(t.is_alive() for t in ts):
            peak = max(peak, threads(d.proc.pid))
            time.sleep(0.01)  # poll interval, not a timing assumption
        for t in ts:
            t.join()
        ck.check("every connection answered (%d)" % CONNS, not errors and
                 len(results) == CONNS, "; ".join(errors[:3]))
        ars = [v for r in results for n, v in r.added_headers()
               if n.lower() == "authentication-results"]
        ck.check("each verdict says temperror (the resolver never answered)",
                 len(ars) == CONNS and all("temperror" in v for v in ars), repr(ars[:2]))
        ck.check("workers added while all %d waited on DNS: threads %d -> peak %d" % (
            WORKERS_SOFT, base, peak), peak >= base + WORKERS_SOFT + 8)
        back = peak
        for _ in range(500):  # idle workers beyond 4 end after 2 s; bounded poll
            back = threads(d.proc.pid)
            if back <= base + 4:
                break
            time.sleep(0.02)
        ck.check("the extra workers ended: threads %d after the load" % back,
                 back <= base + 4)
    hole.close()
    return ck.finish("workers")


if __name__ == "__main__":
    sys.exit(main())
