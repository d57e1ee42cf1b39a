// The console's client of Basalt's public API. It holds the admin's tokens
// in memory only (never in localStorage, sessionStorage or a cookie), so a
// page reload or a closed tab signs the admin out; it refreshes the access
// token before it expires and once more when a request is refused with 401.

/** One entry of a problem's errors: where (a JSON pointer) and what. */
export interface FieldError {
  pointer: string;
  message: string;
}

/** An RFC 9457 problem answered by the API, or one the console makes up for a network failure. */
export class Problem extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldError[];

  constructor(status: number, code: string, title: string, detail: string, errors: FieldError[] = []) {
    super(detail || title);
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.errors = errors.flatMap(required);
  }

  /** The messages of the errors whose pointer is at or under prefix. */
  at(prefix: string): string[] {
    return this.errors
      .filter((e) => e.pointer === prefix || e.pointer.startsWith(prefix + "/"))
      .map((e) => (e.pointer === prefix ? e.message : `${e.pointer.slice(prefix.length + 1)}: ${e.message}`));
  }
}

/**
 * Splits a schema's "missing property" error, which points at the object,
 * into one "is required" error per property, pointing at the property, so
 * the editor shows it at the field.
 */
function required(e: FieldError): FieldError[] {
  const m = /^missing propert(?:y|ies) (.+)$/.exec(e.message);
  if (!m) return [e];
  const names = [...m[1].matchAll(/'((?:[^'\\]|\\.)*)'/g)].map((x) => x[1]);
  if (names.length === 0) return [e];
  const at = e.pointer === "/" ? "" : e.pointer;
  return names.map((n) => ({ pointer: `${at}/${n.replace(/~/g, "~0").replace(/\//g, "~1")}`, message: "is required" }));
}

export interface Session {
  id: string;
  device: string;
  userAgent: string;
  ip: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  revokedAt: string | null;
  revokeReason: string | null;
  current: boolean;
}

export interface Account {
  id: string;
  email: string;
  roles: string[];
  verified: boolean;
  verifiedAt: string | null;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

interface Tokens {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  session: Session;
}

export type Rule = string | null;
export const ruleActions = ["list", "get", "create", "update", "delete"] as const;
export type RuleAction = (typeof ruleActions)[number];

export interface Collection {
  name: string;
  schema: JSONSchema;
  indexes: { fields: string[]; unique?: boolean }[];
  rules: Record<RuleAction, Rule>;
  hiddenFields: string[];
  references: Record<string, unknown>;
  search?: unknown;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface JSONSchema {
  type?: string | string[];
  properties?: Record<string, JSONSchema>;
  required?: string[];
  enum?: unknown[];
  format?: string;
  [keyword: string]: unknown;
}

export interface Doc {
  id: string;
  collection: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  data: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  total?: number;
  totalCapped?: boolean;
}

export interface APIKey {
  id: string;
  name: string;
  prefix: string;
  roles: string[];
  scopes: string[];
  createdBy: string | null;
  createdByKey: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  key?: string;
}

export interface SigningKey {
  kid: string;
  createdAt: string;
  notAfter: string | null;
}

export interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
}

/** The device name sessions opened by the console carry. */
export const consoleDevice = "Basalt admin console";

/** The role that may use the console. */
export const adminRole = "admin";

export class Client {
  #tokens: Tokens | null = null;
  #refreshing: Promise<boolean> | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onSignedOut: (why: string) => void;

  /** onSignedOut is told when the session ends without a logout: expired, revoked or refused. */
  constructor(onSignedOut: (why: string) => void) {
    this.#onSignedOut = onSignedOut;
  }

  get session(): Session | null {
    return this.#tokens?.session ?? null;
  }

  /** The current access token, for the streams that read with fetch themselves. */
  get accessToken(): string | null {
    return this.#tokens?.accessToken ?? null;
  }

