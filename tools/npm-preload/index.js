// Loaded into every Node.js process that npm, npx and `npm run` start in this repository
// (.npmrc: node-options=--require=@meridian/npm-preload; a package name, so it resolves from any
// folder of the repository, node_modules/* included, where a relative path would not).
//
// cdk8s-cli checks for an upgrade on every command: it fetches
// http://registry.npmjs.org/cdk8s-cli/latest in a child process which, where the registry does not
// answer, prints that process's stack trace and then "A new version undefined of cdk8s-cli is
// available" (cdk8s-cli 2.207 lib/cli/index.js and lib/upgrades.js). Its only switches are the
// --check-upgrade flag and CDK8S_CHECK_UPGRADE (yargs .env('CDK8S')); cdk8s.yaml has no key for
// it. Off by default here; CDK8S_CHECK_UPGRADE=true or --check-upgrade turn it back on.
process.env.CDK8S_CHECK_UPGRADE ||= 'false';
