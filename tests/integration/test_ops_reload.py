#!/usr/bin/python3
"""test_ops_reload.py - SIGHUP reload of a running senderauthd (docs/operations.md):

- authserv_id changed in the file + SIGHUP: the next message (on a new connection and on
  the connection that was open meanwhile) carries the new id, while the message that was
  in flight during the reload finishes with the old one; the connection is not dropped;
- a bad file (unknown key, syntax error) on SIGHUP is refused and logged, the old
  configuration stays in force, and the daemon keeps running;
- under load: client threads send messages on their own connections while the test
  sends SIGHUP again and again (alternating ids): every message is answered exactly
  once with one A-R field naming one of the ids, and one summary line per queue id;
- the reload counters of the metrics endpoint match.

Prints one line per check and `reload: N passed, M failed`.
"""
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("SA_SRC", "."), "tests/lib"))
from satest.checks import Checks, metric, scrape  # noqa: E402
from satest.daemon import Senderauthd, libconfig_text  # noqa: E402
from satest.milter import MilterClient, MilterError  # noqa: E402
from satest.nsd import Nsd, free_port  # noqa: E402

RECS = [("sender.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
        ("_dmarc.sender.example", "TXT", "v=DMARC1; p=none")]
BODY = b"hello\r\n"
CLIENTS = 4
PER_CLIENT = 25      # each client sends at least this many messages
MAX_PER_CLIENT = 400  # and keeps going until both ids were seen, at most this many
MIN_HUPS = 10


def headers(qid):
    return [("From", " <a@sender.example>"), ("To", " <b@rcpt.example>"),
            ("Subject", " reload %s" % qid), ("Message-ID", " <%s@sender.example>" % qid)]


def ar_ids(res):
    """authserv-ids of the A-R fields the filter added."""
    return [re.split(r"[;\s]", v.strip(), 1)[0] for n, v in res.added_headers()
            if n.lower() == "authentication-results"]


def wait_log(d, pattern, count, timeout=15.0):
    """Poll the daemon log until pattern occurs count times (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        n = len(re.findall(pattern, d.log_text()))
        if n >= count or time.monotonic() > deadline or d.proc.poll() is not None:
            return n
        time.sleep(0.02)  # poll interval, not a timing assumption


def write_conf(d, **top):
    conf = dict(d.conf)
    conf.update(top)
    with open(d.conf_path + ".new", "w") as f:
        f.write(libconfig_text(conf) + "\n")
    os.replace(d.conf_path + ".new", d.conf_path)


def send(m, qid, helo=None):
    return m.message(mail_from="a@sender.example", rcpts=["b@rcpt.example"],
                     headers=headers(qid), body=BODY, helo=helo, queue_id=qid)


def main():
    ck = Checks()
    mport = free_port()
    with Nsd(RECS) as ns, Senderauthd(ns.port, conf={
            "authserv_id": "old.test.example", "metrics": {"listen": "127.0.0.1:%d" % mport},
            "log": {"level": "info"}}) as d:
        # 1. an in-flight message across a reload
        with MilterClient("127.0.0.1", d.port) as a:
            a.connect("mail.sender.example", "192.0.2.10")
            a.helo("mail.sender.example")
            a.mail("a@sender.example", macros={"i": "INFLIGHT1"})
            a.rcpt("b@rcpt.example")
            for n, v in headers("INFLIGHT1")[:2]:
                a.header(n, v)
            write_conf(d, authserv_id="new.test.example")
            d.proc.send_signal(signal.SIGHUP)
            ck.check("reload logged",
                     wait_log(d, r"reloaded .* \(authserv-id new\.test\.example\)", 1) == 1,
                     d.log_tail(10))
            for n, v in headers("INFLIGHT1")[2:]:
                a.header(n, v)
            a.eoh()
            a.body(BODY)
            r = a.eom()
            ck.check("in-flight message keeps the old id", ar_ids(r) == ["old.test.example"],
                     "got %r" % ar_ids(r))
            r = send(a, "SAMECONN2")
            ck.check("same connection, next message: new id", ar_ids(r) == ["new.test.example"],
                     "got %r" % ar_ids(r))
        with MilterClient("127.0.0.1", d.port) as b:
            b.connect("mail.sender.example", "192.0.2.10")
            r = send(b, "NEWCONN3", helo="mail.sender.example")
            ck.check("new connection: new id", ar_ids(r) == ["new.test.example"],
                     "got %r" % ar_ids(r))

        # 2. bad files are refused
        good = open(d.conf_path).read()
        for i, (what, text) in enumerate([
                ("unknown key", good + "\nno_such_key = 1;\n"),
                ("syntax error", good.replace("authserv_id", "authserv_id = = ", 1)),
                ("bad value", good + "\ndns = { timeout = 999; };\n")]):
            with open(d.conf_path, "w") as f:
                f.write(text)
            d.proc.send_signal(signal.SIGHUP)
            n = wait_log(d, r"reload of .* refused", i + 1)
            ck.check("bad file (%s) refused" % what, n == i + 1, d.log_tail(6))
            with MilterClient("127.0.0.1", d.port) as c:
                c.connect("mail.sender.example", "192.0.2.10")
                r = send(c, "BAD%d" % i, helo="mail.sender.example")
                ck.check("after the refused reload (%s): id still new" % what,
                         ar_ids(r) == ["new.test.example"] and d.proc.poll() is None,
                         "got %r" % ar_ids(r))
        ck.check("errors name the file and line",
                 re.search(r"senderauth\.conf:\d+: no_such_key", d.log_text()) is not None,
                 d.log_tail(12))
        text = scrape(mport)
        ck.check("metrics: reloads ok=1 failed=3",
                 metric(text, 'senderauth_reloads_total{result="ok"}') == 1 and
                 metric(text, 'senderauth_reloads_total{result="failed"}') == 3,
                 "\n".join(x for x in text.splitlines() if "reloads" in x))

        # 3. reload under load
        with open(d.conf_path, "w") as f:
            f.write(good)
        results, errors, sent = {}, [], [0]
        lock = threading.Lock()
        enough = threading.Event()

        def client(k):
            try:
                with MilterClient("127.0.0.1", d.port) as m:
                    m.connect("mail.sender.example", "192.0.2.10")
                    for j in range(MAX_PER_CLIENT):
                        if j >= PER_CLIENT and enough.is_set():
                            break
                        with lock:
                            sent[0] += 1
                        qid = "LOAD%dX%d" % (k, j)
                        r = send(m, qid, helo="mail.sender.example" if j == 0 else None)
                        with lock:
                            results[qid] = (r.reply.code if r.reply else None, ar_ids(r))
            except (MilterError, OSError) as e:
                with lock:
                    errors.append("client %d: %s" % (k, e))

        before = len(re.findall(r"reloaded ", d.log_text()))
        threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        hups = 0
        # Which id a message sees depends on where it falls between two reloads; the
        # client threads and the log polling share one interpreter, so they can fall into
        # step with the reloads. Clients therefore go on until both ids were seen (bounded).
        while any(t.is_alive() for t in threads):
            with lock:
                seen = {v[1][0] for v in results.values() if v[1]}
            if hups >= MIN_HUPS and len(seen & {"a0.test.example", "a1.test.example"}) == 2:
                enough.set()
            write_conf(d, authserv_id="a%d.test.example" % (hups % 2))
            d.proc.send_signal(signal.SIGHUP)
            hups += 1
            # Wait for this reload before the next HUP, so that reloads really happen
            # during the load instead of being merged into one.
            wait_log(d, r"reloaded ", before + 1, timeout=5)
            before = len(re.findall(r"reloaded ", d.log_text()))
        for t in threads:
            t.join()
        want = sent[0]
        ck.check("under load: no client error", not errors, "; ".join(errors))
        ck.check("under load: every message answered (%d)" % want, len(results) == want,
                 "got %d" % len(results))
        bad = {q: v for q, v in results.items()
               if v[0] not in ("continue", "accept") or len(v[1]) != 1 or
               v[1][0] not in ("new.test.example", "a0.test.example", "a1.test.example")}
        ck.check("under load: each message accepted with one A-R", not bad,
                 repr(sorted(bad.items())[:5]))
        ids = {v[1][0] for v in results.values() if v[1]}
        ck.check("under load: %d SIGHUPs, messages saw both reloaded ids" % hups,
                 {"a0.test.example", "a1.test.example"} <= ids, "hups %d ids %r" % (hups, ids))
        log = d.log_text()
        dup = [q for q in results if len(re.findall(r"^%s: client=" % q, log, re.M)) != 1]
        ck.check("under load: one summary line per message", not dup, repr(dup[:5]))
        ck.check("daemon alive after the load", d.proc.poll() is None)
    return ck.finish("reload")


if __name__ == "__main__":
    sys.exit(main())
