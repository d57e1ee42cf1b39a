// The admin console: sign-in, then the pages of the signed-in admin.
import "./style.css";
import { render } from "preact";
import { useMemo, useState } from "preact/hooks";
import { Account, Client } from "./api";
import { ClientContext, ErrorBox, href, useRoute } from "./ui";
import { CollectionEditor, CollectionList } from "./collections";
import { DocumentsPage } from "./documents";
import { AccountPage, AccountsPage } from "./accounts";
import { APIKeysPage, SigningKeysPage } from "./keys";
import { StatusPage } from "./status";
import { WebhookPage, WebhooksPage } from "./webhooks";

function App() {
  const [me, setMe] = useState<Account | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const client = useMemo(
    () =>
      new Client((why) => {
        setMe(null);
        setNotice(why);
      }),
    [],
  );
  if (!me) {
    return (
      <Login
        client={client}
        notice={notice}
        onSignedIn={(a) => {
          setNotice(null);
          setMe(a);
        }}
      />
    );
  }
  return (
    <ClientContext.Provider value={client}>
      <Shell
        me={me}
        onSignOut={async () => {
          try {
            await client.logout();
          } finally {
            setMe(null);
            setNotice("You are signed out.");
          }
        }}
      />
    </ClientContext.Provider>
  );
}

function Login(props: { client: Client; notice: string | null; onSignedIn: (a: Account) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(await props.client.login(email.trim(), password));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">
          <img src="favicon.svg" alt="" width={28} height={28} /> Basalt admin console
        </h1>
        {props.notice && (
          <p class="notice" role="status">
            {props.notice}
          </p>
        )}
        <label>
          Email
          <input
            name="email"
            type="email"
            autoComplete="username"
            required
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
        <p class="muted small">Admins only. The session lives in this tab: reloading the page signs you out.</p>
      </form>
    </main>
  );
}

const sections = [
  { id: "collections", label: "Collections" },
  { id: "accounts", label: "Accounts" },
  { id: "api-keys", label: "API keys" },
  { id: "signing-keys", label: "Signing keys" },
  { id: "webhooks", label: "Webhooks" },
  { id: "status", label: "Status" },
];

function Shell(props: { me: Account; onSignOut: () => void }) {
  const route = useRoute();
  const section = route[0] === "new-collection" ? "collections" : (route[0] ?? "collections");
  return (
    <>
      <header class="top">
        <a class="brand" href={href("collections")}>
          <img src="favicon.svg" alt="" width={22} height={22} /> Basalt
        </a>
        <nav aria-label="Sections">
          {sections.map((s) => (
            <a key={s.id} href={href(s.id)} aria-current={section === s.id ? "page" : undefined}>
              {s.label}
            </a>
          ))}
        </nav>
        <div class="who">
          <span class="muted" title="Signed in as">
            {props.me.email}
          </span>
          <button type="button" onClick={props.onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main class="page">
        <Page route={route} me={props.me} />
      </main>
    </>
  );
}

function Page({ route, me }: { route: string[]; me: Account }) {
  const [section, a, b] = route;
  switch (section) {
    case "new-collection":
      return <CollectionEditor key="new" />;
    case undefined:
    case "collections":
      if (a === undefined) return <CollectionList />;
      if (b === "settings") return <CollectionEditor key={a} name={a} />;
      return <DocumentsPage key={a} collection={a} />;
    case "accounts":
      return a === undefined ? <AccountsPage /> : <AccountPage key={a} id={a} me={me} />;
    case "api-keys":
      return <APIKeysPage />;
    case "signing-keys":
      return <SigningKeysPage />;
    case "webhooks":
      if (a === "collection" && b) return <WebhooksPage key={b} collection={b} />;
      return a === undefined ? <WebhooksPage /> : <WebhookPage key={a} id={a} />;
    case "status":
      return <StatusPage />;
  }
  return (
    <section>
      <h1>Not found</h1>
      <p>
        The console has no page <code>{location.hash}</code>. <a href={href("collections")}>Go to the collections</a>.
      </p>
    </section>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
