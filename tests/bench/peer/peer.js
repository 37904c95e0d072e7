#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// The benchmark peer: the job of one quarantined polling cycle, written the
// way Microsoft's official JavaScript SDK (@microsoft/microsoft-graph-client
// v3) documents it, so `make bench` can set the daemon against the code an
// administrator would otherwise write.
//
//   1. list users, groups and orgContacts with a PropertyConflict
//      provisioning error (the documented default-mode filter), following
//      @odata.nextLink with PageIterator
//      (https://github.com/microsoftgraph/msgraph-sdk-javascript/blob/dev/docs/tasks/PageIterator.md);
//   2. look up who holds each conflicting value (UPN or proxy address) in
//      each collection, 20 lookups per JSON $batch built with
//      BatchRequestContent and read with BatchResponseContent
//      (https://github.com/microsoftgraph/msgraph-sdk-javascript/blob/dev/docs/content/Batching.md),
//      with --concurrency $batch POSTs in flight.
//
// Throttling: the SDK's RetryHandler middleware retries a throttled HTTP
// request (the $batch POST itself), but an item of a $batch is evaluated
// against the limits on its own and fails alone with 429 inside a 200
// answer (https://learn.microsoft.com/graph/json-batching).  As the
// throttling guidance says, such items are sent again, in a new batch,
// after waiting the Retry-After of their responses
// (https://learn.microsoft.com/graph/throttling).
//
// Authentication: a custom AuthenticationProvider fetches a client
// credentials token (https://github.com/microsoftgraph/msgraph-sdk-javascript/blob/dev/docs/CustomAuthenticationProvider.md,
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
// The SDK sends the bearer token only to Graph hosts and customHosts, over
// https; the simulator's CA is trusted through NODE_EXTRA_CA_CERTS.
//
// Usage: node peer.js --base https://127.0.0.1:PORT --tenant ID
//            --client-id ID --secret-file FILE [--concurrency N]
// Prints one JSON line of figures on stdout; exit 0 when the job is done.
"use strict";

const fs = require("fs");
const {
  Client,
  PageIterator,
  BatchRequestContent,
  BatchResponseContent,
} = require("@microsoft/microsoft-graph-client");

const PC_FILTER =
  "onPremisesProvisioningErrors/any(o:o/category eq 'PropertyConflict')";
const COLLECTIONS = {
  users:
    "id,displayName,userPrincipalName,mail,proxyAddresses," +
    "onPremisesSyncEnabled,onPremisesImmutableId,onPremisesProvisioningErrors," +
    "onPremisesDistinguishedName,onPremisesSamAccountName,onPremisesLastSyncDateTime",
  groups:
    "id,displayName,mail,proxyAddresses,onPremisesSyncEnabled," +
    "onPremisesProvisioningErrors,onPremisesSamAccountName,onPremisesLastSyncDateTime",
  contacts:
    "id,displayName,mail,proxyAddresses,onPremisesSyncEnabled," +
    "onPremisesProvisioningErrors,onPremisesLastSyncDateTime",
};
const HOLDER_SELECT = {
  users: "id,displayName,userPrincipalName,mail,onPremisesSyncEnabled,onPremisesImmutableId",
  groups: "id,displayName,mail,onPremisesSyncEnabled",
  contacts: "id,displayName,mail,onPremisesSyncEnabled",
};
// "JSON batch requests are currently limited to 20 individual requests"
// (https://learn.microsoft.com/graph/json-batching).
const BATCH_MAX = 20;

function parseArgs(argv) {
  const args = { concurrency: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, "");
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`option --${name} needs a value`);
    if (name === "base") args.base = value.replace(/\/+$/, "");
    else if (name === "tenant") args.tenant = value;
    else if (name === "client-id") args.clientId = value;
    else if (name === "secret-file") args.secretFile = value;
    else if (name === "concurrency") args.concurrency = parseInt(value, 10);
    else throw new Error(`unknown option --${name}`);
  }
  for (const k of ["base", "tenant", "clientId", "secretFile"])
    if (!args[k]) throw new Error(`option --${k.replace(/[A-Z]/, (c) => "-" + c.toLowerCase())} is required`);
  if (!(args.concurrency >= 1 && args.concurrency <= 20))
    throw new Error("--concurrency must be 1 to 20");
  return args;
}

// A custom AuthenticationProvider: getAccessToken() returns a cached
// client-credentials token and fetches a new one a minute before expiry.
class ClientCredentialsProvider {
  constructor(base, tenant, clientId, secret) {
    this.url = `${base}/${tenant}/oauth2/v2.0/token`;
    this.form = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: secret,
      scope: "https://graph.microsoft.com/.default",
    }).toString();
    this.token = null;
    this.expires = 0;
    this.pending = null;
  }

  async getAccessToken() {
    if (this.token && Date.now() < this.expires) return this.token;
    if (!this.pending) {
      this.pending = (async () => {
        const res = await fetch(this.url, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: this.form,
        });
        const body = await res.json();
        if (!res.ok) throw new Error(`token endpoint: ${res.status} ${body.error_description || ""}`);
        this.token = body.access_token;
        this.expires = Date.now() + (body.expires_in - 60) * 1000;
      })().finally(() => {
        this.pending = null;
      });
    }
    await this.pending;
    return this.token;
  }
}

