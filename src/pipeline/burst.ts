import type { ActivityLogError } from '../errors.js';

/**
 * "Count now, report once later": the first `note()` of a burst schedules one report after the
 * caller's turn (a `log()` must not call `onError` from inside itself), which states how many
 * were noted by then; later notes of the same burst are only counted (in `stats()`). A burst
 * ends when it is reported (`endsWhenReported`) or when `end()` is called; a burst that ends
 * before its report fires is still reported, with what it noted.
 */
export class BurstReport {
  private noted = 0;
  /** A burst is under way: its first note scheduled the report. */
  private open = false;
  /** The report has not fired yet. */
  private pending = false;
  /** end() came while the report was pending: the burst closes when it fires. */
  private endAfterReport = false;

  constructor(
    private readonly describe: (count: number) => ActivityLogError,
    private readonly report: (error: ActivityLogError) => void,
    private readonly endsWhenReported: boolean,
  ) {}

  note(): void {
    this.noted++;
    if (this.open) return;
    this.open = true;
    this.pending = true;
    setTimeout(() => {
      this.pending = false;
      const count = this.noted;
      if (this.endsWhenReported || this.endAfterReport) this.close();
      this.report(this.describe(count));
    }, 0);
  }

  /** Ends the burst: the next `note()` starts another, reported again. */
  end(): void {
    if (!this.open) return;
    if (this.pending) this.endAfterReport = true;
    else this.close();
  }

  private close(): void {
    this.open = false;
    this.noted = 0;
    this.endAfterReport = false;
  }
}
