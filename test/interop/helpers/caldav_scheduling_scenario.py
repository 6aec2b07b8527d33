"""CalDAV scheduling (RFC 6638) driven by python-caldav for two users on a running Almanac.

Usage: caldav_scheduling_scenario.py <base url> <alice password> <bob password> <mail domain>
Prints one JSON object on the last line of stdout: {"ok": bool, "steps": [...], "error": "..."}.
alice invites bob with save_with_invites, bob finds the invitation in his schedule inbox and answers
with accept_invite / decline_invite, alice sees his PARTSTAT, free-busy through the outbox, and a
cancellation reaches bob. Each step asserts what the clients see.
"""
import json
import sys
import time
import traceback
from datetime import datetime, timedelta, timezone

import caldav
import icalendar

steps = []


def step(name, **facts):
    steps.append({"step": name, **facts})


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def event(uid, summary, start):
    end = start + timedelta(hours=1)
    fmt = "%Y%m%dT%H%M%SZ"
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//almanac interop//scheduling//EN\n"
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20260101T000000Z\nDTSTART:{start.strftime(fmt)}\n"
        f"DTEND:{end.strftime(fmt)}\nSUMMARY:{summary}\nEND:VEVENT\nEND:VCALENDAR\n"
    )


def attendee_partstat(obj, address):
    for comp in obj.icalendar_instance.walk("VEVENT"):
        for att in comp.get("attendee", []) if isinstance(comp.get("attendee"), list) else [comp.get("attendee")]:
            if att is not None and str(att).lower() == address.lower():
                return str(att.params.get("PARTSTAT", ""))
    return None


def inbox_requests(principal, uid, method="REQUEST"):
    found = []
    for item in principal.schedule_inbox().get_items():
        item.load()
        ical = item.icalendar_instance
        if str(ical.get("method", "")) != method:
            continue
        if any(str(c.get("uid")) == uid for c in ical.walk("VEVENT")):
            found.append(item)
    return found


def wait_for(what, fn, seconds=10):
    deadline = time.time() + seconds
    while True:
        value = fn()
        if value or time.time() > deadline:
            check(value, f"timed out waiting for {what}")
            return value
        time.sleep(0.2)


def scenario(base, alice_pw, bob_pw, domain):
    alice = caldav.DAVClient(url=f"{base}/.well-known/caldav", username="alice", password=alice_pw)
    bob = caldav.DAVClient(url=f"{base}/.well-known/caldav", username="bob", password=bob_pw)
    pa, pb = alice.principal(), bob.principal()
    alice_addr, bob_addr = f"mailto:alice@{domain}", f"mailto:bob@{domain}"
    check(alice_addr in pa.calendar_user_address_set(), f"alice's addresses {pa.calendar_user_address_set()}")
    check(bob_addr in pb.calendar_user_address_set(), f"bob's addresses {pb.calendar_user_address_set()}")
    step("addresses")

    cal_a = pa.make_calendar(name="Work", cal_id="work")
    cal_b = pb.make_calendar(name="Bob", cal_id="bobcal")
    start = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)

    # Invite bob (by his principal: python-caldav takes its calendar-user-address-set).
    meeting = cal_a.save_with_invites(event("meeting-1@interop", "Planning", start), [pb])
    check(attendee_partstat(meeting, bob_addr) is not None, f"bob is an attendee: {meeting.data}")
    invites = wait_for("bob's invitation", lambda: inbox_requests(pb, "meeting-1@interop"))
    check(invites[0].is_invite_request(), "the inbox item is a REQUEST")
    step("invite", inbox=len(invites))

    invites[0].accept_invite(calendar=cal_b)
    def alice_sees(partstat, uid="meeting-1@interop"):
        obj = cal_a.event_by_uid(uid)
        obj.load()
        return attendee_partstat(obj, bob_addr) == partstat
    wait_for("alice sees ACCEPTED", lambda: alice_sees("ACCEPTED"))
    mine = cal_b.event_by_uid("meeting-1@interop")
    check(attendee_partstat(mine, bob_addr) == "ACCEPTED", "bob's copy says ACCEPTED")
    step("accept")

    # A second meeting that bob declines.
    cal_a.save_with_invites(event("meeting-2@interop", "Review", start + timedelta(days=1)), [pb])
    second = wait_for("the second invitation", lambda: inbox_requests(pb, "meeting-2@interop"))
    second[0].decline_invite(calendar=cal_b)
    wait_for("alice sees DECLINED", lambda: alice_sees("DECLINED", "meeting-2@interop"))
    step("decline")

    # Free-busy: bob is busy during the accepted meeting, not the declined one. python-caldav 0.11's
    # freebusy_request() posts the request but parses the answer as a DAV:multistatus, which an RFC 6638
    # CALDAV:schedule-response is not; so the same request is posted here and the raw answer read.
    fb = icalendar.Calendar()
    fb.add("prodid", "-//almanac interop//scheduling//EN")
    fb.add("version", "2.0")
    fb.add("method", "REQUEST")
    comp = icalendar.FreeBusy()
    comp.add("uid", "fb-1@interop")
    comp.add("dtstamp", datetime.now(timezone.utc))
    comp.add("dtstart", start - timedelta(hours=1))
    comp.add("dtend", start + timedelta(days=2))
    fb.add_component(comp)
    outbox = pa.schedule_outbox()
    request = caldav.objects.FreeBusy(data=fb, parent=outbox)
    request.add_organizer()
    request.add_attendee(pb, no_default_parameters=True)
    answer = alice.post(outbox.url, request.data, headers={"Content-Type": "text/calendar; charset=utf-8"})
    text = answer.raw if isinstance(answer.raw, str) else answer.raw.decode()
    check(answer.status == 200 and "schedule-response" in text, f"free-busy answer {answer.status}: {text}")
    check("2.0;Success" in text and bob_addr in text, f"bob answered: {text}")
    check("FREEBUSY" in text and "20270301T090000Z" in text, f"the accepted meeting is busy: {text}")
    check("20270302T090000Z" not in text, f"a declined meeting is not busy: {text}")
    step("freebusy")

    # Cancel: alice deletes the first meeting; bob gets a CANCEL.
    cal_a.event_by_uid("meeting-1@interop").delete()
    cancels = wait_for("bob's CANCEL", lambda: inbox_requests(pb, "meeting-1@interop", "CANCEL"))
    step("cancel", inbox=len(cancels))


def main():
    base, alice_pw, bob_pw, domain = sys.argv[1:5]
    try:
        scenario(base, alice_pw, bob_pw, domain)
        result = {"ok": True, "steps": steps}
    except Exception as e:  # report everything to the node test
        result = {"ok": False, "steps": steps, "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
    print(json.dumps(result))


main()
