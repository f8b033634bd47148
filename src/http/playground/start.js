// Starts GraphiQL with the settings the server wrote into the page: the
// endpoint and, in dev mode only, the demo token's headers and example tabs.
(function () {
  "use strict";
  var settings = JSON.parse(
    document.getElementById("agentgraph-settings").textContent
  );
  var props = {
    fetcher: GraphiQL.createFetcher({ url: settings.endpoint }),
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
