// Dashboard helpers: "Copy" buttons. Everything works without this script; it only saves a
// select-and-copy.
"use strict";
document.querySelectorAll("button[data-copy]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    const status = document.getElementById(button.dataset.copy + "-status");
    try {
      await navigator.clipboard.writeText(source.value);
      if (status) status.textContent = document.body.dataset.copied;
    } catch (error) {
      source.select();
      if (status) status.textContent = document.body.dataset.copyByHand;
    }
  });
});
