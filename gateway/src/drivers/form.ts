/**
 * A driver's device form as data: which fields the web UI shows, in which group, with labels in
 * both UI languages. Limits, choices, defaults and whether a field is required are not written
 * here but read from the driver's zod config schema (its JSON Schema), so the form cannot drift
 * from what the loader accepts. The server still validates every save with the same schema.
 */
import { z } from 'zod';

export interface Text {
  ru: string;
  en: string;
}

export type Widget = 'text' | 'number' | 'select' | 'checkbox' | 'password';

/** What a driver's form.ts writes for one field. */
export interface FieldSpec {
  key: string;
  label: Text;
  hint?: Text;
  group: 'identity' | 'connection' | 'timing' | 'security' | 'point';
  /** Choices when the schema cannot say them (a refinement, not an enum). */
  options?: Array<string | number>;
  widget?: Widget;
  /** The field is shown only when another one has one of these values. */
  showIf?: { key: string; values: Array<string | number | boolean> };
}

/** One field as the UI renders it: the spec plus the schema's constraints. */
export interface FormField extends FieldSpec {
  widget: Widget;
  required: boolean;
  default?: unknown;
  min?: number;
  max?: number;
  pattern?: string;
  options?: Array<string | number>;
}

export interface DriverForm {
  driver: string;
  label: Text;
  fields: FormField[];
  /** Columns of the points table. */
  pointFields: FormField[];
  /** The new device the form starts from. */
  template: Record<string, unknown>;
  /**
   * Every key the driver's device accepts, with the shape of its value ("integer", "string",
   * "array:address,bit,..." for lists of objects): switching a device to another driver keeps
   * the values whose key and shape the other driver has too (unit id TCP -> RTU, not a TCP port).
   */
  keys: Record<string, string>;
}

interface JsonSchema {
  type?: string;
  enum?: Array<string | number>;
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
}

/** Beyond this a "maximum" is zod's safe-integer bound, not a limit anyone wrote. */
const NO_LIMIT = 2 ** 52;

function field(spec: FieldSpec, prop: JsonSchema | undefined, required: string[]): FormField {
  if (!prop) throw new Error(`form field "${spec.key}" is not in the driver's config schema`);
  const p = prop.anyOf?.find((x) => x.type === 'number') ?? prop;
  const options = spec.options ?? p.enum;
  const widget: Widget = spec.widget ?? (options ? 'select' : p.type === 'boolean' ? 'checkbox' : p.type === 'integer' || p.type === 'number' ? 'number' : 'text');
  return {
    ...spec,
    widget,
    required: required.includes(spec.key) && prop.default === undefined,
    ...(prop.default !== undefined ? { default: prop.default } : {}),
    ...(p.minimum !== undefined && Math.abs(p.minimum) < NO_LIMIT ? { min: p.minimum } : {}),
    ...(p.maximum !== undefined && p.maximum < NO_LIMIT ? { max: p.maximum } : {}),
    ...(p.pattern !== undefined ? { pattern: p.pattern } : {}),
    ...(options ? { options } : {}),
  };
}

/**
 * The JSON Schema of a dotted key (`auth.username`) and the keys required beside it. An object
 * the schema cannot describe (a preprocessed one) is read from `nested[first segment]`.
 */
function lookup(json: JsonSchema, key: string, nested: Record<string, z.ZodType>): { prop: JsonSchema | undefined; required: string[] } {
  const [head, ...rest] = key.split('.');
  if (rest.length === 0) return { prop: json.properties?.[key], required: json.required ?? [] };
  const inner = nested[head!] ? (z.toJSONSchema(nested[head!]!, { io: 'input', unrepresentable: 'any' }) as JsonSchema) : json.properties?.[head!];
  if (!inner) return { prop: undefined, required: [] };
  return lookup(inner, rest.join('.'), {});
}

