#!/usr/bin/env node
/**
 * `npx activity-log <command>`: look at the log, follow it, export it, purge it, migrate it,
 * chart it, verify and erase, from a terminal or a script. The CLI's own entry: an app that
 * imports the library loads none of this, nor commander, cli-progress or picocolors.
 *
 * Exit codes: 0 done; 1 problems found (verify); 2 a wrong command or flag; 3 the command
 * failed (the database could not be reached or refused it, the output could not be written).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ActivityLogError } from '../../src/errors.js';
import type { IntegrityOptions } from '../../src/integrity/options.js';
import * as commands from './commands.js';
import { connect, connectionFailure, missingTable, notADatabase, storeOptionAsFlag, UsageError } from './connect.js';
import { flagMessage } from './filters.js';
import { FORMATS, stdoutTerminal } from './output.js';
import { hideSecrets } from './secrets.js';

// A password in a --db value (or ACTIVITY_LOG_DB) never reaches the terminal: everything
// written to stderr (the CLI's messages, commander's usage errors that quote an argument, a
// driver's error, Node's warnings) passes through hideSecrets. Standard output is left as it
// is: it carries the log's records, which must stay exact.
const secretSources = [...process.argv.slice(2).map((arg) => arg.replace(/^--?[a-z-]+=/i, '')), process.env.ACTIVITY_LOG_DB];
const writeStderr = process.stderr.write.bind(process.stderr) as (chunk: unknown, ...rest: unknown[]) => boolean;
process.stderr.write = ((chunk: unknown, ...rest: unknown[]) =>
  writeStderr(typeof chunk === 'string' ? hideSecrets(chunk, secretSources) : chunk, ...rest)) as typeof process.stderr.write;
// Node prints an uncaught error's stack straight to the file descriptor, past the above: the
// message alone, through it, then.
process.on('uncaughtException', (error) => {
  process.stderr.write(`activity-log: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(3);
});

interface GlobalFlags {
  db?: string;
  table?: string;
  schema?: string;
  color?: boolean;
}

/**
 * This package's version, from its package.json: the nearest one named activity-log above this
 * module (dist/cli/ when installed, adapters/cli/ in a checkout).
 */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++, dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'activity-log' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No package.json here: look further up.
    }
  }
  return 'unknown';
}

const program = new Command('activity-log')
  .description('Query, follow, export, purge, migrate, chart, verify and erase an activity-log store.')
  .version(packageVersion(), '-V, --version', 'the version of activity-log')
  .addOption(new Option('--db <url>', 'the store: sqlite:FILE, postgres://..., mysql://...').env('ACTIVITY_LOG_DB'))
  .option('--table <name>', 'the activity table', undefined)
  .option('--schema <name>', "the table's PostgreSQL schema or MySQL database (default: the connection's own)", undefined)
  .option('--no-color', 'no colours in the output')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const filterOptions = (command: Command) =>
  command
    .option('--since <when>', 'records at or after: a duration back from now (15m, 2h, 1h30m, 7d) or a date')
    .option('--until <when>', 'records before: a duration back from now or a date')
    .option('--actor <id>', "the actor's id")
    .option('--actor-type <type>', "the actor's type (user, admin, system...)")
    .option('--action <action>', 'an action, or every action under a prefix (recipe.*)')
    .addOption(new Option('--status <status>', 'the outcome').choices(['success', 'failure', 'denied']))
    .option('--target <type[:id]>', 'the target: a type, or TYPE:ID')
    .option('--tenant <id>', 'the tenant')
    .option('--request-id <id>', 'the records of one request (context.requestId)')
    .option('--trace-id <id>', 'the records of one trace (context.traceId)')
    .option('--search <text>', 'free text over action, actor name and target name (A-Z in either case; no index is used)')
    .option('--metadata <key=value>', 'a metadata field: KEY=TEXT, or KEY:=NUMBER|true|false (repeatable)', (value: string, previous: string[] = []) => [...previous, value]);

const keyOptions = (command: Command) =>
  command
    .option('--key-env <name>', 'the environment variable holding the integrity key (never pass a key as an argument)', 'ACTIVITY_LOG_KEY')
    .option('--key-id <id>', 'the id of that key', 'k1')
    .option('--keys-env <name>', 'an environment variable holding earlier keys as JSON {"k0":"..."}')
    .option('--personal <keys>', 'metadata keys that hold personal data, comma-separated');

