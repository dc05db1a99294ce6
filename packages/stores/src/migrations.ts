import { reject } from '@freehold/core';

/**
 * One numbered change to a SQL store's schema. Versions count up from 1 with no gaps; a released migration never
 * changes, a later one changes what it made. `up` is SQL, or a function for a change SQL cannot say on its own.
 *
 * The migrations up to the schema the last store without a recorded version had are written so that they can run
 * again over what they made (`IF NOT EXISTS`, columns added only when missing): a store from before versions were
 * recorded reads as version 0 and gets all of them.
 */
export interface Migration<Up = string> {
  version: number;
  name: string;
  up: Up;
}

/** The table each SQL store records its applied migrations in. */
export const MIGRATIONS_TABLE = 'CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)';

/** The migrations a store at `current` still needs; refuses a store a newer Freehold has migrated past what this one knows. */
export function pending<M extends Migration<unknown>>(where: string, current: number, migrations: readonly M[]): M[] {
  const known = migrations.at(-1)?.version ?? 0;
  if (current > known) {
    reject(
      'unsupported-version',
      `${where} is at schema version ${current}, but this Freehold knows versions up to ${known}: run the release that upgraded it or a later one (stores are never downgraded)`,
    );
  }
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} is numbered ${m.version}, not ${i + 1}`);
  });
  return migrations.filter((m) => m.version > current);
}
