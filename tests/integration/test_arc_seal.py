#!/usr/bin/python3
"""test_arc_seal.py - ARC sealing (arc.seal_enable) through a real senderauthd and a real
NSD that serves our public keys, checked by two verifiers: our own (the arc-verify
driver) and an independent one (python3-dkim's arc_verify, asking the same NSD).

- sealing off (the default): no ARC field is added;
- RSA key, a message without ARC: our set i=1 cv=none on top (ARC-Seal, AMS, AAR), the
  AAR is "i=1; " + the A-R we add, and both verifiers say pass;
- a message with a valid incoming chain (i=1 by list.example): our set i=2 cv=pass, both
  verifiers pass with 2 sets;
- a broken incoming chain (body changed after list.example sealed): our set i=2 cv=fail,
  both verifiers say fail;
- that message again (newest seal cv=fail): no set is added (never add to a failed chain);
- an Ed25519 key: i=1 verifies with ours (python3-dkim 1.1.4 knows no ed25519-sha256 in
  ARC: it must refuse the algorithm, nothing else);
- key rotation: a new selector and key file, then SIGHUP: the next set has the new s=
  and verifies with both; a reload whose key file is missing is refused and sealing
  goes on with the key in force;
- the metrics: senderauth_arc_seals_total{cv} counts each outcome of the RSA daemon;
- senderauthd -t with a key file that does not exist, or an RSA key of 512 bits: the
  error names the file, line and key.
Prints one line per check, then `arc seal: N passed, M failed`."""
import base64
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest.arcverify import both  # noqa: E402
from satest.checks import Checks, send_message, summary_line  # noqa: E402
from satest.daemon import AUTHSERV_ID, Senderauthd, build_dir, free_port, stop_all  # noqa: E402
from satest.dkimsign import KeyStore  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

LIST_SRVID = "list.example"


def ed25519_key(tmp):
    """(PEM path, p= value) of a fresh Ed25519 key (openssl)."""
    path = os.path.join(tmp, "ed25519.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", path], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return path, base64.b64encode(der[-32:]).decode()


def render(hdrs, body):
    """Header list [(name, value after the colon)] and body as CRLF bytes."""
    out = b""
    for n, v in hdrs:
        out += ("%s:%s\r\n" % (n, re.sub(r"\r?\n", "\r\n", v))).encode()
    return out + b"\r\n" + body


def message(tag, extra=()):
    hdrs = list(extra) + [
        ("From", " Sender <news@sender.example>"), ("To", " alice@example.jp"),
        ("Subject", " forwarded " + tag), ("Message-ID", " <%s@sender.example>" % tag),
        ("Date", " Tue, 14 Nov 2023 22:13:20 +0000"), ("MIME-Version", " 1.0")]
    return hdrs, b"Hello,\r\n\r\nthe body of %s.\r\n" % tag.encode()


