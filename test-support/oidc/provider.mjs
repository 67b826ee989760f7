// A tenant's OpenID provider for koogate's tests: oidc-provider (a
// certified implementation) with one client, on 127.0.0.1.
//
// Settings come from `OIDC_{NAME}` environment variables or from
// `name=value` arguments:
//   port                      0 (the default) picks a free port
//   client_id, client_secret  the client koogate was given for the tenant
//   redirect_uri              koogate's /sso/callback
//   post_logout_redirect_uri  where koogate sends users after signing out
//
// The issuer is `http://127.0.0.1:{port}`, known only once listening, so
// the provider is built after `listen`. Prints `ready {issuer}` on stdout.
// Dev interactions are on: the login form takes any account name (that
// name is the account's `sub` and `preferred_username`), then a consent form.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const settings = { port: '0', ...fromEnvironment(process.env) };
for (const arg of process.argv.slice(2)) {
  const [name, ...value] = arg.split('=');
  settings[name] = value.join('=');
}
for (const name of ['client_id', 'client_secret', 'redirect_uri', 'post_logout_redirect_uri']) {
  if (!settings[name]) {
    console.error(`provider.mjs: ${name} is required`);
    process.exit(2);
  }
}

const server = http.createServer();
server.listen(Number(settings.port), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    clients: [{
      client_id: settings.client_id,
      client_secret: settings.client_secret,
      redirect_uris: [settings.redirect_uri],
      post_logout_redirect_uris: [settings.post_logout_redirect_uri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
    features: { devInteractions: { enabled: true } },
    jwks: { keys: [privateKey.export({ format: 'jwk' })] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    findAccount: (ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, preferred_username: id, name: `${id} (from the provider)` }),
    }),
  });
  server.on('request', provider.callback());
  console.log(`ready ${issuer}`);
});

function fromEnvironment(env) {
  return Object.fromEntries(Object.entries(env)
    .filter(([k]) => k.startsWith('OIDC_'))
    .map(([k, v]) => [k.slice('OIDC_'.length).toLowerCase(), v]));
}
