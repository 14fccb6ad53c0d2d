// Shared set-up for the node:test suites: a CA, leaves and verifiers made through the API.
import { Authority, Identity, Policy, TrustBundle, Verifier } from '../index.mjs'

export const TD = 'mesh.internal'

/** A root CA, its bundle, and a verifier allowing `spiffe://mesh.internal/service/*`. */
export async function pki(options = {}) {
  const ca = await Authority.createRoot({ trustDomain: TD })
  const bundle = new TrustBundle(ca.rootPem)
  const policy = new Policy({ allowPatterns: [`spiffe://${TD}/service/*`], ...options.policy })
  const verifier = new Verifier(bundle, policy)
  return { ca, bundle, policy, verifier }
}

/** An Identity for `spiffe://mesh.internal/service/<name>`, valid for localhost. */
export async function identity(ca, name, request = {}) {
  const issued = await ca.issue({
    id: `spiffe://${TD}/service/${name}`,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    ...request,
  })
  return { issued, identity: new Identity(issued) }
}

/** Resolves with the first of the events, rejects after `ms`. */
export function once(emitter, events, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout waiting for ${events}`)), ms)
    for (const ev of [].concat(events)) {
      emitter.once(ev, (...args) => {
        clearTimeout(timer)
        resolve({ event: ev, args })
      })
    }
  })
}
