// Runtime shims so the pinned libp2p 2.x / Helia 5 tree runs on Node.js 20
// (the same shim as ../gossip-js/polyfills.mjs).
//
// mortice@3.3.x (the lock of libp2p's peer store and of Helia's blockstore)
// depends on it-queue@1.x, which calls Promise.withResolvers() -- an ES2024
// builtin that V8 only ships from Node 22 (Node 20.x has V8 11.3). Every
// published it-queue 1.x release does this, so it cannot be fixed by pinning.
// The shim below is the spec'd behaviour. Imported first by peer.mjs, before
// any libp2p or Helia module is evaluated.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}
