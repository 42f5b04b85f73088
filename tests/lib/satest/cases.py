"""cases.py - integration cases as data, and the machinery that runs them.

A case is one YAML file under tests/integration/cases/ (see docs/testing.md):

    name: spf fail
    zone:                                   # records published in the test DNS server
      - [spf-fail.example, TXT, "v=spf1 ip4:203.0.113.0/24 -all"]
    servfail: [broken.example]              # names (and below) answering SERVFAIL
    conf: {on_error: tempfail}              # senderauthd config overrides (own daemon)
    connect: {ip: 192.0.2.10, host: mail.spf-fail.example, helo: mail.spf-fail.example}
    envelope: {from: user@spf-fail.example, rcpt: [user@mx.test.example]}
    message:
      headers: ["From: user@spf-fail.example", "Subject: hi"]
      body: "hello\n"
    dkim_sign:                              # optional: signed AT TEST TIME
      - {domain: a.example, selector: s1, key: rsa2048}
    after_sign: {body_append: "footer\n"}   # optional: changes after signing
    expect:
      reply: accept                         # or tempfail / reject / "451" / [accept, continue]
      ar:                                   # our Authentication-Results header
        spf: {result: fail, smtp.mailfrom: spf-fail.example}
        dmarc: none
      headers_absent: ["^Authentication-Results: *mx\\.test\\.example"]
    messages: [...]                         # instead of envelope/message/expect: several
                                            # messages on one milter connection

Zone values may hold {key:NAME} (the p= of a generated key) and {keyrec:NAME}
(a whole "v=DKIM1; k=...; p=..." record).

Every case is also held to invariants a spoofer could exploit (check_invariants).
"""
import glob
import json
import os
import re

import yaml

from . import milter
from .dkimsign import KeyStore, sign

OUR_ID = "mx.test.example"
OWNED_PREFIX = "x-senderauth-"  # every field with this prefix is senderauthd's

# The config every case starts from; a case's `conf:` is merged over it (merge_conf).
BASE_CONF = {
    "authserv_id": OUR_ID,
    "trusted_networks": ["198.51.100.0/24"],   # TEST-NET-2: the "trusted relay" cases
    "dns": {"timeout": 1, "retries": 1},
    "psl": {"path": "/usr/share/publicsuffix/public_suffix_list.dat"},
}


def merge_conf(a, b):
    """a with b laid over it, nested dicts merged key by key (b may be None)."""
    out = dict(a)
    for k, v in (b or {}).items():
        out[k] = merge_conf(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) \
            else v
    return out


# ---- Authentication-Results reader (RFC 8601), independent of the daemon's writer ----

class ARParseError(ValueError):
    pass


class Resinfo:
    def __init__(self, method, version, result):
        self.method = method.lower()
        self.version = version
        self.result = result.lower()
        self.reason = None
        self.props = {}

    def __repr__(self):
        ps = " ".join("%s=%s" % kv for kv in self.props.items())
        return "%s=%s%s" % (self.method, self.result, " " + ps if ps else "")


class ARHeader:
    def __init__(self, authserv_id, version, results):
        self.authserv_id = authserv_id
        self.version = version
        self.results = results

    def methods(self, method):
        return [r for r in self.results if r.method == method]

    def __repr__(self):
        return "%s; %s" % (self.authserv_id, "; ".join(map(repr, self.results)) or "none")


def _tokens(s):
    """Yield ("word", text) / ("str", text) / ("sep", ch) with comments and CFWS removed.
    Separators: ; = . / (the word "a.example" is kept whole; splitting on '.' happens
    only in ptype.property)."""
    i, n = 0, len(s)
    out = []
    while i < n:
        c = s[i]
        if c in " \t\r\n":
            i += 1
        elif c == "(":
            depth = 0
            while i < n:
                if s[i] == "\\":
                    i += 2
                    continue
                if s[i] == "(":
                    depth += 1
                elif s[i] == ")":
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                i += 1
            else:
                if depth:
                    raise ARParseError("unterminated comment")
        elif c == '"':
            i += 1
            buf = ""
            while i < n and s[i] != '"':
                if s[i] == "\\" and i + 1 < n:
                    i += 1
                buf += s[i]
                i += 1
            if i >= n:
                raise ARParseError("unterminated quoted-string")
            i += 1
            out.append(("str", buf.replace("\r\n", "").replace("\n", "")))
        elif c in ";=/":
            out.append(("sep", c))
            i += 1
        else:
            j = i
            while j < n and s[j] not in " \t\r\n();=\"/":
                j += 1
            out.append(("word", s[i:j]))
            i = j
    return out


