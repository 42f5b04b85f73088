#!/usr/bin/python3
"""test_faults_load.py - senderauthd under load: bounded memory, threads and descriptors.

Cases (each on a fresh daemon, so that its peak memory is its own):
  - a 50 MB body, DKIM-signed (so the verifier hashes all of it): dkim=pass, and the
    daemon's peak resident memory (VmHWM) grows by less than BODY_HWM_MAX_KB over the
    baseline taken after a warm-up message; also 10,000 header fields in one message
    under the same bound;
  - LOAD_CONNS (>= 500) milter connections open at once, each then doing a full message:
    every one gets a verdict; afterwards the thread and descriptor counts come back;
  - a SIGHUP storm under load: HUPS SIGHUPs in a tight loop (waiting for one reload and
    one more message after every 10) while LOAD_THREADS clients
    send messages continuously, with the configuration alternating between two
    authserv-ids: every message gets a verdict, each message is handled under one
    configuration (the forged A-R deleted is the one naming the id our A-R carries),
    the last configuration is in force afterwards, and threads, descriptors and VmRSS
    stay within bounds;
  - descriptors exhausted (RLIMIT_NOFILE 64; 50 milter connections, then 24 plain TCP
    ones past the limit): the daemon reaches its limit, warns naming the open-files
    limit, does not exit, and serves the next connection once the load is gone.
In a sanitizer build (SANITIZE=ON) or under valgrind (SA_VALGRIND=1) the memory figures
are printed but not checked: ASan keeps freed memory in its quarantine and memcheck has
its own allocator, so RSS measures the tool, not us (their leak checks at exit still
cover every path here).
SA_LOAD_SCALE (default 1) multiplies the message counts of the storm; the connection
count never goes below 500. Nothing is timed. Prints one line per case, then
`faults: N passed, M failed`, and the measured figures (`figure: ...`).
"""
import os
import resource
import signal
import socket
import sys
import tempfile
import threading
import time

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
sys.path.insert(0, os.path.join(SRC, "tests/integration"))

import test_faults_milter as fm  # noqa: E402
from satest import cases as sc  # noqa: E402
from satest import milter  # noqa: E402
from satest.daemon import Senderauthd, DaemonError, build_dir, daemon_path  # noqa: E402
from satest.dkimsign import KeyStore, sign  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

SCALE = max(1, int(os.environ.get("SA_LOAD_SCALE", "1")))
LOAD_CONNS = max(500, int(os.environ.get("SA_LOAD_CONNS", "500")))
LOAD_THREADS = 8
HUPS = 200
BODY_MB = 50
BODY_HWM_MAX_KB = 64 * 1024       # peak RSS growth allowed for one 50 MB message
STORM_RSS_MAX_KB = 32 * 1024      # RSS growth allowed across the storm
FD_SLACK = 8                      # descriptors that may stay open (store, caches, log)
THREAD_SLACK = 4
LOW_NOFILE = 64
ID_A, ID_B = "a.storm.example", "b.storm.example"
SELECTOR = "s1"

figures = []
check = fm.check  # one tally (test_faults_milter's) for both programs


def sanitized():
    try:
        with open(os.path.join(build_dir(), "CMakeCache.txt")) as fh:
            return "SANITIZE:BOOL=ON" in fh.read()
    except OSError:
        return False


# Memory is a figure of senderauthd only in a plain run: under ASan (quarantine) or
# valgrind memcheck (its own allocator and shadow memory) RSS measures the tool.
CHECK_MEMORY = not sanitized() and os.environ.get("SA_VALGRIND", "") in ("", "0")


def on_fresh(ns, fn, conf=None, binary=None):
    """fn(d) on a senderauthd of its own (configured with fm.CONF unless conf is given;
    binary: a program to run in its place, such as a wrapper that lowers a limit), which
    is stopped afterwards whatever fn did. Returns fn's failures, followed by the log's
    tail when there are any, and a failed stop (a bad exit status, or under valgrind its
    report) as one more."""
    d = Senderauthd(ns.port, conf=fm.CONF if conf is None else conf, binary=binary).start()
    f = []
    try:
        f += fn(d)
        if f:
            f.append(d.log_tail(10))
    finally:
        try:
            d.stop()
        except DaemonError as e:
            f.append(str(e))
    return f


