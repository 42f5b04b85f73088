#!/usr/bin/python3
"""test_badge_rules.py - the warning and trust-mark rules and the domain lists through a
real senderauthd (docs/webmail-headers.md), beyond the documented examples:

- the warning for every recipient, at p=none, never for unlisted domains, and for
  p=quarantine/reject with headers.warn_on_enforcing_policy;
- forged X-Senderauth-* fields in any case, position and number, and forged copies of
  configured names, removed (also on messages that are not checked);
- configured names and warning value;
- a bad list line logged as FILE:LINE while the rest loads;
- list reload while running: the file rewritten with a new mtime is seen by the next
  message (reload_interval 0), and with a long interval only SIGUSR1 makes a rewrite
  that keeps size and mtime visible.

Uses the scenarios, zone and reader of test_badge_examples.py. Prints one line per
check and `badge: N passed, M failed`.
"""
import importlib.util
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("badge_examples",
                                               os.path.join(HERE, "test_badge_examples.py"))
bx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bx)

from satest import milter  # noqa: E402
from satest.daemon import DaemonError  # noqa: E402

EX = {s["name"]: s for s in bx.EXAMPLES}


def scen(base, **kw):
    s = dict(EX[base])
    s.update(kw)
    return s


class Runner:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, env, s, names=bx.NAMES, **want):
        """Send s; compare read_block's fields with want (and the contract checks)."""
        try:
            res, final, _ = env.send(s)
            f = bx.check_expect(dict(s, expect=want), res, final, names=names)
        except (milter.MilterError, OSError, AssertionError) as e:
            f, final = ["%s" % e], []
        return self.report(name, f, final, env)

    def report(self, name, f, final=(), env=None):
        if f:
            self.failed += 1
            print("FAIL %s\n  - %s\n%s%s" % (name, "\n  - ".join(f), bx.render(final),
                                            env.d.log_tail(8) if env and env.d else ""))
            return False
        self.passed += 1
        print("ok   %s" % name)
        return True


