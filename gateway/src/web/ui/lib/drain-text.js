// What the box panel says about the backlog draining (GET /api/box `backlog`, routes/box-drain.ts).
import { t } from './i18n.js';
import { fmtDuration } from './format.js';

export function drainText(backlog) {
  if (backlog.unsent === 0) return t('box.drained');
  if (backlog.drainMs !== null && backlog.drainMs !== undefined) return t('box.drainIn', { d: fmtDuration(backlog.drainMs) });
  // No rate yet (the first look at the panel) is not "not draining": the uplink may well be sending.
  if (backlog.netPerSecond === null || backlog.netPerSecond === undefined) return t('box.drainMeasuring');
  // The estimate is at the net rate (sent minus still arriving): sending, yet not shrinking, is
  // "not keeping up"; nothing acknowledged at all is "not sending now".
  return backlog.ackedPerSecond > 0 ? t('box.notKeepingUp') : t('box.notDraining');
}
