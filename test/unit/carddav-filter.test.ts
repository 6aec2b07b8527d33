import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DavError } from '../../src/dav/errors.js';
import { parseXml } from '../../src/dav/xml.js';
import {
  type AddressFilter,
  cannotMatch,
  cardProperties,
  matchAddressFilter,
  matchCardProperties,
  parseAddressFilter,
  parseAddressbookQuery,
} from '../../src/carddav/filter.js';
import { crlf, largePhotoCard, loadVcard, type VcardFixture } from '../fixtures/vcard/load.js';

const CR = 'urn:ietf:params:xml:ns:carddav';

function report(inner: string): ReturnType<typeof parseXml> {
  return parseXml(
    `<?xml version="1.0" encoding="utf-8"?>
<C:addressbook-query xmlns:D="DAV:" xmlns:C="${CR}">
  <D:prop><D:getetag/><C:address-data/></D:prop>
  ${inner}
</C:addressbook-query>`,
  );
}

function filterOf(inner: string, test?: string): AddressFilter {
  const attr = test ? ` test="${test}"` : '';
  return parseAddressbookQuery(report(`<C:filter${attr}>${inner}</C:filter>`)).filter;
}

const FIXTURES: VcardFixture[] = ['apple-3.0', 'google-3.0', 'davx5-4.0', 'legacy-2.1'];

/** Names of the fixtures matching a filter. */
function matching(inner: string, test?: string): VcardFixture[] {
  const filter = filterOf(inner, test);
  return FIXTURES.filter((f) => matchAddressFilter(filter, loadVcard(f)));
}

function assertDavError(fn: () => unknown, status: number, precondition?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DavError);
    assert.equal(e.status, status);
    assert.equal(e.precondition, precondition);
    return true;
  });
}

void describe('parseAddressbookQuery', () => {
  void it('applies the RFC 6352 defaults', () => {
    const { filter, limit } = parseAddressbookQuery(
      report('<C:filter><C:prop-filter name="fn"><C:text-match>x</C:text-match></C:prop-filter></C:filter>'),
    );
    assert.equal(limit, undefined);
    assert.deepEqual(filter, {
      test: 'anyof',
      propFilters: [
        {
          name: 'FN',
          test: 'anyof',
          isNotDefined: false,
          textMatches: [{ text: 'x', collation: 'i;unicode-casemap', matchType: 'contains', negate: false }],
          paramFilters: [],
        },
      ],
    });
  });

  void it('reads every attribute and nested element', () => {
    const filter = filterOf(
      `<C:prop-filter name="EMAIL" test="allof">
         <C:text-match collation="i;octet" match-type="ends-with" negate-condition="yes">.org</C:text-match>
         <C:param-filter name="type"><C:text-match match-type="equals">WORK</C:text-match></C:param-filter>
         <C:param-filter name="PREF"><C:is-not-defined/></C:param-filter>
       </C:prop-filter>
       <C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter>`,
      'allof',
    );
    assert.deepEqual(filter, {
      test: 'allof',
      propFilters: [
        {
          name: 'EMAIL',
          test: 'allof',
          isNotDefined: false,
          textMatches: [{ text: '.org', collation: 'i;octet', matchType: 'ends-with', negate: true }],
          paramFilters: [
            {
              name: 'TYPE',
              isNotDefined: false,
              textMatch: { text: 'WORK', collation: 'i;unicode-casemap', matchType: 'equals', negate: false },
            },
            { name: 'PREF', isNotDefined: true },
          ],
        },
        { name: 'NICKNAME', test: 'anyof', isNotDefined: true, textMatches: [], paramFilters: [] },
      ],
    });
  });

  void it('reads CR:limit/CR:nresults', () => {
    const q = parseAddressbookQuery(report('<C:filter/><C:limit><C:nresults>25</C:nresults></C:limit>'));
    assert.equal(q.limit, 25);
    assert.deepEqual(q.filter, { test: 'anyof', propFilters: [] });
  });

  void it('refuses an invalid nresults with 400', () => {
    for (const n of ['-1', 'ten', '', '1.5']) {
      assertDavError(
        () => parseAddressbookQuery(report(`<C:filter/><C:limit><C:nresults>${n}</C:nresults></C:limit>`)),
        400,
      );
    }
    assertDavError(() => parseAddressbookQuery(report('<C:filter/><C:limit/>')), 400);
  });

  void it('treats a missing filter as match-all', () => {
    const q = parseAddressbookQuery(report(''));
    assert.deepEqual(q.filter, { test: 'anyof', propFilters: [] });
    assert.equal(parseAddressFilter(undefined).propFilters.length, 0);
  });

  void it('refuses unsupported collations with supported-collation', () => {
    assertDavError(
      () =>
        filterOf(
          '<C:prop-filter name="FN"><C:text-match collation="i;basic">x</C:text-match></C:prop-filter>',
        ),
      403,
      `{${CR}}supported-collation`,
    );
  });

  void it('refuses unsupported filter elements with supported-filter', () => {
    const pre = `{${CR}}supported-filter`;
    assertDavError(() => filterOf('<C:comp-filter name="VCARD"/>'), 403, pre);
    assertDavError(
      () => filterOf('<C:prop-filter name="FN"><C:time-range start="x"/></C:prop-filter>'),
      403,
      pre,
    );
    assertDavError(
      () =>
        filterOf(
          '<C:prop-filter name="FN"><C:param-filter name="X"><C:foo/></C:param-filter></C:prop-filter>',
        ),
      403,
      pre,
    );
    assertDavError(
      () =>
        filterOf(
          '<C:prop-filter name="FN"><C:text-match match-type="regex">x</C:text-match></C:prop-filter>',
        ),
      403,
      pre,
    );
    assertDavError(() => filterOf('<C:prop-filter name="FN"/>', 'oneof'), 403, pre);
  });

  void it('refuses a prop-filter without name with 400', () => {
    assertDavError(() => filterOf('<C:prop-filter/>'), 400);
  });
});

