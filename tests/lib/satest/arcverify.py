"""arcverify.py - check an ARC-sealed message with two verifiers against the real NSD that
serves the keys: ours (the arc-verify driver, $SA_BUILD/arc-verify) and an independent
one (python3-dkim's arc_verify, asking the same NSD over TCP).

    ours, cv, why = both(raw, ns.port, tmpdir)
    # ours: "cv=pass oldest-pass=0 sets=1" (the driver's line without the file name)
    # cv:   "pass" / "fail" / "none" from python3-dkim ("fail" also for its None:
    #       "a chain that has ended", i.e. the newest seal says cv=fail); why: its reason
"""
import os
import subprocess

import dkim
from dnslib import DNSRecord

from .daemon import build_dir


def nsd_dnsfunc(port):
    """A python3-dkim dnsfunc that asks the NSD on 127.0.0.1:port (TCP: long RSA keys)."""
    def dnsfunc(name, timeout=5):
        q = DNSRecord.question(name.decode().rstrip("."), "TXT")
        a = DNSRecord.parse(q.send("127.0.0.1", port, tcp=True, timeout=timeout))
        txt = [b"".join(rr.rdata.data) for rr in a.rr if rr.rtype == 16]
        return txt[0] if txt else None
    return dnsfunc


def ours(raw, port, tmpdir):
    """The arc-verify driver's verdict line for raw (CRLF bytes), without the file name."""
    path = os.path.join(tmpdir, "arcverify.eml")
    with open(path, "wb") as f:
        f.write(raw)
    p = subprocess.run([os.path.join(build_dir(), "arc-verify"), "-s", "127.0.0.1:%d" % port,
                        path], capture_output=True, text=True, timeout=60)
    return p.stdout.strip().split(" ", 1)[1] if p.returncode == 0 else "error " + p.stderr


def dkimpy(raw, port):
    """python3-dkim's chain status for raw: (cv, reason)."""
    cv, _, why = dkim.arc_verify(raw, dnsfunc=nsd_dnsfunc(port))
    return (cv.decode() if cv else "fail"), why


def both(raw, port, tmpdir):
    cv, why = dkimpy(raw, port)
    return ours(raw, port, tmpdir), cv, why
