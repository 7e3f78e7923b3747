/**
 * A TCP proxy on 127.0.0.1 (a random port) in front of a database, whose behaviour a test
 * switches while the store uses it: the network faults a shared local database cannot be made
 * to have for real without stopping it for every other test.
 */
import { createServer, connect, type Socket } from 'node:net';

/**
 * What the proxy does with the bytes of each connection.
 * - `pass`: forwards both ways.
 * - `blackhole`: accepts and reads, never answers nor forwards (a hung server, packets dropped
 *   without a reset). A connection that saw this mode stays dead after `pass` comes back, as a
 *   TCP connection whose bytes were lost stays stuck: only new connections recover.
 * - `reset`: resets (RST) every connection at its next byte, and each new one at once.
 * - `delay`: forwards each chunk after `delayMs`.
 * - `cut-after-insert`: forwards until the client sends a statement starting with
 *   `insert`, forwards that statement, then kills the connection before its reply comes back
 *   (the statement may commit; the client cannot know).
 * - `refuse-new`: new connections are reset as they come, while open ones hang as in `blackhole`.
 */
export type ProxyMode = 'pass' | 'blackhole' | 'reset' | 'delay' | 'cut-after-insert' | 'refuse-new';

export interface NetworkProxy {
  readonly port: number;
  /** The connection string `url` with its host and port made the proxy's. */
  through(url: string): string;
  /** Switches the mode; `delayMs` for `delay`. */
  set(mode: ProxyMode, options?: { delayMs?: number }): void;
  /** Connections accepted since the proxy started. */
  readonly accepted: number;
  /** Connections open now (the client's side still connected to the proxy). */
  readonly open: number;
  /** Inserts cut off before their reply (`cut-after-insert`). */
  readonly cutInserts: number;
  close(): Promise<void>;
}

/** Starts a proxy in `pass` mode to `targetPort` on 127.0.0.1. */
export async function networkProxy(targetPort: number): Promise<NetworkProxy> {
  let mode: ProxyMode = 'pass';
  let delayMs = 0;
  let accepted = 0;
  let cutInserts = 0;
  const pairs = new Set<{ client: Socket; upstream: Socket }>();

  const server = createServer((client) => {
    accepted++;
    client.on('error', () => undefined);
    if (mode === 'reset' || mode === 'refuse-new') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    upstream.on('error', () => undefined);
    const pair = { client, upstream };
    pairs.add(pair);
    /** Set once the connection saw a black hole: it never carries another byte. */
    let dead = mode === 'blackhole';
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    const forward = (to: Socket, chunk: Buffer) => {
      if (mode === 'delay') setTimeout(() => to.destroyed || to.write(chunk), delayMs);
      else to.write(chunk);
    };
    /** Whether a chunk, either way, goes no further: a black hole swallows it, a reset ends the pair. */
    const stopped = () => {
      if (mode === 'blackhole' || mode === 'refuse-new') dead = true;
      if (dead) return true;
      if (mode !== 'reset') return false;
      client.resetAndDestroy();
      upstream.destroy();
      return true;
    };
    client.on('data', (chunk: Buffer) => {
      if (stopped()) return;
      if (mode === 'cut-after-insert' && isInsert(chunk)) {
        // The statement reaches the database; the reply never reaches the client.
        dead = true;
        cutInserts++;
        upstream.write(chunk);
        setTimeout(() => client.resetAndDestroy(), 20);
        return;
      }
      forward(upstream, chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!stopped()) forward(client, chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    through(url) {
      const target = new URL(url);
      target.host = `127.0.0.1:${port}`;
      return target.toString();
    },
    set(next, options) {
      mode = next;
      delayMs = options?.delayMs ?? 0;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    get cutInserts() {
      return cutInserts;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await closed;
    },
  };
}

/**
 * Whether a chunk the client sent holds an insert: PostgreSQL's simple or extended query
 * ('Q' or 'P' message) or MySQL's COM_QUERY / COM_STMT_PREPARE, found by its text.
 */
function isInsert(chunk: Buffer): boolean {
  return /\binsert\s+(ignore\s+)?into\b/i.test(chunk.toString('latin1'));
}
