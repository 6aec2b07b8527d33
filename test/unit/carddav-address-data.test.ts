import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NS, child, parseXml, type XmlElement } from '../../src/dav/xml.js';
import {
  isSupportedAddressData,
  parseAddressDataRequest,
  renderAddressData,
  supportedAddressData,
} from '../../src/carddav/address-data.js';
import { validateVcard } from '../../src/carddav/item.js';
import { largePhotoCard, loadVcard } from '../fixtures/vcard/load.js';

/** The CR:address-data element of a multiget-like request body. */
function addressData(inner: string): XmlElement | undefined {
  const root = parseXml(
    `<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="${NS.CR}"><D:prop><D:getetag/>${inner}</D:prop></C:addressbook-multiget>`,
  );
  const prop = child(root, NS.D, 'prop');
  return prop && child(prop, NS.CR, 'address-data');
}

function lines(text: string): string[] {
  return text.split('\r\n').slice(0, -1);
}

void describe('parseAddressDataRequest', () => {
  void it('absent or empty address-data means the whole card', () => {
    assert.deepEqual(parseAddressDataRequest(undefined), { allprop: true });
    assert.deepEqual(parseAddressDataRequest(addressData('<C:address-data/>')), { allprop: true });
  });

  void it('reads the selected property names in upper case', () => {
    const req = parseAddressDataRequest(
      addressData(
        '<C:address-data><C:prop name="fn"/><C:prop name="EMAIL"/><C:prop name="item1.tel"/></C:address-data>',
      ),
    );
    assert.deepEqual(req, { allprop: false, props: ['FN', 'EMAIL', 'ITEM1.TEL'] });
  });

  void it('records content-type and version', () => {
    const req = parseAddressDataRequest(
      addressData(
        '<C:address-data content-type="text/vcard" version="4.0"><C:prop name="FN"/></C:address-data>',
      ),
    );
    assert.deepEqual(req, { allprop: false, props: ['FN'], contentType: 'text/vcard', version: '4.0' });
  });

  void it('CR:allprop wins over a selection', () => {
    const req = parseAddressDataRequest(
      addressData('<C:address-data><C:allprop/><C:prop name="FN"/></C:address-data>'),
    );
    assert.equal(req.allprop, true);
    assert.equal(req.props, undefined);
  });

  void it('records novalue="yes" properties', () => {
    const req = parseAddressDataRequest(
      addressData(
        '<C:address-data><C:prop name="PHOTO" novalue="yes"/><C:prop name="FN" novalue="no"/></C:address-data>',
      ),
    );
    assert.deepEqual(req, { allprop: false, props: ['PHOTO', 'FN'], novalue: ['PHOTO'] });
  });

  void it('ignores prop elements without a name', () => {
    assert.deepEqual(parseAddressDataRequest(addressData('<C:address-data><C:prop/></C:address-data>')), {
      allprop: true,
    });
  });
});

void describe('supported address data', () => {
  void it('announces text/vcard 3.0 and 4.0', () => {
    assert.deepEqual(supportedAddressData(), [
      { contentType: 'text/vcard', version: '3.0' },
      { contentType: 'text/vcard', version: '4.0' },
    ]);
  });

  void it('checks requested content types and versions', () => {
    assert.equal(isSupportedAddressData({}), true);
    assert.equal(isSupportedAddressData({ contentType: 'Text/VCard', version: '4.0' }), true);
    assert.equal(isSupportedAddressData({ contentType: 'text/vcard', version: '2.1' }), false);
    assert.equal(isSupportedAddressData({ contentType: 'application/vcard+json' }), false);
  });
});

