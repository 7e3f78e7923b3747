/** What `verify()` found wrong, by kind. */
export type IntegrityProblemKind = 'edited' | 'missing' | 'reordered' | 'truncated' | 'unknown-key' | 'unsealed' | 'erased';

/** One finding of `verify()`. */
export interface IntegrityProblem {
  kind: IntegrityProblemKind;
  /** The record it is about, when it is about one. */
  id?: string;
  chain?: string;
  seq?: number;
  detail: string;
}