def parse(value):
    toks = _tokens(value)
    if not toks or toks[0][0] not in ("word", "str"):
        raise ARParseError("no authserv-id")
    aid = toks[0][1]
    pos = 1
    version = None
    if pos < len(toks) and toks[pos][0] == "word" and toks[pos][1].isdigit():
        version = toks[pos][1]
        pos += 1
    results = []
    if pos < len(toks) and toks[pos] == ("sep", ";"):
        pos += 1
    elif pos < len(toks):
        raise ARParseError("expected ';' after authserv-id, got %r" % (toks[pos],))
    # split the rest on ';'
    groups, cur = [], []
    for t in toks[pos:]:
        if t == ("sep", ";"):
            groups.append(cur)
            cur = []
        else:
            cur.append(t)
    groups.append(cur)
    for g in groups:
        if not g:
            continue
        if len(g) == 1 and g[0] == ("word", "none"):
            continue
        # methodspec
        if g[0][0] != "word":
            raise ARParseError("bad method in %r" % g)
        method = g[0][1]
        k = 1
        mver = None
        if k < len(g) and g[k] == ("sep", "/"):
            mver = g[k + 1][1] if k + 1 < len(g) else None
            k += 2
        if k + 1 >= len(g) or g[k] != ("sep", "=") or g[k + 1][0] != "word":
            raise ARParseError("bad methodspec in %r" % g)
        ri = Resinfo(method, mver, g[k + 1][1])
        k += 2
        while k < len(g):
            if g[k][0] != "word" or k + 2 >= len(g) or g[k + 1] != ("sep", "="):
                raise ARParseError("bad propspec in %r" % g[k:])
            key = g[k][1].lower()
            val = g[k + 2][1]
            k += 3
            # pvalue may contain '/' (e.g. a base64 header.b): glue following pieces
            while k < len(g) and (g[k] == ("sep", "/") or
                                  (g[k][0] == "word" and g[k][1].startswith("@"))):
                if g[k][0] == "word":  # "quoted local-part"@domain
                    val += g[k][1]
                    k += 1
                    continue
                val += "/" + (g[k + 1][1] if k + 1 < len(g) else "")
                k += 2
            if key == "reason":
                ri.reason = val
            elif "." in key:
                ri.props[key] = val
            else:
                raise ARParseError("property without ptype: %r" % key)
        results.append(ri)
    return ARHeader(aid, version, results)


def authserv_id(value):
    """The authserv-id of a header value, lower-cased, or None when unparsable.
    Reads only up to the first ';' so a damaged tail does not hide the id."""
    try:
        toks = _tokens(value.split(";", 1)[0] if '"' not in value else value)
    except ARParseError:
        return None
    if not toks or toks[0][0] not in ("word", "str"):
        return None
    return toks[0][1].lower()


# ---- loading ----

class CaseError(Exception):
    pass


def load_all(cases_dir):
    cases = []
    for path in sorted(glob.glob(os.path.join(cases_dir, "**", "*.yaml"), recursive=True)):
        with open(path) as f:
            data = yaml.safe_load(f)
        if not isinstance(data, dict):
            raise CaseError("%s: not a mapping" % path)
        data.setdefault("name", os.path.splitext(os.path.basename(path))[0])
        data["_path"] = os.path.relpath(path, cases_dir)
        data["_id"] = os.path.splitext(data["_path"])[0]
        cases.append(data)
    if not cases:
        raise CaseError("no cases under %s" % cases_dir)
    return cases


def _crlf(s):
    return s.replace("\r\n", "\n").replace("\n", "\r\n")


def _split_header(line):
    line = line.rstrip("\r\n")
    if ":" not in line:
        raise CaseError("header without colon: %r" % line)
    name, value = line.split(":", 1)
    return name, _crlf(value)


def messages_of(case):
    """The list of message specs of a case (one unless it has `messages:`)."""
    if "messages" in case:
        return case["messages"]
    return [{k: case[k] for k in ("envelope", "message", "dkim_sign", "after_sign", "expect",
                                  "auth_authen") if k in case}]


