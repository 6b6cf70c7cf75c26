import Database from 'better-sqlite3';
import type { CommandResponse } from '@kedge/cloud-sync/downlink/envelope.ts';

/** How long answered command ids are remembered; far beyond any commands.maxAgeMs. */
const KEEP_MS = 30 * 24 * 3_600_000;

/**
 * Answered command ids with their answer, in `<dataDir>/commands.db`: a command delivered
 * twice (QoS 1 redelivery, a center retry) is answered again without acting twice, across
 * restarts. Kept apart from the reading log so that neither schema depends on the other.
 */
export class CommandStore {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string], { response: string }>;
  private readonly putStmt: Database.Statement<[string, string, number, string]>;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS commands (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      answered_at INTEGER NOT NULL,
      response TEXT NOT NULL
    )`);
    this.getStmt = this.db.prepare('SELECT response FROM commands WHERE id = ?');
    this.putStmt = this.db.prepare('INSERT OR IGNORE INTO commands (id, kind, answered_at, response) VALUES (?, ?, ?, ?)');
    this.db.prepare('DELETE FROM commands WHERE answered_at < ?').run(Date.now() - KEEP_MS);
  }

  answerOf(id: string): CommandResponse | null {
    const row = this.getStmt.get(id);
    return row ? (JSON.parse(row.response) as CommandResponse) : null;
  }

  remember(id: string, kind: string, response: CommandResponse): void {
    this.putStmt.run(id, kind, Date.now(), JSON.stringify(response));
  }

  close(): void {
    this.db.close();
  }
}
