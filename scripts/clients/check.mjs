// Client-level check of agentgraph's cache identity (README, "Client
// caches"). Starts nothing: give it a running server and two users' tokens.
//
//   node check.mjs http://127.0.0.1:8000/graphql <token of user A> <token of user B>
//
// For Apollo Client (InMemoryCache) and urql (graphcache) in turn, user A
// watches `project { counts readiness }`, then runs `createFeature` and
// `confirmFeature` (payloads select the project's counts and readiness) and
// receives one `readinessChanged` event for a change made outside the client;
// after each, the watched query must show the new counts and score with the
// watched query sent to the server once only. User B must get null for A's
// project and feature through `node(id:)` and `nodes(ids:)`.

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { cacheExchange } from "@urql/exchange-graphcache";
import { Client, fetchExchange, subscriptionExchange } from "@urql/core";
import { createClient } from "graphql-ws";
import { getOperationAST } from "graphql";
import { pipe, tap } from "wonka";
import WebSocket from "ws";

const [url, tokenA, tokenB] = process.argv.slice(2);
if (!url || !tokenA || !tokenB) {
  console.error("usage: node check.mjs <server /graphql URL> <token A> <token B>");
  process.exit(2);
}
const wsUrl = url.replace(/^http/, "ws");

/// What each client needs in its cache configuration: `Readiness` is keyed
/// by its project (it has no id of its own); the counts and dimensions are
/// values embedded in their project / readiness.
const apolloTypePolicies = {
  Readiness: { keyFields: ["projectId"] },
};
const urqlKeys = {
  Readiness: (readiness) => readiness.projectId,
  ProjectCounts: () => null,
  ReadinessDimensions: () => null,
};

const PROJECT_FIELDS = `id counts { features confirmedFeatures personas } readiness { projectId score }`;
const WATCHED = `query Watched($p: UUID!) { project(id: $p) { ${PROJECT_FIELDS} } }`;
const CREATE_FEATURE = `mutation CreateFeature($p: UUID!, $name: String!) {
  createFeature(projectId: $p, input: { name: $name }) { id confirmed project { ${PROJECT_FIELDS} } } }`;
const CONFIRM_FEATURE = `mutation ConfirmFeature($id: UUID!) {
  confirmFeature(id: $id) { id confirmed project { ${PROJECT_FIELDS} } } }`;
const READINESS_CHANGED = `subscription ReadinessChanged($p: UUID!) {
  readinessChanged(projectId: $p) { projectId score project { id counts { features confirmedFeatures personas } } } }`;
const NODES = `query Nodes($ids: [UUID!]!, $first: UUID!) { nodes(ids: $ids) { __typename id } one: node(id: $first) { id } }`;

function fail(message) {
  throw new Error(message);
}

/// Plain HTTP, outside any client cache.
async function post(token, query, variables) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) fail(`${query.slice(0, 60)}...: ${JSON.stringify(body.errors)}`);
  return body.data;
}

function wsClient(token) {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
  });
}

