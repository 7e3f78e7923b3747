import { describe, expect, it } from 'vitest';
import { loadPeer } from '../../adapters/storage/peer.js';
import { isActivityLogError } from '../../src/errors.js';

describe('optional peer loading', () => {
  it('names the package to install when a driver is missing', async () => {
    const error = await loadPeer('activity-log-no-such-driver', 'sqlite').catch((e: unknown) => e);
    expect(isActivityLogError(error, 'MISSING_PEER')).toBe(true);
    expect((error as Error).message).toBe(
      'activity-log/sqlite needs activity-log-no-such-driver: npm install activity-log-no-such-driver',
    );
    expect((error as Error).cause).toBeDefined();
  });

  it('loads an installed driver', async () => {
    const kysely = await loadPeer<typeof import('kysely')>('kysely', 'kysely');
    expect(typeof kysely.Kysely).toBe('function');
  });
});
