// Collections: the list, and the editor of one collection's definition
// (schema, indexes, access rules, hidden fields, search).
import { useState } from "preact/hooks";
import { Collection, JSONSchema, Problem, Rule, RuleAction, collectionPath, ruleActions } from "./api";
import {
  Confirm,
  ErrorBox,
  FieldErrors,
  Time,
  href,
  navigate,
  splitList,
  useClient,
  useLoad,
  HiddenHeader,
  Caret,
  offsetOf,
} from "./ui";

export function CollectionList() {
  const client = useClient();
  const { value, error, loading } = useLoad(
    async (signal) => (await client.get<{ items: Collection[] }>("/v1/collections", { signal })).body.items,
    [],
  );
  return (
    <section>
      <div class="title-row">
        <h1>Collections</h1>
        <a class="button primary" href={href("new-collection")}>
          New collection
        </a>
      </div>
      <ErrorBox error={error} />
      {loading && !value && <p class="muted">Loading…</p>}
      {value && value.length === 0 && (
        <p class="empty">No collection yet. A collection holds JSON documents that share a schema and access rules.</p>
      )}
      {value && value.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Collections</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Fields</th>
                <th scope="col">Rules (list · get · create · update · delete)</th>
                <th scope="col">Version</th>
                <th scope="col">Updated</th>
                <HiddenHeader label="Actions" />
              </tr>
            </thead>
            <tbody>
              {value.map((c) => (
                <tr key={c.name}>
                  <th scope="row">
                    <a href={href("collections", c.name)}>{c.name}</a>
                  </th>
                  <td>{Object.keys(c.schema.properties ?? {}).join(", ") || <span class="muted">any</span>}</td>
                  <td>
                    {ruleActions.map((a) => (
                      <span key={a} class={"rule-chip " + ruleClass(c.rules[a])} title={`${a}: ${ruleText(c.rules[a])}`}>
                        {ruleLabel(c.rules[a])}
                      </span>
                    ))}
                  </td>
                  <td>{c.version}</td>
                  <td>
                    <Time at={c.updatedAt} />
                  </td>
                  <td class="actions">
                    <a href={href("collections", c.name, "settings")} aria-label={`Settings of ${c.name}`}>
                      Settings
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function ruleClass(r: Rule) {
  return r === null ? "admins" : r === "" ? "everyone" : "expr";
}
function ruleLabel(r: Rule) {
  return r === null ? "admins" : r === "" ? "everyone" : "rule";
}
function ruleText(r: Rule) {
  return r === null ? "admins only" : r === "" ? "everyone" : r;
}

/** The field types the editor offers; "any" has no type keyword. */
const fieldTypes = ["string", "integer", "number", "boolean", "array", "object", "any"] as const;

interface FieldRow {
  key: number;
  name: string;
  type: string;
  required: boolean;
  hidden: boolean;
  /** The property's other keywords (format, minimum, items…), kept as they are. */
  rest: JSONSchema;
}

interface Draft {
  name: string;
  rows: FieldRow[];
  /** The schema's keywords beside properties and required (additionalProperties, $defs…). */
  schemaRest: JSONSchema;
  /** The other hidden paths: those inside objects ("author.email"). */
  nestedHidden: string;
  indexes: string[];
  rules: Record<RuleAction, Rule>;
  search: string;
  rawMode: boolean;
  raw: string;
}

let rowKeys = 0;

function rowsOf(schema: JSONSchema, hidden: string[]): { rows: FieldRow[]; rest: JSONSchema } {
  const { properties = {}, required = [], type: _type, ...rest } = schema;
  const rows = Object.entries(properties).map(([name, p]) => {
    const { type, ...keywords } = p ?? {};
    const t =
      typeof type === "string" && (fieldTypes as readonly string[]).includes(type) ? type : type === undefined ? "any" : "custom";
    return {
      key: ++rowKeys,
      name,
      type: t,
      required: required.includes(name),
      hidden: hidden.includes(name),
      rest: t === "custom" ? { type, ...keywords } : keywords,
    };
  });
  return { rows, rest };
}

function schemaOf(d: Draft): JSONSchema {
  if (d.rawMode) return JSON.parse(d.raw) as JSONSchema;
  const properties: Record<string, JSONSchema> = {};
  for (const r of d.rows) {
    if (!r.name) continue;
    properties[r.name] = r.type === "any" || r.type === "custom" ? { ...r.rest } : { type: r.type, ...r.rest };
  }
  const required = d.rows.filter((r) => r.name && r.required).map((r) => r.name);
  const s: JSONSchema = { type: "object", ...d.schemaRest, properties };
  if (required.length > 0) s.required = required;
  return s;
}

function hiddenOf(d: Draft): string[] {
  const top = d.rawMode ? [] : d.rows.filter((r) => r.name && r.hidden).map((r) => r.name);
  return [...top, ...splitList(d.nestedHidden)];
}

function draftOf(c: Collection | null): Draft {
  const schema = c?.schema ?? { type: "object", properties: {} };
  const hidden = c?.hiddenFields ?? [];
  const { rows, rest } = rowsOf(schema, hidden);
  const top = new Set(rows.map((r) => r.name));
  return {
    name: c?.name ?? "",
    rows: c ? rows : [{ key: ++rowKeys, name: "", type: "string", required: false, hidden: false, rest: {} }],
    schemaRest: rest,
    nestedHidden: hidden.filter((h) => !top.has(h)).join(", "),
    indexes: (c?.indexes ?? []).map((i) => i.fields.join(", ")),
    rules: c?.rules ?? { list: null, get: null, create: null, update: null, delete: null },
    search: c?.search && Object.keys(c.search).length > 0 ? JSON.stringify(c.search, null, 2) : "",
    rawMode: false,
    raw: JSON.stringify(schema, null, 2),
  };
}

/** The editor of a new collection (no name) or of an existing one. */
export function CollectionEditor({ name }: { name?: string }) {
  const client = useClient();
  const [saved, setSaved] = useState<string | null>(null);
  const loaded = useLoad(
    async (signal) => {
      if (!name) return null;
      const a = await client.get<Collection>(collectionPath(name), { signal });
      return a.body;
    },
    [name],
  );
  if (name && loaded.error) {
    return (
      <section>
        <h1>{name}</h1>
        <ErrorBox error={loaded.error} />
      </section>
    );
  }
  if (name && !loaded.value) return <p class="muted">Loading…</p>;
  // The editor starts again from each version it loads: after a save,
  // and after a reload that shows another admin's change.
  return (
    <Editor
      collection={loaded.value ?? null}
      reload={loaded.reload}
      saved={saved}
      onSaved={() => {
        setSaved("Saved.");
        loaded.reload();
      }}
      key={loaded.value?.version ?? 0}
    />
  );
}

function Editor(props: { collection: Collection | null; reload: () => void; saved: string | null; onSaved: () => void }) {
  const { collection, reload } = props;
  const client = useClient();
  const [d, setD] = useState<Draft>(() => draftOf(collection));
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(props.saved);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const isNew = collection === null;
  const problem = error instanceof Problem ? error : null;
  const at = (p: string) => problem?.at(p) ?? [];
  const update = (patch: Partial<Draft>) => setD((x) => ({ ...x, ...patch }));
  const updateRow = (key: number, patch: Partial<FieldRow>) =>
    setD((x) => ({ ...x, rows: x.rows.map((r) => (r.key === key ? { ...r, ...patch } : r)) }));

  const toggleRaw = () => {
    if (d.rawMode) {
      let parsed: JSONSchema;
      try {
        parsed = JSON.parse(d.raw) as JSONSchema;
      } catch (e) {
        setError(
          new Problem(0, "invalid", "The JSON Schema is not valid JSON", String(e), [{ pointer: "/schema", message: String(e) }]),
        );
        return;
      }
      const { rows, rest } = rowsOf(parsed, hiddenOf(d).concat(d.rows.filter((r) => r.hidden).map((r) => r.name)));
      update({ rawMode: false, rows, schemaRest: rest });
    } else {
      update({ rawMode: true, raw: JSON.stringify(schemaOf(d), null, 2) });
    }
    setError(null);
  };

  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSaved(null);
    let schema: JSONSchema;
    let search: unknown = undefined;
    try {
      schema = schemaOf(d);
    } catch (err) {
      setError(
        new Problem(0, "invalid", "The JSON Schema is not valid JSON", String(err), [
          { pointer: "/schema", message: String(err) },
        ]),
      );
      return;
    }
    if (d.search.trim() !== "") {
      try {
        search = JSON.parse(d.search);
      } catch (err) {
        setError(
          new Problem(0, "invalid", "The search configuration is not valid JSON", String(err), [
            { pointer: "/search", message: String(err) },
          ]),
        );
        return;
      }
    }
    const body: Record<string, unknown> = {
      schema,
      indexes: d.indexes.filter((i) => i.trim() !== "").map((i) => ({ fields: splitList(i) })),
      rules: d.rules,
      hiddenFields: hiddenOf(d),
    };
    if (search !== undefined) body.search = search;
    setBusy(true);
    try {
      if (isNew) {
        body.name = d.name.trim();
        await client.request("POST", "/v1/collections", { body });
        navigate("collections", d.name.trim());
        return;
      }
      body.references = collection.references;
      await client.request("PUT", collectionPath(collection.name), { body, headers: { "If-Match": `"${collection.version}"` } });
      props.onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <div class="title-row">
        <h1>{isNew ? "New collection" : collection.name}</h1>
        {!isNew && (
          <div class="buttons">
            <a class="button" href={href("webhooks", "collection", collection.name)}>
              Webhooks
            </a>
            <a class="button" href={href("collections", collection.name)}>
              Documents
            </a>
          </div>
        )}
      </div>
      <form onSubmit={save} class="editor" noValidate>
        {isNew && (
          <fieldset>
            <legend>Name</legend>
            <label>
              Collection name
              <input
                name="name"
                required
                pattern="[a-z][a-z0-9_]{0,62}"
                value={d.name}
                autoComplete="off"
                spellcheck={false}
                aria-invalid={at("/name").length > 0}
                aria-describedby="name-help name-errors"
                onInput={(e) => update({ name: e.currentTarget.value })}
              />
            </label>
            <p class="help" id="name-help">
              Lower-case letters, digits and _, starting with a letter.
            </p>
            <FieldErrors id="name-errors" messages={at("/name")} />
          </fieldset>
        )}

        <fieldset>
          <legend>Schema</legend>
          <div class="toolbar">
            <button type="button" onClick={toggleRaw} aria-pressed={d.rawMode}>
              {d.rawMode ? "Edit as fields" : "Edit the JSON Schema"}
            </button>
          </div>
          {d.rawMode ? (
            <label>
              JSON Schema (draft 2020-12)
              <textarea
                name="schema"
                class="code"
                rows={16}
                spellcheck={false}
                value={d.raw}
                aria-invalid={at("/schema").length > 0}
                aria-describedby="schema-errors"
                onInput={(e) => update({ raw: e.currentTarget.value })}
              />
            </label>
          ) : (
            <FieldsTable d={d} updateRow={updateRow} setD={setD} />
          )}
          <FieldErrors id="schema-errors" messages={at("/schema")} />
        </fieldset>

        <fieldset>
          <legend>Access rules</legend>
          <p class="help">
            Who may do what with the documents: admins only, everyone (anonymous callers included), or the callers and documents
            for which an expression holds, such as <code>owner = @auth.id</code>.
          </p>
          {ruleActions.map((a) => (
            <RuleInput
              key={a}
              action={a}
              value={d.rules[a]}
              errors={at("/rules/" + a)}
              onChange={(v) => setD((x) => ({ ...x, rules: { ...x.rules, [a]: v } }))}
            />
          ))}
          <FieldErrors id="rules-errors" messages={at("/rules").filter((m) => !ruleActions.some((a) => m.startsWith(a + ":")))} />
        </fieldset>

        <fieldset>
          <legend>Indexes</legend>
          <p class="help">Fields that filters and sorts use often: 1 to 4 per index, separated by commas (author.name, score).</p>
          {d.indexes.map((ix, i) => (
            <div class="row" key={i}>
              <label class="grow">
                Index {i + 1} fields
                <input
                  name={`index-${i}`}
                  value={ix}
                  spellcheck={false}
                  aria-invalid={at(`/indexes/${i}`).length > 0}
                  aria-describedby={`index-${i}-errors`}
                  onInput={(e) => {
                    const v = e.currentTarget.value;
                    setD((x) => ({ ...x, indexes: x.indexes.map((y, j) => (j === i ? v : y)) }));
                  }}
                />
              </label>
              <button type="button" onClick={() => setD((x) => ({ ...x, indexes: x.indexes.filter((_, j) => j !== i) }))}>
                Remove index {i + 1}
              </button>
              <FieldErrors id={`index-${i}-errors`} messages={at(`/indexes/${i}`)} />
            </div>
          ))}
          <button type="button" onClick={() => setD((x) => ({ ...x, indexes: [...x.indexes, ""] }))}>
            Add an index
          </button>
        </fieldset>

        <fieldset>
          <legend>Hidden fields</legend>
          <p class="help">
            Hidden fields are never shown to callers who are not admins. Tick top-level fields above; name fields inside objects
            here, separated by commas (author.email).
          </p>
          <label>
            Hidden paths inside objects
            <input
              name="hidden"
              value={d.nestedHidden}
              spellcheck={false}
              aria-invalid={at("/hiddenFields").length > 0}
              aria-describedby="hidden-errors"
              onInput={(e) => update({ nestedHidden: e.currentTarget.value })}
            />
          </label>
          <FieldErrors id="hidden-errors" messages={at("/hiddenFields")} />
        </fieldset>

        <fieldset>
          <legend>Search</legend>
          <p class="help">
            Full-text and vector search, as JSON (see docs/search.md): <code>{'{"text": {"fields": {"title": 2}}}'}</code>. Empty
            for none.
          </p>
          <label>
            Search configuration
            <textarea
              name="search"
              class="code"
              rows={4}
              spellcheck={false}
              value={d.search}
              aria-invalid={at("/search").length > 0}
              aria-describedby="search-errors"
              onInput={(e) => update({ search: e.currentTarget.value })}
            />
          </label>
          <FieldErrors id="search-errors" messages={at("/search")} />
        </fieldset>

        <ErrorBox error={error} id="save-error" />
        {problem?.status === 412 && (
          <p class="notice" role="status">
            Someone changed this collection since you opened it.{" "}
            <button type="button" onClick={reload}>
              Reload it
            </button>{" "}
            to see their changes (yours are lost).
          </p>
        )}
        {saved && (
          <p class="ok" role="status">
            {saved}
          </p>
        )}
        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy}>
            {isNew ? "Create collection" : "Save changes"}
          </button>
          {!isNew && (
            <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
              Delete collection
            </button>
          )}
        </div>
      </form>
      {confirmDelete && !isNew && (
        <Confirm
          title={`Delete ${collection.name}`}
          message={
            <>
              This deletes the collection <strong>{collection.name}</strong> and every document in it. It cannot be undone.
            </>
          }
          action="Delete collection"
          expect={collection.name}
          onClose={() => setConfirmDelete(false)}
          onConfirm={async () => {
            await client.request("DELETE", collectionPath(collection.name), {
              headers: { "If-Match": `"${collection.version}"` },
            });
            navigate("collections");
          }}
        />
      )}
    </section>
  );
}

function FieldsTable(props: {
  d: Draft;
  updateRow: (key: number, patch: Partial<FieldRow>) => void;
  setD: (f: (d: Draft) => Draft) => void;
}) {
  const { d, updateRow, setD } = props;
  return (
    <>
      <div class="table-wrap">
        <table class="fields">
          <caption class="visually-hidden">Fields</caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Type</th>
              <th scope="col">Required</th>
              <th scope="col">Hidden</th>
              <th scope="col">Other keywords</th>
              <HiddenHeader label="Remove" />
            </tr>
          </thead>
          <tbody>
            {d.rows.map((r, i) => (
              <tr key={r.key}>
                <td>
                  <input
                    name={`field-${i}-name`}
                    aria-label={`Field ${i + 1} name`}
                    value={r.name}
                    spellcheck={false}
                    autoComplete="off"
                    onInput={(e) => updateRow(r.key, { name: e.currentTarget.value })}
                  />
                </td>
                <td>
                  <select
                    name={`field-${i}-type`}
                    aria-label={`Field ${i + 1} type`}
                    value={r.type}
                    onChange={(e) => updateRow(r.key, { type: e.currentTarget.value })}
                  >
                    {r.type === "custom" && <option value="custom">(as in the JSON Schema)</option>}
                    {fieldTypes.map((t) => (
                      <option key={t} value={t}>
                        {t}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  <input
                    type="checkbox"
                    name={`field-${i}-required`}
                    aria-label={`Field ${i + 1} required`}
                    checked={r.required}
                    onChange={(e) => updateRow(r.key, { required: e.currentTarget.checked })}
                  />
                </td>
                <td>
                  <input
                    type="checkbox"
                    name={`field-${i}-hidden`}
                    aria-label={`Field ${i + 1} hidden`}
                    checked={r.hidden}
                    onChange={(e) => updateRow(r.key, { hidden: e.currentTarget.checked })}
                  />
                </td>
                <td>
                  <code class="keywords">{Object.keys(r.rest).length > 0 ? JSON.stringify(r.rest) : ""}</code>
                </td>
                <td>
                  <button
                    type="button"
                    class="icon"
                    aria-label={`Remove field ${r.name || i + 1}`}
                    onClick={() => setD((x) => ({ ...x, rows: x.rows.filter((y) => y.key !== r.key) }))}
                  >
                    ×
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <button
        type="button"
        onClick={() =>
          setD((x) => ({
            ...x,
            rows: [...x.rows, { key: ++rowKeys, name: "", type: "string", required: false, hidden: false, rest: {} }],
          }))
        }
      >
        Add a field
      </button>
      <p class="help">
        Constraints (minLength, format, items…) and nested objects are edited in the JSON Schema; the fields view keeps them as
        they are.
      </p>
    </>
  );
}

function RuleInput(props: { action: RuleAction; value: Rule; errors: string[]; onChange: (r: Rule) => void }) {
  const { action, value } = props;
  const mode = value === null ? "admins" : value === "" ? "everyone" : "expression";
  const [expr, setExpr] = useState(typeof value === "string" ? value : "");
  const id = `rule-${action}`;
  return (
    <div class="rule">
      <label for={id + "-mode"} class="rule-name">
        {action}
      </label>
      <select
        id={id + "-mode"}
        name={id + "-mode"}
        value={mode}
        onChange={(e) => {
          const m = e.currentTarget.value;
          props.onChange(m === "admins" ? null : m === "everyone" ? "" : expr || " ");
        }}
      >
        <option value="admins">admins only</option>
        <option value="everyone">everyone</option>
        <option value="expression">expression</option>
      </select>
      {mode === "expression" && (
        <input
          name={id}
          aria-label={`${action} rule expression`}
          class="code grow"
          value={value ?? ""}
          spellcheck={false}
          autoComplete="off"
          placeholder="owner = @auth.id"
          aria-invalid={props.errors.length > 0}
          aria-describedby={id + "-errors"}
          onInput={(e) => {
            setExpr(e.currentTarget.value);
            props.onChange(e.currentTarget.value);
          }}
        />
      )}
      {mode === "expression" && props.errors.length === 1 && offsetOf(props.errors[0]) !== null ? (
        <Caret text={value ?? ""} at={offsetOf(props.errors[0])} id={id + "-errors"} message={props.errors[0]} />
      ) : (
        <FieldErrors id={id + "-errors"} messages={props.errors} />
      )}
    </div>
  );
}
