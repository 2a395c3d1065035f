// The test host's page script, bundled by esbuild (tests/e2e/apphost/host.py) with the official
// MCP Apps host bridge. It plays what a chat client does around an MCP App:
//
// - renders the view's HTML in <iframe sandbox="allow-scripts" srcdoc> (an opaque origin, no
//   allow-same-origin), with the resource's Content-Security-Policy (its _meta.ui.csp, else the
//   spec's restrictive default) injected as a <meta> tag;
// - speaks the Apps protocol through `AppBridge` over a `PostMessageTransport` bound to that frame;
// - after ui/notifications/initialized, sends the tool input and then the real CallToolResult;
// - forwards the view's tools/call and resources/read to Python (a real MCP client session)
//   through a Playwright binding, after enforcing tool visibility: a tool whose
//   _meta.ui.visibility lacks "app" is refused here and never reaches the server;
// - records what the view sent (model-context updates, messages, size changes, logs, links, the
//   JSON-RPC trace, and any stray postMessage) in `window.__host` for the tests to read.
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";

const PYTHON = "__apphostPython"; // the Playwright binding (host.py), main frame only

// The spec's default when a resource declares no CSP.
function contentSecurityPolicy(csp) {
  const list = (domains) => (domains && domains.length ? " " + domains.join(" ") : "");
  csp = csp || {};
  return [
    "default-src 'none'",
    "script-src 'self' 'unsafe-inline'" + list(csp.resourceDomains),
    "style-src 'self' 'unsafe-inline'" + list(csp.resourceDomains),
    "img-src 'self' data:" + list(csp.resourceDomains),
    "font-src 'self'" + list(csp.resourceDomains),
    "media-src 'self' data:" + list(csp.resourceDomains),
    "connect-src 'none'" + list(csp.connectDomains),
    "frame-src 'none'" + list(csp.frameDomains),
    "base-uri 'self'" + list(csp.baseUriDomains),
  ].join("; ");
}

function withCsp(html, policy) {
  const escaped = policy.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
  const tag = `<meta http-equiv="Content-Security-Policy" content="${escaped}">`;
  const head = /<head(\s[^>]*)?>/i.exec(html);
  if (head) return html.slice(0, head.index + head[0].length) + tag + html.slice(head.index + head[0].length);
  return tag + html;
}

function plain(value) {
  try {
    return JSON.parse(JSON.stringify(value ?? null));
  } catch {
    return String(value);
  }
}

const record = {
  initialized: false,
  appInfo: null,
  appCapabilities: null,
  toolInputSent: false,
  toolResultSent: false,
  calls: [], // tools/call that reached the server: {name, arguments}
  refused: [], // tools/call refused by the host: {name, arguments, reason}
  results: [], // what the server answered to each forwarded call: {name, result}
  reads: [], // resources/read forwarded: {uri}
  modelContext: [], // ui/update-model-context params
  messages: [], // ui/message params
  sizes: [], // ui/notifications/size-changed params
  logs: [], // notifications/message params
  links: [], // ui/open-link params
  displayModes: [], // ui/request-display-mode params
  teardownRequests: 0,
  trace: [], // every JSON-RPC message either way: {dir, method, id, error}
  stray: [], // anything the view posted that is not JSON-RPC 2.0
  errors: [], // bridge and transport errors
};
window.__host = record;

let bridge = null;
let hostContext = {};

async function python(method, params) {
  return await window[PYTHON](method, params);
}

async function start(config) {
  const tools = new Map(config.tools.map((tool) => [tool.name, tool]));
  hostContext = config.hostContext;
  document.documentElement.dataset.theme = hostContext.theme || "light";

  const iframe = document.createElement("iframe");
  iframe.id = "app";
  iframe.title = "MCP App";
  iframe.setAttribute("sandbox", "allow-scripts");
  if (config.height) iframe.style.height = `${config.height}px`;
  document.getElementById("frame").append(iframe);
  const view = iframe.contentWindow; // the same WindowProxy before and after srcdoc loads

  window.addEventListener("message", (event) => {
    if (event.source !== view) return;
    const data = event.data;
    if (data && typeof data === "object" && data.jsonrpc === "2.0") {
      record.trace.push({ dir: "in", method: data.method, id: data.id, error: plain(data.error) });
    } else {
      record.stray.push(plain(data));
    }
  });

  bridge = new AppBridge(null, { name: "test-host", version: "1" }, config.hostCapabilities, {
    hostContext,
  });

  bridge.oncalltool = async (params) => {
    const name = params.name;
    const args = params.arguments || {};
    const tool = tools.get(name);
    const visibility = tool?._meta?.ui?.visibility ?? ["model", "app"];
    if (!tool || !visibility.includes("app")) {
      const reason = tool ? `tool ${name} is not visible to apps` : `no tool named ${name}`;
      record.refused.push({ name, arguments: plain(args), reason });
      throw new Error(reason);
    }
    record.calls.push({ name, arguments: plain(args) });
    const result = await python("tools/call", { name, arguments: args });
    record.results.push({ name, result });
    return result;
  };
  bridge.onreadresource = async (params) => {
    record.reads.push({ uri: params.uri });
    return await python("resources/read", { uri: params.uri });
  };
  bridge.onupdatemodelcontext = async (params) => {
    record.modelContext.push(plain(params));
    return {};
  };
  bridge.onmessage = async (params) => {
    record.messages.push(plain(params));
    return {};
  };
  bridge.onopenlink = async (params) => {
    record.links.push(plain(params));
    return {};
  };
  bridge.onrequestdisplaymode = async (params) => {
    record.displayModes.push(plain(params));
    return { mode: hostContext.displayMode || "inline" };
  };
  bridge.onloggingmessage = (params) => record.logs.push(plain(params));
  bridge.onrequestteardown = () => {
    record.teardownRequests += 1;
  };
  bridge.onsizechange = (params) => {
    record.sizes.push(plain(params));
    if (typeof params.height === "number" && !config.height) iframe.style.height = `${params.height}px`;
  };
  bridge.oninitialized = async () => {
    record.initialized = true;
    record.appInfo = plain(bridge.getAppVersion());
    record.appCapabilities = plain(bridge.getAppCapabilities());
    try {
      await bridge.sendToolInput({ arguments: config.toolInput });
      record.toolInputSent = true;
      if (config.toolResult) {
        await bridge.sendToolResult(config.toolResult);
        record.toolResultSent = true;
      }
    } catch (error) {
      record.errors.push(`sending the tool input/result: ${error}`);
    }
  };
  bridge.onerror = (error) => record.errors.push(`bridge: ${error}`);

  const transport = new PostMessageTransport(view, view);
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    record.trace.push({ dir: "out", method: message.method, id: message.id, error: plain(message.error) });
    return send(message, options);
  };
  transport.onerror = (error) => record.errors.push(`transport: ${error}`);

  await bridge.connect(transport);
  // Listening before the document exists: the view's ui/initialize cannot be missed.
  iframe.srcdoc = withCsp(config.html, contentSecurityPolicy(config.csp));
}

function setHostContext(changes) {
  hostContext = { ...hostContext, ...changes };
  if (hostContext.theme) document.documentElement.dataset.theme = hostContext.theme;
  bridge.setHostContext(hostContext);
}

async function sendToolResult(result) {
  await bridge.sendToolResult(result);
  record.toolResultSent = true;
}

window.__apphost = { start, setHostContext, sendToolResult };