  /**
   * Signs in through /v1/auth/login and checks the account is an admin's;
   * a session that is not is ended at once and refused.
   */
  async login(email: string, password: string): Promise<Account> {
    const t = await this.#send<Tokens>("POST", "/v1/auth/login", { body: { email, password, device: consoleDevice } }, false);
    this.#setTokens(t.body);
    let me: Account;
    try {
      me = (await this.get<Account>("/v1/auth/me")).body;
    } catch (e) {
      this.#clear();
      throw e;
    }
    if (!me.roles.includes(adminRole)) {
      await this.logout();
      throw new Problem(
        403,
        "forbidden",
        "Not an admin",
        "This account does not have the admin role: the console is for admins only.",
      );
    }
    return me;
  }

  /** Ends the session on the server and forgets the tokens. */
  async logout(): Promise<void> {
    try {
      if (this.#tokens) await this.#send("POST", "/v1/auth/logout", {}, false);
    } finally {
      this.#clear();
    }
  }

  get<T>(path: string, opts: RequestOptions = {}): Promise<Answer<T>> {
    return this.request<T>("GET", path, opts);
  }

  /** Sends a request with the access token; a 401 refreshes the token and retries once. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<Answer<T>> {
    try {
      return await this.#send<T>(method, path, opts, true);
    } catch (e) {
      if (!(e instanceof Problem) || e.status !== 401 || !this.#tokens) throw e;
      if (!(await this.refresh())) throw e;
      return this.#send<T>(method, path, opts, true);
    }
  }

  /** Trades the refresh token for new tokens; false (and signed out) when the server refuses. */
  refresh(): Promise<boolean> {
    if (!this.#refreshing) {
      this.#refreshing = this.#refresh().finally(() => (this.#refreshing = null));
    }
    return this.#refreshing;
  }

  async #refresh(): Promise<boolean> {
    const t = this.#tokens;
    if (!t) return false;
    try {
      const a = await this.#send<Tokens>("POST", "/v1/auth/refresh", { body: { refreshToken: t.refreshToken } }, false);
      this.#setTokens(a.body);
      return true;
    } catch (e) {
      if (e instanceof Problem && e.status !== 401 && e.status !== 403) {
        return false; // the server could not answer: keep the session, try again later
      }
      this.#clear();
      this.#onSignedOut("Your session ended (it expired or was revoked). Sign in again.");
      return false;
    }
  }

  #setTokens(t: Tokens) {
    this.#tokens = t;
    clearTimeout(this.#timer);
    // Refresh at four fifths of the access token's life, so requests
    // rarely meet an expired one.
    const ms = Math.max(5, t.expiresIn * 0.8) * 1000;
    this.#timer = setTimeout(() => void this.refresh(), ms);
  }

  #clear() {
    clearTimeout(this.#timer);
    this.#tokens = null;
  }

  async #send<T>(method: string, path: string, opts: RequestOptions, auth: boolean): Promise<Answer<T>> {
    const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
    if (auth || path === "/v1/auth/logout") {
      if (this.#tokens) headers.Authorization = `Bearer ${this.#tokens.accessToken}`;
    }
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["Content-Type"] = opts.contentType ?? "application/json";
    }
    let url = path;
    if (opts.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query)) {
        if (v !== undefined && v !== "") q.set(k, String(v));
      }
      const s = q.toString();
      if (s) url += "?" + s;
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: opts.signal, credentials: "omit", cache: "no-store" });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      throw new Problem(0, "network", "Basalt did not answer", "The request could not reach the server: " + String(e));
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!res.ok) {
      const p = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Partial<Problem>;
      throw new Problem(
        res.status,
        p.code ?? "http_" + res.status,
        p.title ?? res.statusText,
        p.detail ?? (typeof parsed === "string" ? parsed : ""),
        Array.isArray(p.errors) ? p.errors : [],
      );
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
}

/** The path of a collection (and what follows), with the name escaped. */
export function collectionPath(name: string, ...rest: string[]): string {
  return ["/v1/collections", name, ...rest].map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join("/");
}

/** The version an ETag carries ("3" → 3). */
export function etagVersion(h: Headers): number | null {
  const m = /^"(\d+)"$/.exec(h.get("ETag") ?? "");
  return m ? Number(m[1]) : null;
}
