"""A full python-caldav scenario against a running Almanac; run with Debian's /usr/bin/python3.

Usage: caldav_scenario.py <base url> <user> <password>
Prints one JSON object on the last line of stdout: {"ok": bool, "steps": [...], "error": "..."}.
Each step asserts what a client sees; the first failing assertion ends the run with ok=false.
"""
import json
import sys
import traceback
from datetime import datetime, timezone

import caldav

TZ_BERLIN = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""

# Weekly on Mondays 10:00 Berlin (08:00Z in summer) from 2024-06-03, 6 times; 2024-06-10 excluded,
# 2024-06-17 moved to 14:00 with another summary.
WEEKLY = f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//almanac interop//python-caldav//EN
{TZ_BERLIN}
BEGIN:VEVENT
UID:weekly-standup@interop
DTSTAMP:20240601T000000Z
DTSTART;TZID=Europe/Berlin:20240603T100000
DTEND;TZID=Europe/Berlin:20240603T103000
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=Europe/Berlin:20240610T100000
SUMMARY:Standup
END:VEVENT
BEGIN:VEVENT
UID:weekly-standup@interop
DTSTAMP:20240601T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20240617T100000
DTSTART;TZID=Europe/Berlin:20240617T140000
DTEND;TZID=Europe/Berlin:20240617T143000
SUMMARY:Standup (moved)
END:VEVENT
END:VCALENDAR
"""

SINGLE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//almanac interop//python-caldav//EN
BEGIN:VEVENT
UID:review@interop
DTSTAMP:20240601T000000Z
DTSTART:20240605T150000Z
DTEND:20240605T160000Z
SUMMARY:Review
END:VEVENT
END:VCALENDAR
"""

LATER = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//almanac interop//python-caldav//EN
BEGIN:VEVENT
UID:later@interop
DTSTAMP:20240601T000000Z
DTSTART:20240901T090000Z
DTEND:20240901T100000Z
SUMMARY:Later
END:VEVENT
END:VCALENDAR
"""

TODO = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//almanac interop//python-caldav//EN
BEGIN:VTODO
UID:todo-1@interop
DTSTAMP:20240601T000000Z
DUE:20240607T170000Z
SUMMARY:Write report
STATUS:NEEDS-ACTION
END:VTODO
END:VCALENDAR
"""

steps = []


def step(name, **facts):
    steps.append({"step": name, **facts})


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def summaries(objs):
    out = []
    for o in objs:
        for comp in o.icalendar_instance.walk():
            if comp.name in ("VEVENT", "VTODO"):
                out.append(str(comp.get("summary")))
    return sorted(out)


def starts(objs):
    out = []
    for o in objs:
        for comp in o.icalendar_instance.walk("VEVENT"):
            dt = comp.get("dtstart").dt
            out.append(dt.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    return sorted(out)


def scenario(base, user, password):
    client = caldav.DAVClient(url=f"{base}/.well-known/caldav", username=user, password=password)
    principal = client.principal()
    check(str(principal.url).rstrip("/").endswith(f"/{user}"), f"principal url {principal.url}")
    home = principal.calendar_home_set
    check(str(home.url).rstrip("/").endswith(f"/{user}"), f"calendar home {home.url}")
    step("discovery", principal=str(principal.url), home=str(home.url))

    cal = principal.make_calendar(name="Interop Work", cal_id="interop-work")
    check(any(c.url == cal.url for c in principal.calendars()), "new calendar is listed")
    check(cal.get_display_name() == "Interop Work", "display name")
    step("make_calendar", url=str(cal.url))

    weekly = cal.save_event(WEEKLY)
    review = cal.save_event(SINGLE)
    later = cal.save_event(LATER)
    todo = cal.save_todo(TODO)
    check(len(cal.events()) == 3, f"three events, got {len(cal.events())}")
    check(len(cal.todos()) == 1, "one todo")
    step("save", events=3, todos=1)

    # June 2024: standup on 3rd, 17th (moved to 14:00), 24th (10th excluded; July not in range) + review.
    found = cal.search(start=utc(2024, 6, 1), end=utc(2024, 7, 1), event=True, expand=True)
    got = summaries(found)
    want = sorted(["Standup"] * 2 + ["Standup (moved)", "Review"])
    check(got == want, f"expanded June: {got}")
    got_starts = starts(found)
    check("20240610T080000Z" not in got_starts, "EXDATE instance is gone")
    check("20240617T120000Z" in got_starts, f"overridden instance at 14:00 Berlin: {got_starts}")
    check("20240603T080000Z" in got_starts, "10:00 Berlin in summer is 08:00Z")
    step("search_expand", instances=len(found), starts=got_starts)

    # A week with only the moved instance, unexpanded: the whole recurring object comes back once.
    week = cal.search(start=utc(2024, 6, 17), end=utc(2024, 6, 18), event=True)
    check(len(week) == 1 and "Standup" in summaries(week)[0], f"week of 17th: {summaries(week)}")
    step("search_week", objects=len(week))

    todos = cal.search(todo=True)
    check(summaries(todos) == ["Write report"], f"pending todos: {summaries(todos)}")
    step("search_todo", todos=len(todos))

    first = cal.objects_by_sync_token(load_objects=False)
    token1 = first.sync_token
    check(token1 and len(list(first)) == 4, f"initial sync: {len(list(first))} objects")
    step("sync_initial", objects=4, token=token1)

    review.icalendar_instance.walk("VEVENT")[0]["summary"] = "Review (updated)"
    review.save()
    reloaded = cal.event_by_uid("review@interop")
    check("Review (updated)" in reloaded.data, "updated summary stored")
    later.delete()
    check(len(cal.events()) == 2, "one event deleted")
    step("update_delete")

    second = cal.objects_by_sync_token(sync_token=token1, load_objects=False)
    changed = sorted(str(o.url).rsplit("/", 1)[-1] for o in second)
    check(second.sync_token != token1, "token moved on")
    # Changed and deleted hrefs both come back from a sync-collection report; nothing else.
    want_hrefs = sorted(str(o.url).rsplit("/", 1)[-1] for o in (review, later))
    check(changed == want_hrefs, f"second sync returned {changed}, want {want_hrefs}")
    step("sync_delta", hrefs=changed)

    updated, deleted = first.sync()
    check([str(o.url) for o in updated] == [str(review.url)], f"sync() updated {updated}")
    check([str(o.url) for o in deleted] == [str(later.url)], f"sync() deleted {deleted}")
    third = cal.objects_by_sync_token(sync_token=first.sync_token, load_objects=False)
    check(len(list(third)) == 0, "nothing changed since")
    step("sync_again", updated=1, deleted=1, then=0)

    check(weekly.url and todo.url, "objects have urls")
    cal.delete()
    check(all(c.url != cal.url for c in principal.calendars()), "calendar deleted")
    step("delete_calendar")


def main():
    base, user, password = sys.argv[1:4]
    try:
        scenario(base, user, password)
        result = {"ok": True, "steps": steps}
    except Exception as e:  # report everything to the node test
        result = {"ok": False, "steps": steps, "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
    print(json.dumps(result))


main()
