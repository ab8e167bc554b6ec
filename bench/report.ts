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
  rss: { process: string; peakRssMb: number }[];
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
  ratios: { collectorVsFloor20: number; collectorVsFloor1: number; endToEndVsStorageFloor: number };
  targets: Record<string, boolean>;
}

const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

export function markdownTable(r: BenchResult): string {
  const lines = [
    `## Bench ${r.startedAt} (${r.mode}, ${r.machine.cpus} cores, Node ${r.machine.node})`,
    '',
    '| run | req/s | accepted events/s | p50 ms | p99 ms | end-to-end events/s | drain lag s | max queue | rows = accepted | peak RSS MB |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...r.runs.map(
      (x) =>
        `| ${x.label} | ${f(x.requestsPerSecond)} | ${f(x.acceptedEventsPerSecond)} | ${f(x.latencyP50Ms, 1)} | ${f(x.latencyP99Ms, 1)} | ${f(x.endToEndEventsPerSecond)} | ${f(x.drainLagSeconds, 1)} | ${f(Math.max(0, ...x.queueDepth.map((q) => q.waiting)))} | ${x.noLossNoDuplicates ? `yes (${f(x.rowsInClickHouse)})` : `**NO** (${f(x.rowsInClickHouse)} rows, ${f(x.distinctEventIds)} distinct, ${f(x.acceptedEvents)} accepted)`} | ${x.rss.map((p) => `${p.process} ${p.peakRssMb}`).join(', ')} |`,
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
    '| target | met |',
    '|---|---|',
    ...Object.entries(r.targets).map(([k, v]) => `| ${k} | ${v ? 'yes' : 'no'} |`),
    '',
  ];
  return lines.join('\n');
}
