#!/usr/bin/python3
"""test_report_aggregate.py - senderauth-report over a day of synthetic history.

A SQLite store made with senderauthctl init gets several thousand history rows (many
domains, source IPs, header-from subdomains, overrides, multi-signature DKIM, rows outside
the day, tempfail rows, domains without rua or without a record). Then:
- run --xml-only DIR: one file per reporting domain named receiver!domain!begin!end!id.xml.gz;
  every XML validates against the RFC 9990 XSD (xmllint --schema, from the shared test
  suites' dmarc-aggregate-schema/rfc9990); every record count equals the rows it stands
  for, and source IP / exact header-from are never merged;
- run with a fake sendmail (a script that keeps stdin and its arguments) and a real NSD:
  every rua mailto: gets its mail, parsed back with Python's email package (MIME per
  RFC 9990 6.3, subject, attachment name, gzip, XML); an external destination is used only
  when <domain>._report._dmarc.<dest> authorizes it; !size limits; our own address is
  never mailed (loop); a destination failing report.max_failures times is skipped (dead);
- stats --format csv and json against counts computed from the rows.
Prints one line per failed check and `report-aggregate: N passed, M failed`.
"""
import collections
import email
import email.policy
import gzip
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

SRC = os.environ.get("SA_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
BUILD = os.environ.get("SA_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests/lib"))
from satest.checks import Checks  # noqa: E402
from satest.nsd import Nsd  # noqa: E402
from satest.suites import AGGREGATE_XSD as XSD  # noqa: E402

NS = "{urn:ietf:params:xml:ns:dmarc-2.0}"
DAY = 1700006400  # a UTC midnight
REPORTER = "reports@isp.example"


T = Checks(quiet=True)
check = T.eq


COLS = ("at source_ip env_from header_from policy_domain spf_domain spf_scope spf_result "
        "dkim dmarc_result dkim_aligned spf_aligned p sp np pct testing adkim aspf "
        "disposition reason reason_comment discovery rua action would rcpt_consent "
        "rcpt_total").split()


def synth(rng, n):
    """n rows: dicts with every column."""
    doms = ["d%02d.example" % i for i in range(24)]
    rua = {d: "mailto:agg@%s" % d for d in doms}
    rua["d00.example"] = "mailto:agg@d00.example,mailto:rua@thirdparty.example!10m"
    rua["d01.example"] = "mailto:rua@unauth.example"
    rua["d02.example"] = "mailto:agg@d02.example!1k"
    rua["d03.example"] = "mailto:%s, mailto:agg@d03.example" % REPORTER
    rua["d04.example"] = "mailto:broken@d04.example"
    rua["d05.example"] = ""          # record without rua: recorded, never reported
    rows = []
    for i in range(n):
        d = rng.choice(doms)
        sub = rng.choice(["", "", "", "mail.", "news.", "a.b."])
        hfrom = sub + d
        ip = rng.choice(["192.0.2.%d" % rng.randint(1, 40), "198.51.100.%d" % rng.randint(1, 9),
                         "2001:db8::%x" % rng.randint(1, 20)])
        spf = rng.choice(["pass", "pass", "fail", "softfail", "none", "temperror"])
        sigs = []
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            sigs.append("%s:%s:%s" % (rng.choice(["pass", "pass", "fail", "permerror"]),
                                       rng.choice([d, "esp.example", hfrom]),
                                       rng.choice(["s1", "s2", "k2024"])))
        dkim = " ".join(sigs)
        dk_al = int(any(s.startswith("pass:") and (s.split(":")[1].endswith(d)) for s in sigs))
        spf_al = int(spf == "pass" and rng.random() < 0.8)
        dmarc = "pass" if dk_al or spf_al else "fail"
        p = rng.choice(["none", "quarantine", "reject"]) if d not in ("d06.example",) else "none"
        disp, reason, comment = "none", "", ""
        if dmarc == "pass":
            disp = "pass" if p != "none" else "none"
        elif p != "none":
            r = rng.random()
            if r < 0.3:
                disp = p
            else:
                reason, comment = rng.choice([("trusted_forwarder", ""), ("mailing_list", ""),
                                              ("local_policy", "no consent"),
                                              ("other", "sampled_out"),
                                              ("policy_test_mode", "")])
        action = disp if disp in ("quarantine", "reject") else "accept"
        if rng.random() < 0.02:
            action = "tempfail"
        at = DAY + rng.randint(0, 86399)
        if rng.random() < 0.03:
            at = rng.choice([DAY - rng.randint(1, 5000), DAY + 86400 + rng.randint(0, 5000)])
        policy = d if d != "d23.example" or rng.random() < 0.5 else ""   # no record
        rows.append(dict(
            at=at, source_ip=ip, env_from=rng.choice([hfrom, "bounce." + d, ""]),
            header_from=hfrom, policy_domain=policy,
            spf_domain=hfrom if spf != "none" or rng.random() < 0.5 else "",
            spf_scope="mfrom", spf_result=spf, dkim=dkim, dmarc_result=dmarc if policy else "none",
            dkim_aligned=dk_al, spf_aligned=spf_al, p=p, sp=rng.choice(["", "reject"]),
            np=rng.choice(["", "reject"]), pct=100, testing=int(reason == "policy_test_mode"),
            adkim=rng.choice(["r", "s"]), aspf="r", disposition=disp, reason=reason,
            reason_comment=comment, discovery=rng.choice(["psl", "treewalk"]),
            rua=rua[d] if policy else "", action=action, would=action,
            rcpt_consent=rng.randint(0, 2), rcpt_total=2))
    return rows


