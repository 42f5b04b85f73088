"""corpus.py - the differential-test corpus: random-but-valid messages and their zones.

Every message gets its own domains (dx<N>.<suffix>, ux<N>.example, tx<N>.example), so
the zones of all messages merge into one NSD root zone without clashes, and message N
is built from its own PRNG (seed, N): a corpus of 300 is the first 300 messages of the
corpus of 2,000 with the same seed. Key material and t= stamps are fresh each run (keys
are made by openssl / PyNaCl at run time, signatures by python3-dkim), the verdicts are
not: they depend only on the seed.

What a message exercises (the generator records it in Msg.tags for the class table):
- SPF records for the MAIL FROM domain, the HELO name and included domains: ip4, ip6,
  a, mx (with CIDR lengths), include, exists with macros (%{i} %{ir} %{v} %{d} %{d2}
  %{o} %{h} %{l} %{l1r-} %{lr}), redirect, exp, all; qualifiers + - ~ ?; records split
  into several strings; and rare edge cases (no record, two records, include of a name
  without a record, too many lookups, void lookups, a syntax error).
- DKIM signatures made by python3-dkim (rsa-sha256 with 1024/2048-bit keys,
  ed25519-sha256), random signed-header lists (with over-signing and absent fields),
  all four canonicalizations, l= sometimes; broken on purpose: body changed, header
  changed, wrong key, revoked key, expired x=, no key record.
- DMARC records at the From domain and/or the Organizational Domain with every tag:
  p sp np pct adkim aspf rua ruf fo ri rf t psd, in random order and case; rarely two
  records at one name.
- From fields: bare address, angle address, display names (quoted, with commas),
  comments, quoted local parts, RFC 2047 and raw UTF-8 names, folded fields, upper-case
  domains, subdomains of the policy domain.
"""
import base64
import hashlib
import ipaddress
import random
import re
import time

import dkim
import dkim.crypto
import nacl.encoding
import nacl.signing

from satest.dkimsign import sign

SUFFIXES = [("example", 6), ("co.jp", 2), ("com", 2)]
CANONS = [("relaxed", "relaxed"), ("relaxed", "simple"), ("simple", "relaxed"),
          ("simple", "simple")]
LOCALS = ["alice", "bob.smith", "news-letter", "bounce-12345", "Mixed.Case", "x_y", "u8"]
WORDS = ["alpha", "beta", "gamma", "delta", "report", "invoice", "meeting", "hello",
         "update", "quarterly", "notice", "lunch", "plan"]


class Msg:
    """One message of the corpus, ready to send and to evaluate."""

    def __init__(self, idx):
        self.idx = idx
        self.records = []        # (name, type, value) for NSD
        self.ip = None
        self.helo = None
        self.mail_from = ""      # envelope sender ("" = null path)
        self.headers = []        # [(name, value after the colon)]
        self.body = b""
        self.from_domain = None  # ground truth: the RFC5322.From domain, lower case
        self.sigs = []           # per signature: {d, s, b8, kind, l}
        self.tags = {}           # generator's scenario labels: spf, spf_helo, dmarc

    def raw(self):
        return ("".join("%s:%s\r\n" % hv for hv in self.headers).encode("utf-8") +
                b"\r\n" + self.body)

    @property
    def mail_domain(self):
        return self.mail_from.rsplit("@", 1)[1] if "@" in self.mail_from else ""


def _weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.uniform(0, total)
    for v, w in pairs:
        x -= w
        if x <= 0:
            return v
    return pairs[-1][0]


