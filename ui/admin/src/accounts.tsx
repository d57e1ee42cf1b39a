// Accounts: the list, one account (roles, disabled) and its sessions.
import { useState } from "preact/hooks";
import { Account, Page, Problem, Session } from "./api";
import {
  Confirm,
  Dialog,
  ErrorBox,
  HiddenHeader,
  Pager,
  Time,
  href,
  navigate,
  splitList,
  useClient,
  useCursors,
  useLoad,
  TextField,
} from "./ui";

export function AccountsPage() {
  const client = useClient();
  const pages = useCursors();
  const [search, setSearch] = useState("");
  const [email, setEmail] = useState("");
  const list = useLoad(
    async (signal) =>
      (await client.get<Page<Account>>("/v1/admin/accounts", { signal, query: { limit: 50, cursor: pages.cursor, email } })).body,
    [pages.cursor, email],
  );
  const shown = list.value?.items ?? [];
  const [adding, setAdding] = useState<"account" | "invite" | null>(null);
  const [invited, setInvited] = useState<string | null>(null);
  return (
    <section>
      <div class="title-row">
        <h1>Accounts</h1>
        <div class="buttons">
          <button type="button" onClick={() => setAdding("invite")}>
            Invite
          </button>
          <button type="button" class="primary" onClick={() => setAdding("account")}>
            New account
          </button>
        </div>
      </div>
      <form
        class="query"
        role="search"
        aria-label="Search accounts"
        onSubmit={(e) => {
          e.preventDefault();
          setEmail(search.trim());
          pages.reset();
        }}
      >
        <label class="grow">
          Email address contains
          <input
            name="search"
            type="search"
            value={search}
            spellcheck={false}
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      <ErrorBox error={list.error} />
      {list.value && (
        <>
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Accounts</caption>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Roles</th>
                  <th scope="col">Verified</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((a) => (
                  <tr key={a.id}>
                    <th scope="row">
                      <a href={href("accounts", a.id)}>{a.email}</a>
                    </th>
                    <td>{a.roles.join(", ") || <span class="muted">none</span>}</td>
                    <td>{a.verified ? "yes" : "no"}</td>
                    <td>{a.disabled ? <span class="badge bad">disabled</span> : <span class="badge good">active</span>}</td>
                    <td>
                      <Time at={a.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {shown.length === 0 && (
            <p class="empty">{email ? "No account's address contains " + JSON.stringify(email) + "." : "No account."}</p>
          )}
          <Pager pages={pages} nextCursor={list.value.nextCursor} />
        </>
      )}
      {invited && (
        <p class="ok" role="status">
          {invited}
        </p>
      )}
      {adding && (
        <NewAccount
          invite={adding === "invite"}
          onClose={() => setAdding(null)}
          onDone={(a, email) => {
            setAdding(null);
            if (a) navigate("accounts", a.id);
            else setInvited(`An invitation is on its way to ${email}.`);
          }}
        />
      )}
    </section>
  );
}

/** The dialog that creates an account (with a password) or invites someone to sign up. */
function NewAccount(props: { invite: boolean; onClose: () => void; onDone: (a: Account | null, email: string) => void }) {
  const client = useClient();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [roles, setRoles] = useState("");
  const [verified, setVerified] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const at = (p: string) => (error instanceof Problem ? error.at(p) : []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (props.invite) {
        await client.request("POST", "/v1/admin/invites", { body: { email: email.trim(), roles: splitList(roles) } });
        props.onDone(null, email.trim());
      } else {
        const a = await client.request<Account>("POST", "/v1/admin/accounts", {
          body: { email: email.trim(), password, roles: splitList(roles), verified },
        });
        props.onDone(a.body, email.trim());
      }
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog title={props.invite ? "Invite someone" : "New account"} onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <div class="dialog-body">
          {props.invite && <p class="help">Basalt mails a one-time invitation, with which they sign up with these roles.</p>}
          <TextField
            label="Email"
            name="new-email"
            type="email"
            required
            value={email}
            onInput={setEmail}
            errors={at("/email")}
          />
          {!props.invite && (
            <>
              <TextField
                label="Password"
                name="new-password"
                type="password"
                autoComplete="new-password"
                required
                value={password}
                onInput={setPassword}
                errors={at("/password")}
              />
            </>
          )}
          <TextField label="Roles (comma-separated)" name="new-roles" value={roles} onInput={setRoles} errors={at("/roles")} />
          {!props.invite && (
            <label class="check">
              <input
                type="checkbox"
                name="new-verified"
                checked={verified}
                onChange={(e) => setVerified(e.currentTarget.checked)}
              />
              The address is verified
            </label>
          )}
          <ErrorBox error={error} />
        </div>
        <footer class="dialog-foot">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {props.invite ? "Send invitation" : "Create account"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

export function AccountPage({ id, me }: { id: string; me: Account }) {
  const client = useClient();
  const acct = useLoad(
    async (signal) => (await client.get<Account>(`/v1/admin/accounts/${encodeURIComponent(id)}`, { signal })).body,
    [id],
  );
  const sessions = useLoad(
    async (signal) =>
      (await client.get<{ items: Session[] }>(`/v1/admin/accounts/${encodeURIComponent(id)}/sessions`, { signal })).body.items,
    [id],
  );
  const [roles, setRoles] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<Session | null>(null);
  const [disabling, setDisabling] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const a = acct.value;
  if (acct.error) return <ErrorBox error={acct.error} />;
  if (!a) return <p class="muted">Loading…</p>;
  const self = a.id === me.id;
  const patch = async (body: { roles?: string[]; disabled?: boolean; verified?: boolean }, what: string) => {
    setError(null);
    setSaved(null);
    try {
      await client.request("PATCH", `/v1/admin/accounts/${encodeURIComponent(a.id)}`, { body });
      setSaved(what);
      setRoles(null);
      acct.reload();
      sessions.reload();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section>
      <p>
        <a href={href("accounts")}>Accounts</a> /
      </p>
      <h1>{a.email}</h1>
      <dl class="facts">
        <dt>ID</dt>
        <dd>
          <code>{a.id}</code>
        </dd>
        <dt>Verified</dt>
        <dd>{a.verified ? <Time at={a.verifiedAt} /> : "no"}</dd>
        <dt>Status</dt>
        <dd>{a.disabled ? <span class="badge bad">disabled</span> : <span class="badge good">active</span>}</dd>
        <dt>Created</dt>
        <dd>
          <Time at={a.createdAt} />
        </dd>
      </dl>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void patch({ roles: splitList(roles ?? a.roles.join(", ")) }, "Roles saved.");
        }}
      >
        <label class="grow">
          Roles (comma-separated)
          <input
            name="roles"
            value={roles ?? a.roles.join(", ")}
            spellcheck={false}
            onInput={(e) => setRoles(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary">
          Save roles
        </button>
      </form>
      <div class="buttons">
        {a.verified ? (
          <button type="button" onClick={() => void patch({ verified: false }, "The address is marked not verified.")}>
            Mark not verified
          </button>
        ) : (
          <button type="button" onClick={() => void patch({ verified: true }, "The address is marked verified.")}>
            Mark verified
          </button>
        )}
        {a.disabled ? (
          <button type="button" onClick={() => void patch({ disabled: false }, "The account is enabled.")}>
            Enable account
          </button>
        ) : (
          <button
            type="button"
            class="danger"
            disabled={self}
            title={self ? "You cannot disable your own account" : undefined}
            onClick={() => setDisabling(true)}
          >
            Disable account
          </button>
        )}
        <button
          type="button"
          class="danger"
          disabled={self}
          title={self ? "You cannot delete your own account here" : undefined}
          onClick={() => setDeleting(true)}
        >
          Delete account
        </button>
      </div>
      <ErrorBox error={error} />
      {saved && (
        <p class="ok" role="status">
          {saved}
        </p>
      )}
      <h2>Sessions</h2>
      <ErrorBox error={sessions.error} />
      {sessions.value && <SessionTable sessions={sessions.value} onRevoke={setRevoking} />}
      {revoking && (
        <Confirm
          title="Revoke the session"
          message={
            <>
              End the session of <strong>{revoking.device || revoking.userAgent || "an unnamed device"}</strong>? Its tokens stop
              working within a second.
            </>
          }
          action="Revoke session"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await client.request("DELETE", `/v1/admin/sessions/${encodeURIComponent(revoking.id)}`);
            sessions.reload();
          }}
        />
      )}
      {deleting && (
        <Confirm
          title={`Delete ${a.email}`}
          message="This deletes the account and ends its sessions. It cannot be undone."
          action="Delete account"
          expect={a.email}
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await client.request("DELETE", `/v1/admin/accounts/${encodeURIComponent(a.id)}`);
            navigate("accounts");
          }}
        />
      )}
      {disabling && (
        <Confirm
          title={`Disable ${a.email}`}
          message="A disabled account cannot sign in, and every one of its sessions ends now."
          action="Disable account"
          onClose={() => setDisabling(false)}
          onConfirm={() => patch({ disabled: true }, "The account is disabled.")}
        />
      )}
    </section>
  );
}

function SessionTable({ sessions, onRevoke }: { sessions: Session[]; onRevoke: (s: Session) => void }) {
  if (sessions.length === 0) return <p class="empty">No session.</p>;
  return (
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">Sessions</caption>
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">IP</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">State</th>
            <HiddenHeader label="Actions" />
          </tr>
        </thead>
        <tbody>
          {sessions.map((s) => (
            <tr key={s.id}>
              <th scope="row" title={s.userAgent}>
                {s.device || s.userAgent || <span class="muted">unnamed</span>}
              </th>
              <td>{s.ip}</td>
              <td>
                <Time at={s.createdAt} />
              </td>
              <td>
                <Time at={s.lastUsedAt} />
              </td>
              <td>
                {s.revokedAt ? <span class="badge">ended ({s.revokeReason})</span> : <span class="badge good">active</span>}
              </td>
              <td class="actions">
                {!s.revokedAt && (
                  <button type="button" class="danger small" onClick={() => onRevoke(s)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
