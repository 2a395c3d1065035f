// The official TypeScript SDK client (npm `@modelcontextprotocol/client`, pinned in the Makefile,
// installed in .tools/) logs in to this server with its own OAuth support, as an app built on it
// does: an OAuthClientProvider kept in memory, a callback server on 127.0.0.1 whose URL is the
// redirect URI, `finishAuth` with the callback's parameters, then a new connection that lists the
// tools and calls list_organizations. Then the access token is spoilt, so that the next call gets a
// 401 and the SDK refreshes the grant with the refresh token, and the call is made again.
// tests/e2e/test_oauth_flow.py reads what this prints and does the browser's part.
//
// node oauth_client.mjs TOOLS_DIR MCP_URL
//   prints JSON lines: {"authorize": URL} (the browser goes there), then {"callback": {...}},
//   {"tools": [names]}, {"call": {...}} for each call, {"refresh": {...}}, {"done": true}
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [toolsDir, mcpUrl] = process.argv.slice(2);
const require = createRequire(join(toolsDir, 'package.json'));
const load = (name) => import(pathToFileURL(require.resolve(name)).href);
const { Client, StreamableHTTPClientTransport, UnauthorizedError } = await load('@modelcontextprotocol/client');

// Every wait is bounded: the test kills this process too, but a hang should say where it was.
const CALLBACK_TIMEOUT_MS = 45_000;
const say = (event) => console.log(JSON.stringify(event));

// -- the callback: a one-page local server whose URL is the registered redirect URI -----------------
let delivered;
const callback = new Promise((resolve) => {
  delivered = resolve;
});
const server = createServer((request, response) => {
  const url = new URL(request.url, 'http://127.0.0.1');
  if (url.pathname !== '/callback') {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  response.end('<!doctype html><title>Signed in</title><p>Signed in: you can close this window.</p>');
  delivered(url.searchParams);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const redirectUrl = `http://127.0.0.1:${server.address().port}/callback`;

// -- the provider: what a client keeps between the redirect and the callback, in memory ------------
class MemoryProvider {
  constructor() {
    this.saved = { client: undefined, tokens: undefined, verifier: undefined, state: undefined, discovery: undefined };
    this.refreshes = 0;
  }
  get redirectUrl() {
    return redirectUrl;
  }
  get clientMetadata() {
    return {
      client_name: 'TypeScript SDK end-to-end client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.saved.state = crypto.randomUUID();
    return this.saved.state;
  }
  clientInformation() {
    return this.saved.client;
  }
  saveClientInformation(info) {
    this.saved.client = info;
  }
  tokens() {
    return this.saved.tokens;
  }
  saveTokens(tokens) {
    if (this.saved.tokens !== undefined) this.refreshes += 1;
    this.saved.tokens = tokens;
  }
  redirectToAuthorization(authorizationUrl) {
    say({ authorize: authorizationUrl.toString() });
  }
  saveCodeVerifier(verifier) {
    this.saved.verifier = verifier;
  }
  // Kept with the verifier: the SDK checks the callback against the authorization server it found.
  saveDiscoveryState(state) {
    this.saved.discovery = state;
  }
  discoveryState() {
    return this.saved.discovery;
  }
  codeVerifier() {
    if (this.saved.verifier === undefined) throw new Error('no code verifier saved');
    return this.saved.verifier;
  }
}

const provider = new MemoryProvider();
const url = new URL(mcpUrl);
const connect = async () => {
  const client = new Client({ name: 'oauth-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return client;
};
const callOrganizations = async (client, label) => {
  const result = await client.callTool({ name: 'list_organizations', arguments: {} });
  const organizations = (result.structuredContent?.organizations ?? []).map((o) => o.name);
  say({ call: { label, isError: result.isError ?? false, organizations } });
};

try {
  // 1. Unauthorized: the SDK discovers the server's metadata, registers, and sends the person away.
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
  const firstClient = new Client({ name: 'oauth-e2e', version: '1.0.0' });
  let refused = null;
  try {
    await firstClient.connect(first);
  } catch (error) {
    refused = error;
  }
  if (!(refused instanceof UnauthorizedError)) {
    throw new Error(`expected UnauthorizedError before the login, got ${refused}`);
  }

  // 2. The browser comes back to the callback (the test drives it); state is the client's to check.
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('no callback in time')), CALLBACK_TIMEOUT_MS);
  });
  const params = await Promise.race([callback, timeout]);
  clearTimeout(timer);
  say({
    callback: {
      stateMatches: params.get('state') === provider.saved.state,
      hasCode: params.has('code'),
      iss: params.get('iss'),
      error: params.get('error'),
    },
  });
  await first.finishAuth(params); // checks iss against the issuer (RFC 9207), then redeems the code

  // 3. A new connection with the tokens.
  const client = await connect();
  const listed = await client.listTools();
  say({ tools: listed.tools.map((tool) => tool.name) });
  for (let i = 0; i < 3; i += 1) await callOrganizations(client, `call-${i}`);

  // 4. The access token goes bad: the SDK meets a 401, refreshes with the refresh token, retries.
  const before = provider.saved.tokens;
  provider.saved.tokens = { ...before, access_token: `${before.access_token}x` };
  const refreshesBefore = provider.refreshes;
  await callOrganizations(client, 'after-refresh');
  const after = provider.saved.tokens;
  say({
    refresh: {
      hadRefreshToken: typeof before.refresh_token === 'string',
      refreshed: provider.refreshes > refreshesBefore,
      newAccessToken: after.access_token !== before.access_token && !after.access_token.endsWith('x'),
      rotatedRefreshToken: after.refresh_token !== before.refresh_token,
    },
  });
  await client.close();
  await firstClient.close();
  say({ done: true });
} finally {
  server.close();
}