void describe('matchAddressFilter: match types and collations', () => {
  const fn = (attrs: string, text: string): string =>
    `<C:prop-filter name="FN"><C:text-match ${attrs}>${text}</C:text-match></C:prop-filter>`;

  void it('contains (default) is case-insensitive', () => {
    assert.deepEqual(matching(fn('', 'HOPPER')), ['google-3.0']);
    assert.deepEqual(matching(fn('', 'jo')), ['apple-3.0']);
  });

  void it('equals matches the whole value only', () => {
    assert.deepEqual(matching(fn('match-type="equals"', 'grace hopper')), ['google-3.0']);
    assert.deepEqual(matching(fn('match-type="equals"', 'grace')), []);
  });

  void it('starts-with and ends-with', () => {
    assert.deepEqual(matching(fn('match-type="starts-with"', 'dr. johnny')), ['apple-3.0']);
    assert.deepEqual(matching(fn('match-type="starts-with"', 'johnny')), []);
    assert.deepEqual(matching(fn('match-type="ends-with"', 'müller')), ['legacy-2.1']);
    assert.deepEqual(matching(fn('match-type="ends-with"', 'jürgen')), []);
  });

  void it('i;octet is case-sensitive', () => {
    assert.deepEqual(matching(fn('collation="i;octet"', 'Grace')), ['google-3.0']);
    assert.deepEqual(matching(fn('collation="i;octet"', 'grace')), []);
  });

  void it('i;ascii-casemap folds ASCII letters only; i;unicode-casemap folds all', () => {
    assert.deepEqual(matching(fn('collation="i;ascii-casemap"', 'SZAB')), ['davx5-4.0']);
    assert.deepEqual(matching(fn('collation="i;ascii-casemap"', 'ödön')), []);
    assert.deepEqual(matching(fn('collation="i;unicode-casemap"', 'ödön')), ['davx5-4.0']);
    assert.deepEqual(matching(fn('', 'JÜRGEN')), ['legacy-2.1']);
  });

  void it('i;unicode-casemap decomposes before it maps case (RFC 5051), as calendar-query does', () => {
    const card = (name: string): string =>
      `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u\r\nFN:${name}\r\nN:;;;;\r\nEND:VCARD\r\n`;
    const unicode = (needle: string): AddressFilter => filterOf(fn('collation="i;unicode-casemap"', needle));
    // U+1D2C MODIFIER LETTER CAPITAL A decomposes to A, which then folds as A does.
    assert.equal(matchAddressFilter(unicode('alice'), card('\u1d2clice')), true);
    assert.equal(matchAddressFilter(unicode('\u1d2clice'), card('ALICE')), true);
    // U+03F2 GREEK LUNATE SIGMA SYMBOL decomposes to final sigma, one letter with σ and Σ.
    assert.equal(matchAddressFilter(unicode('\u03c3'), card('\u03f2')), true);
    assert.equal(matchAddressFilter(unicode('\u03f2'), card('\u03a3')), true);
  });

  void it('negate-condition inverts the text-match', () => {
    assert.deepEqual(matching(fn('negate-condition="yes"', 'grace')), [
      'apple-3.0',
      'davx5-4.0',
      'legacy-2.1',
    ]);
  });

  void it('an empty text-match contains everything', () => {
    assert.deepEqual(matching(fn('', '')), FIXTURES);
  });
});

