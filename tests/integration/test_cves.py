#!/usr/bin/python3
"""test_cves.py - our peers' published vulnerabilities as regression tests for senderauthd.

Each file in tests/integration/cves/ names one CVE of OpenDMARC, OpenDKIM or libspf2 (or
an open report) and holds the malicious input as integration cases (the format of
tests/integration/cases, see docs/testing.md): DNS records served by a real NSD, a
message driven through a real senderauthd over the milter protocol, and the safe
verdict expected. Every message is also held to the harness invariants (forged fields
with our authserv-id gone, foreign ones kept, the A-R parses, no line injection), and
after every case the daemon must still be running: a crash is a failure even when the
reply looked right.

Extra keys in a CVE case:
  expect_deleted: [i, ...]   judge only the deletions (the 1-based indexes among the
                             Authentication-Results fields), the reply and our one A-R;
                             for malformed fields the harness' own reader cannot name
  not_applicable + check:    a CVE that has no input to feed; `check` names a test of
                             why it does not apply (see CHECKS)

Prints one line per case, then `CVE regressions: N passed, M failed`. docs/security.md
lists every CVE with its verdict. Arguments select files whose name contains them.
"""
import glob
import os
import re
import shutil
import sys
import tempfile

import yaml

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import cases as sc  # noqa: E402
from satest import milter  # noqa: E402
from satest.daemon import Senderauthd, DaemonError, stop_all  # noqa: E402
from satest.dkimsign import KeyStore  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

CVE_DIR = os.path.join(SRC, "tests/integration/cves")

BASE_CONF = sc.merge_conf(sc.BASE_CONF, {"dns": {"timeout": 2}})

# ---- checks for CVEs without an input ----

def check_no_fixed_temp_files():
    """CVE-2020-35766: predictable temporary files. senderauthd must create none (no
    tmpnam/tempnam/mktemp/tmpfile/mkstemp in src/) and the harness must use only
    mkdtemp-made directories (no literal /tmp path in tests/lib or tests/integration)."""
    bad = []
    for path in glob.glob(os.path.join(SRC, "src", "**", "*.[ch]"), recursive=True):
        text = open(path, errors="replace").read()
        for m in re.finditer(r"\b(tmpnam|tempnam|mktemp|tmpfile|mkstemp)\s*\(", text):
            bad.append("%s: %s()" % (os.path.relpath(path, SRC), m.group(1)))
    for pat in ("tests/lib/**/*.py", "tests/integration/*.py"):
        for path in glob.glob(os.path.join(SRC, pat), recursive=True):
            for n, line in enumerate(open(path, errors="replace"), 1):
                if re.search(r"""["']/tmp/""", line) and "re.search" not in line:
                    bad.append("%s:%d: fixed /tmp path" % (os.path.relpath(path, SRC), n))
    return bad


CHECKS = {"no_fixed_temp_files": check_no_fixed_temp_files}


# ---- loading ----

def load(argv):
    files = sorted(glob.glob(os.path.join(CVE_DIR, "*.yaml")))
    files = [f for f in files if not argv or any(a in os.path.basename(f) for a in argv)]
    docs = []
    for path in files:
        with open(path) as f:
            doc = yaml.safe_load(f)
        stem = os.path.splitext(os.path.basename(path))[0]
        doc["_stem"] = stem
        for i, c in enumerate(doc.get("cases") or []):
            c["_id"] = "%s/%d" % (stem, i + 1)
            c["_path"] = os.path.basename(path)
        docs.append(doc)
    return docs


# ---- running ----

