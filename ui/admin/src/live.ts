// Live updates: a collection's change events, read from its Server-Sent
// Events stream with fetch (EventSource cannot send the Authorization
// header), resumed with Last-Event-ID after a disconnection or a token
// refresh.
import { useEffect, useRef, useState } from "preact/hooks";
import { Client, collectionPath } from "./api";
import { useClient } from "./ui";

/** The envelope of a change event (docs/events.md). */
export interface ChangeEvent {
  id: string;
  type: string;
  collection: string;
  documentId?: string;
  version?: number;
  payload?: unknown;
  position: number;
}

/**
 * Follows the events of a collection while the component is mounted and
 * hands each to onEvent ("gap" and collection events too: the page should
 * then reload what it shows). The answer is the error that holds the
 * stream up, if any.
 */
export function useLiveEvents(
  collection: string,
  onEvent: (type: string, e: ChangeEvent | null) => void,
): { open: boolean; error: string | null } {
  const client = useClient();
  const cb = useRef(onEvent);
  cb.current = onEvent;
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    const ctl = new AbortController();
    void follow(client, collectionPath(collection, "events"), ctl.signal, setOpen, setError, (type, data) => {
      if (type.startsWith("document.")) cb.current(type, data as ChangeEvent);
      else if (type === "gap" || type.startsWith("collection.")) cb.current(type, null);
    });
    return () => ctl.abort();
  }, [collection]);
  return { open, error };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function follow(
  client: Client,
  url: string,
  signal: AbortSignal,
  setOpen: (open: boolean) => void,
  setError: (e: string | null) => void,
  onEvent: (type: string, data: unknown) => void,
) {
  let lastId: string | null = null;
  let backoff = 1000;
  while (!signal.aborted) {
    const token = client.accessToken;
    if (!token) return; // signed out
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: "text/event-stream" };
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    let refresh = false;
    try {
      const res = await fetch(url, { headers, signal, credentials: "omit", cache: "no-store" });
      if (res.status === 401) {
        refresh = true;
      } else if (!res.ok || !res.body) {
        const p = (await res.json().catch(() => ({}))) as { detail?: string };
        setError(p.detail ?? `the stream answered ${res.status}`);
      } else {
        setError(null);
        setOpen(true);
        backoff = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end: number;
          while ((end = buf.indexOf("\n\n")) >= 0) {
            const msg = { id: null as string | null, event: "message", data: "" };
            for (const line of buf.slice(0, end).split("\n")) {
              if (line.startsWith("id: ")) msg.id = line.slice(4);
              else if (line.startsWith("event: ")) msg.event = line.slice(7);
              else if (line.startsWith("data: ")) msg.data += line.slice(6);
            }
            buf = buf.slice(end + 2);
            if (msg.id !== null) lastId = msg.id;
            if (msg.event === "revoked")
              refresh = true; // the token expired: refresh, then resume
            else if (msg.data) onEvent(msg.event, JSON.parse(msg.data));
          }
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      setError("the stream was interrupted: " + String(e));
    }
    if (signal.aborted) return;
    setOpen(false);
    if (refresh) {
      if (!(await client.refresh())) return;
      continue;
    }
    await sleep(backoff, signal);
    backoff = Math.min(backoff * 2, 30000);
  }
}
