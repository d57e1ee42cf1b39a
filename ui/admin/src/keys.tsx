// API keys (created with scopes, the secret shown once; revoked) and the
// signing keys of access tokens (rotated).
import { useState } from "preact/hooks";
import { APIKey, Collection, Problem, SigningKey } from "./api";
import { Checks, Confirm, Dialog, ErrorBox, Time, splitList, useClient, useLoad, HiddenHeader, ShownOnce, TextField } from "./ui";

/** The management scopes (docs/auth.md#scopes), offered as ticks. */
const managementScopes = [
  "collections:view",
  "collections:manage",
  "admin:accounts",
  "admin:sessions",
  "admin:api-keys",
  "admin:signing-keys",
  "admin:events",
  "admin:webhooks",
];

export function APIKeysPage() {
  const client = useClient();
  const keys = useLoad(
    async (signal) => (await client.get<{ items: APIKey[] }>("/v1/admin/api-keys", { signal })).body.items,
    [],
  );
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<APIKey | null>(null);
  const [revoking, setRevoking] = useState<APIKey | null>(null);
  return (
    <section>
      <div class="title-row">
        <h1>API keys</h1>
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          New API key
        </button>
      </div>
      <p class="help">
        Keys for servers and scripts: send one as <code>Authorization: Bearer bsk_…</code>. Its scopes bound what it may do,
        whatever its roles.
      </p>
      <ErrorBox error={keys.error} />
      {keys.value && keys.value.length === 0 && <p class="empty">No API key yet.</p>}
      {keys.value && keys.value.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Scopes</th>
                <th scope="col">Roles</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
                <HiddenHeader label="Actions" />
              </tr>
            </thead>
            <tbody>
              {keys.value.map((k) => (
                <tr key={k.id}>
                  <th scope="row">{k.name}</th>
                  <td>
                    <code>{k.prefix}</code>
                  </td>
                  <td>{k.scopes.join(", ")}</td>
                  <td>{k.roles.join(", ") || <span class="muted">none</span>}</td>
                  <td>
                    <Time at={k.lastUsedAt} />
                  </td>
                  <td>
                    <Time at={k.expiresAt} />
                  </td>
                  <td>{k.revokedAt ? <span class="badge bad">revoked</span> : <span class="badge good">active</span>}</td>
                  <td class="actions">
                    {!k.revokedAt && (
                      <button type="button" class="danger small" aria-label={`Revoke ${k.name}`} onClick={() => setRevoking(k)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && (
        <NewKey
          onClose={() => setCreating(false)}
          onCreated={(k) => {
            setCreating(false);
            setCreated(k);
            keys.reload();
          }}
        />
      )}
      {created && (
        <ShownOnce title="Copy the new key now" label="API key" secret={created.key ?? ""} onClose={() => setCreated(null)}>
          This is the only time the key <strong>{created.name}</strong> is shown. Basalt keeps only its hash.
        </ShownOnce>
      )}
      {revoking && (
        <Confirm
          title={`Revoke ${revoking.name}`}
          message={
            <>
              Requests with the key <code>{revoking.prefix}…</code> are refused from now on. It cannot be undone.
            </>
          }
          action="Revoke key"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await client.request("DELETE", `/v1/admin/api-keys/${encodeURIComponent(revoking.id)}`);
            keys.reload();
          }}
        />
      )}
    </section>
  );
}

function NewKey(props: { onClose: () => void; onCreated: (k: APIKey) => void }) {
  const client = useClient();
  const collections = useLoad(
    async (signal) => (await client.get<{ items: Collection[] }>("/v1/collections", { signal })).body.items,
    [],
  );
  const [name, setName] = useState("");
  const [docScopes, setDocScopes] = useState("");
  const [mgmt, setMgmt] = useState<string[]>([]);
  const [roles, setRoles] = useState("");
  const [expires, setExpires] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const problem = error instanceof Problem ? error : null;
  const at = (p: string) => problem?.at(p) ?? [];
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = {
      name: name.trim(),
      scopes: [...splitList(docScopes), ...mgmt],
      roles: splitList(roles),
    };
    if (expires) body.expiresAt = new Date(expires).toISOString();
    try {
      props.onCreated((await client.request<APIKey>("POST", "/v1/admin/api-keys", { body })).body);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const names = (collections.value ?? []).map((c) => c.name);
  return (
    <Dialog title="New API key" onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <div class="dialog-body">
          <TextField label="Name" name="name" required value={name} onInput={setName} errors={at("/name")} />
          <TextField
            label="Document scopes (comma-separated)"
            name="scopes"
            class="code"
            value={docScopes}
            placeholder={names[0] ? `${names[0]}:read, ${names[0]}:create` : "posts:read, *:write"}
            help="key-scopes-help"
            onInput={setDocScopes}
            errors={at("/scopes")}
          />
          <p class="help" id="key-scopes-help">
            <code>collection:action</code>, either side may be <code>*</code>; actions list, get, create, update, delete, read,
            write.
          </p>
          <Checks
            legend="Management scopes (with the admin role)"
            prefix="scope"
            options={managementScopes}
            value={mgmt}
            onChange={setMgmt}
          />
          <TextField label="Roles (comma-separated)" name="roles" value={roles} onInput={setRoles} errors={at("/roles")} />
          <TextField
            label={
              <>
                Expires <span class="muted">(optional)</span>
              </>
            }
            name="expires"
            type="datetime-local"
            value={expires}
            onInput={setExpires}
            errors={at("/expiresAt")}
          />
          <ErrorBox error={error} />
        </div>
        <footer class="dialog-foot">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Create key
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

export function SigningKeysPage() {
  const client = useClient();
  const keys = useLoad(
    async (signal) => (await client.get<{ items: SigningKey[] }>("/v1/admin/keys", { signal })).body.items,
    [],
  );
  const [rotating, setRotating] = useState(false);
  return (
    <section>
      <div class="title-row">
        <h1>Signing keys</h1>
        <button type="button" class="primary" onClick={() => setRotating(true)}>
          Rotate
        </button>
      </div>
      <p class="help">
        Access tokens are signed with the newest key. A superseded key still verifies the tokens it signed until its end
        (notAfter), so nobody is signed out by a rotation.
      </p>
      <ErrorBox error={keys.error} />
      {keys.value && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Signing keys</caption>
            <thead>
              <tr>
                <th scope="col">Key ID</th>
                <th scope="col">Created</th>
                <th scope="col">Verifies until</th>
              </tr>
            </thead>
            <tbody>
              {keys.value.map((k) => (
                <tr key={k.kid}>
                  <th scope="row">
                    <code>{k.kid}</code>
                  </th>
                  <td>
                    <Time at={k.createdAt} />
                  </td>
                  <td>{k.notAfter ? <Time at={k.notAfter} /> : <span class="badge good">current</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rotating && (
        <Confirm
          title="Rotate the signing keys"
          message="A new key signs every access token from now on; the current one keeps verifying the tokens it signed until they expire."
          action="Rotate"
          onClose={() => setRotating(false)}
          onConfirm={async () => {
            await client.request("POST", "/v1/admin/keys/rotate", { body: {} });
            keys.reload();
          }}
        />
      )}
    </section>
  );
}
