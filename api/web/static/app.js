// Progressive enhancement only: every page works without this file.
(function () {
  if (window.DKFDS) {
    window.DKFDS.init();
  }
  // The printed list: a print button where printing is possible.
  document.querySelectorAll('.js-print').forEach(function (button) {
    button.hidden = false;
    button.addEventListener('click', function () { window.print(); });
  });
})();
