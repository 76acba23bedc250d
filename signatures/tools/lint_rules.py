#!/usr/bin/env python3
"""Lint of the shipped rule set: every rule of signatures/rules/*.rules (enabled or
commented out) follows the project's conventions.

    python3 signatures/tools/lint_rules.py [--source-root DIR]

Checks per rule: a sid inside the project range 8400000-8499999 and inside the sub-range of
its file and family (the table in rulefile.py, shown in signatures/CATALOGUE.md; exploit
rules also inside the sub-range of their CVE); gid 1 if given; rev; a msg starting
"VIGIL " and then the word of its family (EXPLOIT, POST-EXPLOIT, ...); a classtype that
signatures/classification.config defines; at least one reference; metadata with family,
signature_severity, confidence, threat_model and at least one of cve, mitre_technique_id,
behaviour (behaviour and hunting rules: behaviour), with values of the documented form; a
metadata cve matched by a reference:cve; a comment block directly above. Across the set: no
sid and no msg twice. Prints "file:line: sid N: problem" for each finding and exits 1 if
there is any. Standard library only.
"""

import argparse
import os
import re
import sys

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rulefile  # noqa: E402

REQUIRED_META = ("family", "signature_severity", "confidence", "threat_model")


def lint_rule(rule, classtypes):
    """The problems of one rule, as strings."""
    problems = []
    sid, meta = rule["sid"], rule["metadata"]
    family = (meta.get("family") or [None])[0]
    first, last = rulefile.PROJECT_SID_RANGE
    if sid is None:
        return ["no sid"]
    if not first <= sid <= last:
        problems.append("sid outside the project range %d-%d" % (first, last))
    else:
        file_ranges = rulefile.FILE_RANGES.get(rule["file"])
        if file_ranges is None:
            problems.append("file %s has no documented sid range (known: %s)"
                            % (rule["file"], ", ".join(sorted(rulefile.FILE_RANGES))))
        elif family in file_ranges:
            ranges = file_ranges[family]
            if not any(a <= sid <= b for a, b in ranges):
                problems.append("sid outside the range of family %s in %s (%s)" % (
                    family, rule["file"], ", ".join("%d-%d" % r for r in ranges)))
        else:
            if family:
                problems.append("family %s does not belong in %s (expected: %s)"
                                % (family, rule["file"], ", ".join(sorted(file_ranges))))
            ranges = [r for rs in file_ranges.values() for r in rs]
            if not any(a <= sid <= b for a, b in ranges):
                problems.append("sid outside the ranges of %s (%s)" % (
                    rule["file"], ", ".join("%d-%d" % r for r in ranges)))
    if family == "exploit":
        cves = meta.get("cve", [])
        listed = [c for c in cves if any(c == name for name, _, _ in rulefile.CVE_RANGES)]
        if listed:
            for name, a, b in rulefile.CVE_RANGES:
                if name == listed[0] and not a <= sid <= b:
                    problems.append("sid outside the sub-range of %s (%d-%d)" % (name, a, b))
        else:
            a, b = rulefile.OTHER_EXPLOIT_RANGE
            if not a <= sid <= b:
                problems.append("exploit rule without one of the CVEs that have a sub-range "
                                "must use %d-%d" % (a, b))
    if rule["gid"] not in (None, 1):
        problems.append("gid %d (the project uses gid 1)" % rule["gid"])
    if rule["rev"] is None:
        problems.append("no rev")
    msg = rule["msg"]
    if not msg:
        problems.append("no msg")
    elif not msg.startswith("VIGIL "):
        problems.append('msg does not start with "VIGIL "')
    elif family in rulefile.FAMILIES:
        word = rulefile.FAMILIES[family][1]
        if msg.split(" ")[1:2] != [word]:
            problems.append('msg of family %s should read "VIGIL %s ..."' % (family, word))
    if not rule["classtype"]:
        problems.append("no classtype")
    elif rule["classtype"] not in classtypes:
        problems.append("classtype %s is not in signatures/classification.config"
                        % rule["classtype"])
    if not rule["references"]:
        problems.append("no reference")
    for ref in rule["references"]:
        if not ref["type"] or not ref["value"]:
            problems.append("reference %r is not type,value" % ("%s,%s" % (ref["type"],
                                                                          ref["value"])))
    for key in REQUIRED_META:
        if not meta.get(key) or not meta[key][0]:
            problems.append("metadata has no %s" % key)
    if not any(meta.get(k) for k in ("cve", "mitre_technique_id", "behaviour")):
        problems.append("metadata has none of cve, mitre_technique_id, behaviour")
    if family and family not in rulefile.FAMILIES:
        problems.append("metadata family %s is not one of %s"
                        % (family, ", ".join(rulefile.FAMILIES)))
    if family in ("behaviour", "hunting") and not meta.get("behaviour"):
        problems.append("a %s rule names its behaviour in metadata behaviour" % family)
    for sev in meta.get("signature_severity", []):
        if sev not in rulefile.SEVERITIES:
            problems.append("signature_severity %s is not one of %s"
                            % (sev, "|".join(rulefile.SEVERITIES)))
        elif family == "hunting" and sev not in ("Minor", "Informational"):
            problems.append("a hunting rule has severity Minor or Informational, not %s" % sev)
    for conf in meta.get("confidence", []):
        if conf not in rulefile.CONFIDENCES:
            problems.append("confidence %s is not one of %s"
                            % (conf, "|".join(rulefile.CONFIDENCES)))
    for cve in meta.get("cve", []):
        m = re.match(r"^CVE_(\d{4})_(\d{4,})$", cve)
        if not m:
            problems.append("metadata cve %s is not CVE_YYYY_NNNNN" % cve)
        elif not any(r["type"] == "cve" and r["value"] == "%s-%s" % m.groups()
                     for r in rule["references"]):
            problems.append("metadata cve %s has no reference:cve,%s-%s;"
                            % ((cve,) + m.groups()))
    for tid in meta.get("mitre_technique_id", []):
        if not re.match(r"^T\d{4}(\.\d{3})?$", tid):
            problems.append("mitre_technique_id %s is not Txxxx or Txxxx.yyy" % tid)
    if not rule["comment"]:
        problems.append("no comment block directly above the rule")
    return problems


