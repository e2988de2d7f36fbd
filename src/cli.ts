#!/usr/bin/env node
/**
 * purezmq command line: a Majordomo broker, and a client, worker and MMI query to try it from a shell.
 *
 *   purezmq broker  [--bind EP]... [--dialects LIST | --strict] [--config FILE] [--log-format human|json] [--log-level LEVEL]
 *   purezmq request <service> [body...]
 *   purezmq worker  <service> --exec <command>
 *   purezmq mmi     <query> [arg]
 *   purezmq dlq     list|replay|purge [UUID...|--all]
 *   purezmq titanic request|reply|close|call ...
 *   purezmq keygen  NAME [--metadata key=value]... [--force] [--json]
 *
 * Exit codes (stable, for scripts): see EXIT below and `purezmq --help`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readCertificateFile, newCertificate, writeCertificatePair } from './mdp/security/certfile.ts';
import type { PeerCurveOptions } from './mdp/security/peer.ts';
import type { ClusterView } from './mdp/cluster/hook.ts';
import { parseArgs } from 'node:util';
import {
  Broker,
  Client,
  Worker,
  createLogger,
  boundedSink,
  isMdpError,
  MdpErrorCode,
  MdpError,
  serviceError,
  TitanicClient,
  TitanicStatus,
  type DeadLetterPage,
  MmiService,
  resolveConfig,
  SCHEMA,
  envName,
  cliFlag,
  snakeName,
  flatFields,
  groupedValues,
  BROKER_VERSION,
  type Logger,
  type MdpConfig,
  type RawLayer,
  type BrokerMetrics,
  type ClientOptions,
  type ServiceMetrics,
  type ServicePage,
} from './mdp/mod.ts';
import { z85 } from './mod.ts';

/** Exit codes scripts can rely on. */
export const EXIT = {
  OK: 0,
  /** Unexpected failure, or the broker could not bind. */
  FAILURE: 1,
  /** Bad command line or configuration. */
  USAGE: 2,
  /** No connection to the broker could be made. */
  UNREACHABLE: 3,
  /** The broker was reached but no reply came in time (after retries), or a stream stopped mid-way. */
  TIMEOUT: 4,
  /** The service has no worker (mmi.service 404), the broker does not know the MMI query (501), or a Titanic UUID is unknown or dead-lettered (400). */
  NOT_FOUND: 5,
  /** Titanic: the request is stored but not answered yet (300). */
  PENDING: 6,
  /** The worker replied that the request failed (purezmq's error reply: a failed or timed-out --exec command). */
  SERVICE_FAILED: 7,
  /** The broker's access policy denied the request (its denial answer, MDP_ACCESS_DENIED). */
  DENIED: 8,
  /** The broker refused this peer's credentials in the handshake (unknown CURVE key, bad PLAIN password). */
  AUTH_REFUSED: 9,
} as const;

const EXIT_HELP = `Exit codes:
  0  success
  1  unexpected failure (for example the broker could not bind its endpoint)
  2  bad command line or configuration (one message per bad field on stderr)
  3  broker unreachable (no connection in any attempt)
  4  timeout (broker reached, no reply after every retry, or --stream output stopped mid-way)
  5  service not found (mmi.service 404), MMI query unknown to the broker (501), or Titanic UUID unknown
     or dead-lettered (400)
  6  Titanic request stored but not answered yet (300)
  7  the service replied that the request failed (a 'purezmq worker --exec' command that failed or
     timed out; details on stderr)
  8  access denied: the broker's access policy does not let this peer call the service
  9  authentication refused: the broker does not accept this peer's CURVE key or PLAIN password`;

type Section = keyof MdpConfig;
type FlagSpec = { type: 'string' | 'boolean'; multiple?: boolean; short?: string };

class UsageError extends Error {}

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
};
const err = (s: string): void => {
  process.stderr.write(s.endsWith('\n') ? s : s + '\n');
};


/** Fields whose flag may be repeated (each occurrence adds to the list). `broker`: a client's or worker's brokers, in failover order. */
const REPEATABLE = new Set(['bind', 'dialects', 'allow', 'deny', 'broker', 'peer']);

function sectionFlags(section: Section): Record<string, FlagSpec> {
  const flags: Record<string, FlagSpec> = {};
  for (const key of flatFields(section)) {
    flags[cliFlag(section, key)] = REPEATABLE.has(key) ? { type: 'string', multiple: true } : { type: 'string' };
  }
  return flags;
}

