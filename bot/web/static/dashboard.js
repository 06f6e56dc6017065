// Progressive enhancement only: every page works without this file.
// Buttons with data-confirm ask before their form is sent (dismissing a case, revealing a reporter).
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var message = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
