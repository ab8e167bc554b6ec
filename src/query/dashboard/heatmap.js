// The heatmap of one page, drawn over the live page (docs/analysts.md, "Heatmaps on the dashboard").
//
// Everything here comes from the analyst views (v_heatmap_widths, v_heatmap_cells, v_heatmap_targets,
// v_element_heatmap, v_click_targets, v_scroll_depth, v_frustration, v_quick_backs) and from the page itself,
// which the dashboard's server fetches from the site's page origin and this browser lays out in a sandboxed
// frame (/dashboard/page, src/query/page-frame.ts): nothing is captured from visitors. The frame is as wide as
// the chosen width bucket and as tall as the page, inside a box that scrolls, so the cells, the fold line and
// the scroll-reach bar stay on the page as it scrolls. Where the page cannot be framed, the cells are drawn on a
// blank page of that width, or over the page's structure outline as this browser laid it out.
(function () {
  'use strict';
  /** The views' cell size in CSS px: cells are counted from the document's centre line (x) and its top (y). */
  var CELL = 20;
  /** The scroll-reach bar beside the page. */
  var REACH_W = 28;
  var GAP = 8;
  /** When the page has not reported its layout by then, it is taken as not framable. */
  var FRAME_WAIT_MS = 8000;

  var $ = window.anonDom.$, el = window.anonDom.el, svg = window.anonDom.svg, clear = window.anonDom.clear;
  function num(v) { return Number(v) || 0; }
  function fmt(v) { return v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2); }

  /**
   * A stored selector, readable: the label when there is one, and a short selector: the last step, and the steps
   * above it up to the nearest that names one element (an id or a sibling position: which tile), at most three;
   * positions as [n].
   */
  function readable(target, label) {
    var steps = String(target).split('>');
    var shown = [];
    var named = /#|:nth-of-type/;
    for (var i = steps.length - 1; i >= 0 && shown.length < 3; i--) {
      shown.unshift(steps[i]);
      // This step names one element; or it has classes and is not inside one of several alike (a tile).
      if (named.test(steps[i]) || (/\./.test(steps[i]) && !named.test(steps[i - 1] || ''))) break;
    }
    var short = shown.join(' › ').replace(/:nth-of-type\((\d+)\)/g, '[$1]');
    return { name: label || short, detail: label ? short : '' };
  }

  /** The width buckets the views answer for, as choices: every desktop width together first, then each width. */
  function choices(widths, cells) {
    var seen = {};
    var out = [];
    function add(key, text, draw) { if (!seen[key]) { seen[key] = 1; out.push({ key: key, text: text, draw: draw }); } }
    var rows = widths.concat(cells);
    var desktop = rows.filter(function (r) { return r.viewport === 'desktop'; });
    if (desktop.length) {
      // Drawn at the desktop width with the most page views (the cells are counted from the centre line: any desktop width shows them in place).
      var best = widths.filter(function (w) { return w.viewport === 'desktop' && num(w.width) > 0; }).sort(function (a, b) { return num(b.pageviews) - num(a.pageviews); })[0];
      add('desktop', 'desktop, every width', best ? num(best.width) : 1440);
    }
    rows.map(function (r) { return num(r.width); }).filter(function (w) { return w > 0; }).sort(function (a, b) { return b - a; }).forEach(function (w) {
      add(String(w), w === 390 ? 'mobile (drawn at 390 px)' : w === 768 ? 'tablet (drawn at 768 px)' : w + ' px', w);
    });
    return out;
  }

  /** Rows of a view for one choice: one width, or every desktop row (each width and the every-width fallback). */
  function pick(rows, key) {
    return rows.filter(function (r) { return key === 'desktop' ? r.viewport === 'desktop' : String(num(r.width)) === key; });
  }

  /** Sums rows by a key, adding the named numeric fields. */
  function sumBy(rows, keyOf, fields) {
    var m = {};
    var order = [];
    rows.forEach(function (r) {
      var k = keyOf(r);
      if (!m[k]) { m[k] = { row: r }; fields.forEach(function (f) { m[k][f] = 0; }); order.push(k); }
      fields.forEach(function (f) { m[k][f] += num(r[f]); });
    });
    return order.map(function (k) { return m[k]; });
  }

  /** Colour of a cell: transparent yellow for the coolest, opaque red for the hottest. */
  function heat(t) {
    var g = Math.round(220 * (1 - t));
    return { fill: 'rgb(255,' + g + ',0)', opacity: (0.35 + 0.55 * t).toFixed(2) };
  }

  var current = null; // { page, choice, data, layout }

  function frameSrc(site, page) { return '/dashboard/page?site=' + encodeURIComponent(site) + '&path=' + encodeURIComponent(page); }

  /** Loads the views for `page` and draws the heatmap. `ctx`: { query(sql), params(withPage), site, page }. */
  function show(ctx) {
    var page = ctx.page;
    return Promise.all([
      ctx.query('SELECT viewport, width, pageviews, visitors, median_viewport_h FROM v_heatmap_widths(' + ctx.params(true) + ')'),
      ctx.query('SELECT viewport, width, cell_x, cell_y, clicks, visitors FROM v_heatmap_cells(' + ctx.params(true) + ')'),
      ctx.query('SELECT viewport, width, target, label, clicks, rage_clicks, dead_clicks FROM v_heatmap_targets(' + ctx.params(true) + ')'),
      ctx.query('SELECT depth, views FROM v_scroll_depth(' + ctx.params(true) + ')'),
      ctx.query('SELECT frame, element, label, cell_x, cell_y, clicks FROM v_element_heatmap(' + ctx.params(true) + ')'),
      ctx.query('SELECT target, label, clicks, rage_clicks, dead_clicks FROM v_click_targets(' + ctx.params(true) + ')'),
      ctx.query('SELECT page, signal, clicks, visitors FROM v_frustration(' + ctx.params(false) + ')'),
      ctx.query('SELECT page, quick_backs, visitors FROM v_quick_backs(' + ctx.params(false) + ')'),
      ctx.query('SELECT page, pageviews FROM v_pages(' + ctx.params(false) + ')')
    ]).then(function (r) {
      var data = { widths: r[0], cells: r[1], targets: r[2], scroll: r[3], elements: r[4], clickTargets: r[5], frustration: r[6], quickBacks: r[7], pages: r[8] };
      var opts = choices(data.widths, data.cells);
      var select = $('heat-width');
      var keep = current && current.page === page ? select.value : '';
      clear(select);
      opts.forEach(function (o) { select.append(el('option', o.text, { value: o.key })); });
      if (keep && opts.some(function (o) { return o.key === keep; })) select.value = keep;
      current = { site: ctx.site, page: page, data: data, opts: opts, layout: null, src: '' };
      frustration(data, page);
      elements(data.elements);
      return draw();
    });
  }

  /** Draws the chosen width: frame, cells, fold, reach, legend, the clicked-elements table. */
  function draw() {
    if (!current) return Promise.resolve();
    var opt = current.opts.filter(function (o) { return o.key === $('heat-width').value; })[0] || current.opts[0];
    var data = current.data;
    var stage = $('heat-stage');
    if (!opt) {
      stage.hidden = true;
      $('heat-note').textContent = 'No cell of this page had k visitors from k networks on any day of the period.';
      clear($('targets').tBodies[0]);
      document.body.setAttribute('data-heatmap', 'empty');
      return Promise.resolve();
    }
    stage.hidden = false;
    var W = opt.draw;
    var pv = pick(data.widths, opt.key);
    var pageviews = pv.reduce(function (s, w) { return s + num(w.pageviews); }, 0);
    var foldRows = pv.filter(function (w) { return num(w.median_viewport_h) > 0; });
    var fold = foldRows.length
      ? Math.round(foldRows.reduce(function (s, w) { return s + num(w.median_viewport_h) * num(w.pageviews); }, 0) / Math.max(1, foldRows.reduce(function (s, w) { return s + num(w.pageviews); }, 0)))
      : 0;
    var cells = sumBy(pick(data.cells, opt.key), function (c) { return c.cell_x + ':' + c.cell_y; }, ['clicks', 'visitors']).map(function (c) {
      return { x: num(c.row.cell_x), y: num(c.row.cell_y), clicks: c.clicks, visitors: c.visitors, rate: pageviews ? (100 * c.clicks) / pageviews : 0 };
    });
    current.view = { opt: opt, W: W, cells: cells, fold: fold, pageviews: pageviews };
    table(opt, pageviews);
    var frame = $('heat-frame');
    var src = frameSrc(current.site, current.page);
    frame.style.width = W + 'px';
    frame.setAttribute('width', String(W));
    if (current.src !== src) {
      current.src = src;
      current.layout = null;
      current.loads = 0;
      current.away = false;
      $('heat-note').textContent = 'Loading the page…';
      document.body.setAttribute('data-heatmap', 'loading');
      frame.src = src;
      clearTimeout(current.wait);
      current.wait = setTimeout(function () {
        if (!current.layout) { current.layout = { failed: true, width: W, height: 0, outline: [] }; paint(); }
      }, FRAME_WAIT_MS);
    }
    paint();
    return Promise.resolve();
  }

  /** Paints everything that depends on the page's layout: sizes, cells, fold, reach, outline, legend. */
  function paint() {
    var v = current && current.view;
    if (!v) return;
    var layout = current.layout;
    var W = v.W;
    var lowest = v.cells.reduce(function (m, c) { return Math.max(m, (c.y + 1) * CELL); }, 0);
    var H = Math.max(layout && layout.height ? layout.height : 0, lowest + 40, v.fold + 40, 600);
    var canvas = $('heat-canvas');
    canvas.style.width = REACH_W + GAP + W + 'px';
    canvas.style.height = H + 'px';
    var frame = $('heat-frame');
    frame.style.height = H + 'px';
    frame.setAttribute('height', String(H));
    var outlineOnly = $('heat-outline').checked || !!(layout && layout.failed);
    frame.style.visibility = outlineOnly ? 'hidden' : 'visible';

    var overlay = $('heat-overlay');
    clear(overlay);
    overlay.setAttribute('width', String(W));
    overlay.setAttribute('height', String(H));
    overlay.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    overlay.style.width = W + 'px';
    overlay.style.height = H + 'px';
    // The page's structure as this browser laid it out: shown instead of the page when asked, or when it cannot be shown.
    if (outlineOnly && layout && layout.outline) {
      layout.outline.forEach(function (o) {
        var r = svg('rect', { x: o[1], y: o[2], width: o[3], height: o[4], 'class': 'outline' });
        r.appendChild(svg('title', {})).textContent = o[0];
        overlay.appendChild(r);
        if (o[3] > 60 && o[4] > 14) {
          var t = svg('text', { x: o[1] + 3, y: o[2] + 11, 'class': 'outline-label' });
          t.textContent = o[0];
          overlay.appendChild(t);
        }
      });
    }
    var max = v.cells.reduce(function (m, c) { return Math.max(m, c.rate); }, 0) || 1;
    var centre = W / 2;
    v.cells.forEach(function (c) {
      var t = c.rate / max;
      var colour = heat(t);
      var r = svg('rect', {
        x: centre + c.x * CELL, y: c.y * CELL, width: CELL, height: CELL, 'class': 'cell',
        fill: colour.fill, 'fill-opacity': colour.opacity,
        'data-cell-x': c.x, 'data-cell-y': c.y, 'data-clicks': c.clicks, 'data-rate': c.rate.toFixed(3)
      });
      r.appendChild(svg('title', {})).textContent = c.clicks + ' clicks, ' + fmt(c.rate) + ' per 100 page views, ' + c.visitors + ' visitors';
      overlay.appendChild(r);
    });
    if (v.fold > 0) {
      overlay.appendChild(svg('line', { x1: 0, x2: W, y1: v.fold, y2: v.fold, 'class': 'fold', 'data-fold': v.fold }));
      var ft = svg('text', { x: 6, y: v.fold - 5, 'class': 'fold-label' });
      ft.textContent = 'fold: median viewport height ' + v.fold + ' px';
      overlay.appendChild(ft);
    }
    reach(H, layout && layout.height ? layout.height : H);
    legend(max, v);
    var note = layout && layout.failed
      ? 'The page could not be framed here (' + (layout.reason || 'it did not load') + '): the cells are drawn on a blank page ' + W + ' px wide.'
      : outlineOnly ? 'The page\'s structure as this browser laid it out, ' + W + ' px wide.' : layout ? 'The live page at ' + W + ' px. Cells: ' + CELL + ' px squares measured from the page\'s centre line.' : 'Loading the page…';
    $('heat-note').textContent = note;
    if (layout) document.body.setAttribute('data-heatmap', layout.failed ? 'blank' : 'framed');
  }

  /** The share of page views that reached each depth, beside the page (v_scroll_depth: each page view's deepest scroll). */
  function reach(H, docH) {
    var bar = $('heat-reach');
    clear(bar);
    bar.setAttribute('width', String(REACH_W));
    bar.setAttribute('height', String(H));
    bar.style.height = H + 'px';
    var rows = current.data.scroll.map(function (s) { return { depth: num(s.depth), views: num(s.views) }; });
    var total = rows.reduce(function (s, r) { return s + r.views; }, 0);
    if (!total) return;
    var grad = svg('linearGradient', { id: 'reach-gradient', x1: 0, x2: 0, y1: 0, y2: 1 });
    var defs = svg('defs', {});
    defs.appendChild(grad);
    bar.appendChild(defs);
    for (var d = 0; d <= 100; d += 10) {
      var reached = rows.filter(function (r) { return r.depth >= d; }).reduce(function (s, r) { return s + r.views; }, 0) / total;
      grad.appendChild(svg('stop', { offset: d + '%', 'stop-color': 'rgb(36,86,214)', 'stop-opacity': (0.08 + 0.8 * reached).toFixed(2), 'data-reach': reached.toFixed(3) }));
    }
    bar.appendChild(svg('rect', { x: 0, y: 0, width: REACH_W, height: docH, fill: 'url(#reach-gradient)', 'class': 'reach' }));
    [25, 50, 75].forEach(function (d) {
      var reached = rows.filter(function (r) { return r.depth >= d; }).reduce(function (s, r) { return s + r.views; }, 0) / total;
      var t = svg('text', { x: 2, y: (docH * d) / 100, 'class': 'reach-label' });
      t.textContent = Math.round(reached * 100) + '%';
      bar.appendChild(t);
    });
  }

  function legend(max, v) {
    var box = $('heat-legend');
    clear(box);
    box.append(el('span', 'clicks per 100 page views: '));
    var scale = el('span', undefined, { 'class': 'legend-scale' });
    box.append(el('span', '0'), scale, el('span', fmt(max), { 'data-legend-max': max.toFixed(3) }));
    box.append(el('span', ' · ' + v.pageviews + ' page views at this width · fold at the median viewport height · the bar on the left: share of page views that scrolled that far', { 'class': 'hint' }));
  }

  /** Clicked elements of the chosen width, readable names, rates per 100 page views, rage and dead clicks. */
  function table(opt, pageviews) {
    var rows = sumBy(pick(current.data.targets, opt.key), function (t) { return t.target + '\u0000' + t.label; }, ['clicks', 'rage_clicks', 'dead_clicks'])
      .sort(function (a, b) { return b.clicks - a.clicks; })
      .slice(0, 30);
    var tb = $('targets').tBodies[0];
    clear(tb);
    $('targets-width').textContent = opt.text;
    rows.forEach(function (t) {
      var name = readable(t.row.target, t.row.label);
      var tr = el('tr', undefined, { 'data-target': t.row.target, title: t.row.target });
      var cell = el('td');
      cell.append(el('span', name.name, { 'class': 'target-name' }));
      if (name.detail) cell.append(el('span', ' ' + name.detail, { 'class': 'hint' }));
      tr.append(cell, el('td', t.clicks), el('td', pageviews ? fmt((100 * t.clicks) / pageviews) : '–'), el('td', t.rage_clicks || ''), el('td', t.dead_clicks || ''));
      tr.addEventListener('mouseenter', function () { find(t.row.target); });
      tr.addEventListener('mouseleave', function () { highlight(null); });
      tb.append(tr);
    });
  }

  /** Asks the framed page where an element is, to outline it over the page. */
  function find(selector) {
    var frame = $('heat-frame');
    current.finding = selector;
    if (frame.contentWindow) frame.contentWindow.postMessage({ anonHeatmapFind: [selector] }, '*');
  }
  function highlight(b) {
    var old = document.querySelector('#heat-overlay .found');
    if (old) old.remove();
    if (!b) return;
    $('heat-overlay').appendChild(svg('rect', { x: b[0], y: b[1], width: b[2], height: b[3], 'class': 'found' }));
  }

  /** Frustration: rage and dead clicks per element of this page, per page; quick backs per page. */
  function frustration(data, page) {
    var list = $('frustration');
    clear(list);
    var pv = {};
    data.pages.forEach(function (p) { pv[p.page] = num(p.pageviews); });
    var items = [];
    data.clickTargets.forEach(function (t) {
      var n = readable(t.target, t.label).name;
      if (num(t.rage_clicks)) items.push({ n: num(t.rage_clicks), signal: 'rage', text: num(t.rage_clicks) + ' rage clicks on ' + n + ' (this page)' });
      if (num(t.dead_clicks)) items.push({ n: num(t.dead_clicks), signal: 'dead', text: num(t.dead_clicks) + ' dead clicks on ' + n + ' (this page)' });
    });
    data.frustration.forEach(function (f) {
      items.push({ n: num(f.clicks), signal: f.signal, text: num(f.clicks) + ' ' + f.signal + ' clicks on ' + f.page + ' by ' + f.visitors + ' visitors' });
    });
    data.quickBacks.forEach(function (q) {
      var share = pv[q.page] ? ' (' + Math.round((100 * num(q.quick_backs)) / pv[q.page]) + ' % of its page views)' : '';
      items.push({ n: num(q.quick_backs), signal: 'quick_back', text: num(q.quick_backs) + ' quick backs from ' + q.page + share + ': left within 5 s for the page before' });
    });
    items.sort(function (a, b) { return b.n - a.n; }).slice(0, 20).forEach(function (i) {
      list.append(el('li', i.text, { 'data-signal': i.signal }));
    });
    if (!items.length) list.append(el('li', 'No rage clicks, dead clicks or quick backs had k visitors from k networks on any day of the period.', { 'class': 'hint' }));
  }

  /** Which part of an element or of a list's tiles is clicked: 5 × 5 grids for the most clicked. */
  function elements(rows) {
    var box = $('element-heatmaps');
    clear(box);
    // A list's tiles, or a labelled (data-track) block, are one grid whatever was clicked in them; an element is
    // one grid per label.
    var keyOf = function (r) { return r.frame + '\u0000' + r.element + (r.frame === 'element' ? '\u0000' + r.label : ''); };
    var groups = sumBy(rows, keyOf, ['clicks']).sort(function (a, b) { return b.clicks - a.clicks; }).slice(0, 8);
    groups.forEach(function (g) {
      var key = keyOf(g.row);
      var cells = sumBy(rows.filter(function (r) { return keyOf(r) === key; }), function (r) { return r.cell_x + ':' + r.cell_y; }, ['clicks']);
      var max = cells.reduce(function (m, c) { return Math.max(m, c.clicks); }, 1);
      var fig = el('figure', undefined, { 'class': 'element-heatmap', 'data-frame': g.row.frame, title: g.row.element });
      var s = svg('svg', { width: 100, height: 60, viewBox: '0 0 100 60' });
      cells.forEach(function (c) {
        var colour = heat(c.clicks / max);
        var r = svg('rect', { x: num(c.row.cell_x) * 20, y: num(c.row.cell_y) * 12, width: 20, height: 12, fill: colour.fill, 'fill-opacity': colour.opacity });
        r.appendChild(svg('title', {})).textContent = c.clicks + ' clicks';
        s.appendChild(r);
      });
      var name = readable(g.row.element, g.row.label);
      var what = g.row.frame === 'tile' ? 'the tiles of ' + g.row.element
        : g.row.frame === 'block' ? 'the block ' + g.row.element
        : name.name + (name.detail ? ' (' + name.detail + ')' : '');
      fig.append(s, el('figcaption', what + ' · ' + g.clicks + ' clicks'));
      box.append(fig);
    });
    if (!groups.length) box.append(el('p', 'No element had k visitors from k networks in one part of it.', { 'class': 'hint' }));
  }

  addEventListener('message', function (m) {
    var frame = $('heat-frame');
    if (!current || !frame || m.source !== frame.contentWindow || !m.data || typeof m.data !== 'object') return;
    var p = m.data.anonHeatmapPage;
    if (p && typeof p === 'object' && typeof p.unavailable === 'string') {
      current.layout = { failed: true, reason: p.unavailable.slice(0, 200), width: 0, height: 0, outline: [] };
      paint();
    } else if (p && typeof p === 'object') {
      var outline = Array.isArray(p.outline) ? p.outline.filter(function (o) { return Array.isArray(o) && o.length === 5; }).slice(0, 800) : [];
      current.layout = { width: num(p.width), height: Math.min(100000, num(p.height)), outline: outline.map(function (o) { return [String(o[0]).slice(0, 60), num(o[1]), num(o[2]), num(o[3]), num(o[4])]; }) };
      paint();
    }
    var found = m.data.anonHeatmapFound;
    if (found && typeof found === 'object' && current.finding && Array.isArray(found[current.finding])) highlight(found[current.finding].map(num));
  });

  function init() {
    $('heat-width').addEventListener('change', draw);
    $('heat-outline').addEventListener('change', paint);
    // A framed page that navigates away (a script setting location) is no longer the page the heatmap is about,
    // nor one served to do nothing (src/query/page-frame.ts): it is unloaded at once.
    $('heat-frame').addEventListener('load', function () {
      if (!current || !current.src || current.away) return;
      current.loads = (current.loads || 0) + 1;
      // Loaded but silent (an error page: no page origin, or the page could not be fetched): not framable.
      if (current.loads < 2) {
        var src = current.src;
        setTimeout(function () {
          if (current && current.src === src && !current.layout) { current.layout = { failed: true, width: 0, height: 0, outline: [] }; paint(); }
        }, 1500);
        return;
      }
      current.away = true;
      $('heat-frame').src = 'about:blank';
      current.layout = { failed: true, width: current.view ? current.view.W : 0, height: 0, outline: [] };
      paint();
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
  window.anonHeatmap = { show: show, readable: readable };
})();
