"""Tenant commands over the API: ``submit``, ``jobs``, ``job show|logs|cancel|explain``.
They talk to ``SUANLI_URL`` with ``SUANLI_TOKEN`` (or the config file); ``--json`` prints the
API's JSON."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Any

from suanli.cli.render import add_api_flags, client, emit, print_table


def register(sub: Any) -> None:
    p = sub.add_parser("submit", help="submit a job: suanli submit --gpus 2 --class train -- python train.py")
    p.add_argument("--gpus", type=int, default=1)
    p.add_argument("--class", dest="job_class", default="train", choices=["train", "finetune", "infer", "batch"])
    p.add_argument("--queue", default="default")
    p.add_argument("--duration", type=float, default=None, help="expected run time in seconds (scheduling)")
    p.add_argument("--time-limit", type=float, default=None, help="kill the job after this many seconds")
    p.add_argument("--priority", type=int, default=None)
    p.add_argument("--preemptible", action="store_true")
    p.add_argument("--region", action="append", default=[], help="allowed region (repeatable)")
    p.add_argument("--model", action="append", default=[], help="allowed accelerator model (repeatable)")
    p.add_argument("--max-price", type=float, default=None)
    p.add_argument("--checkpoint-interval", type=float, default=None,
                   help="seconds between the job's own checkpoints: it may be preempted or moved to a faster pool "
                        "and resume from the last one")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE for the job's environment")
    p.add_argument("--name", default="")
    p.add_argument("--idempotency-key", default=None, help="default: a fresh random key")
    p.add_argument("--wait", action="store_true", help="wait until the job ends and print its logs")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command and its arguments")
    add_api_flags(p)
    p.set_defaults(func=submit)

    p = sub.add_parser("jobs", help="list jobs (newest first)")
    p.add_argument("--state", action="append", default=None)
    p.add_argument("--site", default=None)
    p.add_argument("--tenant", default=None)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--cursor", default=None, help="the 'next' value of the previous page")
    add_api_flags(p)
    p.set_defaults(func=list_jobs)

    p = sub.add_parser("job", help="one job: show, logs, cancel or explain")
    p.add_argument("action", choices=["show", "logs", "cancel", "explain"])
    p.add_argument("job_id")
    p.add_argument("--follow", "-f", action="store_true", help="logs: keep printing until the job ends")
    add_api_flags(p)
    p.set_defaults(func=job)


def submit(args: argparse.Namespace) -> int:
    from suanli.domain.errors import InvalidInput

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise InvalidInput("no command given", field="command", value=[], fix="put it after --, e.g. -- python train.py")
    body: dict[str, Any] = {"command": command, "gpus": args.gpus, "job_class": args.job_class, "queue": args.queue,
                            "preemptible": args.preemptible, "allowed_regions": args.region,
                            "allowed_models": args.model, "name": args.name}
    for key, value in (("duration_s", args.duration), ("time_limit_s", args.time_limit),
                       ("priority", args.priority), ("max_price", args.max_price),
                       ("checkpoint_interval_s", args.checkpoint_interval)):
        if value is not None:
            body[key] = value
    env = {}
    for item in args.env:
        k, sep, v = item.partition("=")
        if not sep:
            raise InvalidInput("is not KEY=VALUE", field="--env", value=item, fix="write --env NAME=value")
        env[k] = v
    body["env"] = env
    c = client(args)
    key = args.idempotency_key or str(uuid.uuid4())
    job = c.post("/v1/jobs", body, headers={"Idempotency-Key": key})
    if args.wait:
        job = _wait(c, job["id"], print_logs=not args.json)
    if args.json:
        emit(job)
    else:
        print(f"{job['id']}  {job['state']}")
    return 0 if job["state"] not in ("failed", "rejected", "cancelled") else 1


def _wait(c: Any, job_id: str, print_logs: bool) -> Any:
    after = 0
    while True:
        job = c.get(f"/v1/jobs/{job_id}")
        logs = c.get(f"/v1/jobs/{job_id}/logs", after=after)
        if print_logs and logs["text"]:
            sys.stdout.write(logs["text"])
            sys.stdout.flush()
        after = logs["next"]
        if job["state"] in ("succeeded", "failed", "cancelled", "rejected"):
            logs = c.get(f"/v1/jobs/{job_id}/logs", after=after)
            if print_logs and logs["text"]:
                sys.stdout.write(logs["text"])
            return job
        time.sleep(0.5)


def list_jobs(args: argparse.Namespace) -> int:
    page = client(args).get("/v1/jobs", state=args.state, site=args.site, tenant=args.tenant, limit=args.limit,
                            cursor=args.cursor)
    if args.json:
        emit(page)
        return 0
    print_table([[j["id"], j["tenant"], j["state"], j["job_class"], j["gpus"], j["site"] or "-",
            time.strftime("%H:%M:%S", time.localtime(j["submit_time"])), j["reason"][:60]] for j in page["items"]],
          ["ID", "TENANT", "STATE", "CLASS", "GPUS", "SITE", "SUBMITTED", "REASON"])
    if page["next"]:
        print(f"(more: --cursor {page['next']})")
    return 0


def job(args: argparse.Namespace) -> int:
    c = client(args)
    jid = args.job_id
    if args.action == "logs":
        if args.follow:
            _wait(c, jid, print_logs=True)
            return 0
        text, after = "", 0
        while True:   # page through every chunk
            logs = c.get(f"/v1/jobs/{jid}/logs", after=after)
            text += logs["text"]
            if logs["next"] == after:
                break
            after = logs["next"]
        if args.json:
            emit({"job_id": jid, "text": text, "next": after})
        else:
            sys.stdout.write(text)
        return 0
    if args.action == "cancel":
        data = c.post(f"/v1/jobs/{jid}/cancel")
    elif args.action == "explain":
        data = c.get(f"/v1/jobs/{jid}/explain")
        if not args.json:
            print(f"{jid}: {data['state']}  {data['reason']}")
            print_table([[r["site"], r["pool"], r["accelerator"], r["verdict"], f"{r['runtime_s']:.0f}", f"{r['cost']:.2f}",
                    f"{r['carbon_kg']:.3f}", r["reason"]] for r in data["pools"]],
                  ["SITE", "POOL", "ACCELERATOR", "VERDICT", "RUN_S", "COST", "CO2_KG", "WHY"])
            return 0
    else:
        data = c.get(f"/v1/jobs/{jid}")
    if args.json:
        emit(data)
    else:
        for k in ("id", "tenant", "queue", "state", "job_class", "gpus", "site", "attempts", "exit_code", "reason"):
            print(f"{k:10} {data.get(k)}")
        print(f"{'command':10} {' '.join(data['spec'].get('command', []))}")
        for pl in data.get("placements", []):
            print(f"  placement {pl['id']} {pl['site']}/{pl['pool_name']} x{pl['count']} {pl['state']} "
                  f"pf16h={pl['pf16h']:.6f} exit={pl['exit_code']}")
    return 0
