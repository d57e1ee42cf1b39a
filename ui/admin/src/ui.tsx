// Shared pieces of the console: routing by the URL's fragment, the error
// display, confirmation dialogs and small formatting helpers.
import type { ComponentChildren } from "preact";
import { createContext } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import { Client, Problem } from "./api";

/** The API client of the signed-in admin. */
export const ClientContext = createContext<Client | null>(null);

export function useClient(): Client {
  const c = useContext(ClientContext);
  if (!c) throw new Error("no client");
  return c;
}

/** The route: the fragment's path split into segments ("#/collections/posts" → ["collections", "posts"]). */
export function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter((s) => s !== "")
    .map((s) => decodeURIComponent(s));
}

/** The fragment link of a route. */
export function href(...segments: string[]): string {
  return "#/" + segments.map(encodeURIComponent).join("/");
}

export function navigate(...segments: string[]) {
  location.hash = href(...segments);
}

/** A problem, or any other error, as an alert. */
export function ErrorBox({ error, id }: { error: unknown; id?: string }) {
  if (!error) return null;
  if (error instanceof Problem) {
    const general = error.errors.length > 0 ? error.errors : [];
    return (
      <div class="error" role="alert" id={id}>
        <strong>{error.title || "Refused"}</strong>
        {error.status > 0 && (
          <span class="muted">
            {" "}
            ({error.status} {error.code})
          </span>
        )}
        {error.detail && <p>{error.detail}</p>}
        {general.length > 0 && (
          <ul>
            {general.map((e) => (
              <li key={e.pointer + e.message}>
                {e.pointer && <code>{e.pointer}</code>} {e.message}
              </li>
            ))}
          </ul>
        )}
      </div>
    );
  }
  return (
    <div class="error" role="alert" id={id}>
      {String(error instanceof Error ? error.message : error)}
    </div>
  );
}

/** The messages under a field, tied to it by id (aria-describedby). */
export function FieldErrors({ id, messages }: { id: string; messages: string[] }) {
  if (messages.length === 0) return null;
  return (
    <ul class="field-errors" id={id}>
      {messages.map((m) => (
        <li key={m}>{m}</li>
      ))}
    </ul>
  );
}

/** A modal dialog (the browser's <dialog>), open while it is rendered. */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    const onCancel = (e: Event) => {
      e.preventDefault();
      props.onClose();
    };
    d?.addEventListener("cancel", onCancel);
    return () => d?.removeEventListener("cancel", onCancel);
  }, []);
  const titleId = "dialog-title-" + props.title.replace(/\W+/g, "-").toLowerCase();
  return (
    <dialog ref={ref} class={props.wide ? "wide" : ""} aria-labelledby={titleId}>
      <header class="dialog-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </header>
      {props.children}
    </dialog>
  );
}

/**
 * Asks to confirm a destructive action. With expect set, the user must
 * type it (a collection's name) before the action is enabled.
 */
export function Confirm(props: {
  title: string;
  message: ComponentChildren;
  action: string;
  expect?: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ok = props.expect === undefined || typed === props.expect;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!ok) return;
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      props.onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <form onSubmit={submit}>
        <div class="dialog-body">
          <p>{props.message}</p>
          {props.expect !== undefined && (
            <label>
              Type <strong>{props.expect}</strong> to confirm
              <input
                name="confirm"
                value={typed}
                autoComplete="off"
                spellcheck={false}
                onInput={(e) => setTyped(e.currentTarget.value)}
              />
            </label>
          )}
          <ErrorBox error={error} />
        </div>
        <footer class="dialog-foot">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={!ok || busy}>
            {props.action}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

/** A timestamp shown in the viewer's locale, the exact value in its title. */
export function Time({ at }: { at: string | null | undefined }) {
  if (!at) return <span class="muted">—</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={at}>
      {d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}
    </time>
  );
}

