// meshtls (ESM entry): the same module as index.js, with named exports.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const meshtls = require('./index.js')

export const {
  JwtSigningKey,
  JwtSource,
  JwtValidator,
  SpiffeBundle,
  requestGuard,
  FORWARDED_CERT_HEADER,
  Authority,
  Certificate,
  Crl,
  Grant,
  IdPattern,
  Identity,
  Issued,
  Policy,
  RevocationList,
  RotationPolicy,
  SpiffeId,
  Trust,
  TrustBundle,
  Verifier,
  WssConnection,
  WssServer,
  wssConnect,
  createCsr,
  decryptPrivateKey,
  encryptPrivateKey,
  enroll,
  resume,
  EnrolledIdentity,
  errorCodes,
  errorFamily,
  fromPkcs12,
  toPkcs12,
  tlsServerOptions,
  tlsClientOptions,
  guardServer,
  createServer,
  createHttpsServer,
  connect,
  peerIdentity,
} = meshtls
export default meshtls
