"""Reading the shipped rule files (signatures/rules/*.rules) for the catalogue and the lint.

A rule file holds one Suricata rule per line (a trailing backslash continues a line), and
`#` comments. A commented-out rule ("# alert ...") is a disabled rule. The comment lines
directly above a rule (no blank line between) say what it detects.

The project's sid ranges live here (SID_RANGES, FILE_RANGES) so that the catalogue's table
and the lint's checks are the same table. Standard library only.
"""

import glob
import json
import os
import re

PROJECT_SID_RANGE = (8400000, 8499999)

# (first, last, what): the documented sub-ranges of the project range, in order.
SID_RANGES = [
    (8400000, 8400099, "BIG-IP CVE exploitation"),
    (8400100, 8400199, "post-exploitation on the management plane"),
    (8400200, 8400299, "management-plane exposure"),
    (8400300, 8400399, "information leaks (BIGipServer cookie)"),
    (8401000, 8401099, "BRICKSTORM / UNC5221: DNS over HTTPS"),
    (8401100, 8401199, "BRICKSTORM / UNC5221: cloud C2 domains"),
    (8401200, 8401299, "BRICKSTORM / UNC5221: published C2 addresses, IOC lists"),
    (8401300, 8401399, "BRICKSTORM / UNC5221: implant C2 and web server"),
    (8401900, 8401999, "BRICKSTORM / UNC5221: hunting"),
    (8490000, 8490099, "behaviour detectors"),
]

# Exploit rules: sub-range of each CVE inside 8400000-8400099 (other CVEs: 70-79).
CVE_RANGES = [
    ("CVE_2020_5902", 8400000, 8400009),
    ("CVE_2022_1388", 8400010, 8400019),
    ("CVE_2021_22986", 8400020, 8400029),
    ("CVE_2023_46747", 8400030, 8400039),
    ("CVE_2021_22991", 8400040, 8400049),
    ("CVE_2022_41800", 8400050, 8400059),
    ("CVE_2022_41622", 8400060, 8400069),
]
OTHER_EXPLOIT_RANGE = (8400070, 8400079)

# file -> {family: [(first, last), ...]}: where each family of a file may put its sids.
FILE_RANGES = {
    "bigip-exploit.rules": {"exploit": [(8400000, 8400079)]},
    "bigip-postexploit.rules": {"post_exploitation": [(8400100, 8400199)]},
    "bigip-exposure.rules": {"exposure": [(8400200, 8400299)], "leak": [(8400300, 8400399)]},
    "brickstorm.rules": {"brickstorm": [(8401000, 8401399)], "hunting": [(8401900, 8401999)]},
    "bigip-behaviour.rules": {"behaviour": [(8490000, 8490099)]},
}

# family -> (title in the catalogue, the word after "VIGIL " in msg)
FAMILIES = {
    "exploit": ("BIG-IP CVE exploitation", "EXPLOIT"),
    "post_exploitation": ("Post-exploitation on the management plane", "POST-EXPLOIT"),
    "exposure": ("Management-plane exposure", "EXPOSURE"),
    "leak": ("Information leaks", "LEAK"),
    "brickstorm": ("BRICKSTORM / UNC5221", "BRICKSTORM"),
    "hunting": ("Hunting (low severity)", "HUNTING"),
    "behaviour": ("Behaviour detectors", "BEHAVIOUR"),
}

SEVERITIES = ("Critical", "Major", "Minor", "Informational")
CONFIDENCES = ("confirmed", "secondary", "inferred")

HEADER_RE = re.compile(
    r"^(?P<action>alert|pass|drop|reject|rejectsrc|rejectdst|rejectboth)\s+"
    r"(?P<proto>\S+)\s+(?P<src>\S+)\s+(?P<sport>\S+)\s+(?P<dir>->|<>)\s+"
    r"(?P<dst>\S+)\s+(?P<dport>\S+)\s*\((?P<body>.*)\)\s*$")

# A commented-out rule: "#" then something that starts like a rule header.
DISABLED_RE = re.compile(
    r"^#+\s*((?:alert|pass|drop|reject|rejectsrc|rejectdst|rejectboth)\s+\S+\s+\S+\s+\S+\s+"
    r"(?:->|<>)\s.*\(.*)$")

DECORATION_RE = re.compile(r"^[\W_]*$")


class RuleError(Exception):
    pass


def split_options(body):
    """The options of a rule body as [(keyword, value or None)], in order. Options end at
    a ';' that is neither escaped nor inside double quotes."""
    opts, cur, quoted, i = [], [], False, 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            cur.append(body[i:i + 2])
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        if c == ";" and not quoted:
            opts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    if quoted:
        raise RuleError("unterminated quoted string")
    if "".join(cur).strip():
        raise RuleError("text after the last ';': %r" % "".join(cur).strip())
    out = []
    for opt in opts:
        opt = opt.strip()
        if not opt:
            continue
        key, sep, value = opt.partition(":")
        out.append((key.strip(), value.strip() if sep else None))
    return out


