/**
 * Login throttling: after a few wrong passwords for one account, or many from one client,
 * further attempts are refused for a while, the right password included (otherwise the
 * throttle would tell a guesser when it guessed right). Counted in memory, per process: a
 * cluster would keep the counts in a shared store such as Redis.
 */
export interface LoginThrottleOptions {
  /** Failed attempts per account within `windowMs` before its logins are refused. @default 5 */
  perAccount?: number;
  /** Failed attempts per client address within `windowMs` before its logins are refused. @default 20 */
  perClient?: number;
  /** How long a failure counts. @default 900000 (15 minutes) */
  windowMs?: number;
  /** The clock, for tests. @default Date.now */
  now?: () => number;
}

export interface LoginThrottle {
  /** Seconds until a login for `account` from `client` may be tried again, or 0 when it may be tried now. */
  retryAfter(account: string, client: string | undefined): number;
  /** Counts a failed attempt. */
  failed(account: string, client: string | undefined): void;
  /** A successful login clears the account's failures (not the client's). */
  succeeded(account: string): void;
}

/** Keys kept at most, per kind: an attacker spraying accounts cannot grow the maps without bound. */
const MAX_KEYS = 50_000;

export function createLoginThrottle({ perAccount = 5, perClient = 20, windowMs = 15 * 60_000, now = Date.now }: LoginThrottleOptions = {}): LoginThrottle {
  const accounts = new Map<string, number[]>();
  const clients = new Map<string, number[]>();

  /** The failures of `key` still inside the window, oldest first. */
  const recent = (map: Map<string, number[]>, key: string): number[] => {
    const times = map.get(key);
    if (!times) return [];
    const from = now() - windowMs;
    while (times.length > 0 && times[0]! <= from) times.shift();
    if (times.length === 0) map.delete(key);
    return times;
  };

  /** Seconds until the oldest of the last `limit` failures leaves the window. */
  const wait = (times: number[], limit: number): number => {
    if (times.length < limit) return 0;
    const oldestThatCounts = times[times.length - limit]!;
    return Math.max(1, Math.ceil((oldestThatCounts + windowMs - now()) / 1000));
  };

  const add = (map: Map<string, number[]>, key: string, limit: number) => {
    const times = recent(map, key);
    times.push(now());
    // Only the last `limit` failures decide; older ones need not be kept.
    if (times.length > limit) times.splice(0, times.length - limit);
    map.delete(key);
    map.set(key, times);
    if (map.size > MAX_KEYS) map.delete(map.keys().next().value!);
  };

  return {
    retryAfter(account, client) {
      return Math.max(wait(recent(accounts, account), perAccount), client ? wait(recent(clients, client), perClient) : 0);
    },
    failed(account, client) {
      add(accounts, account, perAccount);
      if (client) add(clients, client, perClient);
    },
    succeeded(account) {
      accounts.delete(account);
    },
  };
}
