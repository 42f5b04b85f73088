"""suites.py - what the programs that run the shared test suites (tests/suites/) share:
where the suites are (env SA_TESTSUITES, by default ../shared/testsuites next to the
source tree) and the expected-failures file of a suite (one "ID reason" a line).

    base = suites_dir()
    xfail = load_xfail(os.path.join(SRC, "tests/suites/arc/expected-failures.txt"))
    AGGREGATE_XSD                           # the DMARC aggregate report schema (RFC 9990)
"""
import os


def suites_dir():
    src = os.environ.get("SA_SRC", os.getcwd())
    return os.environ.get("SA_TESTSUITES", os.path.join(src, "..", "shared", "testsuites"))


AGGREGATE_XSD = os.path.join(suites_dir(), "dmarc-aggregate-schema", "rfc9990",
                             "dmarc-xml-0.2.xsd")


def load_xfail(path):
    """{id: reason} from path; a line without a reason ends the program."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            tid, _, why = line.partition(" ")
            if not why.strip():
                raise SystemExit("%s: %s: no reason given" % (path, tid))
            out[tid] = why.strip()
    return out