def run_deletions(port, case, builts):
    """Send the case's one message; judge the reply, our one A-R and that the deletions
    are exactly the expected A-R indexes."""
    f = []
    c = case.get("connect", {})
    with milter.MilterClient("127.0.0.1", port) as cl:
        cl.connect(c.get("host", "unknown"), c.get("ip", "192.0.2.1"))
        if c.get("helo"):
            cl.helo(c["helo"])
        spec = sc.messages_of(case)[0]
        res = sc.send(cl, case, spec, builts[0])
    want = spec.get("expect", {}).get("reply", "accept")
    if res.reply is None or not sc._reply_ok(want, res.reply):
        f.append("reply: got %r, want %r" % (res.reply, want))
    dels = sorted(m.index for m in res.mods if m.kind == "chgheader"
                  and m.name.lower() == "authentication-results" and m.value == "")
    if dels != sorted(case["expect_deleted"]):
        f.append("deleted A-R indexes %r, want %r" % (dels, case["expect_deleted"]))
    other = [m for m in res.mods if m.kind == "chgheader" and
             (m.name.lower() != "authentication-results" or m.value != "")]
    if other:
        f.append("other header changes: %r" % other)
    ars = [v for n, v in res.added_headers() if n.lower() == "authentication-results"]
    if len(ars) != 1:
        f.append("want one A-R added, got %r" % ars)
    else:
        try:
            ar = sc.parse(ars[0])
            if ar.authserv_id.lower() != sc.OUR_ID:
                f.append("added A-R names %r" % ar.authserv_id)
        except sc.ARParseError as e:
            f.append("added A-R does not parse (%s): %r" % (e, ars[0]))
    return f, [{"reply": res.reply, "stage": res.stage, "added": res.added_headers()}]


def run_one(d, case, builts):
    try:
        if "expect_deleted" in case:
            failures, reports = run_deletions(d.port, case, builts)
        else:
            failures, reports = sc.run_case(d.port, case, builts)
    except (milter.MilterError, OSError) as e:
        failures, reports = ["milter conversation failed: %s" % e], []
    if d.proc is None or d.proc.poll() is not None:
        failures.append("senderauthd is not running any more (exit %s)" %
                        (d.proc.returncode if d.proc else "?"))
    return failures, reports


def main(argv):
    docs = load(argv[1:])
    cases = [c for doc in docs for c in doc.get("cases") or []]
    passed = failed = 0
    for doc in docs:
        if doc.get("not_applicable"):
            bad = CHECKS[doc["check"]]()
            if bad:
                failed += 1
                print("FAIL %-34s not applicable only while: %s" % (doc["cve"], "; ".join(bad)))
            else:
                passed += 1
                print("ok   %-34s not applicable (%s)" % (doc["cve"], doc["check"]))
    if not cases:
        print("CVE regressions: %d passed, %d failed" % (passed, failed))
        return 1 if failed or not passed else 0
    tmp = tempfile.mkdtemp(prefix="satest-cves-")
    keys = KeyStore(tmp)
    daemons = {}
    try:
        records, servfail, built = sc.zone_records(cases, keys)
        with Nsd(records, servfail=servfail) as ns:
            try:
                for c in cases:
                    k = sc.conf_key(c)
                    if k not in daemons:
                        daemons[k] = Senderauthd(ns.port,
                                                 conf=sc.merge_conf(BASE_CONF, c.get("conf")))
                        daemons[k].start()
                by_cve = {c["_id"]: doc["cve"] for doc in docs for c in doc.get("cases") or []}
                for c in cases:
                    d = daemons[sc.conf_key(c)]
                    failures, reports = run_one(d, c, built[c["_id"]])
                    label = "%s %s" % (by_cve[c["_id"]], c["_id"].split("/")[-1])
                    if failures:
                        failed += 1
                        print(sc.format_report(dict(c, _id=label), failures, reports,
                                               d.log_tail(15)))
                    else:
                        passed += 1
                        ar = [v for n, v in reports[-1]["added"]
                              if n.lower() == "authentication-results"] if reports else []
                        print("ok   %-22s %s" % (label, milter.unfold(ar[0])[:150] if ar else
                                                 "reply=%s" % reports[-1]["reply"]))
            finally:
                for e in stop_all(list(daemons.values())):
                    print("FAIL daemon stop:", e)
                    failed += 1
    except (DaemonError, sc.CaseError) as e:
        print("FAIL %s" % e)
        failed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("CVE regressions: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
