"""corpus.py - the milter benchmark's messages and DNS records, generated at run time.

Not a test. Used by tests/bench/run-bench.py; can also be run alone to look at the corpus:

    SA_SRC=. /usr/bin/python3 tests/bench/corpus.py OUTDIR

What it makes: realistic bulk/transactional mail from 8 sender domains (plus one ESP
that co-signs some of them), in three size classes:

    2k    text/plain                                   ~2 KB   64 messages
    50k   multipart/alternative text + HTML            ~50 KB  32 messages
    1m    multipart/mixed text + base64 attachment     ~1 MB    8 messages
    2k-1rsa  the 2k messages signed once, rsa-sha256 (half of them): the message the
             performance issue states its CPU target for

Each message has 20-30 header fields (Received chain, List-*, Feedback-ID, ...) and
one or two DKIM signatures made right now by python3-dkim (tests/lib/satest/dkimsign.py):
    i % 4 in (0, 1): rsa-sha256 (2048-bit) by the author domain
    i % 4 == 2:      rsa-sha256 + ed25519-sha256 by the author domain
    i % 4 == 3:      rsa-sha256 by the author domain + rsa-sha256 by the ESP
so every message passes SPF (MAIL FROM and HELO), DKIM and DMARC (p=reject), the
common case a receiver spends its CPU on.

Files: OUTDIR/<size>/NNN.msg, each an envelope block then the message (CRLF):
    client <ip> <hostname>\\n helo <name>\\n from <addr>\\n rcpt <addr>\\n \\n <message>
OUTDIR/manifest.json: per size class the count, mean sizes and mean verifications per
message (for the crypto floor), and the DNS records (fed to NSD by the run script).
"""
import json
import os
import random
import sys

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest.dkimsign import KeyStore, sign  # noqa: E402

SIZES = (("2k", 2 * 1024, 64), ("50k", 50 * 1024, 32), ("1m", 1024 * 1024, 8))
ONE_RSA = "2k-1rsa"  # the 2k messages with one rsa-sha256 signature and nothing else
NDOMAINS = 8
ESP = "esp-mailer.example"
RCPT_DOMAIN = "example.jp"

WORDS = ("account order shipping delivery invoice newsletter spring sale offer member "
         "points update security notice receipt payment confirm thanks welcome please "
         "customer service details schedule tracking number store online weekly report "
         "team product review event ticket reservation change password privacy policy").split()


def domain(i):
    return "shop%d.example" % (i + 1)


def client_ip(i, esp):
    return ("198.51.100.%d" % (10 + i)) if esp else ("192.0.2.%d" % (10 + i))


def records(keys):
    """Every DNS record the corpus needs (SPF for MAIL FROM and HELO, DKIM keys, DMARC)."""
    recs = [(ESP, "TXT", "v=spf1 ip4:198.51.100.0/24 -all"),
            ("_spf." + ESP, "TXT", "v=spf1 ip4:198.51.100.0/24 -all"),
            ("esp1._domainkey." + ESP, "TXT", keys.get("rsa2048-esp").dns_txt()),
            ("_dmarc." + ESP, "TXT", "v=DMARC1; p=none")]
    for i in range(NDOMAINS):
        d = domain(i)
        recs += [
            (d, "TXT", "v=spf1 ip4:192.0.2.0/24 include:_spf.%s ~all" % ESP),
            (d, "MX", "10 mx.%s" % d),
            ("mail." + d, "A", client_ip(i, False)),
            ("mail." + d, "TXT", "v=spf1 a -all"),
            ("out.%s" % ESP, "A", client_ip(i, True)),
            ("%s.in-addr.arpa" % ".".join(reversed(client_ip(i, False).split("."))), "PTR",
             "mail." + d),
            ("s2048._domainkey." + d, "TXT", keys.get("rsa2048-%d" % i).dns_txt()),
            ("ed1._domainkey." + d, "TXT", keys.get("ed25519-%d" % i).dns_txt()),
            ("_dmarc." + d, "TXT",
             "v=DMARC1; p=reject; rua=mailto:dmarc-rua@%s; adkim=r; aspf=r; pct=100" % d),
        ]
    recs.append(("out." + ESP, "TXT", "v=spf1 a -all"))
    # Deduplicate (out.ESP A is listed once per domain).
    seen, out = set(), []
    for r in recs:
        if r not in seen:
            seen.add(r)
            out.append(r)
    return out


