"""refs.py - the independent implementations the corpus is checked against.

- SPF: pyspf (Debian python3-spf) for the MAIL FROM identity and the HELO identity,
  exactly as senderauthd checks them (RFC 7208 2.3 / 2.4: HELO as
  postmaster@HELO; a null reverse-path is checked as the HELO identity only).
- DKIM: python3-dkim (dkimpy) verifies each DKIM-Signature separately.
- DMARC: Mail::DMARC (Debian libmail-dmarc-perl) in one long-running perl process
  (dmarc_ref.pl), given the reference SPF and DKIM results and the From domain.
All three resolve through dnspython / Net::DNS pointed at the test NSD on loopback.
"""
import json
import logging
import os
import subprocess
import threading

import dkim
import dns.resolver
import spf

HERE = os.path.dirname(os.path.abspath(__file__))
PSL_FILE = "/usr/share/publicsuffix/public_suffix_list.dat"
IMPLICIT_TLDS = ["example"]   # TLDs of the corpus that are not on the list


def use_nameserver(port):
    """Point dnspython's default resolver (pyspf uses it) at 127.0.0.1:port."""
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = port
    res.timeout = 3
    res.lifetime = 6
    dns.resolver.default_resolver = res
    return res


# ---- SPF ----

def spf_check(ip, sender, helo):
    """pyspf's result word for one identity ("" sender = the HELO identity)."""
    q = spf.query(i=ip, s=sender, h=helo, querytime=20)
    res, _code, expl = q.check()
    return res.lower(), expl


def spf_refs(m):
    """[(identity, domain, word, explanation)] in the order senderauthd writes them:
    MAIL FROM (or the HELO identity for a null reverse-path), then HELO."""
    out = []
    if m.mail_from:
        w, e = spf_check(m.ip, m.mail_from, m.helo)
        out.append(("mailfrom", m.mail_domain, w, e))
    w, e = spf_check(m.ip, "postmaster@" + m.helo, m.helo) if m.mail_from else \
        spf_check(m.ip, "", m.helo)
    out.append(("helo", m.helo, w, e))
    return out


# ---- DKIM ----

class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)   # dkimpy logs key and DNS errors at ERROR
        self.msgs = []

    def emit(self, record):
        self.msgs.append(record.getMessage())


def _dkim_dnsfunc(res):
    def txt(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        try:
            ans = res.resolve(n, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        for rd in ans:
            return b"".join(rd.strings)
        return None
    return txt


def dkim_refs(raw, res, nsigs):
    """[(word, detail)] for each DKIM-Signature in header order. The word follows
    RFC 8601 2.7.1: pass; fail for a signature or body hash that does not verify and
    for a signature python3-dkim refuses on its tags (expired x=, t= in the future);
    permerror when the key record is absent, revoked, unusable or too small."""
    out = []
    dnsfunc = _dkim_dnsfunc(res)
    for idx in range(nsigs):
        cap = _Capture()
        log = logging.getLogger("dkimref%d" % idx)
        log.handlers = [cap]
        log.propagate = False
        log.setLevel(logging.ERROR)
        d = dkim.DKIM(raw, logger=log, minkey=1024)
        try:
            ok = d.verify(idx, dnsfunc=dnsfunc)
            if ok:
                out.append(("pass", ""))
                continue
            if cap.msgs:    # a key or DNS error (verify_sig logs it and returns False)
                out.append(("temperror" if "DnsTimeoutError" in cap.msgs[-1] else "permerror",
                            cap.msgs[-1][:80]))
            else:
                out.append(("fail", "signature did not verify"))
        except dkim.KeyFormatError as e:
            # RFC 8017 8.2.2 step 2: a signature not below the modulus is an invalid
            # signature (python3-dkim reports it as a key error).
            s = str(e)
            out.append(("fail" if "digest too large" in s else "permerror", s[:80]))
        except dkim.ValidationError as e:
            s = str(e)
            out.append(("fail" if ("body hash" in s or "x= value is past" in s or
                                   "t= value is in the future" in s) else "permerror", s[:80]))
        except dkim.DKIMException as e:
            out.append(("permerror", str(e)[:80]))
    return out


# ---- DMARC ----

class DmarcRef:
    """dmarc_ref.pl as a child process: one JSON line in, one out."""

    def __init__(self, port, workdir):
        self.ini = os.path.join(workdir, "mail-dmarc.ini")
        psl = os.path.join(workdir, "public_suffix_list.dat")
        with open(PSL_FILE, encoding="utf-8") as f:
            text = f.read()
        with open(psl, "w", encoding="utf-8") as f:
            # Mail::DMARC has no implicit "*" rule (PSL algorithm step 2): a TLD that is
            # not on the list makes header_from() croak and the TLD itself the
            # Organizational Domain. The corpus uses .example, so name it explicitly;
            # this is what libpsl and RFC 7489 3.2 do implicitly.
            f.write(text + "\n// differential test: the implicit rule, spelled out\n"
                    + "\n".join(IMPLICIT_TLDS) + "\n")
        with open(self.ini, "w") as f:
            f.write("[dns]\ntimeout = 3\npublic_suffix_list = %s\n"
                    "[report_store]\nauto_save = 0\n" % psl)
        env = dict(os.environ, MAIL_DMARC_CONFIG_FILE=self.ini)
        self.proc = subprocess.Popen(["perl", os.path.join(HERE, "dmarc_ref.pl"), str(port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, text=True, bufsize=1)
        self.n = 0
        self.answers = {}
        self.eof = False
        self.cv = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def submit(self, from_domain, spf_results, dkim_results):
        """Queue one evaluation; the answer is read later with result(n). The perl
        process works while the caller goes on with the next message."""
        self.n += 1
        req = {"id": self.n, "from": from_domain, "spf": spf_results, "dkim": dkim_results}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self.n

    def _read(self):
        for line in self.proc.stdout:
            out = json.loads(line)
            with self.cv:
                self.answers[out.get("id")] = out
                self.cv.notify_all()
        with self.cv:
            self.eof = True
            self.cv.notify_all()

    def result(self, n, timeout=120):
        with self.cv:
            ok = self.cv.wait_for(lambda: n in self.answers or self.eof, timeout)
            if n not in self.answers:
                raise RuntimeError("dmarc_ref.pl gave no answer for request %d (%s)" %
                                   (n, "exited" if self.eof else "timeout" if not ok else "?"))
            return self.answers.pop(n)

    def close(self):
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.reader.join(10)
