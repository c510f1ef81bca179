"""Drafts deny-list entries for the unexpected failures of a conformance run.

    python tests/conformance/suggest_deny_entries.py build/conformance/results_conformance_cpu.jsonl >> draft.txt

Each failing inference case that is not on the deny-list gets a `gap` entry whose reason is drafted
from its error (the operator, then what is missing), grouped under one comment per reason. Read the
draft before adding it to deny_list.txt: a reason must say why, and a wrong result usually needs a
fix, not an entry. A case name failing in every set it appears in gets a bare entry; one failing in
some sets only is prefixed with its set.
"""

import collections
import json
import re
import sys

DATA_DEPENDENT = re.compile(r"not known before running")
UNSUPPORTED_OP = re.compile(r"Kiln does not support the operator (\S+)")
ELEMENT_TYPE = re.compile(r"element type (\w+), which Kiln does not support")
NOT_TENSOR = re.compile(r"is not a tensor|the runner feeds and reads tensors only")
OLD_OPSET = re.compile(r"uses default-domain opset (\d+); Kiln imports opsets (\d+ to \d+)")
NO_KERNEL = re.compile(r"not supported by the (\w+) backend: .*?\(([\w.:]+)\): (.*)")
NODE_PREFIX = re.compile(r"node \d+ '[^']*' \(([\w.:]+)\): ")


def reason_for(result):
    message = result["message"]
    op = result["failing_op"] or (result["op_types"][0] if result["op_types"] else "?")
    if m := OLD_OPSET.search(message):
        return f"opset {m.group(1)} model: Kiln imports opsets {m.group(2)}"
    if m := UNSUPPORTED_OP.search(message):
        return f"{m.group(1)}: operator not implemented yet"
    if m := ELEMENT_TYPE.search(message):
        return f"{op}: element type {m.group(1)} not supported yet"
    if NOT_TENSOR.search(message):
        return f"{op}: sequence/optional graph inputs or outputs not supported (engine I/O is tensors only)"
    if DATA_DEPENDENT.search(message):
        return (f"{op}: a shape-giving input (shape/axes/pads/repeats...) is a graph input, so the output "
                "shape is only known at run time; Kiln has no run-time shape tensors yet")
    if m := NO_KERNEL.search(message):
        return f"{m.group(2)}: no {m.group(1)} kernel for this case ({m.group(3)})"
    if result["status"] == "fail":
        return f"{op}: wrong result ({message.split(':', 1)[-1].strip()[:120]})"
    cleaned = NODE_PREFIX.sub("", message)
    return f"{op}: {cleaned[:160]}"


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        results = [json.loads(line) for line in f if line.strip()]
    failing = collections.defaultdict(set)  # case name -> sets it fails in
    appears = collections.defaultdict(set)  # case name -> sets it appears in
    for r in results:
        appears[r["case"]].add(r["set"])
        if not r["training"] and not r["denied"] and r["status"] not in ("pass", "skipped"):
            failing[r["case"]].add(r["set"])
    by_reason = collections.defaultdict(list)
    seen = set()
    for r in results:
        if r["set"] not in failing.get(r["case"], ()):
            continue
        everywhere = failing[r["case"]] == appears[r["case"]]
        pattern = re.escape(r["case"]) if everywhere else f"{re.escape(r['set'])}/{re.escape(r['case'])}"
        if pattern in seen:
            continue
        seen.add(pattern)
        reason = reason_for(r)
        by_reason[reason].append((pattern, reason))
    for reason in sorted(by_reason, key=lambda k: (-len(by_reason[k]), k)):
        print(f"# {reason} ({len(by_reason[reason])})")
        for pattern, why in sorted(by_reason[reason]):
            print(f"gap {pattern} {why}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
