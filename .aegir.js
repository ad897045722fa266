import { fileURLToPath } from 'node:url'

/**
 * In browser bundles, `test/fixtures/gc.ts` (node:v8, node:vm) is replaced by
 * `gc.browser.ts`, which calls the `gc()` Chromium exposes with --expose-gc.
 *
 * @type {import('esbuild').Plugin}
 */
const browserGc = {
  name: 'libp2p-stream browser gc fixture',
  setup (build) {
    build.onResolve({ filter: /\/fixtures\/gc\.js$/ }, () => ({
      path: fileURLToPath(new URL('./dist/test/fixtures/gc.browser.js', import.meta.url))
    }))
  }
}

/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  },
  test: {
    // `npm test` runs node; `npm run test:browser` runs browser and webworker
    // against a Node peer started here
    target: ['node'],
    browser: {
      config: {
        // playwright-test passes these to launchPersistentContext, which takes
        // launch options (args) beside context options; gc() for gc.browser.ts
        browserContextOptions: { args: ['--js-flags=--expose-gc'] },
        buildConfig: { plugins: [browserGc] }
      }
    },
    async before (options) {
      if (options.runner !== 'browser' && options.runner !== 'webworker') {
        return {}
      }
      // built by aegir before the browser run
      const { startNodePeer } = await import('./dist/test/fixtures/node-peer.js')
      const peer = await startNodePeer()
      return { peer, env: peer.env }
    },
    async after (options, before) {
      await before?.peer?.stop()
    }
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
      'node',
      // added for the interop matrix over TLS, which lands with test/interop
      // on its own branch; nothing on this branch imports it yet
      '@libp2p/tls',
      // the examples import the package by its own name, as its users do
      // (Node and esbuild resolve it to this repository through "exports")
      'libp2p-stream'
    ]
  }
}
