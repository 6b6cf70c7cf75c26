/**
 * A sensor board without hardware: mock-firmata with the one thing it lacks. Its analogRead
 * and digitalRead only log, so johnny-five components never hear a value; here they
 * subscribe to `analog-read-N` / `digital-read-N` like firmata.js does, and tests or the demo
 * feed values by emitting those events.
 */
import mocks from 'mock-firmata';
import type { IoPlugin } from 'johnny-five';
import type { ChannelSet } from './channels/types.ts';

export class MockBoardIo extends mocks.Firmata implements IoPlugin {
  override analogRead(pin: number, callback: (value: number) => void): void {
    this.on(`analog-read-${pin}`, callback);
  }

  override digitalRead(pin: number, callback: (value: number) => void): void {
    this.on(`digital-read-${pin}`, callback);
  }

  /** What a board does once its serial link is up and its firmware answered. */
  bringUp(): void {
    this.emit('connect');
    this.emit('ready');
  }

  feedAnalog(pin: number, value: number): void {
    this.emit(`analog-read-${pin}`, value);
  }

  feedDigital(pin: number, value: 0 | 1): void {
    this.emit(`digital-read-${pin}`, value);
  }
}

/** Analog channel number of a johnny-five analog pin name ("A2" -> 2). */
export function analogIndex(pin: string): number {
  const m = /^A(\d+)$/.exec(pin);
  if (!m) throw new Error(`"${pin}" is not an analog pin name such as A0`);
  return Number(m[1]);
}

/**
 * Plausible river-station raw counts for `--mock-board` demos: a slowly rising river, cool
 * water, some turbidity, a healthy battery, a shut door. Returns a stop function.
 */
export function startDemoSignals(io: MockBoardIo, channels: ChannelSet, everyMs = 50): () => void {
  const base: Record<string, number> = { water_level: 430, water_temperature: 270, turbidity: 120, battery_voltage: 520 };
  const t0 = Date.now();
  const timer = setInterval(() => {
    const t = (Date.now() - t0) / 1000;
    for (const ch of channels.analog) {
      const noise = (Math.random() - 0.5) * 4;
      const wave = ch.id === 'water_level' ? 20 * Math.sin(t / 30) : 0;
      io.feedAnalog(analogIndex(ch.pin), Math.round((base[ch.id] ?? 512) + wave + noise));
    }
    io.feedDigital(channels.door.pin, 0);
  }, everyMs);
  return () => clearInterval(timer);
}
