#!/usr/bin/env node
// The package ships TypeScript, not compiled JavaScript: load the CLI through tsx.
require('tsx/cjs');
require('./main.ts')
  .run(process.argv)
  .then((code) => process.exit(code));
