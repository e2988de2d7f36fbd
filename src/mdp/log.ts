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
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  private readonly log: Logger;
  private readonly periodMs: number;
  private readonly now: () => number;

  constructor(log: Logger, periodMs = 10_000, now: () => number = () => performance.now()) {
    this.log = log;
    this.periodMs = periodMs;
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
      last.suppressed++;
      return;
    }
    // one entry per kind: kinds are a fixed set of call sites, so the map stays small
    this.last.set(kind, { at: t, suppressed: 0 });
    this.log[level](msg, last && last.suppressed > 0 ? { ...fields, suppressedSimilar: last.suppressed } : fields);
  }
}
