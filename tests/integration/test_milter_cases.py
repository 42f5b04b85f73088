#!/usr/bin/python3
"""test_milter_cases.py - every case in tests/integration/cases/ through a real senderauthd.

One NSD serves the records of all cases at once (cases use distinct names; a clash is an
error), DKIM keys are generated and messages signed at test time, and one senderauthd
runs per distinct `conf:` of the cases. Each case drives the daemon over the milter
protocol and is judged by its expectations plus the invariants in satest/cases.py.
Then the DNS-down test stops NSD and checks on_error = accept and = tempfail.

Prints one line per case, a report per failure, then `integration: N passed, M failed`.
Arguments: case ids or substrings to run only those (e.g. `spf_` or `dkim/ed25519`).
Env: SA_KEEP=1 keeps the daemon's work directory (config and log).
"""
import os
import shutil
import sys
import tempfile

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))

from satest import cases as sc  # noqa: E402
from satest import milter  # noqa: E402
from satest.daemon import Senderauthd, DaemonError, stop_all  # noqa: E402
from satest.dkimsign import KeyStore  # noqa: E402
from satest.nsd import Nsd  # noqa: E402

CASES_DIR = os.path.join(SRC, "tests/integration/cases")


# Records for the DNS-down test: never queried before NSD stops, so no cache hides it.
DNSDOWN_RECORDS = [("dnsdown-accept.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"),
                   ("dnsdown-tempfail.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")]


def run_cases(ns, daemons, selected, built):
    passed = failed = 0
    for case in selected:
        d = daemons[sc.conf_key(case)]
        try:
            failures, reports = sc.run_case(d.port, case, built[case["_id"]])
        except (milter.MilterError, OSError) as e:
            failures, reports = ["milter conversation failed: %s" % e], []
        if failures:
            failed += 1
            print(sc.format_report(case, failures, reports, d.log_tail(15)))
        else:
            passed += 1
            ar = [v for n, v in reports[-1]["added"] if n.lower() == "authentication-results"]
            print("ok   %-40s %s" % (case["_id"], milter.unfold(ar[0]) if ar else
                                     "(no A-R) reply=%s" % reports[-1]["reply"].code))
    return passed, failed


def dns_down(ns, daemons_by_on_error):
    """NSD stopped: SPF must be temperror; on_error decides accept (with the A-R) or 451."""
    results = []
    ns.stop()
    try:
        for on_error, d in daemons_by_on_error.items():
            dom = "dnsdown-%s.example" % on_error
            case = {"_id": "dns_down/%s" % on_error, "name": "DNS server stopped",
                    "connect": {"ip": "192.0.2.10", "host": "mail." + dom, "helo": "mail." + dom},
                    "envelope": {"from": "user@" + dom, "rcpt": ["user@" + sc.OUR_ID]},
                    "message": {"headers": ["From: user@" + dom, "Subject: dns down"],
                                "body": "hello\n"}}
            if on_error == "accept":
                case["expect"] = {"reply": ["accept", "continue"],
                                  "ar": {"spf": {"result": "temperror", "smtp.mailfrom": dom}}}
            else:
                case["expect"] = {"reply": ["tempfail", "451"]}
            b, _ = sc.build_message(case, None)
            try:
                failures, reports = sc.run_case(d.port, case, [b])
            except (milter.MilterError, OSError) as e:
                failures, reports = ["milter conversation failed: %s" % e], []
            results.append((case, failures, reports, d))
    finally:
        ns.start()
    passed = failed = 0
    for case, failures, reports, d in results:
        if failures:
            failed += 1
            print(sc.format_report(case, failures, reports, d.log_tail(15)))
        else:
            passed += 1
            print("ok   %-40s reply=%s" % (case["_id"], reports[-1]["reply"]))
    return passed, failed


def main(argv):
    all_cases = sc.load_all(CASES_DIR)
    selected = [c for c in all_cases if not argv[1:] or any(a in c["_id"] for a in argv[1:])]
    tmp = tempfile.mkdtemp(prefix="satest-cases-")
    keys = KeyStore(tmp)
    records, servfail, built = sc.zone_records(all_cases, keys)
    records += DNSDOWN_RECORDS
    passed = failed = 0
    try:
        with Nsd(records, servfail=servfail) as ns:
            confs = {}
            for c in selected:
                confs.setdefault(sc.conf_key(c), sc.merge_conf(sc.BASE_CONF, c.get("conf")))
            want_dnsdown = not argv[1:] or any(a in "dns_down" for a in argv[1:])
            daemons = {}
            try:
                for k, conf in confs.items():
                    daemons[k] = Senderauthd(ns.port, conf=conf).start()
                if selected:
                    p, f = run_cases(ns, daemons, selected, built)
                    passed, failed = passed + p, failed + f
                if want_dnsdown:
                    down = {}
                    for on_error in ("accept", "tempfail"):
                        conf = sc.merge_conf(sc.BASE_CONF, {"on_error": on_error})
                        down[on_error] = Senderauthd(ns.port, conf=conf).start()
                        daemons["dnsdown-" + on_error] = down[on_error]
                    p, f = dns_down(ns, down)
                    passed, failed = passed + p, failed + f
            finally:
                for e in stop_all(list(daemons.values())):
                    print("FAIL daemon stop:", e)
                    failed += 1
    except DaemonError as e:
        print("FAIL senderauthd: %s" % e)
        failed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("integration: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
