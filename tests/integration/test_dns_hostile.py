"""test_dns_hostile.py - the resolver (dns_res.c) against a scripted server that sends
replies no well-behaved server would: records for the wrong owner, CNAME loops and
over-long chains, malformed RDATA, TXT strings that overrun their record, more records
than DNS_MAX_RRS, REFUSED/FORMERR, a garbage packet. Also an IPv6 (::1) server.
The server is a few lines of Python on 127.0.0.1 / ::1 (UDP), one canned reply per
query name. Prints "N passed, M failed".
"""
import os
import socket
import struct
import sys
import threading

SRC = os.environ.get("SA_SRC", ".")
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
DRIVER = os.path.join(BUILD, "dns-query")
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
from satest import dnsquery  # noqa: E402
from satest.checks import Checks  # noqa: E402

A, CNAME, MX, TXT, SOA = 1, 5, 15, 16, 6


def wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def rr(owner, rtype, rdata, ttl=300):
    return wire(owner) + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def a(ip):
    return socket.inet_aton(ip)


def txt(*parts):
    return b"".join(bytes([len(p)]) + p for p in parts)


SOA_RR = rr(".", SOA, wire("ns.test") + wire("host.test") + struct.pack(">IIIII", 1, 2, 3, 4, 45),
            ttl=90)

