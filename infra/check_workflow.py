#!/usr/bin/env python3
"""Checks that every Retry/Catch error name in a state machine definition can be emitted by the
Task's integration, from the documented table in infra/workflow-errors.json.

    check_workflow.py [--table infra/workflow-errors.json] [--cli-json FILE] DEFINITION...

Rules: States.* names are always allowed; lambda:invoke Tasks allow the Lambda integration's names
plus the errorTypes of the function they invoke (known from its ${...ArnSubstitution}); sns:publish
and aws-sdk:s3:* Tasks allow their table entries; a Task whose resource has no entry may wait for
States.* names only. Also checks that each function's listed names are exactly the "TrailGuard.*"
names its handler source raises (so the table cannot drift from the code), and that every Next
names a state. With --cli-json (the output of `trailguard sfn check --json`), also that the
project's own loader found the same Task states.
"""

import argparse
import json
import os
import re
import sys

SUFFIXES = (".sync:2", ".sync", ".waitForTaskToken")


def base_resource(resource):
    resource = re.sub(r"^arn:[^:]+:states:::", "arn:aws:states:::", resource)
    for suffix in SUFFIXES:
        if resource.endswith(suffix):
            return resource[: -len(suffix)]
    return resource


def walk_states(states, prefix=""):
    """Yields (qualified name, state, sibling state names) for every state, nested ones included."""
    for name, state in states.items():
        yield prefix + name, state, states
        if state.get("Type") == "Parallel":
            for i, branch in enumerate(state.get("Branches", [])):
                yield from walk_states(branch.get("States", {}), f"{prefix}{name}/branch{i}/")
        if state.get("Type") == "Map":
            inner = state.get("ItemProcessor") or state.get("Iterator") or {}
            yield from walk_states(inner.get("States", {}), f"{prefix}{name}/")


def substitution_of(value):
    if isinstance(value, str):
        m = re.fullmatch(r"\$\{([A-Za-z0-9_]+)\}", value.strip())
        if m:
            return m.group(1)
    return None


def function_of(state):
    for key in ("Arguments", "Parameters"):
        args = state.get(key)
        if isinstance(args, dict):
            for field in ("FunctionName", "FunctionName.$"):
                if field in args:
                    return args[field]
    return None


def check_function_sources(table, root):
    problems = []
    for fn in table["functions"]:
        path = os.path.join(root, fn["source"])
        try:
            text = open(path, encoding="utf-8").read()
        except OSError as e:
            problems.append(f"{fn['binary']}: cannot read {fn['source']}: {e}")
            continue
        raised = set(re.findall(r'"(TrailGuard\.[A-Za-z]+)"', text))
        listed = set(fn["errors"])
        if raised != listed:
            problems.append(
                f"{fn['binary']}: infra/workflow-errors.json lists {sorted(listed)} but "
                f"{fn['source']} raises {sorted(raised)}"
            )
    return problems


def allowed_for(table, resource, state):
    base = base_resource(resource)
    lambda_like = base == "arn:aws:states:::lambda:invoke" or base.startswith("arn:aws:lambda:") or substitution_of(base)
    for entry in table["integrations"]:
        exact = entry.get("resource")
        prefix = entry.get("resource_prefix")
        if (exact and base == exact) or (prefix and base.startswith(prefix)) or (
            lambda_like and exact == "arn:aws:states:::lambda:invoke"
        ):
            names = set(entry["errors"])
            if lambda_like:
                target = function_of(state) if base == "arn:aws:states:::lambda:invoke" else base
                sub = substitution_of(target)
                for fn in table["functions"]:
                    if sub in fn["substitutions"]:
                        names |= set(fn["errors"])
                        return names, f"{base} -> {fn['binary']}"
                return names, f"{base} -> {target!r} (not a TrailGuard function)"
            return names, base
    return set(), f"{base} (no entry in the table)"


def check_definition(path, table):
    problems = []
    tasks = {}
    try:
        definition = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError) as e:
        return [f"{path}: not valid JSON: {e}"], tasks
    states = definition.get("States", {})
    if definition.get("StartAt") not in states:
        problems.append(f"{path}: StartAt {definition.get('StartAt')!r} names no state")
    for name, state, siblings in walk_states(states):
        targets = [state.get("Next"), state.get("Default")]
        targets += [c.get("Next") for c in state.get("Choices", [])]
        targets += [c.get("Next") for c in state.get("Catch", [])]
        for t in targets:
            if t is not None and t not in siblings:
                problems.append(f"{path}: state {name!r} goes to {t!r}, which is not a state")
        if state.get("Type") != "Task":
            continue
        resource = state.get("Resource", "")
        names = []
        for rule in state.get("Retry", []) + state.get("Catch", []):
            names += rule.get("ErrorEquals", [])
        tasks[name] = sorted(set(names))
        allowed, described = allowed_for(table, resource, state)
        for error in names:
            if error.startswith("States."):
                continue
            if error not in allowed:
                problems.append(f"{path}: state {name!r} ({described}) waits for {error}, which it never emits")
    return problems, tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=os.path.join(os.path.dirname(__file__), "workflow-errors.json"))
    parser.add_argument("--root", default=".")
    parser.add_argument("--cli-json", help="output of `trailguard sfn check --json` for the same definitions")
    parser.add_argument("definitions", nargs="+")
    args = parser.parse_args()
    table = json.load(open(args.table, encoding="utf-8"))
    problems = check_function_sources(table, args.root)
    all_tasks = {}
    for path in args.definitions:
        found, tasks = check_definition(path, table)
        problems += found
        all_tasks[path] = tasks
        if not found:
            names = sorted({n for ns in tasks.values() for n in ns})
            print(f"ok   {path}: {len(tasks)} Task states, Retry/Catch names all emittable: {', '.join(names)}")
    if args.cli_json:
        for line in open(args.cli_json, encoding="utf-8"):
            line = line.strip()
            if not line:
                continue
            report = json.loads(line)
            label = report.get("definition")
            if "error" in report:
                problems.append(f"{label}: the project's loader refuses it: {report['error']}")
                continue
            ours = all_tasks.get(label)
            if ours is None:
                continue
            theirs = {t["state"]: sorted(set(t.get("error_names", []))) for t in report.get("tasks", [])}
            if set(theirs) != set(ours) and {k.split("/")[-1] for k in ours} != set(theirs):
                problems.append(f"{label}: trailguard sfn check sees Task states {sorted(theirs)}, this check {sorted(ours)}")
            else:
                print(f"ok   {label}: trailguard sfn check loads it and sees the same {len(theirs)} Task states")
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
