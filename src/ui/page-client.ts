// The live view's script (plain browser JavaScript, inlined in the page under its nonce). It reads the token from
// its own URL, loads /api/status, then follows /api/stream: `actors` batches (where each actor is in its machine:
// the statecharts' counts and highlights) and `transition` events (the row's state and reason at once, the log;
// the status is fetched again shortly after, for addresses and leases). The table is virtualised: only the rows
// in view are in the DOM (fixed row height), so 1000 endpoints cost a few dozen elements.
export const CLIENT_SCRIPT = String.raw`
'use strict';
(function () {
  var ROW_H = 26, OVERSCAN = 8, LOG_MAX = 2000, LOG_SHOWN = 400;
  var token = new URLSearchParams(location.search).get('token') || '';
  var q = '?token=' + encodeURIComponent(token);
  var status = null;
  var objects = new Map();      // row key -> the status object (NI, endpoint, port, device)
  var places = new Map();       // actor key -> { machine, state }
  var collapsed = new Set();    // NI keys whose endpoints are folded
  var selected = null;          // row key whose actor the charts outline
  var rows = [];
  var log = [];
  var $ = function (id) { return document.getElementById(id); };
  var rowsEl = $('rows'), spacer = rowsEl.querySelector('.spacer');

  function esc(s) { return String(s == null ? '' : s).replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; }); }
  function stateHtml(s) { return '<span class="state ' + esc(s) + '" data-role="state">' + esc(s) + '</span>'; }
  function epKey(e) { return 'endpoint:' + e.app + '/' + e.network; }
  function byName(a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; }

  function index() {
    objects = new Map();
    if (!status) return;
    if (status.device) objects.set('device:device', status.device);
    status.networks.forEach(function (n) { objects.set('network:' + n.name, n); });
    status.endpoints.forEach(function (e) { objects.set(epKey(e), e); });
    status.ports.forEach(function (p) { objects.set('port:' + p.name, p); });
  }

  function matches(f, parts) {
    if (!f) return true;
    for (var i = 0; i < parts.length; i++) if (parts[i] != null && String(parts[i]).toLowerCase().indexOf(f) >= 0) return true;
    return false;
  }
  function niParts(n) { return [n.name, n.type, n.state, n.reason, n.bridge, n.subnet, n.gateway, n.port]; }
  function epParts(e) { return [e.app + '/' + e.network, e.kind, e.state, e.reason, e.ifname, e.mac, e.ip, e.netns]; }
  function portParts(p) { return [p.name, p.ifname, p.state, p.reason, p.network]; }

  /** The flat list of rows: the device, each NI with its endpoints under it, then the ports. */
  function buildRows() {
    rows = [];
    if (!status) return;
    var f = $('filter').value.trim().toLowerCase();
    if (status.device && matches(f, ['device', status.device.state, status.device.reason])) rows.push({ type: 'device', key: 'device:device' });
    var byNi = new Map();
    status.endpoints.forEach(function (e) { var l = byNi.get(e.network); if (!l) byNi.set(e.network, l = []); l.push(e); });
    status.networks.slice().sort(byName).forEach(function (n) {
      var key = 'network:' + n.name;
      var eps = (byNi.get(n.name) || []).slice().sort(function (a, b) { return a.app < b.app ? -1 : a.app > b.app ? 1 : 0; });
      var niHit = matches(f, niParts(n));
      var shown = niHit ? eps : eps.filter(function (e) { return matches(f, epParts(e)); });
      if (!niHit && shown.length === 0) return;
      rows.push({ type: 'ni', key: key, count: eps.length });
      if (!collapsed.has(key)) shown.forEach(function (e) { rows.push({ type: 'ep', key: epKey(e) }); });
    });
    var ports = status.ports.slice().sort(byName).filter(function (p) { return matches(f, portParts(p)); });
    if (ports.length) {
      rows.push({ type: 'group', key: 'group:ports', count: ports.length });
      if (!collapsed.has('group:ports')) ports.forEach(function (p) { rows.push({ type: 'port', key: 'port:' + p.name }); });
    }
    $('rowcount').textContent = status.networks.length + ' NIs, ' + status.endpoints.length + ' endpoints, ' + status.ports.length + ' ports';
  }

  function cells(r) {
    var o = objects.get(r.key);
    var twisty = '<span class="twisty">' + (collapsed.has(r.key) ? '▸' : '▾') + '</span>';
    if (r.type === 'group') return [twisty + 'ports', '', '', '', '', r.count + ' ports'];
    if (!o) return [r.key, '', '', '', '', ''];
    if (r.type === 'device') return ['device', 'device', stateHtml(o.state), o.reason || '', '', 'table inet edgenet base, ip_forward'];
    if (r.type === 'ni') {
      var addr = [o.bridge, o.subnet, o.gateway && ('gw ' + o.gateway)].filter(Boolean).join(' · ');
      var detail = [o.selectedPort ? ('via ' + o.selectedPort) : o.port ? ('port ' + o.port) : '', o.dnsmasqPid ? ('dnsmasq ' + o.dnsmasqPid) : '',
        o.leases ? (o.leases.length + ' leases') : '', r.count + ' endpoints'].filter(Boolean).join(' · ');
      return [twisty + esc(o.name), esc(o.type), stateHtml(o.state), esc(o.reason || ''), esc(addr), esc(detail)];
    }
    if (r.type === 'ep') {
      var a = [o.ifname + (o.appIfname ? (' (' + o.appIfname + ' in ' + (o.netns || 'app') + ')') : ''), o.mac, o.ip].filter(Boolean).join(' · ');
      var pk = o.rules ? o.rules.reduce(function (s, x) { return s + x.packets; }, 0) : null;
      return [esc(o.app + '/' + o.network), esc(o.kind), stateHtml(o.state), esc(o.reason || ''), esc(a), pk == null ? '' : esc(o.rules.length + ' rules · ' + pk + ' packets')];
    }
    return [esc(o.name), 'port', stateHtml(o.state), esc(o.reason || ''), esc(o.ifname), esc((o.carrier ? 'carrier up' : 'no carrier') + (o.network ? (' · ' + o.network) : ''))];
  }

  var drawQueued = false;
  function draw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(function () { drawQueued = false; drawNow(); });
  }
  function drawNow() {
    spacer.style.height = (rows.length * ROW_H) + 'px';
    // as tall as its rows, up to most of the window: beyond that it scrolls (and only the rows in view are drawn)
    rowsEl.style.height = Math.min(rows.length * ROW_H + 2, Math.max(260, Math.round(window.innerHeight * 0.62))) + 'px';
    var top = rowsEl.scrollTop, h = rowsEl.clientHeight || 600;
    var first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    var last = Math.min(rows.length, Math.ceil((top + h) / ROW_H) + OVERSCAN);
    var html = '';
    for (var i = first; i < last; i++) {
      var r = rows[i], c = cells(r), o = objects.get(r.key);
      html += '<div class="row ' + r.type + (r.key === selected ? ' selected' : '') + '" role="row" data-key="' + esc(r.key) + '"' +
        (o && o.state ? ' data-state="' + esc(o.state) + '"' : '') + ' data-i="' + i + '">' +
        c.map(function (x) { return '<span>' + x + '</span>'; }).join('') + '</div>';
    }
    var old = rowsEl.querySelectorAll('.row');
    for (var k = 0; k < old.length; k++) old[k].remove();
    rowsEl.insertAdjacentHTML('beforeend', html);
    // positions through the CSSOM: the Content-Security-Policy allows no inline style attributes
    var fresh = rowsEl.querySelectorAll('.row');
    for (var j = 0; j < fresh.length; j++) fresh[j].style.top = (Number(fresh[j].getAttribute('data-i')) * ROW_H) + 'px';
  }
  rowsEl.addEventListener('scroll', draw, { passive: true });
  window.addEventListener('resize', draw);
  rowsEl.addEventListener('click', function (ev) {
    var el = ev.target.closest ? ev.target.closest('.row') : null;
    if (!el) return;
    var key = el.getAttribute('data-key');
    if (ev.target.closest('.twisty')) {
      if (collapsed.has(key)) collapsed.delete(key); else collapsed.add(key);
      buildRows();
    } else {
      selected = key;
      paintCharts();
    }
    draw();
  });
  $('filter').addEventListener('input', function () { buildRows(); draw(); });

  function summary() {
    if (!status) return;
    var count = function (list) {
      var m = {};
      list.forEach(function (x) { m[x.state] = (m[x.state] || 0) + 1; });
      return Object.keys(m).sort().map(function (s) { return stateHtml(s) + ' <b>' + m[s] + '</b>'; }).join(' ');
    };
    $('summary').innerHTML = '<span>networks ' + count(status.networks) + '</span><span>endpoints ' + count(status.endpoints) +
      '</span><span>ports ' + count(status.ports) + '</span>' + (status.device ? '<span>device ' + stateHtml(status.device.state) + '</span>' : '');
    var w = status.writes || {};
    $('writes').textContent = 'kernel writes since start: ' + Object.keys(w).map(function (k) { return k + ' ' + w[k]; }).join(', ');
  }

  /** Each chart: how many actors are in each state (and its ancestors); the selected actor's states outlined. */
  function paintCharts() {
    var counts = {};
    places.forEach(function (p) {
      var m = counts[p.machine] || (counts[p.machine] = {});
      var parts = p.state.split('.');
      for (var i = 1; i <= parts.length; i++) { var path = parts.slice(0, i).join('.'); m[path] = (m[path] || 0) + 1; }
    });
    var sel = selected ? places.get(selected) : null;
    document.querySelectorAll('.chartbox').forEach(function (box) {
      var machine = box.getAttribute('data-machine');
      var m = counts[machine] || {};
      var mine = sel && sel.machine === machine ? sel.state.split('.') : [];
      var current = {};
      for (var i = 1; i <= mine.length; i++) current[mine.slice(0, i).join('.')] = true;
      box.querySelectorAll('.st').forEach(function (g) {
        var path = g.getAttribute('data-state');
        var n = m[path] || 0;
        g.classList.toggle('occupied', n > 0);
        g.classList.toggle('current', !!current[path]);
        var t = g.querySelector('.count');
        if (t) t.textContent = n ? String(n) : '';
      });
      box.querySelector('[data-role=selected-state]').textContent = sel && sel.machine === machine ? (selected + ' is in ' + sel.state) : '';
    });
  }

  function logLine(t) {
    var time = (t.at || '').replace('T', ' ').replace('Z', '');
    return '<div data-kind="' + esc(t.kind) + '" data-name="' + esc(t.name) + '" data-to="' + esc(t.to) + '" data-at="' + esc(t.at) + '"><span class="t">' + esc(time) + '</span> ' + esc(t.kind) + ' <b>' + esc(t.name) + '</b> ' +
      esc(t.from || '∅') + ' → ' + stateHtml(t.to) + (t.reason ? ' <span class="reason">(' + esc(t.reason) + ')</span>' : '') + '</div>';
  }
  function drawLog() {
    var kind = $('log-kind').value, name = $('log-name').value.trim().toLowerCase();
    var shown = [];
    for (var i = log.length - 1; i >= 0 && shown.length < LOG_SHOWN; i--) {
      var t = log[i];
      if (kind && t.kind !== kind) continue;
      if (name && t.name.toLowerCase().indexOf(name) < 0) continue;
      shown.push(logLine(t));
    }
    $('log').innerHTML = shown.join('');
    $('logcount').textContent = shown.length + ' shown of the last ' + log.length;
  }
  var logQueued = false;
  function queueLog() { if (logQueued) return; logQueued = true; requestAnimationFrame(function () { logQueued = false; drawLog(); }); }
  $('log-kind').addEventListener('change', drawLog);
  $('log-name').addEventListener('input', drawLog);

  var fetching = false, again = false, fetchTimer = null;
  function loadStatus() {
    if (fetching) { again = true; return; }
    fetching = true;
    fetch('/api/status' + q, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('GET /api/status: ' + r.status);
      return r.json();
    }).then(function (s) {
      status = s;
      index();
      if (!selected && s.networks.length) selected = 'network:' + s.networks.slice().sort(byName)[0].name;
      buildRows(); summary(); paintCharts(); draw();
      $('updated').textContent = 'status at ' + new Date().toLocaleTimeString();
    }).catch(function (err) { $('updated').textContent = String(err.message || err); })
      .then(function () { fetching = false; if (again) { again = false; loadStatus(); } });
  }
  function soon() { clearTimeout(fetchTimer); fetchTimer = setTimeout(loadStatus, 250); }

  function applyTransition(t) {
    var key = t.kind + ':' + t.name;
    var o = objects.get(key);
    if (o) {
      o.state = t.to;
      if (t.reason) o.reason = t.reason; else delete o.reason;
    }
    // the row in view shows it now, not at the next frame (a busy device's browser may be slow to give one)
    var el = rowsEl.querySelector('.row[data-key="' + key.replace(/["\\]/g, '\\$&') + '"]');
    if (el && o) {
      var c = cells({ type: el.classList.contains('ni') ? 'ni' : el.classList.contains('ep') ? 'ep' : el.classList.contains('port') ? 'port' : 'device', key: key, count: 0 });
      var spans = el.children;
      if (spans[2]) spans[2].innerHTML = c[2];
      if (spans[3]) spans[3].innerHTML = c[3];
      el.setAttribute('data-state', t.to);
    }
    // the actor's place follows at once (its nested state comes with the next actors batch)
    var p = places.get(key);
    if (p && p.state.split('.')[0] !== t.to) {
      if (t.to === 'deleted') places.delete(key); else p.state = t.to;
      paintCharts();
    }
    if (!o || t.to === 'deleted' || t.from === null) soon();
  }

  function connect() {
    var es = new EventSource('/api/stream' + q);
    es.onopen = function () { $('conn').textContent = 'live'; $('conn').className = 'live'; loadStatus(); };
    es.onerror = function () {
      $('conn').className = 'lost';
      if (es.readyState !== EventSource.CLOSED) { $('conn').textContent = 'disconnected: reconnecting…'; return; }
      // the browser gives up on an answer that is not a stream: say why, and try again while the daemon is away
      fetch('/api/status' + q, { cache: 'no-store' }).then(function (r) {
        if (r.status === 401) {
          $('conn').textContent = 'token refused';
          explain('The daemon refused this page\'s token: it was restarted (a new token each start) or the URL is incomplete. Run <code>edgenet ui-url</code> as root for the current URL.');
          return;
        }
        $('conn').textContent = 'stream failed (' + r.status + '): retrying';
        setTimeout(connect, 2000);
      }).catch(function () { $('conn').textContent = 'daemon unreachable: retrying'; setTimeout(connect, 2000); });
    };
    es.addEventListener('actors', function (m) {
      JSON.parse(m.data).forEach(function (p) {
        if (p.state) places.set(p.key, { machine: p.machine, state: p.state }); else places.delete(p.key);
      });
      paintCharts();
    });
    es.addEventListener('history', function (m) {
      // what happened before this page opened (the daemon keeps the last few hundred): the log only
      var seen = {};
      log.forEach(function (t) { seen[t.at + t.kind + t.name + t.to] = true; });
      var older = JSON.parse(m.data).filter(function (t) { return !seen[t.at + t.kind + t.name + t.to]; });
      log = older.concat(log).sort(function (a, b) { return a.at < b.at ? -1 : a.at > b.at ? 1 : 0; });
      queueLog();
    });
    es.addEventListener('transition', function (m) {
      var t = JSON.parse(m.data);
      log.push(t);
      if (log.length > LOG_MAX) log.splice(0, log.length - LOG_MAX);
      applyTransition(t);
      summary(); draw(); queueLog();
      soon();
    });
  }
  function explain(html) {
    var el = $('why');
    if (!el) { document.querySelector('main').insertAdjacentHTML('afterbegin', '<section id="why" role="alert"></section>'); el = $('why'); }
    el.innerHTML = html;
  }
  if (!token) explain('<b>No token in this URL.</b> Run <code>edgenet ui-url</code> as root for the whole URL.');
  connect();
  // leases, addresses and packet counts change without a transition: refreshed every few seconds
  setInterval(loadStatus, 5000);
})();
`;