def _subst(value, keys):
    if not isinstance(value, str):
        return value

    def rep(m):
        kind, name = m.group(1), m.group(2)
        k = keys.get(name)
        return k.public_b64 if kind == "key" else k.dns_txt()
    return re.sub(r"\{(key|keyrec):([A-Za-z0-9_-]+)\}", rep, value)


class Built:
    """One message ready to send: headers [(name, value)], body bytes, signatures."""

    def __init__(self, headers, body, sigs):
        self.headers, self.body, self.sigs = headers, body, sigs


def build_message(spec, keys):
    """Headers and body of one message spec, signed at test time when it says so.
    Returns (Built, extra DNS records for the keys it published)."""
    m = spec.get("message", {})
    headers = [_split_header(h) for h in m.get("headers", [])]
    body = _crlf(m.get("body", "")).encode()
    records = []
    sigs = []
    for s in spec.get("dkim_sign", []) or []:
        key = keys.get(s.get("key", "rsa2048"))
        raw = "".join("%s:%s\r\n" % hv for hv in headers).encode() + b"\r\n" + body
        canon = s.get("canonicalize", "relaxed/relaxed").split("/")
        line = sign(raw, key, s["domain"], s.get("selector", "s1"), algo=s.get("algo"),
                    headers=s.get("headers"), canonicalize=canon)
        name, value = _split_header(line)
        headers.insert(0, (name, value))
        b = re.search(r"\bb=([^;]*)", value.replace("\r\n", "").replace("\t", ""))
        sigs.append({"b": re.sub(r"\s", "", b.group(1)) if b else "",
                     "domain": s["domain"], "selector": s.get("selector", "s1")})
        if s.get("publish", True):
            records.append(("%s._domainkey.%s" % (s.get("selector", "s1"), s["domain"]),
                            "TXT", key.dns_txt(revoked=s.get("revoked", False))))
    a = spec.get("after_sign") or {}
    if a.get("body_append"):
        body += _crlf(a["body_append"]).encode()
    if a.get("subject_prefix"):
        headers = [(n, " " + a["subject_prefix"] + v.lstrip(" ")) if n.lower() == "subject"
                   else (n, v) for n, v in headers]
    for h in a.get("add_headers", []) or []:
        headers.append(_split_header(h))
    for h in a.get("prepend_headers", []) or []:
        headers.insert(0, _split_header(h))
    return Built(headers, body, sigs), records


def zone_records(cases, keys):
    """All cases' records as one set. The same (name, type) in two cases must carry the
    same data, so one NSD serves every case. Returns (records, servfail, built) where
    built[case_id] = [Built per message]."""
    seen = {}
    records = []
    servfail = set()
    built = {}

    def add(case, rec):
        name, rtype, value = rec[0].lower().rstrip("."), rec[1].upper(), rec[2]
        value = _subst(value, keys) if not isinstance(value, list) else \
            [_subst(v, keys) for v in value]
        k = (name, rtype, json.dumps(value))
        owner = seen.get((name, rtype))
        if owner is not None and owner[0] != case["_id"] and owner[1] != k:
            raise CaseError("%s and %s both define %s %s differently" %
                            (owner[0], case["_id"], name, rtype))
        if (name, rtype) not in seen:
            seen[(name, rtype)] = (case["_id"], k)
        if k not in {(r[0], r[1], json.dumps(r[2])) for r in records}:
            records.append((name, rtype, value) + tuple(rec[3:]))

    for case in cases:
        for rec in case.get("zone", []) or []:
            add(case, rec)
        servfail.update(case.get("servfail", []) or [])
        built[case["_id"]] = []
        for spec in messages_of(case):
            b, recs = build_message(spec, keys)
            built[case["_id"]].append(b)
            for r in recs:
                add(case, r)
    return records, sorted(servfail), built


def conf_key(case):
    return json.dumps(case.get("conf") or {}, sort_keys=True)


# ---- running ----

def send(client, case, spec, b):
    env = spec.get("envelope", {})
    return client.message(env.get("from", ""), env.get("rcpt", ["user@" + OUR_ID]),
                          b.headers, b.body,
                          helo=None, queue_id=spec.get("queue_id", "QID%08X" % (id(b) & 0xFFFFFFF)),
                          auth_authen=spec.get("auth_authen"))


