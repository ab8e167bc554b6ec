/** The collector floor: a bare node:http server that reads and JSON-parses the body and answers 202. */
import http from 'node:http';

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200).end('ok');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let n = 0;
    try {
      n = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: unknown[] }).events.length;
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(202, { 'Content-Type': 'application/json' }).end(`{"accepted":${n},"rejected":[]}`);
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
