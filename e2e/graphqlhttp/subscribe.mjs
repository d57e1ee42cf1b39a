// Subscribes with graphql-ws (the graphql-transport-ws client that Apollo
// Client, urql and Relay use) on the endpoint given as the first argument,
// with the bearer credential of the second (sent in connection_init, as a
// browser does), to the subscription of the third, and prints one JSON
// line per message: {"ready":true} once the subscription is open, then
// each result, until as many results as the fourth argument came; a failure
// prints {"error":…} and exits with 1.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, query, count] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  retryAttempts: 0,
});
const describe = (e) => (e && typeof e.code === 'number' ? { code: e.code, reason: e.reason } : String(e?.message ?? JSON.stringify(e)));
let left = Number(count);
const done = new Promise((resolve, reject) => {
  client.subscribe({ query }, {
    next: (result) => {
      console.log(JSON.stringify(result));
      if (--left === 0) resolve();
    },
    error: reject,
    complete: resolve,
  });
});
try {
  // The server opens a subscription before it reads the next message:
  // once a query sent after it is answered, it is open.
  await new Promise((resolve, reject) => client.subscribe({ query: '{ __typename }' }, { next: () => {}, error: reject, complete: resolve }));
  console.log(JSON.stringify({ ready: true }));
  await done;
} catch (e) {
  console.log(JSON.stringify({ error: describe(e) }));
  process.exitCode = 1;
}
await client.dispose();