def run_case(port, case, builts, our_id=OUR_ID):
    """Run one case on one milter connection. Returns a list of failure strings and a
    list of per-message reports (for printing)."""
    failures, reports = [], []
    c = case.get("connect", {})
    mta = case.get("mta") or {}
    protocol = milter.P_ALL
    if mta.get("no_leadspc"):     # an MTA that strips the space after the colon
        protocol &= ~milter.P_HDR_LEADSPC
    if mta.get("no_noreply"):     # an MTA that wants a reply to every command
        protocol &= ~(milter.P_NR_CONN | milter.P_NR_HELO | milter.P_NR_MAIL |
                      milter.P_NR_RCPT | milter.P_NR_DATA | milter.P_NR_UNKN |
                      milter.P_NR_HDR | milter.P_NR_EOH | milter.P_NR_BODY | milter.P_SKIP)
    with milter.MilterClient("127.0.0.1", port, protocol=protocol,
                             fold=mta.get("fold", "\n")) as cl:
        r = cl.connect(c.get("host", "unknown"), c.get("ip", "192.0.2.1"),
                       port=c.get("port", 25))
        if r.is_terminal():
            failures.append("connect answered %r" % r)
            return failures, reports
        if c.get("helo") is not None:
            r = cl.helo(c["helo"])
            if r.is_terminal():
                failures.append("helo answered %r" % r)
                return failures, reports
        for i, (spec, b) in enumerate(zip(messages_of(case), builts)):
            tag = "msg %d: " % (i + 1) if len(builts) > 1 else ""
            res = send(cl, case, spec, b)
            rep = evaluate(res, b, spec.get("expect", {}), our_id, cl.leadspc)
            failures += [tag + f for f in rep["failures"]]
            reports.append(rep)
    return failures, reports


# ---- judging ----

def _ours(value, our_id):
    return authserv_id(value) == our_id.lower()


def _unfold(v):
    return milter.unfold(v)


def find_our_ar(headers, our_id):
    return [(n, v) for n, v in headers if n.lower() == "authentication-results"
            and _ours(v, our_id)]


