"""The Slurm backend without Slurm: parsers on output captured from Slurm 22.05 (and hand-written
lines in the 23.x/24.x shape), the batch script run under fake srun/scontrol, and the backend
driven through an injected command runner."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from suanli.agent.backends import EngineError, EngineUnavailable, PoolSpec, get_backend
from suanli.agent.backends import slurm_parse as sp
from suanli.agent.backends.slurm import SlurmBackend, batch_script

# Captured from Debian's slurm-wlm 22.05.8 (`scontrol show node -o -d`, `scontrol show job -o -d`).
NODE_MIXED = (
    "NodeName=n1 Arch=x86_64 CoresPerSocket=1  CPUAlloc=1 CPUEfctv=8 CPUTot=8 CPULoad=0.97 AvailableFeatures=(null) "
    "ActiveFeatures=(null) Gres=gpu:4 GresDrain=N/A GresUsed=gpu:2 NodeAddr=127.0.0.1 NodeHostName=localhost "
    "Port=16818 Version=22.05.8 OS=Linux 6.18.44-fc-v1098 #1 SMP PREEMPT_DYNAMIC @0  RealMemory=4096 AllocMem=0 "
    "FreeMem=21449 Sockets=8 Boards=1 State=MIXED ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A "
    "Partitions=gpu  BootTime=2026-12-02T03:27:31 SlurmdStartTime=2026-12-02T03:31:40 "
    "LastBusyTime=2026-12-02T03:35:15 CfgTRES=cpu=8,mem=4G,billing=8 AllocTRES=cpu=1 CapWatts=n/a CurrentWatts=0 "
    "AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s")
NODE_DRAINED = (
    "NodeName=n2 Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 CPUEfctv=8 CPUTot=8 CPULoad=1.58 AvailableFeatures=(null) "
    "ActiveFeatures=(null) Gres=gpu:4 GresDrain=N/A GresUsed=gpu:0 NodeAddr=127.0.0.1 NodeHostName=localhost "
    "Port=16819 Version=22.05.8 OS=Linux 6.18.44-fc-v1098 #1 SMP PREEMPT_DYNAMIC @0  RealMemory=4096 AllocMem=0 "
    "FreeMem=21762 Sockets=8 Boards=1 State=IDLE+DRAIN ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A "
    "Partitions=gpu  BootTime=2026-12-02T03:27:31 SlurmdStartTime=2026-12-02T03:31:40 "
    "LastBusyTime=2026-12-02T03:32:58 CfgTRES=cpu=8,mem=4G,billing=8 AllocTRES= CapWatts=n/a CurrentWatts=0 "
    "AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s Reason=bad gpu x=1 [root@2026-12-02T03:35:41]")
JOB_TWO_NODES = (
    "JobId=5 JobName=p-x UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901755 Nice=0 Account=(null) "
    "QOS=(null) JobState=RUNNING Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 "
    "ExitCode=0:0 DerivedExitCode=0:0 RunTime=00:00:01 TimeLimit=UNLIMITED TimeMin=N/A "
    "SubmitTime=2026-12-02T03:32:01 EligibleTime=2026-12-02T03:32:01 AccrueTime=2026-12-02T03:32:01 "
    "StartTime=2026-12-02T03:32:01 EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 "
    "LastSchedEval=2026-12-02T03:32:01 Scheduler=Main Partition=gpu AllocNode:Sid=localhost:4907 "
    "ReqNodeList=(null) ExcNodeList=(null) NodeList=n[1-2] BatchHost=n1 NumNodes=2 NumCPUs=2 NumTasks=2 "
    "CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=2,node=2,billing=2 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* "
    "JOB_GRES=gpu:2   Nodes=n1 CPU_IDs=1 Mem=0 GRES=gpu:1(IDX:2)   Nodes=n2 CPU_IDs=0 Mem=0 GRES=gpu:1(IDX:0) "
    "MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK "
    "Contiguous=0 Licenses=(null) Network=(null) Command=(null) WorkDir=/work/main Comment=suanli  "
    "StdErr=/dev/null StdIn=/dev/null StdOut=/dev/null Power= TresPerNode=gres:gpu:1 ")
JOB_CANCELLED = (
    "JobId=10 JobName=ext-x UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901750 Nice=0 "
    "Account=(null) QOS=(null) JobState=CANCELLED Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 "
    "Reboot=0 ExitCode=0:15 RunTime=00:00:01 TimeLimit=UNLIMITED TimeMin=N/A NodeList=n1 BatchHost=n1 "
    "WorkDir=/tmp Comment=a|b c=d  StdErr=/dev/null StdIn=/dev/null StdOut=/dev/null Power= TresPerNode=gres:gpu:2 ")
SQUEUE = "2|CANCELLED|None|wrap|(null)\n3|CANCELLED|None|p-x|suanli\n4|RUNNING|None|wrap|a|b\n"
# Hand-written in the shape of Slurm 23.11/24.05 (typed GRES with socket affinity, TRES that
# track gres/gpu, new fields); not captured here.
NODE_TYPED_24 = (
    "NodeName=gpu07 Arch=x86_64 CoresPerSocket=32 CPUAlloc=16 CPUEfctv=64 CPUTot=64 CPULoad=3.10 "
    "AvailableFeatures=a100 ActiveFeatures=a100 Gres=gpu:a100:4(S:0-1),gpu:v100:2(S:1) GresDrain=N/A "
    "GresUsed=gpu:a100:3(IDX:0-2),gpu:v100:0(IDX:N/A) NodeAddr=gpu07 NodeHostName=gpu07 Version=24.05.1 "
    "OS=Linux 5.14.0-427.el9.x86_64 #1 SMP PREEMPT_DYNAMIC  RealMemory=512000 AllocMem=0 FreeMem=400000 Sockets=2 "
    "Boards=1 State=MIXED ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=gpu,long "
    "BootTime=2024-06-01T00:00:00 SlurmdStartTime=2024-06-01T00:01:00 LastBusyTime=2024-06-02T10:00:00 "
    "ResumeAfterTime=None CfgTRES=cpu=64,mem=500G,billing=64,gres/gpu=6,gres/gpu:a100=4,gres/gpu:v100=2 "
    "AllocTRES=cpu=16,gres/gpu=3,gres/gpu:a100=3 CurrentWatts=0 AveWatts=0")


def test_records_keep_values_with_spaces_and_first_values_win() -> None:
    rec = sp.record(NODE_DRAINED)
    assert rec["OS"] == "Linux 6.18.44-fc-v1098 #1 SMP PREEMPT_DYNAMIC @0"
    assert rec["Reason"] == "bad gpu"          # "x=1" in the reason reads as a key, never as State
    assert rec["State"] == "IDLE+DRAIN"
    assert sp.record(JOB_CANCELLED)["Comment"] == "a|b"


def test_nodes_from_22_05_and_24_shapes() -> None:
    n1, n2, g7 = sp.parse_node(NODE_MIXED), sp.parse_node(NODE_DRAINED), sp.parse_node(NODE_TYPED_24)
    assert n1 is not None and (n1.name, n1.state, n1.total, n1.allocated, n1.partitions) == ("n1", "mixed", 4, 2, ("gpu",))
    assert n2 is not None and (n2.state, n2.total, n2.allocated) == ("idle+drain", 4, 0)
    assert g7 is not None and g7.gpus == {"a100": 4, "v100": 2} and g7.used == {"a100": 3, "v100": 0}
    assert g7.partitions == ("gpu", "long")
    assert sp.node_healthy("MIXED") and sp.node_healthy("IDLE+POWERED_DOWN")
    for bad in ("IDLE+DRAIN", "MIXED+DRAIN", "DOWN*", "DOWN+NOT_RESPONDING", "FAIL", "idle*"):
        assert not sp.node_healthy(bad), bad


def test_node_allocation_falls_back_to_alloc_tres() -> None:
    line = NODE_TYPED_24.replace("GresUsed=gpu:a100:3(IDX:0-2),gpu:v100:0(IDX:N/A) ", "")
    node = sp.parse_node(line)
    assert node is not None and node.used == {"a100": 3}


def test_jobs_gres_hostlists_exit_codes_and_states() -> None:
    job = sp.parse_job(JOB_TWO_NODES)
    assert job is not None and (job.job_id, job.name, job.state, job.comment) == ("5", "p-x", "RUNNING", "suanli")
    assert job.gpus_per_node == {"n1": {"": 1}, "n2": {"": 1}}
    ended = sp.parse_job(JOB_CANCELLED)
    assert ended is not None and ended.state == "CANCELLED" and ended.exit_code == (0, 15) and ended.gpus_per_node == {}
    assert sp.expand_hostlist("n[1-3,07],gpu-a") == ["n1", "n2", "n3", "n07", "gpu-a"]
    assert sp.expand_hostlist("r[1-2]n[08-09]") == ["r1n08", "r1n09", "r2n08", "r2n09"]
    assert sp.parse_gres("gpu:(null):0(IDX:N/A)") == {"": 0}
    assert sp.parse_gres("(null)") == {} and sp.parse_gres("mps:1K,gpu:2") == {"": 2}
    assert sp.parse_tres_gpus("cpu=2,gres/gpu=3,gres/gpu:a100=2") == {"": 3, "a100": 2}
    assert sp.parse_exit_code("3:0") == (3, 0) and sp.parse_exit_code("junk") is None
    rows = sp.parse_squeue(SQUEUE)
    assert [(r.job_id, r.state, r.name, r.comment) for r in rows] == [
        ("2", "CANCELLED", "wrap", "(null)"), ("3", "CANCELLED", "p-x", "suanli"), ("4", "RUNNING", "wrap", "a|b")]
    assert sp.end_reason("TIMEOUT") == "time_limit" and sp.end_reason("CANCELLED by 0") == "cancelled"
    assert sp.end_reason("CANCELLED", killed_by_us=True) == "" and sp.end_reason("NODE_FAIL") == "node_fail"
    assert sp.end_reason("FAILED") == "" and sp.end_reason("OUT_OF_MEMORY") == "out_of_memory"


def _shim(dirpath: Path, name: str, body: str) -> None:
    path = dirpath / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_the_batch_script_gives_each_rank_its_variables_and_writes_the_exit_code(tmp_path: Path) -> None:
    """Run the generated script under a fake srun that starts two tasks (ranks 0 and 1) and a fake
    scontrol; expected values worked out by hand from the fakes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _shim(bin_dir, "srun", 'while [[ "$1" == --* ]]; do shift; done\n'
          'for r in 0 1; do SLURM_PROCID=$r SLURM_LOCALID=0 SLURM_NTASKS=2 "$@" || rc=$?; done\nexit ${rc:-0}\n')
    _shim(bin_dir, "scontrol", 'if [ "$2" = hostnames ]; then printf "node7\\nnode8\\n"; '
          'else echo "NodeName=$4 Arch=x86_64 NodeAddr=10.0.0.7 NodeHostName=node7 Port=0"; fi\n')
    exit_path = tmp_path / "p.exit"
    script = batch_script("p-9", ["sh", "-c", 'echo "r=$SUANLI_RANK w=$SUANLI_WORLD_SIZE m=$MASTER_ADDR:$MASTER_PORT '
                                  'q=$QUOTED s=${SECRET_X:-none}"; exit 4', "ignored"],
                          {"PATH": f"{bin_dir}:/usr/bin:/bin", "QUOTED": "a 'b' $c"}, str(exit_path))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SLURM_JOB_NODELIST": "node[7-8]", "SLURM_JOB_ID": "1234",
           "SECRET_X": "leak"}
    p = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 4, p.stderr
    assert p.stdout.splitlines() == ["r=0 w=2 m=10.0.0.7:30734 q=a 'b' $c s=none",
                                     "r=1 w=2 m=10.0.0.7:30734 q=a 'b' $c s=none"]
    assert exit_path.read_text() == "4\n" and not Path(f"{exit_path}.tmp").exists()


