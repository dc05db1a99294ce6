// automerge-repo's sync server as its own sync-server package sets it up: a Repo with the WebSocket server
// adapter and Node filesystem storage, which relays and stores documents but announces none of its own.
import { WebSocketServer } from 'ws';
import { Repo, type PeerId } from '@automerge/automerge-repo';
import { WebSocketServerAdapter } from '@automerge/automerge-repo-network-websocket';
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs';

const [port, dir] = process.argv.slice(2);
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(port) });
new Repo({
  network: [new WebSocketServerAdapter(wss as never)],
  storage: new NodeFSStorageAdapter(dir),
  peerId: 'sync-server' as PeerId,
  sharePolicy: async () => false,
});
wss.on('listening', () => console.log(`automerge sync server listening on ${port}`));
