"""pg.py - a throwaway PostgreSQL server (Debian's postgresql-15) for tests.

Creates a cluster with initdb in a temporary directory, starts `postgres` in the
foreground on 127.0.0.1 at a free port (and a unix socket in the same directory), trust
authentication, creates one database and hands back a libpq conninfo. The server is
stopped by its pid (fast shutdown, then SIGKILL) and the directory removed. The
system-wide postgresql service plays no part: nothing is read from /etc/postgresql and
nothing listens on 5432.

PostgreSQL refuses to run as root, so under root the cluster is owned by the `postgres`
system user and its programs run through `runuser -u postgres --`.

Usage:
    with Pg() as pg:
        conninfo = pg.conninfo          # "host=127.0.0.1 port=NNNNN dbname=satest user=postgres"
        pg.sql("SELECT 1")              # through psql, returns stdout
        pg.halt(); pg.resume()          # a server restart, same port and data
"""
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from .nsd import free_port


def pg_bindir():
    """The newest /usr/lib/postgresql/N/bin that has initdb and postgres, or None."""
    found = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        if os.access(os.path.join(d, "initdb"), os.X_OK) and \
                os.access(os.path.join(d, "postgres"), os.X_OK):
            try:
                found.append((int(d.split("/")[-2]), d))
            except ValueError:
                pass
    return max(found)[1] if found else None


def missing():
    """Why a server cannot be started here, or None."""
    if pg_bindir() is None:
        return "PostgreSQL server programs (postgresql-15: initdb, postgres) not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no 'postgres' user to own the cluster"
        if shutil.which("runuser") is None:
            return "runuser not found"
    if shutil.which("psql") is None:
        return "psql (postgresql-client) not installed"
    return None


class Pg:
    def __init__(self, dbname="satest"):
        self.bindir = pg_bindir()
        self.dbname = dbname
        self.dir = None
        self.proc = None
        self.port = None
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.getuid()).pw_name

    def _as_owner(self, argv):
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--"] + argv
        return argv

    @property
    def conninfo(self):
        return "host=127.0.0.1 port=%d dbname=%s user=%s" % (self.port, self.dbname, self.user)

    @property
    def socket_conninfo(self):
        return "host=%s port=%d dbname=%s user=%s" % (self.dir, self.port, self.dbname, self.user)

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="satest-pg-")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        data = os.path.join(self.dir, "data")
        subprocess.run(self._as_owner([os.path.join(self.bindir, "initdb"), "-D", data,
                                       "--auth=trust", "--username=" + self.user,
                                       "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.port = free_port()
        self._run_server()
        subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                        self.dbname], check=True)
        return self

    def _run_server(self):
        data = os.path.join(self.dir, "data")
        self.log = open(os.path.join(self.dir, "server.log"), "a")
        os.chmod(self.log.name, 0o666)
        self.proc = subprocess.Popen(
            self._as_owner([os.path.join(self.bindir, "postgres"), "-D", data,
                            "-h", "127.0.0.1", "-p", str(self.port), "-k", self.dir,
                            "-c", "fsync=off", "-c", "synchronous_commit=off",
                            "-c", "full_page_writes=off", "-c", "max_connections=100",
                            "-c", "listen_addresses=127.0.0.1"]),
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self):
        isready = os.path.join(self.bindir, "pg_isready")
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited: %s" % self.server_log())
            r = subprocess.run([isready, "-q", "-h", "127.0.0.1", "-p", str(self.port)])
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("postgres not ready: %s" % self.server_log())

    def server_log(self):
        try:
            with open(os.path.join(self.dir, "server.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def sql(self, text):
        """Run SQL through psql; returns its unaligned, tuples-only stdout."""
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                            "-d", self.dbname, "-c", text],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("psql: %s" % r.stderr.strip())
        return r.stdout

    def halt(self):
        """Stop the server but keep its data: resume() starts it again on the same port."""
        self._stop_server()

    def resume(self):
        self._run_server()

    def _stop_server(self):
        if self.proc is not None:
            pid = self.postmaster_pid()
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGINT)  # fast shutdown
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            self.proc = None
            self.log.close()

    def stop(self):
        self._stop_server()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
