// A print button where scripts run; without them, the page says to use the browser's print.
"use strict";
document.querySelectorAll("button[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