const COMMON_FLAGS: Record<string, FlagSpec> = {
  help: { type: 'boolean', short: 'h' },
  config: { type: 'string', short: 'c' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
};

function sectionHelp(section: Section): string {
  const lines: string[] = [];
  for (const [key, field] of Object.entries(SCHEMA[section] as Record<string, { help: string; yamlOnly?: boolean }>)) {
    if (field.yamlOnly) continue;
    const flag = `--${cliFlag(section, key)}${key === 'bind' || key === 'broker' ? ' EP' : key === 'dialects' ? ' LIST' : ' V'}`;
    lines.push(`  ${flag.padEnd(30)} ${field.help} [${envName(section, key)}, ${section}.${snakeName(key)}]`);
  }
  return lines.join('\n');
}

const COMMON_HELP = `  -c, --config FILE              YAML file (sections broker, client, worker, log) [PUREZMQ_CONFIG]
  --log-level LEVEL              silent, error, warn, info or debug [PUREZMQ_LOG_LEVEL]
  --log-format FORMAT            human or json [PUREZMQ_LOG_FORMAT]
  -h, --help                     this help
Precedence: defaults < config file < PUREZMQ_* environment < flags. Durations: 2500, 2500ms, 2.5s, 1m, 1d. Sizes: 65536, 64KiB, 16MiB, 1GiB.`;

const HELP: Record<string, string> = {
  main: `purezmq ${BROKER_VERSION}: ZeroMQ in pure TypeScript, with a Majordomo (MDP 0.1/0.2) broker
that also serves the majortomo and plantd dialects.

Usage: purezmq <command> [options]

Commands:
  broker                 run a Majordomo broker (default tcp://127.0.0.1:5555)
  request <service> ...  send one request and print the reply
  worker <service>       serve a service by running a shell command per request
  mmi <query>            ask the broker (services, service NAME, workers [NAME], heartbeat, broker, cluster)
  dlq list|replay|purge  the broker's dead-letter queue
  titanic request|reply|close|call
                         Titanic (RFC 9): persistent requests the broker stores and runs for you
  keygen NAME            write a CURVE key pair as czmq certificates (NAME and NAME_secret)

Run 'purezmq <command> --help' for the options of each command.

${EXIT_HELP}`,
  broker: `Usage: purezmq broker [--bind EP]... [options]

Runs a Majordomo broker serving clients and workers on one ROUTER socket, in every dialect by default:
rfc18 (MDP/0.2), rfc7 (MDP/0.1), majortomo and plantd. Each peer's dialect is recognised from its
messages and answered in it; a client of one dialect is served by a worker of any other.
Prints one line per bound endpoint on stdout ("listening on EP"); logs go to stderr.
SIGTERM or SIGINT: stops taking requests, keeps dispatching queued ones to idle workers and lets in-flight
ones finish (shutdown grace), exits 0; a second signal exits 1 at once.

Options:
${sectionHelp('broker')}
  --strict                       accept the RFC dialects only (same as --dialects rfc); other dialects
                                 are refused without an answer, logged and counted
  --repair                       journal: move a damaged segment to DATA_DIR/quarantine and start with
                                 what can be read, instead of refusing to start
  --print-config                 print the effective configuration as YAML and exit
${COMMON_HELP}

Security (YAML broker.security, PUREZMQ_BROKER_*): --curve-cert FILE makes every endpoint CURVE with
the broker's secret certificate ('purezmq keygen broker'); --curve-clients DIR admits the clients whose
certificates are in DIR (re-read when it changes; 'any' admits every key); --plain-passwords FILE is
PLAIN instead; --allow/--deny CIDR filter addresses. --access-policy FILE (or broker.access in the config
file) says who may request and who may serve each service; it is re-read when it changes (and on
SIGHUP), and a bad new version is refused with the old one kept. A denied request gets the broker's
denial answer (service mmi.denied, 403), a denied READY gets DISCONNECT. See README "Securing the broker".

Durable requests: without --data-dir the broker keeps requests in memory (Titanic too), and nothing
survives a restart. With --data-dir DIR, every request is journalled before it is dispatched, a
Titanic 200 is given once the request is on disk, and after a crash (even kill -9) requests without a
reply are queued again. Workers dying with a request make it run again after a backoff (at-least-once),
up to --max-retries; then, or past --request-ttl, it goes to the dead letters ('purezmq dlq').
With --store nats://HOST:PORT[,…] (not with --data-dir) requests are kept in NATS JetStream instead,
shared by every broker that names the same store: a Titanic request any of them acknowledged is run
by whichever has a worker for it, and answered by all of them (README "Replicated store on NATS JetStream").

${EXIT_HELP}`,
  request: `Usage: purezmq request <service> [body...] [options]

Sends one request; each body argument is one frame ('-' reads stdin as one frame; no body = one empty
frame). Prints each reply frame on its own line; with --stream, PARTIALs are printed as they come.
Each attempt waits --timeout (default 30s) for the reply; a retry (--retries) sends the request again
on the same connection, so a late reply to the first attempt is still taken. Execution is
at-least-once: a retry can run the request a second time while the first run goes on, so keep
--timeout above what the service takes. A broker that cannot be reached fails an attempt after 3 s.
Several brokers (--broker A --broker B, or PUREZMQ_CLIENT_BROKER=A,B): one at a time, in that order;
an attempt that times out, cannot connect or loses its connection makes the next one current, and the
retry goes there (an unreachable broker does not use up --retries while another is untried).

Options:
${sectionHelp('client')}
  --stream                       print PARTIAL replies as they arrive
  --routing-id ID                a routing id of the client's own, so that a durable broker can send the
                                 reply after it restarted (the client waits instead of resending)
${COMMON_HELP}

${EXIT_HELP}`,
  worker: `Usage: purezmq worker <service> --exec <command> [options]

Registers with the broker and, for each request, runs <command> with 'sh -c' in a process group of its
own: the request body goes to its stdin (frames separated by newlines) and its stdout is the reply.
Says "worker ready" once the broker has answered its READY; a broker it cannot reach is logged (with the
reason) and retried with growing delays.
Several brokers (--broker A --broker B, or PUREZMQ_WORKER_BROKER=A,B): it registers with one at a time,
A first; when that one stays silent for --heartbeat-liveness x --heartbeat-interval it logs "moved to
broker B" and sends READY to B (round robin). Give it the brokers' heartbeat interval. A request running
when it moves is not answered (the old broker runs it again elsewhere when it sees the worker gone).

A command that exits non-zero, is killed, runs past --exec-timeout or writes more than 64 MiB fails the
request: the reply is purezmq's error reply (two frames: "purezmq/error" and a JSON object with code
EXEC_FAILED, EXEC_TIMEOUT or OUTPUT_TOO_LARGE, the exit code and the end of stderr), which
'purezmq request' turns into exit code 7 and purezmq's Client into MdpError MDP_SERVICE_ERROR.
With --on-error requeue the request is handed back instead: the broker runs it again after a backoff,
on another worker if one is idle, up to its max_retries (then it goes to the dead letters).

Options:
  --exec CMD                     command run for each request (required)
  --exec-timeout V               after this long, SIGTERM to the command's process group (default 60s)
  --kill-grace V                 then SIGKILL after this long (default 2s)
  --on-error reply|requeue       what a failed command does (default reply: an error reply)
${sectionHelp('worker')}
${COMMON_HELP}

${EXIT_HELP}`,
  mmi: `Usage: purezmq mmi <query> [arg] [options]

Queries the broker's Majordomo Management Interface:
  services           table of services with workers, queue, requests, latency (mmi.broker services,
                     a page at a time); --prefix P lists the services whose names start with P
  service NAME       does NAME have a worker? (mmi.service: 200 or 404; exit 5 on 404)
  workers [NAME]     number of workers for NAME, or in all (mmi.workers)
  heartbeat          the broker's heartbeat interval and liveness (mmi.heartbeat)
  broker             version, uptime and counters (mmi.broker); --json for the raw document
  cluster            the brokers of the cluster: state, endpoints, last seen, load, services (mmi.cluster)
  mmi.NAME [body]    any MMI service, raw reply frames
With several --broker, the first broker that answers is asked (failover order).

Options:
  --json                         print JSON instead of a table
${sectionHelp('client')}
${COMMON_HELP}

${EXIT_HELP}`,
  dlq: `Usage: purezmq dlq <list|replay|purge> [UUID...] [options]

The broker's dead-letter queue: requests whose retries ran out (--max-retries), that outlived their TTL
(--request-ttl) or waited too long in a queue (--request-timeout), or whose worker died after streaming
PARTIALs. They stay in the broker's store (on disk with --data-dir) until replayed or purged.
  list               a page of dead letters (--limit, --after UUID for the next page)
  replay UUID...     run them again (attempts reset, TTL from now); --all for every one
  purge UUID...      delete them; --all for every one

Options:
  --all                          every dead letter (replay, purge)
  --limit N                      list: at most N (default 100, at most 1000)
  --after UUID                   list: start after this one (the "next" of the previous page)
  --json                         print JSON instead of a table
${sectionHelp('client')}
${COMMON_HELP}

${EXIT_HELP}`,
  keygen: `Usage: purezmq keygen NAME [--metadata key=value]... [--force] [--json]

Writes a new CURVE key pair as czmq certificates (zcert format, readable by czmq, pyzmq's zmq.auth,
the Authenticator's curveDirectory and 'purezmq broker --curve-clients'):
  NAME          the public certificate (mode 0644): put it in the broker's --curve-clients directory,
                or give it to clients and workers as --curve-server-key
  NAME_secret   the secret certificate (mode 0600): --curve-cert of its owner; never share it
Metadata: name = basename of NAME unless given (the ZAP user id, user:NAME in an access policy);
role = a,b gives the roles (role:a in an access policy).

Options:
  -m, --metadata KEY=VALUE       a metadata entry (repeatable), e.g. --metadata role=ops,echo-worker
  --force                        replace existing files (never done without it)
  --json                         print {"publicKey", "secretKey", "metadata"} instead of writing files
  -h, --help                     this help

${EXIT_HELP}`,
  titanic: `Usage: purezmq titanic <request|reply|close|call> ... [options]

Titanic (RFC 9): the broker stores a request, runs it when a worker is there, and keeps the reply
until you close it; client and worker need not be up at the same time.
  request SERVICE [body...]   store a request; prints its UUID once the broker has it on disk
  reply UUID                  print the reply (exit 0), or say it is pending (exit 6) or unknown (exit 5)
  close UUID                  forget the request and its reply
  call SERVICE [body...]      request, wait for the reply (polling), print it, close
With several --broker, each command goes to the first broker that answers. A UUID is known to the broker
that stored it (unless the brokers share a store), so after a failover reply may say it is unknown.

Options:
  --wait                         reply: poll until the reply is there (up to --wait-timeout)
  --wait-timeout V               reply --wait, call: how long to wait (default 60s)
${sectionHelp('client')}
${COMMON_HELP}

${EXIT_HELP}`,
};

interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

function parse(argv: string[], flags: Record<string, FlagSpec>): Parsed {
  try {
    const r = parseArgs({ args: argv, options: flags, allowPositionals: true, strict: true });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Builds the configuration from file, environment and the flags of one section. */
function configPath(values: Parsed['values']): string | undefined {
  return (values.config as string | undefined) ?? process.env.PUREZMQ_CONFIG;
}

function loadConfig(values: Parsed['values'], section: Section): MdpConfig {
  const path = configPath(values);
  let yaml: string | undefined;
  if (path !== undefined) {
    try {
      yaml = readFileSync(path, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read config file ${path}: ${(e as Error).message}`);
    }
  }
  const flags: RawLayer = { [section]: {}, log: {} };
  for (const key of flatFields(section)) {
    const v = values[cliFlag(section, key)];
    if (v !== undefined) flags[section]![key] = v;
  }
  if (values['log-level'] !== undefined) flags.log!.level = values['log-level'];
  if (values['log-format'] !== undefined) flags.log!.format = values['log-format'];
  // only this command's section and the log section: a PUREZMQ_CLIENT_* meant for clients must not
  // stop a broker on the same host
  const prefixes = [`PUREZMQ_${section.toUpperCase()}_`, 'PUREZMQ_LOG_'];
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PUREZMQ_') || prefixes.some((p) => k.startsWith(p))));
  const config = resolveConfig({ yaml, yamlPath: path, env, flags });
  sourcesOf.set(config, {
    file: path ?? null,
    env: Object.keys(env).filter((k) => prefixes.some((p) => k.startsWith(p))).sort(),
    flags: Object.keys(flags[section]!).concat(Object.keys(flags.log!).map((k) => `log-${k}`)).map((k) => `--${k.startsWith('log-') ? k : cliFlag(section, k)}`),
  });
  return config;
}

/** Where a loaded configuration came from, for the start-up banner. */
const sourcesOf = new WeakMap<MdpConfig, { file: string | null; env: string[]; flags: string[] }>();

function makeLogger(config: MdpConfig): Logger {
  return createLogger({ level: config.log.level, format: config.log.format, write: boundedSink(process.stderr, config.log.format) });
}

/**
 * `--curve-cert FILE` and `--curve-server-key KEY|FILE` read into key material for Client/Worker:
 * the peer's own secret certificate, and the broker's key (40 Z85 characters, or its certificate file).
 */
function peerCurve(c: { curveCert: string | null; curveServerKey: string | null }, log: Logger): PeerCurveOptions {
  if (c.curveServerKey === null) {
    if (c.curveCert !== null) throw new UsageError("--curve-cert needs --curve-server-key (the broker's public key, or its public certificate file)");
    return {};
  }
  let serverKey: string;
  if (c.curveServerKey.length === 40 && isZ85(c.curveServerKey)) serverKey = c.curveServerKey;
  else serverKey = readCertificateFile(c.curveServerKey).cert.publicKey;
  if (c.curveCert === null) return { curveServerKey: serverKey };
  const { cert, warnings } = readCertificateFile(c.curveCert, { secret: true });
  for (const w of warnings) log.warn('insecure certificate file', { file: c.curveCert, warning: w });
  return { curveServerKey: serverKey, curveCert: cert };
}

function isZ85(text: string): boolean {
  try {
    z85.decode(text);
    return true;
  } catch {
    return false;
  }
}

/** A client's settings from the config: the endpoint, and Client options with the CURVE files read. */
function clientSettings(config: MdpConfig, log: Logger): { broker: string[]; options: ClientOptions } {
  const { broker, curveCert, curveServerKey, ...options } = config.client;
  return { broker, options: { ...options, ...peerCurve({ curveCert, curveServerKey }, log), logger: log } };
}

function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT.USAGE;
  if (isMdpError(e)) {
    switch (e.code) {
      case MdpErrorCode.CONFIG:
      case MdpErrorCode.CERTIFICATE:
        return EXIT.USAGE;
      case MdpErrorCode.ACCESS_DENIED:
        return EXIT.DENIED;
      case MdpErrorCode.AUTH_REFUSED:
        return EXIT.AUTH_REFUSED;
      case MdpErrorCode.BROKER_UNREACHABLE:
        return EXIT.UNREACHABLE;
      case MdpErrorCode.TIMEOUT:
      case MdpErrorCode.STREAM_INTERRUPTED:
        return EXIT.TIMEOUT;
      case MdpErrorCode.UNKNOWN_SERVICE:
        return EXIT.NOT_FOUND;
      case MdpErrorCode.SERVICE_ERROR:
        return EXIT.SERVICE_FAILED;
    }
  }
  return EXIT.FAILURE;
}

// ---- broker -------------------------------------------------------------------------------------

async function brokerCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...COMMON_FLAGS,
    ...sectionFlags('broker'),
    'print-config': { type: 'boolean' },
    strict: { type: 'boolean' },
    repair: { type: 'boolean' },
  });
  if (values.help) {
    out(HELP.broker!);
    return EXIT.OK;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.strict) {
    if (values.dialects !== undefined) throw new UsageError('--strict and --dialects cannot be combined (--strict means --dialects rfc)');
    values.dialects = ['rfc'];
  }
  const config = loadConfig(values, 'broker');
  if (values['print-config']) {
    const { stringify } = await import('yaml');
    out(stringify({ broker: groupedValues('broker', { ...config.broker }), log: config.log }));
    return EXIT.OK;
  }
  const log = makeLogger(config);
  const b = config.broker;
  const sources = sourcesOf.get(config);
  log.info('purezmq broker starting', {
    version: BROKER_VERSION,
    node: process.version,
    configFile: sources?.file ?? undefined,
    env: sources?.env.length ? sources.env.join(',') : undefined,
    flags: sources?.flags.length ? sources.flags.join(',') : undefined,
    bind: b.bind.join(','),
    dialects: b.dialects.join(','),
    heartbeat: `${b.heartbeatInterval}ms x ${b.heartbeatLiveness}`,
    store: b.store !== null ? `jetstream ${b.store.replace(/\/\/[^@/]*@/, '//***@')} (stream ${b.storeStream}, replicas ${b.storeReplicas})` : b.dataDir === null ? 'memory' : `journal ${b.dataDir} (fsync ${b.fsync})`,
    limits: `queued ${b.maxQueuedRequests}/service, ${b.maxQueuedBytes} bytes; frame ${b.maxFrameSize} bytes x ${b.maxFrames}`,
    retries: `${b.maxRetries} (backoff ${b.retryBackoff}-${b.retryBackoffMax}ms), ttl ${b.requestTtl}ms`,
    http: b.http ?? undefined,
    cluster: b.clusterBind === null ? undefined : `${b.clusterBind} peers ${b.peer.join(',') || '(none: first member)'} strategy ${b.clusterStrategy}`,
  });
  const file = configPath(values);
  const broker = new Broker({ ...config.broker, logger: log, repair: values.repair === true, ...(file === undefined ? {} : { configFile: file }) });
  // signal handlers go in before the first "listening on" line, so that a supervisor that
  // signals as soon as it sees the line always gets a clean shutdown
  let resolveExit!: (code: number) => void;
  const exit = new Promise<number>((r) => (resolveExit = r));
  let stopping = false;
  let http: { url: string; close(): Promise<void> } | undefined;
  const stop = (signal: string): void => {
    if (stopping) {
      // the operator insists: leave now, and say that the drain did not finish
      log.warn('second signal: exiting without finishing the drain', { signal });
      resolveExit(EXIT.FAILURE);
      return;
    }
    stopping = true;
    log.info('shutting down', { signal, graceMs: config.broker.shutdownGrace });
    broker.close().then(
      async () => {
        await http?.close();
        resolveExit(EXIT.OK);
      },
      (e: Error) => {
        log.error('shutdown failed', { error: e });
        resolveExit(EXIT.OK);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP: re-read the access policy and the client certificates (the rest of the configuration
  // is not reloaded); its default action, dying on the spot, must never happen to a broker
  process.on('SIGHUP', () => {
    broker.reloadSecurity().then(
      (r) =>
        r === undefined
          ? log.warn('SIGHUP ignored: the broker does not reload its configuration (only an access policy and client certificates); restart it (SIGTERM drains first)')
          : log.info('SIGHUP: security re-read', { policy: r.policy, certificates: r.certificates }),
      (e: Error) => log.error('SIGHUP: security not re-read', { error: e }),
    );
  });
  try {
    await broker.ready;
  } catch (e) {
    const code = (e as MdpError).code;
    // security comes first: a bad certificate or policy is a configuration problem (exit 2)
    const usage = code === MdpErrorCode.CONFIG || code === MdpErrorCode.CERTIFICATE;
    const what = usage ? 'bad security configuration' : 'cannot open the request store';
    log.error(what, { code, error: e as Error });
    err(`purezmq broker: ${what}: ${(e as Error).message}`);
    await broker.close(0);
    return usage ? EXIT.USAGE : EXIT.FAILURE;
  }
  // every endpoint is bound before any is announced: a supervisor that waits for "listening on" must
  // not see one for a broker that is about to exit because a later bind failed
  const bound: string[] = [];
  for (const ep of config.broker.bind) {
    if (stopping) break;
    try {
      bound.push(await broker.bind(ep));
    } catch (e) {
      log.error('bind failed', { endpoint: ep, error: e as Error });
      err(`purezmq broker: cannot bind ${ep}: ${(e as Error).message}`);
      await broker.close(0);
      return EXIT.FAILURE;
    }
  }
  if (config.broker.http !== null && !stopping) {
    try {
      const { startHttp } = await import('./mdp/http.ts');
      http = await startHttp(broker, config.broker.http, log);
      log.info('http endpoint', { url: http.url, paths: '/metrics /healthz /readyz /v1/broker /v1/services' });
    } catch (e) {
      log.error('http endpoint failed', { address: config.broker.http, error: e as Error });
      err(`purezmq broker: cannot serve http on ${config.broker.http}: ${(e as Error).message}`);
      await broker.close(0);
      return EXIT.FAILURE;
    }
  }
  for (const ep of bound) out(`listening on ${ep}`);
  if (broker.clusterEndpoint !== undefined) out(`cluster on ${broker.clusterEndpoint} node ${broker.nodeId}`);
  if (http) out(`http on ${http.url}`);
  return exit;
}

// ---- request ------------------------------------------------------------------------------------

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function requestCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON_FLAGS, ...sectionFlags('client'), stream: { type: 'boolean' }, 'routing-id': { type: 'string' } });
  if (values.help) {
    out(HELP.request!);
    return EXIT.OK;
  }
  const [service, ...bodyArgs] = positionals;
  if (!service) throw new UsageError('missing <service> (see purezmq request --help)');
  const config = loadConfig(values, 'client');
  const body: (string | Buffer)[] = [];
  for (const a of bodyArgs) body.push(a === '-' ? await readStdin() : a);
  const { broker, options } = clientSettings(config, makeLogger(config));
  const routingId = values['routing-id'] as string | undefined;
  const client = new Client(broker, { ...options, ...(routingId === undefined ? {} : { routingId }) });
  try {
    if (values.stream) {
      for await (const chunk of client.stream(service, body.length > 0 ? body : null)) {
        for (const f of chunk.body) out(Buffer.from(f).toString());
      }
    } else {
      const reply = await client.request(service, body.length > 0 ? body : null);
      for (const f of reply) out(Buffer.from(f).toString());
    }
    return EXIT.OK;
  } catch (e) {
    // the end of a failed command's stderr, as the worker sent it, before the error line
    const tail = isMdpError(e) && e.code === MdpErrorCode.SERVICE_ERROR ? (e.cause as { stderr?: unknown } | undefined)?.stderr : undefined;
    if (typeof tail === 'string' && tail !== '') err(tail.trimEnd());
    throw e;
  } finally {
    client.close();
  }
}

// ---- worker -------------------------------------------------------------------------------------

function parseDuration(raw: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(raw.trim());
  if (!m) throw new UsageError(`--${name} must be a duration such as 500ms, 30s or 1m, got '${raw}'`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2] ?? 'ms']!;
}

/** What one run of the worker's command gave. */
interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  /** The last STDERR_TAIL bytes of its stderr (all of it also goes to the worker's stderr). */
  stderrTail: string;
  timedOut: boolean;
  /** stdout passed MAX_OUTPUT: the reply would be cut, so the run counts as failed. */
  tooLarge: boolean;
}

const MAX_OUTPUT = 64 * 1024 * 1024;
const STDERR_TAIL = 4096;

/**
 * Runs the command in a shell in a process group of its own, so that a timeout ends everything it
 * started (`sh -c 'sleep 100'` leaves `sleep` behind when only sh is killed): SIGTERM to the group,
 * then SIGKILL after `killGraceMs`.
 */
function runCommand(command: string, input: Uint8Array[], timeoutMs: number, killGraceMs: number, log: Logger): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    let timedOut = false;
    let stderrTail = '';
    const group = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // the group is gone already
      }
    };
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      log.warn('command timed out: terminating its process group', { command, timeoutMs, pid: child.pid });
      group('SIGTERM');
      killTimer = setTimeout(() => {
        log.warn('command killed after timeout (it ignored SIGTERM)', { command, pid: child.pid, graceMs: killGraceMs });
        group('SIGKILL');
      }, killGraceMs);
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_OUTPUT) chunks.push(c);
      else if (!tooLarge) {
        tooLarge = true;
        log.warn('command output over the limit: the request fails', { command, limitBytes: MAX_OUTPUT });
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      process.stderr.write(c);
      stderrTail = (stderrTail + c.toString()).slice(-STDERR_TAIL);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      // whatever the shell left running in its group goes with it
      group('SIGKILL');
      resolve({ code, signal, stdout: Buffer.concat(chunks), stderrTail, timedOut, tooLarge });
    });
    child.stdin.on('error', () => undefined); // the command may not read its stdin
    const parts: Uint8Array[] = [];
    input.forEach((f, i) => {
      if (i > 0) parts.push(Buffer.from('\n'));
      parts.push(f);
    });
    child.stdin.end(Buffer.concat(parts));
  });
}

async function workerCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...COMMON_FLAGS,
    ...sectionFlags('worker'),
    exec: { type: 'string' },
    'exec-timeout': { type: 'string' },
    'kill-grace': { type: 'string' },
    'on-error': { type: 'string' },
  });
  if (values.help) {
    out(HELP.worker!);
    return EXIT.OK;
  }
  const [service, extra] = positionals;
  if (!service) throw new UsageError('missing <service> (see purezmq worker --help)');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}' (quote the --exec command)`);
  const command = values.exec as string | undefined;
  if (!command) throw new UsageError('missing --exec <command>');
  const onError = (values['on-error'] as string | undefined) ?? 'reply';
  if (onError !== 'reply' && onError !== 'requeue') throw new UsageError(`--on-error must be reply or requeue, got '${onError}'`);
  const execTimeout = values['exec-timeout'] === undefined ? 60_000 : parseDuration(values['exec-timeout'] as string, 'exec-timeout');
  const killGrace = values['kill-grace'] === undefined ? 2000 : parseDuration(values['kill-grace'] as string, 'kill-grace');
  const config = loadConfig(values, 'worker');
  const log = makeLogger(config);
  const { broker, curveCert, curveServerKey, ...workerOptions } = config.worker;
  const options = { ...workerOptions, ...peerCurve({ curveCert, curveServerKey }, log) };
  let worker: Worker;
  try {
    worker = new Worker(
      broker,
      service,
      async (request) => {
        const r = await runCommand(command, request, execTimeout, killGrace, log);
        if (r.code === 0 && !r.tooLarge && !r.timedOut) return r.stdout;
        const code = r.timedOut ? 'EXEC_TIMEOUT' : r.tooLarge ? 'OUTPUT_TOO_LARGE' : 'EXEC_FAILED';
        const message = r.timedOut
          ? `the command did not finish within ${execTimeout} ms and was killed`
          : r.tooLarge
            ? `the command wrote more than ${MAX_OUTPUT} bytes`
            : r.signal
              ? `the command was killed by ${r.signal}`
              : `the command exited with ${r.code}`;
        log.warn('command failed', { command, code, exitCode: r.code ?? undefined, signal: r.signal ?? undefined });
        // requeue: hand the request back (the broker runs it again after a backoff, on another worker if one is idle)
        if (onError === 'requeue') throw new MdpError(MdpErrorCode.SERVICE_ERROR, message);
        return serviceError({ code, message, exitCode: r.code, signal: r.signal, stderr: r.stderrTail });
      },
      { ...options, logger: log },
    );
  } catch (e) {
    if (isMdpError(e)) throw new UsageError(e.message);
    throw e;
  }
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      worker.close().then(
        () => resolve(EXIT.OK),
        () => resolve(EXIT.OK),
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

// ---- mmi ----------------------------------------------------------------------------------------

function table(header: string[], rows: (string | number | null)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

async function mmiCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON_FLAGS, ...sectionFlags('client'), json: { type: 'boolean' }, prefix: { type: 'string' } });
  if (values.help) {
    out(HELP.mmi!);
    return EXIT.OK;
  }
  const [query, ...args] = positionals;
  if (!query) throw new UsageError('missing <query> (see purezmq mmi --help)');
  const { client } = brokerClient(values);
  const text = (frames: Uint8Array[]): string[] => frames.map((f) => Buffer.from(f).toString());
  const json = values.json === true;
  try {
    switch (query) {
      case 'services': {
        // a page at a time (mmi.broker services LIMIT AFTER PREFIX); an older broker answers the
        // whole document to any body
        const services: Record<string, ServiceMetrics> = {};
        let after = '';
        for (;;) {
          const [code, doc] = text(await client.request(MmiService.BROKER, ['services', '1000', after, (values.prefix as string | undefined) ?? '']));
          if (code !== '200' || doc === undefined) {
            err(`mmi.broker answered ${code ?? 'nothing'}: not supported by this broker`);
            return EXIT.NOT_FOUND;
          }
          const page = JSON.parse(doc) as Partial<ServicePage & BrokerMetrics>;
          Object.assign(services, page.services ?? {});
          if (!page.next) break;
          after = page.next;
        }
        if (json) {
          out(JSON.stringify(services, null, 2));
          return EXIT.OK;
        }
        const rows = Object.entries(services).map(([name, s]) => {
          const d = s.drops;
          return [name, s.workers, s.idleWorkers, s.queueDepth, s.requests, s.replies, s.latencyMs.p50, s.latencyMs.p99, d.expired + d.overflow + d.undeliverable + d.abandoned + d.interrupted + d.truncated];
        });
        out(table(['SERVICE', 'WORKERS', 'IDLE', 'QUEUED', 'REQUESTS', 'REPLIES', 'P50_MS', 'P99_MS', 'DROPS'], rows));
        return EXIT.OK;
      }
      case 'service': {
        const name = args[0];
        if (!name) throw new UsageError('mmi service needs a service name');
        const reply = text(await client.request(MmiService.SERVICE, name));
        const code = reply[reply.length - 1];
        out(json ? JSON.stringify({ service: name, code }) : table(['SERVICE', 'CODE', 'STATUS'], [[name, code ?? '', code === '200' ? 'available' : 'no worker']]));
        return code === '200' ? EXIT.OK : EXIT.NOT_FOUND;
      }
      case 'workers': {
        const name = args[0] ?? '';
        const [code, count] = text(await client.request(MmiService.WORKERS, name));
        if (code !== '200') {
          err(`mmi.workers answered ${code ?? 'nothing'}`);
          return EXIT.NOT_FOUND;
        }
        out(json ? JSON.stringify({ service: name || null, workers: Number(count) }) : table(['SERVICE', 'WORKERS'], [[name || '(all)', count ?? '']]));
        return EXIT.OK;
      }
      case 'heartbeat': {
        const [code, interval, liveness] = text(await client.request(MmiService.HEARTBEAT, ''));
        if (code !== '200') {
          err(`mmi.heartbeat answered ${code ?? 'nothing'}`);
          return EXIT.NOT_FOUND;
        }
        out(json ? JSON.stringify({ intervalMs: Number(interval), liveness: Number(liveness) }) : table(['INTERVAL_MS', 'LIVENESS'], [[interval ?? '', liveness ?? '']]));
        return EXIT.OK;
      }
      case 'broker': {
        const [code, doc] = text(await client.request(MmiService.BROKER, ''));
        if (code !== '200' || doc === undefined) {
          err(`mmi.broker answered ${code ?? 'nothing'}`);
          return EXIT.NOT_FOUND;
        }
        if (json) {
          out(doc);
          return EXIT.OK;
        }
        const m = JSON.parse(doc) as BrokerMetrics;
        const rows: (string | number)[][] = [
          ['version', m.version],
          ['protocols', m.protocols.join(' ')],
          ['uptime_ms', m.uptimeMs],
          ['endpoints', m.endpoints.join(' ')],
          ['heartbeat', `${m.heartbeat.intervalMs} ms x ${m.heartbeat.liveness}`],
          ['workers', m.workers],
        ];
        if (m.dialects) {
          rows.push(['dialects', (m.acceptedDialects ?? []).join(' ')]);
          for (const [d, x] of Object.entries(m.dialects)) {
            rows.push([
              `dialect.${d}`,
              `${x.accepted ? 'accepted' : 'refused'} clients=${x.clients} workers=${x.workers} in=${x.messagesIn} out=${x.messagesOut} requests=${x.requests} replies=${x.replies} invalid=${x.invalid} refused=${x.refused}`,
            ]);
          }
        }
        for (const [k, v] of Object.entries(m.counters)) {
          rows.push([snakeName(k), typeof v === 'number' ? v : JSON.stringify(v)]);
        }
        // brokers before durability (issue 10) have none of these sections
        if (m.servicesSummary) {
          const sum = m.servicesSummary;
          rows.push(['services', `${sum.count} known, ${sum.withWorkers} with workers${sum.busiest.length ? `; longest queues: ${sum.busiest.map((b) => `${b.service}=${b.queueDepth}`).join(' ')}` : ''}`]);
        }
        if (m.requests) rows.push(['requests', Object.entries(m.requests).map(([k, v]) => `${snakeName(k)}=${v}`).join(' ')]);
        if (m.lifecycle) rows.push(['lifecycle', Object.entries(m.lifecycle).map(([k, v]) => `${snakeName(k)}=${v}`).join(' ')]);
        if (m.titanic) rows.push(['titanic', `requests=${m.titanic.requests} reply_queries=${m.titanic.replyQueries} closes=${m.titanic.closes} status=${JSON.stringify(m.titanic.status)}`]);
        if (m.store) {
          const st = m.store;
          rows.push(['store', `${st.kind}${st.durable ? ' (durable)' : ' (memory: nothing survives a restart)'} requests=${st.requests} live_bytes=${st.liveBytes} bytes=${st.bytes} max_bytes=${st.maxBytes}${st.dir ? ` dir=${st.dir}` : ''}`]);
          if (st.recovery) rows.push(['store.recovered', `requests=${st.recovery.requests} records=${st.recovery.records} ms=${st.recovery.durationMs}`]);
        }
        // brokers without an access policy (or before issue 12) have no access section
        if (m.access) {
          const a = m.access;
          const p = a.policy;
          rows.push(['access', `policy=${JSON.stringify(p.source)} digest=${p.digest} version=${p.version} default=${p.default} rules=${p.rules} allowed=${a.allowed} denied=${a.denied} reloads=${a.reloads} rejected=${a.rejected}`]);
          // the summary lists the most denied services; full metrics (Broker.metrics()) have every one
          const rowsOf = a.services ? Object.entries(a.services) : (a.mostDenied ?? []).map((c) => [c.service, c] as const);
          for (const [svc, c] of rowsOf) {
            rows.push([`access.${svc}`, `request_allowed=${c.requestAllowed} request_denied=${c.requestDenied} serve_allowed=${c.serveAllowed} serve_denied=${c.serveDenied}`]);
          }
        }
        out(table(['KEY', 'VALUE'], rows));
        return EXIT.OK;
      }
      case 'cluster': {
        const [code, doc] = text(await client.request('mmi.cluster', ''));
        if (code === '501') {
          err('this broker is not in a cluster (mmi.cluster answered 501)');
          return EXIT.NOT_FOUND;
        }
        if (code !== '200' || doc === undefined) {
          err(`mmi.cluster answered ${code ?? 'nothing'}`);
          return EXIT.NOT_FOUND;
        }
        if (json) {
          out(doc);
          return EXIT.OK;
        }
        const v = JSON.parse(doc) as ClusterView;
        const rows = v.members.map((m) => [
          m.self ? `${m.id} (self)` : m.id,
          m.state,
          m.clusterEndpoint,
          m.clientEndpoints.join(' ') || '-',
          m.lastSeenMs === null ? null : m.self ? '-' : `${m.lastSeenMs}ms`,
          `${m.load.idle}/${m.load.busy}/${m.load.queued}`,
          m.inFlight,
          Object.keys(m.services).sort().join(' ') || '-',
        ]);
        out(table(['NODE', 'STATE', 'CLUSTER', 'CLIENTS', 'LAST_SEEN', 'IDLE/BUSY/QUEUED', 'FORWARDED', 'SERVICES'], rows));
        const c = v.counters;
        out(`strategy ${v.strategy}, heartbeat ${v.heartbeatMs}ms, liveness ${v.livenessMs}ms${v.curve ? ', CURVE' : ''}; forwarded ${c.forwarded}, received ${c.receivedFromPeers}, reforwarded ${c.reforwarded}, member deaths ${c.memberDeaths}`);
        return EXIT.OK;
      }
      default: {
        if (!query.startsWith('mmi.')) throw new UsageError(`unknown query '${query}' (services, service, workers, heartbeat, broker, cluster or mmi.NAME)`);
        const reply = text(await client.request(query, args.length > 0 ? args : ''));
        for (const line of reply) out(line);
        return reply[reply.length - 1] === '501' ? EXIT.NOT_FOUND : EXIT.OK;
      }
    }
  } finally {
    client.close();
  }
}

// ---- dlq ----------------------------------------------------------------------------------------

/** A client for the broker's own services (MMI, Titanic): no mmi.service diagnosis on a timeout. */
function brokerClient(values: Parsed['values']): { client: Client; config: MdpConfig } {
  const config = loadConfig(values, 'client');
  const { broker, options } = clientSettings(config, makeLogger(config));
  return { client: new Client(broker, { ...options, diagnose: false }), config };
}

async function dlqCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...COMMON_FLAGS,
    ...sectionFlags('client'),
    json: { type: 'boolean' },
    all: { type: 'boolean' },
    limit: { type: 'string' },
    after: { type: 'string' },
  });
  if (values.help) {
    out(HELP.dlq!);
    return EXIT.OK;
  }
  const [action, ...ids] = positionals;
  if (action !== 'list' && action !== 'replay' && action !== 'purge') throw new UsageError(`dlq needs list, replay or purge, got ${action === undefined ? 'nothing' : `'${action}'`}`);
  if (action === 'list' && (ids.length > 0 || values.all)) throw new UsageError('dlq list takes no UUIDs (use --limit and --after)');
  if (action !== 'list' && (ids.length > 0) === (values.all === true)) throw new UsageError(`dlq ${action} needs UUIDs or --all (not both)`);
  const { client } = brokerClient(values);
  const text = (frames: Uint8Array[]): string[] => frames.map((f) => Buffer.from(f).toString());
  try {
    const service = action === 'list' ? MmiService.DLQ_LIST : action === 'replay' ? MmiService.DLQ_REPLAY : MmiService.DLQ_PURGE;
    const body = action === 'list' ? [(values.limit as string | undefined) ?? '', (values.after as string | undefined) ?? ''] : values.all ? ['all'] : ids;
    const [code, doc] = text(await client.request(service, body));
    if (code === '501') {
      err(`${service} answered 501: this broker has no dead-letter queue`);
      return EXIT.NOT_FOUND;
    }
    if (code !== '200' || doc === undefined) {
      err(`${service} answered ${code ?? 'nothing'}${doc ? `: ${doc}` : ''}`);
      return code === '400' ? EXIT.USAGE : EXIT.FAILURE;
    }
    if (values.json) {
      out(doc);
      return EXIT.OK;
    }
    if (action === 'list') {
      const page = JSON.parse(doc) as DeadLetterPage;
      out(table(
        ['UUID', 'KIND', 'SERVICE', 'REASON', 'ATTEMPTS', 'DEAD_AT', 'ERROR'],
        page.items.map((d) => [d.uuid, d.kind, d.service, d.reason, d.attempts, d.deadAt, d.error]),
      ));
      out(`${page.items.length} of ${page.total} dead letter(s)${page.next ? `; next page: --after ${page.next}` : ''}`);
      return EXIT.OK;
    }
    const r = JSON.parse(doc) as { replayed?: number; purged?: number; notFound: number };
    out(`${action === 'replay' ? 'replayed' : 'purged'} ${r.replayed ?? r.purged ?? 0}${r.notFound > 0 ? `, not found ${r.notFound}` : ''}`);
    return r.notFound > 0 && (r.replayed ?? r.purged ?? 0) === 0 ? EXIT.NOT_FOUND : EXIT.OK;
  } finally {
    client.close();
  }
}

// ---- titanic ------------------------------------------------------------------------------------

async function titanicCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...COMMON_FLAGS,
    ...sectionFlags('client'),
    wait: { type: 'boolean' },
    'wait-timeout': { type: 'string' },
  });
  if (values.help) {
    out(HELP.titanic!);
    return EXIT.OK;
  }
  const [action, first, ...rest] = positionals;
  if (!first) throw new UsageError(`titanic ${action ?? '<request|reply|close|call>'} needs ${action === 'reply' || action === 'close' ? 'a UUID' : 'a service'}`);
  const waitMs = values['wait-timeout'] === undefined ? 60_000 : parseDuration(values['wait-timeout'] as string, 'wait-timeout');
  const config = loadConfig(values, 'client');
  const { broker, options } = clientSettings(config, makeLogger(config));
  const titanic = new TitanicClient(broker, options);
  const print = (frames: Uint8Array[]): void => {
    for (const f of frames) out(Buffer.from(f).toString());
  };
  try {
    switch (action) {
      case 'request':
        out(await titanic.request(first, rest.length > 0 ? rest : null));
        return EXIT.OK;
      case 'call':
        print(await titanic.call(first, rest.length > 0 ? rest : null, { timeout: waitMs }));
        return EXIT.OK;
      case 'close':
        await titanic.close(first);
        return EXIT.OK;
      case 'reply': {
        const deadline = Date.now() + waitMs;
        let pause = 100;
        for (;;) {
          const r = await titanic.reply(first);
          if (r.status === TitanicStatus.OK) {
            print(r.body);
            return EXIT.OK;
          }
          if (r.status !== TitanicStatus.PENDING || !values.wait || Date.now() + pause > deadline) {
            err(`titanic.reply ${first}: ${r.text}`);
            return r.status === TitanicStatus.PENDING ? EXIT.PENDING : r.status === TitanicStatus.UNKNOWN ? EXIT.NOT_FOUND : EXIT.FAILURE;
          }
          await new Promise((resolve) => setTimeout(resolve, pause));
          pause = Math.min(2000, pause * 2);
        }
      }
      default:
        throw new UsageError(`titanic needs request, reply, close or call, got '${action}'`);
    }
  } catch (e) {
    if (isMdpError(e) && e.code === MdpErrorCode.TITANIC) {
      err(`purezmq titanic: ${e.message}`);
      return e.status?.startsWith('400') ? EXIT.NOT_FOUND : EXIT.FAILURE;
    }
    throw e;
  } finally {
    titanic.dispose();
  }
}

