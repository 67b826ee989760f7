"""A client of koogate's read API (/app-api/v1): a tenant, its department
tree and the users granted the app.

    KOOGATE_URL=http://127.0.0.1:8080 KOOGATE_APP_API_TOKEN=... python app_api.py TENANT_ID
"""

import json
import os
import sys
import urllib.error
import urllib.request

KOOGATE_URL = os.environ.get("KOOGATE_URL", "http://127.0.0.1:8080").rstrip("/")
TOKEN = os.environ["KOOGATE_APP_API_TOKEN"]


def get(path):
    """The JSON at `path`, or None when koogate answers 404 (unknown,
    released or deleted tenant)."""
    request = urllib.request.Request(
        f"{KOOGATE_URL}/app-api/v1{path}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def tenant(tenant_id):
    return get(f"/tenants/{tenant_id}")


def departments(tenant_id):
    return get(f"/tenants/{tenant_id}/departments")


def users(tenant_id):
    return get(f"/tenants/{tenant_id}/users")


def flatten(tree, depth=0):
    for node in tree:
        yield depth, node
        yield from flatten(node["children"], depth + 1)


if __name__ == "__main__":
    tenant_id = sys.argv[1]
    found = tenant(tenant_id)
    if found is None:
        sys.exit(f"tenant {tenant_id}: not found")
    print(json.dumps({
        "tenant": found,
        "departments": [f"{'  ' * depth}{d['orgCode']} {d['orgName']}"
                        for depth, d in flatten(departments(tenant_id))],
        "users": [u["userName"] for u in users(tenant_id) if u["enabled"]],
    }))
