/**
 * Every sink's uplink form (north/<sink>/form.ts): there is one per registered kind, its fields
 * exist in the sink's schema, and the limits it shows are the ones the schema enforces.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { describeSinkForm, type SinkForm } from '../form-kit.ts';
import { tapeSink } from './fixtures/tape/index.ts';
import { SINKS } from './registry.ts';
import type { SinkDefinition } from './sink.ts';

const DEFS = [...SINKS, tapeSink] as readonly SinkDefinition[];

/** A valid entry of the kind: its template with the required text fields filled in. */
function minimal(d: SinkDefinition, form: SinkForm): Record<string, unknown> {
  const urls: Record<string, string> = { mqtt: 'mqtt://127.0.0.1:1883', sparkplug: 'mqtt://127.0.0.1:1883', http: 'http://127.0.0.1:8080/b' };
  const entry: Record<string, unknown> = { ...form.template, kind: d.kind, name: 'probe' };
  if ('url' in entry || form.fields.some((f) => f.key === 'url')) entry.url = urls[d.kind] ?? entry.url;
  if (d.kind === 'tape') entry.tape = 'probe-tape';
  return entry;
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = key.split('.');
  if (rest.length === 0) return { ...obj, [head!]: value };
  return { ...obj, [head!]: setPath((obj[head!] as Record<string, unknown>) ?? {}, rest.join('.'), value) };
}

test('every registered sink and the tape fixture have a form of their own kind, labelled in Russian and English', async () => {
  for (const d of DEFS) {
    assert.ok(d.form, `${d.kind} has a form`);
    const form = await d.form();
    assert.equal(form.kind, d.kind);
    assert.ok(form.fields.length > 0);
    for (const f of form.fields) assert.ok(/[А-Яа-яЁё]/.test(f.label.ru) && f.label.en.trim(), `${d.kind}.${f.key} is labelled in both languages`);
    assert.equal(new Set(form.fields.map((f) => f.key)).size, form.fields.length, `${d.kind}: no field twice`);
  }
});

test('the template filled in is a valid entry; every limit a form shows is the one its schema enforces', async () => {
  for (const d of DEFS) {
    const form = await d.form!();
    const base = minimal(d, form);
    assert.ok(d.schema.safeParse(base).success, `${d.kind}: ${JSON.stringify(base)}`);
    for (const f of form.fields.filter((x) => x.widget === 'number')) {
      const at = (v: number) => d.schema.safeParse(setPath(base, f.key, v));
      if (f.max !== undefined) {
        assert.ok(at(f.max).success, `${d.kind}.${f.key} = max ${f.max} is accepted`);
        const over = at(f.max + 1);
        assert.ok(!over.success && over.error.issues.some((i) => i.path.join('.') === f.key), `${d.kind}.${f.key} = ${f.max + 1} is refused at that field`);
      }
      if (f.min !== undefined) assert.ok(!at(f.min - 1).success, `${d.kind}.${f.key} = ${f.min - 1} is refused`);
    }
    for (const f of form.fields.filter((x) => x.options)) {
      for (const o of f.options!) assert.ok(d.schema.safeParse(setPath(base, f.key, o)).success, `${d.kind}.${f.key} = ${o} is accepted`);
    }
  }
});

test('a form field the schema does not have is refused when the form is built, naming the key', () => {
  assert.throws(
    () => describeSinkForm(z.object({ url: z.string() }), { kind: 'x', label: { ru: 'Икс', en: 'X' }, fields: [{ key: 'brokerUrl', group: 'connection', label: { ru: 'Адрес', en: 'URL' } }], template: {} }),
    /form field "brokerUrl" is not in the config schema/,
  );
});
