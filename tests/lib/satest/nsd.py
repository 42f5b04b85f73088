"""nsd.py - a real authoritative DNS server (Debian's NSD) on 127.0.0.1 for tests.

Why NSD: it is Debian's small authoritative-only server, starts in well under a second
as an unprivileged foreground process from a generated nsd.conf, serves the root zone
(so any test name can be published without delegations), answers NXDOMAIN/NODATA
exactly as a real authority does, truncates large UDP answers (TC) so TCP fallback is
exercised, and answers SERVFAIL for a configured zone whose data did not load -- which is
how tests get "temporary failure" from a real server.

Usage:
    with Nsd([("example.com", "TXT", "v=spf1 -all")], servfail=["broken.example"]) as ns:
        port = ns.port
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

NSD_BIN = shutil.which("nsd") or "/usr/sbin/nsd"


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            continue
        t.close()
        u.close()
        return port
    raise RuntimeError("no free port")


def _txt_strings(value):
    """Presentation form of one TXT record: a list of quoted character-strings."""
    if isinstance(value, (list, tuple)):
        parts = [v.encode() if isinstance(v, str) else v for v in value]
    else:
        raw = value.encode() if isinstance(value, str) else value
        parts = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    out = []
    for p in parts:
        s = '"'
        for b in p:
            if b in (0x22, 0x5C):
                s += "\\" + chr(b)
            elif 0x20 <= b < 0x7F:
                s += chr(b)
            else:
                s += "\\%03d" % b
        out.append(s + '"')
    return " ".join(out)


def _fqdn(name):
    name = name.strip()
    return name if name.endswith(".") else name + "."


def zone_text(records):
    lines = ["$TTL 300",
             ". IN SOA ns.nsd-test. hostmaster.nsd-test. 1 3600 600 86400 60",
             ". IN NS ns.nsd-test.",
             "ns.nsd-test. IN A 127.0.0.1"]
    for rec in records:
        owner, rtype, value = rec[0], rec[1].upper(), rec[2]
        ttl = rec[3] if len(rec) > 3 else 300
        if rtype in ("TXT", "SPF"):
            data = _txt_strings(value)
        elif rtype in ("CNAME", "PTR", "NS"):
            data = _fqdn(value)
        elif rtype == "MX":
            pref, exch = str(value).split(None, 1)
            data = "%s %s" % (pref, _fqdn(exch))
        else:
            data = str(value)
        lines.append("%s %d IN %s %s" % (_fqdn(owner), ttl, rtype, data))
    return "\n".join(lines) + "\n"


class Nsd:
    """NSD serving `records` in the root zone; names in `servfail` answer SERVFAIL."""

    def __init__(self, records=(), servfail=(), port=None):
        self.records = list(records)
        self.servfail = list(servfail)
        self.port = port or free_port()
        self.addr = "127.0.0.1"
        self.dir = tempfile.mkdtemp(prefix="sa-nsd-")
        self.proc = None

    def _write(self):
        with open(os.path.join(self.dir, "root.zone"), "w") as f:
            f.write(zone_text(self.records))
        conf = ["server:",
                "  ip-address: 127.0.0.1@%d" % self.port,
                "  port: %d" % self.port,
                '  username: ""', '  chroot: ""',
                '  zonesdir: "%s"' % self.dir,
                '  database: ""',
                '  pidfile: "%s/nsd.pid"' % self.dir,
                '  xfrdfile: "%s/xfrd.state"' % self.dir,
                '  zonelistfile: "%s/zone.list"' % self.dir,
                '  logfile: "%s/nsd.log"' % self.dir,
                "  server-count: 1", "  verbosity: 1", "  do-ip6: no",
                "  hide-version: yes", "  reuseport: no",
                "remote-control:", "  control-enable: no",
                "zone:", '  name: "."', '  zonefile: "root.zone"']
        for i, name in enumerate(self.servfail):
            # A configured zone whose file does not exist never loads: NSD answers SERVFAIL.
            conf += ["zone:", '  name: "%s"' % name.rstrip("."),
                     '  zonefile: "absent-%d.zone"' % i]
        with open(os.path.join(self.dir, "nsd.conf"), "w") as f:
            f.write("\n".join(conf) + "\n")

    def start(self):
        self._write()
        log = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen([NSD_BIN, "-d", "-c", os.path.join(self.dir, "nsd.conf")],
                                     stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nsd exited: " + self.log())
            if self._answers():
                return self
        self.stop()
        raise RuntimeError("nsd did not answer on port %d: %s" % (self.port, self.log()))

    def _answers(self):
        """True once the server answers an SOA query for the root."""
        q = struct.pack(">HHHHHH", 0x5a5a, 0, 1, 0, 0, 0) + b"\x00" + struct.pack(">HH", 6, 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(q, (self.addr, self.port))
            data, _ = s.recvfrom(4096)
            return len(data) >= 12 and data[3] & 0x0F == 0
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def reload(self, records, servfail=()):
        """Replace the data; the server comes back on the same port."""
        self.stop()
        self.records = list(records)
        self.servfail = list(servfail)
        self.start()

    def log(self):
        out = ""
        for n in ("stderr.log", "nsd.log"):
            p = os.path.join(self.dir, n)
            if os.path.exists(p):
                out += open(p, errors="replace").read()[-2000:]
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False
