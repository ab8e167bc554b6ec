// The few DOM helpers every dashboard script uses (loaded first by index.html): one copy, read as
// `var $ = window.anonDom.$, el = …` at the top of each script. No library: the dashboard is plain scripts under a
// strict Content-Security-Policy (src/query/dashboard.ts).
(function () {
  'use strict';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  window.anonDom = {
    $: function (id) { return document.getElementById(id); },
    /** An element with text (set as text, never parsed as HTML) and attributes. */
    el: function (tag, text, attrs) {
      var e = document.createElement(tag);
      if (text !== undefined) e.textContent = String(text);
      for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
      return e;
    },
    svg: function (tag, attrs, text) {
      var e = document.createElementNS(SVG_NS, tag);
      for (var k in attrs) e.setAttribute(k, attrs[k]);
      if (text !== undefined) e.textContent = String(text);
      return e;
    },
    clear: function (node) { while (node.firstChild) node.removeChild(node.firstChild); },
  };
})();
