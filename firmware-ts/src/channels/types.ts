import type { Calibration } from '../calibration.ts';
import type { FilterKind } from '../filter.ts';
import type { AnalogChannelId } from '../register-map.ts';

/** One analog input: where it is wired, how raw counts become a value, what is plausible. */
export interface AnalogChannelDef {
  id: AnalogChannelId;
  kind: 'analog';
  /** johnny-five pin name, e.g. "A0". */
  pin: string;
  unit: string;
  /** Factory calibration; the settings file (written over Modbus) overrides it. */
  calibration: Calibration;
  filter: { kind: FilterKind; window: number };
  /** Calibrated values outside this range set the channel's fault bit instead of being reported. */
  validRange: { min: number; max: number };
}

/** A contact input read through a johnny-five Switch. */
export interface DigitalChannelDef {
  id: 'door_open';
  kind: 'digital';
  pin: number;
  /** NO: the contact closes when the door closes; NC: it opens. */
  contact: 'NO' | 'NC';
}

export interface ChannelSet {
  analog: readonly AnalogChannelDef[];
  door: DigitalChannelDef;
}