class Builder:
    """Builds message idx from its own PRNG."""

    def __init__(self, seed, idx, keys):
        self.seed_id = "%d/%d" % (seed, idx)
        self.rng = random.Random(self.seed_id)
        self.idx = idx
        self.keys = keys
        self.m = Msg(idx)
        self.names = set()       # (name, type) already published, to keep the zone consistent
        self.lookups = 0
        self.features = set()    # SPF features of the record being built (class labels)
        self.ptr = None          # (PTR name of an IPv6 client, whether it leads back)

    # ---- DNS helpers ----
    def pub(self, name, rtype, value):
        key = (name.lower(), rtype, str(value))
        if key not in self.names:
            self.names.add(key)
            self.m.records.append((name, rtype, value))

    def pub_txt(self, name, text):
        """A TXT record, sometimes split into several character-strings."""
        r = self.rng
        if len(text) > 40 and r.random() < 0.2:
            parts = []
            while len(text) > 10:
                cut = r.randint(10, min(len(text) - 1, 255))
                parts.append(text[:cut])
                text = text[cut:]
            self.pub(name, "TXT", parts + [text] if text else parts)
        else:
            self.pub(name, "TXT", text)   # nsd.py cuts at 255

    def other_ip(self, v6):
        r = self.rng
        if v6:
            return "2001:db8:ff%02x::%x" % (r.randint(0, 255), r.randint(1, 0xffff))
        return "198.18.%d.%d" % (r.randint(0, 255), r.randint(1, 254))

    def host_addr(self, name, match):
        """Publish an address for name: the client's own (match) or another one."""
        v6 = ":" in self.m.ip
        ip = self.m.ip if match else self.other_ip(v6)
        self.pub(name, "AAAA" if v6 else "A", ip)
        if self.rng.random() < 0.3:   # the other family too, never matching
            self.pub(name, "A" if v6 else "AAAA", self.other_ip(not v6))

    # ---- SPF ----
    def cidr_for(self, match, v6):
        r = self.rng
        ip = ipaddress.ip_address(self.m.ip)
        if v6:
            plen = r.choice([128, 64, 56, 48, 32])
            if match:
                return "%s/%d" % (ipaddress.ip_network("%s/%d" % (ip, plen), strict=False)
                                  .network_address, plen)
            return "%s/%d" % (ipaddress.ip_network("2001:db8:fe%02x::/48" % r.randint(0, 255))
                              .network_address, min(plen, 48) if plen < 128 else 128)
        plen = r.choice([32, 32, 24, 16, 28])
        if match:
            net = ipaddress.ip_network("%s/%d" % (ip, plen), strict=False)
            return str(net.network_address) + ("" if plen == 32 else "/%d" % plen)
        return "198.19.%d.0/24" % r.randint(0, 255)

    def ensure_ptr(self, dom):
        """One PTR record per message for an IPv6 client (IPv6 clients are unique to
        their message; IPv4 ones are shared, so they get none): ptrN.dom, leading back
        to the client or not. Returns (name, leads_back)."""
        r = self.rng
        if self.ptr is None:
            self.ptr = ("ptr%d.%s" % (r.randint(1, 9), dom), r.random() < 0.6)
            nib = ipaddress.ip_address(self.m.ip).exploded.replace(":", "")
            self.pub(".".join(reversed(nib)) + ".ip6.arpa", "PTR", self.ptr[0])
            if self.ptr[1]:
                self.pub(self.ptr[0], "AAAA", self.m.ip)
        return self.ptr

    def mechanism(self, dom, depth):
        r = self.rng
        v6 = ":" in self.m.ip
        match = r.random() < 0.35
        q = _weighted(r, [("", 6), ("-", 2), ("~", 2), ("?", 1), ("+", 1)])
        kind = _weighted(r, [("ip", 5), ("a", 2), ("mx", 2), ("include", 2 if depth < 2 else 0),
                             ("exists", 2), ("ipother", 1), ("ptr", 0.5 if v6 else 0)])
        term = self.term(kind, dom, depth, match, v6)
        if r.random() < 0.05:      # mechanism names are case-insensitive (RFC 7208 4.6.1)
            name, sep, rest = term.partition(":")
            term = name.upper() + sep + rest
            self.features.add("upper")
        return q + term

    def term(self, kind, dom, depth, match, v6):
        """One mechanism (without its qualifier), publishing what it needs."""
        r = self.rng
        if kind == "ptr":          # RFC 7208 5.5 (discouraged, still evaluated)
            self.lookups += 1
            self.ensure_ptr(dom)
            self.features.add("ptr")
            return "ptr" if r.random() < 0.5 else "ptr:" + r.choice([dom, "other.example"])
        if kind == "ip":
            return ("ip6:" if v6 else "ip4:") + self.cidr_for(match, v6)
        if kind == "ipother":   # the other address family: never matches
            return ("ip4:198.19.7.0/24" if v6 else "ip6:2001:db8:fd00::/40")
        if kind == "a":
            self.lookups += 1
            target = r.choice(["", ":" + "h%d.%s" % (r.randint(1, 9), dom)])
            name = target[1:] if target else dom
            if target and r.random() < 0.15:     # an alias: the address is behind a CNAME
                alias = "al%s" % name            # alNN names carry nothing but the CNAME
                target = ":" + alias
                self.pub(alias, "CNAME", "real." + alias)
                name = "real." + alias
                self.features.add("cname")
            self.host_addr(name, match)
            cidr = ""
            if r.random() < 0.25:
                cidr = "/24" if not v6 else "//64"
                if r.random() < 0.5:
                    cidr = "/24//64"
            return "a" + target + cidr
        if kind == "mx":
            self.lookups += 1
            nmx = r.randint(1, 3)
            hit = r.randrange(nmx) if match else -1
            for k in range(nmx):
                host = "mx%d.%s" % (k + 1, dom)
                self.pub(dom, "MX", "%d %s" % (10 * (k + 1), host))
                self.host_addr(host, k == hit)
            return "mx"
        if kind == "include":
            self.lookups += 1
            inc = "inc%d.%s" % (r.randint(1, 99), dom)
            if not any(n == (inc.lower(), "TXT") for n in ((x[0], x[1]) for x in self.names)):
                self.spf_record(inc, depth + 1)
            return "include:" + inc
        # exists with macros
        self.lookups += 1
        return self.exists_term(dom, match)

    def exists_term(self, dom, match):
        r = self.rng
        m = self.m
        ip = ipaddress.ip_address(m.ip)
        local = m.mail_from.rsplit("@", 1)[0] if "@" in m.mail_from else "postmaster"
        sender_dom = m.mail_domain or m.helo
        zone = "x%d.%s" % (r.randint(1, 99), dom)
        form = r.choice(["ir", "i", "v", "l", "o", "h", "d2", "lr", "p"])
        if ip.version == 4:
            octs = str(ip).split(".")
            ip_names = {"i": ".".join(octs), "ir": ".".join(reversed(octs))}
        else:
            nib = ip.exploded.replace(":", "")
            ip_names = {"i": ".".join(nib), "ir": ".".join(reversed(nib))}
        if form in ("i", "ir"):
            spec, name = "%%{%s}.%s" % (form, zone), ip_names[form] + "." + zone
        elif form == "v":
            spec = "%%{ir}.%%{v}.%s" % zone
            name = "%s.%s.%s" % (ip_names["ir"], "in-addr" if ip.version == 4 else "ip6", zone)
        elif form == "l":
            if not re.fullmatch(r"[A-Za-z0-9._-]+", local):
                local = "postmaster"
            spec, name = "%%{l}.%s" % zone, local + "." + zone
        elif form == "lr":
            spec = "%%{l1r-}.%s" % zone
            name = (local.split("-")[-1] if re.fullmatch(r"[A-Za-z0-9.-]+", local) else
                    local) + "." + zone
            if not re.fullmatch(r"[A-Za-z0-9.-]+", local):
                spec, name = "%%{o}.%s" % zone, sender_dom + "." + zone
        elif form == "o" or (form == "p" and ip.version == 4):
            spec, name = "%%{o}.%s" % zone, sender_dom + "." + zone
        elif form == "h":
            spec, name = "%%{h}.%s" % zone, m.helo + "." + zone
        elif form == "p" and ip.version == 6:
            # %{p}: the validated name of the client (RFC 7208 7.3), "unknown" when the
            # PTR name does not lead back. One PTR per message (IPv6 clients are unique
            # to their message; IPv4 ones are shared, so they get no PTR).
            self.ensure_ptr(dom)
            spec = "%%{p}.%s" % zone
            name = (self.ptr[0] if self.ptr[1] else "unknown") + "." + zone
            self.features.add("macro-p")
        else:  # d2: the last two labels of the current domain
            spec, name = "%%{d2}.%s" % zone, ".".join(dom.split(".")[-2:]) + "." + zone
        if form in ("d2", "lr"):   # a digit transformer (RFC 7208 7.3)
            self.features.add("macro-%s" % ("d2" if form == "d2" else "l1r-"))
        if match:
            self.pub(name, "A", "127.0.0.2")
        elif r.random() < 0.5:
            self.pub("other." + zone, "A", "127.0.0.2")   # the zone exists, the name not
        return "exists:" + spec

    def spf_record(self, dom, depth=0):
        """Publish a random valid SPF record at dom; returns nothing."""
        r = self.rng
        terms = [self.mechanism(dom, depth) for _ in range(r.randint(1, 4))]
        end = _weighted(r, [("all", 7), ("redirect", 2 if depth < 2 else 0), ("none", 2)])
        if end == "all":
            terms.append(_weighted(r, [("-", 4), ("~", 3), ("?", 1), ("+", 1)]) + "all")
        elif end == "redirect":
            tgt = "rd%d.%s" % (r.randint(1, 99), dom)
            self.spf_record(tgt, depth + 1)
            terms.append("redirect=" + tgt)
        if r.random() < 0.1:
            self.pub_txt("exp." + dom, "Not authorized to send from %{i} for %{d}")
            terms.append("exp=exp." + dom)
        self.pub_txt(dom, "v=spf1 " + " ".join(terms))

    def spf_scenario(self, dom):
        """The SPF side of dom: mostly a random valid record, sometimes an edge case."""
        r = self.rng
        self.features = set()
        sc = _weighted(r, [("random", 80), ("none", 5), ("two", 2), ("include-none", 3),
                           ("toomany", 3), ("void", 3), ("syntax", 2), ("ptr-free-pass", 2)])
        if sc == "random":
            self.spf_record(dom)
        elif sc == "two":
            self.pub(dom, "TXT", "v=spf1 -all")
            self.pub(dom, "TXT", "v=spf1 +all")
        elif sc == "include-none":
            self.pub(dom, "TXT", "v=spf1 include:nospf.%s -all" % dom)
            self.pub("nospf." + dom, "A", "192.0.2.250")
        elif sc == "toomany":
            n = r.randint(9, 12)   # 9 and 10 stay inside the limit, 11 and 12 do not
            for k in range(n):
                nxt = "v=spf1 include:c%d.%s ?all" % (k + 1, dom) if k + 1 < n else \
                    "v=spf1 ip4:198.19.0.1 -all"
                self.pub("c%d.%s" % (k, dom) if k else dom, "TXT",
                         nxt if k else "v=spf1 include:c1.%s -all" % dom)
            sc += str(n)
        elif sc == "void":
            n = r.randint(2, 4)    # 2 void lookups are allowed, 3 are not (RFC 7208 4.6.4)
            terms = ["a:void%d.%s" % (k, dom) for k in range(n)]
            self.pub(dom, "TXT", "v=spf1 %s ip4:198.19.0.1 ~all" % " ".join(terms))
            sc += str(n)
        elif sc == "syntax":
            self.pub(dom, "TXT", r.choice(["v=spf1 ip4:192.0.2.300 -all",
                                           "v=spf1 foo:bar -all",
                                           "v=spf1 ip4:192.0.2.0/33 -all",
                                           "v=spf1 a:%s/40 -all" % dom]))
        elif sc == "ptr-free-pass":
            self.pub(dom, "TXT", "v=spf1 +all")
        return "+".join([sc] + sorted(self.features))

    # ---- the message ----
    def build(self):
        r = self.rng
        m = self.m
        i = self.idx
        suffix = _weighted(r, SUFFIXES)
        org = "dx%d.%s" % (i, suffix)
        sub = r.random() < 0.3
        from_dom = ("%s.%s" % (r.choice(["mail", "news", "a.b", "eu"]), org)) if sub else org
        # Internationalized From subdomains come from their own stream, so adding them
        # left every other message of the corpus as it was.
        idn = sub and random.Random("%s/idn" % self.seed_id).random() < 0.25
        shown = from_dom
        if idn:
            shown = "münchen." + org
            from_dom = shown.encode("idna").decode()   # the A-label form, for DNS
        if r.random() < 0.5:
            m.ip = "%s.%d" % (r.choice(["192.0.2", "203.0.113"]), r.randint(1, 254))
        elif r.random() < 0.5:
            m.ip = "2001:db8:%x::%x" % (i % 0xffff, r.randint(1, 0xffff))
        else:
            m.ip = "203.0.113.%d" % r.randint(1, 254)
        # Existence of the domains (Mail::DMARC and the np tag look at it).
        ex = _weighted(r, [("org-a", 7), ("org-mx", 2), ("none", 1)])
        if ex == "org-a":
            self.pub(org, "A", "192.0.2.%d" % r.randint(1, 254))
        elif ex == "org-mx":
            self.pub(org, "MX", "10 mx.%s" % org)
        if sub and r.random() < 0.6:
            self.pub(from_dom, "A", "192.0.2.%d" % r.randint(1, 254))
        m.tags["exist"] = ex + ("+sub" if sub and (from_dom, "A") in
                                {(x[0], x[1]) for x in m.records} else "")
        # Envelope
        local = r.choice(LOCALS)
        env = _weighted(r, [("from", 4), ("org", 1), ("subof", 1), ("other", 3), ("null", 1)])
        env_dom = {"from": from_dom, "org": org, "subof": "bounce." + org,
                   "other": "ux%d.example" % i, "null": ""}[env]
        m.helo = r.choice(["mail.%s" % org, "mx%d.ux%d.example" % (r.randint(1, 3), i),
                           org, "relay.tx%d.example" % i])
        m.mail_from = "%s@%s" % (local, env_dom) if env_dom else ""
        m.tags["env"] = env
        if env_dom:
            m.tags["spf"] = self.spf_scenario(env_dom)
        if r.random() < 0.6 and m.helo != env_dom:
            m.tags["spf_helo"] = self.spf_scenario(m.helo)
        else:
            m.tags["spf_helo"] = "none" if m.helo != env_dom else m.tags.get("spf")
        # Headers and body
        from_value = self.from_field(shown, idn)
        m.from_domain = from_dom.lower()
        hdrs = [("From", from_value),
                ("To", " <user%d@mx.test.example>" % r.randint(1, 9)),
                ("Subject", self.subject()),
                ("Date", " Mon, 30 Nov 2026 12:%02d:%02d +0000" % (r.randint(0, 59),
                                                                   r.randint(0, 59))),
                ("Message-ID", " <%d.%d@%s>" % (i, r.randint(1, 10**9), org))]
        if r.random() < 0.3:
            hdrs.append(("Cc", " carol@%s" % org))
        if r.random() < 0.3:
            hdrs.append(("MIME-Version", " 1.0"))
            hdrs.append(("Content-Type", " text/plain; charset=utf-8"))
        if r.random() < 0.15:
            hdrs.append(("List-Id", " <list.%s>" % org))
        r.shuffle(hdrs)
        m.headers = [(n if r.random() < 0.9 else n.lower(), v) for n, v in hdrs]
        m.body = self.body()
        # DKIM
        self.sign_all(from_dom, org, env_dom)
        # DMARC
        self.dmarc(from_dom, org)
        return m

    def from_field(self, dom, idn=False):
        """The From field for dom (a U-label domain is written as UTF-8, RFC 6532)."""
        r = self.rng
        local = r.choice(LOCALS)
        d = dom if r.random() < 0.85 or idn else dom.upper()
        addr = "%s@%s" % (local, d)
        shape = _weighted(r, [("bare", 2), ("angle", 2), ("name", 3), ("quoted-name", 2),
                              ("comment", 1), ("name-comment", 1), ("quoted-local", 1),
                              ("qlocal-at", 1), ("rfc2047", 2), ("utf8", 1), ("folded", 1)])
        self.m.tags["from"] = shape + ("+idn" if idn else "")
        return {
            "bare": " " + addr,
            "angle": " <%s>" % addr,
            "name": " Alice Example <%s>" % addr,
            "quoted-name": ' "Example, Alice (Sales)" <%s>' % addr,
            "comment": " %s (Alice Example)" % addr,
            "name-comment": " Alice <%s> (via list)" % addr,
            "quoted-local": ' "john doe"@%s' % d,
            "qlocal-at": ' Bob <"bob@home"@%s>' % d,
            "rfc2047": " =?UTF-8?B?%s?= <%s>" % (
                base64.b64encode("山田太郎".encode()).decode(), addr),
            "utf8": " Jürgen Müller <%s>" % addr,
            "folded": " Alice Example\r\n <%s>" % addr,
        }[shape]

    def subject(self):
        r = self.rng
        words = [r.choice(WORDS) for _ in range(r.randint(1, 14))]
        s = " " + " ".join(words)
        if r.random() < 0.2:
            s = s.replace(" ", "  ", 2) + "  "        # extra white space: relaxed vs simple
        if len(s) > 50 and r.random() < 0.5:
            k = s.index(" ", 30)
            s = s[:k] + "\r\n" + r.choice([" ", "\t"]) + s[k + 1:]
        return s

    def body(self):
        r = self.rng
        lines = []
        for _ in range(r.randint(0, 12)):
            line = " ".join(r.choice(WORDS) for _ in range(r.randint(0, 12)))
            if r.random() < 0.15:
                line += r.choice([" ", "\t", "  \t"])   # trailing white space
            if r.random() < 0.1:
                line = line.replace(" ", "   ")
            lines.append(line)
        body = "\r\n".join(lines)
        if lines:
            body += "\r\n"
        if r.random() < 0.2:
            body += "\r\n" * r.randint(1, 3)        # trailing empty lines
        return body.encode()

    # ---- DKIM ----
    def sign_all(self, from_dom, org, env_dom):
        r = self.rng
        m = self.m
        n = _weighted(r, [(0, 15), (1, 55), (2, 22), (3, 8)])
        after = _weighted(r, [("none", 80), ("body", 7), ("header", 7), ("body-append", 6)])
        m.tags["dkim_after"] = after
        plans = []
        for j in range(n):
            d = _weighted(r, [(from_dom, 40), (org, 25), ("s%d.%s" % (j, org), 10),
                              ("tx%d.example" % self.idx, 15), (env_dom or org, 10)])
            kind = _weighted(r, [("ok", 66), ("wrong-key", 5), ("revoked", 4), ("expired", 4),
                                 ("nokey", 4), ("future", 2), ("small-key", 3), ("i-sub", 3),
                                 ("key-flags", 4), ("key-ts", 2), ("key-ts-ok", 1),
                                 ("key-hsha1", 1), ("key-tlsrpt", 1)])
            plans.append((d, kind))
        for j, (d, kind) in enumerate(plans):
            sel = "%s%d" % (r.choice(["s", "sel", "k", "2026a-"]), j)
            keyname = "rsa512" if kind == "small-key" else \
                _weighted(r, [("rsa1024", 55), ("ed25519", 32), ("rsa2048", 13)])
            key = self.keys.get(keyname)
            canon = r.choice(CANONS)
            present = sorted({n.lower() for n, _ in m.headers} - {"dkim-signature", "from"})
            hlist = ["from"] + r.sample(present, r.randint(0, len(present)))
            if r.random() < 0.2:
                hlist.append(r.choice(["from", "subject"]))     # over-signing
            if r.random() < 0.2:
                hlist.append("reply-to")                         # a field that is absent
            r.shuffle(hlist)
            length = r.random() < 0.15
            line = self.sign_one(key, d, sel, canon, hlist, length, kind)
            name, value = line.split(":", 1)
            m.headers.insert(0, (name, value))
            b = re.search(r"\bb=([^;]*)", re.sub(r"\s", "", value))
            m.sigs.append({"d": d.lower(), "s": sel, "b": b.group(1) if b else "",
                           "kind": kind, "l": length, "algo": key.default_algo()})
            if kind == "nokey":
                continue
            pubkey = self.keys.get("rsa1024-other" if key.kind == "rsa" else "ed25519-other") \
                if kind == "wrong-key" else key
            extra = {"key-flags": r.choice(["t=y", "s=email", "s=*", "h=sha256", "n=rotated",
                                            "t=y:s", "h=sha1:sha256"]),
                     "key-ts": "t=s", "key-ts-ok": "t=s", "key-hsha1": "h=sha1",
                     "key-tlsrpt": "s=tlsrpt"}.get(kind, "")
            self.pub_txt("%s._domainkey.%s" % (sel, d),
                         pubkey.dns_txt(revoked=kind == "revoked", extra=extra))
        # Changes in transit after signing.
        if after == "body":
            m.body = m.body.replace(b"a", b"4", 1) if b"a" in m.body else m.body + b"x\r\n"
        elif after == "body-append":
            m.body += b"-- \r\nmailing list footer\r\n"
        elif after == "header":
            m.headers = [(n, v + " [list]") if n.lower() == "subject" else (n, v)
                         for n, v in m.headers]

    def sign_one(self, key, d, sel, canon, hlist, length, kind):
        """python3-dkim's signer; expired and future signatures go through its header
        generator with chosen t= / x= (its sign() has no x= parameter)."""
        raw = self.m.raw()
        if kind not in ("expired", "future"):
            ident = "list@news." + d if kind in ("i-sub", "key-ts") else None
            return sign(raw, key, d, sel, canonicalize=canon, headers=hlist,
                        length=length, identity=ident)
        now = int(time.time())
        t, x = (now - 30 * 86400, now - 20 * 86400) if kind == "expired" else \
            (now + 30 * 86400, now + 40 * 86400)
        return sign_at(raw, key, d, sel, canon, hlist, length, t, x)

    # ---- DMARC ----
    def dmarc_record(self, org):
        r = self.rng
        tags = []
        p = r.choice(["none", "quarantine", "reject"])
        has_p = r.random() < 0.95
        if has_p:
            tags.append(("p", p))
        else:
            self.m.tags["dmarc_p"] = "absent"
        for tag, prob, vals in (("sp", 0.5, ["none", "quarantine", "reject"]),
                                ("np", 0.3, ["none", "quarantine", "reject"]),
                                ("pct", 0.3, None), ("adkim", 0.5, ["r", "s"]),
                                ("aspf", 0.5, ["r", "s"]), ("fo", 0.2, ["0", "1", "d", "s",
                                                                        "d:s", "0:1"]),
                                ("t", 0.2, ["y", "n"]), ("psd", 0.1, ["n", "y"]),
                                ("ri", 0.1, ["86400", "3600"]), ("rf", 0.05, ["afrf"])):
            if r.random() < prob:
                tags.append((tag, str(r.randint(0, 100)) if vals is None else r.choice(vals)))
        if r.random() < 0.5 or not has_p:
            if r.random() < 0.7:
                tags.append(("rua", "mailto:dmarc@%s" % org))
            else:
                ext = "rep%d.example" % self.idx
                tags.append(("rua", "mailto:agg@%s,mailto:dmarc@%s" % (ext, org)))
                if r.random() < 0.7:
                    self.pub("%s._report._dmarc.%s" % (org, ext), "TXT", "v=DMARC1")
        if r.random() < 0.2:
            tags.append(("ruf", "mailto:forensic@%s" % org))
        r.shuffle(tags)
        if r.random() < 0.1:
            tags = [(t.upper() if r.random() < 0.5 else t, v) for t, v in tags]
        sep = r.choice(["; ", ";", " ; ", "; "])
        text = "v=DMARC1" + "".join(sep + "%s=%s" % tv for tv in tags)
        if r.random() < 0.3:
            text += ";"
        return text

    def dmarc(self, from_dom, org):
        r = self.rng
        where = _weighted(r, [("org", 6), ("from", 2), ("both", 1), ("none", 1), ("two", 0.3)])
        if from_dom == org and where == "both":
            where = "org"
        self.m.tags["dmarc"] = where
        if where in ("org", "both", "two"):
            self.pub_txt("_dmarc." + org, self.dmarc_record(org))
        if where in ("from", "both"):
            self.pub_txt("_dmarc." + from_dom, self.dmarc_record(org))
        if where == "two":
            self.pub_txt("_dmarc." + org, "v=DMARC1; p=none; sp=reject")
        if r.random() < 0.1:
            self.pub("_dmarc." + org, "TXT", "unrelated text record")


