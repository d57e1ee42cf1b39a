// Webhooks: the endpoints that receive a collection's change events, their
// secrets (shown once), and their deliveries, which can be sent again.
import { useState } from "preact/hooks";
import { Collection, Page, Problem } from "./api";
import {
  Checks,
  Confirm,
  Dialog,
  ErrorBox,
  FieldErrors,
  HiddenHeader,
  Pager,
  Time,
  href,
  navigate,
  useClient,
  useCursors,
  useLoad,
  ShownOnce,
  TextField,
} from "./ui";

interface Webhook {
  id: string;
  url: string;
  collection: string;
  types: string[];
  enabled: boolean;
  description: string;
  createdAt: string;
  updatedAt: string;
  previousSecretExpiresAt: string | null;
  secret?: string;
}

interface Delivery {
  id: string;
  event: { type: string; collection: string; documentId?: string; version?: number };
  status: "pending" | "succeeded" | "failed";
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The event types a webhook may choose (docs/events.md#the-envelope). */
const eventTypes = [
  "document.created",
  "document.replaced",
  "document.patched",
  "document.deleted",
  "collection.created",
  "collection.replaced",
  "collection.deleted",
];

const hookPath = (id: string, ...rest: string[]) =>
  ["/v1/admin/webhooks", id, ...rest].map((p, i) => (i ? encodeURIComponent(p) : p)).join("/");

export function WebhooksPage({ collection }: { collection?: string }) {
  const client = useClient();
  const hooks = useLoad(
    async (signal) => (await client.get<{ items: Webhook[] }>("/v1/admin/webhooks", { signal })).body.items,
    [],
  );
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<Webhook | null>(null);
  const shown = (hooks.value ?? []).filter((h) => !collection || h.collection === collection || h.collection === "*");
  return (
    <section>
      <div class="title-row">
        <h1>{collection ? `Webhooks of ${collection}` : "Webhooks"}</h1>
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          New webhook
        </button>
      </div>
      <p class="help">
        Endpoints that receive change events as signed POST requests (Standard Webhooks), retried until they answer 2xx.
        {collection && (
          <>
            {" "}
            <a href={href("webhooks")}>All webhooks</a>
          </>
        )}
      </p>
      <ErrorBox error={hooks.error} />
      {hooks.value && shown.length === 0 && <p class="empty">No webhook{collection ? " for this collection" : ""} yet.</p>}
      {shown.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Webhooks</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Collection</th>
                <th scope="col">Events</th>
                <th scope="col">Description</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((h) => (
                <tr key={h.id}>
                  <th scope="row">
                    <a href={href("webhooks", h.id)}>{h.url}</a>
                  </th>
                  <td>{h.collection === "*" ? <span class="muted">every collection</span> : h.collection}</td>
                  <td>{h.types.length ? h.types.join(", ") : <span class="muted">every type</span>}</td>
                  <td>{h.description}</td>
                  <td>{h.enabled ? <span class="badge good">enabled</span> : <span class="badge bad">paused</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && (
        <NewWebhook
          collection={collection}
          onClose={() => setCreating(false)}
          onCreated={(h) => {
            setCreating(false);
            setSecret(h);
            hooks.reload();
          }}
        />
      )}
      {secret && <SecretShown hook={secret} onClose={() => setSecret(null)} />}
    </section>
  );
}

/** The secret of a new webhook, or of a rotation: shown this once. */
function SecretShown({ hook, onClose }: { hook: Webhook; onClose: () => void }) {
  return (
    <ShownOnce title="Copy the signing secret now" label="Signing secret" secret={hook.secret ?? ""} onClose={onClose}>
      The receiver at <code>{hook.url}</code> verifies each delivery with this secret. This is the only time it is shown.
    </ShownOnce>
  );
}

function TypeChecks({ types, onChange }: { types: string[]; onChange: (t: string[]) => void }) {
  return (
    <Checks legend="Events (none ticked: every type)" prefix="type" options={eventTypes} value={types} onChange={onChange} />
  );
}

function NewWebhook(props: { collection?: string; onClose: () => void; onCreated: (h: Webhook) => void }) {
  const client = useClient();
  const collections = useLoad(
    async (signal) => (await client.get<{ items: Collection[] }>("/v1/collections", { signal })).body.items,
    [],
  );
  const [url, setURL] = useState("");
  const [collection, setCollection] = useState(props.collection ?? "*");
  const [types, setTypes] = useState<string[]>([]);
  const [description, setDescription] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const at = (p: string) => (error instanceof Problem ? error.at(p) : []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const a = await client.request<Webhook>("POST", "/v1/admin/webhooks", {
        body: { url: url.trim(), collection, types, description },
      });
      props.onCreated(a.body);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog title="New webhook" onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <div class="dialog-body">
          <TextField
            label="Endpoint URL"
            name="url"
            type="url"
            required
            value={url}
            placeholder="https://example.com/hooks/basalt"
            onInput={setURL}
            errors={at("/url")}
          />
          <label>
            Collection
            <select name="collection" value={collection} onChange={(e) => setCollection(e.currentTarget.value)}>
              <option value="*">every collection</option>
              {(collections.value ?? []).map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
          <FieldErrors id="hook-collection-errors" messages={at("/collection")} />
          <TypeChecks types={types} onChange={setTypes} />
          <label>
            Description
            <input name="description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
          </label>
          <ErrorBox error={error} />
        </div>
        <footer class="dialog-foot">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Create webhook
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

export function WebhookPage({ id }: { id: string }) {
  const client = useClient();
  const hook = useLoad(async (signal) => (await client.get<Webhook>(hookPath(id), { signal })).body, [id]);
  const pages = useCursors();
  const deliveries = useLoad(
    async (signal) =>
      (await client.get<Page<Delivery>>(hookPath(id, "deliveries"), { signal, query: { limit: 20, cursor: pages.cursor } })).body,
    [id, pages.cursor],
  );
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const [secret, setSecret] = useState<Webhook | null>(null);
  const [confirm, setConfirm] = useState<"delete" | "rotate" | null>(null);
  const [redelivering, setRedelivering] = useState<Delivery | null>(null);
  const [types, setTypes] = useState<string[] | null>(null);
  const h = hook.value;
  if (hook.error) return <ErrorBox error={hook.error} />;
  if (!h) return <p class="muted">Loading…</p>;
  const patch = async (body: Partial<Webhook>, what: string) => {
    setError(null);
    setDone(null);
    try {
      await client.request("PATCH", hookPath(h.id), { body, contentType: "application/merge-patch+json" });
      setDone(what);
      setTypes(null);
      hook.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section>
      <p>
        <a href={href("webhooks")}>Webhooks</a> /
      </p>
      <div class="title-row">
        <h1 class="wrap">{h.url}</h1>
        <div class="buttons">
          <button
            type="button"
            onClick={() => void patch({ enabled: !h.enabled }, h.enabled ? "The webhook is paused." : "The webhook is enabled.")}
          >
            {h.enabled ? "Pause" : "Enable"}
          </button>
          <button type="button" onClick={() => setConfirm("rotate")}>
            Rotate secret
          </button>
          <button type="button" class="danger" onClick={() => setConfirm("delete")}>
            Delete webhook
          </button>
        </div>
      </div>
      <dl class="facts">
        <dt>Collection</dt>
        <dd>{h.collection === "*" ? "every collection" : h.collection}</dd>
        <dt>State</dt>
        <dd>{h.enabled ? <span class="badge good">enabled</span> : <span class="badge bad">paused</span>}</dd>
        <dt>Description</dt>
        <dd>{h.description || <span class="muted">none</span>}</dd>
        <dt>Previous secret</dt>
        <dd>
          {h.previousSecretExpiresAt ? (
            <>
              signs until <Time at={h.previousSecretExpiresAt} />
            </>
          ) : (
            <span class="muted">none</span>
          )}
        </dd>
      </dl>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void patch({ types: types ?? h.types }, "The event types are saved.");
        }}
      >
        <TypeChecks types={types ?? h.types} onChange={setTypes} />
        <button type="submit" disabled={types === null}>
          Save event types
        </button>
      </form>
      <ErrorBox error={error} />
      {done && (
        <p class="ok" role="status">
          {done}
        </p>
      )}
      <div class="title-row">
        <h2>Deliveries</h2>
        <button type="button" class="refresh-deliveries" onClick={deliveries.reload}>
          Refresh deliveries
        </button>
      </div>
      <ErrorBox error={deliveries.error} />
      {deliveries.value && deliveries.value.items.length === 0 && (
        <p class="empty">No delivery yet: events written from now on are sent.</p>
      )}
      {deliveries.value && deliveries.value.items.length > 0 && (
        <>
          <div class="table-wrap">
            <table class="deliveries">
              <caption class="visually-hidden">Deliveries</caption>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last answer</th>
                  <th scope="col">Next attempt</th>
                  <th scope="col">Created</th>
                  <HiddenHeader label="Actions" />
                </tr>
              </thead>
              <tbody>
                {deliveries.value.items.map((d) => (
                  <tr key={d.id}>
                    <th scope="row">
                      {d.event.type}{" "}
                      <span class="muted">{[d.event.collection, d.event.documentId].filter(Boolean).join("/")}</span>
                    </th>
                    <td>
                      <span class={"badge " + (d.status === "succeeded" ? "good" : d.status === "failed" ? "bad" : "")}>
                        {d.status}
                      </span>
                    </td>
                    <td>{d.attempts}</td>
                    <td>
                      {d.lastStatusCode ?? ""} {d.lastError && <span class="muted small">{d.lastError}</span>}
                    </td>
                    <td>
                      <Time at={d.nextAttemptAt} />
                    </td>
                    <td>
                      <Time at={d.createdAt} />
                    </td>
                    <td class="actions">
                      <button type="button" class="small" aria-label={`Redeliver ${d.id}`} onClick={() => setRedelivering(d)}>
                        Redeliver
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager pages={pages} nextCursor={deliveries.value.nextCursor} />
        </>
      )}
      {redelivering && (
        <Confirm
          title="Redeliver"
          message={`Send the ${redelivering.event.type} event to ${h.url} again now?`}
          action="Redeliver"
          onClose={() => setRedelivering(null)}
          onConfirm={async () => {
            await client.request("POST", hookPath(h.id, "deliveries", redelivering.id, "redeliver"), { body: {} });
            deliveries.reload();
          }}
        />
      )}
      {confirm === "delete" && (
        <Confirm
          title="Delete the webhook"
          message={`Stop sending events to ${h.url}, and delete its deliveries?`}
          action="Delete webhook"
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            await client.request("DELETE", hookPath(h.id));
            navigate("webhooks");
          }}
        />
      )}
      {confirm === "rotate" && (
        <Confirm
          title="Rotate the signing secret"
          message="A new secret signs every delivery from now on; the current one signs beside it for a day, while the receiver is updated."
          action="Rotate secret"
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            const a = await client.request<Webhook>("POST", hookPath(h.id, "rotate-secret"), { body: {} });
            setSecret({ ...a.body, url: h.url });
            hook.reload();
          }}
        />
      )}
      {secret && <SecretShown hook={secret} onClose={() => setSecret(null)} />}
    </section>
  );
}