void describe('matchAddressFilter: properties', () => {
  void it('an empty prop-filter tests existence', () => {
    assert.deepEqual(matching('<C:prop-filter name="PHOTO"/>'), ['apple-3.0', 'davx5-4.0', 'legacy-2.1']);
    assert.deepEqual(matching('<C:prop-filter name="nickname"/>'), ['davx5-4.0']);
  });

  void it('is-not-defined matches cards without the property', () => {
    assert.deepEqual(matching('<C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter>'), [
      'apple-3.0',
      'google-3.0',
      'legacy-2.1',
    ]);
  });

  void it('names without group match grouped properties (Apple item1.EMAIL)', () => {
    const f = '<C:prop-filter name="EMAIL"><C:text-match>icloud.com</C:text-match></C:prop-filter>';
    assert.deepEqual(matching(f), ['apple-3.0']);
    assert.deepEqual(matching('<C:prop-filter name="X-ABLabel"/>'), ['apple-3.0']);
  });

  void it('names with a group match only that group', () => {
    const f = (name: string): string =>
      `<C:prop-filter name="${name}"><C:text-match>apple.example</C:text-match></C:prop-filter>`;
    assert.deepEqual(matching(f('item1.EMAIL')), []);
    assert.deepEqual(matching(f('EMAIL')), ['apple-3.0']);
    assert.deepEqual(
      matching('<C:prop-filter name="item1.EMAIL"><C:text-match>johnny@</C:text-match></C:prop-filter>'),
      ['apple-3.0'],
    );
  });

  void it('structured values match a component or the whole text value', () => {
    const n = (type: string, text: string): string =>
      `<C:prop-filter name="N"><C:text-match match-type="${type}">${text}</C:text-match></C:prop-filter>`;
    assert.deepEqual(matching(n('equals', 'appleseed')), ['apple-3.0']);
    assert.deepEqual(matching(n('equals', 'Appleseed;Johnny;Q.;Dr.;Jr.')), ['apple-3.0']);
    assert.deepEqual(matching(n('equals', 'müller;jürgen;;;')), ['legacy-2.1']);
    assert.deepEqual(
      matching('<C:prop-filter name="ADR"><C:text-match>cupertino</C:text-match></C:prop-filter>'),
      ['apple-3.0'],
    );
    assert.deepEqual(
      matching(
        '<C:prop-filter name="ORG"><C:text-match match-type="equals">Cupertino Office</C:text-match></C:prop-filter>',
      ),
      ['apple-3.0'],
    );
  });

  void it('matches decoded vCard 2.1 quoted-printable values (UTF-8 and Latin-1)', () => {
    assert.deepEqual(
      matching('<C:prop-filter name="ADR"><C:text-match>hauptstraße</C:text-match></C:prop-filter>'),
      ['legacy-2.1'],
    );
    assert.deepEqual(
      matching(
        '<C:prop-filter name="NOTE"><C:text-match>Text, der umgebrochen</C:text-match></C:prop-filter>',
      ),
      ['legacy-2.1'],
    );
  });

  void it('matches unescaped text and multi-valued properties', () => {
    assert.deepEqual(
      matching(
        '<C:prop-filter name="NOTE"><C:text-match>apples, pears; and plums</C:text-match></C:prop-filter>',
      ),
      ['apple-3.0'],
    );
    const cat = (text: string): string =>
      `<C:prop-filter name="CATEGORIES"><C:text-match match-type="equals">${text}</C:text-match></C:prop-filter>`;
    assert.deepEqual(matching(cat('pioneers')), ['google-3.0']);
    assert.deepEqual(matching(cat('myContacts,Pioneers')), ['google-3.0']);
  });

  void it('a negated text-match is evaluated per property instance', () => {
    // Google has one EMAIL not containing "navy": the card matches; Apple's all miss "navy" too.
    const f =
      '<C:prop-filter name="EMAIL"><C:text-match negate-condition="yes">navy</C:text-match></C:prop-filter>';
    assert.deepEqual(matching(f), ['apple-3.0', 'google-3.0', 'davx5-4.0', 'legacy-2.1']);
    const single =
      '<C:prop-filter name="TEL"><C:text-match negate-condition="yes">+1-202</C:text-match></C:prop-filter>';
    assert.deepEqual(matching(single), ['apple-3.0', 'davx5-4.0', 'legacy-2.1']);
  });

  void it('a negated text-match does not match cards without the property', () => {
    const f =
      '<C:prop-filter name="NICKNAME"><C:text-match negate-condition="yes">zzz</C:text-match></C:prop-filter>';
    assert.deepEqual(matching(f), ['davx5-4.0']);
  });
});

