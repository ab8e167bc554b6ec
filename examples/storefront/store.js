// Demo storefront: renders the views for the current path. The product grid,
// product page and cart are one small client-side app: links marked
// data-spa change the route with history.pushState (an SPA navigation the
// tracker must see); the others are ordinary page loads. The cart lives in
// sessionStorage: it is the shop's own data, not the tracker's.
//
// Product tiles are marked for the tracker (data-track-item, data-track-list:
// the grid and the related products), so impressions and clicks by position
// reach the dashboard; the grid's layout is a two-arm experiment
// (experiment.js); product → cart → checkout → order placed is a funnel.
(function () {
  'use strict';
  var PRODUCTS = [
    { sku: 'usb-c-65w', name: '65 W USB-C charger', price: 39, colour: '#7aa7ff' },
    { sku: 'power-bank-20k', name: 'Power bank 20,000 mAh', price: 49, colour: '#ffb36b' },
    { sku: 'speakerphone', name: 'Conference speakerphone', price: 129, colour: '#8fd694' },
    { sku: 'usb-c-hub', name: '7-in-1 USB-C hub', price: 59, colour: '#d59cff' },
    { sku: 'lanyard-pack', name: 'Conference lanyards (50)', price: 25, colour: '#ff8fa3' },
    { sku: 'braided-cable', name: 'Braided USB-C cable 2 m', price: 15, colour: '#7fd8d8' },
    { sku: 'wireless-charger', name: 'Wireless charging pad 15 W', price: 29, colour: '#c3b1e1' },
    { sku: 'car-charger', name: 'Dual USB-C car charger', price: 22, colour: '#f6c177' },
    { sku: 'travel-adapter', name: 'Universal travel adapter', price: 34, colour: '#9ccfd8' },
    { sku: 'webcam-hd', name: 'Full HD conference webcam', price: 79, colour: '#eb6f92' },
    { sku: 'headset', name: 'Wireless conference headset', price: 99, colour: '#a3be8c' },
    { sku: 'cable-organiser', name: 'Cable organiser kit', price: 12, colour: '#d8a47f' },
  ];
  var BASE = '/demo/';

  function cart() {
    try { return JSON.parse(sessionStorage.getItem('demo-cart') || '[]'); } catch (e) { return []; }
  }
  function saveCart(c) {
    try { sessionStorage.setItem('demo-cart', JSON.stringify(c)); } catch (e) { /* private mode */ }
    var n = document.getElementById('cart-count');
    if (n) n.textContent = String(c.length);
  }
  function addToCart(sku) {
    var c = cart();
    c.push(sku);
    saveCart(c);
    if (window.anonAnalytics) window.anonAnalytics.track('add_to_cart', { sku: sku, items: c.length });
  }
  function product(sku) {
    return PRODUCTS.filter(function (p) { return p.sku === sku; })[0];
  }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { e.append(c); });
    return e;
  }
  function addButton(sku) {
    var b = el('button', { class: 'add', type: 'button', 'data-track': 'add-to-cart' }, ['Add to cart']);
    b.addEventListener('click', function () { addToCart(sku); });
    return b;
  }

  // A product tile, marked for the tracker: which product, in which list (its position is its place in the list).
  function tile(p, list) {
    return el('article', { class: 'product-card', 'data-track': 'product-card', 'data-track-item': p.sku, 'data-track-list': list }, [
      el('a', { class: 'thumb', href: 'product?sku=' + p.sku, style: 'background:' + p.colour, 'aria-label': p.name }),
      el('a', { class: 'product-link', href: 'product?sku=' + p.sku }, [p.name]),
      el('span', { class: 'price' }, ['€' + p.price]),
      addButton(p.sku),
    ]);
  }

  function renderGrid(app) {
    var grid = el('section', { class: 'grid' });
    PRODUCTS.forEach(function (p) { grid.append(tile(p, 'home-grid')); });
    app.replaceChildren(el('h1', {}, ['Chargers, power banks & conference gear']), grid, aboutSection());
  }
  function renderProduct(app) {
    var p = product(new URLSearchParams(location.search).get('sku')) || PRODUCTS[0];
    document.title = p.name + ' · Demo shop';
    app.replaceChildren(
      el('section', { class: 'product-detail' }, [
        el('div', { class: 'thumb', style: 'background:' + p.colour }),
        el('div', { class: 'buy' }, [el('h1', {}, [p.name]), el('p', { class: 'price' }, ['€' + p.price]), addButton(p.sku)]),
      ]),
      el('section', { class: 'specs' }, [el('h2', {}, ['Specifications']), el('p', {}, ['Certified, tested and shipped within a day.'])]),
      el('section', { class: 'related' }, [el('h2', {}, ['Goes well with']), el('div', { class: 'grid' }, related(p).map(function (r) { return tile(r, 'related'); }))]),
      aboutSection(),
    );
  }
  // The three products after this one in the catalogue.
  function related(p) {
    var i = PRODUCTS.indexOf(p);
    return [1, 2, 3].map(function (d) { return PRODUCTS[(i + d) % PRODUCTS.length]; });
  }
  function renderCart(app) {
    var lines = cart().map(function (sku) {
      var p = product(sku);
      return el('div', { class: 'cart-line' }, [p ? p.name : sku, el('span', { class: 'price' }, [p ? '€' + p.price : ''])]);
    });
    if (!lines.length) lines = [el('p', {}, ['Your cart is empty.'])];
    app.replaceChildren(el('h1', {}, ['Cart']), el('section', { class: 'lines' }, lines),
      el('p', {}, [el('a', { href: 'checkout', class: 'to-checkout', 'data-track': 'go-to-checkout' }, ['Go to checkout'])]));
  }
  function aboutSection() {
    // A labelled block (not a product tile): a click in it carries where in the block it landed, like a tile's.
    return el('section', { class: 'about', 'data-track': 'about' }, [
      el('h2', {}, ['About this demo']),
      el('p', {}, ['Every page view, click and the time you spend here is sent, anonymised, to the local pipeline. ' +
        'Watch the rows arrive with: ']),
      el('pre', {}, [el('code', {}, ['npm run query -- "SELECT ts, type, path, click_label, visible_ms, scroll_depth FROM events ORDER BY ts DESC LIMIT 20"'])]),
    ]);
  }

  function render() {
    var app = document.getElementById('app');
    if (!app) return;
    var route = location.pathname.replace(BASE, '').replace(/\.html$/, '');
    document.querySelectorAll('header nav a').forEach(function (a) {
      a.classList.toggle('current', a.getAttribute('data-route') === route);
    });
    document.title = 'Demo shop';
    if (route === 'cart') renderCart(app);
    else if (route === 'product') renderProduct(app);
    else renderGrid(app);
    window.scrollTo(0, 0);
  }

  // SPA links: change the route without a page load.
  document.addEventListener('click', function (e) {
    var a = e.target instanceof Element && e.target.closest('a[data-spa]');
    if (!a || !document.getElementById('app') || e.metaKey || e.ctrlKey) return;
    e.preventDefault();
    history.pushState(null, '', a.getAttribute('href'));
    render();
  });
  window.addEventListener('popstate', render);

  // Checkout: nothing typed here ever reaches the analytics pipeline.
  var form = document.querySelector('form.checkout');
  if (form) {
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var items = cart().length;
      if (window.anonAnalytics) window.anonAnalytics.track('checkout_submit', { items: items });
      saveCart([]);
      document.getElementById('thanks').hidden = false;
    });
  }

  // Privacy controls: the visitor's own choice, remembered by the tracker.
  function showConsent() {
    var s = document.getElementById('consent-state');
    if (!s) return;
    var gpc = navigator.globalPrivacyControl === true || navigator.doNotTrack === '1';
    var out = false;
    try { out = localStorage.getItem('anonAnalytics.optOut') === '1'; } catch (e) { /* storage blocked */ }
    s.textContent = gpc ? 'Your browser asks not to be tracked (GPC/DNT): nothing is sent.' : out ? 'Analytics off: nothing is sent.' : 'Analytics on (anonymised).';
  }
  document.addEventListener('click', function (e) {
    var b = e.target instanceof Element && e.target.closest('[data-consent]');
    if (!b || !window.anonAnalytics) return;
    window.anonAnalytics.consent(b.getAttribute('data-consent') === 'yes');
    showConsent();
  });

  saveCart(cart());
  render();
  showConsent();
})();
