#!/usr/bin/env python3
"""A Kubernetes Job emulator for tests/farm/t_k8s.sh: runs a Job of the
manifests in deploy/k8s/ as a kubelet and the Job controller would, with no
cluster.  Everything a pod runs is read from the YAML (python3-yaml): its
initContainers then its container, command + args with $(VAR) expanded,
env from the ConfigMaps it names (envFrom) and its own env, HOSTNAME and,
for an Indexed Job, JOB_COMPLETION_INDEX.  Each pod runs in its own
namespaces (unshare --mount --net --pid --fork --uts, as root): mounts made
private, every emptyDir a tmpfs of its sizeLimit (medium: Memory), every
persistentVolumeClaim a directory of the host bind-mounted at its
mountPath.  The controller applies parallelism (capped), completions,
backoffLimitPerIndex, maxFailedIndexes, backoffLimit and the
podFailurePolicy's onExitCodes rules.

  k8s_job.py run --job NAME -f FILE... [--set KEY=VALUE]... \\
      [--volume CLAIM=DIR]... [--bind HOSTDIR=PODDIR]... [--path PATH] \\
      [--pass VAR]... [--max-parallel N] [--completions N] \\
      --logs DIR --pids FILE --result FILE
      --set: a ConfigMap data value (every ConfigMap that has KEY, or the
      first one if none has it); --completions: the edit a user makes with
      CHUNKS; --bind: read-only, before the volumes (the test's build tree
      may lie under a mountPath); --pass: a variable of ours every container
      gets too (the test's process tag); --pids: "UNSHARE_PID INIT_PID" per
      pod, for the test's trap; --result: JSON of every pod and the outcome.
  k8s_job.py get -f FILE... KIND/NAME DOTTED.PATH [--bytes]
      one value of the manifests (list items by number; --bytes: a
      quantity such as 512Mi in bytes).
  k8s_job.py pod SPEC     (internal: pid 1 of a pod's namespaces)
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import yaml

UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
         "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}


def fail(msg):
    sys.exit(f"k8s_job.py: {msg}")


def quantity(q):
    m = re.fullmatch(r"([0-9]+)([kMGT]i?|)", str(q))
    if not m:
        fail(f"unsupported quantity {q!r}")
    return int(m.group(1)) * UNITS[m.group(2)]


def load(files):
    docs = []
    for f in files:
        with open(f) as fh:
            docs += [d for d in yaml.safe_load_all(fh) if d]
    return docs


def find(docs, kind, name):
    for d in docs:
        if d.get("kind") == kind and d.get("metadata", {}).get("name") == name:
            return d
    fail(f"no {kind}/{name} in the manifests")


def dig(obj, path):
    try:
        for part in path.split("."):
            obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    except (KeyError, IndexError, ValueError, TypeError):
        fail(f"no {path} in the manifests")
    return obj


def expand(s, env):
    """Kubernetes' $(VAR) in command and args: $$ is $, an unknown $(VAR)
    stays as written."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), s)


def container_env(c, docs, base):
    env = dict(base)
    for src in c.get("envFrom", []):
        if "configMapRef" not in src:
            fail(f"envFrom {src}: only configMapRef is emulated")
        cm = find(docs, "ConfigMap", src["configMapRef"]["name"])
        env.update({k: str(v) for k, v in cm.get("data", {}).items()})
    for e in c.get("env", []):
        if "value" not in e:
            fail(f"env {e['name']}: only value is emulated")
        env[e["name"]] = expand(str(e["value"]), env)
    argv = [expand(str(a), env) for a in c.get("command", []) + c.get("args", [])]
    if not c.get("command"):
        fail(f"container {c['name']}: no command (an image's entrypoint is not emulated)")
    return {"name": c["name"], "argv": argv, "env": env}


