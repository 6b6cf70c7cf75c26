/** The SQLite reading log keeps the LogSource contract the north side's sinks are tested against (on MemoryLog). */
import { logSourceContract } from '@kedge/cloud-sync/north/log-source-contract.ts';
import { tempLog } from './testing.ts';

logSourceContract('ReadingLog', (t) => {
  const log = tempLog(t, 'kedge-contract-');
  return {
    log,
    write: (readings) => {
      log.append(readings);
      log.flush();
    },
  };
});

// The same again with every read from SQLite: the in-memory tail of fresh rows must not be
// what makes the contract hold.
logSourceContract('ReadingLog without its memory tail', (t) => {
  const log = tempLog(t, 'kedge-contract-', { memoryTailRecords: 0 });
  return {
    log,
    write: (readings) => {
      log.append(readings);
      log.flush();
    },
  };
});
