// The slip's QR code opens /enrol#code=…: the fragment never reaches the server (nor its logs).
// Put the code in its field and take it off the address bar.
(function () {
  "use strict";
  const match = /(?:^#|&)code=([A-Za-z0-9-]{1,32})/.exec(window.location.hash);
  const field = document.getElementById("code");
  if (!match || !field) return;
  field.value = match[1];
  window.history.replaceState(null, "", window.location.pathname);
})();