void describe('renderAddressData', () => {
  const apple = loadVcard('apple-3.0');

  void it('returns the card unchanged without a selection', () => {
    assert.equal(renderAddressData(apple, { allprop: true }), apple);
  });

  void it('returns the card unchanged when another version is asked (no conversion)', () => {
    assert.equal(
      renderAddressData(apple, { allprop: true, contentType: 'text/vcard', version: '4.0' }),
      apple,
    );
  });

  void it('keeps BEGIN/VERSION/UID/END and the selected properties, grouped ones included', () => {
    const out = renderAddressData(apple, { allprop: false, props: ['EMAIL', 'FN'] });
    assert.deepEqual(lines(out), [
      'BEGIN:VCARD',
      'VERSION:3.0',
      'FN:Dr. Johnny Q. Appleseed Jr.',
      'item1.EMAIL;type=INTERNET;type=pref:johnny@icloud.com',
      'EMAIL;type=INTERNET;type=WORK:j.appleseed@apple.example',
      'UID:5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE',
      'END:VCARD',
    ]);
    assert.equal(validateVcard(out).uid, '5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE');
  });

  void it('a selection with a group keeps only that group', () => {
    const out = renderAddressData(apple, { allprop: false, props: ['ITEM1.EMAIL', 'ITEM1.X-ABLABEL'] });
    assert.ok(out.includes('item1.EMAIL;type=INTERNET;type=pref:johnny@icloud.com\r\n'));
    assert.ok(out.includes('item1.X-ABLabel:_$!<Other>!$_\r\n'));
    assert.ok(!out.includes('j.appleseed@apple.example'));
  });

  void it('keeps the original folded lines of a selected photo', () => {
    const out = renderAddressData(apple, { allprop: false, props: ['PHOTO'] });
    const all = lines(apple);
    const start = all.findIndex((l) => l.startsWith('PHOTO'));
    let end = start + 1;
    while (all[end]?.startsWith(' ')) end++;
    assert.ok(end - start > 5, 'fixture photo is folded over several lines');
    assert.deepEqual(lines(out), [
      'BEGIN:VCARD',
      'VERSION:3.0',
      ...all.slice(start, end),
      'UID:5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE',
      'END:VCARD',
    ]);
  });

  void it('drops a large photo when it is not selected', () => {
    const card = largePhotoCard();
    const out = renderAddressData(card, { allprop: false, props: ['FN', 'EMAIL'] });
    assert.equal(
      out,
      'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:large-photo-card\r\nFN:Big Picture\r\nEMAIL;TYPE=INTERNET:big@example.org\r\nEND:VCARD\r\n',
    );
  });

  void it('keeps DAVx5 data: URI photo lines and 2.1 quoted-printable soft line breaks', () => {
    const davx5 = loadVcard('davx5-4.0');
    const photo = renderAddressData(davx5, { allprop: false, props: ['PHOTO'] });
    assert.ok(photo.includes('PHOTO:data:image/jpeg;base64,'));
    assert.equal(
      lines(photo).filter((l) => l.startsWith(' ')).length,
      lines(davx5).filter((l) => l.startsWith(' ')).length,
    );

    const legacy = renderAddressData(loadVcard('legacy-2.1'), { allprop: false, props: ['NOTE', 'TEL'] });
    assert.deepEqual(lines(legacy), [
      'BEGIN:VCARD',
      'VERSION:2.1',
      'TEL;HOME;VOICE:+49 30 1234567',
      'TEL;CELL:+49 170 7654321',
      'NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Erste Zeile=0D=0AZweite Zeile mit einem sehr langen Text, der =',
      'umgebrochen wurde',
      'UID:legacy-21-0001',
      'END:VCARD',
    ]);
  });

  void it('novalue keeps the name and parameters without the value', () => {
    const out = renderAddressData(apple, { allprop: false, props: ['PHOTO', 'FN'], novalue: ['PHOTO'] });
    assert.deepEqual(lines(out), [
      'BEGIN:VCARD',
      'VERSION:3.0',
      'FN:Dr. Johnny Q. Appleseed Jr.',
      'PHOTO;ENCODING=b;TYPE=JPEG:',
      'UID:5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE',
      'END:VCARD',
    ]);
  });

  void it('selecting an absent property leaves a minimal card', () => {
    const out = renderAddressData(loadVcard('google-3.0'), { allprop: false, props: ['NICKNAME'] });
    assert.equal(out, 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:3f2a1b7c0d9e8f6a\r\nEND:VCARD\r\n');
  });
});
