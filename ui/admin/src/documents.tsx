// Documents of a collection: a paginated table with the filter and sort
// language, the columns to show, and the editor of one document, which
// writes with compare-and-set (If-Match) and shows a conflict instead of
// overwriting a concurrent change.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Collection, Doc, JSONSchema, Page, Problem, collectionPath } from "./api";
import {
  Confirm,
  Dialog,
  ErrorBox,
  FieldErrors,
  Time,
  href,
  useClient,
  useLoad,
  HiddenHeader,
  Pager,
  useCursors,
  Caret,
  Checks,
  offsetOf,
} from "./ui";
import { useLiveEvents } from "./live";

const pageSizes = [10, 20, 50, 100];

interface Query {
  filter: string;
  sort: string;
  limit: number;
}

export function DocumentsPage({ collection }: { collection: string }) {
  const client = useClient();
  const coll = useLoad(
    async (signal) => (await client.get<Collection>(collectionPath(collection), { signal })).body,
    [collection],
  );
  if (coll.error) {
    return (
      <section>
        <h1>{collection}</h1>
        <ErrorBox error={coll.error} />
      </section>
    );
  }
  if (!coll.value) return <p class="muted">Loading…</p>;
  return <Documents collection={coll.value} />;
}

/** The offset a filter or sort error names ("… at offset 7"), if any. */
function errorOffset(p: Problem | null, what: "filter" | "sort"): number | null {
  return p && p.detail.startsWith(what + ":") ? offsetOf(p.detail) : null;
}