def check_invariants(res, b, our_id, leadspc):
    """What must hold for every message, whatever the case expects."""
    f = []
    finals = {}
    for mta in ("postfix", "sendmail"):
        finals[mta] = milter.apply_header_mods(b.headers, res.mods, leadspc=leadspc, mta=mta)
    if finals["postfix"] != finals["sendmail"]:
        f.append("header edits give different results on Postfix and Sendmail (delete "
                 "by descending index):\n    postfix:  %r\n    sendmail: %r" %
                 (finals["postfix"], finals["sendmail"]))
    final = finals["postfix"]
    added = [(m.name, m.value) for m in res.mods if m.kind in ("addheader", "insheader")]
    added_ar = [v for n, v in added if n.lower() == "authentication-results"]
    for n, v in added:
        full = "%s:%s" % (n, v if leadspc else " " + v)
        for line in full.replace("\r\n", "\n").split("\n"):
            if len(line) > 998:
                f.append("added header line longer than 998: %s..." % line[:60])
        if "\r" in v.replace("\r\n", "") or re.search(r"\n(?![ \t])", v):
            f.append("added header %s has a line break not followed by WSP: %r" % (n, v))
        if "\0" in v:
            f.append("added header %s has NUL" % n)
    for v in added_ar:
        try:
            parse(v)
        except ARParseError as e:
            f.append("added A-R does not parse (%s): %r" % (e, v))
        if not _ours(v, our_id):
            f.append("added A-R does not carry our authserv-id: %r" % v)
    if len(added_ar) > 1:
        f.append("more than one A-R added: %r" % added_ar)
    # No forged header with our id may survive; only the one we added may be ours.
    ours_final = find_our_ar(final, our_id)
    for n, v in ours_final:
        if v.strip() not in [a.strip() for a in added_ar]:
            f.append("forged A-R with our authserv-id survived: %r" % v)
    # Foreign A-R headers are kept, unchanged and in order.
    foreign_in = [v for n, v in b.headers if n.lower() == "authentication-results"
                  and not _ours(v, our_id)]
    foreign_out = [v for n, v in final if n.lower() == "authentication-results"
                   and not _ours(v, our_id) and v not in added_ar]
    if foreign_in != foreign_out:
        f.append("foreign A-R headers changed:\n    before %r\n    after  %r" %
                 (foreign_in, foreign_out))
    # Fields senderauthd owns: A-R naming us, and every X-Senderauth-* field. Incoming
    # copies must all go; everything else of the message stays untouched.
    def owned(n, v):
        return (n.lower() == "authentication-results" and _ours(v, our_id)) or \
            n.lower().startswith(OWNED_PREFIX)
    added_final = [(n, milter._lead(v, leadspc)) for n, v in added]
    for n, v in final:
        if owned(n, v) and n.lower() != "authentication-results" and \
                (n, v) not in added_final:
            f.append("forged %s field survived: %r" % (n, v))
    orig_other = [(n, v) for n, v in b.headers if not owned(n, v)
                  and n.lower() != "authentication-results"]
    final_other = [(n, v) for n, v in final if not owned(n, v)
                   and n.lower() != "authentication-results" and (n, v) not in added_final]
    if orig_other != final_other:
        f.append("headers not owned by senderauthd changed:\n    before %r\n    after  %r" %
                 (orig_other, final_other))
    for m in res.mods:
        if m.kind in ("replbody", "addrcpt", "addrcpt_par", "delrcpt", "chgfrom"):
            f.append("unexpected modification %r" % m)
    # Header changes are deletions of owned fields, exactly one per incoming copy, at its
    # index among the fields of that name: a deletion aimed elsewhere (a stale index from
    # an earlier message, say) is a bug even when it happens to hit nothing.
    chg = [m for m in res.mods if m.kind == "chgheader"]
    bad = [m for m in chg if m.value != ""]
    if bad:
        f.append("header changes other than deletions: %r" % bad)
    want_dels, count = [], {}
    for n, v in b.headers:
        count[n.lower()] = count.get(n.lower(), 0) + 1
        if owned(n, v):
            want_dels.append((n.lower(), count[n.lower()]))
    dels = sorted((m.name.lower(), m.index) for m in chg if m not in bad)
    if dels != sorted(want_dels):
        f.append("deleted fields %r, want %r (the incoming fields senderauthd owns)" %
                 (dels, sorted(want_dels)))
    return f, final, added_ar


def _reply_ok(want, reply):
    wants = want if isinstance(want, list) else [want]
    for w in wants:
        w = str(w)
        if w.isdigit():
            if reply.smtp.startswith(w):
                return True
        elif w == reply.code:
            return True
        elif w in ("accept", "continue") and reply.code in ("accept", "continue") and \
                "accept" in wants:
            return True
    return False


def select_results(ar, method):
    """Resinfos an expectation for `method` talks about. `spf` means the MAIL FROM
    identity (resinfos with smtp.mailfrom; all SPF ones when none has it); `spf_helo`
    those with smtp.helo only."""
    if method == "spf_helo":
        return [r for r in ar.methods("spf") if "smtp.helo" in r.props
                and "smtp.mailfrom" not in r.props]
    rs = ar.methods(method)
    if method == "spf":
        mf = [r for r in rs if "smtp.mailfrom" in r.props]
        return mf or rs
    return rs


def _match_one(ri, m, sigs):
    """None when resinfo ri satisfies matcher m, else why not."""
    for k, want in m.items():
        if k == "result":
            got = ri.result
            ok = got in ([w.lower() for w in want] if isinstance(want, list) else [want.lower()])
        elif k == "reason":
            got = ri.reason
            ok = got is not None and re.search(want, got, re.I)
        elif k.startswith("~"):
            got = ri.props.get(k[1:])
            ok = got is not None and re.search(want, got)
        elif k.startswith("!"):
            got = ri.props.get(k[1:])
            ok = got is None
        else:
            got = ri.props.get(k)
            sm = re.match(r"\{sig:(\d+)\}$", str(want))
            if sm:
                full = sigs[int(sm.group(1))]["b"]
                ok = got is not None and len(got) >= 8 and full.startswith(got)
                want = "prefix(>=8) of %s" % full[:12]
            else:
                ok = got is not None and got.lower() == str(want).lower()
        if not ok:
            return "%s: got %r, want %r" % (k, got, want)
    return None