def status(pid):
    """VmRSS, VmHWM (kB), Threads and the number of open descriptors of pid."""
    out = {}
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    return out


def settle(pid, base, tries=200):
    """Bounded poll until the connection threads have ended (libmilter ends a session
    thread shortly after its connection closes); returns the last status."""
    st = status(pid)
    for _ in range(tries):
        if st["Threads"] <= base["Threads"] + THREAD_SLACK and \
                st["fds"] <= base["fds"] + FD_SLACK:
            break
        time.sleep(0.05)  # poll interval, bounded by tries; nothing is timed
        st = status(pid)
    return st


def bounds(base, after, rss_max_kb=None):
    f = []
    if after["Threads"] > base["Threads"] + THREAD_SLACK:
        f.append("threads %d -> %d" % (base["Threads"], after["Threads"]))
    if after["fds"] > base["fds"] + FD_SLACK:
        f.append("descriptors %d -> %d" % (base["fds"], after["fds"]))
    if rss_max_kb is not None and CHECK_MEMORY and after["VmRSS"] - base["VmRSS"] > rss_max_kb:
        f.append("VmRSS %d kB -> %d kB (bound +%d kB)" % (base["VmRSS"], after["VmRSS"],
                                                         rss_max_kb))
    return f


# ---- a 50 MB signed body; 10,000 header fields ----

def signed(key, body):
    hdrs = fm.headers([("To", " user@" + sc.OUR_ID)])
    raw = b"".join(("%s:%s\r\n" % (n, v)).encode() for n, v in hdrs) + b"\r\n" + body
    sig = sign(raw, key, domain=fm.DOM, selector=SELECTOR, canonicalize=("relaxed", "simple"))
    name, _, value = sig.partition(":")
    return [(name, value)] + hdrs


def dkim_pass(res):
    ars = [v for n, v in res.added_headers() if n.lower() == "authentication-results"]
    return [] if ars and "dkim=pass" in milter.unfold(ars[0]) else \
        ["want dkim=pass in %r" % ars]


