#!/usr/bin/env python3
"""What the Kubernetes schemas cannot see in deploy/kubernetes/: that the
manifests agree with each other and with koogate itself. Exits 1 naming
every disagreement."""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
KUBE = ROOT / "deploy" / "kubernetes"
problems = []


def load(name):
    return yaml.safe_load((KUBE / name).read_text())


def settings_keys():
    """The `section.key`s koogate reads, from KNOWN_KEYS in src/settings/mod.rs."""
    text = (ROOT / "src" / "settings" / "mod.rs").read_text()
    block = re.search(r"const KNOWN_KEYS: &\[&str\] = &\[(.*?)\];", text, re.S)
    if not block:
        sys.exit("cannot find KNOWN_KEYS in src/settings/mod.rs")
    return set(re.findall(r'"([a-z_]+\.[a-z_]+)"', block.group(1)))


def env_setting(name):
    """KOOGATE__SECURITY__MASTER_KEY_FILE -> (security.master_key, True)."""
    key = name.removeprefix("KOOGATE__").lower().replace("__", ".", 1)
    if key.endswith("_file") and key != "marketplace.rsa_private_key_file":
        return key.removesuffix("_file"), True
    return key, False


known = settings_keys()
configmap = load("configmap.yaml")
secret = load("secret.example.yaml")
secret_keys = set(secret["stringData"])
deployment = load("deployment.yaml")
job = load("migration-job.yaml")

for kind, doc in (("Deployment", deployment), ("Job", job)):
    pod = doc["spec"]["template"]["spec"]
    mounts = {}
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            if volume["secret"]["secretName"] != secret["metadata"]["name"]:
                problems.append(f"{kind}: volume {volume['name']} names another Secret")
            for item in volume["secret"].get("items", []):
                if item["key"] not in secret_keys:
                    problems.append(f"{kind}: Secret key {item['key']} does not exist")
    for container in pod["containers"]:
        for mount in container.get("volumeMounts", []):
            mounts[mount["mountPath"]] = mount["name"]
        names = [e["name"] for e in container.get("env", [])] + list(configmap["data"])
        for env in container.get("env", []):
            if env["name"].endswith("_FILE"):
                path = pathlib.PurePosixPath(env["value"])
                if str(path.parent) not in mounts:
                    problems.append(f"{kind}: {env['name']} points outside the mounted Secret")
                if path.name not in secret_keys:
                    problems.append(f"{kind}: {env['name']} reads {path.name}, not a key of the Secret")
        for name in names:
            if name.startswith("KOOGATE__"):
                key, _ = env_setting(name)
                if key not in known:
                    problems.append(f"{kind}: {name} is not a setting koogate reads ({key})")
        if kind == "Job" and container.get("args") != ["migrate"]:
            problems.append("Job: the container must run `koogate migrate`")

container = deployment["spec"]["template"]["spec"]["containers"][0]
if container["readinessProbe"]["httpGet"]["path"] != "/readyz":
    problems.append("Deployment: readiness must be /readyz")
if container["livenessProbe"]["httpGet"]["path"] != "/healthz":
    problems.append("Deployment: liveness must be /healthz (never /readyz)")
if configmap["data"].get("KOOGATE__DATABASE__MIGRATE_ON_START") != "false":
    problems.append("ConfigMap: replicas must not migrate (the Job does)")
# Every secret koogate takes from the Secret, never as a plain variable.
plain = [n for n in configmap["data"] if n.startswith("KOOGATE__")]
for name in plain:
    key, _ = env_setting(name)
    if key.split(".")[1] in {"access_key", "kit_access_key", "master_key", "webhook_secret",
                             "api_token", "password_hash"} or key in {"database.url", "redis.url"}:
        problems.append(f"ConfigMap: {name} is a secret; give it as a file from the Secret")

pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
for name in ("service.yaml", "poddisruptionbudget.yaml"):
    doc = load(name)
    selector = doc["spec"]["selector"]
    selector = selector.get("matchLabels", selector)
    if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
        problems.append(f"{name}: selector {selector} does not match the Deployment's pods")
if deployment["spec"]["selector"]["matchLabels"].items() - pod_labels.items():
    problems.append("Deployment: selector does not match its own pod labels")
hpa = load("horizontalpodautoscaler.yaml")
if hpa["spec"]["scaleTargetRef"]["name"] != deployment["metadata"]["name"]:
    problems.append("HorizontalPodAutoscaler: scales something other than the Deployment")
service = load("service.yaml")
ports = {p["name"] for p in container["ports"]}
for port in service["spec"]["ports"]:
    if port["targetPort"] not in ports:
        problems.append(f"Service: targetPort {port['targetPort']} is not a container port")

listed = set(load("kustomization.yaml")["resources"])
present = {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
if listed != present:
    problems.append(f"kustomization.yaml lists {sorted(listed)}, the folder has {sorted(present)}")

for problem in problems:
    print(f"MANIFEST: {problem}")
if problems:
    sys.exit(1)
print(f"manifests agree with each other and with the {len(known)} settings koogate reads")
