#!/usr/bin/python3
"""test_differential.py - senderauthd against independent implementations (pyspf,
python3-dkim, Mail::DMARC) on a generated corpus; see docs/conformance.md.

Runs tests/diff/run_diff.py's comparison on SA_DIFF_COUNT messages (default 2,000; 400
in a sanitizer build, 100 under SA_VALGRIND) with seed SA_DIFF_SEED (default: the
documented one) and fails when
- a message could not be sent or gave no parsable Authentication-Results,
- an agreement rate is below the floor documented for that corpus size,
- a disagreement class matches none of the documented classes
  (tests/diff/baseline.json), or a documented class id has no entry in
  docs/conformance.md.
Prints the per-method agreement figures and the class table, then
`differential: N passed, M failed`."""
import json
import os
import re
import sys

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests", "diff"))

try:
    import run_diff  # noqa: E402  (puts tests/lib on the path)
except ImportError as e:   # pyspf or python3-dkim missing
    print("FAIL %s: install the packages of tests/lib/deps.sh (python3-spf, "
          "libmail-dmarc-perl, python3-dkim)" % e)
    sys.exit(1)
from satest.daemon import build_dir, valgrind_enabled  # noqa: E402


def sanitizer_build():
    try:
        with open(os.path.join(build_dir(), "CMakeCache.txt")) as f:
            return "SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


def main():
    with open(os.path.join(SRC, "tests", "diff", "baseline.json")) as f:
        base = json.load(f)
    count = int(os.environ.get("SA_DIFF_COUNT") or
                (100 if valgrind_enabled() else 400 if sanitizer_build() else 2000))
    seed = int(os.environ.get("SA_DIFF_SEED") or base["seed"])
    with open(os.path.join(SRC, "docs", "conformance.md")) as f:
        doc = f.read()

    out = run_diff.run(count, seed)
    run_diff.report(out)
    passed, failures = 0, []

    def check(ok, what):
        nonlocal passed
        if ok:
            passed += 1
        else:
            failures.append(what)

    check(not out["errors"], "messages without a usable result: %d (first: %s)" %
          (len(out["errors"]), out["errors"][:1]))
    for mth in run_diff.METHODS:
        check(out["rates"].get(mth, (0, 0))[1] > 0, "method %s: nothing compared" % mth)
    floors = base["rates"].get(str(count)) if seed == base["seed"] else None
    if floors:
        for mth, floor in sorted(floors.items()):
            a, n = out["rates"].get(mth, (0, 0))
            rate = 100.0 * a / n if n else 0.0
            check(rate + 1e-9 >= floor, "%s agreement %.2f%% (%d/%d), documented floor %.1f%%" %
                  (mth, rate, a, n, floor))
    else:
        print("no documented floor for %d messages with seed %d: rates not judged" %
              (count, seed))
    known = [(re.compile(p), cid) for p, cid in base["classes"]]
    for cls, n in sorted(out["classes"].items()):
        ids = [cid for rx, cid in known if rx.search(cls)]
        check(bool(ids), "NEW disagreement class (%d): %s  e.g. messages %s; fix it or "
              "document it in docs/conformance.md and tests/diff/baseline.json" %
              (n, cls, ", ".join("#%d" % i for i, _ in out["examples"][cls][:5])))
    for _, cid in base["classes"]:
        check(re.search(r"^###? .*\b%s\b" % re.escape(cid), doc, re.M) is not None,
              "class %s has no entry in docs/conformance.md" % cid)
    for f in failures:
        print("FAIL " + f)
    print("differential: %d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
