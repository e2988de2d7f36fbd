/**
 * Minimal structured logger for the Majordomo roles. No runtime dependencies: the caller gives
 * the line sink (the CLI writes to stderr). Human format: `2026-01-01T00:00:00.000Z INFO msg k=v`;
 * JSON format: one object per line with time, level, msg and the fields.
 */
import type { LogFormat, LogLevel } from './config.ts';

export type LogFields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** Cheap guard before building expensive fields. */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean;
}

const RANK: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };

function humanValue(v: unknown): string {
  if (typeof v === 'string') return /^[\w.:/@*+-]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v) ?? String(v);
}

export function createLogger(options: { level: LogLevel; format: LogFormat; write: (line: string) => void }): Logger {
  const max = RANK[options.level];
  const emit = (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields): void => {
    if (RANK[level] > max) return;
    const time = new Date().toISOString();
    let line: string;
    if (options.format === 'json') {
      const obj: Record<string, unknown> = { time, level, msg };
      if (fields) {
        for (const [k, v] of Object.entries(fields)) obj[k] = v instanceof Error ? { code: (v as { code?: string }).code, message: v.message } : v;
      }
      line = JSON.stringify(obj);
    } else {
      line = `${time} ${level.toUpperCase().padEnd(5)} ${msg}`;
      if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${humanValue(v)}`;
    }
    try {
      options.write(line + '\n');
    } catch {
      // a broken log sink must never take the broker down
    }
  };
  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    enabled: (level) => RANK[level] <= max,
  };
}

/** A logger that drops everything (the library default). */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  enabled: () => false,
};

/**
 * Per-message log lines, rate-limited: at most one line per `kind` every `periodMs`; the next one
 * that is let through says how many were suppressed in between. A flood of bad requests then costs
 * a counter increment each, not a line each (the counters count them all).
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; lines: number; suppressed: number }>();
  private readonly log: Logger;
  private readonly periodMs: number;
  private readonly burst: number;
  private readonly now: () => number;

  /** At most `burst` lines per kind in each `periodMs`. */
  constructor(log: Logger, periodMs = 10_000, burst = 1, now: () => number = () => performance.now()) {
    this.log = log;
    this.periodMs = periodMs;
    this.burst = burst;
    this.now = now;
  }

  warn(kind: string, msg: string, fields?: LogFields): void {
    this.emit('warn', kind, msg, fields);
  }

  info(kind: string, msg: string, fields?: LogFields): void {
    this.emit('info', kind, msg, fields);
  }

  error(kind: string, msg: string, fields?: LogFields): void {
    this.emit('error', kind, msg, fields);
  }

  private emit(level: 'error' | 'warn' | 'info', kind: string, msg: string, fields?: LogFields): void {
    if (!this.log.enabled(level)) return;
    const t = this.now();
    const last = this.last.get(kind);
    if (last && t - last.at < this.periodMs) {
      if (last.lines < this.burst) {
        last.lines++;
        this.log[level](msg, fields);
      } else last.suppressed++;
      return;
    }
    // one entry per kind: kinds are a small fixed set (call sites, with a few variants), so the map stays small
    this.last.set(kind, { at: t, lines: 1, suppressed: 0 });
    this.log[level](msg, last && last.suppressed > 0 ? { ...fields, suppressedSimilar: last.suppressed } : fields);
  }
}

/** What boundedSink writes to: a Node Writable such as process.stderr, seen through what it needs. */
export interface LogStream {
  write(chunk: string): boolean;
  readonly writableLength: number;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * A line sink that never lets a stalled reader grow memory: past `maxBuffered` bytes waiting in the
 * stream (nobody reads the broker's stderr), lines are dropped and counted, and once the stream drains
 * one line says how many were lost.
 */
export function boundedSink(stream: LogStream, format: LogFormat = 'human', maxBuffered = 1 << 20): (line: string) => void {
  let dropped = 0;
  let waiting = false;
  const write = (line: string): void => {
    if (stream.writableLength > maxBuffered) {
      dropped++;
      if (!waiting) {
        waiting = true;
        stream.once('drain', () => {
          waiting = false;
          const n = dropped;
          dropped = 0;
          const time = new Date().toISOString();
          const msg = 'log lines dropped: the log output was not being read';
          write(format === 'json' ? `${JSON.stringify({ time, level: 'warn', msg, dropped: n })}\n` : `${time} WARN  ${msg} dropped=${n}\n`);
        });
      }
      return;
    }
    stream.write(line);
  };
  return write;
}
