#!/usr/bin/env python3
"""Redrives the upload events EventBridge could not deliver to the security audit.

    python3 infra/redrive-undelivered-events.py [--stack trailguard] [--region R] [--profile P]
                                                [--dry-run] [--max N]

EventBridge puts an event it could not hand to the state machine (after the rule's retries, or at
once for a missing permission or a deleted target) on the stack's undelivered-events queue, the
original event as the message body and RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE as message
attributes. This lists each one and, unless --dry-run, starts a security-audit execution with the
event as input, then deletes the message. The execution is named redrive-<event id>, so running
the script twice never audits an event twice (Step Functions refuses a second execution with the
same name; the message is then deleted). Uses the AWS CLI (v2) and your credentials; needs
cloudformation:DescribeStacks, sqs:ReceiveMessage/DeleteMessage, states:StartExecution and
kms:Decrypt on the stack key (the queue is encrypted with it).
"""

import argparse
import json
import re
import subprocess
import sys


def aws(args, base):
    result = subprocess.run(["aws", *base, *args, "--output", "json"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"aws {' '.join(args)} failed")
    return json.loads(result.stdout) if result.stdout.strip() else {}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="trailguard")
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument("--dry-run", action="store_true", help="list the events, start nothing, delete nothing")
    parser.add_argument("--max", type=int, default=1000, help="stop after this many messages")
    args = parser.parse_args()
    base = []
    if args.region:
        base += ["--region", args.region]
    if args.profile:
        base += ["--profile", args.profile]

    stack = aws(["cloudformation", "describe-stacks", "--stack-name", args.stack], base)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    queue = outputs["UndeliveredEventsQueueUrl"]
    machine = outputs["StateMachineArn"]
    print(f"queue {queue}\nstate machine {machine}")

    handled = 0
    while handled < args.max:
        batch = aws(
            [
                "sqs", "receive-message", "--queue-url", queue,
                "--max-number-of-messages", "10", "--visibility-timeout", "120",
                "--wait-time-seconds", "2", "--message-attribute-names", "All",
            ],
            base,
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            handled += 1
            attributes = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
            body = message["Body"]
            try:
                event_id = json.loads(body).get("id") or message["MessageId"]
            except ValueError:
                event_id = message["MessageId"]
            print(
                f"- event {event_id}: {attributes.get('ERROR_CODE', '?')}: "
                f"{attributes.get('ERROR_MESSAGE', '')[:200]}"
            )
            if args.dry_run:
                continue
            name = "redrive-" + re.sub(r"[^A-Za-z0-9_-]", "-", event_id)[:72]
            try:
                started = aws(
                    ["stepfunctions", "start-execution", "--state-machine-arn", machine,
                     "--name", name, "--input", body],
                    base,
                )
                print(f"  started {started['executionArn']}")
            except RuntimeError as e:
                if "ExecutionAlreadyExists" not in str(e):
                    print(f"  kept in the queue: {e}", file=sys.stderr)
                    continue
                print(f"  already redriven ({name})")
            aws(["sqs", "delete-message", "--queue-url", queue, "--receipt-handle", message["ReceiptHandle"]], base)
    if args.dry_run:
        print(f"{handled} message(s) listed; they become visible again after 120 s")
    else:
        print(f"{handled} message(s) handled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
