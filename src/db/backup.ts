import SqliteDatabase from "better-sqlite3";
import { existsSync, linkSync, rmSync } from "node:fs";
import path from "node:path";

export class BackupRefused extends Error {}

/**
 * A consistent copy of a SQLite deployment's database, taken while the app
 * runs and writes: SQLite's online backup API on a connection of its own
 * (each step copies pages under a read transaction; a write by another
 * connection between steps makes SQLite start over, so the copy is always
 * one committed state). The copy is written beside the target and linked
 * into place, which fails if the target exists: nothing is overwritten.
 */
export async function backupSqliteFile(
  source: string,
  target: string,
): Promise<{ pages: number }> {
  if (existsSync(target))
    throw new BackupRefused(
      `${target} exists; a backup never overwrites a file.`,
    );
  if (!existsSync(source))
    throw new BackupRefused(`No database at ${source} (check DATA_DIR).`);
  const partial = path.join(
    path.dirname(path.resolve(target)),
    `.${path.basename(target)}.${process.pid}.partial`,
  );
  const db = new SqliteDatabase(source, { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    const { totalPages } = await db.backup(partial, {
      // After the first step, the rest in one: fewer chances for a write in
      // between to restart the copy.
      progress: ({ remainingPages }) => Math.max(remainingPages, 100),
    });
    // The copy in one file, without a write-ahead log beside it.
    const copy = new SqliteDatabase(partial);
    try {
      copy.pragma("journal_mode = DELETE");
      const check = copy.pragma("quick_check", { simple: true });
      if (check !== "ok") throw new Error(`the copy fails its check: ${check}`);
    } finally {
      copy.close();
    }
    try {
      linkSync(partial, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST")
        throw new BackupRefused(
          `${target} exists; a backup never overwrites a file.`,
        );
      throw error;
    }
    return { pages: totalPages };
  } finally {
    db.close();
    for (const file of [partial, `${partial}-wal`, `${partial}-shm`])
      rmSync(file, { force: true });
  }
}
