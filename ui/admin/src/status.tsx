// Operations: readiness (/readyz), the event consumers and their lag, and
// the dead letters, with retry.
import { useState } from "preact/hooks";
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
            <>
              <dt key={k + "-k"}>{k}</dt>
              <dd key={k + "-v"}>
                <span class={"badge " + (v === "ok" ? "good" : "bad")}>{v}</span>
              </dd>
            </>
          ))}
        </dl>
      )}
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
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
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
