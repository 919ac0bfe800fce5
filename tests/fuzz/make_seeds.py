#!/usr/bin/env python3
"""Writes the seed corpora (tests/fuzz/corpus/<target>/) from the vendored
CircleCI recordings in tests/fixtures/circleci/devlake. Deterministic; run it
again after changing the fixtures or a target's input format, and commit the
result. The fuzzer adds to these directories as it runs; only seeds are
committed (run.sh minimises into a scratch copy)."""
import csv, hashlib, hmac, json, os, shutil, sys

ROOT = os.path.dirname(os.path.abspath(__file__))
RAW = os.path.join(ROOT, "..", "fixtures", "circleci", "devlake", "raw_tables")
OUT = os.path.join(ROOT, "corpus")
csv.field_size_limit(sys.maxsize)


def records(table, limit=3):
    with open(os.path.join(RAW, f"_raw_circleci_api_{table}.csv"), newline="") as f:
        rows = [json.loads(r["data"]) for r in csv.DictReader(f)]
    return rows[:limit]


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def compact(v):
    return json.dumps(v, separators=(",", ":"))


pipelines, workflows, jobs = records("pipelines"), records("workflows"), records("jobs")
projects = records("projects")
shutil.rmtree(OUT, ignore_errors=True)

# circleci_mapping: API pages as CircleCI sends them, and one page whose items
# are read as all three record types.
write("circleci_mapping", "pipelines", compact({"items": pipelines, "next_page_token": None}))
write("circleci_mapping", "workflows", compact({"items": workflows, "next_page_token": "t"}))
write("circleci_mapping", "jobs", compact({"items": jobs, "next_page_token": None}))
merged = [{**p, **w, **j} for p, w, j in zip(pipelines, workflows, jobs)]
write("circleci_mapping", "merged", compact({"items": merged}))
write("circleci_mapping", "pipeline", compact(pipelines[0]))

# webhook: secret, header template ({sig} = the true signature), signature
# edits (none), body.
for i, (p, w, j) in enumerate(zip(pipelines, workflows, jobs)):
    slug = w.get("project_slug", "gh/acme/app")
    wf = {"id": "evt-w%d" % i, "type": "workflow-completed", "project": {"slug": slug},
          "workflow": {**w, "url": ""}, "pipeline": p}
    job = {"id": "evt-j%d" % i, "type": "job-completed", "project": {"slug": slug},
           "workflow": w, "pipeline": p, "job": j}
    write("webhook", "workflow%d" % i, "secret\nv1={sig}\n\n" + compact(wf))
    write("webhook", "job%d" % i, "s3cr3t\nv2=abc, v1={sig}\n\n" + compact(job))
write("webhook", "hello", "secret\nv1=734cc62f32841568f45715aeb9f4d7891324e6d948e4c6c60c0621cdac48623a\n\nhello world")

# circleci_slug: slugs and repository URLs from the recordings.
slugs = {w["project_slug"] for w in workflows} | {p["slug"] for p in projects}
slugs |= {"github/coldgust/coldgust.github.io", "circleci/43G3kM5RtfFE7v5sa4nWAU/44n9pujWcTnVZ2b5S8Fnat"}
urls = {p.get("vcs", {}).get("origin_repository_url", "") for p in pipelines} - {""}
for i, s in enumerate(sorted(slugs | urls | {"git@github.com:coldgust/coldgust.github.io.git"})):
    write("circleci_slug", "s%d" % i, s)

# store_validate: SHAs, slugs and URLs.
shas = sorted({p.get("vcs", {}).get("revision", "") for p in pipelines} - {""})
for i, s in enumerate(shas + [shas[0][:7].upper(), "acme", "my-org-2", "https://circleci.com/"]):
    write("store_validate", "v%d" % i, s)

# request_bodies: a route byte (index into RequestBody::ALL), then the body.
bodies = [
    {"slug": "acme", "name": "Acme"},
    {"name": "ci", "scope": "register_deploy"},
    {"slug": "app", "name": "App"},
    {"slug": "web", "repo_url": urls and sorted(urls)[0] or "https://github.com/acme/app",
     "branch": "main", "build_project": slug},
    {"sha": shas[0], "environment": "production", "deployed_at": "2023-03-25T17:52:15.5+02:00",
     "code_deployment": "web"},
    {"token": "circle-token-0123", "base_url": "https://circleci.example.com/",
     "webhook_secret": "hook-secret-0123"},
    {"project": slug},
]
for i, b in enumerate(bodies):
    write("request_bodies", "r%d" % i, bytes([i]) + compact(b).encode())
