import type { ActivityLogError } from '../errors.js';

/**
 * "Count now, report once later": the first `note()` of a burst schedules one report after the
 * caller's turn (a `log()` must not call `onError` from inside itself), which states how many
 * were noted by then; later notes of the same burst are only counted (in `stats()`). A burst
 * ends when it is reported (`endsWhenReported`) or when `end()` is called.
 */
export class BurstReport {
  private noted = 0;
  private open = false;

  constructor(
    private readonly describe: (count: number) => ActivityLogError,
    private readonly report: (error: ActivityLogError) => void,
    private readonly endsWhenReported: boolean,
  ) {}

  note(): void {
    this.noted++;
    if (this.open) return;
    this.open = true;
    setTimeout(() => {
      const count = this.noted;
      if (this.endsWhenReported) this.end();
      this.report(this.describe(count));
    }, 0);
  }

  /** Ends the burst: the next `note()` is reported again. */
  end(): void {
    this.open = false;
    this.noted = 0;
  }
}