def unquote(value):
    if value is not None and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    return re.sub(r"\\(.)", r"\1", value or "")


def parse_metadata(values):
    """metadata option values ("k v, k v") -> {key: [values]} in order of appearance."""
    meta = {}
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            key, _, val = item.partition(" ")
            meta.setdefault(key.strip(), []).append(val.strip())
    return meta


def reference_url(kind, value):
    if kind == "cve":
        return "https://nvd.nist.gov/vuln/detail/CVE-%s" % value
    if kind == "url":
        return value if re.match(r"^[a-z]+://", value) else "https://" + value
    return None


def parse_rule(text):
    """One rule line -> dict of its header and the options the catalogue and lint use."""
    m = HEADER_RE.match(text.strip())
    if not m:
        raise RuleError("not a rule: header or parentheses not as 'action proto src sport -> "
                        "dst dport (options)'")
    opts = split_options(m.group("body"))
    rule = {k: m.group(k) for k in ("action", "proto", "src", "sport", "dir", "dst", "dport")}
    rule.update(options=[k for k, _ in opts], sid=None, gid=None, rev=None, msg=None,
                classtype=None, references=[], metadata={}, detector=None)
    meta_values = []
    for key, value in opts:
        if key in ("sid", "gid", "rev"):
            if value is None or not value.isdigit():
                raise RuleError("%s is not a number: %r" % (key, value))
            rule[key] = int(value)
        elif key == "msg":
            rule["msg"] = unquote(value)
        elif key == "classtype":
            rule["classtype"] = value
        elif key == "reference":
            kind, _, ref = (value or "").partition(",")
            rule["references"].append({"type": kind.strip(), "value": ref.strip(),
                                       "url": reference_url(kind.strip(), ref.strip())})
        elif key == "metadata":
            meta_values.append(value or "")
        elif key == "detector":
            rule["detector"] = value
    rule["metadata"] = parse_metadata(meta_values)
    return rule


def read_rule_file(path):
    """Every rule of one file (enabled and disabled) with its line and comment block, and
    the lines that look like rules but do not parse: (rules, errors)."""
    with open(path, encoding="utf-8") as f:
        raw = f.read().split("\n")
    # join continuation lines, remembering where each logical line starts
    lines, i = [], 0
    while i < len(raw):
        start, text = i + 1, raw[i]
        while text.endswith("\\") and i + 1 < len(raw):
            i += 1
            text = text[:-1] + raw[i].lstrip()
        lines.append((start, text.rstrip()))
        i += 1
    rules, errors, comment = [], [], []
    for lineno, text in lines:
        stripped = text.strip()
        if not stripped:
            comment = []
            continue
        disabled = DISABLED_RE.match(stripped)
        if stripped.startswith("#") and not disabled:
            words = stripped.lstrip("#").strip()
            if not DECORATION_RE.match(words):
                comment.append(words)
            continue
        body = disabled.group(1) if disabled else stripped
        try:
            rule = parse_rule(body)
        except RuleError as e:
            if not disabled:
                errors.append((lineno, str(e)))
            else:
                comment.append(stripped.lstrip("#").strip())
                continue
            comment = []
            continue
        rule.update(file=os.path.basename(path), line=lineno, enabled=not disabled,
                    comment=" ".join(comment))
        rules.append(rule)
        comment = []
    return rules, errors


def rule_files(root):
    return sorted(glob.glob(os.path.join(root, "signatures", "rules", "*.rules")))


def read_rules(root):
    """All shipped rules in file order, and the parse errors as (file, line, message)."""
    rules, errors = [], []
    for path in rule_files(root):
        r, e = read_rule_file(path)
        rules += r
        errors += [(os.path.basename(path), line, msg) for line, msg in e]
    return rules, errors


def read_threat_cases(root):
    """sid -> {"fire": [case], "miss": [case]} from pcaps/threat/*/expected.json, where a
    case is {"name": "family/name", "pcap": path relative to the source root}."""
    cases = {}
    for exp in sorted(glob.glob(os.path.join(root, "pcaps", "threat", "*", "expected.json"))):
        family_dir = os.path.relpath(os.path.dirname(exp), root)
        with open(exp, encoding="utf-8") as f:
            spec = json.load(f)
        for case in spec.get("cases", []):
            kind = "fire" if case.get("kind") == "fire" else "miss"
            entry = {"name": "%s/%s" % (spec.get("family", os.path.basename(family_dir)),
                                        case.get("name", "")),
                     "pcap": "%s/%s" % (family_dir.replace(os.sep, "/"), case.get("pcap", ""))}
            for sid in case.get("covers", []):
                cases.setdefault(int(sid), {"fire": [], "miss": []})[kind].append(entry)
    return cases


def read_classtypes(root):
    names = set()
    with open(os.path.join(root, "signatures", "classification.config"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\s*config\s+classification\s*:\s*([^,\s]+)\s*,", line)
            if m:
                names.add(m.group(1))
    return names


def sid_range_of(sid):
    for first, last, what in SID_RANGES:
        if first <= sid <= last:
            return what
    return None
