#!/usr/bin/python3
"""test_faults_milter.py - senderauthd when the MTA side misbehaves or pushes the limits.

Faults: the client disconnects in the middle of the header and in the middle of the
body; SMFIC_ABORT and then a second message on the same connection; 200 connections at
once; 10,000 header fields (and 10,001 forged A-R fields naming us, over the cap); a
1 MB header field; a 20 MB body streamed in 64 KB chunks (VmRSS of the daemon measured
before and after: it must not grow by more than 64 MB); NUL and 8-bit bytes in fields.
Every case asserts the documented fallback (docs/security.md): a verdict (our A-R and
accept, or a 451 with a reason), or for a field larger than the milter protocol allows,
a closed milter connection (the MTA then applies its milter_default_action), never a
crash: the daemon must still be running and answer the next message with a verdict.
No timing assertions. Prints one line per case, then `faults: N passed, M failed`.
"""
import os
import socket
import struct
import sys
import threading

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import cases as sc  # noqa: E402
from satest import milter  # noqa: E402
from satest.daemon import Senderauthd, DaemonError  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

DOM = "faults.example"
ZONE = [(DOM, "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
        ("_dmarc." + DOM, "TXT", "v=DMARC1; p=reject")]
CONF = {"authserv_id": sc.OUR_ID, "dns": {"timeout": 2, "retries": 1}, "log": {"level": "info"},
        "psl": {"path": "/usr/share/publicsuffix/public_suffix_list.dat"}}
RSS_GROWTH_MAX_KB = 64 * 1024
CONCURRENT = 200

passed = failed = 0


def check(label, failures):
    global passed, failed
    if failures:
        failed += 1
        print("FAIL %s\n  - %s" % (label, "\n  - ".join(failures)))
    else:
        passed += 1
        print("ok   %s" % label)


def client(d, timeout=60.0):
    cl = milter.MilterClient("127.0.0.1", d.port, timeout=timeout).open()
    cl.connect("mail." + DOM, "192.0.2.10")
    cl.helo("mail." + DOM)
    return cl


def headers(extra=()):
    return list(extra) + [("From", " user@" + DOM), ("Subject", " fault")]


def verdict(res, want_reply=("accept", "continue")):
    """Failures unless the message got a reply in want_reply and one A-R of ours that
    parses and holds the spf and dmarc results."""
    f = []
    if res.reply is None or res.reply.code not in want_reply:
        f.append("reply %r, want %s" % (res.reply, "/".join(want_reply)))
        return f
    ars = [v for n, v in res.added_headers() if n.lower() == "authentication-results"]
    if len(ars) != 1:
        return f + ["want one A-R added, got %r" % ars]
    try:
        ar = sc.parse(ars[0])
    except sc.ARParseError as e:
        return f + ["A-R does not parse (%s): %r" % (e, ars[0])]
    if ar.authserv_id.lower() != sc.OUR_ID or not ar.methods("spf") or not ar.methods("dmarc"):
        f.append("A-R lacks our id, spf or dmarc: %r" % ars[0])
    if "\0" in ars[0] or "\r" in ars[0]:
        f.append("A-R holds NUL or CR: %r" % ars[0])
    return f


def send(cl, hdrs, body=b"hello\r\n"):
    return cl.message("user@" + DOM, ["user@" + sc.OUR_ID], hdrs, body)


def alive(d, label):
    """The daemon is running and the next connection gets a full verdict."""
    f = []
    if d.proc is None or d.proc.poll() is not None:
        return ["senderauthd exited (%s)" % (d.proc.returncode if d.proc else "?")]
    try:
        cl = client(d)
        try:
            f += verdict(send(cl, headers()))
        finally:
            cl.close()
    except (milter.MilterError, OSError) as e:
        f.append("next connection after %s failed: %s" % (label, e))
    return f


def vmrss_kb(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def raw_header(cl, raw):
    """One SMFIC_HEADER packet with raw data (may hold NUL bytes)."""
    cl._send(milter.C_HEADER, raw)
    if not cl.noreply(milter.C_HEADER):
        return cl._read_reply(milter.C_HEADER)
    return milter.Reply("noreply")


# ---- the cases ----

def disconnect_mid_header(d):
    cl = client(d)
    cl.mail("user@" + DOM, macros={"i": "MIDHDR"})
    cl.rcpt("user@" + sc.OUR_ID)
    cl.header("Authentication-Results", " %s; dkim=pass" % sc.OUR_ID)
    cl.header("From", " user@" + DOM)
    cl.sock.close()  # gone without QUIT, in the middle of the header
    cl.sock = None
    return alive(d, "disconnect mid-header")


def disconnect_mid_body(d):
    cl = client(d)
    cl.mail("user@" + DOM, macros={"i": "MIDBODY"})
    cl.rcpt("user@" + sc.OUR_ID)
    for n, v in headers():
        cl.header(n, v)
    cl.eoh()
    cl.body(b"x" * 200000)
    cl.sock.shutdown(socket.SHUT_RDWR)
    cl.sock.close()
    cl.sock = None
    return alive(d, "disconnect mid-body")


def abort_then_reuse(d):
    """The aborted message's forged A-R index must not leak into the next message."""
    cl = client(d)
    try:
        cl.mail("user@" + DOM, macros={"i": "ABORTED"})
        cl.rcpt("user@" + sc.OUR_ID)
        cl.header("Authentication-Results", " %s; dkim=pass" % sc.OUR_ID)
        cl.header("Authentication-Results", " %s; spf=pass" % sc.OUR_ID)
        cl.eoh()
        cl.abort()
        hdrs = headers([("Authentication-Results", " other.example; none")])
        res = send(cl, hdrs)
        f = verdict(res)
        b = sc.Built(hdrs, b"hello\r\n", [])
        inv, _, _ = sc.check_invariants(res, b, sc.OUR_ID, cl.leadspc)
        f += inv
        res2 = send(cl, headers())  # and once more, plain
        f += verdict(res2)
    finally:
        cl.close()
    return f + alive(d, "abort")


def concurrent(d):
    results = [None] * CONCURRENT
    start = threading.Barrier(CONCURRENT)

    def one(i):
        try:
            cl = milter.MilterClient("127.0.0.1", d.port, timeout=120.0).open()
            try:
                start.wait(timeout=120)
                cl.connect("mail." + DOM, "192.0.2.10")
                cl.helo("mail." + DOM)
                results[i] = verdict(cl.message("user@" + DOM, ["user@" + sc.OUR_ID],
                                                headers(), b"hello %d\r\n" % i,
                                                queue_id="CONC%04d" % i))
            finally:
                cl.close()
        except Exception as e:  # noqa: BLE001 - reported per connection
            results[i] = ["connection %d: %s" % (i, e)]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    f = []
    bad = [(i, r) for i, r in enumerate(results) if r]
    if any(t.is_alive() for t in threads):
        f.append("some connections never finished")
    if bad:
        f.append("%d of %d connections without a verdict; first: %r" %
                 (len(bad), CONCURRENT, bad[0]))
    return f + alive(d, "concurrency")


def many_headers(d):
    cl = client(d)
    try:
        hdrs = headers([("X-Filler-%d" % i, " value %d" % i) for i in range(10000)])
        f = verdict(send(cl, hdrs))
    finally:
        cl.close()
    return f + alive(d, "10,000 headers")


def too_many_forged(d):
    """Over MSG_MAX_FORGED our-id A-R fields: they cannot all be removed -> 451 4.7.0."""
    cl = client(d)
    try:
        hdrs = headers([("Authentication-Results", " %s; dkim=pass" % sc.OUR_ID)] * 10001)
        res = send(cl, hdrs)
        f = []
        if res.reply is None or res.reply.smtp != "451" or "4.7.0" not in res.reply.text:
            f.append("reply %r, want 451 4.7.0" % res.reply)
    finally:
        cl.close()
    return f + alive(d, "10,001 forged A-R")


def huge_header(d):
    """A 1 MB field is past libmilter's packet limit: the daemon drops that milter
    connection (the MTA applies milter_default_action) and keeps serving."""
    f = []
    cl = client(d)
    try:
        res = send(cl, headers([("X-Huge", " " + "h" * (1024 * 1024))]))
        f += verdict(res)  # if the packet was taken, the message must get its verdict
    except (milter.MilterError, OSError):
        pass  # connection closed by the daemon: the documented outcome
    finally:
        cl.close()
    # 60 KB (within a milter packet) must be fully processed.
    cl = client(d)
    try:
        f += verdict(send(cl, headers([("X-Big", " " + "b" * 60000)])))
    finally:
        cl.close()
    return f + alive(d, "1 MB header")


def big_body(d):
    cl = client(d)
    try:
        f = verdict(send(cl, headers(), b"warm up\r\n" * 100000))
        before = vmrss_kb(d.proc.pid)
        line = b"0123456789" * 7 + b"\r\n"
        chunk = line * (milter.CHUNK // len(line))
        body = chunk * (20 * 1024 * 1024 // len(chunk) + 1)
        f += verdict(send(cl, headers(), body))
        after = vmrss_kb(d.proc.pid)
        if after - before > RSS_GROWTH_MAX_KB:
            f.append("VmRSS grew by %d kB over a %d-byte body (bound %d kB)" %
                     (after - before, len(body), RSS_GROWTH_MAX_KB))
    finally:
        cl.close()
    return f + alive(d, "20 MB body")


def nul_and_8bit(d):
    f = []
    cl = client(d)
    try:
        cl.mail("user@" + DOM, macros={"i": "NULHDR"})
        cl.rcpt("user@" + sc.OUR_ID)
        raw_header(cl, b"Subject\0before NUL\0after NUL\0")
        raw_header(cl, b"X-Bin\0\x80\x81\xfe\xff\x01\x02\x7f\0")
        raw_header(cl, b"Authentication-Results\0" + sc.OUR_ID.encode() + b"; dkim=pass\0\0\0")
        raw_header(cl, b"From\0user@" + DOM.encode() + b"\0evil@bank.example\0")
        raw_header(cl, "X-UTF8\0caf\u00e9 \u65e5\u672c\0".encode())
        cl.eoh()
        cl.body(b"body \x00 with NUL\r\n\x80\xff\r\n")
        res = cl.eom()
        f += verdict(res)
        dels = [m for m in res.mods if m.kind == "chgheader"]
        if [(m.name.lower(), m.index, m.value) for m in dels] != \
                [("authentication-results", 1, "")]:
            f.append("deletions %r, want the one forged A-R" % dels)
        ars = [v for n, v in res.added_headers() if n.lower() == "authentication-results"]
        if ars and "header.from=%s" % DOM not in milter.unfold(ars[0]):
            f.append("From after the NUL was not the author: %r" % ars[0])
    finally:
        cl.close()
    cl = client(d)
    try:
        f += verdict(send(cl, [("From", " \"J\u00fcrgen \u00e9\" <user@%s>" % DOM),
                               ("Subject", " \udc80\udcff raw 8-bit")]))
    finally:
        cl.close()
    return f + alive(d, "NUL and 8-bit")


CASES = [("disconnect mid-header", disconnect_mid_header),
         ("disconnect mid-body", disconnect_mid_body),
         ("SMFIC_ABORT then reuse", abort_then_reuse),
         ("10,000 header fields", many_headers),
         ("10,001 forged A-R fields -> 451 4.7.0", too_many_forged),
         ("1 MB header field", huge_header),
         ("NUL and 8-bit bytes in fields", nul_and_8bit),
         ("20 MB body, bounded VmRSS", big_body),
         ("%d concurrent connections" % CONCURRENT, concurrent)]


def main(argv):
    sel = [c for c in CASES if not argv[1:] or any(a in c[0] for a in argv[1:])]
    try:
        with Nsd(ZONE) as ns:
            d = Senderauthd(ns.port, conf=CONF).start()
            try:
                for label, fn in sel:
                    try:
                        f = fn(d)
                    except (milter.MilterError, OSError) as e:
                        f = ["milter conversation failed: %s" % e] + alive(d, label)
                    if f:
                        f.append(d.log_tail(10))
                    check(label, f)
            finally:
                try:
                    d.stop()
                except DaemonError as e:
                    check("daemon stop", [str(e)])
    except DaemonError as e:
        check("senderauthd", [str(e)])
    print("faults: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
