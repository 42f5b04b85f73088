#!/usr/bin/python3
"""test_ops_privdrop.py - privileges (docs/operations.md): started as root with
milter.user = "nobody", senderauthd opens its socket as root and then runs as nobody
(every uid and gid in /proc/PID/status, no supplementary root group), still answers
messages and still reloads on SIGHUP (the file is readable by nobody); a unix socket gets
milter.socket_mode and milter.socket_owner; an unknown milter.user stops the start with
an error instead of running as root. Needs root: otherwise prints the skip reason and
passes. Prints one line per check and `privdrop: N passed, M failed`.
"""
import grp
import os
import pwd
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("SA_SRC", "."), "tests/lib"))
from satest.checks import Checks  # noqa: E402
from satest.daemon import Senderauthd, daemon_path, libconfig_text, stop_pid  # noqa: E402
from satest.milter import MilterClient  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

RECS = [("sender.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")]


def ids(pid):
    """(uids, gids, groups) from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return ([int(x) for x in out["Uid"]], [int(x) for x in out["Gid"]],
            [int(x) for x in out.get("Groups", [])])


def wait_for(pred, proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.02)  # poll interval, not a timing assumption
    return True


def main():
    ck = Checks()
    if os.geteuid() != 0:
        print("skip: not root (the privilege drop needs a root start)")
        return 0
    nobody = pwd.getpwnam("nobody")
    nogroup = grp.getgrgid(nobody.pw_gid).gr_name
    with Nsd(RECS) as ns:
        # 1. inet socket, milter.user = nobody: ids, a message, a reload
        work = tempfile.mkdtemp(prefix="satest-priv-")
        os.chmod(work, 0o755)  # nobody must read the config on SIGHUP
        with Senderauthd(ns.port, workdir=work, conf={"milter": {"user": "nobody"},
                                                      "log": {"level": "info"}}) as d:
            os.chmod(d.conf_path, 0o644)
            # The port accepts once the socket is open, before the drop; "listening on"
            # is logged after it.
            ck.check("started", wait_for(lambda: "listening on" in d.log_text(), d.proc),
                     d.log_tail(6))
            uids, gids, groups = ids(d.proc.pid)
            ck.check("runs as nobody: Uid %s" % uids, uids == [nobody.pw_uid] * 4)
            ck.check("runs with nobody's group: Gid %s" % gids, gids == [nobody.pw_gid] * 4)
            ck.check("no root group left: Groups %s" % groups, 0 not in groups)
            with MilterClient("127.0.0.1", d.port) as m:
                m.connect("mail.sender.example", "192.0.2.10")
                r = m.message(mail_from="a@sender.example", rcpts=["b@rcpt.example"],
                              headers=[("From", " <a@sender.example>")], body=b"hi\r\n",
                              helo="mail.sender.example")
                ar = [v for n, v in r.added_headers() if n == "Authentication-Results"]
                ck.check("a message after the drop gets spf=pass",
                         len(ar) == 1 and "spf=pass" in ar[0], repr(r))
            d.conf["authserv_id"] = "after.drop.example"
            d.write_conf()
            os.chmod(d.conf_path, 0o644)
            d.proc.send_signal(signal.SIGHUP)
            ck.check("reload as nobody",
                     wait_for(lambda: "reloaded " in d.log_text(), d.proc), d.log_tail(6))
        # 2. unix socket: mode and owner, set before the drop
        work2 = tempfile.mkdtemp(prefix="satest-priv-")
        sock = os.path.join(work2, "milter.sock")
        conf = {"authserv_id": "mx.test.example",
                "milter": {"socket": "unix:" + sock, "socket_mode": "0660",
                           "socket_owner": "nobody:" + nogroup, "user": "nobody"},
                "dns": {"nameservers": ["127.0.0.1:%d" % ns.port]},
                "trusted_networks": [], "log": {"level": "info"}}
        path = os.path.join(work2, "senderauth.conf")
        with open(path, "w") as f:
            f.write(libconfig_text(conf) + "\n")
        log = open(os.path.join(work2, "log"), "wb")
        p = subprocess.Popen([daemon_path(), "-f", "-c", path], stdout=log, stderr=log,
                             stdin=subprocess.DEVNULL)
        try:
            up = wait_for(lambda: "listening on" in open(log.name).read(), p)
            ck.check("unix socket daemon started", up, open(log.name).read())
            if up:
                st = os.stat(sock)
                ck.check("socket mode 0660: got %o" % stat.S_IMODE(st.st_mode),
                         stat.S_IMODE(st.st_mode) == 0o660)
                ck.check("socket owner nobody:%s: got %d:%d" % (nogroup, st.st_uid, st.st_gid),
                         st.st_uid == nobody.pw_uid and st.st_gid == nobody.pw_gid)
                ck.check("unix socket daemon runs as nobody",
                         ids(p.pid)[0] == [nobody.pw_uid] * 4)
        finally:
            stop_pid(p)
            log.close()
        # 3. an unknown user: no start, and never as root
        conf["milter"] = {"socket": "inet:%d@127.0.0.1" % Senderauthd(ns.port).port,
                          "user": "no-such-user-sa"}
        with open(path, "w") as f:
            f.write(libconfig_text(conf) + "\n")
        r = subprocess.run([daemon_path(), "-f", "-c", path], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        ck.check("unknown milter.user: exit %d, not 0" % r.returncode, r.returncode != 0,
                 r.stderr[-400:])
        ck.check("unknown milter.user named in the log",
                 re.search(r"no user no-such-user-sa", r.stderr) is not None, r.stderr[-400:])
    return ck.finish("privdrop")


if __name__ == "__main__":
    sys.exit(main())
