/** The bench result shape and its markdown table. */
export interface BenchRun {
  label: string;
  eventsPerRequest: number;
  requestsPerSecond: number;
  acceptedEventsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
  acceptedEvents: number;
  rowsInClickHouse: number;
  distinctEventIds: number;
  noLossNoDuplicates: boolean;
  endToEndEventsPerSecond: number;
  drainLagSeconds: number;
  queueDepth: { t: number; waiting: number }[];
  /** Most seconds the aggregates lagged behind the clock while the load ran (v_freshness, sampled each second); null: not reported. */
  aggregateLagMaxSeconds: number | null;
  rss: { process: string; peakRssMb: number }[];
}

/** One turn of the comparison: the project, then the minimal pipeline, same load. */
/** One side of a pair: end to end, events accepted while the load ran, collector p99, the process's peak RSS. */
export interface ComparisonSide {
  endToEndEventsPerSecond: number;
  acceptedEventsPerSecond: number;
  latencyP99Ms: number;
  peakRssMb: number;
  /** See BenchRun.aggregateLagMaxSeconds (the minimal pipeline has no aggregates: null). */
  aggregateLagMaxSeconds: number | null;
  lossless: boolean;
}

export interface ComparisonPair {
  project: ComparisonSide;
  minimal: ComparisonSide;
  endToEndRatio: number;
  p99Ratio: number;
}

export interface Comparison {
  seconds: number;
  connections: number;
  pairs: ComparisonPair[];
  /** Medians over the pairs (each figure on its own); the ratios are medians of the per-pair ratios. */
  median: { projectEndToEnd: number; minimalEndToEnd: number; endToEndRatio: number; projectP99Ms: number; minimalP99Ms: number; p99Ratio: number };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function summariseComparison(pairs: ComparisonPair[], seconds: number, connections: number): Comparison {
  return {
    seconds,
    connections,
    pairs,
    median: {
      projectEndToEnd: median(pairs.map((p) => p.project.endToEndEventsPerSecond)),
      minimalEndToEnd: median(pairs.map((p) => p.minimal.endToEndEventsPerSecond)),
      endToEndRatio: median(pairs.map((p) => p.endToEndRatio)),
      projectP99Ms: median(pairs.map((p) => p.project.latencyP99Ms)),
      minimalP99Ms: median(pairs.map((p) => p.minimal.latencyP99Ms)),
      p99Ratio: median(pairs.map((p) => p.p99Ratio)),
    },
  };
}

export interface BenchResult {
  startedAt: string;
  machine: { cpus: number; node: string };
  mode: string;
  floors: {
    collectorRps20: number;
    collectorRps1: number;
    anonymiseEventsPerSecondWarm: number;
    anonymiseEventsPerSecondCold: number;
    anonymiseMicrosPerEventWarm: number;
    anonymiseMicrosPerEventCold: number;
    storageRowsPerSecond: number;
  };
  runs: BenchRun[];
  comparison: Comparison;
  ratios: { collectorVsFloor20: number; collectorVsFloor1: number; endToEndVsStorageFloor: number };
  targets: Record<string, boolean>;
}

const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

export function markdownTable(r: BenchResult): string {
  const lines = [
    `## Bench ${r.startedAt} (${r.mode}, ${r.machine.cpus} cores, Node ${r.machine.node})`,
    '',
    '| run | req/s | accepted events/s | p50 ms | p99 ms | end-to-end events/s | drain lag s | max queue | aggregates lag s (max under load) | rows = accepted | peak RSS MB |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.runs.map(
      (x) =>
        `| ${x.label} | ${f(x.requestsPerSecond)} | ${f(x.acceptedEventsPerSecond)} | ${f(x.latencyP50Ms, 1)} | ${f(x.latencyP99Ms, 1)} | ${f(x.endToEndEventsPerSecond)} | ${f(x.drainLagSeconds, 1)} | ${f(Math.max(0, ...x.queueDepth.map((q) => q.waiting)))} | ${x.aggregateLagMaxSeconds === null ? '–' : f(x.aggregateLagMaxSeconds, 1)} | ${x.noLossNoDuplicates ? `yes (${f(x.rowsInClickHouse)})` : `**NO** (${f(x.rowsInClickHouse)} rows, ${f(x.distinctEventIds)} distinct, ${f(x.acceptedEvents)} accepted)`} | ${x.rss.map((p) => `${p.process} ${p.peakRssMb}`).join(', ')} |`,
    ),
    '',
    '| floor | value | pipeline ratio |',
    '|---|---|---|',
    `| bare node:http, 20 events/request | ${f(r.floors.collectorRps20)} req/s | collector ${f(r.ratios.collectorVsFloor20 * 100, 1)} % |`,
    `| bare node:http, 1 event/request | ${f(r.floors.collectorRps1)} req/s | collector ${f(r.ratios.collectorVsFloor1 * 100, 1)} % |`,
    `| anonymisation, one core, warm UA cache | ${f(r.floors.anonymiseEventsPerSecondWarm)} events/s (${f(r.floors.anonymiseMicrosPerEventWarm, 2)} µs/event) | |`,
    `| anonymisation, one core, cold UA cache | ${f(r.floors.anonymiseEventsPerSecondCold)} events/s (${f(r.floors.anonymiseMicrosPerEventCold, 2)} µs/event) | |`,
    `| direct batched insert (storage) | ${f(r.floors.storageRowsPerSecond)} rows/s | end-to-end ${f(r.ratios.endToEndVsStorageFloor * 100, 1)} % |`,
    '',
    ...comparisonTable(r.comparison),
    '',
    '| target | met |',
    '|---|---|',
    ...Object.entries(r.targets).map(([k, v]) => `| ${k} | ${v ? 'yes' : 'no'} |`),
    '',
  ];
  return lines.join('\n');
}

/** The comparison with the minimal pipeline, as markdown lines. */
export function comparisonTable(c: Comparison): string[] {
  return [
    `Against a minimal pipeline of the same stack (bench/minimal-pipeline.ts), 20 events/request, ${c.connections} connections, ${c.seconds} s, ${c.pairs.length} pair(s) in turn:`,
    '',
    '| pair | project end-to-end events/s | minimal end-to-end events/s | ratio | project p99 ms | minimal p99 ms | p99 ratio | accepted events/s project / minimal | peak RSS MB project / minimal | project aggregates lag s (max under load) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...c.pairs.map(
      (p, i) =>
        `| ${i + 1} | ${f(p.project.endToEndEventsPerSecond)} | ${f(p.minimal.endToEndEventsPerSecond)} | ${f(p.endToEndRatio, 2)} | ${f(p.project.latencyP99Ms, 1)} | ${f(p.minimal.latencyP99Ms, 1)} | ${f(p.p99Ratio, 2)} | ` +
        `${f(p.project.acceptedEventsPerSecond)} / ${f(p.minimal.acceptedEventsPerSecond)} | ${f(p.project.peakRssMb)} / ${f(p.minimal.peakRssMb)} | ` +
        `${p.project.aggregateLagMaxSeconds === null ? '–' : f(p.project.aggregateLagMaxSeconds, 1)} |`,
    ),
    `| **median** | ${f(c.median.projectEndToEnd)} | ${f(c.median.minimalEndToEnd)} | **${f(c.median.endToEndRatio, 2)}** | ${f(c.median.projectP99Ms, 1)} | ${f(c.median.minimalP99Ms, 1)} | **${f(c.median.p99Ratio, 2)}** | | | |`,
  ];
}
