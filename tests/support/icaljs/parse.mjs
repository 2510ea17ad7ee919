// Test support: parse an iCalendar text (stdin) with ical.js, independently of the
// server's Python stack, and print one JSON object describing it (see ../icaljs.py).
// argv[2], optional JSON: {"from": ISO, "until": ISO, "max": N} bounds recurrence expansion;
// "raw_vtimezones": true skips restateOnsets (below) to show what plain ical.js computes.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

function fail(message) {
  process.stderr.write(`parse.mjs: ${message}\n`);
  process.exit(2);
}

function parseBounds(arg) {
  let opts = {};
  try {
    opts = arg ? JSON.parse(arg) : {};
  } catch (e) {
    fail(`bad bounds argument: ${e.message}`);
  }
  const seconds = (iso) => (Number.isNaN(Date.parse(iso)) ? fail(`bad date: ${iso}`) : Date.parse(iso) / 1000);
  const from = opts.from ? seconds(opts.from) : 0;
  // Without "until": "from" + 2 years; with neither, only "max" bounds the expansion.
  let until = opts.until ? seconds(opts.until) : Infinity;
  if (!opts.until && opts.from) {
    const d = new Date(from * 1000);
    until = d.setUTCFullYear(d.getUTCFullYear() + 2) / 1000;
  }
  return { from, until, max: opts.max ?? 1000, rawZones: Boolean(opts.raw_vtimezones) };
}