def list_seal(tmp, hdrs, body, key_path, zone):
    """An incoming ARC set i=1 by list.example, made with our arc-sign driver."""
    src = os.path.join(tmp, "in.eml")
    with open(src, "wb") as f:
        f.write(render([("Authentication-Results", " %s; spf=pass smtp.mailfrom=sender.example"
                         % LIST_SRVID)] + hdrs, body))
    p = subprocess.run([os.path.join(build_dir(), "arc-sign"), "-z", zone, "-k", key_path,
                        "-d", "list.example", "-S", "arc", "-a", LIST_SRVID, "-H",
                        "from:to:subject:date:message-id", "-t", "1700000000", src],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0 or not p.stdout:
        raise RuntimeError("arc-sign: %s" % p.stderr)
    fields = []
    for block in p.stdout.strip().split("\n\n"):
        name, _, value = block.partition(":")
        fields.append((name, value))
    return list(reversed(fields)) + hdrs  # ARC-Seal on top, as a sealer adds them


def arc_added(res):
    return [(n, v) for n, v in res.added_headers() if n.lower().startswith("arc-")]


def check_sealed(t, name, d, ns, tmp, hdrs, body, want_i, want_cv, want_verdict, dkimpy=True):
    """Send; our set must be on top with i=want_i cv=want_cv, and both verifiers must give
    want_verdict for the message as delivered (dkimpy=False: python3-dkim must refuse only
    the algorithm). Returns the delivered message."""
    res, final, qid = send_message(d, hdrs, body, prefix="SEAL")
    raw = render(final, body)
    errs = []
    top = [n for n, _ in final[:4]]
    if top[:3] != ["ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"]:
        errs.append("top fields %s, want ARC-Seal, ARC-Message-Signature, "
                    "ARC-Authentication-Results" % top)
    else:
        seal = re.sub(r"\s+", " ", final[0][1])
        if "i=%d;" % want_i not in seal or "cv=%s;" % want_cv not in seal:
            errs.append("ARC-Seal %r, want i=%d cv=%s" % (seal, want_i, want_cv))
        ar = [re.sub(r"\s+", " ", v).strip() for n, v in final if n == "Authentication-Results"]
        aar = re.sub(r"\s+", " ", final[2][1]).strip()
        if not ar or aar != "i=%d; %s" % (want_i, ar[0]):
            errs.append("AAR %r, want 'i=%d; ' + our A-R %r" % (aar, want_i, ar[:1]))
    ours, cv, why = both(raw, ns.port, tmp)
    if not ours.startswith("cv=%s " % want_verdict) or \
            (want_verdict == "pass" and "sets=%d" % want_i not in ours):
        errs.append("arc-verify: %s, want cv=%s sets=%d" % (ours, want_verdict, want_i))
    if not dkimpy and "unknown signature algorithm" not in str(why):
        errs.append("python3-dkim arc_verify: %s (%s), want an unknown algorithm" % (cv, why))
    elif dkimpy and cv != want_verdict:
        errs.append("python3-dkim arc_verify: %s (%s), want %s" % (cv, why, want_verdict))
    line = summary_line(d, qid)
    if "arc_seal=%d:%s" % (want_i, want_cv) not in line:
        errs.append("log line lacks arc_seal=%d:%s: %s" % (want_i, want_cv, line))
    t.check(name, not errs, "; ".join(errs))
    return final


def wait_log(d, pattern, count):
    """Poll (bounded) until pattern occurs count times in the daemon's log."""
    for _ in range(250):
        if len(re.findall(pattern, d.log_text())) >= count:
            return True
        time.sleep(0.02)
    return False


def check_rotation(t, d, ns, tmp, new_key):
    """arc.seal_selector/seal_key_file changed + SIGHUP; then a reload with a missing key."""
    d.conf["arc"] = dict(d.conf["arc"], seal_selector="rot", seal_key_file=new_key)
    d.write_conf()
    d.proc.send_signal(signal.SIGHUP)
    t.check("rotation: reload accepted", wait_log(d, r"reloaded ", 1), d.log_tail())
    hdrs, body = message("rotated")
    final = check_sealed(t, "rotation: i=1 with the new key, both verifiers pass", d, ns, tmp,
                         hdrs, body, 1, "none", "pass")
    t.check("rotation: the set names s=rot", "s=rot;" in re.sub(r"\s+", "", final[0][1]),
            final[0][1])
    d.conf["arc"] = dict(d.conf["arc"], seal_key_file=os.path.join(tmp, "gone.pem"))
    d.write_conf()
    d.proc.send_signal(signal.SIGHUP)
    t.check("rotation: a reload with a missing key is refused",
            wait_log(d, r"reload of .* refused", 1) and "arc.seal_key_file" in d.log_text(),
            d.log_tail())
    hdrs, body = message("after-refused")
    check_sealed(t, "after the refused reload: still sealed with the key in force", d, ns, tmp,
                 hdrs, body, 1, "none", "pass")


def check_metrics(t, mport, want):
    """senderauth_arc_seals_total{cv=...} as want says."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
        text = r.read().decode()
    got = {cv: int(m.group(1)) for cv in want for m in [re.search(
        r'^senderauth_arc_seals_total\{cv="%s"\} (\d+)$' % cv, text, re.M)] if m}
    t.check("metrics: senderauth_arc_seals_total %s" % want, got == want, "got %s" % got)


def check_conf_errors(t, tmp, rsa512):
    for name, path, want in (("missing key file", os.path.join(tmp, "nope.pem"),
                              "No such file or directory"),
                             ("512-bit RSA key", rsa512, "at least 1024")):
        conf = os.path.join(tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write('authserv_id = "mx.test.example";\narc = {\n  seal_enable = true;\n'
                    '  seal_domain = "mx.test.example";\n  seal_selector = "seal";\n'
                    '  seal_key_file = "%s";\n};\n' % path)
        p = subprocess.run([os.path.join(build_dir(), "senderauthd"), "-t", "-c", conf],
                           capture_output=True, text=True, timeout=30)
        want_line = "%s:6: arc.seal_key_file: %s: " % (conf, path)
        ok = p.returncode != 0 and want_line in p.stderr and want in p.stderr
        t.check("senderauthd -t, %s: error names file:line and key" % name, ok,
                "rc %d, stderr %r, want %r ... %r" % (p.returncode, p.stderr, want_line, want))


def main():
    for tool in ("senderauthd", "arc-verify", "arc-sign"):
        if not os.access(os.path.join(build_dir(), tool), os.X_OK):
            raise SystemExit("no %s in %s: build it" % (tool, build_dir()))
    tmp = tempfile.mkdtemp(prefix="sa-arcseal-")
    keys = KeyStore(tmp)
    k_seal, k_list, k_rot = keys.get("rsa2048-seal"), keys.get("rsa1024-list"), \
        keys.get("rsa2048-rot")
    ed_path, ed_pub = ed25519_key(tmp)
    rsa512 = os.path.join(tmp, "rsa512.pem")
    subprocess.run(["openssl", "genrsa", "-out", rsa512, "512"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    recs = [("seal._domainkey.mx.test.example", "TXT", k_seal.dns_txt()),
            ("ed._domainkey.mx.test.example", "TXT", "v=DKIM1; k=ed25519; p=" + ed_pub),
            ("arc._domainkey.list.example", "TXT", k_list.dns_txt()),
            ("rot._domainkey.mx.test.example", "TXT", k_rot.dns_txt())]
    zone = os.path.join(tmp, "list.zone")
    with open(zone, "w") as f:
        f.write("arc._domainkey.list.example\t%s\n" % k_list.dns_txt())
    seal_conf = {"enable": True, "seal_enable": True, "seal_domain": AUTHSERV_ID,
                 "seal_selector": "seal", "seal_key_file": os.path.join(tmp, "rsa2048-seal.pem")}
    t = Checks()
    daemons = []
    with Nsd(recs) as ns:
        try:
            off = Senderauthd(ns.port)
            mport = free_port()
            rsa = Senderauthd(ns.port, conf={"arc": seal_conf,
                                             "metrics": {"listen": "127.0.0.1:%d" % mport}})
            ed = Senderauthd(ns.port, conf={"arc": dict(seal_conf, seal_selector="ed",
                                                        seal_key_file=ed_path)})
            daemons += [off, rsa, ed]
            for d in daemons:
                d.start()

            hdrs, body = message("off")
            res, _, qid = send_message(off, hdrs, body, prefix="SEAL")
            t.check("sealing off: no ARC field added", not arc_added(res) and
                    "arc_seal" not in summary_line(off, qid), "added %s" % arc_added(res))

            hdrs, body = message("plain")
            check_sealed(t, "RSA, no chain: i=1 cv=none, both verifiers pass", rsa, ns, tmp,
                         hdrs, body, 1, "none", "pass")

            hdrs, body = message("chain")
            chained = list_seal(tmp, hdrs, body, os.path.join(tmp, "rsa1024-list.pem"), zone)
            check_sealed(t, "valid incoming chain: i=2 cv=pass, both verifiers pass", rsa, ns,
                         tmp, chained, body, 2, "pass", "pass")

            hdrs, body = message("broken")
            chained = list_seal(tmp, hdrs, body, os.path.join(tmp, "rsa1024-list.pem"), zone)
            body2 = body + b"-- \r\nfooter added by a careless hop\r\n"
            final = check_sealed(t, "broken incoming chain: i=2 cv=fail, both verifiers fail",
                                 rsa, ns, tmp, chained, body2, 2, "fail", "fail")

            res, _, qid = send_message(rsa, final, body2, prefix="SEAL")
            line = summary_line(rsa, qid)
            t.check("newest seal cv=fail: no set added", not arc_added(res) and
                    "arc_seal=none" in line, "added %s; log %s" % (arc_added(res), line))

            hdrs, body = message("ed25519")
            # python3-dkim 1.1.4 (Debian 12) has ed25519-sha256 for DKIM but not for ARC
            check_sealed(t, "Ed25519: i=1 cv=none, arc-verify passes (python3-dkim: no "
                         "ed25519-sha256 in ARC)", ed, ns, tmp, hdrs, body, 1, "none", "pass",
                         dkimpy=False)

            check_rotation(t, rsa, ns, tmp, os.path.join(tmp, "rsa2048-rot.pem"))
            check_metrics(t, mport, {"none": 3, "pass": 1, "fail": 1, "not_sealed": 1})
        finally:
            stop_all(daemons)
    check_conf_errors(t, tmp, rsa512)
    print(t.total("arc seal"))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
