// A client of koogate's read API (/app-api/v1): a tenant, its department
// tree and the users granted the app.
//
//   KOOGATE_URL=http://127.0.0.1:8080 KOOGATE_APP_API_TOKEN=... node app_api.mjs TENANT_ID
const KOOGATE_URL = (process.env.KOOGATE_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
const TOKEN = process.env.KOOGATE_APP_API_TOKEN;

// The JSON at `path`, or null when koogate answers 404 (unknown, released
// or deleted tenant).
async function get(path) {
  const answer = await fetch(`${KOOGATE_URL}/app-api/v1${path}`, {
    headers: { Authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (answer.status === 404) return null;
  if (!answer.ok) throw new Error(`${path}: HTTP ${answer.status}`);
  return answer.json();
}

export const tenant = (id) => get(`/tenants/${encodeURIComponent(id)}`);
export const departments = (id) => get(`/tenants/${encodeURIComponent(id)}/departments`);
export const users = (id) => get(`/tenants/${encodeURIComponent(id)}/users`);

function* flatten(tree, depth = 0) {
  for (const node of tree) {
    yield [depth, node];
    yield* flatten(node.children, depth + 1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const id = process.argv[2];
  const found = await tenant(id);
  if (found === null) {
    console.error(`tenant ${id}: not found`);
    process.exit(1);
  }
  console.log(JSON.stringify({
    tenant: found,
    departments: [...flatten(await departments(id))].map(([d, n]) => `${"  ".repeat(d)}${n.orgCode} ${n.orgName}`),
    users: (await users(id)).filter((u) => u.enabled).map((u) => u.userName),
  }));
}
