// The household's sign-in page opened from a letter's QR code: the code is in the address's
// fragment (#code=...), which the browser never sends to the server. Put it in the code field
// and take it out of the address bar and the history.
"use strict";
(function () {
  var match = /^#code=([A-Za-z0-9-]{1,80})$/.exec(window.location.hash);
  var field = document.getElementById("code");
  if (!match || !field) { return; }
  field.value = match[1];
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  var next = document.getElementById("new-passphrase");
  if (next) { next.focus(); }
})();