/** Runs a command with a logger over the store; maps failures to exit codes. */
function action<F extends object>(
  run: (logger: ReturnType<typeof commands.cliLogger>, flags: F, out: ReturnType<typeof stdoutTerminal>) => Promise<number>,
  needsKey: 'key' | 'optional-key' | 'no-key' = 'no-key',
) {
  return async (flags: F, command: Command) => {
    const global = command.optsWithGlobals() as GlobalFlags & F & KeyFlags;
    const connection = await connect(global.db, global.table, command.name() === 'migrate', global.schema);
    let logger: ReturnType<typeof commands.cliLogger>;
    try {
      logger = commands.cliLogger(connection.store, integrityFrom(global, needsKey));
    } catch (error) {
      await connection.store.close?.();
      throw keyOptionAsFlag(error, global) ?? error;
    }
    try {
      process.exitCode = await run(logger, { ...global, ...flags }, stdoutTerminal(global.color === false));
    } catch (error) {
      throw missingTable(error, connection, global.table, global.schema) ?? storeOptionAsFlag(error) ?? notADatabase(error, connection) ?? connectionFailure(error, connection) ?? error;
    } finally {
      await logger.close();
    }
  };
}

interface KeyFlags {
  keyEnv?: string;
  keyId?: string;
  keysEnv?: string;
  personal?: string;
}

/**
 * The library's refusal of an integrity option (`integrity.key: must be … at least 16 bytes`)
 * as the flag or variable that gave it: `--key-env: the key in ACTIVITY_LOG_KEY must be …`.
 */
function keyOptionAsFlag(error: unknown, flags: KeyFlags): UsageError | undefined {
  const message = error instanceof ActivityLogError && error.code === 'INVALID_OPTIONS' ? error.message : '';
  const found = /^integrity\.(keyId|keys|key|personal)(?:\.([^:]+))?: (.*)$/s.exec(message);
  if (!found) return undefined;
  const [, field, member, rule] = found;
  if (field === 'key') return new UsageError(`--key-env: the key in ${flags.keyEnv} ${rule}`);
  if (field === 'keys') return new UsageError(`--keys-env: ${member ? `the key "${member}" in ` : ''}${flags.keysEnv} ${rule}`);
  return new UsageError(`${field === 'keyId' ? '--key-id' : '--personal'}: ${rule}`);
}

function integrityFrom(flags: KeyFlags, needs: 'key' | 'optional-key' | 'no-key'): IntegrityOptions | undefined {
  if (needs === 'no-key') return undefined;
  const key = flags.keyEnv ? process.env[flags.keyEnv] : undefined;
  if (!key) {
    if (needs === 'optional-key') return undefined;
    throw new UsageError(`--key-env: the environment variable ${flags.keyEnv} holds no key (the integrity key the records were sealed with)`);
  }
  let keys: Record<string, string> | undefined;
  if (flags.keysEnv) {
    try {
      keys = JSON.parse(process.env[flags.keysEnv] ?? '') as Record<string, string>;
    } catch {
      throw new UsageError(`--keys-env: ${flags.keysEnv} must hold JSON like {"k0":"..."}`);
    }
  }
  const personal = flags.personal ? flags.personal.split(',').map((name) => name.trim()).filter(Boolean) : undefined;
  return { key, keyId: flags.keyId, ...(keys ? { keys } : {}), ...(personal ? { personal } : {}) };
}

filterOptions(program.command('query').description('one page of records, newest first'))
  .addOption(new Option('--format <format>', 'output format').choices([...FORMATS]).default('table'))
  .option('--limit <n>', 'records per page (at most 500)', '50')
  .option('--cursor <cursor>', 'the page after the one that printed this cursor')
  .action(action(commands.query));

filterOptions(program.command('tail').description('the latest records, oldest first; with -f, every new one as it is written'))
  .option('-f, --follow', 'keep printing records as they are written, from any process, until Ctrl-C')
  .option('-n, --lines <n>', 'how many of the latest records to print first', '10')
  .option('--interval <ms>', 'how often to look for new records when following', '1000')
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'ndjson', 'csv']).default('table'))
  .action(action(commands.tail));

