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

// Import: send the file in the background to show its progress, then the server's check
// (an indeterminate bar); the answer replaces the page's main part. Without this script the
// form posts as usual.
function bindImport() {
  const form = document.querySelector("form[action='/admin/import']");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const box = document.getElementById("import-progress");
    const bar = document.getElementById("import-bar");
    const label = box.querySelector("label");
    box.hidden = false;
    const request = new XMLHttpRequest();
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = e.loaded / e.total;
    });
    request.upload.addEventListener("load", () => {
      bar.removeAttribute("value");
      label.textContent = label.dataset.checking;
    });
    request.addEventListener("load", () => {
      const answer = new DOMParser().parseFromString(request.responseText, "text/html");
      document.querySelector("main").replaceWith(answer.querySelector("main"));
      bindImport();
    });
    request.addEventListener("error", () => form.submit());
    request.open("POST", form.action);
    request.send(new FormData(form));
  });
}
bindImport();
