// dj-stripe's admin pages: while a request to Stripe runs (a sync, a cancellation, deleting a
// webhook endpoint), show "Loading..." instead of the page. dj-stripe does this with inline
// handlers, which the Content-Security-Policy refuses (templates/djstripe/admin/).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const spinner = document.getElementById("div_spinner");
  if (!spinner) {
    return;
  }
  const wait = () => {
    const main = document.getElementById("main_content");
    if (main) {
      main.hidden = true;
    }
    for (const messages of document.querySelectorAll(".messagelist")) {
      messages.hidden = true;
    }
    spinner.hidden = false;
  };
  for (const form of document.querySelectorAll("#content form")) {
    form.addEventListener("submit", wait);
  }
  for (const link of document.querySelectorAll("#content a.cancel-link")) {
    link.addEventListener("click", wait);
  }
});