void describe('matchAddressFilter: param-filter', () => {
  void it('matches parameter values (3.0 repeated TYPE, 4.0 lower-case, 2.1 bare)', () => {
    const f =
      '<C:prop-filter name="TEL"><C:param-filter name="TYPE"><C:text-match match-type="equals">cell</C:text-match></C:param-filter></C:prop-filter>';
    assert.deepEqual(matching(f), FIXTURES);
    const home =
      '<C:prop-filter name="TEL"><C:param-filter name="TYPE"><C:text-match match-type="equals">HOME</C:text-match></C:param-filter></C:prop-filter>';
    assert.deepEqual(matching(home), ['legacy-2.1']);
  });

  void it('a param-filter without children tests that the parameter exists', () => {
    const f = '<C:prop-filter name="TEL"><C:param-filter name="VALUE"/></C:prop-filter>';
    assert.deepEqual(matching(f), ['davx5-4.0']);
  });

  void it('param-filter with is-not-defined', () => {
    const f =
      '<C:prop-filter name="ADR"><C:param-filter name="LABEL"><C:is-not-defined/></C:param-filter></C:prop-filter>';
    assert.deepEqual(matching(f), ['apple-3.0', 'google-3.0', 'legacy-2.1']);
  });

  void it('prop-filter test="allof" requires the same instance to satisfy all tests', () => {
    const f = (test: string): string =>
      `<C:prop-filter name="EMAIL" test="${test}">
         <C:text-match>grace@</C:text-match>
         <C:param-filter name="TYPE"><C:text-match match-type="equals">WORK</C:text-match></C:param-filter>
       </C:prop-filter>`;
    // Google's grace@ address is HOME; its WORK address is ghopper@.
    assert.deepEqual(matching(f('allof')), []);
    assert.deepEqual(matching(f('anyof')), ['apple-3.0', 'google-3.0']);
  });
});