function quote(value) {
  return "'" + value.replace(/'/g, "''") + "'";
}

// The value of a provisioning error without the SMTP:/smtp: prefix that
// proxy-address errors carry.
function bareValue(value) {
  return /^smtp:/i.test(value) ? value.slice(5) : value;
}

// The same combined filter the daemon sends for one value in one collection.
function holderFilter(collection, value) {
  const terms = [];
  if (collection === "users") terms.push(`userPrincipalName eq ${quote(value)}`);
  terms.push(`mail eq ${quote(value)}`);
  terms.push(`proxyAddresses/any(x:x eq ${quote("SMTP:" + value)})`);
  terms.push(`proxyAddresses/any(x:x eq ${quote("smtp:" + value)})`);
  return terms.join(" or ");
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function listConflicts(client, collection) {
  const found = [];
  const first = await client
    .api(`/${collection}`)
    .filter(PC_FILTER)
    .select(COLLECTIONS[collection])
    .top(999)
    .get();
  const iterator = new PageIterator(client, first, (item) => {
    for (const e of item.onPremisesProvisioningErrors || [])
      if (e.category === "PropertyConflict")
        found.push({ id: item.id, collection, property: e.propertyCausingError, value: e.value });
    return true;
  });
  await iterator.iterate();
  return found;
}

async function lookupHolders(client, base, conflicts, concurrency, stats) {
  // One lookup per distinct value (case-insensitively) and collection.
  const values = new Map();
  for (const c of conflicts) {
    const v = bareValue(c.value);
    const key = v.toLowerCase();
    if (!values.has(key)) values.set(key, { value: v, owners: new Set(), holders: new Set() });
    values.get(key).owners.add(c.id);
  }
  const queue = [];
  for (const [key, entry] of values)
    for (const collection of Object.keys(HOLDER_SELECT))
      queue.push({ key, collection, value: entry.value });
  stats.values = values.size;
  stats.lookups = queue.length;

  // Retry-After is the app's wait for the tenant's bucket, which every
  // request in flight shares (the x-ms-throttle-scope of a 429 names the
  // application+tenant pair, https://learn.microsoft.com/graph/throttling-limits):
  // no worker sends before the latest Retry-After has passed.
  let notBefore = 0;

  async function worker() {
    while (queue.length) {
      if (Date.now() < notBefore) await sleep(notBefore - Date.now());
      const chunk = queue.splice(0, BATCH_MAX);
      if (!chunk.length) continue;
      const steps = chunk.map((item, i) => {
        const params = new URLSearchParams({
          $filter: holderFilter(item.collection, item.value),
          $select: HOLDER_SELECT[item.collection],
        });
        return {
          id: String(i + 1),
          request: new Request(`${base}/${item.collection}?${params}`, { method: "GET" }),
        };
      });
      const content = await new BatchRequestContent(steps).getContent();
      const answer = new BatchResponseContent(await client.api("/$batch").post(content));
      stats.batches++;
      let retryAfter = 0;
      const again = [];
      for (let i = 0; i < chunk.length; i++) {
        const res = answer.getResponseById(String(i + 1));
        if (res.status === 429) {
          stats.throttledItems++;
          retryAfter = Math.max(retryAfter, Number(res.headers.get("Retry-After")) || 1);
          again.push(chunk[i]);
          continue;
        }
        if (res.status !== 200) throw new Error(`lookup answered ${res.status}: ${await res.text()}`);
        const entry = values.get(chunk[i].key);
        for (const obj of (await res.json()).value)
          if (!entry.owners.has(obj.id)) entry.holders.add(obj.id);
      }
      if (again.length) {
        notBefore = Math.max(notBefore, Date.now() + retryAfter * 1000);
        queue.push(...again);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  let held = 0;
  for (const entry of values.values()) if (entry.holders.size) held++;
  return held;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const secret = fs.readFileSync(args.secretFile, "utf8").trim();
  const client = Client.initWithMiddleware({
    authProvider: new ClientCredentialsProvider(args.base, args.tenant, args.clientId, secret),
    baseUrl: args.base,
    defaultVersion: "v1.0",
    customHosts: new Set([new URL(args.base).hostname]),
  });
  const stats = { batches: 0, throttledItems: 0, values: 0, lookups: 0 };
  const started = process.hrtime.bigint();
  const collections = Object.keys(COLLECTIONS);
  let conflicts = [];
  if (args.concurrency > 1) {
    for (const part of await Promise.all(collections.map((c) => listConflicts(client, c))))
      conflicts = conflicts.concat(part);
  } else {
    for (const c of collections) conflicts = conflicts.concat(await listConflicts(client, c));
  }
  const held = await lookupHolders(client, args.base, conflicts, args.concurrency, stats);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(
    JSON.stringify({ conflicts: conflicts.length, held, seconds, concurrency: args.concurrency, ...stats }) +
      "\n",
  );
}

main().catch((err) => {
  process.stderr.write(`peer: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
