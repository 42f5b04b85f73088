"""test_arc_signing.py - the ValiMail ARC signing suite of the shared test suites through
arc_seal (arc-valimail/arc-draft-sign-tests.yml: 2 scenarios, 17 tests).

For each test the driver $SA_BUILD/arc-sign validates the message's chain (keys from the
scenario's txt-records, served by a real NSD on 127.0.0.1) and seals it with the
scenario's private key, domain and selector and the test's `t`, `sig-headers` and
`srv-id`. The comparison is the suite's own (upstream testarc.py, sign_test): all white
space removed, each header value split at ';' into a set of tags, and the three sets
(ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal) must equal the expected
ones; an expected empty set means no ARC set may be added. Because b= signs everything
before it, a matching ARC-Seal b= proves the canonical form of our AAR and AMS too.

Prints "ARC signing: N/17 passed", "N passed, M failed" and, for each failure, the
reason: the tags missing and unexpected in each field (and the driver's own message when
it added no set). All 17 pass; any failure fails the test."""
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

DRIVER = os.path.join(BUILD, "arc-sign")
FIELDS = (("AAR", "arc-authentication-results"), ("AMS", "arc-message-signature"),
          ("AS", "arc-seal"))


def suites_dir():
    return os.environ.get("SA_TESTSUITES", os.path.join(SRC, "..", "shared", "testsuites"))


def tagset(value):
    """The suite's normal form: no white space, the set of ';'-separated parts."""
    s = "".join((value or "").split())
    return set(s.split(";")) if s else set()


def parse_output(text):
    """{field name (lower case): tag set} from the driver's output."""
    got = {}
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, _, value = block.partition(":")
        got[name.strip().lower()] = tagset(value)
    return got


def judge(test, out):
    """[] when the output matches, else one reason per field."""
    got = parse_output(out)
    why = []
    for key, name in FIELDS:
        want = tagset(str(test.get(key) or ""))
        have = got.get(name, set())
        if want != have:
            missing = sorted(want - have)
            extra = sorted(have - want)
            why.append("%s: missing %s, unexpected %s" % (key, missing or "-", extra or "-"))
    return why


def main():
    base = suites_dir()
    path = os.path.join(base, "arc-valimail", "arc-draft-sign-tests.yml")
    if not os.path.exists(path):
        print("SKIP: the shared test suites are not at %s (set SA_TESTSUITES)" % base)
        return 77
    if not os.access(DRIVER, os.X_OK):
        raise SystemExit("no driver %s: build the arc-sign target" % DRIVER)
    if not os.access(NSD_BIN, os.X_OK):
        raise SystemExit("nsd is not installed (%s): install the nsd package" % NSD_BIN)
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    tmp = tempfile.mkdtemp(prefix="sa-arcsign-")
    results = {}
    ns = Nsd([])
    try:
        ns.start()
        for k, d in enumerate(docs):
            ns.reload([(name, "TXT", str(val).replace("\n", ""))
                       for name, val in d["txt-records"].items()])
            key = os.path.join(tmp, "key%d.pem" % k)
            with open(key, "w") as f:
                f.write(d["privatekey"])
            for tid, t in d["tests"].items():
                msg = os.path.join(tmp, "%d-%s.eml" % (k, tid))
                with open(msg, "w") as f:
                    f.write(t["message"])
                p = subprocess.run(
                    [DRIVER, "-s", "127.0.0.1:%d" % ns.port, "-k", key, "-d", d["domain"],
                     "-S", d["sel"], "-a", t["srv-id"], "-H", t["sig-headers"], "-t",
                     str(t["t"]), msg], capture_output=True, text=True, timeout=60)
                if p.returncode != 0:
                    raise SystemExit("arc-sign failed (%d): %s" % (p.returncode, p.stderr))
                why = judge(t, p.stdout)
                if why and p.stderr.strip():
                    why.append("driver: " + p.stderr.strip())
                results[tid] = why
    finally:
        ns.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    npass = sum(1 for w in results.values() if not w)
    print("ARC signing: %d/%d passed" % (npass, len(results)))
    print("%d passed, %d failed" % (npass, len(results) - npass))
    bad = 0
    for tid in sorted(results):
        if results[tid]:
            print("FAIL %s: %s" % (tid, "; ".join(results[tid])))
            bad += 1
    if len(results) != 17:
        print("FAIL: %d signing tests found, the suite has 17" % len(results))
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
