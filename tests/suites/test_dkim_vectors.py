"""test_dkim_vectors.py - the DKIM vectors of the shared test suites (dkim-vectors/,
indexed by manifest.yml) through dkim_eval: the driver $SA_BUILD/dkim-verify uses our
dns_res against a real NSD on 127.0.0.1 serving each vector's key records.

Three parts, as manifest.yml lays them out:
  verify_vectors     signed messages, one expected result per signature;
  sign_then_verify   messages signed here with Debian's python3-dkim (an independent
                     signer), verified against each key record variant;
  negative_messages  robustness input: the driver must finish without a crash.
Plus one check of our own: mail-auth-005 verified at the real time must not pass (x=).

Each check has an id ("vector-id#sig"). The run fails on any difference from the
manifest that tests/suites/dkim/expected-failures.txt does not list (with a reason),
and on any listed id that now matches (so the list stays exact)."""
import os
import re
import subprocess
import sys
import tempfile

import yaml

SRC = os.environ.get("SA_SRC", os.getcwd())
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
from satest.nsd import Nsd  # noqa: E402
from satest.suites import load_xfail, suites_dir  # noqa: E402

DRIVER = os.path.join(BUILD, "dkim-verify")
XFAIL = os.path.join(SRC, "tests/suites/dkim/expected-failures.txt")
NAME_OK = re.compile(r"^[A-Za-z0-9_.-]+$")
LINE = re.compile(r"^sig (\d+): (\w+) reason=\"([^\"]*)\"")


def record_text(base, value):
    if value.startswith("@file:"):
        with open(os.path.join(base, value[len("@file:"):])) as f:
            return f.read().rstrip("\n")
    return value


def split_records_in_file(path):
    """mail-auth/ files: 'name record' lines, an empty line, then the message (LF)."""
    with open(path, "rb") as f:
        data = f.read()
    head, _, msg = data.partition(b"\n\n")
    recs = {}
    for line in head.decode().splitlines():
        name, _, text = line.partition(" ")
        recs[name] = text
    return recs, msg


class Runner:
    def __init__(self, ns, tmp):
        self.ns = ns
        self.tmp = tmp
        self.served = None

    def serve(self, records):
        recs = sorted((n.rstrip("."), "TXT", t) for n, t in records.items() if NAME_OK.match(n))
        if recs != self.served:
            self.ns.reload(recs)
            self.served = recs

    def verify(self, msgpath, records, when=None):
        """Results of the driver: list of (word, reason), or None on a crash."""
        self.serve(records)
        cmd = [DRIVER, "-s", "127.0.0.1:%d" % self.ns.port]
        if when:
            cmd += ["-t", str(when)]
        p = subprocess.run(cmd + [msgpath], capture_output=True, text=True, timeout=60)
        if p.returncode not in (0, 1):
            sys.stderr.write("driver exit %d on %s: %s\n" % (p.returncode, msgpath, p.stderr))
            return None
        out = []
        for line in p.stdout.splitlines():
            m = LINE.match(line)
            if m:
                out.append((m.group(2), m.group(3)))
        return out


def sign(message, selector, domain, keyfile, algorithm=b"rsa-sha256"):
    import dkim
    with open(keyfile, "rb") as f:
        key = f.read()
    sig = dkim.sign(message, selector.encode(), domain.encode(), key,
                    signature_algorithm=algorithm, canonicalize=(b"relaxed", b"simple"))
    return sig + message


