/**
 * Radicale's [hook] message content: the JSON body (Python's json.dumps with sort_keys, indent=4 and
 * ensure_ascii) and the PROPPATCH XML (ElementTree.tostring), compared with what Python itself writes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hookItems, hookJson, pointOf, type HookItem } from '../../src/notify/hooks/notification.js';
import { pythonEtreeString } from '../../src/notify/hooks/etree.js';
import type { Change } from '../../src/notify/changes.js';

/** Runs Python 3 on a JSON input; returns its JSON output. */
function python(script: string, input: unknown): unknown {
  const r = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(input), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as unknown;
}

const PY_JSON = `
import json, sys
items = json.load(sys.stdin)
out = []
for obj in items:
    legacy = obj["content"]
    d = {"_content_legacy": legacy, "actor": obj["actor"], "content_type": obj["content_type"],
         "new_content": obj["new_content"], "old_content": obj["old_content"], "point": obj["point"],
         "type": obj["type"], "uid": obj["uid"]}
    d["content"] = legacy or obj["uid"] or obj["new_content"] or obj["old_content"]
    out.append(json.dumps(d, sort_keys=True, indent=4))
print(json.dumps(out))
`;

const PY_ETREE = `
import json, sys
from xml.etree import ElementTree as ET
NAMESPACES = {"C": "urn:ietf:params:xml:ns:caldav", "CR": "urn:ietf:params:xml:ns:carddav", "D": "DAV:",
    "CS": "http://calendarserver.org/ns/", "ICAL": "http://apple.com/ns/ical/",
    "ME": "http://me.com/_namespace/", "RADICALE": "http://radicale.org/ns/"}
for short, url in NAMESPACES.items():
    ET.register_namespace("" if short == "D" else short, url)
print(json.dumps([ET.tostring(ET.fromstring(x), encoding="utf-8").decode("utf-8") for x in json.load(sys.stdin)]))
`;

const change = (over: Partial<Change>): Change => ({
  seq: 1,
  kind: 'item-put',
  collection: 'alice/cal',
  items: [],
  user: 'alice',
  method: 'PUT',
  requestPath: '/alice/cal/x.ics',
  time: 0,
  ...over,
});

const ICS =
  'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:Café "quoted" \\ ☃ 𝄞\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';

