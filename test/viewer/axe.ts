import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';

/**
 * The accessibility problems axe-core finds on the page as it is now that are serious or
 * critical, one line each (`rule: n nodes, first at <selector>`): an empty list is a pass.
 */
export async function seriousAxeViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id}: ${violation.nodes.length} nodes, first at ${violation.nodes[0]?.target.join(' ')}`);
}
