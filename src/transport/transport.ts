/**
 * The seam between the runtime-neutral core and the runtime's byte streams. Everything above
 * this file sees only these interfaces; node:net lives in tcp.ts.
 */

export interface ConnectionHandler {
  onData(chunk: Uint8Array): void;
  /** The transport buffered less than its high-water mark again. */
  onDrain(): void;
  /** The stream is gone (peer closed, reset, or we closed it). Called once. */
  onClose(error?: Error): void;
}

export interface Connection {
  /** Peer address as text: IP for TCP (used by ZAP), path for IPC. */
  readonly remoteAddress: string;
  /** The local endpoint in ZeroMQ form, e.g. `tcp://127.0.0.1:5555`. */
  readonly localEndpoint: string;
  setHandler(handler: ConnectionHandler): void;
  /** Writes chunks in one batch. Returns false when the caller should wait for onDrain. */
  write(chunks: Uint8Array[]): boolean;
  pause(): void;
  resume(): void;
  /** Flushes what was written, then closes. */
  end(): void;
  /** Closes at once, dropping unsent bytes. */
  destroy(): void;
}

export interface Listener {
  /** The bound endpoint with wildcards resolved (the real port), as `lastEndpoint` reports it. */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** TCP keepalive; absent leaves the OS default. */
export interface KeepAlive {
  enable: boolean;
  /** Idle time before the first probe, ms; 0 = the OS default. */
  idleMs: number;
}

export interface ListenOptions {
  ipv6: boolean;
  backlog?: number;
  keepAlive?: KeepAlive | undefined;
}

export interface ConnectOptions {
  ipv6: boolean;
  timeout: number;
  /** ZMQ_SOCKS_PROXY: `host:port` of a SOCKS5 proxy that TCP connections go through. */
  socksProxy?: string | undefined;
  keepAlive?: KeepAlive | undefined;
}

export interface StreamTransport {
  listen(endpoint: ParsedEndpoint, options: ListenOptions, onConnection: (c: Connection) => void): Promise<Listener>;
  connect(endpoint: ParsedEndpoint, options: ConnectOptions): Promise<Connection>;
}

export type ParsedEndpoint =
  | { protocol: 'tcp'; host: string; port: number | '*'; address: string }
  | { protocol: 'ipc'; path: string; address: string }
  | { protocol: 'inproc'; name: string; address: string };
