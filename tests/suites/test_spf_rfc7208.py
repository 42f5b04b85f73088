"""test_spf_rfc7208.py - the OpenSPF RFC 7208 suite (shared test suites, spf-rfc7208/)
through spf_eval() on the production DNS stack against a real NSD. Fails when a test
fails that tests/suites/spf/rfc7208-known-failures.txt does not list, or when a listed
test passes (so the list stays exact)."""
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("SA_SRC", "."), "tests/suites/spf"))
import spfsuite  # noqa: E402

if __name__ == "__main__":
    base = os.path.join(spfsuite.suites_dir(), "spf-rfc7208")
    sys.exit(spfsuite.main("SPF RFC 7208", [os.path.join(base, "rfc7208-tests.yml")],
                           os.path.join(spfsuite.SRC, "tests/suites/spf/rfc7208-known-failures.txt")))