/** Builds a driver's form from its config schema and the fields it wants shown. */
export function describeForm(
  schema: z.ZodType,
  o: { driver: string; label: Text; fields: FieldSpec[]; pointFields: FieldSpec[]; template: Record<string, unknown>; nested?: Record<string, z.ZodType> },
): DriverForm {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const props = json.properties ?? {};
  const point = props['points']?.items ?? {};
  return {
    driver: o.driver,
    label: o.label,
    fields: o.fields.map((f) => {
      const { prop, required } = lookup(json, f.key, o.nested ?? {});
      // A nested key is never required on its own: its object (auth) is optional as a whole.
      return field(f, prop, f.key.includes('.') ? [] : required);
    }),
    pointFields: o.pointFields.map((f) => field(f, point.properties?.[f.key], point.required ?? [])),
    template: o.template,
    keys: Object.fromEntries(Object.entries(props).map(([k, p]) => [k, shapeOf(p)])),
  };
}

/** A value's shape in a JSON Schema, comparable across drivers. */
function shapeOf(p: JsonSchema): string {
  if (p.type === 'array') return `array:${Object.keys(p.items?.properties ?? {}).sort().join(',')}`;
  if (p.type === 'object') return `object:${Object.keys(p.properties ?? {}).sort().join(',')}`;
  if (p.type) return p.type;
  if (p.const !== undefined) return typeof p.const;
  if (p.enum) return [...new Set(p.enum.map((v) => typeof v))].join('|');
  if (p.anyOf) return p.anyOf.map(shapeOf).sort().join('|');
  return 'any';
}

/** Labels shared by the Modbus drivers (TCP and RTU have the same unit, timing and points). */
export const MODBUS_COMMON: FieldSpec[] = [
  { key: 'id', group: 'identity', label: { ru: 'Идентификатор', en: 'Id' }, hint: { ru: 'латиница, цифры, «-» и «_»: входит в топики MQTT', en: 'latin letters, digits, "-" and "_": part of the MQTT topics' } },
  { key: 'name', group: 'identity', label: { ru: 'Название', en: 'Name' } },
  { key: 'enabled', group: 'identity', label: { ru: 'Опрашивать', en: 'Poll' } },
  { key: 'unitId', group: 'connection', label: { ru: 'Адрес устройства (Unit ID)', en: 'Unit id' } },
  { key: 'addressBase', group: 'connection', label: { ru: 'Нумерация регистров', en: 'Register numbering' }, hint: { ru: '0 — адреса протокола, 1 — как в паспорте прибора', en: '0: protocol addresses, 1: as in the device manual' } },
  { key: 'intervalMs', group: 'timing', label: { ru: 'Период опроса, мс', en: 'Poll interval, ms' } },
  { key: 'timeoutMs', group: 'timing', label: { ru: 'Таймаут ответа, мс', en: 'Response timeout, ms' } },
];

/** A point's naming, first in every driver's point row. */
export const POINT_NAMING_FIELDS: FieldSpec[] = [
  { key: 'id', group: 'point', label: { ru: 'Идентификатор', en: 'Id' } },
  { key: 'name', group: 'point', label: { ru: 'Название', en: 'Name' } },
];

/** What is done with a point's value, last in every driver's point row. */
export const POINT_VALUE_FIELDS: FieldSpec[] = [
  { key: 'scale', group: 'point', label: { ru: 'Множитель', en: 'Scale' } },
  { key: 'unit', group: 'point', label: { ru: 'Единица', en: 'Unit' } },
  { key: 'writable', group: 'point', label: { ru: 'Разрешить запись', en: 'Writable' } },
];

export const MODBUS_POINT_FIELDS: FieldSpec[] = [
  ...POINT_NAMING_FIELDS,
  { key: 'table', group: 'point', label: { ru: 'Таблица', en: 'Table' } },
  { key: 'address', group: 'point', label: { ru: 'Адрес', en: 'Address' } },
  { key: 'type', group: 'point', label: { ru: 'Тип', en: 'Type' } },
  { key: 'order', group: 'point', label: { ru: 'Порядок байт', en: 'Byte order' } },
  { key: 'bit', group: 'point', label: { ru: 'Бит', en: 'Bit' } },
  { key: 'length', group: 'point', label: { ru: 'Длина, регистров', en: 'Length, registers' } },
  ...POINT_VALUE_FIELDS,
];