def reportable(r):
    return (DAY <= r["at"] < DAY + 86400 and r["policy_domain"] and r["rua"]
            and r["action"] != "tempfail")


def gkey(r):
    return (r["source_ip"], r["header_from"], r["env_from"], r["disposition"],
            tuple(sorted(r["dkim"].split())), r["spf_domain"], r["spf_result"], r["reason"],
            r["dkim_aligned"], r["spf_aligned"])


def xml_groups(root):
    """{domain: Counter(group key -> count)} from one report's records."""
    out = collections.Counter()
    for rec in root.findall(NS + "record"):
        row = rec.find(NS + "row")
        pe = row.find(NS + "policy_evaluated")
        ids = rec.find(NS + "identifiers")
        ar = rec.find(NS + "auth_results")
        sigs = tuple(sorted("%s:%s:%s" % (d.findtext(NS + "result"), d.findtext(NS + "domain"),
                                          d.findtext(NS + "selector"))
                            for d in ar.findall(NS + "dkim")))
        spf = ar.find(NS + "spf")
        reason = pe.find(NS + "reason")
        key = (row.findtext(NS + "source_ip"), ids.findtext(NS + "header_from"),
               ids.findtext(NS + "envelope_from") or "", pe.findtext(NS + "disposition"), sigs,
               spf.findtext(NS + "domain") if spf is not None else "",
               spf.findtext(NS + "result") if spf is not None else "none",
               reason.findtext(NS + "type") if reason is not None else "",
               int(pe.findtext(NS + "dkim") == "pass"), int(pe.findtext(NS + "spf") == "pass"))
        out[key] += int(row.findtext(NS + "count"))
    return out


def write_conf(path, db, dns_port, sendmail, extra=""):
    with open(path, "w") as f:
        f.write('store = { sqlite_path = "%s"; };\n' % db)
        f.write('dns = { nameservers = [ "127.0.0.1:%d" ]; timeout = 2; retries = 1; };\n'
                % dns_port)
        f.write('report = { org_name = "ISP Example"; email = "%s"; sendmail_path = "%s";'
                ' max_failures = 2; retention_days = 0; %s };\n' % (REPORTER, sendmail, extra))


