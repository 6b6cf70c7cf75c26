/**
 * OPC UA DataValue -> kedge Sample: status code to quality, source timestamp to reading time,
 * Variant to a loggable value. Pure functions, tested without a server.
 */
import type { Quality, Value } from '@kedge/cloud-sync/model.ts';
import { DataType, VariantArrayType, type Variant } from 'node-opcua-variant';
import { StatusCodes, type StatusCode } from 'node-opcua-status-code';
import type { DataValue } from 'node-opcua-data-value';
import type { Sample } from '../driver.ts';

const codes = StatusCodes as unknown as Record<string, StatusCode>;
const baseOf = (names: readonly string[]) => new Set(names.map((n) => base(codes[n]!)));

/** The server (or its own field link) did not answer in time. */
const NO_RESPONSE = baseOf(['BadTimeout', 'BadNoCommunication', 'BadWaitingForInitialData', 'BadRequestTimeout']);
/** The link between the gateway and the server is down. */
const COMM = baseOf([
  'BadServerNotConnected',
  'BadConnectionClosed',
  'BadSecureChannelClosed',
  'BadCommunicationError',
  'BadNotConnected',
  'BadSessionClosed',
  'BadSessionIdInvalid',
  'BadTcpInternalError',
]);
/** The point cannot be read as configured: a field engineer has to fix the config. */
const CONFIG = baseOf([
  'BadNodeIdUnknown',
  'BadNodeIdInvalid',
  'BadNotReadable',
  'BadAttributeIdInvalid',
  'BadUserAccessDenied',
  'BadIndexRangeInvalid',
  'BadIndexRangeNoData',
  'BadFilterNotAllowed',
  'BadMonitoredItemFilterUnsupported',
  'BadMonitoredItemFilterInvalid',
  'BadDeadbandFilterInvalid',
  'BadDataEncodingInvalid',
  'BadNotSupported',
]);

/** The code without its info bits (overflow, limit bits): what the mapping keys on. */
function base(sc: StatusCode): number {
  return (sc.value & 0xffff0000) >>> 0;
}

export function qualityOf(sc: StatusCode): Quality {
  // Severity bits, not isGood(): GoodClamped and GoodOverload are good values too.
  const severity = sc.value >>> 30;
  if (severity === 0) return 'good';
  if (severity === 1) return 'uncertain';
  const b = base(sc);
  if (NO_RESPONSE.has(b)) return 'bad_no_response';
  if (COMM.has(b)) return 'bad_comm';
  if (CONFIG.has(b)) return 'bad_config';
  return 'bad_device_error';
}

/** "BadNodeIdUnknown (0x80340000)": the name field engineers look up in the OPC UA spec. */
export function describeStatus(sc: StatusCode): string {
  return `${sc.name} (0x${sc.value.toString(16).padStart(8, '0')})`;
}

export class UnsupportedValueError extends Error {}

const TWO_53 = 2n ** 53n;

function int64(words: unknown, signed: boolean): number | bigint {
  if (!Array.isArray(words) || words.length !== 2) throw new UnsupportedValueError('malformed 64-bit integer');
  const [hi, lo] = words as [number, number];
  let big = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  if (signed) big = BigInt.asIntN(64, big);
  return big > TWO_53 || big < -TWO_53 ? big : Number(big);
}

/**
 * Scalars only. Arrays, matrices, structures and byte strings become bad_decode with a clear
 * error rather than a JSON string: the center's schema expects one scalar per point, and a
 * field engineer can select one element of an array with an index range on the server side.
 */
export function valueOf(v: Variant): Value {
  if (v.arrayType !== VariantArrayType.Scalar) {
    throw new UnsupportedValueError(`${VariantArrayType[v.arrayType]} of ${DataType[v.dataType]} is not supported: map each element to its own node`);
  }
  switch (v.dataType) {
    case DataType.Boolean:
      return Boolean(v.value);
    case DataType.SByte:
    case DataType.Byte:
    case DataType.Int16:
    case DataType.UInt16:
    case DataType.Int32:
    case DataType.UInt32:
    case DataType.Float:
    case DataType.Double:
    case DataType.StatusCode:
      return typeof v.value === 'number' ? v.value : Number((v.value as { value?: number }).value ?? v.value);
    case DataType.Int64:
      return int64(v.value, true);
    case DataType.UInt64:
      return int64(v.value, false);
    case DataType.String:
      return String(v.value);
    case DataType.LocalizedText:
      return String((v.value as { text?: string | null } | null)?.text ?? '');
    case DataType.DateTime:
      return v.value instanceof Date ? v.value.toISOString() : String(v.value);
    case DataType.Null:
      throw new UnsupportedValueError('the node has no value (Null variant)');
    default:
      throw new UnsupportedValueError(`data type ${DataType[v.dataType]} is not supported (numbers, booleans, strings, 64-bit integers are)`);
  }
}

/** Source timestamp, else server timestamp, else the gateway's clock. */
export function timestampOf(dv: DataValue, now: number): number {
  return dv.sourceTimestamp?.getTime() ?? dv.serverTimestamp?.getTime() ?? now;
}

export function toSample(point: string, dv: DataValue, now: number = Date.now()): Sample {
  const ts = timestampOf(dv, now);
  const sc = dv.statusCode;
  const quality = qualityOf(sc);
  if (quality !== 'good' && quality !== 'uncertain') {
    return { point, ts, value: null, quality, error: describeStatus(sc) };
  }
  try {
    const value = valueOf(dv.value);
    return quality === 'good' ? { point, ts, value, quality } : { point, ts, value, quality, error: describeStatus(sc) };
  } catch (err) {
    if (!(err instanceof UnsupportedValueError)) throw err;
    return { point, ts, value: null, quality: 'bad_decode', error: err.message };
  }
}
