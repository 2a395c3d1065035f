// The Vercel AI SDK's MCP client (npm `@ai-sdk/mcp`, `ai`; pinned in the Makefile, installed in
// .tools/) against this server, the way an app built on it uses a server: connect, turn every
// tool's input schema into the SDK's schema (`asSchema`, what it hands the model provider), and
// call tools with the arguments a strict model sends. Prints one JSON line; tests/e2e/test_vercel_ai.py
// reads it.
//
// node vercel_ai_probe.mjs TOOLS_DIR SPEC_JSON
//   SPEC: {"stdio": {"command", "args", "env"}} or {"http": {"url", "headers"}},
//         "discovery": bool (false: the 2025-11-25 initialize handshake), "calls": [[tool, args], ...]
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [toolsDir, specText] = process.argv.slice(2);
const spec = JSON.parse(specText);
const require = createRequire(join(toolsDir, 'package.json'));
const load = (name) => import(pathToFileURL(require.resolve(name)).href);
const { createMCPClient } = await load('@ai-sdk/mcp');
const { asSchema } = await load('ai');

let transport;
if (spec.stdio) {
  const { Experimental_StdioMCPTransport } = await load('@ai-sdk/mcp/mcp-stdio');
  transport = new Experimental_StdioMCPTransport(spec.stdio);
} else {
  transport = { type: 'http', url: spec.http.url, headers: spec.http.headers };
}
const client = await createMCPClient({ transport, protocolVersionDiscovery: spec.discovery });
try {
  const listed = await client.listTools();
  const advertised = Object.fromEntries(listed.tools.map((tool) => [tool.name, tool.inputSchema]));
  const tools = await client.tools();
  const schemas = {};
  for (const [name, tool] of Object.entries(tools)) {
    schemas[name] = await asSchema(tool.inputSchema).jsonSchema;
  }
  const calls = [];
  for (const [name, args] of spec.calls) {
    const result = await tools[name].execute(args, { toolCallId: name, messages: [] });
    calls.push({ name, isError: result.isError ?? false, text: result.content?.[0]?.text ?? '' });
  }
  console.log(JSON.stringify({ protocolVersion: client.protocolVersion ?? null, advertised, schemas, calls }));
} finally {
  await client.close();
}
