"""daemon.py - run senderauthd for a test: generated config, loopback port, log file.

    with Senderauthd(dns_port=ns.port, conf={"on_error": "tempfail"}) as d:
        with MilterClient("127.0.0.1", d.port) as m: ...
        d.log_text()   # what the daemon wrote to stderr so far

The binary is $SA_BUILD/senderauthd. The config is libconfig text generated from a
nested dict (DEFAULT_CONF updated by `conf`; a value None removes a key), so a test
names only what it changes. The daemon runs in the foreground (-f) and is stopped by
pid: SIGTERM, a bounded wait, then SIGKILL -- which counts as a failure.

With SA_VALGRIND=1 the daemon runs under valgrind memcheck (suppressions in
tests/lib/valgrind.supp) and stop() fails when the log shows any error or any definite
or indirect leak. Bounded waits are multiplied by SA_TIMEOUT_SCALE (default 1, or 10
under valgrind): use scaled() for a test's own waits on the daemon.
"""
import glob
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

from .nsd import free_port  # noqa: F401  (re-exported for tests)

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

VALGRIND_ARGS = ["valgrind", "--tool=memcheck", "--leak-check=full",
                 "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
                 "--error-exitcode=99", "--track-fds=no", "--num-callers=30"]

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


def valgrind_enabled():
    return os.environ.get("SA_VALGRIND", "") not in ("", "0")


def timeout_scale():
    """SA_TIMEOUT_SCALE, or 10 under SA_VALGRIND (memcheck runs code 10-50 times slower)."""
    try:
        return max(1.0, float(os.environ["SA_TIMEOUT_SCALE"]))
    except (KeyError, ValueError):
        return 10.0 if valgrind_enabled() else 1.0


def scaled(seconds):
    """A bounded wait on the daemon, stretched by timeout_scale()."""
    return seconds * timeout_scale()


def valgrind_command(argv, log_pattern):
    """argv under memcheck (when SA_VALGRIND is set), logging to log_pattern (%p = pid)."""
    if not valgrind_enabled():
        return list(argv)
    src = os.environ.get("SA_SRC") or os.path.join(os.path.dirname(__file__), "..", "..", "..")
    supp = os.path.abspath(os.path.join(src, "tests", "lib", "valgrind.supp"))
    return VALGRIND_ARGS + ["--suppressions=" + supp, "--log-file=" + log_pattern] + list(argv)


def valgrind_problems(paths):
    """The memcheck logs -> a list of texts, one per log with an error, a definite or
    indirect leak, or no final summary (the run was cut short); [] when all are clean."""
    out = []
    for path in paths:
        with open(path, errors="replace") as f:
            text = f.read()
        m = re.findall(r"ERROR SUMMARY: ([0-9,]+) errors", text)
        leaks = re.findall(r"(?:definitely|indirectly) lost: ([0-9,]+) bytes", text)
        if not m:
            out.append("%s: no ERROR SUMMARY (valgrind did not finish)\n%s" % (path, text[-3000:]))
        elif m[-1] != "0" or any(x != "0" for x in leaks):
            # The records between the banner and the summaries are the errors and leaks.
            body = text.split("HEAP SUMMARY:")[0]
            leak = text[text.find("HEAP SUMMARY:"):] if "HEAP SUMMARY:" in text else ""
            out.append("%s: %s errors\n%s\n%s" % (path, m[-1], body[-6000:], leak[-6000:]))
    return out


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


def wait_listening(port, proc=None, host="127.0.0.1", timeout=None, log=None, path=None):
    """Poll-connect until the TCP port (or, with path, the unix socket) accepts
    (bounded). Fails early if proc exits."""
    timeout = scaled(START_TIMEOUT) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    what = path if path is not None else "port %d" % port
    while True:
        if proc is not None and proc.poll() is not None:
            raise DaemonError("process exited with %s before listening%s" %
                              (proc.returncode, _tail(log)))
        if path is not None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                              socket.SOCK_STREAM)
        try:
            s.settimeout(0.5)
            s.connect(path if path is not None else (host, port))
            return
        except OSError:
            pass
        finally:
            s.close()
        if time.monotonic() > deadline:
            raise DaemonError("%s not accepting after %.0fs%s" % (what, timeout, _tail(log)))
        time.sleep(0.02)  # poll interval, not a timing assumption


def wait_unix(path, proc=None, timeout=None, log=None):
    """wait_listening for the unix socket at path."""
    return wait_listening(None, proc, timeout=timeout, log=log, path=path)


def stop_pid(proc, timeout=None):
    """SIGTERM, bounded wait, SIGKILL (and raise) when it does not exit."""
    timeout = scaled(STOP_TIMEOUT) if timeout is None else timeout
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
    """senderauthd on inet:<free port>@127.0.0.1 using the DNS server at dns_port (or on
    the conf's milter.socket when that is "unix:PATH")."""

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
        self._runs = 0
        self.keep_dir = False

    @property
    def unix_path(self):
        """The path of milter.socket when it is "unix:PATH" (waited on instead of the port)."""
        spec = (self.conf.get("milter") or {}).get("socket") or ""
        return spec[5:] if spec.startswith("unix:") else None

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
        self._runs += 1
        argv = valgrind_command([self.binary, "-f", "-c", self.conf_path] + self.extra_args,
                                self._valgrind_pattern())
        self.proc = subprocess.Popen(argv,
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, cwd=self.dir)
        try:
            if self.unix_path:
                wait_unix(self.unix_path, self.proc, log=self.log_path)
            else:
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
            if check and valgrind_enabled():  # first: its report says why the exit was 99
                bad = valgrind_problems(self.valgrind_logs())
                if bad:
                    self.keep_dir = True
                    raise DaemonError("senderauthd under valgrind:\n" + "\n".join(bad))
            if check and rc not in (0, -signal.SIGTERM):
                raise DaemonError("senderauthd exited with %s%s" % (rc, _tail(self.log_path)))
        return rc

    def _valgrind_pattern(self):
        return os.path.join(self.dir, "valgrind-%d.%%p.log" % self._runs)

    def valgrind_logs(self):
        """The memcheck logs of the latest run (one per process; [] without SA_VALGRIND)."""
        return sorted(glob.glob(os.path.join(self.dir, "valgrind-%d.*.log" % self._runs)))

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
            if (self.own_dir and exc_type is None and not self.keep_dir and
                    not os.environ.get("SA_KEEP")):
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
