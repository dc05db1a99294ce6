// The byte-counting relay in a process of its own, for fan-out: it stamps when each message from the server has
// crossed it, on its own event loop, so the stamps are not delayed by the subscribers' client work in the bench
// process. Arguments: the server's port, and how its keepalive messages begin ('' for none).
import { CountingProxy } from '../proxy.js';

const proxy = await CountingProxy.start(Number(process.argv[2]), { keepalive: process.argv[3] ?? '' });
process.on('message', () => process.send!(proxy.downstream.map((m) => m.ends)));
process.send!(proxy.port);
