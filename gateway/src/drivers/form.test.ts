import assert from 'node:assert/strict';
import test from 'node:test';
import { modbusRtuForm } from './modbus-rtu/form.ts';
import { modbusTcpForm } from './modbus-tcp/form.ts';
import { opcuaForm } from './opcua/form.ts';
import { describeForm } from './form.ts';
import { opcuaAuthObject, opcuaDeviceSchema } from './opcua/schema.ts';

const byKey = (fields: Array<{ key: string }>, key: string) => fields.find((f) => f.key === key) as Record<string, unknown>;

test('limits, choices and defaults of the device forms come from the config schema', () => {
  assert.deepEqual(byKey(modbusTcpForm().fields, 'port'), { ...byKey(modbusTcpForm().fields, 'port'), widget: 'number', min: 1, max: 65535, default: 502, required: false });
  assert.equal(byKey(modbusTcpForm().fields, 'host')['required'], true);
  assert.deepEqual(byKey(modbusTcpForm().fields, 'unitId')['max'], 255);
  assert.deepEqual(byKey(modbusRtuForm().fields, 'parity')['options'], ['none', 'even', 'odd']);
  assert.deepEqual(byKey(modbusRtuForm().fields, 'stopBits')['options'], [1, 2]);
  assert.equal(byKey(modbusRtuForm().fields, 'baudRate')['default'], 9600);
  assert.equal(byKey(modbusRtuForm().fields, 'port')['widget'], 'text');
  assert.deepEqual(byKey(opcuaForm().fields, 'securityMode')['options'], ['None', 'Sign', 'SignAndEncrypt']);
  assert.match(String(byKey(opcuaForm().fields, 'endpointUrl')['pattern']), /opc/);
  assert.deepEqual(byKey(modbusTcpForm().pointFields, 'table')['options'], ['coil', 'discrete', 'holding', 'input']);
  // zod's safe-integer bound is no limit anyone wrote.
  assert.equal(byKey(modbusTcpForm().fields, 'intervalMs')['max'], undefined);
  assert.equal(byKey(modbusTcpForm().fields, 'intervalMs')['min'], 50);
});

test('every field has a label in both languages', () => {
  for (const form of [modbusTcpForm(), modbusRtuForm(), opcuaForm()]) {
    for (const f of [...form.fields, ...form.pointFields]) {
      assert.ok(f.label.ru.trim() && f.label.en.trim(), `${form.driver}.${f.key}`);
      assert.match(f.label.ru, /[А-Яа-яЁё]|Modbus|OPC|Unit|NodeId/, `${form.driver}.${f.key} ru label is not Russian`);
    }
  }
});

test('OPC UA user, password and certificate fields come from the auth schema nested in the device', () => {
  const auth = opcuaForm().fields.filter((f) => f.key.startsWith('auth.'));
  assert.deepEqual(auth.map((f) => f.key), ['auth.username', 'auth.password', 'auth.passwordFile', 'auth.certificateFile', 'auth.privateKeyFile']);
  // Typed as a password (never echoed in clear), optional: all empty is anonymous.
  assert.equal(byKey(opcuaForm().fields, 'auth.password')['widget'], 'password');
  for (const f of auth) assert.equal(f.required, false, f.key);
  // The nested schema is read, not guessed: a key it lacks is refused when the form is built.
  assert.throws(() => describeForm(opcuaDeviceSchema, { driver: 'opcua', label: { ru: 'x', en: 'x' }, fields: [{ key: 'auth.token', group: 'security', label: { ru: 'x', en: 'x' } }], pointFields: [], template: {}, nested: { auth: opcuaAuthObject } }), /auth\.token/);
});
