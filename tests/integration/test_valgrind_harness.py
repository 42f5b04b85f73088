"""test_valgrind_harness.py - the SA_VALGRIND checks of tests/lib/satest/daemon.py can fail.

The valgrind pass of tests/run-all.sh trusts daemon.py to fail a test when memcheck
reports anything. This test runs memcheck, with the same options and suppressions, on
small C programs compiled here (clean; a definite and an indirect leak; an
uninitialised read and a write out of bounds; a leak in a process stopped by SIGTERM) and checks that valgrind_problems()
accepts exactly the clean ones, and that it refuses a log cut short. Without valgrind
or cc it prints SKIP naming the missing tool and passes.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from satest import daemon  # noqa: E402

PROGRAMS = {
    # still reachable at exit (keep) is not a leak
    "clean": ("static char *keep;"
              "int main(void){char *p = malloc(10); p[0] = 1; free(p); keep = malloc(10);"
              " return 0;}", []),
    "leaks": ("struct n {struct n *next;};"
              "int main(void){struct n *a = malloc(sizeof *a);"
              " a->next = malloc(sizeof *a); a = 0; return a != 0;}",
              ["definitely lost", "indirectly lost"]),
    "errors": ("int main(void){int *p = malloc(sizeof *p); char *q = malloc(10);"
               " int r = *p ? 1 : 0; q[10] = 1; free(p); free(q); return r;}",
               ["uninitialised", "Invalid write"]),
    "sigterm-leak": ("#include <signal.h>\n#include <unistd.h>\n"
                     "static char *volatile p;"
                     "int main(void){p = malloc(10); p = 0; write(1, \"up\\n\", 3);"
                     " pause(); return 0;}", ["definitely lost"]),
}


def run(cc, workdir, name, body):
    src = os.path.join(workdir, name + ".c")
    exe = os.path.join(workdir, name)
    with open(src, "w") as f:
        f.write("#include <stdlib.h>\n" + body + "\n")
    subprocess.run([cc, "-g", "-O0", "-o", exe, src], check=True)
    pattern = os.path.join(workdir, name + ".%p.log")
    os.environ["SA_VALGRIND"] = "1"
    argv = daemon.valgrind_command([exe], pattern)
    if name.startswith("sigterm"):
        p = subprocess.Popen(argv, stdout=subprocess.PIPE)
        p.stdout.readline()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=daemon.scaled(60))
    else:
        subprocess.run(argv, timeout=daemon.scaled(60))
    logs = [os.path.join(workdir, x) for x in os.listdir(workdir)
            if x.startswith(name + ".") and x.endswith(".log")]
    return daemon.valgrind_problems(logs), logs


def main():
    cc = shutil.which("cc") or shutil.which("gcc")
    if shutil.which("valgrind") is None or cc is None:
        print("SKIP: needs valgrind and cc")
        return 0
    os.environ.setdefault("SA_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
    workdir = tempfile.mkdtemp(prefix="satest-vg-")
    failed = passed = 0
    try:
        for name, (body, want) in PROGRAMS.items():
            bad, logs = run(cc, workdir, name, body)
            text = "\n".join(bad)
            ok = len(logs) == 1 and (not want and not bad or want and bad and
                                     all(w in text for w in want))
            if ok:
                passed += 1
            else:
                failed += 1
                print("FAIL %s: got %d logs, problems %r, want %s" %
                      (name, len(logs), text[:2000], want or "none"))
        # A log without the final summary (the process was SIGKILLed) is a problem too.
        cut = os.path.join(workdir, "cut.log")
        with open(cut, "w") as f:
            f.write("==1== Memcheck, a memory error detector\n==1== Command: x\n")
        if daemon.valgrind_problems([cut]):
            passed += 1
        else:
            failed += 1
            print("FAIL cut-short log: got no problem, want one")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("valgrind harness: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
