// The status page's live updates: it polls the coordinator's JSON
// endpoints every second and redraws the tables the server rendered, with
// DOM calls only (textContent: nothing the coordinator sends is parsed as
// HTML). It formats as the server's templates do (pages.go).
"use strict";
(function () {
  const body = document.body;
  const root = body.dataset.root || "./";
  const live = document.getElementById("live");
  const period = 1000;
  // protocol.States: the order summaries print final states in.
  const order = ["exited", "command timeout", "connect failure", "auth failure", "host key refused",
    "gateway lost", "cancelled", "no agent", "error"];

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function row(cells) {
    const tr = el("tr");
    for (const c of cells) tr.appendChild(c);
    return tr;
  }
  function td(cls, child) {
    const e = el("td", cls);
    if (child instanceof Node) e.appendChild(child); else if (child !== undefined) e.textContent = String(child);
    return e;
  }
  function when(iso) {
    if (!iso || iso.startsWith("0001-")) return "";
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }
  function age(now, iso) {
    if (!iso || iso.startsWith("0001-")) return "never";
    const s = Math.max(0, (new Date(now) - new Date(iso)) / 1000);
    if (s < 60) return s.toFixed(1) + " s ago";
    const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = Math.round(s % 60);
    return (h ? h + "h" + m + "m" : m + "m") + r + "s ago";
  }
  function ended(st) {
    let n = 0;
    for (const k in st.finals || {}) n += st.finals[k];
    return n;
  }
  function percent(st) { return st.total ? Math.floor(ended(st) * 100 / st.total) : 100; }
  function stateClass(s) { return "st-" + s.replace(/ /g, "-"); }
  function moreNote(n) { return n < 0 ? "… more nodes not shown" : "… " + n + " more nodes not shown"; }
  function command(st) {
    const cp = st.copy;
    if (cp) return "copy " + (cp.source || "") + (cp.reverse ? " ← " : " → ") + (cp.dest || "");
    return st.command || "";
  }
  function finals(st) {
    const rank = (s) => { const i = order.indexOf(s); return i < 0 ? order.length : i; };
    return Object.keys(st.finals || {}).filter((s) => st.finals[s] > 0)
      .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  }
  function badge(cls, text, count) {
    const b = el("span", "badge " + cls, text);
    if (count !== undefined) { b.appendChild(document.createTextNode(" ")); b.appendChild(el("b", "", count)); }
    return b;
  }
  function progress(max, value) {
    const p = el("progress");
    p.max = Math.max(max, 1);
    p.value = value;
    return p;
  }
  function status(done) { return done ? el("span", "done", "done") : el("span", "running", "running"); }
  // failed is the badge of a job's failed nodes (none: null).
  function failed(st) {
    if (!st.failed) return null;
    const b = badge("st-failed", st.failed + " failed");
    b.title = "nodes that ended other than exited with status 0";
    return b;
  }
  // exits lists a full status's exit codes in increasing order.
  function exits(st) {
    return Object.keys(st.codes || {}).map(Number).sort((a, b) => a - b);
  }
  function show(id, text) {
    const e = document.getElementById(id);
    if (!e) return;
    e.hidden = !text;
    e.textContent = text || "";
  }
  function polled(ok, why) {
    body.dataset.polls = String(Number(body.dataset.polls || 0) + (ok ? 1 : 0));
    live.className = ok ? "live ok" : "live err";
    live.textContent = ok ? "live · updated " + new Date().toISOString().slice(11, 19) + " UTC" : "not updating: " + why;
  }
  async function get(path) {
    const r = await fetch(root + path, { cache: "no-store", credentials: "same-origin" });
    if (!r.ok) throw new Error(r.status + " " + r.statusText);
    return r.json();
  }

  function drawJobs(p) {
    const tb = document.getElementById("jobs");
    const rows = [];
    for (const st of p.jobs) {
      const link = el("a", "", st.id);
      link.href = root + "job/" + encodeURIComponent(st.id);
      const prog = el("span");
      prog.append(status(st.done), " ", el("span", "figures", ended(st) + "/" + st.total), " ", progress(st.total, ended(st)));
      if (st.failed) prog.append(" ", failed(st));
      const fin = el("span");
      for (const s of finals(st)) fin.append(badge(stateClass(s), s, st.finals[s]), " ");
      const cmd = el("div", "cmd", command(st));
      cmd.title = command(st);
      rows.push(row([td("id", link), td("", st.user || ""), td("time", when(st.submitted)), td("num", st.total),
        td("progress", prog), td("finals", fin), td("", cmd)]));
    }
    if (!rows.length) {
      const c = td("", "no job in the registry");
      c.colSpan = 7;
      const r = row([c]);
      r.className = "empty";
      rows.push(r);
    }
    tb.replaceChildren(...rows);
    document.getElementById("jobs-count").textContent = String(p.jobs.length);
    show("jobs-more", p.more ? "… " + p.more + " older jobs not listed" : "");
  }

  function drawAgents(p) {
    const box = document.getElementById("agents");
    const parts = [];
    for (const g of p.groups) {
      const h = el("h2", "", g.group ? "gateway group " + g.group : "local (nodes under no gateway)");
      h.append(" ", el("span", "count", g.agents.length));
      const t = el("table", "agents");
      const head = el("thead");
      head.appendChild(row(["Agent", "Name", "Last heartbeat", "Running", "Capacity", "State", "Release"].map(
        (n, i) => el("th", i === 3 || i === 4 ? "num" : "", n))));
      const tb = el("tbody");
      for (const a of g.agents) {
        const state = a.lost ? badge("st-lost", "lost") : a.draining ? badge("st-draining", "draining") : badge("st-live", "live");
        tb.appendChild(row([td("id", a.agent), td("", a.name), td("time", age(p.now, a.last_seen)),
          td("num", a.running), td("num", a.capacity), td("", state), td("", a.release || "")]));
      }
      t.append(head, tb);
      parts.push(h, t);
    }
    if (!parts.length) parts.push(el("p", "empty", "no agent has registered"));
    box.replaceChildren(...parts);
    show("agents-more", p.more ? "… " + p.more + " more agents not listed" : "");
  }

  function setCell(st, set, more) {
    const c = td("", el("span", "set", set || ""));
    if (more) c.append(" ", el("span", "more", moreNote(more)));
    return c;
  }

  // drawJob draws a job's page: only its progress from a brief status
  // (p.brief), its node sets too from a full one.
  function drawJob(p) {
    const st = p.job, more = p.more || {}, n = ended(st);
    const state = document.getElementById("job-state");
    state.replaceChildren(status(st.done));
    if (st.failed) state.append(" ", failed(st));
    document.getElementById("job-ended-at").textContent = when(st.ended);
    const bar = document.getElementById("bar");
    bar.max = Math.max(st.total, 1);
    bar.value = n;
    document.getElementById("ended").textContent = String(n);
    document.getElementById("total").textContent = String(st.total);
    document.getElementById("percent").textContent = String(percent(st));
    if (p.brief) return false;
    document.getElementById("nodes").textContent = st.nodes || "";
    show("nodes-more", more.nodes ? moreNote(more.nodes) : "");
    const rows = [];
    for (const s of finals(st)) {
      const r = row([td("", badge(stateClass(s), s)), td("num", st.finals[s]), setCell(st, (st.states || {})[s], more[s])]);
      r.className = stateClass(s);
      rows.push(r);
    }
    if (st.total > n) {
      const un = row([td("", badge("st-unfinished", "unfinished")), td("num", st.total - n), setCell(st, st.unfinished, more.unfinished)]);
      un.className = "unfinished";
      rows.push(un);
    }
    document.getElementById("states").replaceChildren(...rows);
    const codes = [], counts = p.code_counts || {};
    for (const rc of exits(st)) {
      const b = rc ? badge("rc-fail", "rc=" + rc + " failed") : badge("rc-ok", "rc=0 ok");
      if (rc) b.title = "a failure: exit status other than 0";
      const count = counts[rc] === undefined || counts[rc] < 0 ? "?" : counts[rc];
      const r = row([td("", b), td("num", count), setCell(st, st.codes[rc], more["rc=" + rc])]);
      r.className = rc ? "rc-fail" : "rc-ok";
      codes.push(r);
    }
    document.getElementById("codes").replaceChildren(...codes);
    document.getElementById("codes-section").hidden = !codes.length;
    return st.done;
  }

  async function poll(draw, fetchAll) {
    let again = true;
    try {
      again = !draw(await fetchAll());
      polled(true);
      if (!again) live.textContent = "job ended: final figures";
    } catch (e) {
      polled(false, e.message);
    }
    if (again) setTimeout(() => poll(draw, fetchAll), period);
  }

  if (body.dataset.page === "index") {
    poll((both) => { drawJobs(both[0]); drawAgents(both[1]); return false; },
      () => Promise.all([get("api/jobs"), get("api/agents")]));
  } else if (body.dataset.page === "job") {
    const path = "api/job/" + encodeURIComponent(body.dataset.job);
    // Folding a large job's node sets costs the coordinator: the
    // progress comes from a brief status every second, the sets at the
    // first poll, then at most every fullEvery while nodes end, and once
    // the job is done (the poll then stops: it changes no more).
    const fullEvery = 5000;
    let fullAt = -Infinity, fullEnded = -1;
    poll(drawJob, async () => {
      if (fullAt !== -Infinity) {
        const b = await get(path + "?brief=1");
        const n = ended(b.job);
        if (!b.job.done && (n === fullEnded || Date.now() - fullAt < fullEvery)) {
          b.brief = true;
          return b;
        }
      }
      const p = await get(path);
      fullAt = Date.now();
      fullEnded = ended(p.job);
      return p;
    });
  }
})();
