import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when the module at `metaUrl` is the script node was started with. */
export function isEntry(metaUrl: string): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  const self = fileURLToPath(metaUrl);
  const started = path.resolve(argv1);
  return self === started || self.replace(/\.ts$/, '') === started.replace(/\.(ts|js)$/, '');
}