def check_ar(exp, ar_value, sigs):
    f = []
    try:
        ar = parse(ar_value)
    except ARParseError as e:
        return ["A-R does not parse: %s" % e]
    for method, want in exp.items():
        if method in ("regex", "not_regex", "absent"):
            continue
        sel = select_results(ar, method)
        if isinstance(want, list):
            if len(sel) != len(want):
                f.append("%s: %d results, want %d (%r)" % (method, len(sel), len(want), sel))
                continue
            left = list(sel)
            for m in want:
                m = {"result": m} if isinstance(m, str) else m
                hit = next((r for r in left if _match_one(r, m, sigs) is None), None)
                if hit is None:
                    f.append("%s: nothing matches %r in %r" % (method, m, sel))
                else:
                    left.remove(hit)
            continue
        m = {"result": want} if isinstance(want, str) else dict(want)
        if not sel:
            f.append("%s: no result in A-R, want %r" % (method, m))
        for r in sel:
            why = _match_one(r, m, sigs)
            if why:
                f.append("%s=%s: %s" % (method, r.result, why))
    for rx in exp.get("regex", []) or []:
        if not re.search(rx, _unfold(ar_value)):
            f.append("A-R does not match /%s/" % rx)
    for rx in exp.get("not_regex", []) or []:
        if re.search(rx, _unfold(ar_value)):
            f.append("A-R matches /%s/ (must not)" % rx)
    for method in exp.get("absent", []) or []:
        if select_results(ar, method):
            f.append("A-R has %s (must not): %r" % (method, select_results(ar, method)))
    return f


def evaluate(res, b, exp, our_id, leadspc):
    f, final, added_ar = check_invariants(res, b, our_id, leadspc)
    rep = {"reply": res.reply, "stage": res.stage, "added": res.added_headers(),
           "final": final, "failures": f}
    if "reply" in exp:
        if res.reply is None or not _reply_ok(exp["reply"], res.reply):
            f.append("reply: got %r (at %s), want %r" % (res.reply, res.stage, exp["reply"]))
    if "reply_text" in exp and not re.search(exp["reply_text"], res.reply.text or ""):
        f.append("reply text %r does not match /%s/" % (res.reply.text, exp["reply_text"]))
    ar_exp = exp.get("ar")
    if ar_exp == "none":
        if added_ar:
            f.append("an A-R was added (want none): %r" % added_ar)
    elif ar_exp is not None:
        if len(added_ar) != 1:
            f.append("want exactly one A-R added by us, got %d (reply %r)" %
                     (len(added_ar), res.reply))
        else:
            f += check_ar(ar_exp, added_ar[0], b.sigs)
    lines = ["%s: %s" % (n, _unfold(v)) for n, v in final]
    for rx in exp.get("headers_present", []) or []:
        if not any(re.search(rx, ln, re.I) for ln in lines):
            f.append("no final header matches /%s/" % rx)
    for rx in exp.get("headers_absent", []) or []:
        hit = [ln for ln in lines if re.search(rx, ln, re.I)]
        if hit:
            f.append("final headers match /%s/ (must not): %r" % (rx, hit))
    for k, want in (exp.get("added_headers") or {}).items():
        got = [v for n, v in res.added_headers() if n.lower() == k.lower()]
        if want == "none":
            if got:
                f.append("header %s added (want none): %r" % (k, got))
        elif not any(re.search(want, _unfold(v)) for v in got):
            f.append("no added %s matches /%s/: %r" % (k, want, got))
    if exp.get("quarantine") is not None:
        q = [m for m in res.mods if m.kind == "quarantine"]
        if bool(q) != bool(exp["quarantine"]):
            f.append("quarantine: got %r, want %r" % (q, exp["quarantine"]))
    elif any(m.kind == "quarantine" for m in res.mods):
        f.append("unexpected quarantine %r" % [m for m in res.mods if m.kind == "quarantine"])
    return rep


def format_report(case, failures, reports, log_tail=""):
    out = ["FAIL %s (%s)" % (case["_id"], case.get("name", ""))]
    for f in failures:
        out.append("  - " + f.replace("\n", "\n    "))
    for i, rep in enumerate(reports):
        out.append("  message %d: reply %r at %s" % (i + 1, rep["reply"], rep["stage"]))
        for n, v in rep["added"]:
            out.append("    + %s: %s" % (n, _unfold(v)))
    if log_tail:
        out.append(log_tail)
    return "\n".join(out)
