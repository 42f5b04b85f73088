"""milter.py - the MTA side of the milter protocol (version 6), in pure Python.

This is what Postfix's milter8.c or Sendmail's milter.c do, reduced to what tests need:
open a TCP connection to a filter, negotiate (SMFIC_OPTNEG), send macros and the SMTP
events, stream the message, and collect the filter's modification requests and final
reply. Every frame is logged in `trace` so a failing test can print the conversation.

Wire format (mfdef.h): each packet is a 4-byte big-endian length (command byte + data),
one command byte, then data. Strings are NUL-terminated.

Usage:
    with MilterClient("127.0.0.1", port) as m:
        m.connect("mx.example", "192.0.2.1", port=25, macros={"j": "mx.local"})
        r = m.message(helo="mail.example", mail_from="a@example.com",
                      rcpts=["b@example.net"], headers=[("From", "a@example.com")],
                      body=b"hi\\r\\n")
        r.reply.code  -> "accept" | "continue" | "reject" | "tempfail" | "replycode" | ...
        r.mods        -> [Mod("addheader", name=..., value=...), ...]
        apply_header_mods(headers, r.mods, leadspc=m.leadspc)
"""
import socket
import struct

PROT_VERSION = 6

# Commands, MTA -> filter (mfdef.h SMFIC_*).
C_ABORT, C_BODY, C_CONNECT, C_MACRO, C_BODYEOB = b"A", b"B", b"C", b"D", b"E"
C_HELO, C_QUIT_NC, C_HEADER, C_MAIL, C_EOH = b"H", b"K", b"L", b"M", b"N"
C_OPTNEG, C_QUIT, C_RCPT, C_DATA, C_UNKNOWN = b"O", b"Q", b"R", b"T", b"U"

# Replies and actions, filter -> MTA (SMFIR_*).
R_ADDRCPT, R_DELRCPT, R_ADDRCPT_PAR, R_SHUTDOWN = b"+", b"-", b"2", b"4"
R_ACCEPT, R_REPLBODY, R_CONTINUE, R_DISCARD = b"a", b"b", b"c", b"d"
R_CHGFROM, R_CONN_FAIL, R_ADDHEADER, R_INSHEADER = b"e", b"f", b"h", b"i"
R_SETSYMLIST, R_CHGHEADER, R_PROGRESS, R_QUARANTINE = b"l", b"m", b"p", b"q"
R_REJECT, R_SKIP, R_TEMPFAIL, R_REPLYCODE = b"r", b"s", b"t", b"y"

# Actions the filter may request (SMFIF_*).
F_ADDHDRS, F_CHGBODY, F_ADDRCPT, F_DELRCPT = 0x01, 0x02, 0x04, 0x08
F_CHGHDRS, F_QUARANTINE, F_CHGFROM, F_ADDRCPT_PAR = 0x10, 0x20, 0x40, 0x80
F_SETSYMLIST = 0x100
F_ALL = 0x1FF

# Protocol steps (SMFIP_*).
P_NOCONNECT, P_NOHELO, P_NOMAIL, P_NORCPT = 0x1, 0x2, 0x4, 0x8
P_NOBODY, P_NOHDRS, P_NOEOH, P_NR_HDR = 0x10, 0x20, 0x40, 0x80
P_NOUNKNOWN, P_NODATA, P_SKIP, P_RCPT_REJ = 0x100, 0x200, 0x400, 0x800
P_NR_CONN, P_NR_HELO, P_NR_MAIL, P_NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000
P_NR_DATA, P_NR_UNKN, P_NR_EOH, P_NR_BODY = 0x10000, 0x20000, 0x40000, 0x80000
P_HDR_LEADSPC = 0x100000
P_ALL = 0x1FFFFF  # SMFI_CURR_PROT: every step, every no-reply, leading space

CHUNK = 65535  # MILTER_CHUNK_SIZE

# Which stage a macro list / no-reply flag / skip flag belongs to.
_NOREPLY = {C_CONNECT: P_NR_CONN, C_HELO: P_NR_HELO, C_MAIL: P_NR_MAIL, C_RCPT: P_NR_RCPT,
            C_DATA: P_NR_DATA, C_UNKNOWN: P_NR_UNKN, C_HEADER: P_NR_HDR, C_EOH: P_NR_EOH,
            C_BODY: P_NR_BODY}
_SKIPSTEP = {C_CONNECT: P_NOCONNECT, C_HELO: P_NOHELO, C_MAIL: P_NOMAIL, C_RCPT: P_NORCPT,
             C_DATA: P_NODATA, C_UNKNOWN: P_NOUNKNOWN, C_HEADER: P_NOHDRS, C_EOH: P_NOEOH,
             C_BODY: P_NOBODY}
