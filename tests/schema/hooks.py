"""Schemathesis hooks for tests/schema/run.sh.

- Every integration body that could enable one names the CircleCI simulator
  on 127.0.0.1 as its base URL: without it the server would validate the
  token against the plugin's default origin (circleci.com), and this test
  sends nothing off this machine. Bodies that are not JSON objects are
  refused by the server before any provider call.
- Path parameters point at the org, provider and project the script created
  about half the time, so operations get past 404 and reach their logic.
"""
import json
import os
import random

import schemathesis

SIM = os.environ["SCHEMA_SIM_URL"]
ORG = os.environ["SCHEMA_ORG"]
TOKEN = os.environ.get("SCHEMA_SIM_TOKEN", "demo-token-alice")
rng = random.Random(int(os.environ.get("SCHEMA_SEED", "1")))


def _point_at_sim(body):
    if isinstance(body, dict):
        body["base_url"] = SIM
        if isinstance(body.get("token"), str) and rng.random() < 0.5:
            body["token"] = TOKEN
        return body
    if isinstance(body, (str, bytes)):
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return body
        if isinstance(parsed, dict):
            return json.dumps(_point_at_sim(parsed))
    return body


@schemathesis.hook
def before_call(ctx, case, kwargs):
    params = case.path_parameters
    if params is not None:
        if "org" in params and rng.random() < 0.5:
            params["org"] = ORG
        if "provider" in params and rng.random() < 0.6:
            params["provider"] = "circleci"
        if "project" in params and rng.random() < 0.4:
            params["project"] = "app"
    if case.method.upper() == "PUT" and case.path.rstrip("/").endswith("/integrations/{provider}"):
        case.body = _point_at_sim(case.body)
        for key in ("json", "data", "content"):
            if key in kwargs:
                kwargs[key] = _point_at_sim(kwargs[key])