# qname -> (rcode, [answer rrs], [authority rrs]) or raw bytes (sent as is, id patched)
SCRIPT = {
    "ok.example": (0, [rr("ok.example", A, a("192.0.2.1"))], []),
    "wrongname.example": (0, [rr("other.example", A, a("192.0.2.9"))], [SOA_RR]),
    "mixed.example": (0, [rr("other.example", A, a("192.0.2.9")),
                          rr("MIXED.example", A, a("192.0.2.1"))], []),
    "chain.example": (0, [rr("t2.example", A, a("192.0.2.3")),
                          rr("t1.example", CNAME, wire("t2.example"), 30),
                          rr("other.example", A, a("192.0.2.9")),
                          rr("chain.example", CNAME, wire("T1.example"))], []),
    "cnameonly.example": (0, [rr("cnameonly.example", CNAME, wire("t1.example"))], [SOA_RR]),
    "loop.example": (0, [rr("loop.example", CNAME, wire("loop2.example")),
                         rr("loop2.example", CNAME, wire("loop.example"))], []),
    "long.example": (0, [rr("l%d.example" % i if i else "long.example", CNAME,
                            wire("l%d.example" % (i + 1))) for i in range(10)]
                     + [rr("l10.example", A, a("192.0.2.1"))], []),
    "shortrdata.example": (0, [rr("shortrdata.example", A, b"\x01\x02\x03")], []),
    "txtoverrun.example": (0, [rr("txtoverrun.example", TXT, b"\x10abc")], []),
    "txtempty.example": (0, [rr("txtempty.example", TXT, b"\x00")], []),
    "hundred.example": (0, [rr("hundred.example", A, a("10.0.%d.%d" % (i // 250, i % 250)), 100 + i)
                            for i in range(100)], []),
    "mxbad.example": (0, [rr("mxbad.example", MX, b"\x00")], []),
    "nullmx.example": (0, [rr("nullmx.example", MX, b"\x00\x00\x00")], []),
    "refused.example": (5, [], []),
    "formerr.example": (1, [], []),
    "nx.example": (3, [], [SOA_RR]),
    "nxnosoa.example": (3, [], []),
    "garbage.example": b"\x00\x00\x81\x80\x00\x01\x00\x05\x00\x00\x00\x00\x07garbage",
}

# (name, type, status, records as dns-query prints them, or None; header ttl or None)
CASES = [
    ("ok.example", "A", "ok", ["192.0.2.1"], None),
    ("wrongname.example", "A", "nodata", [], "45"),
    ("mixed.example", "A", "ok", ["192.0.2.1"], None),
    ("chain.example", "A", "ok", ["192.0.2.3"], "30"),  # TTL of the shortest link
    ("cnameonly.example", "A", "nodata", [], None),
    ("loop.example", "A", "badreply", [], None),
    ("long.example", "A", "badreply", [], None),
    ("shortrdata.example", "A", "badreply", [], None),
    ("txtoverrun.example", "TXT", "badreply", [], None),
    ("txtempty.example", "TXT", "ok", ['len=0 ""'], None),
    ("hundred.example", "A", "ok", None, "100"),
    ("mxbad.example", "MX", "badreply", [], None),
    ("nullmx.example", "MX", "ok", ["0 "], None),
    ("refused.example", "A", "tempfail", [], None),
    ("formerr.example", "A", "tempfail", [], None),
    ("nx.example", "A", "nxdomain", [], "45"),
    ("nxnosoa.example", "A", "nxdomain", [], "0"),
    ("garbage.example", "A", "badreply", [], None),
]

T = Checks(quiet=True)
check = T.check


def reply(query):
    qid = query[:2]
    end = 12
    labels = []
    while query[end] != 0:
        n = query[end]
        labels.append(query[end + 1:end + 1 + n].decode(errors="replace").lower())
        end += n + 1
    question = query[12:end + 5]
    entry = SCRIPT.get(".".join(labels), (3, [], [SOA_RR]))
    if isinstance(entry, bytes):
        return qid + entry[2:]
    rcode, ans, auth = entry
    flags = 0x8180 | rcode
    return (qid + struct.pack(">HHHHH", flags, 1, len(ans), len(auth), 0) + question
            + b"".join(ans) + b"".join(auth))


class Server:
    def __init__(self, family, addr):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((addr, 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                self.sock.sendto(reply(q), peer)
            except (OSError, IndexError):
                pass

    def close(self):
        self.sock.close()


def query(addr, port, pairs):
    return dnsquery.query(DRIVER, addr, port, pairs)[0]


def main():
    if not os.path.exists(DRIVER):
        print("SKIP: %s not built" % DRIVER)
        return 77
    srv = Server(socket.AF_INET, "127.0.0.1")
    try:
        res = query("127.0.0.1", srv.port, [(c[0], c[1]) for c in CASES])
        check("answers", len(res) == len(CASES), "got %d, want %d" % (len(res), len(CASES)))
        for (name, rtype, want, want_rr, want_ttl), (hdr, rrs) in zip(CASES, res):
            label = "%s %s" % (name, rtype)
            check(label, hdr["status"] == want, "got %s, want %s" % (hdr["status"], want))
            if want_rr is not None:
                check(label + " records", rrs == want_rr, "got %r, want %r" % (rrs, want_rr))
            if want_ttl is not None:
                check(label + " ttl", hdr["ttl"] == want_ttl,
                      "got %s, want %s" % (hdr["ttl"], want_ttl))
        hdr = res[[c[0] for c in CASES].index("hundred.example")][0]
        check("hundred bounded", hdr["nrr"] == "64" and hdr["truncated"] == "1",
              "got nrr=%s truncated=%s, want 64 1" % (hdr["nrr"], hdr["truncated"]))
    finally:
        srv.close()

    try:
        srv6 = Server(socket.AF_INET6, "::1")
    except OSError as e:
        print("SKIP ipv6: no ::1 (%s)" % e)
    else:
        try:
            res = query("::1", srv6.port, [("ok.example", "A"), ("nx.example", "A")])
            check("ipv6 server ok", res[0][0]["status"] == "ok" and res[0][1] == ["192.0.2.1"],
                  "got %s %r" % (res[0][0]["status"], res[0][1]))
            check("ipv6 server nxdomain", res[1][0]["status"] == "nxdomain",
                  "got %s" % res[1][0]["status"])
        finally:
            srv6.close()

    print("%d passed, %d failed" % (T.passed, T.failed))
    return 1 if T.failed else 0


if __name__ == "__main__":
    sys.exit(main())
