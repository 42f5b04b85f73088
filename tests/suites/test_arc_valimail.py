"""test_arc_valimail.py - the ARC suites of the shared test suites through arc_eval.

  arc-valimail/arc-draft-validation-tests.yml  10 scenarios, 171 validation tests: each
      scenario's txt-records are served by a real NSD on 127.0.0.1 and the driver
      $SA_BUILD/arc-verify (our dns_res, TCP fallback for long keys) validates every
      message (LF made CRLF); the chain status must equal `cv` (an empty cv means Fail,
      as SOURCE.md explains).
  arc-mail-auth/00{1,2}.txt  two sealed messages (Google rsa-sha256; a two-hop chain
      whose first set is ed25519-sha256): both must pass (our decision for 002 is
      written in tests/suites/arc/expected-failures.txt).

Prints "ARC validation: N passed, M failed". Fails on any difference that
tests/suites/arc/expected-failures.txt does not list with a reason, and on any listed
id that now matches."""
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

SRC = os.environ.get("SA_SRC", os.getcwd())
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
from satest.nsd import NSD_BIN, Nsd  # noqa: E402
from satest.suites import load_xfail, suites_dir  # noqa: E402

DRIVER = os.path.join(BUILD, "arc-verify")
XFAIL = os.path.join(SRC, "tests/suites/arc/expected-failures.txt")
MAIL_AUTH_EXPECT = {"001.txt": "pass", "002.txt": "pass"}


def run_driver(port, files):
    """{file: (cv, line)} for files, keys from NSD on port."""
    p = subprocess.run([DRIVER, "-s", "127.0.0.1:%d" % port] + files, capture_output=True,
                       text=True, timeout=300)
    if p.returncode != 0:
        raise SystemExit("arc-verify failed (%d): %s" % (p.returncode, p.stderr))
    out = {}
    for line in p.stdout.splitlines():
        path, cv = line.split(" ", 2)[:2]
        out[path] = (cv[len("cv="):], line)
    missing = [f for f in files if f not in out]
    if missing:
        raise SystemExit("arc-verify gave no line for %s" % missing)
    return out


def valimail_cases(base, tmp):
    """[(records, [(id, file, want)])] per scenario."""
    docs = [d for d in yaml.safe_load_all(open(os.path.join(
        base, "arc-valimail", "arc-draft-validation-tests.yml"))) if d]
    out = []
    for k, d in enumerate(docs):
        recs = [(name, "TXT", str(val)) for name, val in d["txt-records"].items()]
        cases = []
        for name, t in d["tests"].items():
            path = os.path.join(tmp, "v%d-%s.eml" % (k, name))
            with open(path, "w") as f:
                f.write(t["message"] or "")
            want = (str(t["cv"] or "").strip() or "Fail").lower()
            cases.append(("valimail/" + name, path, want))
        out.append((recs, cases))
    return out


def mail_auth_cases(base, tmp):
    out = []
    for name, want in sorted(MAIL_AUTH_EXPECT.items()):
        with open(os.path.join(base, "arc-mail-auth", name)) as f:
            text = f.read()
        head, _, msg = text.partition("\n\n")
        recs = []
        for line in head.splitlines():
            if line.strip():
                owner, _, val = line.partition(" ")
                recs.append((owner.rstrip("."), "TXT", val.strip()))
        path = os.path.join(tmp, "mail-auth-" + name)
        with open(path, "w") as f:
            f.write(msg)
        out.append((recs, [("mail-auth/" + name, path, want)]))
    return out


def main():
    base = suites_dir()
    if not os.path.isdir(os.path.join(base, "arc-valimail")):
        print("SKIP: the shared test suites are not at %s (set SA_TESTSUITES)" % base)
        return 77
    if not os.access(DRIVER, os.X_OK):
        raise SystemExit("no driver %s: build the arc-verify target" % DRIVER)
    if not os.access(NSD_BIN, os.X_OK):
        raise SystemExit("nsd is not installed (%s): install the nsd package" % NSD_BIN)
    xfail = load_xfail(XFAIL)
    tmp = tempfile.mkdtemp(prefix="sa-arc-")
    groups = valimail_cases(base, tmp) + mail_auth_cases(base, tmp)
    results = {}
    ns = Nsd([])
    try:
        ns.start()
        for recs, cases in groups:
            ns.reload(recs)
            got = run_driver(ns.port, [c[1] for c in cases])
            for tid, path, want in cases:
                cv, line = got[path]
                results[tid] = (cv == want, want, line)
    finally:
        ns.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    passed = [t for t, r in results.items() if r[0]]
    failed = [t for t, r in results.items() if not r[0]]
    nval = sum(1 for t in results if t.startswith("valimail/"))
    vpass = sum(1 for t in passed if t.startswith("valimail/"))
    print("ARC validation: %d passed, %d failed" % (vpass, nval - vpass))
    print("ARC mail-auth messages: %d passed, %d failed" %
          (len(passed) - vpass, len(results) - nval - (len(passed) - vpass)))
    bad = 0
    for t in sorted(failed):
        ok, want, line = results[t]
        if t in xfail:
            print("expected failure %s: want %s, %s (%s)" % (t, want, line, xfail[t]))
        else:
            print("FAIL %s: want cv=%s, got: %s" % (t, want, line.split(" ", 1)[1]))
            bad += 1
    for t in sorted(xfail):
        if t in results and results[t][0]:
            print("FAIL %s is listed in %s but now matches: remove it" % (t, XFAIL))
            bad += 1
        elif t not in results:
            print("FAIL %s is listed in %s but is not a check" % (t, XFAIL))
            bad += 1
    if nval != 171:
        print("FAIL: %d validation tests found, the suite has 171" % nval)
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
