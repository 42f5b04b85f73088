"""spfsuite.py - run OpenSPF-format YAML test suites through tests/drivers/spf-check.c
against a real NSD (satest.nsd), one NSD (re)load per scenario.

Zone rules follow the suite's SOURCE.md (pyspf's driver): owner names are lower-cased;
SPF: strings are also published as TXT unless the name has any TXT: entry (TXT: NONE
included); a bare TIMEOUT makes the name answer SERVFAIL (our resolver reports it as a
temporary failure, so check_host() gives temperror), unless a TXT record is listed before
it (then only type 99 would time out, which we never ask), or unless names below it are
used (NSD fails whole subtrees; see build_zone).

Explanations are not compared: senderauth does not use SPF explanations (docs/spf.md).
"""
import os
import subprocess
import sys

import yaml

SRC = os.environ.get("SA_SRC", ".")
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
from satest.nsd import Nsd  # noqa: E402


def suites_dir():
    return os.environ.get("SA_TESTSUITES", os.path.join(SRC, "..", "shared", "testsuites"))


def zone_owner(name):
    """Zone-file spelling of an owner name (spaces and specials escaped)."""
    out = ""
    for ch in name.lower():
        if ch in ' ;()"\\$@' or ord(ch) < 0x21 or ord(ch) > 0x7e:
            out += "\\%03d" % ord(ch)
        else:
            out += ch
    return out


def txt_value(v):
    if isinstance(v, list):
        return [s.encode("utf-8") if isinstance(s, str) else s for s in v] or [b""]
    return [v.encode("utf-8")] if isinstance(v, str) else [v]


def build_zone(zonedata, tests=None):
    """(records, servfail) for Nsd from one scenario's zonedata. NSD answers SERVFAIL for
    a whole subtree, so a TIMEOUT name with other owners or test domains below it is left
    out (it then answers NXDOMAIN/NODATA instead of timing out)."""
    records, servfail = [], []
    below = set(n.lower() for n in (zonedata or {}))
    for t in (tests or {}).values():
        below.add((t.get("helo") or "").lower())
        below.add((t.get("mailfrom") or "").rpartition("@")[2].lower())
    for name, rrs in (zonedata or {}).items():
        owner = zone_owner(name)
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in rrs)
        seen_txt = False
        for rr in rrs:
            if rr == "TIMEOUT":
                if not seen_txt and not any(b.endswith("." + name.lower()) for b in below):
                    servfail.append(owner)
                continue
            for rtype, val in rr.items():
                if rtype == "TXT":
                    if val == "NONE":
                        continue
                    seen_txt = True
                    records.append((owner, "TXT", txt_value(val)))
                elif rtype == "SPF":
                    if not has_txt:
                        records.append((owner, "TXT", txt_value(val)))
                elif rtype in ("A", "AAAA"):
                    for ip in (val if isinstance(val, list) else [val]):
                        records.append((owner, rtype, ip))
                elif rtype == "MX":
                    records.append((owner, "MX", "%s %s" % (val[0], zone_owner(val[1]) or ".")))
                elif rtype == "SERVFAIL":   # blitiri's extension: the name fails
                    if val:
                        servfail.append(owner)
                elif rtype in ("PTR", "CNAME"):
                    records.append((owner, rtype, zone_owner(val)))
    return records, servfail


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def run_scenarios(docs, driver, ns):
    """Yield (test id, wanted list, got word, reason) for every test of every scenario."""
    for doc in docs:
        records, servfail = build_zone(doc.get("zonedata"), doc.get("tests"))
        ns.reload(records, servfail=servfail)
        tests = list(doc["tests"].items())
        lines = []
        for tid, t in tests:
            mf = t.get("mailfrom", "") or ""
            helo = t.get("helo", "") or ""
            lines.append("%s\t%s\t%s\n" % (t["host"], helo, mf))
        p = subprocess.run([driver, "-s", "127.0.0.1:%d" % ns.port, "-t", "1"],
                           input="".join(lines).encode("utf-8", "surrogateescape"),
                           stdout=subprocess.PIPE, timeout=120)
        got = p.stdout.decode("utf-8", "replace").splitlines()
        if p.returncode != 0 or len(got) != len(tests):
            raise RuntimeError("spf-check failed (rc %d, %d lines for %d tests)"
                               % (p.returncode, len(got), len(tests)))
        for (tid, t), line in zip(tests, got):
            word, _, reason = line.partition("\t")
            want = t["result"] if isinstance(t["result"], list) else [t["result"]]
            yield tid, want, word, reason


def read_known(path):
    known = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            tid, _, cause = line.partition(" ")
            known[tid] = cause.strip()
    return known


def main(title, yaml_files, known_file):
    driver = os.path.join(BUILD, "spf-check")
    if not os.path.exists(driver):
        print("SKIP: %s not built" % driver)
        return 77
    missing = [f for f in yaml_files if not os.path.exists(f)]
    if missing:
        print("SKIP: shared test suite not found: %s" % ", ".join(missing))
        return 77
    known = read_known(known_file)
    passed, failed = 0, []
    with Nsd([("nsd-test", "A", "127.0.0.1")]) as ns:
        for path in yaml_files:
            for tid, want, word, reason in run_scenarios(load(path), driver, ns):
                if word in want:
                    passed += 1
                else:
                    failed.append((tid, want, word, reason))
    print("%s: %d passed, %d failed" % (title, passed, len(failed)))
    rc = 0
    for tid, want, word, reason in failed:
        mark = "known" if tid in known else "NEW"
        print("  %s %s: got %s (%s), want %s%s" % (mark, tid, word, reason, "|".join(want),
              (" -- " + known[tid]) if tid in known else ""))
        if tid not in known:
            rc = 1
    failed_ids = {f[0] for f in failed}
    for tid in sorted(known):
        if tid not in failed_ids:
            print("  FIXED %s now passes: remove it from %s" % (tid, os.path.basename(known_file)))
            rc = 1
    return rc