# SMFIR_SETSYMLIST "where" index (SMFIM_*) -> the command the macros go with.
_SYMLIST_STAGE = {0: C_CONNECT, 1: C_HELO, 2: C_MAIL, 3: C_RCPT, 4: C_DATA, 5: C_BODYEOB,
                  6: C_EOH}

_FINAL = {R_ACCEPT: "accept", R_CONTINUE: "continue", R_REJECT: "reject",
          R_TEMPFAIL: "tempfail", R_DISCARD: "discard", R_REPLYCODE: "replycode",
          R_SKIP: "skip", R_CONN_FAIL: "conn_fail", R_SHUTDOWN: "shutdown"}


class MilterError(Exception):
    """The filter broke the protocol, closed the connection, or did not answer in time."""


class Reply:
    """One final answer to a command. code: accept continue reject tempfail discard
    replycode skip conn_fail shutdown noreply. For replycode: smtp ("550"), text (the
    whole "550 5.7.1 ..." line as sent)."""

    def __init__(self, code, text=""):
        self.code = code
        self.text = text
        self.smtp = text[:3] if code == "replycode" else {
            "reject": "550", "tempfail": "451", "accept": "250", "continue": "250",
            "discard": "250"}.get(code, "")

    def is_terminal(self):
        """True when the MTA would stop the transaction here (accept ends filtering)."""
        return self.code not in ("continue", "noreply", "skip")

    def __repr__(self):
        return "Reply(%s%s)" % (self.code, " " + repr(self.text) if self.text else "")


class Mod:
    """One modification request at end of message. kind: addheader insheader chgheader
    addrcpt addrcpt_par delrcpt quarantine replbody chgfrom. Fields as they apply:
    name, value, index, rcpt, args, reason, data."""

    def __init__(self, kind, **kw):
        self.kind = kind
        self.name = kw.get("name")
        self.value = kw.get("value")
        self.index = kw.get("index")
        self.rcpt = kw.get("rcpt")
        self.args = kw.get("args")
        self.reason = kw.get("reason")
        self.data = kw.get("data")

    def __repr__(self):
        parts = [self.kind]
        for k in ("index", "name", "value", "rcpt", "args", "reason"):
            v = getattr(self, k)
            if v is not None:
                parts.append("%s=%r" % (k, v))
        if self.data is not None:
            parts.append("data=%d bytes" % len(self.data))
        return "Mod(%s)" % " ".join(parts)


class Result:
    """What happened to one message: reply (the last answer), stage (the command it
    answered), mods (EOM modifications, in order), progress (SMFIR_PROGRESS count),
    replies (every stage's Reply, in order, for debugging)."""

    def __init__(self):
        self.reply = None
        self.stage = None
        self.mods = []
        self.progress = 0
        self.replies = []

    def added_headers(self):
        """(name, value) of every addheader/insheader, in order."""
        return [(m.name, m.value) for m in self.mods if m.kind in ("addheader", "insheader")]

    def __repr__(self):
        return "Result(stage=%s reply=%r mods=%r)" % (self.stage, self.reply, self.mods)


def _cstr(s):
    if isinstance(s, str):
        s = s.encode("utf-8", "surrogateescape")
    if b"\0" in s:
        raise ValueError("NUL in milter string %r" % s)
    return s + b"\0"


def _split_cstrs(data):
    """Split NUL-terminated strings; a missing final NUL is a protocol error."""
    if not data.endswith(b"\0"):
        raise MilterError("string not NUL-terminated: %r" % data[:80])
    return [p.decode("utf-8", "surrogateescape") for p in data[:-1].split(b"\0")]