void describe('matchAddressFilter: filter test', () => {
  const hasPhoto = '<C:prop-filter name="PHOTO"/>';
  const hasCategories = '<C:prop-filter name="CATEGORIES"/>';
  const noNickname = '<C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter>';

  void it('anyof (default) needs one prop-filter', () => {
    assert.deepEqual(matching(hasPhoto + hasCategories), FIXTURES);
    assert.deepEqual(matching(hasPhoto + hasCategories, 'anyof'), FIXTURES);
  });

  void it('allof needs every prop-filter', () => {
    assert.deepEqual(matching(hasPhoto + noNickname, 'allof'), ['apple-3.0', 'legacy-2.1']);
    assert.deepEqual(matching(hasPhoto + hasCategories, 'allof'), []);
  });

  void it('an empty filter matches every card', () => {
    assert.deepEqual(matching('', 'allof'), FIXTURES);
    assert.deepEqual(matching(''), FIXTURES);
  });

  void it('an unparsable card matches nothing instead of failing', () => {
    const filter = filterOf(hasPhoto);
    assert.equal(matchAddressFilter(filter, 'garbage'), false);
    assert.equal(matchAddressFilter(filterOf(noNickname), crlf('BEGIN:VCARD\nbroken\nEND:VCARD\n')), false);
  });

  void it('works on a card with a large embedded photo', () => {
    const card = largePhotoCard();
    assert.equal(
      matchAddressFilter(
        filterOf('<C:prop-filter name="FN"><C:text-match>big</C:text-match></C:prop-filter>'),
        card,
      ),
      true,
    );
    assert.equal(matchAddressFilter(filterOf(hasPhoto + noNickname, 'allof'), card), true);
  });
});

