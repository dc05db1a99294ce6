import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  boxKeyFromSecret,
  completeRecovery,
  Device,
  fromHex,
  fromId,
  reject,
  signingKeyFromSeed,
  toHex,
  toId,
  type DeviceKeys,
  type PendingRecovery,
} from '@freehold/core';
import { SqliteStore } from '@freehold/stores';
import { installNativeCrypto } from '@freehold/node';

installNativeCrypto();

/** profile.json: this device's keys (mode 600, never exported) and local names for spaces. */
interface ProfileFile {
  format: 'freehold-profile/1';
  account: string;
  name: string;
  device: { sign: string; box: string };
  spaces: Record<string, string>;
  recovery?: { claim: string; box: string; name: string };
}

export function resolveHome(flag: string | undefined): string {
  return resolve(flag ?? process.env.FREEHOLD_HOME ?? join(homedir(), '.freehold'));
}

const profilePath = (home: string) => join(home, 'profile.json');

export const hasProfile = (home: string): boolean => existsSync(profilePath(home));

export class Profile {
  private constructor(
    readonly home: string,
    private data: ProfileFile,
    readonly device: Device,
  ) {}

  static async create(home: string, account: Uint8Array, keys: DeviceKeys, name: string, recovery?: PendingRecovery): Promise<Profile> {
    if (hasProfile(home)) reject('invalid-argument', `a profile already exists in ${home} (use --home to pick another folder)`);
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const data: ProfileFile = {
      format: 'freehold-profile/1',
      account: toId(account),
      name,
      device: { sign: toHex(keys.sign.seed), box: toHex(keys.box.secretKey) },
      spaces: {},
    };
    if (recovery) data.recovery = { claim: toHex(recovery.claim), box: toHex(recovery.recoveryBoxSecret), name: recovery.name };
    const device = await Device.open(new SqliteStore(join(home, 'replica.db')), keys, account);
    const p = new Profile(home, data, device);
    p.save();
    return p;
  }

  static async open(home: string): Promise<Profile> {
    if (!hasProfile(home)) reject('not-found', `no Freehold profile in ${home}: run \`freehold init\` or \`freehold recover\` first`);
    let data: ProfileFile;
    try {
      data = JSON.parse(readFileSync(profilePath(home), 'utf8')) as ProfileFile;
    } catch (e) {
      return reject('malformed', `${profilePath(home)} is not readable: ${(e as Error).message}`);
    }
    if (data.format !== 'freehold-profile/1') reject('unsupported-version', `${profilePath(home)} has an unknown format`);
    const keys: DeviceKeys = { sign: signingKeyFromSeed(fromHex(data.device.sign)), box: boxKeyFromSecret(fromHex(data.device.box)) };
    const device = await Device.open(new SqliteStore(join(home, 'replica.db')), keys, fromId(data.account, 'account'));
    return new Profile(home, data, device);
  }

  get name(): string {
    return this.data.name;
  }

  get recovering(): boolean {
    return this.data.recovery !== undefined;
  }

  /** Finishes a pending recovery once the replica holds the account's identity log. */
  async finishRecovery(): Promise<boolean> {
    const r = this.data.recovery;
    if (!r) return false;
    const pending: PendingRecovery = {
      account: this.device.account,
      device: this.device.keys,
      name: r.name,
      claim: fromHex(r.claim),
      recoveryBoxSecret: fromHex(r.box),
    };
    if (!(await completeRecovery(this.device.replica, pending))) return false;
    delete this.data.recovery;
    this.save();
    return true;
  }

  /** Fails clearly while this device is not yet part of its account. */
  requireDevice(): void {
    if (this.recovering) reject('not-found', 'recovery is not finished: run `freehold import FILE` or `freehold sync --with DIR` first');
  }

  spaceNames(): Record<string, string> {
    return { ...this.data.spaces };
  }

  nameSpace(name: string, space: Uint8Array): void {
    if (this.data.spaces[name]) reject('invalid-argument', `a space named "${name}" already exists here`);
    this.data.spaces[name] = toId(space);
    this.save();
  }

  /** A space by local name or id. */
  space(ref: string): Uint8Array {
    const id = this.data.spaces[ref];
    if (id) return fromId(id, 'space');
    if (/^[1-9A-HJ-NP-Za-km-z]{40,50}$/.test(ref)) return fromId(ref, 'space');
    return reject('not-found', `no space named "${ref}" (see \`freehold space list\`)`);
  }

  private save(): void {
    const path = profilePath(this.home);
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.data, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  }

  async close(): Promise<void> {
    await this.device.store.close();
  }
}
