"""A vendor's app behind koogate, in the standard library plus two
packages: PyJWT checks who is calling, standardwebhooks checks that an
event really comes from koogate.

    KOOGATE_URL=http://127.0.0.1:8080 KOOGATE_WEBHOOK_SECRET=whsec_... python app.py

- Every request the gate forwards carries X-Koogate-Identity, an ES256 JWT
  signed with the key published at {KOOGATE_URL}/.well-known/jwks.json. The
  app trusts nothing else (not the plain X-Koogate-User headers).
- POST /koogate-events receives koogate's events (Standard Webhooks). An
  event can arrive twice (at-least-once delivery); the webhook-id makes
  handling it twice harmless.
- GET /state shows what the app learnt from the events (for the CI check).
"""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

KOOGATE_URL = os.environ.get("KOOGATE_URL", "http://127.0.0.1:8080").rstrip("/")
# The identity token's issuer is koogate's server.public_url.
ISSUER = os.environ.get("KOOGATE_ISSUER", KOOGATE_URL)
PORT = int(os.environ.get("PORT", "3000"))

# PyJWKClient caches the keys and fetches again when a token names an
# unknown `kid` (koogate's key changed).
jwks = jwt.PyJWKClient(f"{KOOGATE_URL}/.well-known/jwks.json", cache_keys=True)
webhook = Webhook(os.environ["KOOGATE_WEBHOOK_SECRET"])


def verify_identity(token):
    key = jwks.get_signing_key_from_jwt(token).key
    return jwt.decode(
        token,
        key,
        algorithms=["ES256"],
        audience="upstream",
        issuer=ISSUER,
        options={"require": ["iss", "aud", "sub", "exp", "iat"]},
    )


class Model:
    """What the app knows about its tenants, kept up to date by events."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = set()  # webhook-ids already handled
        self.instances = {}
        self.tenants = {}
        self.users = {}  # tenantId -> {userName: user}
        self.departments = {}  # tenantId -> {orgCode: name}
        self.handled = []  # (webhook-id, type), in the order handled

    def handle(self, webhook_id, event):
        with self.lock:
            if webhook_id in self.seen:
                return False
            kind, data = event["type"], event["data"]
            handler = HANDLERS.get(kind)
            if handler is None:
                # A type this app does not know yet: accept it, so it is not
                # retried for a day, and carry on.
                print(f"ignoring event type {kind}", flush=True)
            else:
                handler(self, data)
            self.seen.add(webhook_id)
            self.handled.append((webhook_id, kind))
            return True


def instance_created(m, d):
    m.instances[d["instanceId"]] = {"status": "active", "expireTime": d.get("expireTime")}


def instance_changed(m, d):
    m.instances.setdefault(d["instanceId"], {})["expireTime"] = d.get("expireTime")


def instance_status(m, d):
    m.instances.setdefault(d["instanceId"], {})["status"] = d["status"]


def tenant_added_or_changed(m, d):
    m.tenants[d["tenantId"]] = {"name": d["name"], "tenantCode": d["tenantCode"]}


def tenant_deleted(m, d):
    m.tenants.pop(d["tenantId"], None)
    m.users.pop(d["tenantId"], None)
    m.departments.pop(d["tenantId"], None)


def credentials_changed(m, d):
    # Never the secret itself: read it where the app keeps credentials.
    m.tenants.setdefault(d["tenantId"], {})["credentials"] = d["action"]


def users_granted_or_changed(m, d):
    users = m.users.setdefault(d["tenantId"], {})
    for user in d["users"]:
        users[user["userName"]] = user


def users_removed(m, d):
    users = m.users.setdefault(d["tenantId"], {})
    for user in d["users"]:
        users.pop(user["userName"], None)


def departments_changed(m, d):
    tree = m.departments.setdefault(d["tenantId"], {})
    for dept in d["added"] + d["renamed"] + d["moved"]:
        tree[dept["orgCode"]] = dept["orgName"]
    for code in d["retired"]:
        tree.pop(code, None)


HANDLERS = {
    "instance.created": instance_created,
    "instance.renewed": instance_changed,
    "instance.trial_converted": instance_changed,
    "instance.upgraded": instance_changed,
    "instance.frozen": instance_status,
    "instance.unfrozen": instance_status,
    "instance.released": instance_status,
    "tenant.added": tenant_added_or_changed,
    "tenant.changed": tenant_added_or_changed,
    "tenant.deleted": tenant_deleted,
    "app.credentials_changed": credentials_changed,
    "user.granted": users_granted_or_changed,
    "user.changed": users_granted_or_changed,
    "user.revoked": users_removed,
    "user.deleted": users_removed,
    "departments.changed": departments_changed,
}
model = Model()


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self):
        if self.path != "/koogate-events":
            return self.reply(404, {"error": "not found"})
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            event = webhook.verify(body, dict(self.headers))
        except WebhookVerificationError:
            return self.reply(400, {"error": "bad signature"})
        first = model.handle(self.headers["webhook-id"], event)
        self.reply(200, {"handled": first})

    def do_GET(self):
        if self.path == "/state":
            with model.lock:
                return self.reply(200, {
                    "handled": model.handled,
                    "instances": model.instances,
                    "tenants": model.tenants,
                    "users": {t: sorted(u) for t, u in model.users.items()},
                    "departments": model.departments,
                })
        token = self.headers.get("X-Koogate-Identity")
        if not token:
            return self.reply(401, {"error": "not through the gate"})
        try:
            claims = verify_identity(token)
        except jwt.PyJWTError as err:
            return self.reply(401, {"error": f"bad identity: {type(err).__name__}"})
        self.reply(200, {"user": claims["sub"], "tenant": claims["tenant"],
                         "role": claims.get("role"), "org": claims.get("org")})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    print(f"listening on 127.0.0.1:{PORT}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