filterOptions(program.command('export').description('every matching record to a file, with progress on a terminal'))
  .addOption(new Option('--format <format>', 'file format').choices(['ndjson', 'csv']).default('ndjson'))
  .requiredOption('--out <file>', 'where to write ("-" for standard output)')
  .action(action(commands.exportRecords));

program
  .command('purge')
  .description('delete records older than --before, in short batches')
  .requiredOption('--before <age|date>', 'records older than this go: 90d, 12w, or a date')
  .option('--tenant <id>', "only this tenant's records")
  .option('--action <action>', 'only this action, or a prefix (recipe.*)')
  .option('--dry-run', 'say how many records would be deleted, and delete none')
  .action(action(commands.purge));

program
  .command('migrate')
  .description("create or upgrade the store's tables (idempotent)")
  .action(
    action(async (logger, _flags, out) => {
      if (!logger.store.migrate) throw new UsageError(`migrate: store "${logger.store.name}" has nothing to migrate`);
      await logger.store.migrate();
      // Said the same whether it created the tables, upgraded them or found them current:
      // migrate() is idempotent and does not tell which it did.
      out.write('the store\'s tables are at the current schema version (created or upgraded if they were not)\n');
      return 0;
    }),
  );

filterOptions(program.command('stats').description('how many records, by action, status, actor type, hour or day, as a chart'))
  .addOption(new Option('--by <dimension>', 'what to group by').choices(['action', 'status', 'actorType', 'hour', 'day']).default('action'))
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
  .action(action(commands.stats));

keyOptions(program.command('verify').description("check the hash chains (exit code 1 when anything is found)"))
  .option('--since <when>', 'records at or after')
  .option('--until <when>', 'records before')
  .option('--chain <id>', 'only this chain')
  .option('--checkpoints <file>', 'checkpoints kept outside the database (NDJSON, as onCheckpoint wrote them)')
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
  .action(action(commands.verify, 'key'));

keyOptions(program.command('erase').description("erase one subject's personal values, keeping what the hash chains need"))
  .option('--actor <id>', 'an actor: their name, IP and user agent in the records they made')
  .option('--target <type:id>', "a target: its name in the records about it")
  .option('--tenant <id>', "a tenant: everything personal in its records")
  .action(action(commands.erase, 'optional-key'));

/**
 * Refuses a flag that takes one value given twice (`purge --before 90d --before 1d`,
 * `erase --actor a --actor b`): commander keeps the last without a word, so a repeated line
 * pasted at 3 a.m. purged or erased what its last flag said. Only `--metadata` is repeatable.
 * A value from the environment (`ACTIVITY_LOG_DB`) is only read when the flag is not given.
 */
function refuseRepeatedFlags(command: Command): void {
  for (const option of command.options) {
    if (!(option.required || option.optional) || option.variadic || option.long === '--metadata') continue;
    const parse = option.parseArg;
    let given: string | undefined;
    option.argParser((value: string, previous: unknown) => {
      if (given !== undefined) throw new InvalidArgumentError(`given twice (${JSON.stringify(given)}, then ${JSON.stringify(value)}): give it once`);
      given = value;
      return parse ? parse(value, previous) : value;
    });
  }
  for (const sub of command.commands) refuseRepeatedFlags(sub);
}
refuseRepeatedFlags(program);

// The reader of a pipe left (`| head`): stop quietly, as other command-line tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof commands.ReaderLeft) {
    process.exitCode = 0;
  } else if (error instanceof CommanderError) {
    // Help asked for and the version are not failures; commander printed what it had to say.
    // Help shown because no command was given (exit code 1 in commander's terms) is a usage error.
    const asked = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || (error.code === 'commander.help' && error.exitCode === 0);
    process.exitCode = asked ? 0 : 2;
  } else if (error instanceof UsageError || (error instanceof ActivityLogError && (error.code === 'INVALID_QUERY' || error.code === 'INVALID_OPTIONS'))) {
    process.stderr.write(`activity-log: ${flagMessage(error) ?? error.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`activity-log: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 3;
  }
}
