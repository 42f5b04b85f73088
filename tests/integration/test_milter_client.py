#!/usr/bin/python3
"""test_milter_client.py - checks the harness's milter client (tests/lib/satest/milter.py)
against a real libmilter filter, so that every later integration test can trust it.

A tiny filter (C, linked with Debian's libmilter) is compiled at test time into a
temporary directory. It reports what it received (macros, envelope, headers, body size)
in added headers and exercises every modification action, so the test checks both
directions of the wire protocol and the header-application helper. A second mode
negotiates no-reply for headers, the leading-space option and skips HELO, which checks
that the client honours what the filter asks for.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("SA_SRC", "."), "tests/lib"))
from satest import milter  # noqa: E402
from satest.daemon import free_port, wait_listening, stop_pid  # noqa: E402

FILTER_C = r"""
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct priv { char log[2048]; int nhdr; long nbody; int nrcpt; int nmsg; char from[256]; };
static int mode;

static void logf_(SMFICTX *ctx, const char *k, const char *v)
{
    struct priv *p = smfi_getpriv(ctx);
    size_t n = strlen(p->log);
    snprintf(p->log + n, sizeof p->log - n, "%s%s=%s", n ? " " : "", k, v ? v : "(null)");
}

static sfsistat negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                          unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                          unsigned long *pf2, unsigned long *pf3)
{
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT |
                 SMFIF_QUARANTINE | SMFIF_CHGBODY);
    *pf1 = 0;
    if (mode == 2)
        *pf1 = f1 & (SMFIP_NR_HDR | SMFIP_HDR_LEADSPC | SMFIP_NOHELO | SMFIP_NR_CONN);
    *pf2 = *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat connect_cb(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    struct priv *p = calloc(1, sizeof *p);
    smfi_setpriv(ctx, p);
    logf_(ctx, "host", host);
    logf_(ctx, "j", smfi_getsymval(ctx, "j"));
    logf_(ctx, "client_addr", smfi_getsymval(ctx, "{client_addr}"));
    logf_(ctx, "fam", sa ? (sa->sa_family == 2 ? "inet" : "other") : "none");
    return mode == 2 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat helo_cb(SMFICTX *ctx, char *helo)
{
    logf_(ctx, "helo", helo);
    return SMFIS_CONTINUE;
}

static sfsistat mail_cb(SMFICTX *ctx, char **argv)
{
    struct priv *p = smfi_getpriv(ctx);
    p->nhdr = 0; p->nbody = 0; p->nrcpt = 0;
    snprintf(p->from, sizeof p->from, "%s", argv[0]);
    logf_(ctx, "from", argv[0]);
    logf_(ctx, "i", smfi_getsymval(ctx, "i"));
    logf_(ctx, "mail_addr", smfi_getsymval(ctx, "{mail_addr}"));
    if (strstr(argv[0], "early-reject")) {
        smfi_setreply(ctx, "550", "5.7.1", "go away");
        return SMFIS_REJECT;
    }
    return SMFIS_CONTINUE;
}

static sfsistat rcpt_cb(SMFICTX *ctx, char **argv)
{
    struct priv *p = smfi_getpriv(ctx);
    p->nrcpt++;
    logf_(ctx, "rcpt", argv[0]);
    return SMFIS_CONTINUE;
}

static sfsistat header_cb(SMFICTX *ctx, char *name, char *value)
{
    struct priv *p = smfi_getpriv(ctx);
    char b[600];
    p->nhdr++;
    snprintf(b, sizeof b, "[%s]", value);
    if (strcasecmp(name, "Subject") == 0)
        logf_(ctx, "subject", b);
    if (strcasecmp(name, "X-Folded") == 0) {
        for (char *c = b; *c; c++) if (*c == '\n') *c = '|'; else if (*c == '\r') *c = '^';
        logf_(ctx, "folded", b);
    }
    return mode == 2 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat body_cb(SMFICTX *ctx, unsigned char *b, size_t n)
{
    struct priv *p = smfi_getpriv(ctx);
    p->nbody += (long)n;
    return SMFIS_CONTINUE;
}

static sfsistat eom_cb(SMFICTX *ctx)
{
    struct priv *p = smfi_getpriv(ctx);
    char b[64];
    p->nmsg++;
    snprintf(b, sizeof b, "%d/%ld/%d/%d", p->nhdr, p->nbody, p->nrcpt, p->nmsg);
    logf_(ctx, "counts", b);
    logf_(ctx, "eom_i", smfi_getsymval(ctx, "i"));
    smfi_progress(ctx);
    smfi_addheader(ctx, "X-Seen", p->log);
    p->log[0] = 0;
    if (strstr(p->from, "tempfail"))
        return SMFIS_TEMPFAIL;
    if (strstr(p->from, "reject")) {
        smfi_setreply(ctx, "550", "5.7.1", "rejected by test");
        return SMFIS_REJECT;
    }
    smfi_insheader(ctx, 0, "X-Top", mode == 2 ? " lead" : "top");
    smfi_chgheader(ctx, "X-Dup", 2, NULL);       /* delete the 2nd X-Dup */
    smfi_chgheader(ctx, "Subject", 1, "changed");
    smfi_chgheader(ctx, "X-Missing", 1, "appended");
    smfi_addrcpt(ctx, "<new@example.net>");
    smfi_delrcpt(ctx, "<old@example.net>");
    smfi_quarantine(ctx, "held");
    smfi_replacebody(ctx, (unsigned char *)"new body\r\n", 10);
    return SMFIS_ACCEPT;
}

static sfsistat close_cb(SMFICTX *ctx)
{
    free(smfi_getpriv(ctx));
    smfi_setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
    struct smfiDesc d = { "satest", SMFI_VERSION,
        SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_QUARANTINE |
        SMFIF_CHGBODY,
        connect_cb, helo_cb, mail_cb, rcpt_cb, header_cb, NULL, body_cb, eom_cb, NULL,
        close_cb, NULL, NULL, negotiate };
    mode = atoi(argv[2]);
    if (smfi_setconn(argv[1]) == MI_FAILURE || smfi_register(d) == MI_FAILURE)
        return 1;
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
"""

failures = []


def check(what, got, want):
    if got != want:
        failures.append("%s:\n  got  %r\n  want %r" % (what, got, want))


def check_in(what, needle, hay):
    if needle not in hay:
        failures.append("%s: %r not in %r" % (what, needle, hay))


HEADERS = [("From", " a@example.com"), ("X-Dup", " one"), ("Subject", " hello"),
           ("X-Dup", " two"), ("X-Dup", " three"), ("X-Folded", " first\r\n\tsecond")]
BODY = b"line\r\n" * 20000   # 120000 bytes: two chunks


def run_mode1(port):
    with milter.MilterClient("127.0.0.1", port) as m:
        check("negotiated actions", m.actions & milter.F_CHGHDRS, milter.F_CHGHDRS)
        check("leadspc", m.leadspc, False)
        r = m.connect("client.example", "192.0.2.7", port=4567, macros={"j": "mx.local"})
        check("connect reply", r.code, "continue")
        res = m.message("a@example.com", ["b@example.net", "old@example.net"], HEADERS, BODY,
                        helo="helo.example", queue_id="QID1")
        check("reply", res.reply.code, "accept")
        check("stage", res.stage, "eom")
        check("progress", res.progress, 1)
        seen = [v for n, v in res.added_headers() if n == "X-Seen"][0]
        for part in ("host=client.example", "j=mx.local", "client_addr=192.0.2.7",
                     "fam=inet", "helo=helo.example", "from=<a@example.com>", "i=QID1",
                     "mail_addr=a@example.com", "rcpt=<b@example.net>",
                     "rcpt=<old@example.net>", "subject=[hello]",
                     "folded=[first|\tsecond]", "counts=6/120000/2/1", "eom_i=QID1"):
            check_in("X-Seen", part, seen)
        kinds = [mm.kind for mm in res.mods]
        check("mod kinds", kinds, ["addheader", "insheader", "chgheader", "chgheader",
                                   "chgheader", "addrcpt", "delrcpt", "quarantine",
                                   "replbody"])
        check("addrcpt", res.mods[5].rcpt, "<new@example.net>")
        check("delrcpt", res.mods[6].rcpt, "<old@example.net>")
        check("quarantine", res.mods[7].reason, "held")
        check("replbody", res.mods[8].data, b"new body\r\n")
        for mta in ("postfix", "sendmail"):
            got = milter.apply_header_mods(HEADERS, res.mods, leadspc=m.leadspc, mta=mta)
            want = [("X-Top", " top"), ("From", " a@example.com"), ("X-Dup", " one"),
                    ("Subject", " changed"), ("X-Dup", " three"),
                    ("X-Folded", " first\r\n\tsecond"), ("X-Seen", " " + seen),
                    ("X-Missing", " appended")]
            check("headers after mods (%s)" % mta, got, want)

        # Second message on the same connection: nothing carried over.
        res2 = m.message("reject@example.org", ["c@example.net"], [("From", " x@example.org")],
                         b"short\r\n", queue_id="QID2")
        check("2nd reply", (res2.reply.code, res2.reply.text),
              ("replycode", "550 5.7.1 rejected by test"))
        check("2nd smtp", res2.reply.smtp, "550")
        seen2 = [v for n, v in res2.added_headers() if n == "X-Seen"][0]
        check_in("2nd X-Seen", "counts=1/7/1/2", seen2)
        check_in("2nd X-Seen", "i=QID2", seen2)
        if "QID1" in seen2 or "client.example" in seen2:
            failures.append("2nd message saw the 1st: %r" % seen2)

        res4 = m.message("early-reject@example.org", ["c@example.net"], [], b"")
        check("early reject", (res4.stage, res4.reply.code, res4.reply.text),
              ("mail", "replycode", "550 5.7.1 go away"))
        m.abort()  # RSET after the rejected MAIL; the next transaction may follow

        res3 = m.message("tempfail@example.org", ["c@example.net"], [("From", " x@o.example")],
                         b"x\r\n")
        check("tempfail", (res3.reply.code, res3.reply.smtp), ("tempfail", "451"))
    # A new SMTP connection is a new milter connection (as Postfix and Sendmail do).
    with milter.MilterClient("127.0.0.1", port) as m:
        r = m.connect("other.example", "2001:db8::5", port=25)
        check("connect v6", r.code, "continue")
        res5 = m.message("a@example.com", ["b@example.net"], [("Subject", " s")], b"b\r\n",
                         helo="h2")
        seen5 = [v for n, v in res5.added_headers() if n == "X-Seen"][0]
        check_in("new connection", "client_addr=2001:db8::5", seen5)
        check_in("new connection", "counts=1/3/1/1", seen5)


def run_mode2(port):
    with milter.MilterClient("127.0.0.1", port) as m:
        check("mode2 leadspc", m.leadspc, True)
        check("mode2 NR_HDR", m.noreply(milter.C_HEADER), True)
        check("mode2 skips helo", m.skips(milter.C_HELO), True)
        r = m.connect("client.example", "192.0.2.9")
        check("mode2 connect noreply", r.code, "noreply")
        res = m.message("a@example.com", ["b@example.net"], HEADERS, b"x\r\n", helo="nothelo")
        check("mode2 reply", res.reply.code, "accept")
        seen = [v for n, v in res.added_headers() if n == "X-Seen"][0]
        check_in("mode2 leading space kept", "subject=[ hello]", seen)
        if "helo=" in seen:
            failures.append("mode2: HELO sent although the filter skipped it: %r" % seen)
        got = milter.apply_header_mods(HEADERS, res.mods, leadspc=True)
        check("mode2 inserted header keeps its own space", got[0], ("X-Top", " lead"))


def judge_selftest():
    """The case judge must catch what a spoofer would exploit: feed it fabricated
    daemon answers and check that each bad one is reported."""
    from satest import cases as sc
    hdrs = [("Authentication-Results", " other.example; spf=pass"),
            ("Authentication-Results", " mx.test.example; dkim=pass header.d=bank.example"),
            ("Authentication-Results", " (x) MX.TEST.EXAMPLE; dmarc=pass"),
            ("From", " a@a.example")]
    b = sc.Built(hdrs, b"x\r\n", [{"b": "AbCdEfGhIj", "domain": "a.example"}])
    good_ar = "mx.test.example;\n\tspf=pass smtp.mailfrom=a.example;\n\tdkim=pass " \
              "header.d=a.example header.b=AbCdEfGh;\n\tdmarc=pass header.from=a.example"
    exp = {"reply": "accept", "ar": {"spf": {"result": "pass", "smtp.mailfrom": "a.example"},
                                     "dkim": {"result": "pass", "header.b": "{sig:0}"},
                                     "dmarc": "pass"}}

    def result(mods, code="continue"):
        r = milter.Result()
        r.reply, r.stage, r.mods = milter.Reply(code), "eom", mods
        return r

    ins = milter.Mod("insheader", index=0, name="Authentication-Results", value=good_ar)
    d3 = milter.Mod("chgheader", index=3, name="Authentication-Results", value="")
    d2 = milter.Mod("chgheader", index=2, name="Authentication-Results", value="")
    rows = [
        ("correct answer", [d3, d2, ins], exp, 0),
        ("ascending deletes (Postfix and Sendmail differ)", [d2, d3, ins], exp, 1),
        ("one forged field left", [d3, ins], exp, 1),
        ("foreign field deleted", [d3, d2, milter.Mod("chgheader", index=1,
                                                      name="Authentication-Results",
                                                      value=""), ins], exp, 1),
        ("no A-R added", [d3, d2], exp, 1),
        ("wrong result", [d3, d2, milter.Mod("insheader", index=0,
                                             name="Authentication-Results",
                                             value=good_ar.replace("dmarc=pass", "dmarc=fail"))],
         exp, 1),
        ("header.b not from our signature", [d3, d2, milter.Mod(
            "insheader", index=0, name="Authentication-Results",
            value=good_ar.replace("AbCdEfGh", "ZZZZZZZZ"))], exp, 1),
        ("bare LF in added value", [d3, d2, milter.Mod(
            "insheader", index=0, name="Authentication-Results",
            value=good_ar + "\nX-Evil: 1")], exp, 1),
        ("body replaced", [d3, d2, ins, milter.Mod("replbody", data=b"")], exp, 1),
        ("reply tempfail", [d3, d2, ins], dict(exp, reply="accept"), 1),
    ]
    for name, mods, e, want_fail in rows:
        code = "tempfail" if name == "reply tempfail" else "continue"
        rep = sc.evaluate(result(mods, code), b, e, sc.OUR_ID, False)
        got = 1 if rep["failures"] else 0
        if got != want_fail:
            failures.append("judge self-test %r: got %d failures %r, want %s" %
                            (name, len(rep["failures"]), rep["failures"],
                             "some" if want_fail else "none"))


def main():
    judge_selftest()
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc or not os.path.exists("/usr/include/libmilter/mfapi.h"):
        print("test_milter_client: FAIL: needs a C compiler and libmilter-dev")
        return 1
    tmp = tempfile.mkdtemp(prefix="satest-milter-")
    procs = []
    try:
        src = os.path.join(tmp, "filter.c")
        exe = os.path.join(tmp, "filter")
        with open(src, "w") as f:
            f.write(FILTER_C)
        subprocess.run([cc, "-o", exe, src, "-lmilter", "-pthread"], check=True)
        ports = {}
        for mode in (1, 2):
            ports[mode] = free_port()
            log = open(os.path.join(tmp, "filter%d.log" % mode), "w")
            procs.append(subprocess.Popen([exe, "inet:%d@127.0.0.1" % ports[mode], str(mode)],
                                          stdout=log, stderr=log))
        for mode, fn in ((1, run_mode1), (2, run_mode2)):
            wait_listening(ports[mode], procs[mode - 1])
            try:
                fn(ports[mode])
            except milter.MilterError as e:
                failures.append("mode %d: protocol error: %s" % (mode, e))
        # libmilter polls for shutdown every few seconds: signal both, then wait.
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            stop_pid(p)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL", f)
    print("milter client: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
