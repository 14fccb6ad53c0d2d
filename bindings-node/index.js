'use strict'
// meshtls (CommonJS entry): the native core bindings plus the helpers for Node's TLS stacks.
const native = require('./native.js')
const nodeTls = require('./lib/tls.js')
const guard = require('./lib/guard.js')

// The native wss transport as async iterables: `for await (const conn of server)` and
// `for await (const message of conn)`.
native.WssServer.prototype[Symbol.asyncIterator] = async function* connections() {
  for (;;) {
    const conn = await this.accept()
    if (conn === null) return
    yield conn
  }
}
native.WssConnection.prototype[Symbol.asyncIterator] = async function* messages() {
  for (;;) {
    const message = await this.recv()
    if (message === null) return
    yield message
  }
}

module.exports = { ...native, ...nodeTls, ...guard }