def lint(root):
    """All findings as (file, line, sid or None, problem), in file order."""
    rules, errors = rulefile.read_rules(root)
    classtypes = rulefile.read_classtypes(root)
    findings = [(f, line, None, "does not parse: " + msg) for f, line, msg in errors]
    by_sid, by_msg = {}, {}
    for rule in rules:
        for problem in lint_rule(rule, classtypes):
            findings.append((rule["file"], rule["line"], rule["sid"], problem))
        where = "%s:%d" % (rule["file"], rule["line"])
        if rule["sid"] is not None:
            if rule["sid"] in by_sid:
                findings.append((rule["file"], rule["line"], rule["sid"],
                                 "duplicate sid (also at %s)" % by_sid[rule["sid"]]))
            by_sid.setdefault(rule["sid"], where)
        if rule["msg"]:
            if rule["msg"] in by_msg:
                findings.append((rule["file"], rule["line"], rule["sid"],
                                 "duplicate msg (also at %s)" % by_msg[rule["msg"]]))
            by_msg.setdefault(rule["msg"], where)
    findings.sort(key=lambda f: (f[0], f[1]))
    return rules, findings


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source-root", default=os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..", ".."))
    args = ap.parse_args()
    root = os.path.abspath(args.source_root)
    rules, findings = lint(root)
    for f, line, sid, problem in findings:
        print("signatures/rules/%s:%d: sid %s: %s" % (f, line, "?" if sid is None else sid,
                                                     problem))
    files = len(rulefile.rule_files(root))
    print("%d rules in %d files, %d problems" % (len(rules), files, len(findings)))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