class MilterClient:
    """One connection to a milter (host and port; or port None and host the path of a
    unix socket). Not thread-safe: use one per thread."""

    def __init__(self, host, port, timeout=20.0, actions=F_ALL, protocol=P_ALL,
                 fold="\n"):
        self.host, self.port = host, port
        self.timeout = timeout
        self.offer_actions = actions
        self.offer_protocol = protocol
        self.fold = fold            # line break the MTA uses inside a folded header value
        self.actions = 0            # what the filter asked for
        self.protocol = 0
        self.version = 0
        self.symlists = {}          # command -> [macro names] (SMFIR_SETSYMLIST)
        self.trace = []             # ("->"/"<-", command, data) for debugging
        self.sock = None
        self.connected = False      # SMTP connection state (connect() sent)

    # ---- transport ----
    def open(self):
        if self.port is None:  # host is the path of a unix socket
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(self.timeout)
            self.sock.connect(self.host)
        else:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.settimeout(self.timeout)
        self.negotiate()
        return self

    def close(self):
        """SMFIC_QUIT, then wait (bounded) until the filter closes its side: the session
        has then really ended, so a daemon stopped right afterwards has no half-closed
        session left (which libmilter's worker pool does not always clean up)."""
        if self.sock is not None:
            try:
                self._send(C_QUIT)
                self.sock.shutdown(socket.SHUT_WR)
                while self.sock.recv(4096):
                    pass
            except OSError:
                pass
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def _send(self, cmd, data=b""):
        self.trace.append(("->", cmd, data[:200]))
        pkt = struct.pack(">I", len(data) + 1) + cmd + data
        self.sock.sendall(pkt)

    def _recvn(self, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except socket.timeout:
                raise MilterError("timeout waiting for the filter (%s)" % self.last_trace())
            if not chunk:
                raise MilterError("filter closed the connection (%s)" % self.last_trace())
            buf += chunk
        return buf

    def _recv(self):
        (n,) = struct.unpack(">I", self._recvn(4))
        if n < 1 or n > 16 * 1024 * 1024:
            raise MilterError("bad packet length %d" % n)
        pkt = self._recvn(n)
        self.trace.append(("<-", pkt[:1], pkt[1:201]))
        return pkt[:1], pkt[1:]

    def last_trace(self, n=6):
        return "; ".join("%s %s %r" % (d, c.decode(), x[:60]) for d, c, x in self.trace[-n:])

    # ---- negotiation ----
    def negotiate(self):
        self._send(C_OPTNEG, struct.pack(">III", PROT_VERSION, self.offer_actions,
                                         self.offer_protocol))
        cmd, data = self._recv()
        if cmd != C_OPTNEG or len(data) < 12:
            raise MilterError("bad OPTNEG reply %r %r" % (cmd, data[:40]))
        self.version, self.actions, self.protocol = struct.unpack(">III", data[:12])
        if self.version < 2 or self.version > PROT_VERSION:
            raise MilterError("filter speaks protocol version %d" % self.version)
        if self.actions & ~self.offer_actions:
            raise MilterError("filter asks for actions 0x%x not offered" % self.actions)
        if self.protocol & ~self.offer_protocol:
            raise MilterError("filter asks for protocol steps 0x%x not offered" % self.protocol)
        rest = data[12:]
        while rest:  # SMFIR_SETSYMLIST data: uint32 where, macro list "{a} {b}\0"
            if len(rest) < 5:
                raise MilterError("bad symlist in OPTNEG reply")
            (where,) = struct.unpack(">I", rest[:4])
            end = rest.index(b"\0", 4)
            names = rest[4:end].decode().split()
            self.symlists[_SYMLIST_STAGE.get(where, where)] = names
            rest = rest[end + 1:]

    @property
    def leadspc(self):
        return bool(self.protocol & P_HDR_LEADSPC)

    def skips(self, cmd):
        return bool(self.protocol & _SKIPSTEP.get(cmd, 0))

    def noreply(self, cmd):
        return bool(self.protocol & _NOREPLY.get(cmd, 0))

    # ---- commands ----
    def _macros(self, stage, macros):
        if not macros:
            return
        allowed = self.symlists.get(stage)
        data = b""
        for k, v in macros.items():
            if v is None:
                continue
            if allowed is not None and k not in allowed and "{%s}" % k not in allowed \
                    and k.strip("{}") not in allowed:
                continue
            data += _cstr(k) + _cstr(v)
        self._send(C_MACRO, stage + data)

    def _command(self, cmd, data=b"", macros=None, result=None):
        """Send one command with its macros; return its Reply (noreply when the filter
        asked not to answer). EOM is handled by eom()."""
        if self.skips(cmd):
            return Reply("skipped")
        self._macros(cmd, macros)
        self._send(cmd, data)
        if self.noreply(cmd):
            return Reply("noreply")
        return self._read_reply(cmd, result)

    def _read_reply(self, cmd, result=None):
        while True:
            rcmd, data = self._recv()
            if rcmd == R_PROGRESS:
                if result is not None:
                    result.progress += 1
                continue
            if rcmd in _FINAL:
                text = _split_cstrs(data)[0] if rcmd == R_REPLYCODE else ""
                if rcmd == R_REPLYCODE and not (len(text) >= 3 and text[0] in "45"
                                                and text[:3].isdigit()):
                    raise MilterError("bad reply code %r" % text)
                r = Reply(_FINAL[rcmd], text)
                if result is not None:
                    result.replies.append((cmd.decode(), r))
                return r
            if cmd != C_BODYEOB:
                raise MilterError("action %r outside end of message (after %r)" % (rcmd, cmd))
            if result is None:
                raise MilterError("unexpected action %r" % rcmd)
            result.mods.append(self._parse_mod(rcmd, data))

    def _need(self, flag, what):
        if not self.actions & flag:
            raise MilterError("filter sent %s without negotiating it" % what)

    def _parse_mod(self, rcmd, data):
        if rcmd == R_ADDHEADER:
            self._need(F_ADDHDRS, "ADDHEADER")
            name, value = _split_cstrs(data)
            return Mod("addheader", name=name, value=value)
        if rcmd in (R_INSHEADER, R_CHGHEADER):
            self._need(F_ADDHDRS if rcmd == R_INSHEADER else F_CHGHDRS, "INS/CHGHEADER")
            (index,) = struct.unpack(">I", data[:4])
            name, value = _split_cstrs(data[4:])
            return Mod("insheader" if rcmd == R_INSHEADER else "chgheader",
                       index=index, name=name, value=value)
        if rcmd == R_ADDRCPT:
            self._need(F_ADDRCPT, "ADDRCPT")
            return Mod("addrcpt", rcpt=_split_cstrs(data)[0])
        if rcmd == R_ADDRCPT_PAR:
            self._need(F_ADDRCPT_PAR, "ADDRCPT_PAR")
            parts = _split_cstrs(data)
            return Mod("addrcpt_par", rcpt=parts[0], args=parts[1] if len(parts) > 1 else "")
        if rcmd == R_DELRCPT:
            self._need(F_DELRCPT, "DELRCPT")
            return Mod("delrcpt", rcpt=_split_cstrs(data)[0])
        if rcmd == R_QUARANTINE:
            self._need(F_QUARANTINE, "QUARANTINE")
            return Mod("quarantine", reason=_split_cstrs(data)[0])
        if rcmd == R_REPLBODY:
            self._need(F_CHGBODY, "REPLBODY")
            return Mod("replbody", data=data)
        if rcmd == R_CHGFROM:
            self._need(F_CHGFROM, "CHGFROM")
            parts = _split_cstrs(data)
            return Mod("chgfrom", rcpt=parts[0], args=parts[1] if len(parts) > 1 else "")
        raise MilterError("unknown filter reply %r" % rcmd)

    def connect(self, hostname, addr, port=25, family=None, macros=None):
        """SMFIC_CONNECT. family: '4', '6', 'L' (unix; addr = path) or 'U' (unknown)."""
        if family is None:
            family = "6" if ":" in addr else "4"
        data = _cstr(hostname) + family.encode()
        if family in ("4", "6", "L"):
            data += struct.pack(">H", port if family != "L" else 0) + _cstr(addr)
        m = {"j": "mx.test.invalid", "{daemon_name}": "smtpd", "{client_addr}": addr,
             "{client_name}": hostname}
        m.update(macros or {})
        self.connected = True
        return self._command(C_CONNECT, data, m)

    def helo(self, name, macros=None):
        return self._command(C_HELO, _cstr(name), macros)

    def mail(self, sender, args=(), macros=None):
        m = {"{mail_addr}": sender}
        m.update(macros or {})
        return self._command(C_MAIL, _cstr("<%s>" % sender) + b"".join(_cstr(a) for a in args), m)

    def rcpt(self, rcpt, args=(), macros=None):
        m = {"{rcpt_addr}": rcpt}
        m.update(macros or {})
        return self._command(C_RCPT, _cstr("<%s>" % rcpt) + b"".join(_cstr(a) for a in args), m)

    def data(self, macros=None):
        return self._command(C_DATA, b"", macros)

    def header(self, name, value, macros=None):
        """value as it follows the colon in the message (leading space included); the
        MTA strips the leading white space unless the filter asked for HDR_LEADSPC."""
        if not self.leadspc:
            value = value.lstrip(" \t")
        value = value.replace("\r\n", "\n").replace("\n", self.fold)
        return self._command(C_HEADER, _cstr(name) + _cstr(value), macros)

    def eoh(self, macros=None):
        return self._command(C_EOH, b"", macros)

    def body(self, data, result=None):
        """Send body in chunks of at most 64KB. Returns the last Reply; a skip reply
        (SMFIP_SKIP) stops the body."""
        r = Reply("continue")
        for i in range(0, len(data), CHUNK):
            r = self._command(C_BODY, data[i:i + CHUNK], None, result)
            if r.code == "skip" or r.is_terminal():
                break
        return r

    def eom(self, macros=None):
        """SMFIC_BODYEOB; returns a Result with the modifications and the final reply."""
        res = Result()
        self._macros(C_BODYEOB, macros)
        self._send(C_BODYEOB)
        res.reply = self._read_reply(C_BODYEOB, res)
        res.stage = "eom"
        return res

    def abort(self):
        """SMFIC_ABORT: the current message is abandoned; no reply."""
        self._send(C_ABORT)

    # ---- one whole message ----
    def message(self, mail_from, rcpts, headers, body, helo=None, queue_id="4ABCDE1234",
                auth_authen=None, macros=None):
        """Send HELO (when given), MAIL .. EOM for one message on the current SMTP
        connection; stop at the first terminal reply, as an MTA does. headers: list of
        (name, value) with value as after the colon. body: bytes with CRLF line ends.
        Returns a Result; result.stage names the command that gave the final reply."""
        res = Result()
        macros = macros or {}

        def step(stage, r):
            if r.code not in ("skipped", "noreply"):
                res.replies.append((stage, r))
            if r.is_terminal() and r.code not in ("skipped",):
                res.reply, res.stage = r, stage
                return True
            return False

        if helo is not None:
            if step("helo", self.helo(helo, macros.get("helo"))):
                return res
        mm = {"i": queue_id}
        if auth_authen is not None:
            mm["{auth_authen}"] = auth_authen
        mm.update(macros.get("mail", {}))
        if step("mail", self.mail(mail_from, macros=mm)):
            return res
        for r in rcpts:
            if step("rcpt", self.rcpt(r, macros=macros.get("rcpt"))):
                return res
        if step("data", self.data(macros.get("data"))):
            return res
        for name, value in headers:
            if step("header", self.header(name, value)):
                return res
        if step("eoh", self.eoh(macros.get("eoh"))):
            return res
        r = self.body(body, res)
        if r.code != "skip" and step("body", r):
            return res
        eres = self.eom(macros.get("eom"))
        res.mods = eres.mods
        res.progress += eres.progress
        res.reply, res.stage = eres.reply, "eom"
        res.replies.append(("eom", eres.reply))
        return res


# ---- applying header modifications, as the MTA would ----

def _lead(value, leadspc):
    """Header value as it appears after the colon once the MTA writes it out."""
    return value if leadspc else " " + value


def apply_header_mods(headers, mods, leadspc=False, mta="postfix"):
    """Return the header list after the filter's header modifications, applied in order.
    headers: [(name, value-after-colon)] as received (value keeps its leading space).
    - addheader: appended at the end.
    - insheader index i: inserted before the i-th header (0 = top); past the end appends.
    - chgheader index n name value: the n-th (1-based; 0 counts as 1) header of that name
      (case-insensitive) gets value; an empty value deletes it; when there is no n-th
      one, a non-empty value is appended (Sendmail and Postfix both do this).
    mta decides how earlier deletions count: "postfix" skips deleted headers when
    counting (queue-file records marked deleted); "sendmail" keeps counting them (the
    header stays in the list with no value). A filter that deletes in descending index
    order gets the same result from both; tests apply both and compare."""
    cur = [[n, v, False] for n, v in headers]   # name, value, deleted
    for m in mods:
        if m.kind == "addheader":
            cur.append([m.name, _lead(m.value, leadspc), False])
        elif m.kind == "insheader":
            live = [i for i, h in enumerate(cur) if not h[2]]
            pos = live[m.index] if m.index < len(live) else len(cur)
            cur.insert(pos, [m.name, _lead(m.value, leadspc), False])
        elif m.kind == "chgheader":
            want = max(m.index, 1)
            hit = None
            for h in cur:
                if h[0].lower() != m.name.lower():
                    continue
                if h[2] and mta == "postfix":
                    continue
                want -= 1
                if want == 0:
                    hit = h
                    break
            if hit is None:
                if m.value:
                    cur.append([m.name, _lead(m.value, leadspc), False])
            elif m.value == "":
                hit[2] = True
            else:
                hit[1], hit[2] = _lead(m.value, leadspc), False
    return [(n, v) for n, v, d in cur if not d]


def render_headers(headers):
    """The header block as text, CRLF line ends, folds kept."""
    out = []
    for n, v in headers:
        out.append("%s:%s\r\n" % (n, v.replace("\r\n", "\n").replace("\n", "\r\n")))
    return "".join(out)


def unfold(value):
    """RFC 5322 unfolding: remove CRLF/LF before white space."""
    return value.replace("\r\n", "\n").replace("\n\t", "\t").replace("\n ", " ").strip()
