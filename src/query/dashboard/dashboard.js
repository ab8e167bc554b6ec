// The read-only dashboard. Every number comes from the analyst views through
// POST /query with the analyst token; nothing here can read raw events.
(function () {
  'use strict';
  var $ = window.anonDom.$, el = window.anonDom.el, svg = window.anonDom.svg, clear = window.anonDom.clear;
  var token = sessionStorage.getItem('anon_analyst_token') || '';
  var state = { site: 'demo', from: '', to: '', page: '' };

  function iso(d) { return d.toISOString().slice(0, 10); }
  function q(s) { return "'" + String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'"; }
  function params(extra) {
    var p = 'site = ' + q(state.site) + ', date_from = ' + q(state.from) + ', date_to = ' + q(state.to);
    return extra ? p + ', page = ' + q(state.page) : p;
  }
  // One query at a time: the server runs only a few at once (QUERY_CONCURRENCY) and answers 429 beyond that;
  // a 429 is retried after its Retry-After.
  var queue = Promise.resolve();
  function query(sql) {
    var next = queue.then(function () { return send(sql, 0); });
    queue = next.catch(function () {});
    return next;
  }
  function send(sql, tries) {
    return fetch('/query?format=JSONEachRow', { method: 'POST', headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'text/plain' }, body: sql })
      .then(function (res) {
        if (res.status === 429 && tries < 5) {
          var wait = Math.min(30, Number(res.headers.get('Retry-After')) || 1) * 1000;
          return new Promise(function (r) { setTimeout(r, wait); }).then(function () { return send(sql, tries + 1); });
        }
        return res.text().then(function (text) {
          if (res.status === 401) { showLogin('The token was not accepted.'); throw new Error('unauthorised'); }
          if (!res.ok) {
            var body = JSON.parse(text);
            throw new Error((body.error || res.statusText) + (body.query_id ? ' (query id ' + body.query_id + ')' : ''));
          }
          return text.split('\n').filter(Boolean).map(function (l) { return JSON.parse(l); });
        });
      });
  }
  function ms(v) { return (Number(v) / 1000).toFixed(1) + ' s'; }

  function showLogin(msg) {
    $('login').hidden = false; $('app').hidden = true;
    $('login-error').textContent = msg || '';
  }

  /** v_visible_time's buckets, by lower bound in seconds. */
  var VISIBLE_BUCKETS = { 0: '<1 s', 1: '1-3 s', 3: '3-10 s', 10: '10-30 s', 30: '30-60 s', 60: '1-3 min', 180: '3 min+' };

  function bars(svgNode, items, label) {
    clear(svgNode);
    var w = 320, h = 160, max = Math.max.apply(null, items.map(function (i) { return i.value; }).concat([1]));
    var bw = items.length ? (w - 20) / items.length : 0;
    items.forEach(function (it, i) {
      var bh = Math.round((h - 30) * it.value / max);
      var r = svg('rect', { x: 10 + i * bw, y: h - 20 - bh, width: Math.max(1, bw - 4), height: bh, fill: '#4c6ef5' });
      r.appendChild(svg('title', {})).textContent = it.label + ': ' + it.value + ' ' + label;
      svgNode.appendChild(r);
      var t = svg('text', { x: 10 + i * bw, y: h - 6, 'font-size': 10 });
      t.textContent = it.label;
      svgNode.appendChild(t);
    });
  }

  function loadPage(page) {
    state.page = page;
    $('page-detail').hidden = false;
    $('page-name').textContent = page;
    return Promise.all([
      query('SELECT depth, views FROM v_scroll_depth(' + params(true) + ')'),
      query('SELECT device_type, pageviews, visitors FROM v_page_devices(' + params(true) + ')'),
      query('SELECT median_visible_ms, p75_visible_ms FROM v_pages(' + params(false) + ') WHERE page = ' + q(page)),
      query('SELECT from_s, views FROM v_visible_time(' + params(true) + ')')
    ]).then(function (r) {
      bars($('scroll-chart'), r[0].map(function (x) { return { label: x.depth + '%', value: Number(x.views) }; }), 'views');
      var v = r[2][0];
      $('visible-summary').textContent = v ? 'median ' + ms(v.median_visible_ms) + ', p75 ' + ms(v.p75_visible_ms) : 'not shown: fewer than k visitors and networks on every day';
      bars($('visible-chart'), r[3].map(function (x) { return { label: VISIBLE_BUCKETS[x.from_s] || x.from_s + ' s+', value: Number(x.views) }; }), 'views');
      var dev = $('devices').tBodies[0]; clear(dev);
      r[1].forEach(function (d) { var tr = el('tr'); tr.append(el('td', d.device_type), el('td', d.pageviews), el('td', d.visitors + ' visitors')); dev.append(tr); });
      // The heatmap over the live page, its clicked elements and the frustration list (heatmap.js).
      return window.anonHeatmap.show({ query: query, params: params, site: state.site, page: page });
    }).then(function () {
      $('status').textContent = 'page ' + page + ' loaded';
      document.body.setAttribute('data-ready', 'page');
    });
  }

  function load() {
    $('status').textContent = 'loading…';
    document.body.removeAttribute('data-ready');
    return Promise.all([
      query('SELECT pageviews, visitors, bounce_rate FROM v_summary(' + params(false) + ')'),
      query('SELECT page, pageviews, visitors, median_visible_ms, p75_visible_ms, median_scroll_depth FROM v_pages(' + params(false) + ') LIMIT 50'),
      query('SELECT data_up_to FROM v_freshness')
    ]).then(function (r) {
      // The aggregates follow the events in the background (every AGGREGATE_EVERY_MS): say up to when they count.
      var upTo = r[2][0] && String(r[2][0].data_up_to || '');
      $('freshness').textContent = upTo && upTo.slice(0, 4) !== '1970'
        ? 'data up to ' + (upTo.slice(0, 10) === iso(new Date()) ? upTo.slice(11, 19) : upTo.slice(0, 19)) + ' UTC'
        : '';
      $('login').hidden = true; $('app').hidden = false;
      var s = r[0][0] || { pageviews: 0, visitors: 0, bounce_rate: 0 };
      var sum = $('summary'); clear(sum);
      [['page views', s.pageviews], ['visitors', s.visitors], ['bounce rate', Math.round(Number(s.bounce_rate) * 100) + '%']].forEach(function (c) {
        var d = el('div', undefined, { 'class': 'card' }); d.append(el('b', c[1]), el('span', c[0])); sum.append(d);
      });
      var tb = $('pages').tBodies[0]; clear(tb);
      r[1].forEach(function (p) {
        var tr = el('tr', undefined, { 'data-page': p.page });
        tr.append(el('td', p.page), el('td', p.pageviews), el('td', p.visitors), el('td', ms(p.median_visible_ms)), el('td', ms(p.p75_visible_ms)), el('td', p.median_scroll_depth + '%'));
        tr.addEventListener('click', function () { loadPage(p.page); });
        tb.append(tr);
      });
      $('status').textContent = r[1].length ? '' : 'No page had k visitors from k networks on any day of this period.';
      // Tiles, experiment and funnel (layout.js), in the same queue of queries.
      window.anonLayout.show({ query: query, params: function () { return params(false); } });
      document.body.setAttribute('data-ready', 'overview');
      if (state.page) return loadPage(state.page);
    }).catch(function (e) { if (e.message !== 'unauthorised') $('status').textContent = 'Error: ' + e.message; });
  }

  var today = new Date();
  $('to').value = iso(today);
  $('from').value = iso(new Date(today.getTime() - 29 * 86400000));
  var search = new URLSearchParams(location.search);
  if (search.get('site')) $('site').value = search.get('site');
  if (search.get('page')) state.page = search.get('page');

  $('filters').addEventListener('submit', function (e) {
    e.preventDefault();
    state.site = $('site').value; state.from = $('from').value; state.to = $('to').value;
    load();
  });
  $('login-form').addEventListener('submit', function (e) {
    e.preventDefault();
    token = $('token').value.trim();
    sessionStorage.setItem('anon_analyst_token', token);
    state.site = $('site').value; state.from = $('from').value; state.to = $('to').value;
    load();
  });

  state.site = $('site').value; state.from = $('from').value; state.to = $('to').value;
  if (token) load(); else showLogin();
})();