def text_para(rng, nbytes):
    out, n = [], 0
    while n < nbytes:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 12))).capitalize() + "."
        out.append(line)
        n += len(line) + 2
    return "\r\n".join(out) + "\r\n"


def b64_lines(rng, nbytes):
    import base64
    raw = bytes(rng.getrandbits(8) for _ in range(nbytes * 3 // 4))
    enc = base64.b64encode(raw).decode()
    return "\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76)) + "\r\n"


def body_for(kind, rng, target):
    """(content-type header value, extra headers, body) of about `target` bytes."""
    if kind == "2k":
        return ("text/plain; charset=utf-8", [("Content-Transfer-Encoding", "7bit")],
                text_para(rng, target))
    b = "=_bench_%08x" % rng.getrandbits(32)
    if kind == "50k":
        txt = text_para(rng, target // 4)
        html = "<html><body>\r\n" + "".join(
            "<p style=\"font-family:Arial;color:#333\">%s</p>\r\n" % ln
            for ln in text_para(rng, target // 2).split("\r\n") if ln) + "</body></html>\r\n"
        body = ("--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 7bit\r\n\r\n%s\r\n--%s\r\n"
                "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n"
                "\r\n%s\r\n--%s--\r\n" % (b, txt, b, html, b))
        return ('multipart/alternative; boundary="%s"' % b, [], body)
    txt = text_para(rng, 1500)
    att = b64_lines(rng, target - 3000)
    body = ("--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 7bit\r\n\r\n%s\r\n--%s\r\n"
            "Content-Type: application/pdf; name=\"statement.pdf\"\r\n"
            "Content-Disposition: attachment; filename=\"statement.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--%s--\r\n" % (b, txt, b, att, b))
    return ('multipart/mixed; boundary="%s"' % b, [], body)


def make_message(kind, target, i, keys, rng):
    """One signed message and its envelope; returns (envelope dict, bytes, stats)."""
    d = domain(i % NDOMAINS)
    esp_hop = (i % 4 == 3)
    ip = client_ip(i % NDOMAINS, esp_hop)
    host = ("out." + ESP) if esp_hop else ("mail." + d)
    sender = "news@%s" % d
    rcpt = "user%03d@%s" % (i, RCPT_DOMAIN)
    nsig = 2 if i % 4 >= 2 else 1
    # The size class is the whole message: leave room for the header block.
    ctype, extra, body = body_for(kind, rng, max(400, target - 1150 - 620 * nsig))
    msgid = "<%08x.%d.bench@%s>" % (rng.getrandbits(32), i, d)
    hdrs = [
        ("Received", "from app%d.internal.%s (app%d.internal.%s [10.1.2.%d])\r\n\tby %s "
         "(Postfix) with ESMTP id 4Xb%05dQz; Mon, 1 Apr 2024 09:00:%02d +0900"
         % (i % 5, d, i % 5, d, i % 200, host, i, i % 60)),
        ("Received", "from localhost (localhost [127.0.0.1])\r\n\tby app%d.internal.%s "
         "(Postfix) with ESMTP id 4Xa%05dQy; Mon, 1 Apr 2024 08:59:%02d +0900"
         % (i % 5, d, i, i % 60)),
        ("Received", "by campaign-runner.%s with HTTP; Mon, 1 Apr 2024 08:59:58 +0900" % d),
        ("Date", "Mon, 1 Apr 2024 09:00:%02d +0900" % (i % 60)),
        ("From", "\"Shop %d News\" <%s>" % (i % NDOMAINS + 1, sender)),
        ("To", rcpt),
        ("Subject", " ".join(rng.choice(WORDS) for _ in range(6)).capitalize()),
        ("Message-ID", msgid),
        ("MIME-Version", "1.0"),
        ("Content-Type", ctype),
    ] + extra + [
        ("Reply-To", "support@%s" % d),
        ("List-Unsubscribe", "<https://%s/u/%08x>, <mailto:unsub-%08x@%s>"
         % (d, rng.getrandbits(32), rng.getrandbits(32), d)),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("List-Id", "Shop news <news.%s>" % d),
        ("Feedback-ID", "c%d:news:%s:campaign" % (i, d)),
        ("X-Mailer", "CampaignRunner 4.2"),
        ("X-Campaign-ID", "spring-%04d" % i),
        ("X-Priority", "3"),
        ("Precedence", "bulk"),
        ("Organization", "Shop %d" % (i % NDOMAINS + 1)),
        ("Content-Language", "ja-JP"),
        ("X-Report-Abuse", "Please report abuse to abuse@%s" % d),
        ("X-Originating-IP", "[10.1.2.%d]" % (i % 200)),
    ]
    raw = "".join("%s: %s\r\n" % (k, v) for k, v in hdrs) + "\r\n" + body
    msg = raw.encode()
    sigs = []
    nrsa, ned = 1, 0
    if esp_hop:
        sigs.append(sign(msg, keys.get("rsa2048-esp"), domain=ESP, selector="esp1"))
        nrsa += 1
    sigs.append(sign(msg, keys.get("rsa2048-%d" % (i % NDOMAINS)), domain=d, selector="s2048"))
    if i % 4 == 2:
        sigs.append(sign(msg, keys.get("ed25519-%d" % (i % NDOMAINS)), domain=d,
                         selector="ed1"))
        ned += 1
    signed = "".join(s + "\r\n" for s in reversed(sigs)).encode() + msg
    env = {"client": ip, "host": host, "helo": host, "from": sender, "rcpt": rcpt}
    nfields = len(hdrs) + len(sigs)
    stats = {"bytes": len(signed), "body": len(body.encode()), "rsa": nrsa, "ed25519": ned,
             "sigs": nrsa + ned, "headers": nfields}
    return env, signed, stats


def write_set(d, made):
    """Write one size class's messages into d; returns its manifest entry (the count,
    the mean sizes and verifications per message, the range of header fields)."""
    os.makedirs(d, exist_ok=True)
    agg = {"count": len(made), "bytes": 0, "body": 0, "rsa": 0, "ed25519": 0, "sigs": 0,
           "headers_min": 99, "headers_max": 0}
    for i, (env, msg, st) in enumerate(made):
        with open(os.path.join(d, "%03d.msg" % i), "wb") as f:
            f.write(("client %(client)s %(host)s\nhelo %(helo)s\nfrom %(from)s\n"
                     "rcpt %(rcpt)s\n\n" % env).encode())
            f.write(msg)
        for k in ("bytes", "body", "rsa", "ed25519", "sigs"):
            agg[k] += st[k]
        agg["headers_min"] = min(agg["headers_min"], st["headers"])
        agg["headers_max"] = max(agg["headers_max"], st["headers"])
    for k in ("bytes", "body", "rsa", "ed25519", "sigs"):
        agg[k] = agg[k] / len(made)
    return agg


def build(outdir, keydir=None):
    """Write the corpus into outdir; returns the manifest (also written as JSON)."""
    os.makedirs(outdir, exist_ok=True)
    keys = KeyStore(keydir or outdir)
    manifest = {"sizes": {}, "records": [list(r) for r in records(keys)]}
    for kind, target, count in SIZES:
        rng = random.Random("bench-%s" % kind)
        made = []
        for i in range(count):
            env, msg, st = make_message(kind, target, i, keys, rng)
            made.append((env, msg, st))
        manifest["sizes"][kind] = write_set(os.path.join(outdir, kind), made)
        if kind == "2k":  # the reference message: 2 KB, one rsa-sha256 signature
            manifest["sizes"][ONE_RSA] = write_set(
                os.path.join(outdir, ONE_RSA),
                [m for m in made if m[2]["rsa"] == 1 and m[2]["ed25519"] == 0])
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: corpus.py OUTDIR")
    m = build(sys.argv[1])
    for k, v in m["sizes"].items():
        print("%-4s %3d messages, mean %7.0f bytes (body %7.0f), %d-%d header fields, "
              "%.2f RSA + %.2f Ed25519 signatures" % (k, v["count"], v["bytes"], v["body"],
                                                      v["headers_min"], v["headers_max"],
                                                      v["rsa"], v["ed25519"]))
    print("%d DNS records" % len(m["records"]))
