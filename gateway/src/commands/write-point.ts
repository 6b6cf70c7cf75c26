import type { Value } from '@kedge/cloud-sync/model.ts';
import type { GatewayConfig } from '../config/schema.ts';
import type { DeviceDriver } from '../drivers/driver.ts';
import { WriteError } from '../drivers/write-error.ts';

export type WriteValue = number | boolean | string | bigint;

export interface WriteResult {
  device: string;
  point: string;
  /** The value as asked for (engineering units, before reversing scale and offset). */
  value: Value;
  ts: number;
}

/** The raw value for the device: the inverse of the pipeline's value * scale + offset. */
export function unscale(value: WriteValue, p: { scale: number; offset: number }): WriteValue {
  if (typeof value === 'boolean' || typeof value === 'string') return value;
  if (p.scale === 1 && p.offset === 0) return value;
  if (p.scale === 0) throw new WriteError('invalid_value', 'the point has scale 0, so no raw value gives the asked value');
  return (Number(value) - p.offset) / p.scale;
}

/**
 * Checks a write against the config in force and hands it to the device's driver. Only points
 * marked `writable: true` are written: a gateway must never turn a meter reading into a
 * setpoint because someone typed the wrong point id.
 */
export async function writePoint(
  config: GatewayConfig,
  driverOf: (deviceId: string) => DeviceDriver | undefined,
  deviceId: string,
  pointId: string,
  value: WriteValue,
): Promise<WriteResult> {
  const device = config.devices.find((d) => d.id === deviceId);
  if (!device) {
    const known = config.devices.map((d) => d.id).join(', ') || 'none';
    throw new WriteError('not_found', `no device "${deviceId}" in the config (devices: ${known})`);
  }
  const point = (device.points as ReadonlyArray<{ id: string; writable: boolean; scale: number; offset: number }>).find((p) => p.id === pointId);
  if (!point) throw new WriteError('not_found', `device "${deviceId}" has no point "${pointId}"`);
  if (!point.writable) {
    throw new WriteError('not_writable', `point ${deviceId}/${pointId} is not writable: the config must mark it "writable: true" before it can be written`);
  }
  if (!device.enabled) throw new WriteError('not_found', `device "${deviceId}" is disabled (enabled: false), so it is not connected`);
  if (!['number', 'boolean', 'string', 'bigint'].includes(typeof value)) {
    throw new WriteError('invalid_value', `value for ${deviceId}/${pointId} must be a number, boolean or string, got ${value === null ? 'null' : typeof value}`);
  }
  if (typeof value === 'number' && !Number.isFinite(value) && (point.scale !== 1 || point.offset !== 0)) {
    throw new WriteError('invalid_value', `value for ${deviceId}/${pointId} must be a finite number, got ${value}`);
  }
  const driver = driverOf(deviceId);
  if (!driver) throw new WriteError('device_error', `device "${deviceId}" is not running (a config reload may be in progress); try again`);
  if (!driver.write) throw new WriteError('unsupported', `the ${device.driver} driver of device "${deviceId}" cannot write`);
  await driver.write(pointId, unscale(value, point));
  return { device: deviceId, point: pointId, value, ts: Date.now() };
}