FAKE_SENDMAIL = """#!/bin/sh
# keeps each message and its arguments; fails for recipients listed in FAIL
dir=%s
n=$(ls "$dir" | grep -c '^mail-')
cat > "$dir/mail-$n.eml"
echo "$@" > "$dir/args-$n"
for a in "$@"; do grep -qx -- "$a" "$dir/FAIL" 2>/dev/null && { rm "$dir/mail-$n.eml"; exit 75; }; done
exit 0
"""


def tool(conf, *args):
    p = subprocess.run([os.path.join(BUILD, "senderauth-report"), "-c", conf] + list(args),
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def main():
    if not os.path.exists(XSD) or shutil.which("xmllint") is None:
        print("SKIP: needs xmllint and %s" % XSD)
        return 77
    rng = random.Random(9990)
    work = tempfile.mkdtemp(prefix="sa-report-")
    try:
        db = os.path.join(work, "store.db")
        mails = os.path.join(work, "mails")
        os.mkdir(mails)
        sendmail = os.path.join(work, "sendmail")
        with open(sendmail, "w") as f:
            f.write(FAKE_SENDMAIL % mails)
        os.chmod(sendmail, 0o755)
        with open(os.path.join(mails, "FAIL"), "w") as f:
            f.write("broken@d04.example\n")
        recs = [("d00.example._report._dmarc.thirdparty.example", "TXT", "v=DMARC1")]
        with Nsd(recs) as ns:
            conf = os.path.join(work, "senderauth.conf")
            write_conf(conf, db, ns.port, sendmail)
            p = subprocess.run([os.path.join(BUILD, "senderauthctl"), "-c", conf, "init"],
                               capture_output=True, text=True)
            check("ctl init", p.returncode, 0)
            rows = synth(rng, 6000)
            for i, r in enumerate(rows):  # measure mode: enforce would have acted
                if i % 7 == 0 and r["action"] == "accept" and r["disposition"] == "none":
                    r["would"] = "reject" if i % 2 else "quarantine"
            for u, on in (("taro@example.jp", "on"), ("jiro@example.jp", "off"),
                          ("hanako@example.net", "on")):
                subprocess.run([os.path.join(BUILD, "senderauthctl"), "-c", conf, "user", "set",
                                u, on, "--channel", "test"], capture_output=True)
            con = sqlite3.connect(db)
            con.executemany("INSERT INTO dmarc_history (%s) VALUES (%s)" % (
                ",".join(COLS), ",".join("?" * len(COLS))),
                [tuple(r[c] for c in COLS) for r in rows])
            con.commit()
            con.close()
            want = collections.defaultdict(collections.Counter)
            for r in rows:
                if reportable(r):
                    want[r["policy_domain"]][gkey(r)] += 1

            # ---- --xml-only ----
            out = os.path.join(work, "xml")
            os.mkdir(out)
            rc, so, se = tool(conf, "run", "--from", "2023-11-15", "--xml-only", out)
            check("xml-only exit", (rc, se), (0, ""))
            files = sorted(os.listdir(out))
            check("one file per reporting domain", len(files), len(want))
            seen = {}
            for fn in files:
                parts = fn[:-len(".xml.gz")].split("!")
                check("file name form " + fn, (len(parts), parts[0], parts[2], parts[3],
                                               fn.endswith(".xml.gz")),
                      (5, "isp.example", str(DAY), str(DAY + 86399), True))
                data = gzip.open(os.path.join(out, fn)).read()
                x = os.path.join(work, "r.xml")
                with open(x, "wb") as f:
                    f.write(data)
                v = subprocess.run(["xmllint", "--noout", "--schema", XSD, x],
                                   capture_output=True, text=True)
                check("xsd " + fn, (v.returncode, v.stderr.strip().splitlines()[-1:]),
                      (0, [x + " validates"]))
                root = ET.fromstring(data)
                dom = root.find(NS + "policy_published").findtext(NS + "domain")
                seen[dom] = xml_groups(root)
                check("report_id unique in name " + dom,
                      root.find(NS + "report_metadata").findtext(NS + "report_id"), parts[4])
                check("domain in name " + dom, parts[1], dom)
            check("domains reported", sorted(seen), sorted(want))
            for d in want:
                check("records of " + d, seen.get(d), want[d])
            total = sum(sum(c.values()) for c in want.values())
            check("summary line", "written=%d" % len(want) in so and "rows=%d" % total in so, True)

            # ---- mail through the fake sendmail ----
            prom = os.path.join(work, "report.prom")
            rc, so, se = tool(conf, "run", "--from", str(DAY), "--to", str(DAY + 86400),
                              "--metrics", prom)
            check("run exit (d04 fails)", rc, 1)
            lines = so.splitlines()
            summ = dict(kv.split("=") for kv in lines[-1].split()[1:])
            prom_v = {}
            for ln in open(prom).read().splitlines() if os.path.exists(prom) else []:
                if ln and not ln.startswith("#"):
                    k, v = ln.rsplit(" ", 1)
                    prom_v[k] = int(v)
            check("metrics file = summary", [prom_v.get(k) for k in (
                "senderauth_report_domains", "senderauth_report_rows",
                'senderauth_report_destinations{status="sent"}',
                'senderauth_report_destinations{status="failed"}',
                'senderauth_report_destinations{status="skipped"}',
                "senderauth_report_last_run_status", "senderauth_report_interval_end_seconds")],
                [int(summ["domains"]), int(summ["rows"]), int(summ["sent"]), int(summ["failed"]),
                 int(summ["skipped"]), 1, DAY + 86400])
            check("no metrics temp file left", os.path.exists(prom + ".tmp"), False)

            def status(dom, dest):
                for ln in lines:
                    w = ln.split(" ", 3)
                    if len(w) >= 3 and w[1] == dom and w[2] == dest:
                        return w[0]
                return None
            check("internal sent", status("d00.example", "mailto:agg@d00.example"), "sent")
            check("external authorized sent",
                  status("d00.example", "mailto:rua@thirdparty.example!10m"), "sent")
            check("external not authorized skipped",
                  status("d01.example", "mailto:rua@unauth.example"), "skipped")
            check("!1k too big skipped", status("d02.example", "mailto:agg@d02.example!1k"),
                  "skipped")
            check("loop skipped", status("d03.example", "mailto:" + REPORTER), "skipped")
            check("second uri of d03 sent", status("d03.example", "mailto:agg@d03.example"), "sent")
            check("sendmail failure", status("d04.example", "mailto:broken@d04.example"), "failed")
            check("no report for a record without rua",
                  any(" d05.example " in ln for ln in lines), False)
            n_sent = sum(1 for ln in lines if ln.startswith("sent "))
            emls = sorted(f for f in os.listdir(mails) if f.startswith("mail-"))
            check("one mail per sent report", len(emls), n_sent)
            got_mail = collections.defaultdict(collections.Counter)
            for fn in emls:
                idx = fn[5:-4]
                args = open(os.path.join(mails, "args-" + idx)).read().split()
                msg = email.message_from_bytes(open(os.path.join(mails, fn), "rb").read(),
                                               policy=email.policy.default)
                to = str(msg["To"])
                check("sendmail args " + to, args, ["-i", "-f", REPORTER, "--", to])
                dom = to.split("@")[1] if "thirdparty" not in to else "d00.example"
                subj = str(msg["Subject"])
                check("subject form " + to, subj.startswith("Report Domain: %s Submitter: "
                                                            "isp.example Report-ID: <" % dom),
                      True)
                check("from " + to, str(msg["From"]), REPORTER)
                check("multipart " + to, msg.get_content_type(), "multipart/mixed")
                parts = list(msg.iter_attachments())
                check("one attachment " + to, len(parts), 1)
                att = parts[0]
                check("attachment type " + to, att.get_content_type(), "application/gzip")
                name = att.get_filename()
                check("attachment name " + to, name.startswith("isp.example!%s!%d!%d!" % (
                    dom, DAY, DAY + 86399)) and name.endswith(".xml.gz"), True)
                root = ET.fromstring(gzip.decompress(att.get_content()))
                rid = root.find(NS + "report_metadata").findtext(NS + "report_id")
                check("report id in subject " + to, subj.endswith("<%s>" % rid), True)
                got_mail[dom] += xml_groups(root)
            for dom in ("d00.example", "d03.example", "d10.example"):
                mult = 2 if dom == "d00.example" else 1
                check("mailed counts " + dom, got_mail[dom],
                      collections.Counter({k: v * mult for k, v in want[dom].items()}))

            # ---- dead destination: max_failures = 2 ----
            rc, so, se = tool(conf, "run", "--from", str(DAY), "--to", str(DAY + 86400))
            check("second failure", " d04.example mailto:broken@d04.example" in so and
                  "failed d04.example" in so, True)
            rc, so, se = tool(conf, "run", "--from", str(DAY), "--to", str(DAY + 86400))
            check("dead after 2 failures", "skipped d04.example mailto:broken@d04.example "
                  in so and "dead: 2 consecutive failures" in so, True)

            # ---- stats ----
            inday = [r for r in rows if DAY <= r["at"] < DAY + 86400]
            rc, so, se = tool(conf, "stats", "--from", "2023-11-15", "--to", "2023-11-15",
                              "--format", "csv")
            check("stats exit", (rc, se), (0, ""))
            csv = {}
            for ln in so.splitlines()[1:]:
                s, k, n = ln.rsplit(",", 2)
                csv[(s, k)] = int(n)
            check("stats messages", csv.get(("messages", "")), len(inday))
            for res in ("pass", "fail", "softfail", "none", "temperror"):
                check("stats spf " + res, csv.get(("spf", res), 0),
                      sum(1 for r in inday if r["spf_result"] == res))
            for act in ("accept", "quarantine", "reject", "tempfail"):
                check("stats action " + act, csv.get(("action", act), 0),
                      sum(1 for r in inday if r["action"] == act))
            check("stats dkim pass", csv.get(("dkim", "pass"), 0),
                  sum(1 for r in inday if any(s.startswith("pass:") for s in r["dkim"].split())))
            check("stats recipients", (csv.get(("recipients", "consenting")),
                                       csv.get(("recipients", "total"))),
                  (sum(r["rcpt_consent"] for r in inday), sum(r["rcpt_total"] for r in inday)))
            for act in ("accept", "quarantine", "reject", "tempfail"):
                check("stats would " + act, csv.get(("would", act), 0),
                      sum(1 for r in inday if r["would"] == act))
            check("stats measure mode differs from action",
                  csv.get(("would", "reject"), 0) > csv.get(("action", "reject"), 0), True)
            for reason in ("trusted_forwarder", "mailing_list", "policy_test_mode"):
                check("stats override " + reason, csv.get(("override", reason), 0),
                      sum(1 for r in inday if r["reason"] == reason))
            check("stats consent uptake", [csv.get(k) for k in (
                ("consent_on", "example.jp"), ("consent_users", "example.jp"),
                ("consent_on", "example.net"), ("consent_users", "example.net"))],
                [1, 2, 1, 1])
            check("stats: no reports sent during the day itself", csv.get(("reports", "sent")),
                  None)
            now = int(time.time())
            rc, so, se = tool(conf, "stats", "--from", str(now - 3600), "--to", str(now + 3600))
            sent = {ln.split(",")[1]: int(ln.split(",")[2]) for ln in so.splitlines()
                    if ln.startswith("reports,")}
            check("stats reports sent now", sent.get("sent"), n_sent * 3)
            check("stats reports failed now", sent.get("failed"), 2)
            rc, so, se = tool(conf, "stats", "--from", str(DAY), "--to", str(DAY + 86400),
                              "--format", "json")
            j = json.loads(so)
            check("json messages", j["messages"][""], len(inday))
            check("json dmarc", sum(j["dmarc"].values()), len(inday))
            rc, so, se = tool(conf, "stats", "--from", "x", "--to", "y")
            check("stats bad date", rc, 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return T.finish("report-aggregate")


if __name__ == "__main__":
    sys.exit(main())
