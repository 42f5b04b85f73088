"""daemon.py - run senderauthd for a test: generated config, loopback port, log file.

    with Senderauthd(dns_port=ns.port, conf={"on_error": "tempfail"}) as d:
        with MilterClient("127.0.0.1", d.port) as m: ...
        d.log_text()   # what the daemon wrote to stderr so far

The binary is $SA_BUILD/senderauthd. The config is libconfig text generated from a
nested dict (DEFAULT_CONF updated by `conf`; a value None removes a key), so a test
names only what it changes. The daemon runs in the foreground (-f) and is stopped by
pid: SIGTERM, a bounded wait, then SIGKILL -- which counts as a failure.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

from .nsd import free_port  # noqa: F401  (re-exported for tests)

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

AUTHSERV_ID = "mx.test.example"

# The keys follow src/conf/conf_keys.c; the shipped conf/senderauth.conf documents them.
DEFAULT_CONF = {
    "authserv_id": AUTHSERV_ID,
    "milter": {"socket": None, "timeout": 30},
    "dns": {"nameservers": None, "timeout": 2, "retries": 1},
    "trusted_networks": [],
    "on_error": "accept",
    "log": {"level": "debug"},
}


class DaemonError(Exception):
    pass


def build_dir():
    return os.environ.get("SA_BUILD") or os.path.join(os.environ.get("SA_SRC", "."), "build")


def daemon_path():
    return os.path.join(build_dir(), "senderauthd")


def _merge(base, over):
    out = dict(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return '"%s"' % s


def libconfig_text(d, indent=0):
    """Nested dict -> libconfig syntax. Lists become arrays of scalars."""
    pad = "    " * indent
    out = []
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict):
            out.append("%s%s = {" % (pad, k))
            out.append(libconfig_text(v, indent + 1))
            out.append("%s};" % pad)
        elif isinstance(v, (list, tuple)):
            out.append("%s%s = [ %s ];" % (pad, k, ", ".join(_scalar(x) for x in v)))
        else:
            out.append("%s%s = %s;" % (pad, k, _scalar(v)))
    return "\n".join(x for x in out if x)


def wait_listening(port, proc=None, host="127.0.0.1", timeout=START_TIMEOUT, log=None):
    """Poll-connect until the port accepts (bounded). Fails early if proc exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise DaemonError("process exited with %s before listening%s" %
                              (proc.returncode, _tail(log)))
        try:
            s = socket.create_connection((host, port), timeout=0.5)
            s.close()
            return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise DaemonError("port %d not accepting after %.0fs%s" % (port, timeout, _tail(log)))
        time.sleep(0.02)  # poll interval, not a timing assumption


def stop_pid(proc, timeout=STOP_TIMEOUT):
    """SIGTERM, bounded wait, SIGKILL (and raise) when it does not exit."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise DaemonError("pid %d ignored SIGTERM for %.0fs; killed" % (proc.pid, timeout))


def _tail(path, n=40):
    if not path:
        return ""
    try:
        with open(path, errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return ""
    return "\n--- %s (last %d lines) ---\n%s" % (path, n, "".join(lines[-n:]))


class Senderauthd:
    """senderauthd on inet:<free port>@127.0.0.1 using the DNS server at dns_port."""

    def __init__(self, dns_port, conf=None, binary=None, workdir=None, extra_args=()):
        self.dns_port = dns_port
        self.binary = binary or daemon_path()
        self.port = free_port()
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="satest-sad-")
        self.conf_path = os.path.join(self.dir, "senderauth.conf")
        self.log_path = os.path.join(self.dir, "senderauthd.log")
        self.conf = _merge(DEFAULT_CONF, {
            "milter": {"socket": "inet:%d@127.0.0.1" % self.port},
            "dns": {"nameservers": ["127.0.0.1:%d" % dns_port]},
        })
        self.conf = _merge(self.conf, conf)
        self.extra_args = list(extra_args)
        self.proc = None
        self._log = None

    @property
    def authserv_id(self):
        return self.conf.get("authserv_id")

    def write_conf(self):
        with open(self.conf_path, "w") as f:
            f.write("# generated by tests/lib/satest/daemon.py\n")
            f.write(libconfig_text(self.conf) + "\n")

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise DaemonError("no senderauthd at %s (build it first; SA_BUILD=%s)" %
                              (self.binary, build_dir()))
        self.write_conf()
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-f", "-c", self.conf_path] + self.extra_args,
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, cwd=self.dir)
        try:
            wait_listening(self.port, self.proc, log=self.log_path)
        except DaemonError:
            self.stop(check=False)
            raise
        return self

    def stop(self, check=True):
        rc = None
        if self.proc is not None:
            try:
                rc = stop_pid(self.proc)
            finally:
                self.proc = None
                if self._log:
                    self._log.close()
                    self._log = None
            if check and rc not in (0, -signal.SIGTERM):
                raise DaemonError("senderauthd exited with %s%s" % (rc, _tail(self.log_path)))
        return rc

    def signal_stop(self):
        """SIGTERM without waiting (stop_all signals every daemon first, then waits:
        libmilter notices a stop request only every few seconds)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=40):
        return _tail(self.log_path, n)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        try:
            self.stop(check=exc_type is None)
        finally:
            if self.own_dir and exc_type is None and not os.environ.get("SA_KEEP"):
                import shutil
                shutil.rmtree(self.dir, ignore_errors=True)


def stop_all(daemons):
    """Stop several daemons in parallel; returns the error texts (empty = all clean)."""
    for d in daemons:
        d.signal_stop()
    errs = []
    for d in daemons:
        try:
            d.stop()
        except DaemonError as e:
            errs.append(str(e))
    return errs
