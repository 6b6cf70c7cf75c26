import { opcuaAuthObject, opcuaDeviceSchema } from './schema.ts';
import { describeForm, type DriverForm, POINT_NAMING_FIELDS, POINT_VALUE_FIELDS } from '../form.ts';

// Built when the form API first asks (DriverDefinition.form), not by every process that loads the config.
let built: DriverForm | undefined;

/** OPC UA: an endpoint, its security, and nodes subscribed or polled. */
export const opcuaForm = (): DriverForm =>
  (built ??= describeForm(opcuaDeviceSchema, {
    driver: 'opcua',
    label: { ru: 'OPC UA', en: 'OPC UA' },
    fields: [
      { key: 'id', group: 'identity', label: { ru: 'Идентификатор', en: 'Id' } },
      { key: 'name', group: 'identity', label: { ru: 'Название', en: 'Name' } },
      { key: 'enabled', group: 'identity', label: { ru: 'Опрашивать', en: 'Poll' } },
      { key: 'endpointUrl', group: 'connection', label: { ru: 'Адрес сервера (endpoint)', en: 'Endpoint URL' }, hint: { ru: 'opc.tcp://10.0.0.5:4840', en: 'opc.tcp://10.0.0.5:4840' } },
      { key: 'securityMode', group: 'security', label: { ru: 'Режим защиты', en: 'Security mode' } },
      { key: 'securityPolicy', group: 'security', label: { ru: 'Политика защиты', en: 'Security policy' }, showIf: { key: 'securityMode', values: ['Sign', 'SignAndEncrypt'] } },
      // Who the session logs in as: a user (password inline or in a file) or a client certificate;
      // all empty is anonymous. The loader refuses a mix. Inline passwords never come back from
      // the API (config/secret-fields.ts): the field shows "unchanged" and keeps the stored one.
      {
        key: 'auth.username',
        group: 'security',
        label: { ru: 'Пользователь', en: 'User name' },
        hint: { ru: 'пусто — анонимный вход; с пользователем нужен пароль или файл пароля', en: 'empty: anonymous; a user needs a password or a password file' },
      },
      {
        key: 'auth.password',
        group: 'security',
        widget: 'password',
        label: { ru: 'Пароль', en: 'Password' },
        hint: { ru: 'сохранённый пароль не показывается; пусто — остаётся прежний, новый заменит его', en: 'a stored password is not shown; empty keeps it, a new one replaces it' },
      },
      {
        key: 'auth.passwordFile',
        group: 'security',
        label: { ru: 'Файл пароля', en: 'Password file' },
        hint: { ru: 'вместо пароля: путь к файлу на шлюзе (в каталоге секретов)', en: 'instead of the password: a file on the box (in the secrets folder)' },
      },
      {
        key: 'auth.certificateFile',
        group: 'security',
        label: { ru: 'Сертификат пользователя', en: 'User certificate' },
        hint: { ru: 'вход по сертификату вместо пользователя: PEM-файл на шлюзе', en: 'certificate login instead of a user: a PEM file on the box' },
      },
      { key: 'auth.privateKeyFile', group: 'security', label: { ru: 'Закрытый ключ сертификата', en: 'Certificate private key' } },
      { key: 'samplingIntervalMs', group: 'timing', label: { ru: 'Период выборки, мс', en: 'Sampling interval, ms' } },
      { key: 'publishingIntervalMs', group: 'timing', label: { ru: 'Период публикации, мс', en: 'Publishing interval, ms' } },
      { key: 'timeoutMs', group: 'timing', label: { ru: 'Таймаут, мс', en: 'Timeout, ms' } },
    ],
    pointFields: [
      ...POINT_NAMING_FIELDS,
      { key: 'nodeId', group: 'point', label: { ru: 'Узел (NodeId)', en: 'Node id' } },
      { key: 'mode', group: 'point', label: { ru: 'Режим', en: 'Mode' } },
      ...POINT_VALUE_FIELDS,
    ],
    template: { driver: 'opcua', endpointUrl: 'opc.tcp://', securityMode: 'None', points: [{ id: 'value', nodeId: 'ns=2;s=Value' }] },
    nested: { auth: opcuaAuthObject },
  }));
