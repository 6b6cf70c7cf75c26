// Validation messages come from the config loader in English (zod and the schema's own
// wording). The common ones are shown translated; the original stays beside them.
import { t } from './i18n.js';

const PATTERNS = [
  [/^Too small: expected number to be >=?(-?[\d.e+]+)$/, 'issue.min', (m) => ({ n: m[1] })],
  [/^Too big: expected number to be <=?(-?[\d.e+]+)$/, 'issue.max', (m) => ({ n: m[1] })],
  [/^Too small: expected string to have >=1 characters?$/, 'issue.empty', () => ({})],
  [/^must not be empty$/, 'issue.empty', () => ({})],
  [/^required field is missing/, 'issue.required', () => ({})],
  [/^Invalid input: expected (\w+), received (\w+)$/, 'issue.type', (m) => ({ expected: m[1], got: m[2] })],
  [/^must be one of (.+) \(got (.+)\)$/, 'issue.oneOf', (m) => ({ values: m[1], got: m[2] })],
  [/^unknown key "([^"]+)" \(did you mean "([^"]+)"\?\)$/, 'issue.unknownKeyHint', (m) => ({ key: m[1], hint: m[2] })],
  [/^unknown key "([^"]+)"/, 'issue.unknownKey', (m) => ({ key: m[1] })],
  [/^duplicate (?:device|point) id "([^"]+)"/, 'issue.duplicateId', (m) => ({ id: m[1] })],
  [/^YAML syntax: /, 'issue.yaml', () => ({})],
];

/** The translated text of a validation message, or null when it is not a known one. */
export function translateIssue(message) {
  for (const [re, key, vars] of PATTERNS) {
    const m = re.exec(message);
    if (m) return t(key, vars(m));
  }
  return null;
}

/** The keys this module can show (the i18n test checks both message files have them). */
export const ISSUE_KEYS = [...new Set(PATTERNS.map((p) => p[1]))];