def big_body(d, key):
    line = b"0123456789" * 7 + b"\r\n"
    warm = line * 10000
    f = []
    cl = fm.client(d)
    try:
        res = fm.send(cl, signed(key, warm), warm)
        f += fm.verdict(res) + dkim_pass(res)
        base = status(d.proc.pid)
        body = line * (BODY_MB * 1024 * 1024 // len(line) + 1)
        res = fm.send(cl, signed(key, body), body)
        f += fm.verdict(res) + dkim_pass(res)
        after = status(d.proc.pid)
    finally:
        cl.close()
    grow = after["VmHWM"] - base["VmHWM"]
    figures.append("%d MB signed body: VmHWM %d kB -> %d kB (+%d kB), VmRSS after %d kB" %
                   (BODY_MB, base["VmHWM"], after["VmHWM"], grow, after["VmRSS"]))
    if grow > BODY_HWM_MAX_KB and CHECK_MEMORY:
        f.append("VmHWM grew by %d kB over a %d-byte body (bound %d kB)" %
                 (grow, len(body), BODY_HWM_MAX_KB))
    return f + fm.alive(d, "50 MB body")


def many_headers(d):
    base = status(d.proc.pid)
    cl = fm.client(d)
    try:
        f = fm.verdict(fm.send(cl, fm.headers([("X-Filler-%d" % i, " value %d" % i)
                                                for i in range(10000)])))
    finally:
        cl.close()
    after = status(d.proc.pid)
    grow = after["VmHWM"] - base["VmHWM"]
    figures.append("10,000 header fields: VmHWM +%d kB" % grow)
    if grow > BODY_HWM_MAX_KB and CHECK_MEMORY:
        f.append("VmHWM grew by %d kB over 10,000 fields (bound %d kB)" %
                 (grow, BODY_HWM_MAX_KB))
    return f + fm.alive(d, "10,000 fields")


# ---- many connections at once ----

def held_conns(d, n, start, finish, want):
    """n milter connections in n threads: each is opened (connect, HELO) and taken by
    start(i, cl) as far as the case holds it; all wait there until every one is (the
    first barrier, where the daemon's /proc status is read), then go on together (the
    second) and finish(i, cl) ends each, returning its failures. A connection that
    failed on the way is closed, not finished. want names what each should get, for
    the failure text. Returns (the number that got through, the failures, the status
    while held or None)."""
    results = [None] * n
    barriers = (threading.Barrier(n + 1), threading.Barrier(n + 1))  # all held; go

    def one(i):
        cl = None
        try:
            cl = milter.MilterClient("127.0.0.1", d.port, timeout=180.0).open()
            cl.connect("mail." + fm.DOM, "192.0.2.10")
            cl.helo("mail." + fm.DOM)
            start(i, cl)
        except (milter.MilterError, OSError) as e:
            results[i] = ["connection %d: %s" % (i, e)]
        for b in barriers:
            try:
                b.wait(timeout=300)
            except threading.BrokenBarrierError:
                pass
        if cl is None:
            return
        try:
            if results[i] is None:
                results[i] = finish(i, cl)
        except (milter.MilterError, OSError) as e:
            results[i] = ["connection %d: %s" % (i, e)]
        finally:
            cl.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    held = None
    for b in barriers:
        try:
            b.wait(timeout=300)
            held = held or status(d.proc.pid)
        except threading.BrokenBarrierError:
            pass
    for t in threads:
        t.join(timeout=300)
    f = ["some connections never finished"] if any(t.is_alive() for t in threads) else []
    bad = [r if r is not None else ["connection %d: no result" % i]
           for i, r in enumerate(results) if r != []]
    if bad:
        f.append("%d of %d connections without %s; first: %r" % (len(bad), n, want, bad[0]))
    return n - len(bad), f, held


def at_once(d, n):
    """n connections opened and held until all are open, then one message each.
    Returns (number with a verdict, failures, status while held)."""
    def finish(i, cl):
        return fm.verdict(cl.message("user@" + fm.DOM, ["user@" + sc.OUR_ID], fm.headers(),
                                     b"hello %d\r\n" % i, queue_id="MANY%04d" % i))

    return held_conns(d, n, lambda i, cl: None, finish, "a verdict")


def concurrent(d):
    base = status(d.proc.pid)
    ok, f, held = at_once(d, LOAD_CONNS)
    after = settle(d.proc.pid, base)
    if held:
        figures.append("%d connections at once: %d threads, %d descriptors, VmRSS %d kB "
                       "(idle: %d threads, %d descriptors, %d kB)" %
                       (LOAD_CONNS, held["Threads"], held["fds"], held["VmRSS"],
                        base["Threads"], base["fds"], base["VmRSS"]))
        if held["fds"] < LOAD_CONNS:
            f.append("only %d descriptors while %d connections were open: not concurrent" %
                     (held["fds"], LOAD_CONNS))
    return f + bounds(base, after) + fm.alive(d, "%d connections" % LOAD_CONNS)


# ---- SIGHUP storm ----

def storm_conf(authserv_id):
    c = dict(fm.CONF)
    c["authserv_id"] = authserv_id
    return c


def consistent(res, ids):
    """The message was handled under one configuration: our A-R names one of ids, and
    of the two forged A-R fields (one per id) exactly the one naming that id went."""
    f = []
    ars = [v for n, v in res.added_headers() if n.lower() == "authentication-results"]
    if res.reply is None or res.reply.code not in ("accept", "continue") or len(ars) != 1:
        return ["reply %r, added A-R %r" % (res.reply, ars)]
    try:
        got = sc.parse(ars[0]).authserv_id.lower()
    except sc.ARParseError as e:
        return ["A-R does not parse (%s): %r" % (e, ars[0])]
    if got not in ids:
        return ["A-R id %r not one of %r" % (got, ids)]
    dels = [m.index for m in res.mods if m.kind == "chgheader" and
            m.name.lower() == "authentication-results" and m.value == ""]
    want = [ids.index(got) + 1]
    if dels != want:
        f.append("A-R %s but deleted forged A-R #%r, want #%r (mixed configurations)" %
                 (got, dels, want))
    return f


def storm(d):
    ids = [ID_A, ID_B]
    forged = [("Authentication-Results", " %s; dkim=pass" % i) for i in ids]
    stop = threading.Event()
    counts = [0] * LOAD_THREADS
    progress = threading.Condition()
    total = [0]
    errors = []
    per_thread = 20 * SCALE

    def sender(k):
        n = 0
        while not stop.is_set() or n < per_thread:
            try:
                with milter.MilterClient("127.0.0.1", d.port, timeout=120.0) as cl:
                    cl.connect("mail." + fm.DOM, "192.0.2.10")
                    cl.helo("mail." + fm.DOM)
                    for _ in range(5):
                        res = fm.send(cl, fm.headers(forged))
                        e = consistent(res, ids)
                        n += 1
                        with progress:
                            total[0] += 1
                            progress.notify_all()
                        if e:
                            errors.append("thread %d message %d: %s" % (k, n, e[0]))
            except (milter.MilterError, OSError) as e:
                errors.append("thread %d: %s" % (k, e))
                n += 1
            if len(errors) > 20:
                break
        counts[k] = n

    # warm-up round: the threads and arenas the load needs exist before the baseline
    warm = [threading.Thread(target=sender, args=(k,)) for k in range(LOAD_THREADS)]
    stop.set()
    for t in warm:
        t.start()
    for t in warm:
        t.join(300)
    base = settle(d.proc.pid, status(d.proc.pid))
    stop.clear()
    errors.clear()
    threads = [threading.Thread(target=sender, args=(k,)) for k in range(LOAD_THREADS)]
    for t in threads:
        t.start()
    f, done = [], d.log_text().count("SIGHUP: reloading")
    for i in range(HUPS):
        write_conf(d, storm_conf(ids[(i + 1) % 2]))
        os.kill(d.proc.pid, signal.SIGHUP)
        if i % 10 == 9:  # keep the storm inside the load: one more reload and message
            f += reloaded(d, done)
            done = d.log_text().count("SIGHUP: reloading")
            with progress:
                seen = total[0]
                progress.wait_for(lambda: total[0] > seen or len(errors) > 20, timeout=120)
    write_conf(d, storm_conf(ID_B))
    os.kill(d.proc.pid, signal.SIGHUP)
    stop.set()
    for t in threads:
        t.join(300)
    f += errors[:5]
    if any(t.is_alive() for t in threads):
        f.append("some senders never finished")
    f += final_id(d, ID_B)
    after = settle(d.proc.pid, base)
    reloads = d.log_text().count("SIGHUP: reloading")
    figures.append("SIGHUP storm: %d signals, %d reloads done, %d messages; threads %d -> %d, "
                   "descriptors %d -> %d, VmRSS %d kB -> %d kB" %
                   (HUPS + 1, reloads, sum(counts), base["Threads"], after["Threads"],
                    base["fds"], after["fds"], base["VmRSS"], after["VmRSS"]))
    if reloads < HUPS // 10:
        f.append("only %d reloads logged, want >= %d" % (reloads, HUPS // 10))
    if d.proc.poll() is not None:
        f.append("senderauthd exited (%s)" % d.proc.returncode)
    return f + bounds(base, after, STORM_RSS_MAX_KB)


def reloaded(d, before, tries=1000):
    """Bounded poll: more than `before` reloads started (the log says so)."""
    for _ in range(tries):
        if d.log_text().count("SIGHUP: reloading") > before:
            return []
        time.sleep(0.01)  # poll interval, bounded by tries; nothing is timed
    return ["no reload logged after %d SIGHUPs" % before]


def write_conf(d, conf):
    """Replace the configuration file atomically (a reload never reads half a file)."""
    d.conf = conf
    path = d.conf_path
    d.conf_path = path + ".new"
    d.write_conf()
    d.conf_path = path
    os.replace(path + ".new", path)


def final_id(d, want, tries=100):
    """Bounded poll: after the last SIGHUP, messages carry its authserv-id."""
    got = None
    for _ in range(tries):
        with milter.MilterClient("127.0.0.1", d.port, timeout=60.0) as cl:
            cl.connect("mail." + fm.DOM, "192.0.2.10")
            cl.helo("mail." + fm.DOM)
            res = fm.send(cl, fm.headers())
        ars = [v for n, v in res.added_headers() if n.lower() == "authentication-results"]
        got = sc.parse(ars[0]).authserv_id.lower() if ars else None
        if got == want:
            return []
        time.sleep(0.05)  # poll interval, bounded by tries
    return ["after the storm the A-R names %r, want %r (the last configuration)" % (got, want)]


# ---- descriptors exhausted ----

def low_nofile(ns, tmp):
    wrapper = os.path.join(tmp, "senderauthd-nofile")
    with open(wrapper, "w") as fh:
        fh.write("#!/bin/sh\nulimit -n %d || exit 1\nexec %s \"$@\"\n" %
                 (LOW_NOFILE, daemon_path()))
    os.chmod(wrapper, 0o755)
    return on_fresh(ns, past_limit, binary=wrapper)


def past_limit(d):
    f, held, raw = [], [], []
    try:
        # negotiated connections up to 3/4 of the limit (the warning), then plain TCP
        # connections past it: the daemon's accept() fails with EMFILE
        for _ in range(LOW_NOFILE * 3 // 4 + 2):
            held.append(milter.MilterClient("127.0.0.1", d.port, timeout=60.0).open())
        for _ in range(LOW_NOFILE // 4 + 8):
            raw.append(socket.create_connection(("127.0.0.1", d.port), timeout=60.0))
        peak = status(d.proc.pid)
        for _ in range(200):  # bounded poll: libmilter accepts until it runs out
            if peak["fds"] >= LOW_NOFILE:
                break
            time.sleep(0.05)
            peak = status(d.proc.pid)
        if peak["fds"] < LOW_NOFILE:
            f.append("the daemon never reached its limit: %d of %d descriptors" %
                     (peak["fds"], LOW_NOFILE))
        figures.append("RLIMIT_NOFILE %d: %d milter + %d plain connections, the daemon at "
                       "%d descriptors" % (LOW_NOFILE, len(held), len(raw), peak["fds"]))
        if "open-files limit of %d" % LOW_NOFILE not in d.log_text():
            f.append("no warning names the open-files limit:%s" % d.log_tail(8))
    finally:
        for s in raw:
            s.close()
        for cl in held:
            cl.close()
    return f + fm.alive(d, "descriptors exhausted")


def main(argv):
    sel = argv[1:]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 2 * LOAD_CONNS + 64:
        # this client holds LOAD_CONNS sockets (senderauthd raises its own limit)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * LOAD_CONNS + 64), hard))

    def want(name):
        return not sel or any(a in name for a in sel)

    tmp = tempfile.mkdtemp(prefix="satest-load-")
    key = KeyStore(tmp).get("ed25519")
    zone = fm.ZONE + [("%s._domainkey.%s" % (SELECTOR, fm.DOM), "TXT", key.dns_txt())]
    try:
        with Nsd(zone) as ns:
            for name, run in (
                    ("%d MB body and 10,000 fields, bounded peak memory" % BODY_MB,
                     lambda: on_fresh(ns, lambda d: big_body(d, key) + many_headers(d))),
                    ("%d connections at once" % LOAD_CONNS, lambda: on_fresh(ns, concurrent)),
                    ("%d SIGHUPs under load" % HUPS,
                     lambda: on_fresh(ns, storm, conf=storm_conf(ID_A))),
                    ("descriptors exhausted", lambda: low_nofile(ns, tmp))):
                if want(name):
                    try:
                        check(name, run())
                    except (milter.MilterError, OSError, DaemonError) as e:
                        check(name, ["%s" % e])
    except DaemonError as e:
        check("senderauthd", [str(e)])
    for fig in figures:
        print("figure: " + fig + ("" if CHECK_MEMORY else " (sanitizer or valgrind run: memory not checked)"))
    print("faults: %d passed, %d failed" % (fm.passed, fm.failed))
    return 1 if fm.failed or not fm.passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
