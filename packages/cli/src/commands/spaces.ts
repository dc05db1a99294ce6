import { fromHex, listDocs, openDoc, reject, ROLES, toHex, toId, type Role } from '@freehold/core';
import { ready, type Command } from '../command.js';
import type { Profile } from '../profile.js';
import { accountRef } from './provider.js';

/** Each space keeps its display name in this document, so every member sees the same name. */
const META_DOC = '.space';

async function spaceName(p: Profile, space: Uint8Array): Promise<string | undefined> {
  const local = Object.entries(p.spaceNames()).find(([, id]) => id === toId(space))?.[0];
  if (local) return local;
  if (!(await p.device.canRead(space))) return undefined;
  const name = (await openDoc(p.device, space, META_DOC, { autoSnapshot: false })).toJSON().name;
  return typeof name === 'string' ? name : undefined;
}

/** Gives every held space that has no local name here the name its members see, when that name is free. */
export async function nameHeldSpaces(p: Profile): Promise<void> {
  const named = new Set(Object.values(p.spaceNames()));
  for (const space of await p.device.store.spaces()) {
    if (named.has(toId(space))) continue;
    const name = await spaceName(p, space);
    if (name && !p.spaceNames()[name]) p.nameSpace(name, space);
  }
}

function parseFields(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return reject('invalid-argument', `--json is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) reject('invalid-argument', '--json must be a JSON object, e.g. \'{"title": "hello"}\'');
  return v as Record<string, unknown>;
}


export const spaceCommands: Command[] = [
  {
    name: 'space create',
    usage: 'space create NAME [--public]',
    summary: 'Create a space (private unless --public). Prints only the space id.',
    options: { public: { type: 'boolean' } },
    args: [1, 1],
    async run(ctx) {
      const p = await ready(ctx);
      const name = ctx.args[0]!;
      if (p.spaceNames()[name]) reject('invalid-argument', `a space named "${name}" already exists here`);
      const space = await p.device.createSpace(ctx.values.public === true);
      p.nameSpace(name, space);
      const meta = await openDoc(p.device, space, META_DOC);
      meta.merge({ name });
      await meta.flush();
      ctx.out(toId(space));
    },
  },
  {
    name: 'space list',
    usage: 'space list [--json]',
    summary: 'List the spaces in this replica.',
    options: { json: { type: 'boolean' } },
    args: [0, 0],
    async run(ctx) {
      const p = await ready(ctx);
      const list = [];
      for (const space of await p.device.store.spaces()) {
        const graph = await p.device.replica.graph(space);
        if (!graph.created) continue;
        const role = graph.current().roles.get(toHex(p.device.account)) ?? null;
        list.push({ id: toId(space), name: (await spaceName(p, space)) ?? null, public: graph.isPublic, role, entries: (await p.device.store.keys(space)).length });
      }
      if (ctx.values.json) return ctx.json(list);
      if (!list.length) return ctx.out('no spaces yet: `freehold space create NAME`');
      for (const s of list) ctx.out(`${s.id}  ${s.name ?? '(unnamed)'}  ${s.public ? 'public' : 'private'}  ${s.role ?? 'not a member'}  ${s.entries} entries`);
    },
  },
  {
    name: 'space add',
    usage: 'space add SPACE ACCOUNT|NAME@host --role admin|writer|reader|appender',
    summary: 'Give an account a role in a space (by id once its contact card is added, or by handle).',
    options: { role: { type: 'string' } },
    args: [2, 2],
    async run(ctx) {
      const role = ctx.values.role as string | undefined;
      if (!role || !ROLES.includes(role as Role)) reject('invalid-argument', `--role must be one of ${ROLES.join(', ')}`);
      const p = await ready(ctx);
      const space = p.space(ctx.args[0]!);
      await p.device.setRole(space, await accountRef(p, ctx.args[1]!), role as Role);
      ctx.out(`${ctx.args[1]} is now ${role} of ${ctx.args[0]}`);
    },
  },
  {
    name: 'space remove',
    usage: 'space remove SPACE ACCOUNT',
    summary: 'Remove a member; in a private space the key rotates so they cannot read what comes next.',
    args: [2, 2],
    async run(ctx) {
      const p = await ready(ctx);
      await p.device.remove(p.space(ctx.args[0]!), await accountRef(p, ctx.args[1]!));
      ctx.out(`${ctx.args[1]} removed from ${ctx.args[0]}`);
    },
  },
  {
    name: 'space members',
    usage: 'space members SPACE [--json]',
    summary: 'List the members of a space and their roles.',
    options: { json: { type: 'boolean' } },
    args: [1, 1],
    async run(ctx) {
      const p = await ready(ctx);
      const graph = await p.device.replica.graph(p.space(ctx.args[0]!));
      if (!graph.created) reject('not-found', `space ${ctx.args[0]} is not in this replica (sync first?)`);
      const me = toHex(p.device.account);
      const members = [...graph.current().roles].map(([a, role]) => ({ account: toId(fromHex(a)), role, you: a === me }));
      if (ctx.values.json) return ctx.json(members);
      for (const m of members) ctx.out(`${m.account}  ${m.role}${m.you ? '  (you)' : ''}`);
    },
  },
  {
    name: 'doc put',
    usage: "doc put SPACE DOC --json '{...}'",
    summary: 'Merge the given top-level fields into a document (null deletes a field).',
    options: { json: { type: 'string' } },
    args: [2, 2],
    async run(ctx) {
      const text = ctx.values.json;
      if (typeof text !== 'string') reject('invalid-argument', "doc put needs --json '{...}' with the fields to set");
      const fields = parseFields(text);
      const p = await ready(ctx);
      const space = p.space(ctx.args[0]!);
      if (!(await p.device.canWrite(space))) {
        const role = await p.device.replica.roleOf(space, p.device.account);
        reject(role ? 'forbidden-role' : 'not-member', role ? `you are a ${role} of this space and cannot write to it` : 'you are not a member of this space');
      }
      const doc = await openDoc(p.device, space, ctx.args[1]!);
      doc.merge(fields);
      await doc.flush();
    },
  },
  {
    name: 'doc get',
    usage: 'doc get SPACE DOC [--json]',
    summary: 'Print a document.',
    options: { json: { type: 'boolean' } },
    args: [2, 2],
    async run(ctx) {
      const p = await ready(ctx);
      const space = p.space(ctx.args[0]!);
      const name = ctx.args[1]!;
      if (!(await listDocs(p.device, space)).includes(name)) reject('not-found', `no document "${name}" in ${ctx.args[0]}`);
      const json = (await openDoc(p.device, space, name)).toJSON();
      if (ctx.values.json) return ctx.json(json);
      for (const [k, v] of Object.entries(json)) ctx.out(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    },
  },
  {
    name: 'doc list',
    usage: 'doc list SPACE [--json]',
    summary: 'List the documents of a space.',
    options: { json: { type: 'boolean' } },
    args: [1, 1],
    async run(ctx) {
      const p = await ready(ctx);
      const names = (await listDocs(p.device, p.space(ctx.args[0]!))).filter((n) => n !== META_DOC);
      if (ctx.values.json) return ctx.json(names);
      for (const n of names) ctx.out(n);
    },
  },
];