describe('[hook] notification items', () => {
  it('point is the first two segments of the request path', () => {
    assert.equal(pointOf('/alice/cal/x.ics'), 'alice/cal');
    assert.equal(pointOf('/alice/cal.ics/'), 'alice/cal.ics');
    assert.equal(pointOf('/alice/'), '');
    assert.equal(pointOf(''), '');
  });

  it('PUT: upsert with the new text as content, the replaced one as old_content', () => {
    const [item] = hookItems(
      change({ items: [{ href: 'x.ics', uid: 'x', component: 'VEVENT', text: ICS, previousText: 'OLD' }] }),
    );
    assert.deepEqual(item, {
      type: 'upsert',
      point: 'alice/cal',
      actor: 'alice',
      content: ICS,
      content_type: 'VCALENDAR',
      uid: null,
      new_content: ICS,
      old_content: 'OLD',
    });
  });

  it('through a share: actor is the sharee (Change.actor), point the owner path written', () => {
    const items = hookItems(
      change({
        user: 'alice',
        actor: 'bob',
        requestPath: '/alice/cal/x.ics',
        items: [{ href: 'x.ics', uid: 'x', component: 'VEVENT', text: ICS }],
      }),
    );
    assert.deepEqual(
      items.map((i) => [i.point, i.actor]),
      [['alice/cal', 'bob']],
    );
    const json = JSON.parse(hookJson(items[0] as HookItem)) as Record<string, unknown>;
    assert.equal(json.actor, 'bob');
    assert.equal(json.point, 'alice/cal');
  });

  it('whole-collection PUT: one upsert per item; an item that existed has its OLD text as content', () => {
    const items = hookItems(
      change({
        kind: 'collection-replace',
        requestPath: '/alice/cal.ics/',
        items: [
          { href: 'a.ics', uid: 'a', component: 'VEVENT', text: 'NEW-A', previousText: 'OLD-A' },
          { href: 'b.ics', uid: 'b', component: 'VEVENT', text: 'NEW-B' },
        ],
      }),
    );
    assert.deepEqual(
      items.map((i) => [i.type, i.point, i.content, i.old_content, i.new_content]),
      [
        ['upsert', 'alice/cal.ics', 'OLD-A', 'OLD-A', 'NEW-A'],
        ['upsert', 'alice/cal.ics', 'NEW-B', null, 'NEW-B'],
      ],
    );
  });

  it('DELETE: content and uid are the UID; a collection sends one per item; a card is VCARD', () => {
    const items = hookItems(
      change({
        kind: 'collection-delete',
        method: 'DELETE',
        requestPath: '/alice/book/',
        items: [
          { href: 'c.vcf', uid: 'card', component: 'VCARD', previousText: 'BEGIN:VCARD\r\nEND:VCARD\r\n' },
        ],
      }),
    );
    assert.deepEqual(items, [
      {
        type: 'delete',
        point: 'alice/book',
        actor: 'alice',
        content: 'card',
        content_type: 'VCARD',
        uid: 'card',
        new_content: null,
        old_content: 'BEGIN:VCARD\r\nEND:VCARD\r\n',
      },
    ]);
  });

  it('MOVE, COPY (and the deletes they make), MKCOL and MKCALENDAR send nothing', () => {
    for (const c of [
      change({
        kind: 'item-move',
        method: 'MOVE',
        items: [{ href: 'y.ics', uid: 'x', component: 'VEVENT' }],
      }),
      change({
        kind: 'item-copy',
        method: 'COPY',
        items: [{ href: 'y.ics', uid: 'x', component: 'VEVENT' }],
      }),
      change({
        kind: 'item-delete',
        method: 'MOVE',
        items: [{ href: 'y.ics', uid: 'x', component: 'VEVENT' }],
      }),
      change({ kind: 'collection-create', method: 'MKCALENDAR' }),
      change({ kind: 'collection-create', method: 'MKCOL' }),
      change({ kind: 'collection-move', method: 'MOVE' }),
    ])
      assert.deepEqual(hookItems(c), [], c.kind);
  });

  it('the JSON body is byte for byte what Python json.dumps(sort_keys=True, indent=4) writes', () => {
    const items: HookItem[] = [
      ...hookItems(
        change({
          items: [
            { href: 'x.ics', uid: 'x', component: 'VEVENT', text: ICS, previousText: '\u0001\u007f\t' },
          ],
        }),
      ),
      ...hookItems(change({ kind: 'item-delete', items: [{ href: 'x.ics', uid: '', component: 'VEVENT' }] })),
      ...hookItems(
        change({ kind: 'collection-props', requestBody: '<propertyupdate xmlns="DAV:"/>', user: '' }),
      ),
    ];
    const expected = python(PY_JSON, items) as string[];
    assert.deepEqual(
      items.map((i) => hookJson(i)),
      expected,
    );
    assert.match(
      expected[0] ?? '',
      /\\u2603 \\ud834\\udd1e/,
      'non-ASCII escaped, astral as a surrogate pair',
    );
  });

  it('the PROPPATCH XML is what ElementTree.tostring writes of the parsed request', () => {
    const docs = [
      '<?xml version="1.0" encoding="utf-8"?>\n<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Work &amp; play</D:displayname></D:prop></D:set></D:propertyupdate>',
      '<?xml version="1.0"?>\r\n<propertyupdate xmlns="DAV:" xmlns:I="http://apple.com/ns/ical/" xmlns:x="urn:example:x">\r\n  <!-- a comment -->\r\n  <set>\r\n    <prop>\r\n      <I:calendar-color>#FF0000</I:calendar-color>\r\n      <x:thing a="1&quot;2\tb" xml:lang="de"><x:empty/>tail &lt;text&gt;</x:thing>\r\n    </prop>\r\n  </set>\r\n  <remove><prop><C:calendar-description xmlns:C="urn:ietf:params:xml:ns:caldav"/></prop></remove>\r\n</propertyupdate>\r\n',
      '<a:propertyupdate xmlns:a="DAV:" xmlns:q="urn:q" xmlns:r="urn:r"><a:set><a:prop><r:one/><q:two><![CDATA[<raw>]]></q:two></a:prop></a:set></a:propertyupdate>',
    ];
    assert.deepEqual(
      docs.map((d) => pythonEtreeString(d)),
      python(PY_ETREE, docs),
    );
  });
});