// Absolute instants. Floating times (all-day dates included) count as UTC, as ical.js does.
const isoUtc = (secs) => new Date(secs * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
const wallClock = (secs) => isoUtc(secs).slice(0, 19);
const timeUtc = (t) => (t ? isoUtc(t.toUnixTime()) : null);
const isFloating = (t) => t.zone === ICAL.Timezone.localTimezone;

const NO_SPAN = { start_utc: null, end_utc: null, start_date: null, end_date: null };
function span(start, end) {
  if (!start) return NO_SPAN;
  if (start.isDate) return { ...NO_SPAN, start_date: start.toString(), end_date: end.toString() };
  return { ...NO_SPAN, start_utc: timeUtc(start), end_utc: timeUtc(end) };
}

const text = (comp, name) => comp.getFirstProperty(name)?.getFirstValue()?.toString() ?? null;

// The parser keeps properties and subcomponents apart, so their interleaving is read from
// the raw text: one list of names per VEVENT directly inside the (first) VCALENDAR.
function rawEventOrders(ics) {
  const lines = ics.replace(/\r?\n[ \t]/g, "").split(/\r?\n/);
  const orders = [];
  let depth = 0;
  let current = null;
  for (const line of lines) {
    if (!line) continue;
    const name = line.split(/[;:]/, 1)[0].toLowerCase();
    const value = line.slice(line.indexOf(":") + 1).trim().toLowerCase();
    if (name === "begin") {
      if (depth === 1 && value === "vevent") orders.push((current = []));
      else if (depth === 2 && current) current.push(value);
      depth += 1;
    } else if (name === "end") {
      depth -= 1;
      if (depth === 1) current = null;
    } else if (depth === 2 && current) {
      current.push(name);
    }
  }
  return orders;
}

// ical.js 2.2.1 reads only the first value of an RDATE property in a VTIMEZONE observance
// (lib/ical/timezone.js, _expandComponent) and drops DTSTART as an onset when the observance
// has RDATEs but no RRULE. Both are legal RFC 5545 (python icalendar's Timezone.from_tzid
// writes them), so unless raw_vtimezones is set the same data is restated as one RDATE per
// onset, DTSTART included, and a warning says so.
function restateOnsets(vtz, warnings) {
  let split = 0;
  let added = 0;
  for (const obs of vtz.getAllSubcomponents()) {
    const rdates = obs.getAllProperties("rdate");
    for (const prop of rdates) {
      const [name, params, type, ...values] = prop.toJSON();
      if (values.length < 2) continue;
      obs.removeProperty(prop);
      for (const value of values) obs.addProperty(new ICAL.Property([name, params, type, value]));
      split += 1;
    }
    const dtstart = obs.getFirstPropertyValue("dtstart")?.toString();
    const onsets = obs.getAllProperties("rdate").map((p) => String(p.getFirstValue()));
    if (dtstart && onsets.length && !obs.hasProperty("rrule") && !onsets.includes(dtstart)) {
      obs.addProperty(new ICAL.Property(["rdate", {}, "date-time", dtstart]));
      added += 1;
    }
  }
  if (split || added) {
    const what = `${split} multi-valued RDATE(s), ${added} DTSTART onset(s) beside RDATEs`;
    warnings.push(`VTIMEZONE ${vtz.getFirstPropertyValue("tzid")}: ${what}; restated for ical.js`);
  }
}

function alarmInfo(valarm) {
  const trigger = valarm.getFirstProperty("trigger");
  return {
    action: text(valarm, "action"),
    trigger: trigger ? trigger.getFirstValue().toICALString() : null,
    related: trigger?.getParameter("related") ?? null,
    value_type: trigger?.type ?? null,
    description: text(valarm, "description"),
  };
}

// Alarm instants of one occurrence: relative triggers are added in absolute seconds.
function alarmInstants(item, start, end) {
  const utc = [];
  const floating = [];
  for (const valarm of item.component.getAllSubcomponents("valarm")) {
    const trigger = valarm.getFirstProperty("trigger");
    if (!trigger) continue;
    const value = trigger.getFirstValue();
    if (trigger.type === "duration") {
      const related = (trigger.getParameter("related") || "START").toUpperCase();
      const base = related === "END" ? end : start;
      const secs = base.toUnixTime() + value.toSeconds();
      utc.push(isoUtc(secs));
      floating.push(isFloating(base) ? wallClock(secs) : null);
    } else {
      utc.push(timeUtc(value));
      floating.push(null);
    }
  }
  return { alarms_utc: utc, alarms_floating: isFloating(start) ? floating : null };
}

function expand(event, bounds, errors, label) {
  const occurrences = [];
  const used = new Set();
  let truncated = false;
  let reached = -Infinity; // recurrence ids up to here were all generated
  try {
    const iter = event.iterator();
    for (let next = iter.next(), n = 0; next; next = iter.next(), n += 1) {
      if (n > 1e6) throw new Error("more than 1e6 recurrences scanned");
      reached = next.toUnixTime();
      if (reached >= bounds.until) break;
      const details = event.getOccurrenceDetails(next);
      const { startDate: start, endDate: end } = details;
      const overridden = details.item !== event;
      if (overridden) used.add(details.item.recurrenceId.toUnixTime());
      const s = start.toUnixTime();
      const e = end.toUnixTime();
      if (s >= bounds.until || (e <= bounds.from && s < bounds.from)) continue;
      if (occurrences.length >= bounds.max) {
        truncated = true;
        break;
      }
      occurrences.push({
        ...span(start, end),
        recurrence_id: next.isDate ? next.toString() : timeUtc(next),
        overridden,
        ...alarmInstants(details.item, start, end),
      });
    }
    if (iter.complete) reached = Infinity;
  } catch (e) {
    errors.push(`${label}: recurrence expansion failed: ${e.message}`);
  }
  // An override whose RECURRENCE-ID matches no generated instance is silently ignored by ical.js.
  for (const ex of Object.values(event.exceptions)) {
    const rid = ex.recurrenceId.toUnixTime();
    if (!used.has(rid) && rid < reached && rid >= bounds.from && rid < bounds.until) {
      errors.push(`${label}: RECURRENCE-ID ${ex.recurrenceId} matches no instance of the master`);
    }
  }
  return { occurrences, truncated };
}

function describeEvent(comp, order, masters, overrides, tzids, bounds, errors) {
  const uid = text(comp, "uid");
  const label = `VEVENT ${uid ?? "(no UID)"}`;
  const missing = new Set();
  for (const sub of [comp, ...comp.getAllSubcomponents()]) {
    for (const prop of sub.getAllProperties()) {
      const tzid = prop.getParameter("tzid");
      if (tzid && !tzids.has(tzid) && !missing.has(tzid)) {
        missing.add(tzid);
        errors.push(`${label}: TZID ${tzid} (on ${prop.name.toUpperCase()}) has no VTIMEZONE in the file`);
      }
    }
  }
  const ridProp = comp.getFirstProperty("recurrence-id");
  const isOverride = Boolean(ridProp) && masters.get(uid) > 0;
  const event = new ICAL.Event(comp, {
    strictExceptions: true,
    exceptions: ridProp ? [] : overrides.get(uid) ?? [],
  });
  const dtstart = comp.getFirstProperty("dtstart");
  const start = dtstart ? event.startDate : null;
  const end = start ? event.endDate : null;
  if (!start) errors.push(`${label}: no DTSTART`);
  else if (end && end.isDate !== start.isDate) errors.push(`${label}: DTEND and DTSTART differ in value type`);
  const rid = ridProp ? ridProp.getFirstValue() : null;
  const sequence = comp.getFirstPropertyValue("sequence");
  const dtstamp = comp.getFirstPropertyValue("dtstamp");
  const rrule = comp.getFirstPropertyValue("rrule");
  const expansion = start && !isOverride ? expand(event, bounds, errors, label) : null;
  return {
    uid,
    summary: text(comp, "summary"),
    description: text(comp, "description"),
    location: text(comp, "location"),
    url: text(comp, "url"),
    sequence: sequence === null ? null : Number(sequence),
    status: text(comp, "status"),
    dtstamp: dtstamp ? timeUtc(dtstamp) : null,
    is_date: start ? start.isDate : false,
    is_floating: start ? !start.isDate && isFloating(start) && !dtstart.getParameter("tzid") : false,
    tzid: dtstart?.getParameter("tzid") ?? null,
    ...span(start, end),
    rrule: rrule ? rrule.toString() : null,
    recurrence_id: rid ? (rid.isDate ? rid.toString() : timeUtc(rid)) : null,
    occurrences: expansion ? expansion.occurrences : [],
    occurrences_truncated: expansion ? expansion.truncated : false,
    alarms: comp.getAllSubcomponents("valarm").map(alarmInfo),
    property_order: order ?? [],
  };
}

function main() {
  const ics = readFileSync(0, "utf8");
  const bounds = parseBounds(process.argv[2]);
  let jcal;
  try {
    jcal = ICAL.parse(ics);
  } catch (e) {
    fail(`ical.js could not parse the text: ${e.message}`);
  }
  const errors = [];
  const warnings = [];
  if (Array.isArray(jcal) && Array.isArray(jcal[0])) {
    if (jcal.length > 1) errors.push(`${jcal.length} top-level components; only the first is read`);
    jcal = jcal[0];
  }
  if (!Array.isArray(jcal) || jcal[0] !== "vcalendar") fail("no VCALENDAR component in the text");
  const root = new ICAL.Component(jcal);

  const calendar = {};
  for (const prop of root.getAllProperties()) {
    if (!(prop.name in calendar)) calendar[prop.name] = prop.getValues().map(String).join(",");
  }

  // Only the file's own VTIMEZONEs: start from an empty service (it holds just UTC/GMT/Z).
  ICAL.TimezoneService.reset();
  const tzids = new Set();
  for (const vtz of root.getAllSubcomponents("vtimezone")) {
    if (!bounds.rawZones) restateOnsets(vtz, warnings);
    const tz = new ICAL.Timezone(vtz);
    if (!tz.tzid) {
      errors.push("VTIMEZONE without TZID");
      continue;
    }
    ICAL.TimezoneService.register(tz);
    tzids.add(tz.tzid);
  }

  const vevents = root.getAllSubcomponents("vevent");
  const masters = new Map();
  const overrides = new Map();
  for (const comp of vevents) {
    const uid = text(comp, "uid");
    if (!uid) errors.push("VEVENT without UID");
    if (comp.hasProperty("recurrence-id")) {
      overrides.set(uid, [...(overrides.get(uid) ?? []), comp]);
    } else {
      masters.set(uid, (masters.get(uid) ?? 0) + 1);
      if (masters.get(uid) === 2) errors.push(`UID ${uid} used by more than one master VEVENT`);
    }
  }
  for (const uid of overrides.keys()) {
    // ical.js expands such an override to nothing: it has no instance to replace.
    if (!masters.has(uid)) errors.push(`VEVENT ${uid}: RECURRENCE-ID but no master VEVENT`);
  }
  const orders = rawEventOrders(ics);
  const events = vevents.map((comp, i) =>
    describeEvent(comp, orders[i], masters, overrides, tzids, bounds, errors),
  );
  process.stdout.write(`${JSON.stringify({ calendar, timezones: [...tzids], events, errors, warnings })}\n`);
}

main();
