// A vendor's app behind koogate, on Node's http module plus two packages:
// jose checks who is calling, standardwebhooks checks that an event really
// comes from koogate.
//
//   KOOGATE_URL=http://127.0.0.1:8080 KOOGATE_WEBHOOK_SECRET=whsec_... node app.mjs
//
// - Every request the gate forwards carries X-Koogate-Identity, an ES256
//   JWT signed with the key published at {KOOGATE_URL}/.well-known/jwks.json.
//   The app trusts nothing else (not the plain X-Koogate-User headers).
// - POST /koogate-events receives koogate's events (Standard Webhooks). An
//   event can arrive twice (at-least-once delivery); the webhook-id makes
//   handling it twice harmless.
// - GET /state shows what the app learnt from the events (for the CI check).
import http from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

const KOOGATE_URL = (process.env.KOOGATE_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
// The identity token's issuer is koogate's server.public_url.
const ISSUER = process.env.KOOGATE_ISSUER ?? KOOGATE_URL;
const PORT = Number(process.env.PORT ?? 3000);

// Caches the keys; fetches again when a token names an unknown `kid`.
const jwks = createRemoteJWKSet(new URL(`${KOOGATE_URL}/.well-known/jwks.json`));
const webhook = new Webhook(process.env.KOOGATE_WEBHOOK_SECRET);

async function verifyIdentity(token) {
  const { payload } = await jwtVerify(token, jwks, {
    algorithms: ["ES256"],
    audience: "upstream",
    issuer: ISSUER,
    requiredClaims: ["sub", "exp", "iat"],
  });
  return payload;
}

// What the app knows about its tenants, kept up to date by events. Node
// runs one handler at a time, so no lock is needed.
const model = {
  seen: new Set(), // webhook-ids already handled
  instances: {},
  tenants: {},
  users: {}, // tenantId -> {userName: user}
  departments: {}, // tenantId -> {orgCode: name}
  handled: [], // [webhook-id, type], in the order handled
};

const instanceChanged = (d) => {
  (model.instances[d.instanceId] ??= {}).expireTime = d.expireTime;
};
const instanceStatus = (d) => {
  (model.instances[d.instanceId] ??= {}).status = d.status;
};
const tenantAddedOrChanged = (d) => {
  model.tenants[d.tenantId] = { name: d.name, tenantCode: d.tenantCode };
};
const usersGrantedOrChanged = (d) => {
  const users = (model.users[d.tenantId] ??= {});
  for (const user of d.users) users[user.userName] = user;
};
const usersRemoved = (d) => {
  const users = (model.users[d.tenantId] ??= {});
  for (const user of d.users) delete users[user.userName];
};

const HANDLERS = {
  "instance.created": (d) => {
    model.instances[d.instanceId] = { status: "active", expireTime: d.expireTime };
  },
  "instance.renewed": instanceChanged,
  "instance.trial_converted": instanceChanged,
  "instance.upgraded": instanceChanged,
  "instance.frozen": instanceStatus,
  "instance.unfrozen": instanceStatus,
  "instance.released": instanceStatus,
  "tenant.added": tenantAddedOrChanged,
  "tenant.changed": tenantAddedOrChanged,
  "tenant.deleted": (d) => {
    delete model.tenants[d.tenantId];
    delete model.users[d.tenantId];
    delete model.departments[d.tenantId];
  },
  // Never the secret itself: read it where the app keeps credentials.
  "app.credentials_changed": (d) => {
    (model.tenants[d.tenantId] ??= {}).credentials = d.action;
  },
  "user.granted": usersGrantedOrChanged,
  "user.changed": usersGrantedOrChanged,
  "user.revoked": usersRemoved,
  "user.deleted": usersRemoved,
  "departments.changed": (d) => {
    const tree = (model.departments[d.tenantId] ??= {});
    for (const dept of [...d.added, ...d.renamed, ...d.moved]) tree[dept.orgCode] = dept.orgName;
    for (const code of d.retired) delete tree[code];
  },
};

function handle(webhookId, event) {
  if (model.seen.has(webhookId)) return false;
  const handler = HANDLERS[event.type];
  if (handler) {
    handler(event.data);
  } else {
    // A type this app does not know yet: accept it, so it is not retried
    // for a day, and carry on.
    console.log(`ignoring event type ${event.type}`);
  }
  model.seen.add(webhookId);
  model.handled.push([webhookId, event.type]);
  return true;
}

function reply(res, status, body) {
  const raw = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(raw) });
  res.end(raw);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const server = http.createServer(async (req, res) => {
  if (req.method === "POST") {
    if (req.url !== "/koogate-events") return reply(res, 404, { error: "not found" });
    const body = await readBody(req);
    let event;
    try {
      event = webhook.verify(body, req.headers);
    } catch (err) {
      if (err instanceof WebhookVerificationError) return reply(res, 400, { error: "bad signature" });
      throw err;
    }
    return reply(res, 200, { handled: handle(req.headers["webhook-id"], event) });
  }
  if (req.url === "/state") {
    const users = Object.fromEntries(
      Object.entries(model.users).map(([tenant, u]) => [tenant, Object.keys(u).sort()]),
    );
    const { handled, instances, tenants, departments } = model;
    return reply(res, 200, { handled, instances, tenants, users, departments });
  }
  const token = req.headers["x-koogate-identity"];
  if (!token) return reply(res, 401, { error: "not through the gate" });
  let claims;
  try {
    claims = await verifyIdentity(token);
  } catch (err) {
    return reply(res, 401, { error: `bad identity: ${err.code ?? err.name}` });
  }
  reply(res, 200, { user: claims.sub, tenant: claims.tenant, role: claims.role, org: claims.org });
});

server.listen(PORT, "127.0.0.1", () => console.log(`listening on 127.0.0.1:${PORT}`));
