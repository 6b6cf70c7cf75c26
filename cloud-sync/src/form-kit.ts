/**
 * A config form as data: which fields the web UI shows, in which group, with labels in both UI
 * languages. Limits, choices, defaults and whether a field is required are not written by the
 * form's author but read from the zod config schema (its JSON Schema), so a form cannot drift
 * from what the loader accepts. The server still validates every save with the same schema.
 *
 * One kit for drivers (gateway/src/drivers/form.ts) and sinks (north/<sink>/form.ts); it
 * depends on zod only, so cloud-sync owns it and the gateway re-exports it.
 */
import { z } from 'zod';

export interface Text {
  ru: string;
  en: string;
}

export type Widget = 'text' | 'number' | 'select' | 'checkbox' | 'password';

/** What a form.ts writes for one field. */
export interface FieldSpec<G extends string = string> {
  /** The key in the entry; dotted for a nested object (`auth.username`, `sparkplug.ddataQos`). */
  key: string;
  label: Text;
  hint?: Text;
  group: G;
  /** Choices when the schema cannot say them (a refinement, not an enum). */
  options?: Array<string | number>;
  widget?: Widget;
  /** The field is shown only when another one has one of these values. */
  showIf?: { key: string; values: Array<string | number | boolean> };
  /** What an absent value means when the schema cannot say it (computed from another field). */
  default?: unknown;
  /** The field holds the path of a PEM file of this kind: the UI offers to upload one. */
  upload?: 'ca' | 'cert' | 'key';
}

/** One field as the UI renders it: the spec plus the schema's constraints. */
export interface FormField<G extends string = string> extends FieldSpec<G> {
  widget: Widget;
  required: boolean;
  default?: unknown;
  min?: number;
  max?: number;
  pattern?: string;
  options?: Array<string | number>;
}

export interface JsonSchema {
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

/** The input JSON Schema of a config schema (what a form fills in, before defaults and transforms). */
export function inputJsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

/** One field: its spec with the constraints of its JSON Schema property. */
export function formField<G extends string>(spec: FieldSpec<G>, prop: JsonSchema | undefined, required: string[]): FormField<G> {
  if (!prop) throw new Error(`form field "${spec.key}" is not in the config schema`);
  // A union (a number or a text) is described by its numeric member; a union of literals
  // (`4 | 5`) needs its `options` written in the spec.
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
  const inner = nested[head!] ? inputJsonSchema(nested[head!]!) : unwrapObject(json.properties?.[head!]);
  if (!inner) return { prop: undefined, required: [] };
  return lookup(inner, rest.join('.'), {});
}

/** An optional object reads as `anyOf: [object, null]` in some schemas: the object. */
function unwrapObject(p: JsonSchema | undefined): JsonSchema | undefined {
  return p?.anyOf?.find((x) => x.type === 'object') ?? p;
}

/** The fields of a form, each with its schema's constraints. */
export function formFields<G extends string>(json: JsonSchema, specs: ReadonlyArray<FieldSpec<G>>, nested: Record<string, z.ZodType> = {}): Array<FormField<G>> {
  return specs.map((f) => {
    const { prop, required } = lookup(json, f.key, nested);
    // A nested key is never required on its own: its object (auth, tls) is optional as a whole.
    return formField(f, prop, f.key.includes('.') ? [] : required);
  });
}

/**
 * Every key the schema accepts, with the shape of its value ("integer", "string",
 * "array:address,bit,..." for lists of objects): switching an entry to another kind keeps the
 * values whose key and shape the other kind has too.
 */
export function keyShapes(json: JsonSchema): Record<string, string> {
  return Object.fromEntries(Object.entries(json.properties ?? {}).map(([k, p]) => [k, shapeOf(p)]));
}

/** A value's shape in a JSON Schema, comparable across kinds. */
function shapeOf(p: JsonSchema): string {
  if (p.type === 'array') return `array:${Object.keys(p.items?.properties ?? {}).sort().join(',')}`;
  if (p.type === 'object') return `object:${Object.keys(p.properties ?? {}).sort().join(',')}`;
  if (p.type) return p.type;
  if (p.const !== undefined) return typeof p.const;
  if (p.enum) return [...new Set(p.enum.map((v) => typeof v))].join('|');
  if (p.anyOf) return p.anyOf.map(shapeOf).sort().join('|');
  return 'any';
}

/** Groups of a sink's form, in the order the UI shows them. */
export type SinkGroup = 'identity' | 'connection' | 'security' | 'delivery' | 'timing';

/** A sink's uplink form (north/<sink>/form.ts), what GET /api/uplinks/forms serves. */
export interface SinkForm {
  kind: string;
  label: Text;
  fields: Array<FormField<SinkGroup>>;
  /** The new entry the form starts from (kind and name are filled in by the UI). */
  template: Record<string, unknown>;
  keys: Record<string, string>;
}

/** Builds a sink's form from its entry schema and the fields it wants shown. */
export function describeSinkForm(
  schema: z.ZodType,
  o: { kind: string; label: Text; fields: ReadonlyArray<FieldSpec<SinkGroup>>; template: Record<string, unknown>; nested?: Record<string, z.ZodType> },
): SinkForm {
  const json = inputJsonSchema(schema);
  return { kind: o.kind, label: o.label, fields: formFields(json, o.fields, o.nested), template: o.template, keys: keyShapes(json) };
}
