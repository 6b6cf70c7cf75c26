/**
 * Opening and closing one johnny-five board, and noticing when it goes away. Reconnecting is
 * the watchdog's job; this file only knows a single attempt.
 */
import five, { type Board, type IoPlugin } from 'johnny-five';

export type BoardFactory = () => Board;

const QUIET = { repl: false, debug: false, sigint: false } as const;

/** Firmata over a serial port (an Arduino running StandardFirmata). */
export function serialBoard(path: string, readyTimeoutMs: number): BoardFactory {
  return () => new five.Board({ ...QUIET, port: path, timeout: readyTimeoutMs });
}

/** An IO plugin instance (a Pi plugin, or MockBoardIo); a new one per attempt. */
export function ioBoard(makeIo: () => IoPlugin): BoardFactory {
  return () => new five.Board({ ...QUIET, io: makeIo() });
}

export interface BoardLink {
  board: Board;
  /** Called once when the board reports close, disconnect or error after it was ready. */
  onLost(listener: (reason: string) => void): void;
  /** Stops listening and closes the serial port, if there is one. */
  close(): void;
}

/** johnny-five emits Errors from IO plugins but {class, message} log events of its own. */
function describe(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message.split('\n')[0]!.trim() : String(err);
}

function closeTransport(io: IoPlugin | null | undefined): void {
  const transport = io?.transport;
  if (transport?.isOpen && transport.close) transport.close(() => {});
}

/** One connection attempt; rejects on error or when "ready" does not come within the timeout. */
export function openBoard(factory: BoardFactory, readyTimeoutMs: number): Promise<BoardLink> {
  return new Promise((resolve, reject) => {
    let board: Board;
    try {
      board = factory();
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    // johnny-five keeps emitting "error" on a board we gave up on (its own connect timer);
    // an EventEmitter without an error listener would take the whole node down.
    board.on('error', () => {});
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout((board as unknown as { timer?: NodeJS.Timeout }).timer);
      board.removeAllListeners('ready');
      closeTransport(board.io);
      reject(new Error(message));
    };
    const timer = setTimeout(() => fail(`board not ready within ${readyTimeoutMs} ms`), readyTimeoutMs);
    const onError = (err: unknown) => fail(`board error: ${describe(err)}`);
    board.on('error', onError);
    board.once('ready', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      board.removeListener('error', onError);
      resolve(watch(board));
    });
  });
}

function watch(board: Board): BoardLink {
  const io = board.io;
  let listener: ((reason: string) => void) | undefined;
  let lost = false;
  const report = (reason: string) => {
    if (lost) return;
    lost = true;
    listener?.(reason);
  };
  const handlers: Array<[string, (arg?: unknown) => void]> = [
    ['close', () => report('board link closed')],
    ['disconnect', () => report('board disconnected')],
    ['error', (err) => report(`board error: ${describe(err)}`)],
  ];
  for (const [event, handler] of handlers) io.on(event, handler);
  board.on('fail', (e: unknown) => report(`board component failed: ${describe(e)}`));
  return {
    board,
    onLost(l) {
      listener = l;
    },
    close() {
      lost = true;
      for (const [event, handler] of handlers) io.removeListener(event, handler);
      closeTransport(io);
    },
  };
}
