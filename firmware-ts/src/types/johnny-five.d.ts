// johnny-five 2.1 and mock-firmata 0.2 ship no types; these cover what the firmware uses.
declare module 'johnny-five' {
  import { EventEmitter } from 'node:events';

  export interface IoPlugin extends EventEmitter {
    name?: string;
    isReady?: boolean;
    analogRead(pin: number, callback: (value: number) => void): void;
    digitalRead(pin: number, callback: (value: number) => void): void;
    /** Firmata over serial: the open serial port. */
    transport?: { isOpen?: boolean; close?: (cb?: (err?: Error | null) => void) => void };
  }

  export interface BoardOptions {
    io?: IoPlugin;
    port?: string;
    repl?: boolean;
    debug?: boolean;
    sigint?: boolean;
    /** Milliseconds to wait for "ready" after "connect". */
    timeout?: number;
  }

  export class Board extends EventEmitter {
    constructor(options?: BoardOptions);
    io: IoPlugin;
    isReady: boolean;
  }

  export class Sensor extends EventEmitter {
    constructor(options: { pin: string | number; board?: Board; enabled?: boolean; type?: 'analog' | 'digital'; freq?: number });
    readonly pin: number;
    /** Last raw reading, null before the first. */
    readonly raw: number | null;
    disable(): void;
  }

  export class Switch extends EventEmitter {
    constructor(options: { pin: string | number; board?: Board; type?: 'NO' | 'NC' });
    readonly pin: number;
    readonly isOpen: boolean;
    readonly isClosed: boolean;
  }

  const five: { Board: typeof Board; Sensor: typeof Sensor; Switch: typeof Switch };
  export default five;
}

declare module 'mock-firmata' {
  import { EventEmitter } from 'node:events';
  export class Firmata extends EventEmitter {
    constructor(options?: Record<string, unknown>);
    name: string;
    isReady: boolean;
    analogRead(pin: number, callback: (value: number) => void): void;
    digitalRead(pin: number, callback: (value: number) => void): void;
  }
  const mocks: { Firmata: typeof Firmata };
  export default mocks;
}
