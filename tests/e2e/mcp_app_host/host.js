// The host side of MCP Apps as a web chat would run it, for tests/e2e/test_mcp_app.py:
// - the official MCP client connects to gpt-todo's /mcp with the user's token and reads the
//   view that list_todos points at (_meta.ui.resourceUri, resources/read);
// - the "model" calls list_todos; the view is shown in a sandboxed iframe (an opaque origin,
//   scripts only) under the CSP the spec builds from the resource's _meta.ui.csp;
// - AppBridge, the official host bridge, runs the handshake, hands the view the tool's input
//   and result, and passes the view's tools/call requests on to gpt-todo through the client.
// What the view tells the host (model context, sizes) is kept in window.hostLog for the test.
import { AppBridge, PostMessageTransport, RESOURCE_MIME_TYPE, getToolUiResourceUri } from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

window.hostLog = { modelContext: [], sizes: [] };

// MCP Apps 2026-01-26, security (CSP construction from metadata): the declared origins, or none.
function contentSecurityPolicy(csp = {}) {
  const list = (origins, none) => (origins && origins.length ? origins.join(" ") : none);
  const resources = list(csp.resourceDomains, "");
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline' ${resources}`,
    `style-src 'unsafe-inline' ${resources}`,
    `img-src data: ${resources}`,
    `font-src ${list(csp.resourceDomains, "'none'")}`,
    `media-src data: ${resources}`,
    `connect-src ${list(csp.connectDomains, "'none'")}`,
    `frame-src ${list(csp.frameDomains, "'none'")}`,
    "object-src 'none'",
    `base-uri ${list(csp.baseUriDomains, "'none'")}`,
  ].join("; ");
}

function withPolicy(html, csp) {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(csp)}">`;
  return html.replace(/<head>/i, `<head>${meta}`);
}

window.startHost = async ({ mcpUrl, token, theme, listArguments }) => {
  const client = new Client(
    { name: "gpt-todo e2e host", version: "1" },
    {
      capabilities: { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: [RESOURCE_MIME_TYPE] } } },
      // server/discover first, then 2026-07-28 (per-request _meta) when the server offers it.
      versionNegotiation: { mode: "auto" },
    },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
  );
  const { tools } = await client.listTools();
  const listTool = tools.find((tool) => tool.name === "list_todos");
  const uri = getToolUiResourceUri(listTool);
  const { contents } = await client.readResource({ uri });
  const view = contents[0];
  if (view.mimeType !== RESOURCE_MIME_TYPE) throw new Error(`not an MCP App: ${view.mimeType}`);

  // The model's call, as the host makes it when the model asks for the list.
  const result = await client.callTool({ name: "list_todos", arguments: listArguments });

  const frame = document.createElement("iframe");
  frame.title = "gpt-todo: your todos";
  frame.setAttribute("sandbox", "allow-scripts allow-forms");
  frame.srcdoc = withPolicy(view.text, view._meta?.ui?.csp);
  document.getElementById("slot").append(frame);

  let hostContext = {
    theme, displayMode: "inline", availableDisplayModes: ["inline"], platform: "web", containerDimensions: { maxHeight: 4000 },
  };
  const bridge = new AppBridge(
    client,
    { name: "gpt-todo e2e host", version: "1" },
    { serverTools: {}, serverResources: {}, logging: {}, updateModelContext: { text: {} } },
    { hostContext },
  );
  bridge.onupdatemodelcontext = async (params) => {
    window.hostLog.modelContext.push(params);
    return {};
  };
  bridge.onsizechange = ({ height }) => {
    window.hostLog.sizes.push(height);
    if (height) frame.style.height = `${height}px`;
  };
  const initialized = new Promise((resolve) => { bridge.oninitialized = resolve; });
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  await initialized;

  window.hostBridge = bridge;
  window.showToolResult = async () => {
    await bridge.sendToolInput({ arguments: listArguments });
    await bridge.sendToolResult(result);
  };
  window.setTheme = (next) => {
    hostContext = { ...hostContext, theme: next };
    bridge.setHostContext(hostContext);
  };
  return { uri, csp: view._meta?.ui?.csp, resultIsError: Boolean(result.isError), protocolVersion: client.getNegotiatedProtocolVersion() };
};

window.hostReady = true;