class FakeSlurm:
    """A command runner answering like Slurm from canned replies, recording every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.replies: dict[str, Any] = {}
        self.sbatch_id = "42"

    def __call__(self, argv: Any, stdin: str | None, timeout: float) -> tuple[int, str, str]:
        argv = list(argv)
        self.calls.append(argv)
        reply = self.replies.get(argv[0] if argv[0] != "scontrol" else " ".join(argv[:3]))
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            return reply(argv)  # type: ignore[no-any-return]
        if reply is not None:
            return reply  # type: ignore[no-any-return]
        if argv[0] == "sbatch":
            return 0, self.sbatch_id + "\n", ""
        return 0, "", ""

    def count(self, name: str) -> int:
        return sum(1 for c in self.calls if c[0] == name)


def _backend(tmp_path: Path, fake: FakeSlurm, **kw: Any) -> SlurmBackend:
    kw.setdefault("retries", 1)
    return SlurmBackend(work_dir=tmp_path, runner=fake, poll_interval=0, **kw)


def test_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="partiton.*valid: .*partition"):
        get_backend("slurm", work_dir=tmp_path, partiton="gpu")
    with pytest.raises(EngineError, match="--uid.*not allowed"):
        SlurmBackend(work_dir=tmp_path, sbatch_flags=["--uid=0"])
    assert SlurmBackend(work_dir=tmp_path, sbatch_flags="--constraint=a100 --exclusive").sbatch_flags == [
        "--constraint=a100", "--exclusive"]


def test_submission_flags_for_one_node_and_a_gang(tmp_path: Path) -> None:
    fake = FakeSlurm()
    b = _backend(tmp_path, fake, partition="gpu", account="lab", qos="low", sbatch_flags=["--exclusive"])
    h = b.start({"placement_id": "p-1", "job_id": "j", "command": ["python", "train.py"], "count": 2,
                 "time_limit_s": 61}, [0, 1])
    assert h.job_id == "42"
    argv = fake.calls[-1]
    for flag in ("--parsable", "--job-name=p-1", "--comment=suanli", "--export=NONE", "--gres=gpu:2", "--time=2",
                 "--partition=gpu", "--account=lab", "--qos=low", "--exclusive", "--nodes=1",
                 f"--output={tmp_path}/logs/p-1.log", f"--chdir={tmp_path}/runs/p-1"):
        assert flag in argv, flag
    assert stat.S_IMODE(os.stat(tmp_path / "runs" / "p-1").st_mode) == 0o700
    b.start({"placement_id": "p-2", "job_id": "j", "command": ["x"], "nodes": 2, "per_node": 4, "count": 8,
             "time_limit_s": 5}, [])
    argv = fake.calls[-1]
    assert {"--nodes=2", "--ntasks-per-node=1", "--gres=gpu:4", "--time=1"} <= set(argv)


def test_bad_placements_raise_engine_error(tmp_path: Path) -> None:
    b = _backend(tmp_path, FakeSlurm())
    for bad in ({"placement_id": "p/1", "command": ["x"]}, {"placement_id": "p", "command": ["a\0b"]},
                {"placement_id": "p", "command": "echo hi"}, {"placement_id": "p", "command": ["x"], "env": {"A B": "1"}}):
        with pytest.raises(EngineError):
            b.start(bad, [0])


def test_start_is_idempotent_and_a_timed_out_sbatch_is_not_repeated(tmp_path: Path) -> None:
    fake = FakeSlurm()
    fake.replies["squeue"] = (0, "17|RUNNING|None|p-1|suanli\n16|FAILED|None|p-1|suanli\n18|RUNNING|None|p-1|other\n", "")
    b = _backend(tmp_path, fake)
    assert b.start({"placement_id": "p-1", "job_id": "j", "command": ["x"]}, [0]).job_id == "17"
    assert fake.count("sbatch") == 0

    fake = FakeSlurm()
    queue = {"text": ""}
    fake.replies["squeue"] = lambda argv: (0, queue["text"], "")

    def sbatch(argv: list[str]) -> tuple[int, str, str]:
        queue["text"] = "51|PENDING|None|p-1|suanli\n"     # it did get through...
        raise subprocess.TimeoutExpired(argv, 20)          # ...but the reply was lost
    fake.replies["sbatch"] = sbatch
    b = _backend(tmp_path, fake)
    assert b.start({"placement_id": "p-1", "job_id": "j", "command": ["x"]}, [0]).job_id == "51"
    assert fake.count("sbatch") == 1


def test_sbatch_refusals_are_final_and_silence_is_transient(tmp_path: Path) -> None:
    fake = FakeSlurm()
    fake.replies["sbatch"] = (1, "", "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified\n")
    b = _backend(tmp_path, fake)
    with pytest.raises(EngineError, match="Invalid account") as info:
        b.start({"placement_id": "p-1", "job_id": "j", "command": ["x"]}, [0])
    assert not isinstance(info.value, EngineUnavailable)
    fake.replies["squeue"] = subprocess.TimeoutExpired(["squeue"], 20)
    with pytest.raises(EngineUnavailable):
        b.start({"placement_id": "p-1", "job_id": "j", "command": ["x"]}, [0])
    with pytest.raises(EngineUnavailable):
        b.inventory([PoolSpec("a", "gpu", 4, 1)])
    with pytest.raises(EngineUnavailable):
        b.adopt({"placement_id": "p-1"})


def test_poll_maps_states_and_never_takes_silence_for_an_end(tmp_path: Path) -> None:
    fake = FakeSlurm()
    b = _backend(tmp_path, fake, lost_grace_s=0.2)
    h = b.start({"placement_id": "p-1", "job_id": "j", "command": ["x"]}, [0])
    fake.replies["squeue"] = (0, "42|RUNNING|None|p-1|suanli\n", "")
    assert h.poll() is None
    fake.replies["squeue"] = (1, "", "squeue: error: Socket timed out on send/recv operation\n")
    fake.replies["scontrol show job"] = (1, "", "slurm_load_jobs error: Socket timed out on send/recv operation\n")
    assert h.poll() is None and h.poll() is None
    fake.replies["squeue"] = (0, "42|TIMEOUT|TimeLimit|p-1|suanli\n", "")
    fake.replies["scontrol show job"] = (0, "JobId=42 JobName=p-1 JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15\n", "")
    assert h.poll() == 143 and h.reason == "time_limit"

    h = b.start({"placement_id": "p-2", "job_id": "j", "command": ["x"]}, [0])
    fake.replies["squeue"] = (1, "", "slurm_load_jobs error: Invalid job id specified\n")
    fake.replies["scontrol show job"] = (1, "", "slurm_load_jobs error: Invalid job id specified\n")
    assert h.poll() is None                                 # purged, no exit file: wait...
    import time
    time.sleep(0.25)
    assert h.poll() == -1 and h.reason == "the engine lost the job"

    h = b.start({"placement_id": "p-3", "job_id": "j", "command": ["x"]}, [0])
    (tmp_path / "logs" / "p-3.exit").write_text("7\n")
    assert h.poll() == 7 and h.reason == ""                 # purged, but the exit file says 7
    h = b.start({"placement_id": "p-4", "job_id": "j", "command": ["x"]}, [0])
    fake.replies["squeue"] = (0, "42|CANCELLED|None|p-4|suanli\n", "")
    fake.replies["scontrol show job"] = (0, "JobId=42 JobName=p-4 JobState=CANCELLED ExitCode=0:0\n", "")
    assert h.poll() == -1 and h.reason == "cancelled"       # cancelled while pending, by someone else


def test_pools_map_by_gres_type_or_split_in_declared_order(tmp_path: Path) -> None:
    fake = FakeSlurm()
    fake.replies["scontrol show node"] = (0, NODE_TYPED_24 + "\n", "")
    fake.replies["squeue"] = (0, "9|\n", "")   # job 9 runs without the suanli comment
    fake.replies["scontrol show job"] = (0, "JobId=9 JobName=x JobState=RUNNING Nodes=gpu07 CPU_IDs=0 Mem=0 "
                                            "GRES=gpu:a100:1(IDX:0) Comment=(null)\n", "")
    inv = _backend(tmp_path, fake).inventory([PoolSpec("big", "A100", 4, 1), PoolSpec("old", "v100", 2, 1)])
    assert (inv["big"].total, inv["big"].free, inv["big"].healthy, inv["big"].external) == (4, 1, 4, 1)
    assert (inv["old"].total, inv["old"].free, inv["old"].external) == (2, 2, 0)

    fake.replies["scontrol show node"] = (0, NODE_MIXED + "\n" + NODE_DRAINED + "\n", "")
    fake.replies["scontrol show job"] = (0, JOB_TWO_NODES + "\n", "")   # ours: comment suanli
    fake.replies["squeue"] = (0, "5|suanli|p-x\n", "")
    b = _backend(tmp_path, fake)
    # job 5 carries the suanli mark but this backend never started it: another agent's, so external
    inv = b.inventory([PoolSpec("a", "gpu", 4, 1), PoolSpec("b", "gpu", 4, 1)])
    assert (inv["a"].free, inv["a"].external) == (2, 1)          # its one GPU on n1 (the other is on n2)
    b.own.add("p-x")                                                    # now it is this agent's own
    inv = b.inventory([PoolSpec("a", "gpu", 4, 1), PoolSpec("b", "gpu", 4, 1)])
    assert (inv["a"].total, inv["a"].free, inv["a"].healthy, inv["a"].external) == (4, 2, 4, 0)
    assert (inv["b"].total, inv["b"].free, inv["b"].healthy) == (4, 0, 0)   # drained
    assert [n.name for n in inv["b"].nodes] == ["n2"] and b.pool_exclude == {"a": ["n2"], "b": ["n1"]}
    one = b.inventory([PoolSpec("all", "gpu", 4, 2)])["all"]
    assert (one.total, one.free, one.healthy) == (8, 2, 4)
