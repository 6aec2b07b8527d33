import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseXml, parseXmlYielding, XmlParseError, textContent } from '../../src/dav/xml.js';

describe('parseXml limits', () => {
  it('refuses nesting past maxDepth and elements past maxElements', () => {
    const limits = { maxDepth: 8, maxElements: 100 };
    assert.throws(() => parseXml('<a>'.repeat(9) + '</a>'.repeat(9), limits), /nested deeper than 8/);
    assert.ok(parseXml('<a>'.repeat(8) + '</a>'.repeat(8), limits));
    assert.throws(() => parseXml(`<r>${'<a/>'.repeat(100)}</r>`, limits), /more than 100 elements/);
    assert.throws(
      () => parseXml(`<r ${Array.from({ length: 100 }, (_, i) => `a${i}="x"`).join(' ')}/>`, limits),
      XmlParseError,
    );
  });

  it('refuses more entity or character references than maxElements', () => {
    const limits = { maxDepth: 8, maxElements: 100 };
    assert.throws(
      () => parseXml(`<r>${'&amp;'.repeat(101)}</r>`, limits),
      /more than 100 entity or character references/,
    );
    assert.equal(parseXml(`<r>${'&#65;'.repeat(100)}</r>`, limits).text, 'A'.repeat(100));
  });

  it('stops at the first error', () => {
    // A second problem after the first would give another message.
    assert.throws(
      () => parseXml('<a><b></a><!DOCTYPE x>'),
      (e: Error) => e instanceof XmlParseError && !/DOCTYPE/.test(e.message),
    );
  });
});

describe('parseXmlYielding', () => {
  it('gives the same tree as parseXml across chunk boundaries (surrogate pairs, CRLF)', async () => {
    // 64 KiB chunks: put an astral character and a CRLF right on the boundary.
    const pad = 'x'.repeat(64 * 1024 - '<r><t>'.length - 1);
    const text = `<r><t>${pad}\u{1F600}\r\nz</t></r>`;
    const tree = await parseXmlYielding(text);
    assert.deepEqual(tree, parseXml(text));
    assert.equal(textContent(tree).slice(-4), '\u{1F600}\nz');
  });

  it('refuses what parseXml refuses', async () => {
    await assert.rejects(parseXmlYielding('<a>'.repeat(100) + '</a>'.repeat(100)), /nested deeper than 64/);
    await assert.rejects(parseXmlYielding('<!DOCTYPE x><a/>'), /DOCTYPE/);
    await assert.rejects(parseXmlYielding(''), XmlParseError);
  });
});
