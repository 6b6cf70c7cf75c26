import type { DeviceDriver, PollResult } from './driver.ts';

/**
 * Stands in for a device whose driver could not be created (its implementation failed to load,
 * or it threw): the device is still scheduled, with its backoff, and every poll reports each
 * point `bad_config` with the reason. The device page, the health log and the center see a
 * failing device saying why, rather than a device that silently never reads.
 */
export function unavailableDriver(deviceId: string, reason: string): DeviceDriver {
  return {
    deviceId,
    poll: async (pointIds): Promise<PollResult> => {
      const ts = Date.now();
      return { samples: pointIds.map((point) => ({ point, ts, value: null, quality: 'bad_config', error: reason })), requests: 0, failed: true, error: reason };
    },
    close: async () => undefined,
  };
}
