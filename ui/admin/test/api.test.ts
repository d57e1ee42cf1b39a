// Unit tests of the console's API client (src/api.ts), run by Node's test
// runner over a bundle esbuild makes (test/run.mjs), with fetch and the
// timers faked.
import { afterEach, beforeEach, describe, mock, test } from "node:test";
import assert from "node:assert/strict";
import { Client, Problem } from "../src/api";

interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

type Answer = { status: number; body?: unknown };

let calls: Call[] = [];
let answers: ((c: Call) => Answer)[] = [];

function json(status: number, body?: unknown): Answer {
  return { status, body };
}

beforeEach(() => {
  calls = [];
  answers = [];
  mock.timers.enable({ apis: ["setTimeout"] });
  globalThis.fetch = (async (input: string, init: RequestInit) => {
    const c: Call = {
      method: init.method ?? "GET",
      url: input,
      headers: init.headers as Record<string, string>,
      body: init.body ? JSON.parse(init.body as string) : undefined,
    };
    calls.push(c);
    const next = answers.shift();
    if (!next) throw new Error("unexpected request " + c.method + " " + c.url);
    const a = next(c);
    return new Response(a.body === undefined ? null : JSON.stringify(a.body), {
      status: a.status,
      headers: { "Content-Type": a.status >= 400 ? "application/problem+json" : "application/json" },
    });
  }) as typeof fetch;
});

afterEach(() => mock.timers.reset());

const tokens = (n: number, expiresIn = 600) => ({
  accessToken: "access-" + n,
  expiresIn,
  refreshToken: "refresh-" + n,
  session: { id: "s1" },
});
const admin = { id: "a1", email: "admin@example.com", roles: ["admin"] };

describe("Client", () => {
  test("signs an admin in and sends the access token", async () => {
    const c = new Client(() => assert.fail("signed out"));
    answers.push(
      () => json(200, tokens(1)),
      () => json(200, admin),
      () => json(200, { items: [] }),
    );
    const me = await c.login("admin@example.com", "pw");
    assert.equal(me.email, "admin@example.com");
    assert.deepEqual(calls[0].body, { email: "admin@example.com", password: "pw", device: "Basalt admin console" });
    assert.equal(calls[0].headers.Authorization, undefined);
    assert.equal(calls[1].headers.Authorization, "Bearer access-1");
    await c.get("/v1/collections", { query: { limit: 5, cursor: undefined, filter: "" } });
    assert.equal(calls[2].url, "/v1/collections?limit=5");
    assert.equal(calls[2].headers.Authorization, "Bearer access-1");
  });

  test("turns away an account without the admin role, ending its session", async () => {
    const c = new Client(() => assert.fail("signed out"));
    answers.push(
      () => json(200, tokens(1)),
      () => json(200, { ...admin, roles: ["editor"] }),
      () => json(204),
    );
    await assert.rejects(c.login("u@example.com", "pw"), (e: unknown) => e instanceof Problem && e.status === 403);
    assert.equal(calls[2].method, "POST");
    assert.equal(calls[2].url, "/v1/auth/logout");
    assert.equal(calls[2].headers.Authorization, "Bearer access-1");
    assert.equal(c.accessToken, null);
  });

  test("refreshes before the access token expires", async () => {
    const c = new Client(() => assert.fail("signed out"));
    answers.push(
      () => json(200, tokens(1, 100)),
      () => json(200, admin),
    );
    await c.login("admin@example.com", "pw");
    answers.push(() => json(200, tokens(2, 100)));
    mock.timers.tick(79_000);
    assert.equal(calls.length, 2, "refreshed too early");
    mock.timers.tick(1_000);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls[2].url, "/v1/auth/refresh");
    assert.deepEqual(calls[2].body, { refreshToken: "refresh-1" });
    await new Promise((r) => setImmediate(r));
    assert.equal(c.accessToken, "access-2");
  });

  test("refreshes once on a 401 and retries; a refused refresh signs out", async () => {
    let signedOut = "";
    const c = new Client((why) => (signedOut = why));
    answers.push(
      () => json(200, tokens(1)),
      () => json(200, admin),
    );
    await c.login("admin@example.com", "pw");
    answers.push(
      () => json(401, { code: "unauthenticated", title: "Unauthenticated" }),
      () => json(200, tokens(2)),
      (call) => json(200, { token: call.headers.Authorization }),
    );
    const a = await c.get<{ token: string }>("/v1/auth/me");
    assert.equal(a.body.token, "Bearer access-2");

    answers.push(
      () => json(401, { code: "unauthenticated", title: "Unauthenticated" }),
      () => json(401, { code: "unauthenticated", title: "Unauthenticated", detail: "the session was revoked" }),
    );
    await assert.rejects(c.get("/v1/auth/me"), (e: unknown) => e instanceof Problem && e.status === 401);
    assert.match(signedOut, /session ended/);
    assert.equal(c.accessToken, null);
  });

  test("keeps the session when the refresh cannot reach the server", async () => {
    const c = new Client(() => assert.fail("signed out"));
    answers.push(
      () => json(200, tokens(1)),
      () => json(200, admin),
    );
    await c.login("admin@example.com", "pw");
    answers.push(() => json(503, { code: "unavailable", title: "Unavailable" }));
    assert.equal(await c.refresh(), false);
    assert.equal(c.accessToken, "access-1");
  });

  test("one refresh at a time", async () => {
    const c = new Client(() => assert.fail("signed out"));
    answers.push(
      () => json(200, tokens(1)),
      () => json(200, admin),
    );
    await c.login("admin@example.com", "pw");
    answers.push(() => json(200, tokens(2)));
    const [a, b] = await Promise.all([c.refresh(), c.refresh()]);
    assert.ok(a && b);
    assert.equal(calls.filter((x) => x.url === "/v1/auth/refresh").length, 1);
  });
});

describe("Problem", () => {
  test("a schema's missing properties point at each property", () => {
    const p = new Problem(400, "validation", "Invalid", "", [
      { pointer: "/data", message: "missing properties 'title', 'a/b~c'" },
      { pointer: "/data/score", message: "got string, want integer" },
    ]);
    assert.deepEqual(
      p.errors.map((e) => e.pointer + " " + e.message),
      ["/data/title is required", "/data/a~1b~0c is required", "/data/score got string, want integer"],
    );
    assert.deepEqual(p.at("/data/title"), ["is required"]);
    assert.deepEqual(p.at("/data"), ["title: is required", "a~1b~0c: is required", "score: got string, want integer"]);
  });
});