function Documents({ collection }: { collection: Collection }) {
  const client = useClient();
  const props = Object.keys(collection.schema.properties ?? {});
  const [columns, setColumns] = useState<string[]>(props.slice(0, 5));
  const [draft, setDraft] = useState<Query>({ filter: "", sort: "", limit: 20 });
  const [query, setQuery] = useState<Query>(draft);
  const pages = useCursors();
  const [editing, setEditing] = useState<Doc | "new" | null>(null);
  const [deleting, setDeleting] = useState<Doc | null>(null);
  const [showColumns, setShowColumns] = useState(false);

  const list = useLoad(
    async (signal) =>
      (
        await client.get<Page<Doc>>(collectionPath(collection.name, "documents"), {
          signal,
          query: { filter: query.filter, sort: query.sort, limit: query.limit, cursor: pages.cursor, total: true },
        })
      ).body,
    [collection.name, query, pages.cursor],
  );
  const [items, setItems] = useState<Doc[]>([]);
  // The documents changed elsewhere that this page does not show yet (a
  // reload shows them); "*" stands for changes that may touch any.
  const [pending, setPending] = useState<Set<string>>(new Set());
  useEffect(() => {
    const shown = list.value?.items ?? [];
    setItems(shown);
    setPending((p) => new Set([...p].filter((id) => id !== "*" && !shown.some((d) => d.id === id))));
  }, [list.value]);
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const live = useLiveEvents(collection.name, (type, e) => {
    const id = e?.documentId;
    const here = id !== undefined ? itemsRef.current.find((d) => d.id === id) : undefined;
    if (!e || id === undefined) {
      setPending((p) => new Set(p).add("*"));
    } else if (!here) {
      setPending((p) => new Set(p).add(id));
    } else if (e.version === undefined || e.version > here.version) {
      // A document on this page changed: show its new version in place,
      // or mark it deleted.
      const next: Doc =
        type === "document.deleted"
          ? ({ ...here, deleted: true } as Doc)
          : e.payload && typeof e.payload === "object"
            ? (e.payload as Doc)
            : here;
      setItems((cur) => cur.map((d) => (d.id === id ? next : d)));
    }
  });

  const problem = list.error instanceof Problem ? list.error : null;
  const filterAt = errorOffset(problem, "filter");
  const sortAt = errorOffset(problem, "sort");
  const filterError = problem?.detail.startsWith("filter:") ? problem.detail : null;
  const sortError = problem?.detail.startsWith("sort:") ? problem.detail : null;

  const apply = (e: Event) => {
    e.preventDefault();
    setQuery({ ...draft });
    pages.reset();
  };

  return (
    <section>
      <div class="title-row">
        <h1>{collection.name}</h1>
        <div class="buttons">
          <a class="button" href={href("collections", collection.name, "settings")}>
            Settings
          </a>
          <button type="button" class="primary" onClick={() => setEditing("new")}>
            New document
          </button>
        </div>
      </div>

      <form class="query" onSubmit={apply} role="search" aria-label="Filter and sort documents">
        <label class="grow">
          Filter
          <input
            name="filter"
            class="code"
            value={draft.filter}
            spellcheck={false}
            autoComplete="off"
            placeholder={props[0] ? `${props[0]} = "…"` : 'title = "…"'}
            aria-invalid={filterError !== null}
            aria-describedby="filter-error"
            onInput={(e) => setDraft({ ...draft, filter: e.currentTarget.value })}
          />
          {filterError && <Caret text={query.filter} at={filterAt} id="filter-error" message={filterError} />}
        </label>
        <label>
          Sort
          <input
            name="sort"
            class="code"
            value={draft.sort}
            spellcheck={false}
            autoComplete="off"
            placeholder="-updatedAt"
            aria-invalid={sortError !== null}
            aria-describedby="sort-error"
            onInput={(e) => setDraft({ ...draft, sort: e.currentTarget.value })}
          />
          {sortError && <Caret text={query.sort} at={sortAt} id="sort-error" message={sortError} />}
        </label>
        <label>
          Per page
          <select name="limit" value={draft.limit} onChange={(e) => setDraft({ ...draft, limit: Number(e.currentTarget.value) })}>
            {pageSizes.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="primary">
          Apply
        </button>
        <button type="button" aria-expanded={showColumns} aria-controls="columns" onClick={() => setShowColumns(!showColumns)}>
          Columns
        </button>
      </form>

      {showColumns && (
        <Checks id="columns" legend="Columns" prefix="column" options={props} value={columns} onChange={setColumns} />
      )}

      {problem && !filterError && !sortError && <ErrorBox error={list.error} />}
      {!problem && list.error !== undefined && <ErrorBox error={list.error} />}
      {pending.size > 0 && (
        <p class="notice" role="status" id="live-changes">
          {pending.has("*") ? "This collection changed" : pending.size === 1 ? "1 change" : `${pending.size} changes`} since this
          page loaded.{" "}
          <button
            type="button"
            onClick={() => {
              setPending(new Set());
              list.reload();
            }}
          >
            Refresh
          </button>
        </p>
      )}
      {live.error && <p class="muted small">Live updates paused: {live.error}</p>}

      {list.value && (
        <>
          <p class="muted" role="status" id="doc-count">
            {list.value.total !== undefined &&
              `${list.value.total}${list.value.totalCapped ? "+" : ""} document${list.value.total === 1 ? "" : "s"}${query.filter ? " match" : ""}`}
            {list.loading && " · loading…"}
            {live.open && (
              <span class="live" title="Changes made elsewhere show here as they happen">
                {" "}
                · live
              </span>
            )}
          </p>
          <div class="table-wrap">
            <table class="documents">
              <caption class="visually-hidden">Documents of {collection.name}</caption>
              <thead>
                <tr>
                  <th scope="col">id</th>
                  {columns.map((c) => (
                    <th scope="col" key={c}>
                      {c}
                    </th>
                  ))}
                  <th scope="col">version</th>
                  <th scope="col">updatedAt</th>
                  <HiddenHeader label="Actions" />
                </tr>
              </thead>
              <tbody>
                {items.map((d) => {
                  const gone = (d as Doc & { deleted?: boolean }).deleted === true;
                  return (
                    <tr key={d.id} class={gone ? "gone" : ""}>
                      <th scope="row">
                        <button type="button" class="link" onClick={() => setEditing(d)} disabled={gone}>
                          {d.id}
                        </button>
                      </th>
                      {columns.map((c) => (
                        <td key={c}>{cell(d.data[c])}</td>
                      ))}
                      <td>{gone ? "deleted" : d.version}</td>
                      <td>
                        <Time at={d.updatedAt} />
                      </td>
                      <td class="actions">
                        {!gone && (
                          <button type="button" class="danger small" aria-label={`Delete ${d.id}`} onClick={() => setDeleting(d)}>
                            Delete
                          </button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {items.length === 0 && <p class="empty">{query.filter ? "No document matches the filter." : "No document yet."}</p>}
          <Pager pages={pages} nextCursor={list.value.nextCursor} />
        </>
      )}

      {editing && (
        <DocumentEditor
          collection={collection}
          doc={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            list.reload();
          }}
        />
      )}
      {deleting && (
        <Confirm
          title={`Delete ${deleting.id}`}
          message={
            <>
              Delete the document <code>{deleting.id}</code> (version {deleting.version})? It cannot be undone.
            </>
          }
          action="Delete document"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await client.request("DELETE", collectionPath(collection.name, "documents", deleting.id), {
              headers: { "If-Match": `"${deleting.version}"` },
            });
            list.reload();
          }}
        />
      )}
    </section>
  );
}

/** A value in a table cell: strings as they are, the rest as compact JSON. */
function cell(v: unknown): string {
  if (v === undefined) return "";
  if (typeof v === "string") return v.length > 80 ? v.slice(0, 79) + "…" : v;
  const s = JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 79) + "…" : s;
}

type Inputs = Record<string, string | boolean>;

/** The form's value of each schema property of data. */
function inputsOf(schema: JSONSchema, data: Record<string, unknown>): Inputs {
  const out: Inputs = {};
  for (const [name, p] of Object.entries(schema.properties ?? {})) {
    const v = data[name];
    const kind = kindOf(p);
    if (kind === "boolean") out[name] = v === true;
    else if (v === undefined) out[name] = "";
    else if (kind === "string" || kind === "enum") out[name] = typeof v === "string" ? v : JSON.stringify(v);
    else if (kind === "number") out[name] = typeof v === "number" ? String(v) : JSON.stringify(v);
    else out[name] = JSON.stringify(v, null, 2);
  }
  return out;
}

type Kind = "string" | "number" | "boolean" | "enum" | "json";

function kindOf(p: JSONSchema | undefined): Kind {
  if (!p) return "json";
  if (Array.isArray(p.enum) && p.enum.every((x) => typeof x === "string")) return "enum";
  switch (p.type) {
    case "string":
      return "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
  }
  return "json";
}

/**
 * The data of the form: each property from its input (an empty input
 * leaves it out), over the other members of base (those the schema does
 * not name). A value that does not parse is reported by its field name.
 */
function dataOf(
  schema: JSONSchema,
  inputs: Inputs,
  base: Record<string, unknown>,
): { data: Record<string, unknown>; bad: Record<string, string> } {
  const data: Record<string, unknown> = { ...base };
  const bad: Record<string, string> = {};
  for (const [name, p] of Object.entries(schema.properties ?? {})) {
    const v = inputs[name];
    const kind = kindOf(p);
    delete data[name];
    if (kind === "boolean") {
      // A boolean the document did not have stays absent until ticked.
      if (v === true || name in base) data[name] = v === true;
      continue;
    }
    if (typeof v !== "string" || v.trim() === "") continue;
    if (kind === "string" || kind === "enum") data[name] = v;
    else if (kind === "number") {
      const n = Number(v);
      if (Number.isFinite(n)) data[name] = n;
      else bad[name] = "is not a number";
    } else {
      try {
        data[name] = JSON.parse(v);
      } catch {
        bad[name] = "is not valid JSON";
      }
    }
  }
  return { data, bad };
}

function DocumentEditor(props: { collection: Collection; doc: Doc | null; onClose: () => void; onSaved: () => void }) {
  const client = useClient();
  const { collection } = props;
  const schema = collection.schema;
  const [doc, setDoc] = useState<Doc | null>(props.doc);
  const [id, setID] = useState("");
  const [view, setView] = useState<"form" | "json">("form");
  const [inputs, setInputs] = useState<Inputs>(() => inputsOf(schema, props.doc?.data ?? {}));
  const [json, setJSON] = useState(() => JSON.stringify(props.doc?.data ?? {}, null, 2));
  const [bad, setBad] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [theirs, setTheirs] = useState<Doc | null>(null);
  const [busy, setBusy] = useState(false);
  const problem = error instanceof Problem ? error : null;
  const fieldProps = useMemo(() => Object.entries(schema.properties ?? {}), [schema]);

  // The data the editor holds now, from the view in use.
  const current = (): Record<string, unknown> | null => {
    if (view === "json") {
      try {
        const v = JSON.parse(json) as unknown;
        if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("the data must be a JSON object");
        setBad({});
        return v as Record<string, unknown>;
      } catch (e) {
        setBad({ "": String(e instanceof Error ? e.message : e) });
        return null;
      }
    }
    const r = dataOf(schema, inputs, doc?.data ?? {});
    setBad(r.bad);
    return Object.keys(r.bad).length > 0 ? null : r.data;
  };

  const switchView = (to: "form" | "json") => {
    if (to === view) return;
    const data = current();
    if (!data) return;
    if (to === "json") setJSON(JSON.stringify(data, null, 2));
    else setInputs(inputsOf(schema, data));
    setView(to);
  };

  const write = async (data: Record<string, unknown>, over: Doc | null) => {
    setBusy(true);
    setError(null);
    try {
      if (!over) {
        await client.request("POST", collectionPath(collection.name, "documents"), {
          body: data,
          query: { id: id.trim() || undefined },
        });
      } else {
        await client.request("PUT", collectionPath(collection.name, "documents", over.id), {
          body: data,
          headers: { "If-Match": `"${over.version}"` },
        });
      }
      props.onSaved();
    } catch (e) {
      setError(e);
      if (e instanceof Problem && e.status === 412 && over) {
        // Someone else wrote the document: fetch their version and let
        // the admin choose, never overwrite silently.
        try {
          setTheirs((await client.get<Doc>(collectionPath(collection.name, "documents", over.id))).body);
        } catch (e2) {
          setError(e2);
        }
      }
    } finally {
      setBusy(false);
    }
  };

  const save = (e: Event) => {
    e.preventDefault();
    const data = current();
    if (data) void write(data, doc);
  };

  const fieldMessages = (name: string): string[] => {
    const out = problem?.at("/data/" + name.replace(/~/g, "~0").replace(/\//g, "~1")) ?? [];
    return bad[name] ? [bad[name], ...out] : out;
  };
  const general = problem
    ? problem.errors.filter(
        (x) => !fieldProps.some(([n]) => x.pointer === "/data/" + n || x.pointer.startsWith("/data/" + n + "/")),
      )
    : [];

  return (
    <Dialog title={doc ? `Edit ${doc.id}` : `New document in ${collection.name}`} onClose={props.onClose} wide>
      <form onSubmit={save} noValidate>
        <div class="dialog-body">
          {doc && (
            <p class="muted small">
              Version {doc.version}, updated <Time at={doc.updatedAt} />. Saving replaces the document if it is still at version{" "}
              {doc.version}.
            </p>
          )}
          <div class="tabs" role="group" aria-label="Editor view">
            <button type="button" aria-pressed={view === "form"} onClick={() => switchView("form")}>
              Form
            </button>
            <button type="button" aria-pressed={view === "json"} onClick={() => switchView("json")}>
              JSON
            </button>
          </div>
          {!doc && (
            <label>
              ID <span class="muted">(optional: one is generated)</span>
              <input name="id" value={id} spellcheck={false} autoComplete="off" onInput={(e) => setID(e.currentTarget.value)} />
            </label>
          )}
          {view === "form" ? (
            fieldProps.length === 0 ? (
              <p class="muted">The schema names no field: use the JSON view.</p>
            ) : (
              fieldProps.map(([name, p]) => (
                <DataField
                  key={name}
                  name={name}
                  schema={p}
                  required={(schema.required ?? []).includes(name)}
                  value={inputs[name]}
                  messages={fieldMessages(name)}
                  onChange={(v) => setInputs((x) => ({ ...x, [name]: v }))}
                />
              ))
            )
          ) : (
            <label>
              Data (JSON)
              <textarea
                name="json"
                class="code"
                rows={14}
                spellcheck={false}
                value={json}
                aria-invalid={bad[""] !== undefined || (problem?.at("/data").length ?? 0) > 0}
                aria-describedby="json-errors"
                onInput={(e) => setJSON(e.currentTarget.value)}
              />
              <FieldErrors id="json-errors" messages={[...(bad[""] ? [bad[""]] : []), ...(problem?.at("/data") ?? [])]} />
            </label>
          )}
          {problem && problem.status !== 412 && (
            <ErrorBox
              error={new Problem(problem.status, problem.code, problem.title, problem.detail, view === "json" ? [] : general)}
            />
          )}
          {error !== null && !problem && <ErrorBox error={error} />}
          {theirs && doc && (
            <div class="conflict" role="alert">
              <h3>Conflict: this document changed while you edited it</h3>
              <p>
                Someone saved version {theirs.version} (you opened version {doc.version}). Nothing of yours was written.
              </p>
              <div class="compare">
                <div>
                  <h4>Theirs (version {theirs.version})</h4>
                  <pre class="code">{JSON.stringify(theirs.data, null, 2)}</pre>
                </div>
                <div>
                  <h4>Yours</h4>
                  <pre class="code">{JSON.stringify(dataOf(schema, inputs, doc.data).data, null, 2)}</pre>
                </div>
              </div>
              <div class="buttons">
                <button
                  type="button"
                  onClick={() => {
                    setDoc(theirs);
                    setInputs(inputsOf(schema, theirs.data));
                    setJSON(JSON.stringify(theirs.data, null, 2));
                    setTheirs(null);
                    setError(null);
                  }}
                >
                  Discard mine, load theirs
                </button>
                <button
                  type="button"
                  class="danger"
                  onClick={() => {
                    const data = current();
                    const t = theirs;
                    setTheirs(null);
                    if (data) {
                      setDoc(t);
                      void write(data, t);
                    }
                  }}
                >
                  Save mine over theirs
                </button>
              </div>
            </div>
          )}
        </div>
        <footer class="dialog-foot">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy || theirs !== null}>
            {doc ? "Save" : "Create"}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}

function DataField(props: {
  name: string;
  schema: JSONSchema;
  required: boolean;
  value: string | boolean | undefined;
  messages: string[];
  onChange: (v: string | boolean) => void;
}) {
  const { name, schema, value, messages } = props;
  const kind = kindOf(schema);
  const id = "data-" + name.replace(/[^A-Za-z0-9_-]/g, "_");
  const label = (
    <>
      {name}
      {props.required && <span aria-hidden="true"> *</span>}
      <span class="muted small"> {describe(schema)}</span>
    </>
  );
  const common = {
    id,
    name: id,
    "aria-invalid": messages.length > 0,
    "aria-describedby": id + "-errors",
    "aria-required": props.required,
  };
  let input;
  switch (kind) {
    case "boolean":
      return (
        <div class="field">
          <label class="check">
            <input
              type="checkbox"
              {...common}
              checked={value === true}
              onChange={(e) => props.onChange(e.currentTarget.checked)}
            />
            {label}
          </label>
          <FieldErrors id={id + "-errors"} messages={messages} />
        </div>
      );
    case "enum":
      input = (
        <select {...common} value={String(value ?? "")} onChange={(e) => props.onChange(e.currentTarget.value)}>
          <option value="">(none)</option>
          {(schema.enum as string[]).map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
      );
      break;
    case "string":
      input = (
        <input
          {...common}
          value={String(value ?? "")}
          spellcheck={false}
          onInput={(e) => props.onChange(e.currentTarget.value)}
        />
      );
      break;
    case "number":
      input = (
        <input
          {...common}
          inputMode={schema.type === "integer" ? "numeric" : "decimal"}
          value={String(value ?? "")}
          onInput={(e) => props.onChange(e.currentTarget.value)}
        />
      );
      break;
    default:
      input = (
        <textarea
          {...common}
          class="code"
          rows={3}
          spellcheck={false}
          value={String(value ?? "")}
          onInput={(e) => props.onChange(e.currentTarget.value)}
        />
      );
  }
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {input}
      <FieldErrors id={id + "-errors"} messages={messages} />
    </div>
  );
}

/** A short description of a property's type ("integer ≥ 0", "array (JSON)"). */
function describe(p: JSONSchema): string {
  const t = Array.isArray(p.type) ? p.type.join(" | ") : (p.type ?? "any");
  const parts = [t];
  if (p.format) parts.push(String(p.format));
  if (typeof p.minimum === "number") parts.push(`≥ ${p.minimum}`);
  if (typeof p.maximum === "number") parts.push(`≤ ${p.maximum}`);
  if (kindOf(p) === "json") parts.push("(JSON)");
  return parts.join(" ");
}
