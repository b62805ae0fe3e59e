// A tiny metrics registry that writes the Prometheus text exposition format (version 0.0.4):
// counters, gauges and histograms with labels. Runtime-neutral (prom-client needs Node), and the
// gateway needs only these three kinds.

type Labels = Record<string, string>;

interface Family {
  readonly name: string;
  render(out: string[]): void;
}

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const pairs = names.map((name, i) => `${name}="${escapeLabel(values[i]!)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function number(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

abstract class Metric<T> implements Family {
  protected readonly series = new Map<string, { values: string[]; state: T }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly type: string,
  ) {}

  protected state(labels: Labels, create: () => T): T {
    const values = this.labelNames.map((name) => labels[name] ?? "");
    const key = values.join("\u0000");
    let entry = this.series.get(key);
    if (!entry) this.series.set(key, (entry = { values, state: create() }));
    return entry.state;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
    for (const { values, state } of this.series.values()) this.samples(out, values, state);
  }

  protected abstract samples(out: string[], values: string[], state: T): void;
}

export class Counter extends Metric<{ value: number }> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, "counter");
  }
  inc(labels: Labels = {}, by = 1): void {
    this.state(labels, () => ({ value: 0 })).value += by;
  }
  protected samples(out: string[], values: string[], state: { value: number }): void {
    out.push(`${this.name}${labelText(this.labelNames, values)} ${number(state.value)}`);
  }
}

export class Gauge extends Metric<{ value: number }> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, "gauge");
  }
  set(labels: Labels, value: number): void {
    this.state(labels, () => ({ value: 0 })).value = value;
  }
  add(labels: Labels, by: number): void {
    this.state(labels, () => ({ value: 0 })).value += by;
  }
  protected samples(out: string[], values: string[], state: { value: number }): void {
    out.push(`${this.name}${labelText(this.labelNames, values)} ${number(state.value)}`);
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramState> {
  readonly buckets: readonly number[];
  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames, "histogram");
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  observe(labels: Labels, value: number): void {
    const state = this.state(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    // Counts per bucket, made cumulative when rendered.
    const i = this.buckets.findIndex((bound) => value <= bound);
    if (i !== -1) state.counts[i]!++;
    state.sum += value;
    state.count++;
  }
  protected samples(out: string[], values: string[], state: HistogramState): void {
    let cumulative = 0;
    this.buckets.forEach((bound, i) => {
      cumulative += state.counts[i]!;
      out.push(`${this.name}_bucket${labelText(this.labelNames, values, ["le", number(bound)])} ${cumulative}`);
    });
    out.push(`${this.name}_bucket${labelText(this.labelNames, values, ["le", "+Inf"])} ${state.count}`);
    out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${number(state.sum)}`);
    out.push(`${this.name}_count${labelText(this.labelNames, values)} ${state.count}`);
  }
}

/** The families, rendered in the order they were registered. */
export class Registry {
  readonly #families: Family[] = [];
  register<T extends Family>(family: T): T {
    this.#families.push(family);
    return family;
  }
  /** The Prometheus text format, version 0.0.4. */
  render(): string {
    const out: string[] = [];
    for (const family of this.#families) family.render(out);
    return out.join("\n") + "\n";
  }
}

/** The content type of {@link Registry.render}'s text. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
