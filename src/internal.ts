/** Internals for tests and benchmarks; not part of the semver surface. */
export * from './mod.ts';
export * from './util/bytes.ts';
export { Fifo } from './util/fifo.ts';
export { FrameDecoder, DecoderState, type DecoderSink } from './zmtp/decoder.ts';
export { FrameWriter } from './engine/writer.ts';
export { encodeGreeting, parseGreeting, type Greeting } from './zmtp/greeting.ts';
export { parseCommand, encodeCommand, encodePing, encodeError } from './zmtp/command.ts';
export { parseMetadata, encodeMetadata, Metadata } from './zmtp/metadata.ts';
export { FrameFlag, Command } from './zmtp/constants.ts';
export { SocketType, isCompatible } from './zmtp/socket_types.ts';
export { encodeReady, NullMechanism } from './mechanism/null.ts';
export { Session } from './engine/session.ts';
export { parseEndpoint } from './transport/endpoint.ts';
export { netTransport } from './transport/tcp.ts';
export { SubscriptionSet } from './socket/subscriptions.ts';
export { createError } from './errors.ts';
