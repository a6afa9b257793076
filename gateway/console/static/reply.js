// The reply form's button follows the method: a phone answer was given on the phone, so the form
// records it (记录答复); the other methods send it (发送答复).  Without JavaScript the server's
// choice for the default method stands.
(function () {
  "use strict";
  var button = document.getElementById("reply-submit");
  if (!button) return;
  var select = button.form && button.form.querySelector('select[name="channel"]');
  if (!select) return;
  function update() {
    button.textContent = select.value === "phone" ? button.dataset.phoneLabel : button.dataset.sendLabel;
  }
  select.addEventListener("change", update);
  update();
})();
