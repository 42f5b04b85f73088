#!/usr/bin/python3
"""test_memory_conns.py - senderauthd's memory with 1,000 milter connections open at once.

One case on a fresh daemon: CONNS connections each send one DKIM-signed message up to
its last body chunk and wait there until all are (so every connection has an open
message: the DKIM handle, its hashes, the message context), then all end their
message. Checked: every connection gets a verdict with dkim=pass (no error, no refused
connection); the peak resident memory (VmHWM) grows by less than HWM_MAX_KB over the
idle daemon's; and once the connections have closed the resident memory (VmRSS) comes
back to within RSS_BACK_KB of the idle daemon's, because senderauthd returns the heap of
a burst to the kernel (milter.c, malloc_trim). The
bounds are well above the measured figures (docs/performance.md, "Memory with 1,000
open connections") so that a loaded machine does not fail them: memory, not time.
In a sanitizer build or under valgrind the memory figures are printed but not checked
(ASan keeps freed memory in its quarantine; memcheck has its own allocator). Nothing is timed. Prints one line per case, then
`memory: N passed, M failed` and the figures.
"""
import os
import resource
import sys
import tempfile
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.join(SRC, "tests/integration"))

import test_faults_load as fl  # noqa: E402
import test_faults_milter as fm  # noqa: E402
from satest import cases as sc  # noqa: E402
from satest import milter  # noqa: E402
from satest.daemon import DaemonError  # noqa: E402
from satest.dkimsign import KeyStore  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

CONNS = 1000
HWM_MAX_KB = 96 * 1024  # measured growth about 31 MB (all 1,000 mid-message)
RSS_BACK_KB = 8 * 1024  # measured: back to within about 2-4 MB of the idle daemon


def rss_back(pid, base, tries=200):
    """Bounded poll until VmRSS is within RSS_BACK_KB of base (the trim runs when the
    last connection closes, in the thread that closes it); returns the last status."""
    st = fl.status(pid)
    for _ in range(tries):
        if st["VmRSS"] - base["VmRSS"] <= RSS_BACK_KB:
            break
        time.sleep(0.05)  # poll interval, bounded by tries; nothing is timed
        st = fl.status(pid)
    return st


def held_mid_message(d, key):
    """CONNS connections, each with a signed message sent up to EOM, held until all
    are there; then EOM. Returns (number with dkim=pass, failures, status while held)."""
    def start(i, cl):
        cl.mail("user@" + fm.DOM, macros={"i": "HELD%04d" % i})
        cl.rcpt("user@" + sc.OUR_ID)
        cl.data()
        for name, value in fl.signed(key, b"held %d\r\n" % i):
            cl.header(name, value)
        cl.eoh()
        cl.body(b"held %d\r\n" % i)

    def finish(i, cl):
        res = cl.eom()
        return fm.verdict(res) + fl.dkim_pass(res)

    return fl.held_conns(d, CONNS, start, finish, "dkim=pass")


def thousand(d, key):
    base = fl.status(d.proc.pid)
    ok, f, held = held_mid_message(d, key)
    fl.settle(d.proc.pid, base)
    after = rss_back(d.proc.pid, base)
    fl.figures.append("%d connections: %d with dkim=pass; VmHWM %d kB, VmRSS after %d kB "
                      "(idle %d kB)%s" % (CONNS, ok, after["VmHWM"], after["VmRSS"],
                                          base["VmRSS"], "" if held is None else
                                          "; %d descriptors while held" % held["fds"]))
    if held is not None and held["fds"] < CONNS:
        f.append("only %d descriptors while %d connections were open: not concurrent" %
                 (held["fds"], CONNS))
    if fl.CHECK_MEMORY:
        if after["VmHWM"] - base["VmHWM"] > HWM_MAX_KB:
            f.append("VmHWM %d kB -> %d kB (bound +%d kB)" % (base["VmHWM"], after["VmHWM"],
                                                             HWM_MAX_KB))
        if after["VmRSS"] - base["VmRSS"] > RSS_BACK_KB:
            f.append("VmRSS %d kB -> %d kB after the connections closed (bound +%d kB): "
                     "the burst's heap was not returned" % (base["VmRSS"], after["VmRSS"],
                                                            RSS_BACK_KB))
    return f + fm.alive(d, "%d connections" % CONNS)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 2 * CONNS + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * CONNS + 64), hard))
    name = "%d connections at once: no error, bounded memory, heap returned" % CONNS
    key = KeyStore(tempfile.mkdtemp(prefix="satest-memory-")).get("ed25519")
    zone = fm.ZONE + [("%s._domainkey.%s" % (fl.SELECTOR, fm.DOM), "TXT", key.dns_txt())]
    try:
        with Nsd(zone) as ns:
            try:
                fm.check(name, fl.on_fresh(ns, lambda d: thousand(d, key)))
            except (milter.MilterError, OSError, DaemonError) as e:
                fm.check(name, ["%s" % e])
    except DaemonError as e:
        fm.check("senderauthd", [str(e)])
    for fig in fl.figures:
        print("figure: " + fig + ("" if fl.CHECK_MEMORY else
                                  " (sanitizer or valgrind run: memory not checked)"))
    print("memory: %d passed, %d failed" % (fm.passed, fm.failed))
    return 1 if fm.failed or not fm.passed else 0


if __name__ == "__main__":
    sys.exit(main())
