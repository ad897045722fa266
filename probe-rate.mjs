import { createNode } from './dist/test/fixtures/nodes.js'
const listener = await createNode('tcp', { maxInboundStreamRate: 10, inboundStreamBurst: 5 })
const opener = await createNode('tcp', {}, undefined, [])
const P = '/probe/1.0.0'
await listener.handle(P, s => { s.abort(new Error('x')) })
const control = opener.services.stream.newControl()
const errs = {}
for (let i = 0; i < 20; i++) {
  try { const s = await control.openStream(listener.getMultiaddrs()[0], P); s.abort(new Error('y')); errs.ok = (errs.ok ?? 0) + 1 } catch (e) { const k = `${e.name}:${e.code}:${e.cause?.name}:${e.message.slice(0,120)}`; errs[k] = (errs[k] ?? 0) + 1 }
}
const conn = opener.getConnections()[0]
for (let i = 0; i < 3; i++) {
  try { const s = await conn.newStream(P); s.abort(new Error('y')); errs.rawok = (errs.rawok ?? 0) + 1 } catch (e) { const k = `raw ${e.name}:${e.message.slice(0,80)}`; errs[k] = (errs[k] ?? 0) + 1 }
}
console.log(errs, listener.services.stream.stats())
await opener.stop(); await listener.stop()
