import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { providerInfo, register, claimHandle, resolveHandle } from '@freehold/client';
import { freePort } from '../../../test-support/net.js';
import { newDevice, tempDir } from './helpers.js';
import { spawnServer } from './process.js';

const tmp = tempDir('provider-identity');
afterAll(() => tmp.cleanup());

describe('a provider has an identity and answers to any of its names', () => {
  it('serves one document under every name, with a key that survives restarts; requests signed for it work from any name', async () => {
    const port = await freePort();
    const data = join(tmp.dir, 'p');
    let server = await spawnServer(['--port', String(port), '--data', data]);
    const byName = (await (await fetch(`http://localhost:${port}/.well-known/freehold/provider`)).json()) as Record<string, unknown>;
    const byIp = (await (await fetch(`http://127.0.0.1:${port}/.well-known/freehold/provider`)).json()) as Record<string, unknown>;
    expect(byIp).toEqual(byName);
    expect(byName).toMatchObject({ url: `http://localhost:${port}`, host: `localhost:${port}`, protocols: ['freehold-sync/1'] });
    expect(String(byName.key)).toMatch(/^[1-9A-HJ-NP-Za-km-z]{40,50}$/);
    await server.stop();
    server = await spawnServer(['--port', String(port), '--data', data]);
    expect(((await (await fetch(`http://127.0.0.1:${port}/.well-known/freehold/provider`)).json()) as { key: string }).key).toBe(byName.key);

    // A device that only knows the provider as 127.0.0.1 lists and signs for the canonical name.
    const alias = `http://127.0.0.1:${port}`;
    const d = await newDevice(tmp.dir, 'dana');
    const info = await providerInfo(alias);
    await d.setProviders([info.url]);
    expect((await register(alias, d)).quota).toBeGreaterThan(0);
    await d.setHandles([`dana@${info.host}`]);
    expect(await claimHandle(alias, d, 'dana')).toBe(`dana@localhost:${port}`);
    expect((await resolveHandle(`dana@localhost:${port}`)).providers).toEqual([`http://localhost:${port}`]);
    await server.stop();
  });

  it('a URL that is not a Freehold provider gets a clear error', async () => {
    await expect(providerInfo('http://127.0.0.1:1')).rejects.toMatchObject({ reason: 'unavailable' });
  });
});
