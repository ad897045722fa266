/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  },
  test: {
    // node only: the package's tests start real TCP nodes and child processes
    target: ['node']
  },
  docs: {
    entryPoint: 'src/index.ts'
  },
  dependencyCheck: {
    // the demo, benchmarks and scripts run from the repository, not the package
    productionIgnorePatterns: [
      '/benchmarks',
      '/dist',
      '/examples',
      '/scripts',
      '/test',
      '.aegir.js'
    ],
    ignore: [
      // the Node >= 22 runtime that npm scripts run with, see README
      'node'
    ]
  }
}