describe('the quick rejection before parsing', () => {
  /** The answer of the full parse, without the quick rejection. */
  function parsedMatch(filter: AddressFilter, text: string): boolean {
    try {
      return matchCardProperties(filter, cardProperties(text));
    } catch {
      return false;
    }
  }

  const lines = (...ls: string[]): string => ls.join('\r\n') + '\r\n';
  const card = (...ls: string[]): string => lines('BEGIN:VCARD', 'VERSION:3.0', ...ls, 'END:VCARD');
  const CARDS: Record<string, string> = {
    plain: card('FN:Anna Schmidt', 'N:Schmidt;Anna;;;', 'EMAIL;TYPE=WORK:anna@example.org'),
    folded: card('FN:An', ' na Schmidt', 'N:Schmidt;Anna;;;'),
    foldedTab: card('FN:Schmi', '\tdt Anna', 'N:Schmidt;Anna;;;'),
    escaped: card('FN:Anna\\, Schmidt', 'N:Schmidt;Anna;;;'),
    escapedComma: card('FN:Ann\\,a', 'N:x;y;;;'),
    quotedPrintable: lines(
      'BEGIN:VCARD',
      'VERSION:2.1',
      'FN;ENCODING=QUOTED-PRINTABLE:An=',
      'na=20Schmidt',
      'N:Schmidt;Anna;;;',
      'END:VCARD',
    ),
    foldedQp: lines(
      'BEGIN:VCARD',
      'VERSION:2.1',
      'F',
      ' N;ENCO',
      ' DING=QUOTED-PRINTABLE:=41',
      ' nna',
      'END:VCARD',
    ),
    foldedName: card('F', ' N:Bob An', ' na'),
    qpHex: lines('BEGIN:VCARD', 'VERSION:2.1', 'FN;QUOTED-PRINTABLE:=41nna', 'N:x;y', 'END:VCARD'),
    nonAscii: card('FN:\uFF21nna Schmidt', 'N:Schmidt;Anna;;;'),
    control: card('FN:An\u0001na', 'N:x;y;;;'),
    blankLine: card('FN:An', '', ' na', 'N:x;y;;;'),
    grouped: card('item1.EMAIL:anna@example.org', 'FN:Bob'),
    bday: card('FN:Bob', 'BDAY:19850412'),
    photo: card('FN:Bob', 'PHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgoFN', ' AAAAfn', 'NOTE:fn;x'),
    valueText: card('FN:Bob', 'TEL;VALUE=uri:tel:+49-30-1234'),
    lowercaseName: card('fn:ANNA', 'n:x;y;;;'),
    categories: card('FN:Bob', 'CATEGORIES:friends,anna fans'),
    bareCr: 'BEGIN:VCARD\rVERSION:3.0\rFN:An\r na\rN:x;y;;;\rEND:VCARD\r',
    fixtureApple: loadVcard('apple-3.0'),
    fixtureGoogle: loadVcard('google-3.0'),
    fixtureDavx5: loadVcard('davx5-4.0'),
    fixtureLegacy: loadVcard('legacy-2.1'),
  };
  const texts = (prop: string, text: string, extra = ''): string =>
    `<C:prop-filter name="${prop}"${extra}><C:text-match match-type="contains">${text}</C:text-match></C:prop-filter>`;
  const FILTERS: Record<string, AddressFilter> = {
    fnAnna: filterOf(texts('FN', 'anna')),
    fnSchmidt: filterOf(texts('FN', 'SCHMIDT')),
    fnEscapedComma: filterOf(texts('FN', 'ann,a')),
    fnOctet: filterOf(
      '<C:prop-filter name="FN"><C:text-match collation="i;octet" match-type="contains">Anna</C:text-match></C:prop-filter>',
    ),
    fnEquals: filterOf(
      '<C:prop-filter name="FN"><C:text-match match-type="equals">anna</C:text-match></C:prop-filter>',
    ),
    fnNegated: filterOf(
      '<C:prop-filter name="FN"><C:text-match negate-condition="yes" match-type="contains">zzz</C:text-match></C:prop-filter>',
    ),
    emailAnna: filterOf(texts('EMAIL', 'anna@')),
    groupedEmail: filterOf(texts('ITEM1.EMAIL', 'anna')),
    bday: filterOf(texts('BDAY', '1985-04')),
    tel: filterOf(texts('TEL', '1234')),
    anyof: filterOf(texts('FN', 'zzz') + texts('N', 'anna')),
    allof: filterOf(texts('FN', 'anna') + texts('N', 'zzz'), 'allof'),
    categories: filterOf(texts('CATEGORIES', 'anna')),
    isNotDefined: filterOf('<C:prop-filter name="NICKNAME"><C:is-not-defined/></C:prop-filter>'),
    absentEverywhere: filterOf(texts('FN', 'nobody-has-this')),
  };

  it('rejects only cards that the parse does not match either', () => {
    let rejected = 0;
    for (const [cardName, text] of Object.entries(CARDS)) {
      for (const [filterName, filter] of Object.entries(FILTERS)) {
        const parsed = parsedMatch(filter, text);
        assert.equal(matchAddressFilter(filter, text), parsed, `${filterName} on ${cardName}`);
        if (cannotMatch(filter, text)) {
          rejected++;
          assert.equal(parsed, false, `${filterName} rejected ${cardName} before parsing`);
        }
      }
    }
    // It does reject (otherwise this test would pass with a rejection that never happens).
    assert.ok(rejected > 20, `${rejected} rejections`);
  });

  it('rejects a card whose other lines have encodings, wherever the name appears in them', () => {
    assert.equal(cannotMatch(FILTERS.fnAnna as AddressFilter, CARDS.photo as string), true);
    assert.equal(cannotMatch(FILTERS.fnAnna as AddressFilter, CARDS.plain as string), false);
  });

  it('leaves cards whose values are not their text to the parse', () => {
    for (const name of [
      'foldedQp',
      'escapedComma',
      'qpHex',
      'nonAscii',
      'control',
      'blankLine',
      'quotedPrintable',
    ]) {
      assert.equal(cannotMatch(FILTERS.fnAnna as AddressFilter, CARDS[name] as string), false, name);
    }
    assert.equal(cannotMatch(FILTERS.bday as AddressFilter, CARDS.bday as string), false);
    assert.equal(cannotMatch(FILTERS.tel as AddressFilter, CARDS.valueText as string), false);
  });
});
