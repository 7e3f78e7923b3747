/**
 * An app that registers its logger in ActivityLogRegister: checked by test/types/registered.test.ts
 * with its own `tsc` program (the augmentation is global, so it must not reach the other
 * tests). Every `@ts-expect-error` must meet an error, or the program fails.
 */
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { z } from 'zod';
import { activityMiddleware as expressActivity } from '../../../adapters/frameworks/express.js';
import { activityPlugin } from '../../../adapters/frameworks/fastify.js';
import { activityMiddleware as honoActivity } from '../../../adapters/frameworks/hono.js';
import { memoryStore } from '../../../adapters/storage/memory.js';
import { createActivityLogger, currentActivity, tryCurrentActivity } from '../../../src/index.js';

export const activity = createActivityLogger({
  store: memoryStore(),
  catalog: {
    'recipe.view': z.object({ servings: z.number() }),
    'user.logout': z.object({}).optional(),
  },
});

declare global {
  interface ActivityLogRegister {
    logger: typeof activity;
  }
}

const expressApp = express();
expressApp.use(expressActivity(activity));
expressApp.get('/recipes/:id', (req, res) => {
  req.activity.log({ action: 'recipe.view', target: { type: 'recipe', id: req.params.id }, metadata: { servings: 4 } });
  req.activity.log({ action: 'user.logout' });
  // @ts-expect-error servings must be a number
  req.activity.log({ action: 'recipe.view', metadata: { servings: 'four' } });
  // @ts-expect-error actions outside the catalog are refused
  req.activity.log({ action: 'recipe.veiw', metadata: { servings: 4 } });
  req.activity = req.activity.with({ metadata: { plan: 'pro' } });
  res.json({});
});

const fastify = Fastify();
void fastify.register(activityPlugin, { logger: activity });
fastify.get('/recipes/:id', async (request) => {
  request.activity.log({ action: 'recipe.view', metadata: { servings: 2 } });
  // @ts-expect-error metadata is required for recipe.view
  request.activity.log({ action: 'recipe.view' });
  return {};
});

const hono = new Hono();
hono.use(honoActivity(activity));
hono.get('/recipes/:id', (c) => {
  c.get('activity').log({ action: 'recipe.view', metadata: { servings: 1 } });
  // @ts-expect-error actions outside the catalog are refused
  c.get('activity').log({ action: 'plan.generate' });
  return c.json({});
});

export async function deepInTheApp(): Promise<void> {
  currentActivity().log({ action: 'user.logout' });
  // @ts-expect-error servings is required
  currentActivity().log({ action: 'recipe.view', metadata: {} });
  tryCurrentActivity()?.log({ action: 'recipe.view', metadata: { servings: 3 } });
  // @ts-expect-error actions outside the catalog are refused
  tryCurrentActivity()?.log({ action: 'plan.generate' });
}
