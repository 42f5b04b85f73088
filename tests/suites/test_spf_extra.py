"""test_spf_extra.py - pyspf's and blitiri's SPF YAML tests (shared test suites, spf-extra/)
through spf_eval() on the production DNS stack against a real NSD. Fails when a test
fails that tests/suites/spf/extra-known-failures.txt does not list, or when a listed
test passes. pyspf's Received-SPF header checks are skipped (pyspf's own format)."""
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("SA_SRC", "."), "tests/suites/spf"))
import spfsuite  # noqa: E402

if __name__ == "__main__":
    base = os.path.join(spfsuite.suites_dir(), "spf-extra")
    sys.exit(spfsuite.main("SPF extra", [os.path.join(base, "pyspf/test.yml"),
                                          os.path.join(base, "blitiri/blitirispf-tests.yml")],
                           os.path.join(spfsuite.SRC, "tests/suites/spf/extra-known-failures.txt")))
