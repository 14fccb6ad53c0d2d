'use strict'
// meshtls (CommonJS entry): the native core bindings plus the helpers for Node's TLS stacks.
const native = require('./native.js')
const nodeTls = require('./lib/tls.js')

module.exports = { ...native, ...nodeTls }
