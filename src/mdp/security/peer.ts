/**
 * CURVE toward a broker, for the Client and the Worker: their `curveCert` / `curveServerKey` options
 * turned into DEALER socket options, checked up front (a bad key is MDP_CONFIG from the constructor,
 * not a handshake that fails later). Runtime-neutral: the keys are given, not read from files (the CLI
 * reads the files, with readCertificateFile).
 */
import type { SocketOptions } from '../../mod.ts';
import { curvePublicKey, curveKeyText, type CurveKey } from '../../crypto/keys.ts';
import { MdpErrorCode, mdpError } from '../errors.ts';

/** A peer's own key pair: a secret CurveCertificate (readCertificateFile) or curveKeyPair() both fit. */
export interface CurveKeys {
  readonly secretKey?: CurveKey;
  readonly publicKey?: CurveKey;
}

export interface PeerCurveOptions {
  /** Own key pair; without it (but with curveServerKey) a throwaway pair: encrypted, but anonymous. */
  curveCert?: CurveKeys;
  /** The broker's public key: CURVE on. */
  curveServerKey?: CurveKey;
}

function bad(message: string, field: string): Error {
  return mdpError(MdpErrorCode.CONFIG, message, { issues: [field] });
}

/** The DEALER options that make a peer a CURVE client of the broker; {} when CURVE is not asked for. */
export function peerCurveSocketOptions(o: PeerCurveOptions): Partial<SocketOptions> {
  if (o.curveServerKey === undefined) {
    if (o.curveCert !== undefined) throw bad("curveCert needs curveServerKey (the broker's public key)", 'curveServerKey');
    return {};
  }
  let serverKey: string;
  try {
    serverKey = curveKeyText(o.curveServerKey, 'curveServerKey');
  } catch (err) {
    throw bad((err as Error).message, 'curveServerKey');
  }
  if (o.curveCert === undefined) return { curveServerKey: serverKey };
  if (o.curveCert.secretKey === undefined) throw bad('curveCert has no secret key (use the secret certificate, NAME_secret)', 'curveCert');
  let secretKey: string;
  let publicKey: string;
  try {
    secretKey = curveKeyText(o.curveCert.secretKey, 'curveCert secret key');
    publicKey = curvePublicKey(secretKey);
  } catch (err) {
    throw bad((err as Error).message, 'curveCert');
  }
  if (o.curveCert.publicKey !== undefined) {
    let given: string;
    try {
      given = curveKeyText(o.curveCert.publicKey, 'curveCert public key');
    } catch (err) {
      throw bad((err as Error).message, 'curveCert');
    }
    if (given !== publicKey) throw bad("curveCert's public key does not belong to its secret key", 'curveCert');
  }
  return { curveServerKey: serverKey, curveSecretKey: secretKey, curvePublicKey: publicKey };
}
