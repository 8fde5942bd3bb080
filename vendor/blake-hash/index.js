'use strict'
// zkpoa: always the pure-JavaScript build (upstream's js.js). Upstream's index.js loads a
// native addon that is unsafe to load in more than one thread of a process; see package.json.
module.exports = require('./lib/api')(require('./lib'))
