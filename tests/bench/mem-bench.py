#!/usr/bin/python3
"""mem-bench.py - senderauthd's memory with 1,000 open connections (a benchmark, not a test).

Owns: one measurement. It starts NSD with the benchmark corpus's records and one
senderauthd (shipped defaults, as run-bench.py starts it), then milter-load -H opens N
connections (default 1,000) at once; each sends one 2 KB corpus message and stops its
second one just before end-of-message. With every connection held open mid-message it
reads senderauthd's /proc: VmHWM, VmRSS, thread count, smaps_rollup (anonymous vs file
pages) and the [heap] / thread-stack split from smaps; then the messages complete and
it checks that there were no errors and no refused connections. Prints one JSON object.
With --idle the connections are held open between their two messages instead; with
--sustained SECONDS they are kept busy (10 messages each, reconnecting) and sampled.
Does not own: the side-by-side benchmark (run-bench.py, whose helpers it reuses).

  SA_SRC=. /usr/bin/python3 tests/bench/mem-bench.py [--conns 1000] [--hold 3]
      [--size 2k] [--idle] [--env NAME=VALUE ...] [--build DIR] [--engine libmilter]

Needs no root (NSD on a free high port); about 2 GB of address space for the load
generator's threads. Results go by hand into docs/performance.md (Memory section).
"""
import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("run_bench", os.path.join(HERE, "run-bench.py"))
rb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rb)


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "Threads", "VmSize"):
                out[k] = int(v.split()[0])
    return out


ARENA_ALIGN = 64 << 20  # glibc HEAP_MAX_SIZE on 64-bit: thread arenas are aligned to it


def smaps_split(pid):
    """Resident kB by kind of mapping: the main heap, glibc malloc arenas of the other
    threads (anonymous, 64 MB-aligned), thread stacks (anonymous with a one-page guard
    just below, as glibc makes them), other anonymous (libraries' bss, big mmap'd
    blocks), file-backed; and how many arenas and stacks there are."""
    kinds = {"heap": 0, "arenas": 0, "stacks": 0, "anon_other": 0, "file": 0,
             "stack_maps": 0, "arena_maps": 0}
    prev_end, prev_guard = None, False
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                perms, path = head[1], (head[5] if len(head) > 5 else "")
                if path == "[heap]":
                    cur = "heap"
                elif path.startswith("/"):
                    cur = "file"
                elif path == "" and lo % ARENA_ALIGN == 0 and perms.startswith("rw"):
                    cur = "arenas"
                    kinds["arena_maps"] += 1
                elif path == "" and prev_guard and prev_end == lo and perms.startswith("rw"):
                    cur = "stacks"
                    kinds["stack_maps"] += 1
                else:
                    cur = "anon_other"
                prev_guard = perms == "---p" and path == "" and hi - lo <= 65536
                prev_end = hi
            elif head[0] == "Rss:" and cur:
                kinds[cur] += int(head[1])
    return kinds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=3.0, help="seconds held mid-message")
    ap.add_argument("--size", default="2k")
    ap.add_argument("--sustained", type=float, default=0, metavar="SECONDS",
                    help="instead of holding: keep the connections busy this long (10 messages "
                    "per connection, as run-bench.py's 1,000-connection point), sampling "
                    "/proc every 0.5 s")
    ap.add_argument("--idle", action="store_true",
                    help="hold the connections between their two messages, not mid-message")
    ap.add_argument("--build", default=None, help="build dir (default $SA_BUILD or build-bench)")
    ap.add_argument("--env", action="append", default=[],
                    help="NAME=VALUE for senderauthd's environment (e.g. MALLOC_ARENA_MAX=8)")
    ap.add_argument("--conf", default=None, help="JSON object merged into the daemon config")
    ap.add_argument("--binary", default=None,
                    help="run this instead of BUILD/senderauthd (e.g. a script that execs it "
                    "under valgrind --tool=massif)")
    ap.add_argument("--engine", choices=("native", "libmilter"), default="native",
                    help="senderauthd's milter.engine")
    a = ap.parse_args()
    rb.ENGINE = a.engine
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    build_dir = os.path.abspath(a.build or os.environ.get("SA_BUILD")
                                or os.path.join(rb.SRC, "build-bench"))
    work = tempfile.mkdtemp(prefix="mem-bench-")
    exe = rb.build(build_dir, work)
    cdir = os.path.join(work, "corpus")
    manifest = rb.bench_corpus.build(cdir)
    recs = [tuple(r) for r in manifest["records"]]
    conf = {"trusted_networks": [], "skip_authenticated": True, "log": {"level": "info"},
            "milter": {"timeout": 120, "engine": rb.ENGINE}, "dns": {"timeout": 5, "retries": 2}}
    if a.conf:
        conf = rb.sadaemon._merge(conf, json.loads(a.conf))
    for kv in a.env:
        k, _, v = kv.partition("=")
        os.environ[k] = v
    out = {"conns": a.conns, "size": a.size, "held_at": "idle" if a.idle else "mid-message", "env": a.env, "conf": a.conf,
           "when": time.strftime("%Y-%m-%d %H:%M %Z"),
           "loadavg": open("/proc/loadavg").read().split()[0]}
    with rb.Nsd(recs, port=rb.free_port()) as ns:
        d = rb.sadaemon.Senderauthd(dns_port=ns.port, conf=conf,
                                    binary=a.binary or os.path.join(build_dir, "senderauthd"),
                                    workdir=os.path.join(work, "senderauthd"))
        os.makedirs(d.dir, exist_ok=True)
        d.start()
        try:
            pid = d.proc.pid
            # warm the DNS cache and the process's one-time allocations
            w = subprocess.run([exe, "-c", "4", "-m", "5", "-n", "64", "-Q", "-f",
                                "127.0.0.1:%d" % d.port, os.path.join(cdir, a.size)],
                               capture_output=True, text=True, check=True)
            out["warm"] = json.loads(w.stdout)["errors"]
            out["idle"] = proc_status(pid)
            if a.sustained > 0:
                out.update(sustained(exe, pid, d.port, os.path.join(cdir, a.size), a.conns,
                                     a.sustained))
                return finish(out, a)
            argv = [exe, "-c", str(a.conns), "-m", "2", "-n", str(2 * a.conns), "-t", "120",
                    "-H", str(a.hold)] + (["-I"] if a.idle else []) + ["-Q", "-f", "127.0.0.1:%d" % d.port,
                    os.path.join(cdir, a.size)]
            t0 = time.monotonic()
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
            line = p.stderr.readline()
            out["held_after_s"] = round(time.monotonic() - t0, 2)
            if "holding" not in line:
                raise RuntimeError("milter-load: %s%s" % (line, p.stderr.read()))
            time.sleep(min(0.5, a.hold / 4))
            out["held"] = proc_status(pid)
            out["held"].update(smaps_split(pid))
            o, e = p.communicate(timeout=300)
            if p.returncode != 0:
                raise RuntimeError("milter-load failed: %s" % e)
            res = json.loads(o)
            out["after"] = proc_status(pid)
            out["messages"] = res["messages"]
            out["errors"] = res["errors"]
            out["error_kinds"] = res["error_kinds"]
            out["dmarc_pass"] = res["dmarc_pass"]
            out["peak_rss_mb"] = round(out["after"]["VmHWM"] / 1024, 1)
        finally:
            d.stop(check=False)
    return finish(out, a)