def main():
    base = os.path.join(suites_dir(), "dkim-vectors")
    if not os.path.exists(os.path.join(base, "manifest.yml")):
        print("SKIP: shared test suites not found (dkim-vectors/manifest.yml under %s)" % suites_dir())
        return 0
    if not os.path.exists(DRIVER):
        print("FAIL: driver %s not built" % DRIVER)
        return 1
    with open(os.path.join(base, "manifest.yml")) as f:
        man = yaml.safe_load(f)
    xfail = load_xfail(XFAIL)
    results = {}  # id -> (ok, detail)

    def check(vid, got, want):
        if got is None:
            results[vid] = (False, "driver crashed")
        elif want == "not-pass":
            results[vid] = (got[0] != "pass", "got %s (%s), want not pass" % got)
        else:
            results[vid] = (got[0] == want, "got %s (%s), want %s" % (got[0], got[1], want))

    jobs = []  # (records, msgpath, when, on_result)

    def expect_sigs(vid, wants):
        def on(got):
            for i, want in enumerate(wants):
                one = None if got is None else (got[i] if i < len(got) else ("none", "missing"))
                check("%s#%d" % (vid, i), one, want)
        return on

    def robust(vid):
        def on(got):
            results[vid] = (got is not None, "driver crashed" if got is None else "ok")
        return on

    with tempfile.TemporaryDirectory(prefix="sa-dkimvec-") as tmp:
        for vec in man["verify_vectors"]:
            msgpath = os.path.join(base, vec["message"])
            if vec.get("records_in_file"):
                records, msg = split_records_in_file(msgpath)
                msgpath = os.path.join(tmp, vec["id"] + ".eml")
                with open(msgpath, "wb") as f:
                    f.write(msg)
            else:
                records = {n: record_text(base, t) for n, t in vec["records"].items()}
            jobs.append((records, msgpath, vec.get("verify_time"), expect_sigs(vec["id"], vec["expect"])))
            if vec["id"] == "mail-auth-005":
                jobs.append((records, msgpath, None, expect_sigs("mail-auth-005@now", ["not-pass"])))

        stv = man["sign_then_verify"]
        sel, _, dom = stv["selector_record"].partition("._domainkey.")
        with open(os.path.join(base, stv["message"]), "rb") as f:
            plain = f.read()
        signed = os.path.join(tmp, "stv.eml")
        with open(signed, "wb") as f:
            f.write(sign(plain, sel, dom, os.path.join(base, stv["private_key"])))
        for rec in stv["records"]:
            name = rec["record"].replace("@file:", "")
            jobs.append(({stv["selector_record"]: record_text(base, rec["record"])}, signed, None,
                         expect_sigs("stv:%s" % name, [rec["expect"]])))
        for ok in stv["other_keys"]:
            with open(os.path.join(base, ok.get("message", stv["message"])), "rb") as f:
                plain = f.read()
            alg = ok.get("algorithm", "rsa-sha256").encode()
            path = os.path.join(tmp, os.path.basename(ok["private_key"]) + ".eml")
            with open(path, "wb") as f:
                f.write(sign(plain, "test", "example.com", os.path.join(base, ok["private_key"]), alg))
            if "records" in ok:
                names = ok["records"]
            elif "record_p" in ok:
                names = [ok["record_p"]]
            else:  # RFC 8032 section 7.1 TEST 1 = the RFC 8463 "brisbane" key
                names = ["rfc8463-brisbane"]
            for name in names:
                text = ("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
                        if name == "rfc8463-brisbane" else record_text(base, "@file:" + name))
                vid = "stv:%s:%s" % (os.path.basename(ok["private_key"]), os.path.basename(name))
                jobs.append(({"test._domainkey.example.com": text}, path, None,
                             expect_sigs(vid, [ok.get("expect", "pass")])))
        for neg in stv["negative_messages"]:
            jobs.append(({}, os.path.join(base, neg["message"]), None,
                         robust("robust:%s" % os.path.basename(neg["message"]))))

        # Rounds: jobs whose records agree share one NSD load (a reload restarts it).
        rounds = []
        for job in jobs:
            for rnd in rounds:
                if all(rnd["records"].get(n, t) == t for n, t in job[0].items()):
                    rnd["records"].update(job[0])
                    rnd["jobs"].append(job)
                    break
            else:
                rounds.append({"records": dict(job[0]), "jobs": [job]})
        with Nsd([]) as ns:
            r = Runner(ns, tmp)
            for rnd in rounds:
                for records, msgpath, when, on in rnd["jobs"]:
                    on(r.verify(msgpath, rnd["records"], when))

    passed = failed = 0
    bad = []
    for vid in sorted(results):
        ok, detail = results[vid]
        if vid in xfail:
            if ok:
                bad.append("%s: listed as expected failure but now matches; remove it" % vid)
            else:
                print("xfail %s: %s (%s)" % (vid, detail, xfail[vid]))
            failed += 0 if ok else 1
            passed += 1 if ok else 0
            continue
        if ok:
            passed += 1
        else:
            failed += 1
            bad.append("%s: %s" % (vid, detail))
    for vid in sorted(set(xfail) - set(results)):
        bad.append("%s: listed as expected failure but not run" % vid)
    print("DKIM vectors: %d passed, %d failed (%d expected)" % (passed, failed, len(xfail)))
    for b in bad:
        print("UNEXPECTED " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