/** Loads something when deps change; returns it, the error, and a reload. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ value?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(ctl.signal).then(
      (value) => !ctl.signal.aborted && setState({ value, loading: false }),
      (error) => !ctl.signal.aborted && setState({ error, loading: false }),
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** Splits "a, b ,c" into ["a", "b", "c"]. */
export function splitList(s: string): string[] {
  return s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

/**
 * The cursors of a paginated list: the cursor of the page shown (undefined
 * for the first), and the way forward and back.
 */
export function useCursors() {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  return {
    cursor: cursors[cursors.length - 1],
    page: cursors.length,
    next: (c: string) => setCursors((cs) => [...cs, c]),
    prev: () => setCursors((cs) => (cs.length > 1 ? cs.slice(0, -1) : cs)),
    reset: () => setCursors([undefined]),
  };
}

/** The previous and next page buttons of a list whose next page starts at nextCursor (null on the last). */
export function Pager({ pages, nextCursor }: { pages: ReturnType<typeof useCursors>; nextCursor: string | null }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={pages.page === 1} onClick={pages.prev}>
        Previous page
      </button>
      <span>Page {pages.page}</span>
      <button type="button" disabled={!nextCursor} onClick={() => nextCursor && pages.next(nextCursor)}>
        Next page
      </button>
    </nav>
  );
}

/** A column header read by screen readers only (a table's actions). */
export function HiddenHeader({ label }: { label: string }) {
  return (
    <th scope="col">
      <span class="visually-hidden">{label}</span>
    </th>
  );
}

/** An error in an expression (a filter, a sort, a rule) under its input, with a caret at the offset it names. */
export function Caret({ text, at, id, message }: { text: string; at: number | null; id: string; message: string }) {
  return (
    <span class="field-errors caret" id={id} role="alert">
      {at !== null && (
        <code class="caret-line" aria-hidden="true">
          {text}
          {"\n"}
          {" ".repeat(Math.min(at, text.length))}^
        </code>
      )}
      <span>{message}</span>
    </span>
  );
}

/** The offset an expression error names ("… at offset 7"), if any. */
export function offsetOf(message: string): number | null {
  const m = / at offset (\d+)$/.exec(message);
  return m ? Number(m[1]) : null;
}

/**
 * A group of ticks, one per option, under a legend: the options ticked,
 * kept in the order of options. Each input is named prefix-option.
 */
export function Checks(props: {
  legend: string;
  prefix: string;
  options: readonly string[];
  value: string[];
  onChange: (v: string[]) => void;
  id?: string;
}) {
  const { options, value } = props;
  return (
    <fieldset id={props.id}>
      <legend>{props.legend}</legend>
      <div class="checks">
        {options.map((o) => (
          <label key={o} class="check">
            <input
              type="checkbox"
              name={`${props.prefix}-${o}`}
              checked={value.includes(o)}
              onChange={(e) =>
                props.onChange(
                  e.currentTarget.checked ? options.filter((x) => x === o || value.includes(x)) : value.filter((x) => x !== o),
                )
              }
            />
            {o}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** A secret shown the only time it is: in a read-only field, with a copy button. */
export function ShownOnce(props: {
  title: string;
  label: string;
  secret: string;
  children: ComponentChildren;
  onClose: () => void;
}) {
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <div class="dialog-body">
        <p>{props.children}</p>
        <label>
          {props.label}
          <input name="secret" class="code" readOnly value={props.secret} onFocus={(e) => e.currentTarget.select()} />
        </label>
      </div>
      <footer class="dialog-foot">
        <button type="button" onClick={() => void navigator.clipboard?.writeText(props.secret)}>
          Copy
        </button>
        <button type="button" class="primary" onClick={props.onClose}>
          Done
        </button>
      </footer>
    </Dialog>
  );
}

/**
 * A labelled text input with the errors the API reported for it below,
 * tied to it (aria-invalid, aria-describedby). help names the id of a
 * help text it is also described by.
 */
export function TextField(props: {
  label: ComponentChildren;
  name: string;
  value: string;
  onInput: (v: string) => void;
  errors: string[];
  type?: "text" | "email" | "password" | "url" | "datetime-local";
  class?: string;
  placeholder?: string;
  autoComplete?: string;
  required?: boolean;
  help?: string;
}) {
  const errorsID = props.name + "-errors";
  return (
    <>
      <label>
        {props.label}
        <input
          name={props.name}
          // Preact's types pick an input's attributes by its literal
          // type; these attributes suit every type TextField takes.
          type={(props.type ?? "text") as "text"}
          class={props.class}
          value={props.value}
          placeholder={props.placeholder}
          autoComplete={props.autoComplete ?? "off"}
          required={props.required}
          spellcheck={false}
          aria-invalid={props.errors.length > 0}
          aria-describedby={props.help ? `${props.help} ${errorsID}` : errorsID}
          onInput={(e) => props.onInput(e.currentTarget.value)}
        />
      </label>
      <FieldErrors id={errorsID} messages={props.errors} />
    </>
  );
}
