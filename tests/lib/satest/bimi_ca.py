"""bimi_ca.py - test-time BIMI material: a mark-certificate CA (root and intermediate),
VMC-like and CMC-like mark certificates with the RFC 3709 logotype extension, broken
ones (expired, wrong SAN, other logo, no BIMI EKU, unknown mark type), a separate CA and
server certificate for the loopback HTTPS server, and SVG logos (good, other, with a
script, oversized). Everything is generated fresh with python3-cryptography; nothing
secret is checked in.

    make(outdir, domains) -> dict name -> path
    srv = serve(Handler, files)          # the loopback HTTPS server of those files; srv.port
    python3 bimi_ca.py OUTDIR [DOMAIN ...]   (prints name=path lines)
"""
import base64
import datetime
import gzip
import hashlib
import http.server
import os
import ssl
import sys
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID

BIMI_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.31")
LOGOTYPE = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.12")
MARK_TYPE = x509.ObjectIdentifier("1.3.6.1.4.1.53087.1.13")
SHA256_OID = bytes.fromhex("0609608648016503040201")  # 2.16.840.1.101.3.4.2.1

LOGO = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" '
        'viewBox="0 0 100 100">\n<title>%s</title>\n'
        '<circle cx="50" cy="50" r="40" fill="%s"/>\n</svg>\n')


def der(tag, body):
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + body


def logotype_ext(svg):
    """RFC 3709 LogotypeExtn with subjectLogo direct, one image, data: URI of svgz."""
    uri = "data:image/svg+xml;base64," + base64.b64encode(
        gzip.compress(svg, mtime=0)).decode()
    details = der(0x30, der(0x16, b"image/svg+xml") +
                  der(0x30, der(0x30, der(0x30, SHA256_OID + b"\x05\x00") +
                                der(0x04, hashlib.sha256(svg).digest()))) +
                  der(0x30, der(0x16, uri.encode())))
    image = der(0x30, details)
    data = der(0xA0, der(0x30, image))  # direct [0] IMPLICIT LogotypeData (image SEQUENCE OF)
    return der(0x30, der(0xA2, data))   # subjectLogo [2] EXPLICIT


def key():
    return ec.generate_private_key(ec.SECP256R1())


def name(cn, extra=()):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Brand")] +
                     [x509.NameAttribute(oid, v) for oid, v in extra])


def build(subject, skey, issuer, ikey, ca=False, days=(-1, 365), exts=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(skey.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now + datetime.timedelta(days=days[0]))
         .not_valid_after(now + datetime.timedelta(days=days[1]))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                          False, False), critical=True)
    for e, crit in exts:
        b = b.add_extension(e, critical=crit)
    return b.sign(ikey, hashes.SHA256())


def pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def write(out, fname, data):
    path = os.path.join(out, fname)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def make(out, domains):
    """Write every file into out; return {name: path}."""
    os.makedirs(out, exist_ok=True)
    files = {}
    logo = (LOGO % ("Test Brand", "#0a0")).encode()
    other = (LOGO % ("Other Brand", "#a00")).encode()
    files["logo.svg"] = write(out, "logo.svg", logo)
    files["other.svg"] = write(out, "other.svg", other)
    files["script.svg"] = write(out, "script.svg", logo.replace(
        b"</svg>", b'<script>alert("x")</script>\n</svg>'))
    files["big.svg"] = write(out, "big.svg", logo.replace(
        b"</svg>", b"<!-- " + b"x" * 40000 + b" -->\n</svg>"))

    rkey, ikey = key(), key()
    root_name = name("Test Mark Root CA")
    root = build(root_name, rkey, root_name, rkey, ca=True, days=(-30, 3650))
    inter_name = name("Test Mark Issuing CA")
    inter = build(inter_name, ikey, root_name, rkey, ca=True, days=(-30, 3000))
    files["mark-ca.pem"] = write(out, "mark-ca.pem", pem(root))
    orkey = key()
    other_root = build(name("Unknown Root"), orkey, name("Unknown Root"), orkey, ca=True)

    def mark(fname, mark_type="Registered Mark", sans=domains, svg=logo, days=(-1, 365),
             eku=True, issuer=(inter, ikey)):
        k = key()
        extra = [(MARK_TYPE, mark_type)] if mark_type else []
        exts = [(x509.SubjectAlternativeName([x509.DNSName(d) for d in sans]), False),
                (x509.UnrecognizedExtension(LOGOTYPE, logotype_ext(svg)), False)]
        if eku:
            exts.append((x509.ExtendedKeyUsage([BIMI_EKU]), False))
        else:
            exts.append((x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False))
        c = build(name("Test Brand " + fname, extra), k, issuer[0].subject, issuer[1],
                  days=days, exts=exts)
        files[fname] = write(out, fname, pem(c, issuer[0]))

    mark("vmc.pem")
    mark("gov.pem", mark_type="Government Mark")
    mark("cmc.pem", mark_type="Prior Use Mark")
    mark("expired.pem", days=(-400, -10))
    mark("wrongsan.pem", sans=["unrelated.example"])
    mark("mismatch.pem", svg=other)
    mark("noeku.pem", eku=False)
    mark("badtype.pem", mark_type="Imaginary Mark")
    mark("untrusted.pem", issuer=(other_root, orkey))

    # The loopback HTTPS server: its own CA, a certificate for 127.0.0.1 and localhost.
    hkey, skey = key(), key()
    hca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test HTTPS CA")])
    hca = build(hca_name, hkey, hca_name, hkey, ca=True)
    import ipaddress
    srv = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), skey,
                hca_name, hkey,
                exts=[(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)])
    files["https-ca.pem"] = write(out, "https-ca.pem", pem(hca))
    files["https-cert.pem"] = write(out, "https-cert.pem", pem(srv))
    files["https-key.pem"] = write(out, "https-key.pem", skey.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return files


class Handler(http.server.BaseHTTPRequestHandler):
    """GET /NAME of the documents in `files` (name -> bytes, filled by serve); 404 for
    anything else. A subclass answers special paths in special(path) (True = answered)."""
    files = {}

    def log_message(self, *a):
        pass

    def special(self, path):
        return False

    def do_GET(self):
        path = self.path.lstrip("/")
        if self.special(path):
            return
        data = self.files.get(path)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/svg+xml" if path.endswith(".svg")
                         else "application/pem-certificate-chain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (ConnectionError, ssl.SSLError):
            pass  # the client stopped reading (a document over its size cap)


def serve(handler, files):
    """Serve the .svg and .pem documents of files (make's result) over HTTPS on a free
    loopback port with handler (Handler or a subclass); returns the server, its port in
    srv.port. Stop it with srv.shutdown(); srv.server_close()."""
    for n, path in files.items():
        if n.endswith((".svg", ".pem")) and not n.startswith("https-"):
            with open(path, "rb") as f:
                handler.files[n] = f.read()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files["https-cert.pem"], files["https-key.pem"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bimi_ca.py OUTDIR [DOMAIN ...]")
    for n, p in sorted(make(sys.argv[1], sys.argv[2:] or ["brand.example"]).items()):
        print("%s=%s" % (n, p))
