/**
 * `purezmq/zeromq`: the drop-in face of purezmq for code written against the `zeromq` package
 * (zeromq.js v6). It exports exactly zeromq.js's names, and importing it switches error messages to
 * libzmq's texts process-wide (`No such endpoint` rather than `Not bound to 'tcp://…'`), because such
 * code may compare them; `err.detail` keeps purezmq's text. Everything else is the main entry's.
 */
import './socket/zap_sockets.ts';
import { ErrorMessages, setErrorMessages } from './errors.ts';

setErrorMessages(ErrorMessages.LIBZMQ);

export { version, capability } from './socket/capability.ts';
export { curveKeyPair } from './crypto/keys.ts';
export { context, Context, type ContextOptions } from './socket/context.ts';
export { SocketBase as Socket, type Message } from './socket/socket_base.ts';
export { Observer, type Event, type EventType, type EventOfType } from './socket/observer.ts';
export { Proxy } from './socket/proxy.ts';
export { Pair } from './socket/pair.ts';
export { Publisher, type PublisherOptions } from './socket/publisher.ts';
export { Subscriber, XSubscriber, type SubscriberOptions } from './socket/subscriber.ts';
export { Request, type RequestOptions } from './socket/request.ts';
export { Reply } from './socket/reply.ts';
export { Dealer, type DealerOptions } from './socket/dealer.ts';
export { Router, type RouterOptions } from './socket/router.ts';
export { Pull } from './socket/pull.ts';
export { Push } from './socket/push.ts';
export { XPublisher, type XPublisherOptions } from './socket/xpublisher.ts';
export { Stream, type StreamOptions } from './socket/stream.ts';
export type { SocketOptions } from './socket/options.ts';
export type { MessageLike } from './util/bytes.ts';
