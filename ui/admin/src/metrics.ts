// Reading Basalt's own Prometheus metrics (GET /metrics, text format) for
// the status page: samples by name and labels, and the rates between two
// readings.

/** One sample: a metric name, its labels and its value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (comments and timestamps ignored). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
      }
    }
    const value = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : Number(m[4]);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

/** The sum of the samples of name whose labels match (every label given, with its value). */
export function sum(samples: Sample[], name: string, match: Record<string, string | ((v: string) => boolean)> = {}): number {
  let total = 0;
  let found = false;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (!Object.entries(match).every(([k, v]) => (typeof v === "function" ? v(s.labels[k] ?? "") : s.labels[k] === v))) continue;
    total += s.value;
    found = true;
  }
  return found ? total : NaN;
}

/** The distinct values of a label among the samples of name. */
export function labelValues(samples: Sample[], name: string, label: string): string[] {
  const set = new Set<string>();
  for (const s of samples) if (s.name === name && s.labels[label] !== undefined) set.add(s.labels[label]);
  return [...set].sort();
}