def rewrite(path, text, mtime=None):
    """Replace the list file's content in place; set its mtime when given."""
    with open(path, "w") as f:
        f.write(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def default_daemon(r):
    warn = bx.WARNING_LIST + "bad entry here\n" + "b\u00e4nk.example\n"
    with bx.Env(warning_list=warn) as env:
        log = env.d.log_text()
        f = []
        for line in ("warning.list:4: more than one word", "warning.list:5: 8-bit name"):
            if line not in log:
                f.append("log lacks %r" % line)
        r.report("bad list lines logged as FILE:LINE, the rest loads", f, env=env)
        r.check("listed, p=none, dmarc fail: warning", env, EX["spoofed-listed"],
                level="fail", warning=True, trustmark=False)
        r.check("warning for all recipients (three of them)", env,
                scen("spoofed-listed", rcpt=["a@mx.test.example", "b@mx.test.example",
                                             "c@mx.test.example"]),
                level="fail", warning=True)
        r.check("subdomain of a '.bank.example' entry: warning", env,
                scen("spoofed-listed", headers=bx.hdrs("Bank <x@secure.bank.example>")),
                level="fail", warning=True, **{"from": "secure.bank.example"})
        r.check("unlisted p=quarantine forwarded: no warning", env, EX["forwarded"],
                level="fail", warning=False)
        r.check("unlisted p=reject spoofed: no warning by default", env,
                scen("spoofed-listed", headers=bx.hdrs("Shop <orders@shop.example>")),
                level="fail", warning=False, **{"from": "shop.example"})
        r.check("trust mark basis=dmarc", env, EX["legitimate"], level="listed",
                trustmark=True, basis="dmarc")
        r.check("trust mark basis=author-signature", env, EX["author-signature"],
                level="listed", trustmark=True, basis="author-signature")
        r.check("trust-mark domain spoofed (no DMARC record, unsigned): no mark", env,
                scen("spoofed-listed", headers=bx.hdrs("City <desk@city.example>")),
                level="none", trustmark=False, warning=False)
        r.check("each level: dmarc-monitor", env, EX["dmarc-monitor"], level="dmarc-monitor")
        r.check("each level: dmarc-enforced", env, EX["dmarc-enforced"], level="dmarc-enforced")
        r.check("each level: none", env, EX["no-dmarc"], level="none")
        r.check("each level: fail (no DMARC, SPF fail, unsigned)", env, EX["auth-fail-no-dmarc"],
                level="fail")
        forged = ["X-Senderauth-Trust: level=listed; from=bank.example",
                  "x-senderauth-trust: level=bimi",
                  "X-SENDERAUTH-RESULT: pass",
                  "X-Senderauth-Trustmark: from=bank.example; basis=dmarc",
                  "X-Senderauth-Other: anything"]
        many = ["X-Senderauth-Result: none"] * 40
        r.check("forged fields of every case, position and number removed", env,
                scen("legitimate", headers=forged + bx.hdrs("Bank <info@bank.example>",
                                                            subject="Your statement") + many),
                level="listed", trustmark=True, warning=False)
        r.check("forged fields removed on a message that is not checked", env,
                scen("not-checked", headers=forged + bx.hdrs("info@bank.example")),
                level=None)

        # Reload while running (reload_interval 0): the next message sees the new file.
        rewrite(env.warn_path, "# bank.example removed, news.example added\nnews.example\n",
                mtime=2000000000)
        r.check("reload: bank.example no longer listed", env, EX["spoofed-listed"],
                level="fail", warning=False)
        r.check("reload: news.example now listed (mailing-list post warns)", env,
                EX["mailing-list"], level="fail", warning=True)
        rewrite(env.mark_path, "# empty now\n", mtime=2000000001)
        r.check("reload: trust-mark list emptied, legitimate is dmarc-monitor", env,
                EX["legitimate"], level="dmarc-monitor", trustmark=False)
        os.unlink(env.mark_path)
        r.check("reload: list file removed keeps the previous (empty) list", env,
                EX["legitimate"], level="dmarc-monitor", trustmark=False)
        rewrite(env.mark_path, "bank.example\n", mtime=2000000002)
        r.check("reload: list file back", env, EX["legitimate"], level="listed",
                trustmark=True)
        log = env.d.log_text()
        r.report("reload logged", [] if "cannot read the list" in log and "reloaded" in log
                 else ["log lacks the reload lines"], env=env)


def sigusr1_daemon(r):
    with bx.Env(conf={"lists": {"reload_interval": 3600}}) as env:
        r.check("usr1: listed before", env, EX["spoofed-listed"], level="fail", warning=True)
        st = os.stat(env.warn_path)
        # Same size, same mtime: only an explicit request can notice.
        text = bx.WARNING_LIST.replace("bank.example", "bonk.example")
        assert len(text) == len(bx.WARNING_LIST)
        rewrite(env.warn_path, text)
        os.utime(env.warn_path, ns=(st.st_atime_ns, st.st_mtime_ns))
        r.check("usr1: rewrite not seen within the interval", env, EX["spoofed-listed"],
                level="fail", warning=True)
        env.d.proc.send_signal(signal.SIGUSR1)
        r.check("usr1: SIGUSR1 reloads the list", env, EX["spoofed-listed"], level="fail",
                warning=False)


def enforcing_daemon(r):
    with bx.Env(conf={"headers": {"warn_on_enforcing_policy": True}}) as env:
        r.check("warn_on_enforcing: unlisted p=quarantine warns", env, EX["forwarded"],
                level="fail", warning=True)
        r.check("warn_on_enforcing: unlisted p=none does not", env, EX["mailing-list"],
                level="fail", warning=False)
        r.check("warn_on_enforcing: listed p=none still warns", env, EX["spoofed-listed"],
                level="fail", warning=True)


def custom_names_daemon(r):
    names = {"trust": "X-Isp-Trust", "warning": "X-Cnci-Warning", "warning_value": "spoofed",
             "trustmark": "X-Isp-Mark"}
    conf = {"headers": {"trust_name": names["trust"], "warning_name": names["warning"],
                        "warning_value": names["warning_value"],
                        "trustmark_name": names["trustmark"]}}
    with bx.Env(conf=conf) as env:
        forged = ["X-Cnci-Warning: none", "x-isp-trust: level=listed; from=bank.example",
                  "X-Isp-Mark: from=bank.example; basis=dmarc", "X-Senderauth-Trust: level=bimi"]
        s = scen("spoofed-listed", headers=forged + bx.hdrs("Bank <info@bank.example>"))
        r.check("custom names: warning value and forged copies removed", env, s, names=names,
                level="fail", warning=True, trustmark=False)
        r.check("custom names: trust mark", env, EX["legitimate"], names=names, level="listed",
                trustmark=True, basis="dmarc")


def main():
    r = Runner()
    for part in (default_daemon, sigusr1_daemon, enforcing_daemon, custom_names_daemon):
        try:
            part(r)
        except (DaemonError, AssertionError, OSError) as e:
            r.report(part.__name__, ["%s" % e])
    print("badge: %d passed, %d failed" % (r.passed, r.failed))
    return 1 if r.failed or not r.passed else 0


if __name__ == "__main__":
    sys.exit(main())
