// Starts GraphiQL with the settings the server wrote into the page: the
// endpoint and, in dev mode only, the demo token's headers and example tabs.
(function () {
  "use strict";
  var settings = JSON.parse(
    document.getElementById("agentgraph-settings").textContent
  );
  // Subscriptions go over a WebSocket to the same endpoint; the headers
  // typed in GraphiQL become the `connection_init` payload, so the
  // `Authorization` header authenticates them too.
  var wsUrl = new URL(settings.endpoint, window.location.href);
  wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:";
  var props = {
    fetcher: GraphiQL.createFetcher({
      url: settings.endpoint,
      subscriptionUrl: wsUrl.toString(),
    }),
    defaultEditorToolsVisibility: true,
    // Headers are never written to localStorage: a token outlives neither
    // the tab nor (in dev mode) the server process that signed it.
    shouldPersistHeaders: false,
  };
  if (settings.headers) {
    props.defaultHeaders = settings.headers;
  }
  if (settings.tabs) {
    props.defaultTabs = settings.tabs;
  }
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, props)
  );
})();