/// Resolves once `predicate(latest())` holds, polling every 10 ms.
async function until(what, latest, predicate, ms = 5000) {
  const started = Date.now();
  for (;;) {
    const value = latest();
    if (value && predicate(value)) return value;
    if (Date.now() - started > ms) fail(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/// The same steps for each client; `client` adapts its API.
async function scenario(name, client) {
  const project = (await post(tokenA, `mutation { createProject(input: { name: "${name} check" }) { id } }`))
    .createProject.id;
  const watched = client.watch(WATCHED, { p: project });
  const before = await until(`${name}: first answer`, watched.latest, (p) => p.counts);
  if (before.counts.features !== 0) fail(`${name}: a new project has features`);

  const created = await client.mutate(CREATE_FEATURE, { p: project, name: "export" });
  const feature = created.createFeature.id;
  await until(`${name}: createFeature's counts in the watched query`, watched.latest,
    (p) => p.counts.features === 1 && p.readiness.score === created.createFeature.project.readiness.score);

  const confirmed = await client.mutate(CONFIRM_FEATURE, { id: feature });
  const score = confirmed.confirmFeature.project.readiness.score;
  if (score === before.readiness.score) fail(`${name}: confirming a feature left the score at ${score}`);
  await until(`${name}: confirmFeature's counts and score in the watched query`, watched.latest,
    (p) => p.counts.confirmedFeatures === 1 && p.readiness.score === score);

  // A change made outside this client reaches it only through the event.
  const events = client.subscribe(READINESS_CHANGED, { p: project });
  await until(`${name}: the current readiness event`, events.latest, (e) => e.readinessChanged);
  await post(tokenA, `mutation($p: UUID!) { createPersona(projectId: $p, input: { name: "Ada" }) { id } }`, { p: project });
  const pushed = await until(`${name}: the readinessChanged event`, events.latest,
    (e) => e.readinessChanged.project.counts.personas === 1);
  if (pushed.readinessChanged.projectId !== project) fail(`${name}: the event names another project`);
  await until(`${name}: the pushed score in the watched query`, watched.latest,
    (p) => p.counts.personas === 1 && p.readiness.score === pushed.readinessChanged.score);
  if (pushed.readinessChanged.score === score) fail(`${name}: a persona left the score at ${score}`);
  events.stop();
  watched.stop();

  const sent = client.sent("Watched");
  if (sent !== 1) fail(`${name}: the watched query went to the server ${sent} times (a refetch)`);

  // User B through node(id:) / nodes(ids:): A's project and feature are null.
  const other = client.asOtherUser();
  const seen = await other.query(NODES, { ids: [project, feature], first: project });
  other.close();
  if (JSON.stringify(seen) !== JSON.stringify({ nodes: [null, null], one: null })) {
    fail(`${name}: user B saw ${JSON.stringify(seen)}`);
  }
  const own = await client.query(NODES, { ids: [project, feature], first: project });
  if (own.nodes[0]?.__typename !== "Project" || own.nodes[1]?.__typename !== "Feature") {
    fail(`${name}: user A did not find its own nodes: ${JSON.stringify(own)}`);
  }
  console.log(`${name}: ok (score ${before.readiness.score} -> ${score} -> ${pushed.readinessChanged.score}, watched query sent once)`);
}

function apollo(token) {
  const sent = {};
  const counting = new ApolloLink((operation, forward) => {
    sent[operation.operationName] = (sent[operation.operationName] ?? 0) + 1;
    return forward(operation);
  });
  const ws = wsClient(token);
  const http = new HttpLink({ uri: url, headers: { authorization: `Bearer ${token}` } });
  const link = ApolloLink.split(
    ({ query }) => getOperationAST(query)?.operation === "subscription",
    new GraphQLWsLink(ws),
    ApolloLink.from([counting, http]),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache({ typePolicies: apolloTypePolicies }) });
  const follow = (observable) => {
    let latest;
    const subscription = observable.subscribe({
      next: (result) => {
        if (result.error || result.errors) console.error(result.error ?? result.errors);
        if (result.data) latest = result.data;
      },
      error: (error) => console.error(error),
    });
    return { latest: () => latest, stop: () => subscription.unsubscribe() };
  };
  return {
    watch(query, variables) {
      const followed = follow(client.watchQuery({ query: gql(query), variables, fetchPolicy: "cache-first" }));
      return { ...followed, latest: () => followed.latest()?.project };
    },
    subscribe: (query, variables) => follow(client.subscribe({ query: gql(query), variables })),
    async mutate(mutation, variables) {
      return (await client.mutate({ mutation: gql(mutation), variables })).data;
    },
    async query(query, variables) {
      return (await client.query({ query: gql(query), variables, fetchPolicy: "network-only" })).data;
    },
    sent: (name) => sent[name] ?? 0,
    asOtherUser: () => apollo(tokenB),
    close: () => { client.stop(); ws.dispose(); },
  };
}

function urql(token) {
  const sent = {};
  const counting = ({ forward }) => (operations) =>
    forward(pipe(operations, tap((operation) => {
      if (operation.kind === "query") {
        const name = getOperationAST(operation.query)?.name?.value;
        sent[name] = (sent[name] ?? 0) + 1;
      }
    })));
  const ws = wsClient(token);
  const client = new Client({
    url,
    fetchOptions: { headers: { authorization: `Bearer ${token}` } },
    exchanges: [
      cacheExchange({ keys: urqlKeys }),
      counting,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? "" }, sink) }),
        }),
      }),
    ],
  });
  const follow = (source) => {
    let latest;
    const subscription = source.subscribe((result) => {
      if (result.error) console.error(result.error);
      if (result.data) latest = result.data;
    });
    return { latest: () => latest, stop: () => subscription.unsubscribe() };
  };
  return {
    watch(query, variables) {
      const followed = follow(client.query(query, variables, { requestPolicy: "cache-first" }));
      return { ...followed, latest: () => followed.latest()?.project };
    },
    subscribe: (query, variables) => follow(client.subscription(query, variables)),
    async mutate(mutation, variables) {
      const result = await client.mutation(mutation, variables).toPromise();
      if (result.error) fail(String(result.error));
      return result.data;
    },
    async query(query, variables) {
      const result = await client.query(query, variables, { requestPolicy: "network-only" }).toPromise();
      if (result.error) fail(String(result.error));
      return result.data;
    },
    sent: (name) => sent[name] ?? 0,
    asOtherUser: () => urql(tokenB),
    close: () => ws.dispose(),
  };
}

let failed = false;
for (const [name, make] of [["apollo", apollo], ["urql", urql]]) {
  const client = make(tokenA);
  try {
    await scenario(name, client);
  } catch (error) {
    failed = true;
    console.error(`${name}: FAILED: ${error.message}`);
  } finally {
    client.close();
  }
}
process.exit(failed ? 1 : 0);
