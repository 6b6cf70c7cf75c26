/**
 * A point's type comes from what the server says the variable is (its DataType attribute,
 * resolved to the built-in type through the type hierarchy: Duration is a Double, UtcTime a
 * DateTime, an enumeration an Int32), never from the first value seen: a Double that happens
 * to read 12 first is still a Double, and a Sparkplug birth fixes the type for good.
 */
import { DataType } from 'node-opcua-variant';
import type { OpcuaPointType } from './schema.ts';

/** The kedge type a built-in OPC UA type is logged as; undefined for types kedge does not log as scalars. */
export function pointTypeOf(dt: DataType): OpcuaPointType | undefined {
  switch (dt) {
    case DataType.Boolean:
      return 'bool';
    case DataType.SByte:
    case DataType.Int16:
      return 'int16';
    case DataType.Byte:
    case DataType.UInt16:
      return 'uint16';
    case DataType.Int32:
      return 'int32';
    case DataType.UInt32:
    case DataType.StatusCode:
      return 'uint32';
    case DataType.Float:
      return 'float32';
    case DataType.Double:
      return 'float64';
    case DataType.Int64:
      return 'int64';
    case DataType.UInt64:
      return 'uint64';
    case DataType.String:
    case DataType.LocalizedText:
    case DataType.DateTime:
      return 'string';
    default:
      return undefined;
  }
}

/** The built-in type to write a configured type as, when the config names it (the server's type wins when known). */
export function dataTypeOf(t: OpcuaPointType): DataType {
  const map: Record<OpcuaPointType, DataType> = {
    bool: DataType.Boolean,
    int16: DataType.Int16,
    uint16: DataType.UInt16,
    int32: DataType.Int32,
    uint32: DataType.UInt32,
    float32: DataType.Float,
    int64: DataType.Int64,
    uint64: DataType.UInt64,
    float64: DataType.Double,
    string: DataType.String,
  };
  return map[t];
}