def sign_at(raw, key, d, sel, canon, hlist, length, t, x):
    """A DKIM-Signature with the given t= and x=, from python3-dkim's own header
    generator (DKIM.gen_header) and body canonicalizer."""
    from dkim import DKIM, CanonicalizationPolicy, HASH_ALGORITHMS
    obj = DKIM(raw)
    algo = key.default_algo().encode()
    obj.signature_algorithm = algo
    if key.kind == "rsa":
        pk = dkim.crypto.parse_pem_private_key(key.private)
    else:
        pk = nacl.signing.SigningKey(key.private, encoder=nacl.encoding.Base64Encoder)
    cp = CanonicalizationPolicy.from_c_value(("%s/%s" % canon).encode())
    body = cp.canonicalize_body(obj.body)
    bh = base64.b64encode(HASH_ALGORITHMS[algo](body).digest())
    inc = tuple(h.encode() for h in hlist)
    fields = [(b"v", b"1"), (b"a", algo), (b"c", cp.to_c_value()), (b"d", d.encode()),
              (b"i", b"@" + d.encode())]
    if length:
        fields.append((b"l", str(len(body)).encode()))
    fields += [(b"q", b"dns/txt"), (b"s", sel.encode()), (b"t", str(t).encode()),
               (b"x", str(x).encode()), (b"h", b" : ".join(inc)), (b"bh", bh),
               (b"b", b"0" * 60)]
    obj.hasher = HASH_ALGORITHMS[algo]
    res = obj.gen_header(fields, inc, cp, b"DKIM-Signature", pk)
    return (b"DKIM-Signature: " + res).decode().rstrip("\r\n")


def generate(seed, count, keys):
    """The corpus: a list of Msg (index 0..count-1)."""
    return [Builder(seed, i, keys).build() for i in range(count)]


def fingerprint(msgs):
    """A digest of everything that decides a verdict (zones, envelopes, the unsigned
    parts of the messages), to show two runs used the same corpus."""
    h = hashlib.sha256()
    for m in msgs:
        recs = sorted(str(r if "._domainkey." not in r[0] else r[:2]) for r in m.records)
        h.update(repr((m.ip, m.helo, m.mail_from, m.from_domain, recs,
                       [(s["d"], s["s"], s["kind"], s["l"]) for s in m.sigs],
                       sorted(m.tags.items()))).encode())
    return h.hexdigest()[:16]
