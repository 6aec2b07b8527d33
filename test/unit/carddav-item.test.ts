import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DavError } from '../../src/dav/errors.js';
import {
  describeVcard,
  exportAddressBook,
  normalizeVcardForParsing,
  splitVcards,
  validateVcard,
} from '../../src/carddav/item.js';
import { crlf, largePhotoCard, loadVcard } from '../fixtures/vcard/load.js';

const VALID = '{urn:ietf:params:xml:ns:carddav}valid-address-data';
const SUPPORTED = '{urn:ietf:params:xml:ns:carddav}supported-address-data';

function assertDavError(fn: () => unknown, status: number, precondition: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DavError, `expected DavError, got ${String(e)}`);
    assert.equal(e.status, status);
    assert.equal(e.precondition, precondition);
    return true;
  });
}

void describe('normalizeVcardForParsing', () => {
  const legacy = normalizeVcardForParsing(loadVcard('legacy-2.1'));
  const lines = legacy.split('\r\n');

  void it('turns vCard 2.1 bare parameters into TYPE parameters', () => {
    assert.ok(lines.includes('TEL;TYPE=HOME,VOICE:+49 30 1234567'));
    assert.ok(lines.includes('TEL;TYPE=CELL:+49 170 7654321'));
    assert.ok(lines.includes('EMAIL;TYPE=PREF,INTERNET:juergen@example.de'));
  });

  void it('decodes quoted-printable UTF-8 values and drops ENCODING/CHARSET', () => {
    assert.ok(lines.includes('N:Müller;Jürgen;;;'));
    assert.ok(lines.includes('FN:Jürgen Müller'));
  });

  void it('honours CHARSET=ISO-8859-1 for quoted-printable', () => {
    assert.ok(lines.includes('ADR;TYPE=HOME:;;HauptStraße 5;Köln;;50667;Germany'));
  });

  void it('joins soft line breaks and escapes decoded line breaks', () => {
    assert.ok(
      lines.includes('NOTE:Erste Zeile\\nZweite Zeile mit einem sehr langen Text, der umgebrochen wurde'),
      legacy,
    );
  });

  void it('keeps BASE64 photos as ENCODING=b without folding whitespace', () => {
    const photo = lines.find((l) => l.startsWith('PHOTO'));
    assert.ok(photo);
    assert.match(photo, /^PHOTO;TYPE=JPEG;ENCODING=b:\/9j\/4AAQ[A-Za-z0-9+/]+AAIR$/);
  });

  void it('drops blank lines and always ends lines with CRLF', () => {
    assert.ok(!lines.slice(0, -1).includes(''));
    assert.ok(legacy.endsWith('END:VCARD\r\n'));
  });

  void it('leaves valid 3.0 lines as they are (only unfolded)', () => {
    const apple = normalizeVcardForParsing(loadVcard('apple-3.0')).split('\r\n');
    assert.ok(apple.includes('item1.EMAIL;type=INTERNET;type=pref:johnny@icloud.com'));
    assert.ok(apple.includes('TEL;type=CELL;type=VOICE;type=pref:+1 (408) 555-0100'));
    assert.ok(apple.some((l) => l.startsWith('PHOTO;ENCODING=b;TYPE=JPEG:') && l.length > 600));
  });

  void it('does not let a dangling soft line break swallow END:VCARD', () => {
    const text = crlf('BEGIN:VCARD\nVERSION:2.1\nUID:qp\nFN:Q\nNOTE;QUOTED-PRINTABLE:abc=\nEND:VCARD\n');
    assert.equal(
      normalizeVcardForParsing(text),
      crlf('BEGIN:VCARD\nVERSION:2.1\nUID:qp\nFN:Q\nNOTE:abc=\nEND:VCARD\n'),
    );
    assert.equal(validateVcard(text).uid, 'qp');
  });

  void it('accepts LF-only line endings and strips control characters', () => {
    const out = normalizeVcardForParsing('BEGIN:VCARD\nVERSION:3.0\nFN:A\u0007B\nEND:VCARD');
    assert.equal(out, 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:AB\r\nEND:VCARD\r\n');
  });

  void it('keeps quoted parameter values containing colons and semicolons', () => {
    const out = normalizeVcardForParsing(crlf('BEGIN:VCARD\nADR;HOME;LABEL="a;b:c":;;x\nEND:VCARD\n'));
    assert.ok(out.includes('ADR;TYPE=HOME;LABEL="a;b:c":;;x\r\n'), out);
  });
});

void describe('validateVcard', () => {
  const cases: [string, string][] = [
    ['apple-3.0', '5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE'],
    ['google-3.0', '3f2a1b7c0d9e8f6a'],
    ['davx5-4.0', 'urn:uuid:9c4a6b3e-2f8d-4e71-a0b5-6d3c2e1f0a98'],
    ['legacy-2.1', 'legacy-21-0001'],
  ];
  for (const [name, uid] of cases) {
    void it(`accepts ${name} and returns its UID`, () => {
      const text = loadVcard(name as 'apple-3.0');
      assert.deepEqual(validateVcard(text), { uid, component: 'VCARD', start: 0, end: 0 });
    });
  }

  void it('accepts a card with a large embedded photo', () => {
    assert.equal(validateVcard(largePhotoCard()).uid, 'large-photo-card');
  });

  void it('refuses a card without UID (valid-address-data)', () => {
    const text = loadVcard('google-3.0').replace(/UID:.*\r\n/, '');
    assertDavError(() => validateVcard(text), 403, VALID);
  });

  void it('refuses a body with two cards', () => {
    const text = loadVcard('google-3.0') + loadVcard('davx5-4.0');
    assertDavError(() => validateVcard(text), 403, VALID);
  });

  void it('refuses broken content lines', () => {
    const text = crlf('BEGIN:VCARD\nVERSION:3.0\nUID:x\nthis is not a content line\nEND:VCARD\n');
    assertDavError(() => validateVcard(text), 403, VALID);
  });

  void it('refuses a card without END:VCARD', () => {
    assertDavError(() => validateVcard(crlf('BEGIN:VCARD\nVERSION:3.0\nUID:x\n')), 403, VALID);
  });

  void it('refuses a mismatched END', () => {
    const text = crlf('BEGIN:VCARD\nVERSION:3.0\nUID:x\nEND:VCALENDAR\n');
    assertDavError(() => validateVcard(text), 403, VALID);
  });

  void it('refuses iCalendar data and empty bodies', () => {
    const ics = crlf('BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:e\nEND:VEVENT\nEND:VCALENDAR\n');
    assertDavError(() => validateVcard(ics), 403, VALID);
    assertDavError(() => validateVcard(''), 403, VALID);
    assertDavError(() => validateVcard('\r\n\r\n'), 403, VALID);
  });

  void it('refuses text outside the card and nested components', () => {
    assertDavError(() => validateVcard('hello\r\n' + loadVcard('google-3.0')), 403, VALID);
    const nested = crlf('BEGIN:VCARD\nVERSION:3.0\nUID:x\nBEGIN:VCARD\nEND:VCARD\nEND:VCARD\n');
    assertDavError(() => validateVcard(nested), 403, VALID);
  });

  void it('refuses a card without VERSION (valid-address-data)', () => {
    assertDavError(() => validateVcard(crlf('BEGIN:VCARD\nUID:x\nFN:x\nEND:VCARD\n')), 403, VALID);
  });

  void it('refuses an unsupported version (supported-address-data)', () => {
    const text = loadVcard('google-3.0').replace('VERSION:3.0', 'VERSION:5.0');
    assertDavError(() => validateVcard(text), 403, SUPPORTED);
  });

  void it('does not change the text it validates', () => {
    const text = loadVcard('legacy-2.1');
    const copy = text.slice();
    validateVcard(text);
    assert.equal(text, copy);
  });
});

void describe('describeVcard', () => {
  void it('describes a card with UID', () => {
    assert.deepEqual(describeVcard(loadVcard('davx5-4.0')), {
      uid: 'urn:uuid:9c4a6b3e-2f8d-4e71-a0b5-6d3c2e1f0a98',
      component: 'VCARD',
      start: 0,
      end: 0,
    });
  });

  void it('tolerates a missing UID and unknown version', () => {
    const text = crlf('BEGIN:VCARD\nVERSION:5.0\nFN:Nobody\nEND:VCARD\n');
    assert.deepEqual(describeVcard(text), { uid: '', component: 'VCARD', start: 0, end: 0 });
  });

  void it('throws on unparsable text', () => {
    assert.throws(() => describeVcard('not a vcard'));
    assert.throws(() => describeVcard(''));
  });
});

void describe('splitVcards and exportAddressBook', () => {
  const cards = [
    loadVcard('apple-3.0'),
    loadVcard('google-3.0'),
    loadVcard('davx5-4.0'),
    loadVcard('legacy-2.1'),
  ];

  void it('splits a whole address book into one item per card, keeping the text', () => {
    const items = splitVcards(cards.join(''));
    assert.deepEqual(
      items.map((i) => i.uid),
      [
        '5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE',
        '3f2a1b7c0d9e8f6a',
        'urn:uuid:9c4a6b3e-2f8d-4e71-a0b5-6d3c2e1f0a98',
        'legacy-21-0001',
      ],
    );
    assert.equal(items[0]?.text, cards[0]);
    assert.equal(items[1]?.text, cards[1]);
    assert.equal(items[2]?.text, cards[2]);
  });

  void it('round-trips split and export', () => {
    const body = cards.slice(0, 3).join('');
    assert.equal(exportAddressBook(splitVcards(body).map((i) => i.text)), body);
  });

  void it('inserts a fresh UUID UID after VERSION in cards without UID', () => {
    const noUid = crlf('BEGIN:VCARD\nVERSION:3.0\nFN:Anonymous\nEND:VCARD\n');
    const items = splitVcards(noUid + noUid + loadVcard('google-3.0'));
    assert.equal(items.length, 3);
    const [a, b] = items;
    assert.ok(a && b);
    assert.match(a.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a.uid, b.uid);
    assert.equal(a.text, `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${a.uid}\r\nFN:Anonymous\r\nEND:VCARD\r\n`);
    assert.equal(validateVcard(a.text).uid, a.uid);
  });

  void it('accepts LF bodies and returns CRLF items', () => {
    const items = splitVcards(
      'BEGIN:VCARD\nVERSION:4.0\nUID:u1\nFN:One\nEND:VCARD\n\nBEGIN:VCARD\nVERSION:4.0\nUID:u2\nFN:Two\nEND:VCARD',
    );
    assert.deepEqual(items, [
      { uid: 'u1', text: 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nFN:One\r\nEND:VCARD\r\n' },
      { uid: 'u2', text: 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u2\r\nFN:Two\r\nEND:VCARD\r\n' },
    ]);
  });

  void it('returns no items for an empty body and refuses broken cards', () => {
    assert.deepEqual(splitVcards(''), []);
    assertDavError(
      () => splitVcards(loadVcard('google-3.0') + 'BEGIN:VCARD\r\nVERSION:3.0\r\nbroken\r\nEND:VCARD\r\n'),
      403,
      VALID,
    );
    assertDavError(() => splitVcards(loadVcard('google-3.0') + 'BEGIN:VCARD\r\nVERSION:3.0\r\n'), 403, VALID);
  });

  void it('exports items with CRLF line endings, each ending with CRLF', () => {
    assert.equal(
      exportAddressBook(['BEGIN:VCARD\nUID:a\nEND:VCARD', 'BEGIN:VCARD\r\nUID:b\r\nEND:VCARD\r\n']),
      'BEGIN:VCARD\r\nUID:a\r\nEND:VCARD\r\nBEGIN:VCARD\r\nUID:b\r\nEND:VCARD\r\n',
    );
    assert.equal(exportAddressBook([]), '');
  });
});
