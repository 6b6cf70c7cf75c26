/**
 * A driver's device form as data: which fields the web UI shows, in which group, with labels in
 * both UI languages. Limits, choices, defaults and whether a field is required are not written
 * here but read from the driver's zod config schema (its JSON Schema), so the form cannot drift
 * from what the loader accepts. The server still validates every save with the same schema.
 */
import type { z } from 'zod';
import { formFields, inputJsonSchema, keyShapes, formField, type FieldSpec as KitFieldSpec, type FormField as KitFormField, type Text } from '@kedge/cloud-sync/form-kit.ts';

// The kit (types, constraints read from the schema) is cloud-sync's, shared with the sinks' forms.
export type { Text, Widget } from '@kedge/cloud-sync/form-kit.ts';

export type DriverGroup = 'identity' | 'connection' | 'timing' | 'security' | 'point';

/** What a driver's form.ts writes for one field. */
export type FieldSpec = KitFieldSpec<DriverGroup>;

/** One field as the UI renders it: the spec plus the schema's constraints. */
export type FormField = KitFormField<DriverGroup>;

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

/** Builds a driver's form from its config schema and the fields it wants shown. */
export function describeForm(
  schema: z.ZodType,
  o: { driver: string; label: Text; fields: FieldSpec[]; pointFields: FieldSpec[]; template: Record<string, unknown>; nested?: Record<string, z.ZodType> },
): DriverForm {
  const json = inputJsonSchema(schema);
  const point = json.properties?.['points']?.items ?? {};
  return {
    driver: o.driver,
    label: o.label,
    fields: formFields(json, o.fields, o.nested ?? {}),
    pointFields: o.pointFields.map((f) => formField(f, point.properties?.[f.key], point.required ?? [])),
    template: o.template,
    keys: keyShapes(json),
  };
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
