/** purezmq public API: mirrors zeromq.js v6, so switching is a change of import. */
// gives ZAP the sockets it runs on (src/zap sits below the socket layer and imports none)
import './socket/zap_sockets.ts';
export { Dealer, type DealerOptions } from './socket/dealer.ts';
export { Router, type RouterOptions } from './socket/router.ts';
export { Request, type RequestOptions } from './socket/request.ts';
export { Reply } from './socket/reply.ts';
export { Publisher, type PublisherOptions } from './socket/publisher.ts';
export { Subscriber, XSubscriber, type SubscriberOptions } from './socket/subscriber.ts';
export { XPublisher, type XPublisherOptions } from './socket/xpublisher.ts';
export { Push } from './socket/push.ts';
export { Pull } from './socket/pull.ts';
export { Pair } from './socket/pair.ts';
export { Stream, type StreamOptions } from './socket/stream.ts';
export { SocketBase as Socket, type Message } from './socket/socket_base.ts';
export { Context, context, type ContextOptions } from './socket/context.ts';
export { Proxy } from './socket/proxy.ts';
export { capability, version } from './socket/capability.ts';
export type { SocketOptions } from './socket/options.ts';
export { Observer, type Event, type EventType, type EventOfType } from './socket/observer.ts';
export type { MessageLike } from './util/bytes.ts';
export { ZmqError, ProtocolError, ErrorCode, ErrorMessages, errorMessages, isZmqError, setErrorMessages, type ErrorOptions } from './errors.ts';
export type { PeerInfo } from './engine/link.ts';
export { curveKeyPair, curvePublicKey, type CurveKey } from './crypto/keys.ts';
export * as z85 from './crypto/z85.ts';
export {
  Authenticator,
  type AuthenticatorOptions,
  type AuthRequest,
  type AuthVerdict,
  parseCertificate,
  parsePasswords,
  loadCertificateDirectory,
} from './zap/authenticator.ts';
export { ZAP_ENDPOINT, type ZapRequest, type ZapReply, type ZapMechanism } from './zap/protocol.ts';
