// Operations: readiness (/readyz), the event consumers and their lag, and
// the dead letters, with retry.
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Sample, labelValues, parseMetrics, sum } from "./metrics";
import { Page, Problem } from "./api";
import { Confirm, ErrorBox, Time, useClient, useLoad, HiddenHeader } from "./ui";

interface Readiness {
  status: string;
  checks?: Record<string, string>;
}

interface Consumers {
  items: { name: string; position: number | null; lag: number; deadLetters: number }[];
  log: { events: number; bytes: number; newest: number; trimmed: number };
}

interface DeadLetter {
  id: number;
  consumer: string;
  event: { type: string; collection: string; documentId?: string; version?: number };
  error: string;
  attempts: number;
  retry: boolean;
  createdAt: string;
  updatedAt: string;
}

export function StatusPage() {
  const client = useClient();
  const ready = useLoad(async (signal) => {
    // /readyz answers 503 with the same body when a check fails.
    const res = await fetch("/readyz", { signal, cache: "no-store", credentials: "omit" });
    return (await res.json()) as Readiness;
  }, []);
  const consumers = useLoad(async (signal) => (await client.get<Consumers>("/v1/admin/consumers", { signal })).body, []);
  const dead = useLoad(
    async (signal) => (await client.get<Page<DeadLetter>>("/v1/admin/dead-letters", { signal, query: { limit: 50 } })).body,
    [],
  );
  const [retrying, setRetrying] = useState<DeadLetter | null>(null);
  const [discarding, setDiscarding] = useState<DeadLetter | null>(null);
  const [error, setError] = useState<unknown>(null);
  const reload = () => {
    ready.reload();
    consumers.reload();
    dead.reload();
  };
  return (
    <section>
      <div class="title-row">
        <h1>Status</h1>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <h2>Readiness</h2>
      <ErrorBox error={ready.error} />
      {ready.value && (
        <dl class="facts">
          <dt>Status</dt>
          <dd>
            <span class={"badge " + (ready.value.status === "ready" ? "good" : "bad")}>{ready.value.status}</span>
          </dd>
          {Object.entries(ready.value.checks ?? {}).map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd>
                <span class={"badge " + (v === "ok" ? "good" : "bad")}>{v}</span>
              </dd>
            </Fragment>
          ))}
        </dl>
      )}
      <Metrics />
      <h2>Event consumers</h2>
      {consumers.error instanceof Problem && consumers.error.status === 404 ? (
        <p class="muted">This process does not serve the event log.</p>
      ) : (
        <ErrorBox error={consumers.error} />
      )}
      {consumers.value && (
        <>
          <p class="muted">
            Event log: {consumers.value.log.events} events kept, newest position {consumers.value.log.newest},{" "}
            {consumers.value.log.trimmed} trimmed.
          </p>
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Event consumers</caption>
              <thead>
                <tr>
                  <th scope="col">Consumer</th>
                  <th scope="col">Position</th>
                  <th scope="col">Lag (events)</th>
                  <th scope="col">Dead letters</th>
                </tr>
              </thead>
              <tbody>
                {consumers.value.items.map((c) => (
                  <tr key={c.name}>
                    <th scope="row">{c.name}</th>
                    <td>{c.position ?? "—"}</td>
                    <td>{c.lag}</td>
                    <td>{c.deadLetters}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <h2>Dead letters</h2>
      <ErrorBox error={dead.error} />
      <ErrorBox error={error} />
      {dead.value && dead.value.items.length === 0 && <p class="empty">No dead letter: every event was handled.</p>}
      {dead.value && dead.value.items.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Dead letters</caption>
            <thead>
              <tr>
                <th scope="col">ID</th>
                <th scope="col">Consumer</th>
                <th scope="col">Event</th>
                <th scope="col">Error</th>
                <th scope="col">Attempts</th>
                <th scope="col">Since</th>
                <HiddenHeader label="Actions" />
              </tr>
            </thead>
            <tbody>
              {dead.value.items.map((d) => (
                <tr key={d.id}>
                  <th scope="row">{d.id}</th>
                  <td>{d.consumer}</td>
                  <td>
                    {d.event.type} {d.event.collection}/{d.event.documentId ?? ""}
                  </td>
                  <td>{d.error}</td>
                  <td>{d.attempts}</td>
                  <td>
                    <Time at={d.createdAt} />
                  </td>
                  <td class="actions">
                    <button type="button" class="small" disabled={d.retry} onClick={() => setRetrying(d)}>
                      {d.retry ? "Retry queued" : "Retry"}
                    </button>{" "}
                    <button
                      type="button"
                      class="small danger"
                      aria-label={`Discard dead letter ${d.id}`}
                      onClick={() => setDiscarding(d)}
                    >
                      Discard
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {discarding && (
        <Confirm
          title={`Discard dead letter ${discarding.id}`}
          message={`${discarding.consumer} will never handle this ${discarding.event.type} event. Discard it?`}
          action="Discard"
          onClose={() => setDiscarding(null)}
          onConfirm={async () => {
            await client.request("DELETE", `/v1/admin/dead-letters/${discarding.id}`);
            dead.reload();
          }}
        />
      )}
      {retrying && (
        <Confirm
          title={`Retry dead letter ${retrying.id}`}
          message={`Hand the event back to ${retrying.consumer}?`}
          action="Retry"
          onClose={() => setRetrying(null)}
          onConfirm={async () => {
            setError(null);
            await client.request("POST", `/v1/admin/dead-letters/${retrying.id}/retry`, { body: {} });
            dead.reload();
          }}
        />
      )}
    </section>
  );
}

/** How often the metrics are read while the page is open. */
const metricsEvery = 5000;

interface Reading {
  at: number;
  samples: Sample[];
}

/**
 * The server's metrics, read from /metrics with its metrics token (which
 * the admin types here and the page keeps in memory only), every few
 * seconds while the page is open; rates are over the last interval.
 */
function Metrics() {
  const [token, setToken] = useState("");
  const [using, setUsing] = useState<string | null>(null);
  const [readings, setReadings] = useState<Reading[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!using) return;
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const res = await fetch("/metrics", {
          headers: { Authorization: `Bearer ${using}` },
          signal: ctl.signal,
          cache: "no-store",
          credentials: "omit",
        });
        if (res.status === 401) {
          setError("The metrics token was refused.");
          setUsing(null);
          return;
        }
        if (res.status === 404) {
          setError(
            "This server does not serve /metrics on this address: it has no --metrics-token, or serves them on --metrics-addr.",
          );
          setUsing(null);
          return;
        }
        if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
        const samples = parseMetrics(await res.text());
        setError(null);
        setReadings((r) => [...r.slice(-1), { at: performance.now(), samples }]);
      } catch (e) {
        if (ctl.signal.aborted) return;
        setError(String(e instanceof Error ? e.message : e));
      }
      timer = setTimeout(() => void read(), metricsEvery);
    };
    void read();
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, [using]);

  const now = readings[readings.length - 1];
  const before = readings.length > 1 ? readings[0] : null;
  return (
    <>
      <h2>Metrics</h2>
      {!using && (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            setReadings([]);
            setUsing(token.trim());
          }}
        >
          <label class="grow">
            Metrics token (--metrics-token; kept in this page only)
            <input
              name="metrics-token"
              type="password"
              autoComplete="off"
              value={token}
              onInput={(e) => setToken(e.currentTarget.value)}
            />
          </label>
          <button type="submit" class="primary" disabled={token.trim() === ""}>
            Read metrics
          </button>
        </form>
      )}
      {error && (
        <p class="notice" role="status">
          {error}
        </p>
      )}
      {now && <MetricsView now={now} before={before} />}
    </>
  );
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString(undefined, { maximumFractionDigits: digits }) : "—";
}

function MetricsView({ now, before }: { now: Reading; before: Reading | null }) {
  const s = now.samples;
  const secs = before ? (now.at - before.at) / 1000 : 0;
  const delta = (name: string, match: Parameters<typeof sum>[2]) =>
    before ? sum(s, name, match) - sum(before.samples, name, match) : NaN;
  const build = s.find((x) => x.name === "basalt_build_info")?.labels ?? {};
  const classes = labelValues(s, "basalt_http_requests_total", "class");
  const deps = s.filter((x) => x.name === "basalt_dependency_up");
  const poolMax = sum(s, "basalt_db_pool_max_conns");
  return (
    <>
      <dl class="facts">
        <dt>Version</dt>
        <dd>
          {build.version || "—"}{" "}
          <span class="muted small">
            {build.commit ? build.commit.slice(0, 12) : ""} {build.go_version ?? ""}
          </span>
        </dd>
        <dt>Requests in flight</dt>
        <dd>{fmt(sum(s, "basalt_http_requests_in_flight"))}</dd>
        {deps.map((d) => (
          <Fragment key={d.labels.dependency}>
            <dt>{d.labels.dependency}</dt>
            <dd>
              <span class={"badge " + (d.value === 1 ? "good" : "bad")}>{d.value === 1 ? "up" : "down"}</span>
            </dd>
          </Fragment>
        ))}
        {Number.isFinite(poolMax) && (
          <>
            <dt>Database pool</dt>
            <dd>
              {fmt(sum(s, "basalt_db_pool_acquired_conns"))} of {fmt(poolMax)} connections in use
            </dd>
          </>
        )}
        <dt>Revocation feed age</dt>
        <dd>{fmt(sum(s, "basalt_revocation_feed_age_seconds"), 2)} s</dd>
        <dt>Event relay lag</dt>
        <dd>{fmt(sum(s, "basalt_outbox_relay_lag_events"))} events</dd>
      </dl>
      <div class="table-wrap">
        <table class="metrics">
          <caption class="visually-hidden">Requests by class</caption>
          <thead>
            <tr>
              <th scope="col">Class</th>
              <th scope="col">Requests</th>
              <th scope="col">5xx</th>
              <th scope="col">Per second</th>
              <th scope="col">Mean latency</th>
            </tr>
          </thead>
          <tbody>
            {classes.map((c) => {
              const count = delta("basalt_http_request_duration_seconds_count", { class: c });
              const time = delta("basalt_http_request_duration_seconds_sum", { class: c });
              return (
                <tr key={c}>
                  <th scope="row">{c}</th>
                  <td>{fmt(sum(s, "basalt_http_requests_total", { class: c }))}</td>
                  <td>{fmt(sum(s, "basalt_http_requests_total", { class: c, code: (v) => v.startsWith("5") }) || 0)}</td>
                  <td>{secs > 0 ? fmt(delta("basalt_http_requests_total", { class: c }) / secs, 1) : "…"}</td>
                  <td>{count > 0 ? fmt((time / count) * 1000, 1) + " ms" : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p class="muted small">
        Totals since the process started; rates and latencies over the last{" "}
        {secs > 0 ? fmt(secs, 0) + " s" : "interval (after the second reading)"}.
      </p>
    </>
  );
}
