/**
 * vCards Radicale refuses are refused with the reason and CR:valid-address-data; what Radicale and
 * real clients accept stays accepted. Each case was put to Radicale 3.1.8 (400 or 201).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DavError } from '../../src/dav/errors.js';
import { splitVcards, validateVcard, verifyVcard } from '../../src/carddav/item.js';
import { loadVcard } from '../fixtures/vcard/load.js';

const VALID = '{urn:ietf:params:xml:ns:carddav}valid-address-data';
const card = (version: string, ...lines: string[]): string =>
  ['BEGIN:VCARD', `VERSION:${version}`, 'UID:c1', ...lines, 'END:VCARD', ''].join('\r\n');

const refused: [string, string, RegExp][] = [
  ['a 3.0 card without FN', card('3.0', 'N:Doe;Jane;;;'), /line 1: vCard without FN/],
  ['a 4.0 card without FN', card('4.0', 'N:Doe;Jane;;;'), /vCard without FN/],
  ['a 2.1 card without FN', card('2.1', 'N:Doe;Jane;;;'), /vCard without FN/],
  ['two N', card('3.0', 'FN:J', 'N:A;;;;', 'N:B;;;;'), /line 6: a vCard has at most one N/],
  ['two VERSION', card('3.0', 'FN:J', 'VERSION:3.0'), /at most one VERSION/],
  ['two PRODID', card('3.0', 'FN:J', 'PRODID:a', 'PRODID:b'), /at most one PRODID/],
  [
    'a PHOTO cut short',
    card('3.0', 'FN:J', 'PHOTO;ENCODING=b;TYPE=JPEG:AAAAAA'),
    /PHOTO cannot be read: its base64 data is cut short/,
  ],
  [
    'a PHOTO that is no base64',
    card('3.0', 'FN:J', 'PHOTO;ENCODING=b;TYPE=JPEG:!!!notbase64'),
    /one more than a multiple of 4/,
  ],
  [
    'END:VCALENDAR closing a card',
    card('3.0', 'FN:J').replace('END:VCARD', 'END:VCALENDAR'),
    /END:VCALENDAR closes BEGIN:VCARD/,
  ],
  ['a line that is no content line', card('3.0', 'FN:J', 'garbage'), /line 5: cannot read "garbage"/],
  ['a card inside a card', card('3.0', 'FN:J', 'BEGIN:VCARD', 'END:VCARD'), /component VCARD inside a vCard/],
];

describe('vCards Radicale refuses', () => {
  for (const [what, text, reason] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => validateVcard(text),
        (e: unknown) =>
          e instanceof DavError && e.status === 403 && e.precondition === VALID && reason.test(e.message),
      );
      assert.throws(() => verifyVcard(text), reason, 'verify finds it too');
    });
  }

  it('refuses a whole address book with one broken card, naming its line', () => {
    const text = loadVcard('google-3.0') + card('3.0', 'N:Doe;;;;');
    assert.throws(() => splitVcards(text), /line 15: vCard without FN/);
  });
});

const accepted: [string, string][] = [
  ['a card without N', card('3.0', 'FN:Acme Inc.')],
  ['a 4.0 card without N', card('4.0', 'FN:Acme Inc.')],
  [
    'a PHOTO with a data: URI (InfCloud)',
    card('3.0', 'FN:J', 'PHOTO;ENCODING=b;TYPE=JPEG:data:image/jpeg;base64,AAAA'),
  ],
  ['a folded base64 PHOTO', card('3.0', 'FN:J', 'PHOTO;ENCODING=b;TYPE=JPEG:AAAA', ' AAA=')],
  ['two UIDs', card('3.0', 'FN:J', 'UID:c2')],
  ['two FN', card('3.0', 'FN:J', 'FN:K')],
  ['a BDAY that is no date', card('3.0', 'FN:J', 'BDAY:garbage')],
  ['control characters', card('3.0', 'FN:J\u0001K')],
  [
    'a 2.1 BASE64 photo as phones send it',
    card('2.1', 'FN:J', 'PHOTO;ENCODING=BASE64;TYPE=JPEG:', '  AAAA', ''),
  ],
];

describe('vCards Radicale accepts', () => {
  for (const [what, text] of accepted) {
    it(`accepts ${what}`, () => {
      assert.equal(validateVcard(text).uid, 'c1');
      verifyVcard(text);
    });
  }
  for (const name of ['apple-3.0', 'google-3.0', 'davx5-4.0', 'legacy-2.1'] as const) {
    it(`accepts the ${name} fixture`, () => {
      validateVcard(loadVcard(name));
      verifyVcard(loadVcard(name));
    });
  }
});
