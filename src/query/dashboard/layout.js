// Which layout sells (docs/analysts.md, "Which layout sells"): the product-tile table with click-through, CTR by
// position, the experiment card with its verdict in words, the funnel. Every figure comes from the analyst views
// (v_items, v_experiment, v_funnel) through the dashboard's own query function; a figure a view does not show is
// drawn as "fewer than k", never guessed.
(function () {
  'use strict';

  var $ = window.anonDom.$, el = window.anonDom.el, svg = window.anonDom.svg, clear = window.anonDom.clear;
  function q(s) { return "'" + String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'"; }
  function pct(v) { return (v * 100).toFixed(1) + ' %'; }
  /** A difference of proportions in percentage points, with a real minus sign. */
  function pp(v) { var s = Math.abs(v * 100).toFixed(1); return (v < 0 && s !== '0.0' ? '\u2212' : '') + s; }
  function pValue(p) { return p < 0.001 ? 'p < 0.001' : 'p = ' + p.toFixed(3); }
  function title(node, text) { node.appendChild(svg('title', {}, text)); return node; }

  var ctx;

  // ---- product tiles: the table (every tile shown, best click-through first) and CTR by position ----
  function tiles() {
    return ctx.query('SELECT level, list, item, position, impressions, clicks, ctr, visitors FROM v_items(' + ctx.params() + ", list = '*')").then(function (rows) {
      var items = rows.filter(function (r) { return r.level === 'item'; });
      var positions = rows.filter(function (r) { return r.level === 'position'; });
      // The list shown in the chart: the one chosen, else the one seen most.
      var seen = {};
      positions.forEach(function (r) { seen[r.list] = (seen[r.list] || 0) + Number(r.impressions); });
      var lists = Object.keys(seen).sort(function (a, b) { return seen[b] - seen[a] || (a < b ? -1 : 1); });
      var select = $('tiles-list');
      var chosen = lists.indexOf(select.value) >= 0 ? select.value : lists[0];
      clear(select);
      lists.forEach(function (l) { var o = el('option', l || '(no list)', { value: l }); if (l === chosen) o.selected = true; select.append(o); });

      var tb = $('tiles').tBodies[0];
      clear(tb);
      items
        .filter(function (r) { return chosen === undefined || r.list === chosen; })
        .sort(function (a, b) { return Number(b.ctr) - Number(a.ctr) || Number(b.impressions) - Number(a.impressions); })
        .forEach(function (r) {
          var tr = el('tr', undefined, { 'data-item': r.item, 'data-position': r.position });
          tr.append(el('td', r.item), el('td', r.position || '–'), el('td', r.impressions), el('td', r.clicks), el('td', r.ctr === null ? '–' : pct(Number(r.ctr))), el('td', r.visitors));
          tb.append(tr);
        });
      $('tiles-empty').hidden = items.length > 0;
      ctrChart(positions.filter(function (r) { return r.list === chosen && Number(r.position) > 0 && r.ctr !== null; }));
    });
  }

  /** One bar a position, its height the click-through rate, positions left to right. */
  function ctrChart(rows) {
    var node = $('ctr-chart');
    clear(node);
    var w = Number(node.getAttribute('width')), h = Number(node.getAttribute('height'));
    var top = 16, base = h - 22, left = 36;
    rows.sort(function (a, b) { return Number(a.position) - Number(b.position); });
    var max = Math.max.apply(null, rows.map(function (r) { return Number(r.ctr); }).concat([0.01]));
    var bw = rows.length ? (w - left - 8) / rows.length : 0;
    node.append(svg('line', { x1: left, y1: base, x2: w - 4, y2: base, 'class': 'axis' }));
    node.append(svg('text', { x: 2, y: top + 4, 'class': 'tick' }, pct(max)));
    rows.forEach(function (r, i) {
      var ctr = Number(r.ctr);
      var bh = (base - top) * ctr / max;
      var x = left + i * bw + 3;
      node.append(title(svg('rect', { x: x.toFixed(1), y: (base - bh).toFixed(1), width: Math.max(1, bw - 6).toFixed(1), height: bh.toFixed(1), 'class': 'ctr-bar', 'data-position': r.position, 'data-ctr': ctr }),
        'position ' + r.position + ': ' + pct(ctr) + ' click-through (' + r.clicks + ' of ' + r.impressions + ' seen)'));
      node.append(svg('text', { x: (x + (bw - 6) / 2).toFixed(1), y: h - 6, 'text-anchor': 'middle', 'class': 'tick' }, r.position));
    });
    if (!rows.length) node.append(svg('text', { x: left, y: (top + base) / 2, 'class': 'tick' }, 'no position shown: fewer than k visitors from k networks'));
  }

  // ---- the experiment card: arms, rates with 95 % intervals, the verdict in words ----
  function experiment() {
    var name = $('experiment').value.trim(), goal = $('goal').value.trim();
    if (!name || !goal) return Promise.resolve();
    return ctx.query('SELECT arm, visitors, conversions, rate, uplift, ci_low, ci_high, p_value, min_sample, below_min_sample FROM v_experiment(' + ctx.params() +
      ', experiment = ' + q(name) + ', goal = ' + q(goal) + ')').then(function (rows) {
      $('verdict').textContent = verdict(rows);
      $('verdict').setAttribute('data-verdict', !rows.length || Number(rows[0].below_min_sample) ? 'wait' : 'read');
      var tb = $('arms').tBodies[0];
      clear(tb);
      rows.forEach(function (r) {
        var tr = el('tr', undefined, { 'data-arm': r.arm });
        tr.append(el('td', r.arm), el('td', r.visitors), el('td', r.conversions), el('td', pct(Number(r.rate))));
        tb.append(tr);
      });
      armChart(rows);
    });
  }

  function verdict(rows) {
    if (!rows.length) return 'Not enough data yet: an arm has fewer than k visitor-days from k networks, so nothing is shown.';
    if (Number(rows[0].below_min_sample)) {
      return 'Not enough data yet: fewer than ' + rows[0].min_sample + ' visitor-days in an arm (' +
        rows.map(function (r) { return r.arm + ': ' + r.visitors; }).join(', ') + ').';
    }
    if (rows.length < 2) return 'Only arm ' + rows[0].arm + ' is shown: nothing to compare it with.';
    var base = rows[0].arm;
    return rows.slice(1).map(function (r) {
      var d = Number(r.uplift), lo = Number(r.ci_low), hi = Number(r.ci_high);
      var way = d > 0 ? pp(d) + ' pp better than' : d < 0 ? pp(-d) + ' pp worse than' : 'the same as';
      var p = r.p_value === null ? null : Number(r.p_value);
      var interval = (lo < 0 || hi < 0) ? pp(lo) + ' to ' + pp(hi) : pp(lo) + '\u2013' + pp(hi);
      return 'Arm ' + r.arm + ' converts ' + way + ' arm ' + base + ', 95 % interval ' + interval + ' pp' +
        (p === null ? '' : ', ' + pValue(p)) + (p !== null && p >= 0.05 ? ': not significant, the arms may well convert alike.' : '.');
    }).join(' ');
  }

  /** One row an arm: a bar to its conversion rate and its 95 % interval (Wald, per arm) as a whisker. */
  function armChart(rows) {
    var node = $('experiment-chart');
    clear(node);
    var w = Number(node.getAttribute('width')), left = 48, row = 30;
    node.setAttribute('height', String(Math.max(40, rows.length * row + 24)));
    var arms = rows.map(function (r) {
      var n = Number(r.visitors), p = Number(r.rate), half = 1.959964 * Math.sqrt(p * (1 - p) / n);
      return { arm: r.arm, rate: p, lo: Math.max(0, p - half), hi: Math.min(1, p + half) };
    });
    var max = Math.max.apply(null, arms.map(function (a) { return a.hi; }).concat([0.01]));
    var scale = function (v) { return left + (w - left - 12) * v / max; };
    arms.forEach(function (a, i) {
      var y = 8 + i * row;
      node.append(svg('text', { x: 4, y: y + 14, 'class': 'tick' }, a.arm));
      node.append(title(svg('rect', { x: left, y: y + 2, width: (scale(a.rate) - left).toFixed(1), height: 16, 'class': 'arm-bar', 'data-arm': a.arm, 'data-rate': a.rate }),
        'arm ' + a.arm + ': ' + pct(a.rate) + ' (95 % interval ' + pct(a.lo) + '–' + pct(a.hi) + ')'));
      node.append(svg('line', { x1: scale(a.lo).toFixed(1), x2: scale(a.hi).toFixed(1), y1: y + 10, y2: y + 10, 'class': 'interval', 'data-arm': a.arm }));
      [a.lo, a.hi].forEach(function (v) { node.append(svg('line', { x1: scale(v).toFixed(1), x2: scale(v).toFixed(1), y1: y + 4, y2: y + 16, 'class': 'interval' })); });
    });
    if (arms.length) node.append(svg('text', { x: left, y: arms.length * row + 20, 'class': 'tick' }, 'conversion rate, 0 to ' + pct(max)));
  }

  // ---- the funnel: one bar a step, widths by visitor-days, hidden steps drawn as hidden ----
  function funnel() {
    var steps = $('funnel-steps').value.split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    if (!steps.length) return Promise.resolve();
    return ctx.query('SELECT step, name, visitors, fewer_than_k, drop_off, conversion FROM v_funnel(' + ctx.params() +
      ', steps = [' + steps.map(q).join(', ') + '], device = ' + q($('funnel-device').value) + ')').then(funnelChart);
  }

  function funnelChart(rows) {
    var node = $('funnel-chart');
    clear(node);
    var w = Number(node.getAttribute('width')), label = 170, row = 34, right = 150;
    node.setAttribute('height', String(Math.max(40, rows.length * row + 8)));
    var first = rows.length && rows[0].visitors !== null ? Number(rows[0].visitors) : 0;
    var full = w - label - right;
    rows.forEach(function (r, i) {
      var y = 6 + i * row;
      node.append(svg('text', { x: 4, y: y + 17, 'class': 'tick' }, r.step + '. ' + r.name));
      if (r.visitors === null) {
        // Not shown by the view: no count, no width, no drop-off, whatever the neighbours show.
        node.append(title(svg('rect', { x: label, y: y + 4, width: full, height: 20, 'class': 'funnel-bar hidden-step', 'data-step': r.step }), 'fewer than k visitor-days from k networks on every day'));
        node.append(svg('text', { x: label + 8, y: y + 18, 'class': 'tick' }, 'fewer than k'));
        return;
      }
      var v = Number(r.visitors);
      var bw = first ? full * v / first : 0;
      node.append(title(svg('rect', { x: label, y: y + 4, width: Math.max(1, bw).toFixed(1), height: 20, 'class': 'funnel-bar', 'data-step': r.step, 'data-visitors': v }),
        r.name + ': ' + v + ' visitor-days'));
      var lost = r.drop_off === null ? '' : Number(r.drop_off) > 0 ? ', \u2212' + r.drop_off : ', none lost';
      var text = v + ' (' + pct(Number(r.conversion)) + ')' + lost;
      node.append(svg('text', { x: label + full + 6, y: y + 18, 'class': 'tick funnel-figure', 'data-step': r.step }, text));
    });
  }

  /** Runs a panel's queries; body[data-layout-ready] says when what is drawn is complete (tests wait for it). */
  function run(draw) {
    document.body.removeAttribute('data-layout-ready');
    $('layout-status').textContent = '';
    return draw().then(
      function () { document.body.setAttribute('data-layout-ready', '1'); },
      function (e) { if (e.message !== 'unauthorised') $('layout-status').textContent = 'Error: ' + e.message; },
    );
  }

  /** Called by dashboard.js with its query function (one query at a time) and the site and period as view parameters. */
  function show(c) {
    ctx = c;
    return run(function () { return tiles().then(experiment).then(funnel); });
  }

  $('tiles-list').addEventListener('change', function () { if (ctx) run(tiles); });
  $('experiment-form').addEventListener('submit', function (e) { e.preventDefault(); if (ctx) run(experiment); });
  $('funnel-form').addEventListener('submit', function (e) { e.preventDefault(); if (ctx) run(funnel); });
  window.anonLayout = { show: show, verdict: verdict };
})();
