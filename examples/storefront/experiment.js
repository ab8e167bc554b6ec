// A two-arm layout experiment, run by the shop itself. Every page load is
// assigned an arm at random: "a" (three large tiles a row) or "b" (four
// compact tiles a row, store.css [data-layout=b]). The arm is told to the
// tracker with data-variant on its script tag, so every event of the page
// view carries it (a shop could call anonAnalytics.variant('grid-layout',
// arm) instead). The tracker stores nothing for this: assignment is the
// shop's. Loaded right after the tracker's tag and before it runs (that one
// is deferred), so it sees the attribute at its start.
(function () {
  'use strict';
  var arm = Math.random() < 0.5 ? 'a' : 'b';
  document.documentElement.setAttribute('data-layout', arm);
  var tracker = document.querySelector('script[data-site]');
  if (tracker) tracker.setAttribute('data-variant', 'grid-layout:' + arm);
})();
