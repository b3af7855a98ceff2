// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    // A switch saves as soon as it is flipped (its Save button is hidden when scripts run).
    if (form && form.hasAttribute("data-autosubmit") && event.target.type === "checkbox") {
      form.requestSubmit();
    }
  });
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // After a redirect to #section, move keyboard focus there too.
  var target = window.location.hash && document.getElementById(window.location.hash.slice(1));
  if (target) {
    if (!target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
    target.focus({ preventScroll: false });
  }
})();
