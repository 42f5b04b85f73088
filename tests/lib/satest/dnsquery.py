"""dnsquery.py - run the dns-query driver (our dns_res against one server) and read its
output: one line per question "NAME TYPE STATUS key=value ...", then "  rr ... DATA"
lines for its records.

    res, elapsed = query(driver, "127.0.0.1", port, [("a.example", "A")])
    hdr, rrs = res[0]          # hdr: name, type, status and the key=value fields
"""
import subprocess
import time


def query(driver, addr, port, pairs, timeout=2, retries=1):
    """Ask pairs [(name, type)] at addr:port; ([(header fields, [rr data]), ...], the
    elapsed seconds). Raises RuntimeError when the driver fails."""
    args = [driver, "-t", str(timeout), "-r", str(retries), addr, str(port)]
    for n, t in pairs:
        args += [n, t]
    t0 = time.monotonic()
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - t0
    if out.returncode != 0:
        raise RuntimeError("dns-query failed: %s" % out.stderr)
    res = []
    for line in out.stdout.splitlines():
        if line.startswith("  rr "):
            res[-1][1].append(line.split(" ", 4)[4])
        else:
            f = line.split()
            hdr = {"name": f[0], "type": f[1], "status": f[2]}
            hdr.update(kv.split("=", 1) for kv in f[3:])
            res.append((hdr, []))
    return res, elapsed
