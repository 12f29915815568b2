#!/usr/bin/env python3
"""Holds the statuses the integration tests observed against the ones /openapi.json declares.

Usage: check_statuses.py DIR

DIR is what the test suite wrote with OBSERVED_STATUSES_DIR=DIR (tests/api/helpers.rs): one
`*.tsv` per test app, lines `METHOD<TAB>route pattern<TAB>status<TAB>count` taken from the
app's own per-route request counter, and `openapi.json`, the document that app served.
Fails when any observed (method, route, status) is not declared by the document's operation
for that route, when a matched route is not a documented operation, or when nothing was
recorded at all. Requests no route matched (`unmatched`: 404 route_not_found) and a method a
documented path does not have (405 method_not_allowed) belong to no operation and are not held
against one. Every line is prefixed "[statuses]".
"""
import glob
import json
import os
import sys


def say(msg):
    print(f"[statuses] {msg}")


def main(directory):
    doc_path = os.path.join(directory, "openapi.json")
    if not os.path.exists(doc_path):
        say(f"FAIL: {doc_path} is missing: no test app recorded anything")
        return 1
    with open(doc_path, encoding="utf-8") as f:
        doc = json.load(f)
    declared = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace"):
                declared[(method.upper(), path)] = set(op.get("responses", {}))

    observed = {}
    files = glob.glob(os.path.join(directory, "*.tsv"))
    for name in files:
        with open(name, encoding="utf-8") as f:
            for line in f:
                method, route, status, count = line.rstrip("\n").split("\t")
                key = (method, route, status)
                observed[key] = observed.get(key, 0) + int(count)
    matched = {k: n for k, n in observed.items() if k[1] != "unmatched"}
    if not matched:
        say(f"FAIL: no answer of a documented route was recorded ({len(files)} files in {directory})")
        return 1

    failures = []
    for (method, route, status), n in sorted(matched.items()):
        statuses = declared.get((method, route))
        if statuses is None and status == "405" and any(r == route for (_, r) in declared):
            continue  # another method on a documented path: the router's 405, no operation's
        if statuses is None:
            failures.append(f"{method} {route} answered {status} ({n}x) but is no documented operation")
        elif status not in statuses and f"{status[0]}XX" not in statuses and "default" not in statuses:
            failures.append(
                f"{method} {route} answered {status} ({n}x); the document declares only {sorted(statuses)}"
            )
    routes = {(m, r) for (m, r, _) in matched if (m, r) in declared}
    say(
        f"{sum(matched.values())} answers of {len(routes)} of {len(declared)} documented operations, "
        f"{len(matched)} distinct (method, route, status), from {len(files)} test apps"
    )
    for f in failures:
        say(f"UNDECLARED: {f}")
    if failures:
        say(f"FAIL: {len(failures)} observed statuses are not in /openapi.json")
        return 1
    say("every observed status is declared")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
