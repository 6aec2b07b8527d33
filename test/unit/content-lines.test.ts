import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeLineEndings, physicalLines } from '../../src/content-lines/line-endings.js';
import { logicalLines } from '../../src/content-lines/unfold.js';
import { contentLineProblem, MAX_PARAMS, paramValues } from '../../src/content-lines/content-line.js';

describe('normalizeLineEndings', () => {
  it('turns LF and CR into CRLF and adds a final CRLF', () => {
    assert.equal(normalizeLineEndings('A\nB\rC\r\nD'), 'A\r\nB\r\nC\r\nD\r\n');
    assert.equal(normalizeLineEndings('A\r\n'), 'A\r\n');
  });
});

describe('physicalLines', () => {
  it('accepts every line ending and adds no line for the final one', () => {
    assert.deepEqual(physicalLines('A\r\nB\nC\rD\r\n'), ['A', 'B', 'C', 'D']);
  });
});

describe('logicalLines', () => {
  it('joins folded lines and keeps the physical lines as sent', () => {
    const [a, b] = logicalLines('DESCRIPTION:one\r\n  two\r\n\tthree\r\nSUMMARY:x\r\n');
    assert.equal(a?.unfolded, 'DESCRIPTION:one twothree');
    assert.deepEqual(a?.physical, ['DESCRIPTION:one', '  two', '\tthree']);
    assert.equal(a?.lineNumber, 1);
    assert.equal(b?.unfolded, 'SUMMARY:x');
    assert.equal(b?.lineNumber, 4);
  });

  it('drops blank lines', () => {
    assert.deepEqual(
      logicalLines('A:1\r\n\r\n   \r\nB:2\r\n').map((l) => l.unfolded),
      ['A:1', 'B:2'],
    );
  });

  it('follows quoted-printable soft line breaks, also with bare 2.1 parameters', () => {
    const lines = logicalLines(
      'NOTE;ENCODING=QUOTED-PRINTABLE:a=\r\nb=\r\nc\r\nTEL;QUOTED-PRINTABLE:1=\r\n2\r\n',
    );
    assert.deepEqual(
      lines.map((l) => l.unfolded),
      ['NOTE;ENCODING=QUOTED-PRINTABLE:abc', 'TEL;QUOTED-PRINTABLE:12'],
    );
  });

  it('does not treat a value ending in = as a soft break without quoted-printable', () => {
    const lines = logicalLines('PHOTO;ENCODING=b:AAA=\r\nEMAIL:a@b\r\n');
    assert.equal(lines.length, 2);
  });

  it('does not let a dangling soft break swallow the END line', () => {
    const lines = logicalLines('NOTE;ENCODING=QUOTED-PRINTABLE:a=\r\nEND:VCARD\r\n');
    assert.deepEqual(
      lines.map((l) => l.unfolded),
      ['NOTE;ENCODING=QUOTED-PRINTABLE:a=', 'END:VCARD'],
    );
  });

  it('finds the value colon across folds and quoted parameters', () => {
    const lines = logicalLines('NOTE;X="a:b";ENC\r\n ODING=QUOTED-PRINTABLE:x=\r\ny\r\n');
    assert.deepEqual(
      lines.map((l) => l.unfolded),
      ['NOTE;X="a:b";ENCODING=QUOTED-PRINTABLE:xy'],
    );
  });

  it('unfolds a line of 200,000 continuations into one', () => {
    const text = `PHOTO;ENCODING=b:${'\r\n AAAA'.repeat(200_000)}\r\nEND:VCARD\r\n`;
    const lines = logicalLines(text);
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.unfolded.length, 'PHOTO;ENCODING=b:'.length + 800_000);
    assert.equal(lines[0]?.physical.length, 200_001);
  });
});

describe('contentLineProblem', () => {
  it('accepts what vobject reads', () => {
    for (const line of [
      'SUMMARY:x',
      'item1.EMAIL;TYPE=INTERNET:a@b',
      'X_LOTUS:y',
      'SUMMARY;FOO:x',
      'ATTENDEE;CN="Doe, J: boss";ROLE=CHAIR:mailto:j@d',
      'CATEGORIES;X=a,b,"c":v',
      'N;:x',
      'DESCRIPTION:',
    ]) {
      assert.equal(contentLineProblem(line), undefined, line);
    }
  });

  it('says what is wrong with what vobject refuses', () => {
    assert.match(contentLineProblem('hello') ?? '', /no colon/);
    assert.match(contentLineProblem(':value') ?? '', /property name/);
    assert.match(contentLineProblem('SUMMARY;X="a"b:x') ?? '', /no colon/);
    assert.match(contentLineProblem('DTSTART;TZID="Europe/Paris:2024') ?? '', /unclosed quote/);
    assert.match(contentLineProblem('SUMMARY;=x:y') ?? '', /without a name/);
    assert.match(contentLineProblem('DT START:x') ?? '', /no colon/);
    assert.match(contentLineProblem(`X-A${';P=v'.repeat(MAX_PARAMS + 1)}:x`) ?? '', /parameters/);
    assert.equal(contentLineProblem(`X-A${';P=v'.repeat(MAX_PARAMS)}:x`), undefined);
  });
});

describe('paramValues', () => {
  it('splits on commas outside quotes and removes the quotes', () => {
    assert.deepEqual(paramValues('"a,b",c'), ['a,b', 'c']);
    assert.deepEqual(paramValues('HOME'), ['HOME']);
  });
});
