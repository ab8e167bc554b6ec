/**
 * The output formats POST /query serves, and how a streamed result is put
 * together in each. The engine formats a streamed result one block at a
 * time; a format whose blocks simply follow one another (row formats,
 * Native, RowBinary) is passed through byte for byte. A format with a header
 * (CSVWithNames …) repeats it in every block, so the header lines of later
 * blocks are dropped. Formats that frame the whole result (JSON, Parquet,
 * Arrow, ORC, Avro, XML, …) cannot be streamed block by block and are
 * refused with a list of what is served, rather than sent corrupted.
 */

export interface OutputFormat {
  /** The engine's name for it. */
  name: string;
  contentType: string;
  /** Lines of header every block repeats (dropped from the second block on). */
  headerLines: number;
}

const table: [string, string, number][] = [
  ['JSONEachRow', 'application/x-ndjson', 0],
  ['JSONLines', 'application/x-ndjson', 0],
  ['NDJSON', 'application/x-ndjson', 0],
  ['JSONStringsEachRow', 'application/x-ndjson', 0],
  ['JSONCompactEachRow', 'application/x-ndjson', 0],
  ['JSONCompactEachRowWithNames', 'application/x-ndjson', 1],
  ['JSONCompactEachRowWithNamesAndTypes', 'application/x-ndjson', 2],
  ['CSV', 'text/csv; charset=utf-8', 0],
  ['CSVWithNames', 'text/csv; charset=utf-8', 1],
  ['CSVWithNamesAndTypes', 'text/csv; charset=utf-8', 2],
  ['TSV', 'text/tab-separated-values; charset=utf-8', 0],
  ['TabSeparated', 'text/tab-separated-values; charset=utf-8', 0],
  ['TSVRaw', 'text/tab-separated-values; charset=utf-8', 0],
  ['TSVWithNames', 'text/tab-separated-values; charset=utf-8', 1],
  ['TabSeparatedWithNames', 'text/tab-separated-values; charset=utf-8', 1],
  ['TSVWithNamesAndTypes', 'text/tab-separated-values; charset=utf-8', 2],
  ['TabSeparatedWithNamesAndTypes', 'text/tab-separated-values; charset=utf-8', 2],
  ['Native', 'application/octet-stream', 0],
  ['RowBinary', 'application/octet-stream', 0],
  // For people at a terminal: one table per block of the result.
  ['Pretty', 'text/plain; charset=utf-8', 0],
  ['PrettyCompact', 'text/plain; charset=utf-8', 0],
  ['PrettyCompactMonoBlock', 'text/plain; charset=utf-8', 0],
  ['PrettySpace', 'text/plain; charset=utf-8', 0],
  ['PrettyNoEscapes', 'text/plain; charset=utf-8', 0],
  ['PrettyCompactNoEscapes', 'text/plain; charset=utf-8', 0],
];

const FORMATS = new Map(table.map(([name, contentType, headerLines]) => [name.toLowerCase(), { name, contentType, headerLines }]));

export const FORMAT_NAMES: readonly string[] = table.map(([n]) => n);

/** The format for a `?format=` value (any case), or undefined. */
export function outputFormat(name: string): OutputFormat | undefined {
  return FORMATS.get(name.toLowerCase());
}

/** Drops the first `lines` lines of a block (a header repeated by a later block). */
export function dropHeader(chunk: Uint8Array, lines: number): Uint8Array {
  let at = 0;
  for (let i = 0; i < lines; i++) {
    const nl = chunk.indexOf(10, at);
    if (nl < 0) return new Uint8Array(0);
    at = nl + 1;
  }
  return chunk.subarray(at);
}