def pod_mounts(spec, vols):
    """Every volumeMount of the pod's containers: (mountPath, how)."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {}
    for c in spec.get("initContainers", []) + spec["containers"]:
        for vm in c.get("volumeMounts", []):
            v = volumes[vm["name"]]
            if "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                if claim not in vols:
                    fail(f"claim {claim}: give --volume {claim}=DIR")
                how = {"type": "bind", "src": vols[claim]}
            elif "emptyDir" in v:
                ed = v["emptyDir"] or {}
                how = {"type": "tmpfs", "size": quantity(ed["sizeLimit"]) if "sizeLimit" in ed
                       else None, "volume": vm["name"]}
            else:
                fail(f"volume {vm['name']}: only persistentVolumeClaim and emptyDir are emulated")
            if mounts.setdefault(vm["mountPath"], how) != how:
                fail(f"{vm['mountPath']}: two different volumes (not emulated)")
            if not os.path.isdir(vm["mountPath"]):
                fail(f"mountPath {vm['mountPath']} is not a directory on this machine")
    return sorted(mounts.items())


# ---- the pod: pid 1 of its own namespaces -----------------------------------

def sh(*argv):
    subprocess.run(argv, check=True)


def pod(specfile):
    with open(specfile) as f:
        spec = json.load(f)
    # Whatever this pod mounts stays in its namespace.
    sh("mount", "--make-rprivate", "/")
    for src, dst in spec["binds"]:
        sh("mount", "--bind", src, dst)
        sh("mount", "-o", "remount,bind,ro", dst)
    for path, how in spec["mounts"]:
        if how["type"] == "tmpfs":
            opts = "mode=1777" + (f",size={how['size']}" if how["size"] else "")
            sh("mount", "-t", "tmpfs", "-o", opts, f"k8s-{how['volume']}", path)
        else:
            sh("mount", "--bind", how["src"], path)
    socket.sethostname(spec["hostname"])
    result = {"containers": []}
    rc = 0
    for c in spec["containers"]:
        print(f"k8s_job: container {c['name']}: {' '.join(c['argv'])}", flush=True)
        try:
            rc = subprocess.call(c["argv"], env=c["env"], cwd="/", stdin=subprocess.DEVNULL)
        except OSError as e:
            print(f"k8s_job: container {c['name']}: {e}", flush=True)
            rc = 128
        rc = 128 - rc if rc < 0 else rc
        result["containers"].append({"name": c["name"], "exit": rc})
        if rc != 0:
            break
    with open(spec["result"], "w") as f:
        json.dump(result, f)
    return rc


# ---- the Job controller -------------------------------------------------------

def policy_action(rules, container, code):
    for r in rules:
        oc = r.get("onExitCodes")
        if not oc or oc.get("containerName", container) != container:
            continue
        hit = code in oc["values"]
        if hit == (oc.get("operator", "In") == "In"):
            return r["action"]
    return "Count"


def run(a):
    docs = load(a.f)
    for kv in a.set:
        key, _, val = kv.partition("=")
        cms = [d for d in docs if d.get("kind") == "ConfigMap"]
        hit = [cm for cm in cms if key in cm.get("data", {})] or cms[:1]
        for cm in hit:
            cm.setdefault("data", {})[key] = val
    job = find(docs, "Job", a.job)
    js, spec = job["spec"], job["spec"]["template"]["spec"]
    if spec.get("restartPolicy") != "Never":
        fail("only restartPolicy: Never is emulated")
    indexed = js.get("completionMode") == "Indexed"
    completions = a.completions or js.get("completions", 1)
    parallel = min(js.get("parallelism", 1), a.max_parallel)
    per_index = js.get("backoffLimitPerIndex")
    max_failed = js.get("maxFailedIndexes")
    backoff = js.get("backoffLimit", 6)
    rules = js.get("podFailurePolicy", {}).get("rules", [])
    mounts = pod_mounts(spec, dict(v.split("=", 1) for v in a.volume))
    binds = [b.split("=", 1) for b in a.bind]
    base = {"PATH": a.path}
    base.update({v: os.environ[v] for v in a.pass_ if v in os.environ})
    os.makedirs(a.logs, exist_ok=True)
    queue = list(range(completions))
    failures = {i: 0 for i in queue}
    done, failed, pods, running = set(), set(), [], {}
    total_failures, status = 0, None
    n = 0

    def start(i):
        nonlocal n
        n += 1
        host = f"{a.job}-{i}-{n}" if indexed else f"{a.job}-{n}"
        b = dict(base, HOSTNAME=host)
        if indexed:
            b["JOB_COMPLETION_INDEX"] = str(i)
        cs = [container_env(c, docs, b) for c in spec.get("initContainers", []) + spec["containers"]]
        sp = os.path.join(a.logs, f"{host}.spec.json")
        with open(sp, "w") as f:
            json.dump({"binds": binds, "mounts": mounts, "hostname": host, "containers": cs,
                       "result": os.path.join(a.logs, f"{host}.result.json")}, f)
        log = open(os.path.join(a.logs, f"{host}.log"), "wb")
        p = subprocess.Popen(["unshare", "--mount", "--net", "--pid", "--fork", "--uts",
                              "--mount-proc", "--kill-child", sys.executable, os.path.abspath(__file__),
                              "pod", sp], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        # The namespace's init (unshare's child): killing it ends the pod.
        init = ""
        for _ in range(200):
            try:
                with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                    init = f.read().split()[0]
                break
            except (OSError, IndexError):
                if p.poll() is not None:
                    break
                time.sleep(0.01)
        with open(a.pids, "a") as f:
            f.write(f"{p.pid} {init}\n")
        running[p] = (i, host)

    try:
        while (queue or running) and status is None:
            while queue and len(running) < parallel:
                start(queue.pop(0))
            p = next(iter(running))
            while True:  # whichever pod ends first
                ended = [q for q in running if q.poll() is not None]
                if ended:
                    p = ended[0]
                    break
                time.sleep(0.05)
            i, host = running.pop(p)
            try:
                with open(os.path.join(a.logs, f"{host}.result.json")) as f:
                    cres = json.load(f)["containers"]
            except (OSError, ValueError):
                cres = []
            code = 128 - p.returncode if p.returncode < 0 else p.returncode
            last = cres[-1]["name"] if cres else ""
            rec = {"index": i if indexed else None, "pod": host, "exit": code,
                   "container": last, "containers": cres}
            if code == 0:
                done.add(i)
                rec["outcome"] = "Succeeded"
            else:
                action = policy_action(rules, last, code)
                rec["outcome"] = f"Failed ({action})"
                if action == "FailJob":
                    status = "Failed"
                elif action == "FailIndex":
                    failed.add(i)
                elif action == "Ignore":
                    queue.append(i)
                else:
                    failures[i] += 1
                    total_failures += 1
                    if per_index is not None:
                        if failures[i] > per_index:
                            failed.add(i)
                        else:
                            queue.append(i)
                    elif total_failures > backoff:
                        status = "Failed"
                    else:
                        queue.append(i)
                if max_failed is not None and len(failed) > max_failed:
                    status = "Failed"
            pods.append(rec)
            print(f"k8s_job: {host}: {rec['outcome']}, exit {code}"
                  + (f" ({last})" if last else ""), flush=True)
    finally:
        for p in running:  # a failed Job, or we were stopped: end its pods
            p.kill()
            p.wait()
    status = status or ("Complete" if len(done) == completions else "Failed")
    with open(a.result, "w") as f:
        json.dump({"status": status, "succeeded": sorted(done), "failed": sorted(failed),
                   "pods": pods, "completions": completions, "parallelism": parallel}, f, indent=1)
    print(f"k8s_job: job/{a.job}: {status}", flush=True)
    return 0 if status == "Complete" else 1


def main():
    if sys.argv[1:2] == ["pod"]:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        return pod(sys.argv[2])
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--job", required=True)
    r.add_argument("-f", action="append", required=True)
    r.add_argument("--set", action="append", default=[])
    r.add_argument("--volume", action="append", default=[])
    r.add_argument("--bind", action="append", default=[])
    r.add_argument("--path", default="/usr/local/bin:/usr/bin:/bin")
    r.add_argument("--pass", dest="pass_", action="append", default=[])
    r.add_argument("--max-parallel", type=int, default=2)
    r.add_argument("--completions", type=int)
    r.add_argument("--logs", required=True)
    r.add_argument("--pids", required=True)
    r.add_argument("--result", required=True)
    g = sub.add_parser("get")
    g.add_argument("-f", action="append", required=True)
    g.add_argument("what")
    g.add_argument("path")
    g.add_argument("--bytes", action="store_true")
    a = ap.parse_args()
    if a.cmd == "get":
        kind, name = a.what.split("/", 1)
        v = dig(find(load(a.f), kind, name), a.path)
        print(quantity(v) if a.bytes else v if isinstance(v, str) else json.dumps(v))
        return 0
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