def finish(out, a):
    print(json.dumps(out, indent=1))
    want = out.get("messages", 0) > 0 if a.sustained > 0 else out.get("messages") == 2 * a.conns
    return 0 if out.get("errors") == 0 and want else 1


def sustained(exe, pid, port, cdir, conns, seconds):
    """conns busy connections for seconds; the largest thread count and VmRSS seen, and
    the smaps split at three quarters of the run."""
    argv = [exe, "-c", str(conns), "-m", "10", "-d", str(seconds), "-t", "120", "-Q", "-f",
            "127.0.0.1:%d" % port, cdir]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0, top, split = time.monotonic(), {"Threads": 0, "VmRSS": 0}, None
    while p.poll() is None:
        time.sleep(0.5)
        try:
            st = proc_status(pid)
            if split is None and time.monotonic() - t0 > seconds * 0.75:
                split = dict(st, **smaps_split(pid))
        except OSError:
            break
        for k in top:
            top[k] = max(top[k], st[k])
    o, e = p.communicate(timeout=300)
    if p.returncode != 0:
        raise RuntimeError("milter-load failed: %s" % e)
    res = json.loads(o)
    after = proc_status(pid)
    return {"max_threads": top["Threads"], "max_rss_mb": round(top["VmRSS"] / 1024, 1),
            "busy": split, "after": after, "messages": res["messages"],
            "msgs_per_s": res["msgs_per_s"], "errors": res["errors"],
            "error_kinds": res["error_kinds"], "dmarc_pass": res["dmarc_pass"],
            "peak_rss_mb": round(after["VmHWM"] / 1024, 1)}


if __name__ == "__main__":
    sys.exit(main())