// ---- keygen -------------------------------------------------------------------------------------

async function keygenCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    help: { type: 'boolean', short: 'h' },
    metadata: { type: 'string', multiple: true, short: 'm' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    out(HELP.keygen!);
    return EXIT.OK;
  }
  const [name, extra] = positionals;
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  if (name === undefined && !values.json) throw new UsageError('missing NAME (the certificate files are NAME and NAME_secret)');
  const metadata: Record<string, string> = {};
  for (const item of (values.metadata as string[] | undefined) ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--metadata takes key=value, got '${item}'`);
    metadata[item.slice(0, eq)] = item.slice(eq + 1);
  }
  const cert = newCertificate(name, metadata);
  if (values.json) {
    out(JSON.stringify({ publicKey: cert.publicKey, secretKey: cert.secretKey, metadata: cert.metadata }));
    return EXIT.OK;
  }
  const { publicFile, secretFile } = await writeCertificatePair(name!, cert, { force: values.force === true });
  out(`wrote ${publicFile} (public) and ${secretFile} (secret, mode 0600)`);
  out(`public-key: ${cert.publicKey}`);
  return EXIT.OK;
}

// ---- main ---------------------------------------------------------------------------------------

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  broker: brokerCommand,
  request: requestCommand,
  worker: workerCommand,
  mmi: mmiCommand,
  dlq: dlqCommand,
  titanic: titanicCommand,
  keygen: keygenCommand,
};

/** Whether the log format asked for on the command line or in the environment is json (the final error follows it). */
function jsonLogs(argv: string[]): boolean {
  const at = argv.indexOf('--log-format');
  const flag = at >= 0 ? argv[at + 1] : argv.find((a) => a.startsWith('--log-format='))?.slice('--log-format='.length);
  return (flag ?? process.env.PUREZMQ_LOG_FORMAT) === 'json';
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    if (command === 'help' && rest[0] && HELP[rest[0]]) out(HELP[rest[0]]!);
    else out(HELP.main!);
    return command === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (command === '--version' || command === '-V') {
    out(BROKER_VERSION);
    return EXIT.OK;
  }
  const run = COMMANDS[command];
  if (!run) {
    err(`purezmq: unknown command '${command}' (broker, request, worker, mmi, dlq, titanic, keygen; see purezmq --help)`);
    return EXIT.USAGE;
  }
  try {
    return await run(rest);
  } catch (e) {
    const code = exitCodeFor(e);
    const msg = (e as Error).message;
    const hint = code === EXIT.USAGE && !(isMdpError(e) && e.code === MdpErrorCode.CONFIG) && !msg.includes('--help') ? ` (see purezmq ${command} --help)` : '';
    if (jsonLogs(rest)) {
      const fields = isMdpError(e) ? { code: e.code, issues: e.issues.length ? e.issues : undefined } : {};
      err(JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: `purezmq ${command}: ${msg}${hint}`, exitCode: code, ...fields }));
    } else {
      err(`purezmq ${command}: ${msg}${hint}`);
    }
    return code;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // sockets may keep the loop alive (lingering connections); the work is done
    setTimeout(() => process.exit(code), 50).unref();
  },
  (e: unknown) => {
    err(`purezmq: ${(e as Error).stack ?? String(e)}`);
    process.exit(EXIT.FAILURE);
  },
);
