/**
 * Why a write to a device point did not happen. `code` is stable (it travels in command
 * responses and API errors); `message` names the device, point and what is wrong.
 */
export type WriteErrorCode = 'not_found' | 'not_writable' | 'invalid_value' | 'device_error' | 'timeout' | 'unsupported';

export class WriteError extends Error {
  override readonly name = 'WriteError';

  constructor(
    readonly code: WriteErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isWriteError(err: unknown): err is WriteError {
  return err instanceof WriteError;
}
