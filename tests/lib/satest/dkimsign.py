"""dkimsign.py - DKIM keys generated and messages signed AT TEST TIME.

No key or signature is stored in the repository: RSA keys come from `openssl genrsa`,
Ed25519 keys from PyNaCl, and messages are signed by python3-dkim (an independent
implementation, so the verifier is checked against someone else's signer).

    keys = KeyStore(tmpdir)
    k = keys.get("rsa2048")              # cached per run: rsa512 rsa1024 rsa2048 ed25519
    rec = k.dns_txt()                   # "v=DKIM1; k=rsa; p=MIIB..."
    hdr = sign(msg_bytes, k, domain="a.example", selector="s1")   # "DKIM-Signature: ..."
"""
import base64
import os
import subprocess

import dkim
import nacl.signing


class Key:
    def __init__(self, kind, private, public_b64):
        self.kind = kind               # "rsa" or "ed25519"
        self.private = private         # PEM (RSA, PKCS#1) or base64 seed (Ed25519), bytes
        self.public_b64 = public_b64   # the p= value

    def dns_txt(self, revoked=False, extra=""):
        """The key record; revoked=True publishes an empty p= (RFC 6376 3.6.1)."""
        k = "ed25519" if self.kind == "ed25519" else "rsa"
        p = "" if revoked else self.public_b64
        return "v=DKIM1; k=%s;%s p=%s" % (k, (" " + extra + ";") if extra else "", p)

    def default_algo(self):
        return "ed25519-sha256" if self.kind == "ed25519" else "rsa-sha256"


class KeyStore:
    """Generates each kind of key once per run (in dir) and hands it out."""

    def __init__(self, dir):
        self.dir = dir
        self.keys = {}

    def get(self, name):
        if name not in self.keys:
            self.keys[name] = self._make(name)
        return self.keys[name]

    def _make(self, name):
        if name == "ed25519" or name.startswith("ed25519"):
            sk = nacl.signing.SigningKey.generate()
            return Key("ed25519", base64.b64encode(bytes(sk)),
                       base64.b64encode(bytes(sk.verify_key)).decode())
        if not name.startswith("rsa"):
            raise ValueError("unknown key kind %r (rsa<bits>[-tag] or ed25519[-tag])" % name)
        bits = int(name[3:].split("-")[0])
        path = os.path.join(self.dir, "%s.pem" % name)
        subprocess.run(["openssl", "genrsa", "-traditional", "-out", path, str(bits)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(path, "rb") as f:
            pem = f.read()
        der = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        return Key("rsa", pem, base64.b64encode(der).decode())


def sign(message, key, domain, selector, algo=None, headers=None,
         canonicalize=("relaxed", "relaxed"), length=False, identity=None):
    """Sign message (bytes, CRLF) and return the DKIM-Signature header line as str,
    without the trailing CRLF (folded with CRLF + TAB as python3-dkim does)."""
    algo = (algo or key.default_algo()).encode()
    inc = [h.encode() for h in headers] if headers else None
    sig = dkim.sign(message, selector.encode(), domain.encode(), key.private,
                    identity=identity.encode() if identity else None,
                    canonicalize=tuple(c.encode() for c in canonicalize),
                    signature_algorithm=algo, include_headers=inc, length=length)
    return sig.decode().rstrip("\r\n")


def verify(message, txt_for):
    """Check a signed message with python3-dkim itself (harness self-test).
    txt_for(name) -> the TXT record text or None."""
    def dnsfunc(name, timeout=5):
        v = txt_for(name.decode().rstrip("."))
        return v.encode() if v else None
    return dkim.verify(message, dnsfunc=dnsfunc, minkey=512)
