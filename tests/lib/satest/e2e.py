"""e2e.py - what every Postfix end-to-end program (tests/e2e/test_postfix*.py) repeats:
the skip test, then NSD -> senderauthd -> private Postfix started in that order, the
program's checks, both servers stopped (a failed stop is a failed check), the logs shown
and the directories kept when a check failed (or SA_KEEP is set), else removed, and the
closing tally line.

    if skipped("postfix iprev e2e", tools=("senderauthd",)):
        return 0
    t = Checks()
    return run_behind_postfix(t, "postfix iprev e2e", ZONE, conf, [ALICE],
                              lambda pf, d, ns: run_all(t, pf, d))

setup(d), when given, runs after the daemon's configuration is written and before it
starts (senderauthctl init, consent rows).
"""
import os
import shutil

from .daemon import DaemonError, Senderauthd, build_dir
from .nsd import Nsd
from .postfix import Postfix, PostfixError, missing


def skipped(label, tools=("senderauthd",), why=None):
    """True (after printing SKIP and a zero tally) when Postfix, NSD or one of the
    programs in tools is not there, or else when why (the caller's own reason) is set."""
    extra, why = why, missing()
    for tool in tools:
        if not why and not os.access(os.path.join(build_dir(), tool), os.X_OK):
            why = "no %s in %s" % (tool, build_dir())
    why = why or extra
    if not why:
        return False
    print("SKIP: %s" % why)
    print("%s: 0 passed, 0 failed" % label)
    return True


def run_behind_postfix(t, label, zone, conf, mailboxes, run, tmp=None, setup=None,
                       main=None, tails=(12, 15)):
    """Start NSD serving zone, senderauthd with conf and a Postfix delivering to
    mailboxes (extra main.cf settings in main, or main(d) for ones that name the
    daemon's port), call run(pf, d, ns), stop everything;
    print the tally and return the exit status. tmp (the caller's scratch directory)
    is removed with the servers' ones when every check passed; tails: how many log
    lines of senderauthd and Postfix to show otherwise."""
    d = pf = None
    try:
        with Nsd(zone) as ns:
            d = Senderauthd(ns.port, conf=conf)
            if setup is not None:
                d.write_conf()
                setup(d)
            d.start()
            pf = Postfix(milter_port=d.port, mailboxes=mailboxes,
                         main=main(d) if callable(main) else main)
            pf.start()
            run(pf, d, ns)
    except (OSError, DaemonError, PostfixError, RuntimeError) as e:
        t.check("setup and conversation", False, "%s: %s" % (type(e).__name__, e))
    finally:
        stop(t, pf, d)
        if t.failed or os.environ.get("SA_KEEP"):
            if d is not None:
                print("--- senderauthd: %s" % d.log_tail(tails[0]))
            if pf is not None:
                print("--- postfix: %s\n(kept in %s)" % (pf.log_tail(tails[1]), pf.dir))
        elif pf is not None:
            for p in (pf.dir, d.dir, tmp):
                if p:
                    shutil.rmtree(p, ignore_errors=True)
    print("%s: %d passed, %d failed" % (label, t.passed, t.failed))
    return 1 if t.failed else 0


def stop(t, pf, d):
    """Stop Postfix, then senderauthd (either may be None); a failed stop is a check."""
    if pf is not None:
        try:
            pf.stop()
        except PostfixError as e:
            t.check("Postfix stopped cleanly", False, str(e))
    if d is not None:
        try:
            d.stop()
        except DaemonError as e:
            t.check("senderauthd stopped cleanly", False, str(e))

